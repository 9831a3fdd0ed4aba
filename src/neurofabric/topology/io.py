"""Save and load junctions and topologies as ``.npz`` files: exact, atomic and tamper-evident.

A file holds plain integer arrays (no pickles) plus a JSON header with the format name, version,
layer sizes, per-junction shapes and a SHA-256 digest of every junction's arrays. Loading checks
all of it, so a truncated, edited or foreign file is refused with a ``ValueError`` instead of
silently giving another network. Dey's mask files (keys ``adjmat01``, ``adjmat12``, …, each an
``(out, in)`` 0/1 matrix) load as well.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from neurofabric.topology.blocks import BlockStructure
from neurofabric.topology.junction import Junction
from neurofabric.topology.topology import Topology

FORMAT = "neurofabric.topology"
VERSION = 1


def _digest(junction: Junction) -> str:
    digest = hashlib.sha256()
    digest.update(np.asarray(junction.shape, dtype=np.int64).tobytes())
    digest.update(junction.src.tobytes())
    digest.update(junction.dst.tobytes())
    if junction.schedule is not None:
        digest.update(junction.schedule.tobytes())
    if junction.blocks is not None:
        digest.update(json.dumps(junction.blocks.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()


def _prefix(key: tuple[int, int]) -> str:
    return f"junction_{key[0]}_{key[1]}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: object, *, overwrite: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it into place.

    A crash leaves either the old file or none, never half a file.

    Raises:
        FileExistsError: If ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; refusing to overwrite it (use --force)")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() gives
        with os.fdopen(handle, "wb") as file:
            write(file)  # type: ignore[operator]
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def save_topology(
    topology: Topology,
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, object] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``topology`` to ``path`` (``.npz``) atomically.

    Args:
        topology: What to save.
        path: Destination file.
        metadata: JSON-serialisable notes kept in the header (how the topology was made).
            Defaults to ``topology.metadata``.
        overwrite: Replace an existing file; by default an existing file is an error.

    Raises:
        FileExistsError: If the file exists and ``overwrite`` is false.
    """
    arrays: dict[str, np.ndarray] = {}
    entries = []
    for key, junction in topology.junctions.items():
        prefix = _prefix(key)
        arrays[f"{prefix}_src"] = np.asarray(junction.src)
        arrays[f"{prefix}_dst"] = np.asarray(junction.dst)
        if junction.schedule is not None:
            arrays[f"{prefix}_schedule"] = np.asarray(junction.schedule)
        entries.append(
            {
                "source": key[0],
                "target": key[1],
                "in_features": junction.in_features,
                "out_features": junction.out_features,
                "nnz": junction.nnz,
                "parallelism": junction.parallelism,
                "blocks": None if junction.blocks is None else junction.blocks.to_dict(),
                "sha256": _digest(junction),
            }
        )
    header = {
        "format": FORMAT,
        "version": VERSION,
        "layer_sizes": list(topology.layer_sizes),
        "junctions": entries,
        "identity_skips": sorted([list(key) for key in topology.identity_skips]),
        "kind": topology.kind,
        "metadata": dict(topology.metadata if metadata is None else metadata),
    }
    try:
        text = json.dumps(header, sort_keys=True)
    except TypeError as error:
        raise ValueError(f"metadata must be JSON-serialisable: {error}") from None
    arrays["header"] = np.frombuffer(text.encode(), dtype=np.uint8)
    return atomic_write(path, lambda file: np.savez_compressed(file, **arrays), overwrite=overwrite)


def load_topology(path: str | os.PathLike) -> Topology:
    """Read a topology written by :func:`save_topology` (or a Dey ``adjmat`` mask file).

    Raises:
        ValueError: If the file is missing, unreadable, of another format or version, or its
            arrays do not match the digests in its header (tampered or corrupt).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error})") from None
    if "header" not in arrays:
        if any(name.startswith("adjmat") for name in arrays):
            return _load_dey_masks(path, arrays)
        raise ValueError(f"{path}: not a neurofabric topology file (no header)")
    try:
        header = json.loads(arrays.pop("header").tobytes().decode())
        if header.get("format") != FORMAT:
            raise ValueError(f"format is {header.get('format')!r}, expected {FORMAT!r}")
        if header.get("version") != VERSION:
            raise ValueError(f"version {header.get('version')} is not supported (need {VERSION})")
        junctions = {}
        for entry in header["junctions"]:
            key = (int(entry["source"]), int(entry["target"]))
            prefix = _prefix(key)
            schedule = arrays.get(f"{prefix}_schedule")
            blocks = entry.get("blocks")
            junction = Junction(
                int(entry["in_features"]),
                int(entry["out_features"]),
                arrays[f"{prefix}_src"],
                arrays[f"{prefix}_dst"],
                schedule,
                entry.get("parallelism"),
                None if blocks is None else BlockStructure.from_dict(blocks),
            )
            if _digest(junction) != entry["sha256"]:
                raise ValueError(f"junction {key} does not match its checksum (file was altered)")
            junctions[key] = junction
        return Topology(
            tuple(header["layer_sizes"]),
            junctions,
            header.get("metadata", {}),
            frozenset(tuple(key) for key in header.get("identity_skips", [])),
            header.get("kind", "mlp"),
        )
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{path}: corrupt topology file ({type(error).__name__}: {error})"
        ) from None
    except ValueError as error:
        raise ValueError(f"{path}: invalid topology file: {error}") from None


def _load_dey_masks(path: Path, arrays: Mapping[str, np.ndarray]) -> Topology:
    names = sorted((n for n in arrays if n.startswith("adjmat")), key=lambda n: int(n[6:] or 0))
    junctions = []
    for name in names:
        try:
            junctions.append(Junction.from_mask(arrays[name]))
        except ValueError as error:
            raise ValueError(f"{path}: {name}: {error}") from None
    return Topology.chain(junctions)


def save_junction(junction: Junction, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write one junction as a two-layer topology file."""
    topology = Topology((junction.in_features, junction.out_features), {(0, 1): junction})
    return save_topology(topology, path, overwrite=overwrite)


def load_junction(path: str | os.PathLike) -> Junction:
    """Read a file holding exactly one junction.

    Raises:
        ValueError: As :func:`load_topology`, or if the file holds more than one junction.
    """
    topology = load_topology(path)
    if len(topology.junctions) != 1:
        raise ValueError(f"{path}: holds {len(topology.junctions)} junctions, expected one")
    return next(iter(topology.junctions.values()))
