"""Atomic training checkpoints, read back with ``torch.load(weights_only=True)``.

A checkpoint holds plain containers of tensors, numbers and strings only: the model and
optimiser state, the schedule, the epoch count, the per-epoch history, torch's RNG state, the
data-order seed and the config (and its hash, checked on resume).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from neurofabric.topology.io import atomic_write

__all__ = ["FORMAT", "load_checkpoint", "save_checkpoint"]

FORMAT = "neurofabric-checkpoint/1"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename)."""
    atomic_write(path, lambda file: torch.save({"format": FORMAT, **state}, file), overwrite=True)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        ValueError: If the file is missing, truncated, corrupt, or not a neurofabric checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"checkpoint {str(path)!r} is corrupt or unreadable: {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a neurofabric checkpoint ({FORMAT})")
    return state
