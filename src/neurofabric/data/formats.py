"""File formats the dataset readers share: IDX, pickles of arrays (read safely), checksums."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
from pathlib import Path

import numpy as np

# IDX element types (SPEC §9): type byte -> big-endian numpy dtype.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain): big-endian magic, one int32 per dimension, data.

    Raises:
        ValueError: If the magic number, the element type or the size is wrong.
    """
    path = Path(path)
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable IDX file ({error})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (magic {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: IDX header truncated")
    dims = struct.unpack(f">{ndim}i", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - 4 - 4 * ndim != expected:
        raise ValueError(
            f"{path}: IDX dimensions {dims} need {expected} bytes of data, "
            f"found {len(raw) - 4 - 4 * ndim}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def check_sha256(path: Path, expected: str, remedy: str) -> None:
    """Refuse a file whose SHA-256 is not ``expected`` (a truncated, edited or foreign file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise ValueError(
            f"{path} has sha256 {digest.hexdigest()[:16]}…, expected {expected[:16]}…; "
            f"the file is damaged or foreign: {remedy}"
        )


class _ArrayUnpickler(pickle.Unpickler):
    """Builds plain containers and numpy arrays only; any other global is refused."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),  # how protocol 2 stores bytes
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "_codecs":
            import codecs

            return codecs.encode
        if module == "numpy":
            return getattr(np, name)
        try:  # numpy >= 2 renamed numpy.core; the old name warns
            from numpy._core import multiarray
        except ImportError:  # pragma: no cover - numpy 1.x
            from numpy.core import multiarray
        return getattr(multiarray, name)


def safe_unpickle(file, source: str) -> object:
    """Unpickle ``file`` (Python 2 or 3 pickles, ``latin1`` strings) allowing only arrays."""
    try:
        return _ArrayUnpickler(file, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, OSError) as e:
        raise ValueError(f"{source}: not a readable pickle of arrays ({e})") from None
