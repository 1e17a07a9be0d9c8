"""Compact model files: per FR weight only its first k zigzag coefficients.

Layout (little-endian)::

    b"FREQLIB\\x00"            8 bytes  magic
    uint32 header_size         4 bytes
    header                     zlib-compressed JSON: format version, coefficient dtype,
                               FR weights [name, shape, k], other tensors [key, dtype, shape]
    payload                    FR coefficients in zigzag order (coefficient dtype), then every
                               other parameter and buffer of the state dict, raw, in its own dtype
    uint32 crc32               4 bytes  over everything before it

No indices are stored: the kept set of a weight is the first k entries of its zigzag order.
The file is written to a temporary name and renamed, so a failed save never leaves a partial file.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from pathlib import Path

import torch
from torch import nn

from .fr import fr_weights, install_spectrum, weight_shape
from .zigzag import zigzag_prefix

MAGIC = b"FREQLIB\x00"
FORMAT_VERSION = 1
_COEF_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


class CompactFileError(ValueError):
    """A compact file is damaged or does not fit the model."""


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _dtype(name: str, path) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise CompactFileError(f"{path}: unknown dtype {name!r} in header")
    return dtype


def _to_bytes(t: torch.Tensor) -> bytes:
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def _split(name: str) -> tuple[str, str]:
    mod, _, pname = name.rpartition(".")
    return mod, pname


def _owned_keys(state_keys, fr_names) -> set[str]:
    """State-dict keys that belong to the given FR weight names (plain or parametrized form)."""
    owned = set()
    for name in fr_names:
        mod, pname = _split(name)
        prefix = f"{mod}.parametrizations.{pname}." if mod else f"parametrizations.{pname}."
        owned.update(k for k in state_keys if k == name or k.startswith(prefix))
    return owned


def save_compact(model: nn.Module, path: str | os.PathLike, dtype: torch.dtype = torch.float16) -> int:
    """Write ``model`` to ``path`` in the compact format; return the file size in bytes.

    Each FR weight stores its first k zigzag coefficients in ``dtype``; every other parameter
    and buffer of the state dict is stored exactly, in its own dtype.
    """
    name = _dtype_name(dtype)
    if name not in _COEF_DTYPES:
        raise ValueError(f"save_compact: coefficient dtype must be one of {sorted(_COEF_DTYPES)}, got {dtype}")
    fr_entries, chunks = [], []
    for qual, module, pname, fr in fr_weights(model):
        spectrum = module.parametrizations[pname].original.detach()
        coeffs = spectrum.reshape(-1)[zigzag_prefix(fr.shape, fr.k).to(spectrum.device)]
        if not torch.isfinite(coeffs).all():
            raise ValueError(f"{qual}: non-finite kept coefficients; refusing to save")
        stored = coeffs.to(dtype)
        if not torch.isfinite(stored).all():
            raise ValueError(f"{qual}: kept coefficients overflow {name} (max |c| = {coeffs.abs().max():.4g})")
        fr_entries.append([qual, list(fr.shape), fr.k])
        chunks.append(_to_bytes(stored))
    state = model.state_dict()
    owned = _owned_keys(state.keys(), [e[0] for e in fr_entries])
    tensors = []
    for key, t in state.items():
        if key in owned or not isinstance(t, torch.Tensor):
            continue
        tensors.append([key, _dtype_name(t.dtype), list(t.shape)])
        chunks.append(_to_bytes(t))
    header = {"format": FORMAT_VERSION, "coef_dtype": name, "fr": fr_entries, "tensors": tensors}
    head = zlib.compress(json.dumps(header, separators=(",", ":")).encode(), 9)
    body = MAGIC + struct.pack("<I", len(head)) + head + b"".join(chunks)
    blob = body + struct.pack("<I", zlib.crc32(body))
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(blob)


def read_compact(path: str | os.PathLike) -> tuple[dict, bytes]:
    """Validate a compact file and return (header, payload). Raises CompactFileError if damaged."""
    data = Path(path).read_bytes()
    if len(data) < len(MAGIC) + 8 or data[: len(MAGIC)] != MAGIC:
        raise CompactFileError(f"{path}: not a freqlib compact file (bad magic or too short)")
    (crc,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) != crc:
        raise CompactFileError(f"{path}: checksum mismatch: the file is truncated or corrupted")
    (head_size,) = struct.unpack("<I", data[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    try:
        header = json.loads(zlib.decompress(data[start : start + head_size]))
    except (zlib.error, ValueError) as e:
        raise CompactFileError(f"{path}: unreadable header ({e})") from None
    if header.get("format") != FORMAT_VERSION:
        raise CompactFileError(
            f"{path}: format version {header.get('format')} is not supported (expected {FORMAT_VERSION})"
        )
    return header, data[start + head_size : -4]


def load_compact(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Restore a compact file into ``model`` (built like the saved one) and return it.

    Plain layers that the file stores as FR are converted. Everything is checked (names, shapes,
    sizes, finiteness) before anything is written, so a bad file leaves the model untouched.
    """
    header, payload = read_compact(path)
    coef_dtype = _COEF_DTYPES.get(header["coef_dtype"])
    if coef_dtype is None:
        raise CompactFileError(f"{path}: unknown coefficient dtype {header['coef_dtype']!r}")
    itemsize = torch.empty(0, dtype=coef_dtype).element_size()
    offset, staged_fr = 0, []
    for qual, shape, k in header["fr"]:
        mod_name, pname = _split(qual)
        try:
            module = model.get_submodule(mod_name)
        except AttributeError:
            raise CompactFileError(f"{path}: layer {qual!r} of the file is not in the model") from None
        if not hasattr(module, pname):
            raise CompactFileError(f"{path}: layer {qual!r} of the file is not in the model")
        if weight_shape(module, pname) != tuple(shape):
            raise CompactFileError(
                f"{path}: {qual}: file shape {tuple(shape)} != model shape {weight_shape(module, pname)}"
            )
        if offset + k * itemsize > len(payload):
            raise CompactFileError(f"{path}: {qual}: payload ends early")
        coeffs = torch.frombuffer(bytearray(payload[offset : offset + k * itemsize]), dtype=coef_dtype)
        offset += k * itemsize
        if not torch.isfinite(coeffs).all():
            raise CompactFileError(f"{path}: {qual}: non-finite coefficients")
        spectrum = torch.zeros(tuple(shape), dtype=torch.float64)
        spectrum.view(-1)[zigzag_prefix(shape, k)] = coeffs.to(torch.float64)
        staged_fr.append((module, pname, spectrum, int(k), qual))

    file_fr = {e[0] for e in header["fr"]}
    model_fr = {q for q, *_ in fr_weights(model)}
    dense_in_file = sorted(model_fr - file_fr)
    if dense_in_file:
        raise CompactFileError(f"{path}: {dense_in_file} are FR in the model but not in the file")
    state = model.state_dict()
    owned = _owned_keys(state.keys(), file_fr)
    expected = {k for k, v in state.items() if k not in owned and isinstance(v, torch.Tensor)}
    staged = []
    for key, dname, shape in header["tensors"]:
        if key not in expected:
            raise CompactFileError(f"{path}: tensor {key!r} of the file is not in the model")
        dtype = _dtype(dname, path)
        if tuple(state[key].shape) != tuple(shape):
            raise CompactFileError(f"{path}: {key}: file shape {tuple(shape)} != model shape {tuple(state[key].shape)}")
        nbytes = int(torch.Size(shape).numel()) * torch.empty(0, dtype=dtype).element_size()
        if offset + nbytes > len(payload):
            raise CompactFileError(f"{path}: {key}: payload ends early")
        t = (
            torch.frombuffer(bytearray(payload[offset : offset + nbytes]), dtype=dtype)
            if nbytes
            else torch.empty(0, dtype=dtype)
        )
        staged.append((key, t.reshape(shape)))
        offset += nbytes
    if offset != len(payload):
        raise CompactFileError(f"{path}: {len(payload) - offset} unexpected bytes after the last tensor")
    missing = sorted(expected - {key for key, _ in staged})
    if missing:
        raise CompactFileError(f"{path}: the file lacks the model's tensors {missing}")

    for module, pname, spectrum, k, qual in staged_fr:
        install_spectrum(module, pname, spectrum, k, qual)
    state = model.state_dict()
    with torch.no_grad():
        for key, t in staged:
            state[key].copy_(t)
    return model
