"""Morse code datasets of tunable difficulty (Dey, Chugg, Beerel, ICCCNT 2018; SPEC §8).

Each sample is one Morse symbol drawn as a 1-D frame of ``frame_len × dilation`` values: dots,
dashes and the spaces between them get random lengths, marks get grey levels (``GRAY``) or ones
(``BW``), and noise is added (Gaussian for ``GRAY``, bit flips for ``BW``). The codebook, its
class order, the knobs (:class:`MorseSpec`) and the presets live in
:mod:`neurofabric.data.morse_spec` and are re-exported here.

Files are ``.npz`` with the interchange keys ``xtr, ytr, xva, yva, xte, yte`` (SPEC §9) plus a
``header`` member: JSON with the spec, the seed and a SHA-256 digest of every array, so a file
says how it was made and a truncated or edited one is refused.

Example:
    >>> data = generate_morse(MorseSpec(per_class=(2, 1, 1)), seed=0)
    >>> data["xtr"].shape, data["ytr"].shape, data["xva"].shape, data["xtr"].dtype
    ((128, 64), (128, 64), (64, 64), dtype('float32'))
    >>> np.bincount(data["ytr"].argmax(axis=1)).tolist() == [2] * 64
    True

References:
    S. Dey, K. M. Chugg, P. A. Beerel, "Morse Code Datasets for Machine Learning", ICCCNT 2018.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from neurofabric._rng import Seed, as_generator
from neurofabric.data.morse_spec import (
    CODEBOOKS,
    MORSE_CODEBOOK,
    MORSE_PRESETS,
    PRESET_NOTES,
    SPLITS,
    MorseSpec,
    default_filename,
    morse_codebook,
    morse_preset,
)
from neurofabric.topology.io import atomic_write

__all__ = [
    "CODEBOOKS",
    "KEYS",
    "MORSE_CODEBOOK",
    "MORSE_PRESETS",
    "PRESET_NOTES",
    "MorseSpec",
    "as_labels",
    "default_filename",
    "generate_morse",
    "load_morse",
    "load_morse_spec",
    "mark_mask",
    "morse_codebook",
    "morse_preset",
    "save_morse",
]

FORMAT = "neurofabric.morse"
VERSION = 1
KEYS = tuple(f"{axis}{split}" for split in SPLITS for axis in "xy")  # xtr, ytr, xva, …
# Keys of Dey's older Morse files, accepted on load.
_OLD_KEYS = dict(zip(KEYS, ("xtrain", "ytrain", "xval", "yval", "xtest", "ytest"), strict=True))


# -------------------------------------------------------------------- generation
def generate_morse(spec: MorseSpec, *, seed: Seed = None) -> dict[str, np.ndarray]:
    """Draw a Morse dataset (SPEC §8.2): the six arrays of the ``.npz`` interchange layout.

    For each class, ``sum(spec.per_class)`` frames are drawn; the first ``per_class[0]`` go to
    train, the next to validation, the rest to test, and each split is then shuffled.
    Randomness comes from four independent streams spawned from ``seed`` (lengths and
    placement, mark levels, noise, shuffles), so changing only ``noise_sd`` keeps the
    noise-free part of every frame.

    Args:
        spec: The knobs; see :class:`MorseSpec`.
        seed: Seed or generator; ``None`` uses fresh entropy.

    Returns:
        ``{"xtr", "ytr", "xva", "yva", "xte", "yte"}``: ``x`` is ``(N, frame_len × dilation)``
        float32 in [0, 1]; ``y`` is ``(N, num_classes)`` one-hot uint8.

    Example:
        >>> data = generate_morse(MorseSpec(style="BW", per_class=(1, 0, 0)), seed=0)
        >>> frame = data["xtr"][data["ytr"].argmax(1) == 1][0]  # class 1 is T, one dash
        >>> int(frame.sum()) in range(4, 10), float(frame[0])
        (True, 1.0)
    """
    if not isinstance(spec, MorseSpec):
        raise ValueError(f"spec must be a MorseSpec, got {type(spec).__name__}")
    structure, level, noise, shuffle = as_generator(seed).spawn(4)
    counts = spec.per_class
    per_class = sum(counts)
    classes, width = spec.num_classes, spec.input_features
    splits = {
        split: np.empty((count * classes, width), dtype=np.float32)
        for split, count in zip(SPLITS, counts, strict=True)
    }
    for label, code in enumerate(spec.codes):
        frames = _draw_class(spec, code, per_class, structure, level, noise)
        start = 0
        for split, count in zip(SPLITS, counts, strict=True):
            splits[split][label * count : (label + 1) * count] = frames[start : start + count]
            start += count
    data: dict[str, np.ndarray] = {}
    for split, count in zip(SPLITS, counts, strict=True):
        order = shuffle.permutation(count * classes)
        labels = np.repeat(np.arange(classes), count)[order]
        onehot = np.zeros((count * classes, classes), dtype=np.uint8)
        onehot[np.arange(count * classes), labels] = 1
        data[f"x{split}"] = splits[split][order]
        data[f"y{split}"] = onehot
    return data


def mark_mask(
    mark_lengths: np.ndarray, space_lengths: np.ndarray, leading: np.ndarray, width: int
) -> np.ndarray:
    """Boolean ``(n, width)`` frames: True inside a mark.

    Args:
        mark_lengths: ``(n, L)`` lengths of the L dots/dashes of each frame (each ≥ 1).
        space_lengths: ``(n, L − 1)`` lengths of the spaces between them.
        leading: ``(n,)`` zeros before the first mark.
        width: Frame length; every codeword must fit.

    Example:
        >>> mark_mask(np.array([[1, 3]]), np.array([[2]]), np.array([1]), 8).astype(int)
        array([[0, 1, 0, 0, 1, 1, 1, 0]])
    """
    n, marks = mark_lengths.shape
    segments = np.empty((n, 2 * marks - 1), dtype=np.int64)  # mark, space, mark, …, mark
    segments[:, 0::2] = mark_lengths
    segments[:, 1::2] = space_lengths
    ends = leading[:, None] + np.cumsum(segments, axis=1)[:, 0::2]  # (n, L), exclusive
    starts = ends - mark_lengths
    # +1 where a mark starts, −1 where it ends; the running sum is 1 inside marks. Starts are
    # distinct within a row (marks are ≥ 1 long), and so are ends, so plain assignment works.
    rows = np.arange(n)[:, None]
    edges = np.zeros((n, width + 1), dtype=np.int8)
    edges[rows, starts] = 1
    closing = np.zeros((n, width + 1), dtype=np.int8)
    closing[rows, ends] = 1
    return np.cumsum(edges - closing, axis=1, dtype=np.int8)[:, :width] > 0


def _draw_class(
    spec: MorseSpec,
    code: str,
    count: int,
    structure: np.random.Generator,
    level: np.random.Generator,
    noise: np.random.Generator,
) -> np.ndarray:
    """``(count, width)`` float32 frames of one codeword, before the split."""
    width = spec.input_features
    dash = np.array([symbol == "-" for symbol in code])
    (dot_lo, dot_hi), (dash_lo, dash_hi) = spec.lengths("dot"), spec.lengths("dash")
    low = np.where(dash, dash_lo, dot_lo)
    high = np.where(dash, dash_hi, dot_hi)
    marks = structure.integers(low, high, size=(count, len(code)), endpoint=True)
    spaces = structure.integers(*spec.lengths("space"), size=(count, len(code) - 1), endpoint=True)
    if spec.leading_space:
        room = width - marks.sum(axis=1) - spaces.sum(axis=1)
        leading = structure.integers(0, room, endpoint=True)
    else:
        leading = np.zeros(count, dtype=np.int64)
    mask = mark_mask(marks, spaces, leading, width)
    if spec.style == "BW":
        frames = mask.astype(np.float32)
        if spec.max_flip > 0:
            flips = noise.integers(0, spec.max_flip, size=count, endpoint=True)
            # The first k entries of a uniformly random permutation are a uniform k-subset.
            order = np.argsort(noise.random((count, width)), axis=1)[:, : spec.max_flip]
            chosen = np.arange(spec.max_flip)[None, :] < flips[:, None]
            rows = np.broadcast_to(np.arange(count)[:, None], order.shape)
            frames[rows[chosen], order[chosen]] = 1.0 - frames[rows[chosen], order[chosen]]
        return frames
    # Every time step of a mark gets its own level, as in the original code.
    levels = spec.symbol_mean + spec.symbol_sd * level.standard_normal(mask.shape)
    values = np.where(mask, levels, 0.0)
    if spec.noise_sd > 0:
        values += spec.noise_mean + spec.noise_sd * noise.standard_normal(mask.shape)
    elif spec.noise_mean != 0:
        values += spec.noise_mean
    if spec.round_mode == "integer_levels":
        values = np.clip(np.rint(values), 0, spec.levels) / spec.levels
    else:
        values = np.round(np.clip(values, 0, spec.levels) / spec.levels, spec.decimals)
    return (values + 0.0).astype(np.float32)  # + 0.0 turns any -0.0 into 0.0


# -------------------------------------------------------------------- files
def save_morse(
    data: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    spec: MorseSpec | None = None,
    seed: int | None = None,
    compress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write the six split arrays to ``path`` (``.npz``) atomically, with a JSON header.

    Args:
        data: ``xtr, ytr, xva, yva, xte, yte`` as returned by :func:`generate_morse`.
        path: Destination file.
        spec: How the data were made; stored in the header and checked against the shapes.
        seed: The integer seed, stored in the header (anything else is stored as null).
        compress: ``np.savez_compressed`` (default) or plain ``np.savez``.
        overwrite: Replace an existing file; by default an existing file is an error.

    Raises:
        FileExistsError: If the file exists and ``overwrite`` is false.
        ValueError: If keys are missing or the shapes disagree with each other or ``spec``.
    """
    arrays = {key: np.asarray(data[key]) for key in KEYS if key in data}
    _check_arrays(arrays, "data")
    if spec is not None:
        _check_against_spec(arrays, spec, "data")
    header = {
        "format": FORMAT,
        "version": VERSION,
        "spec": None if spec is None else spec.to_dict(),
        "seed": int(seed) if isinstance(seed, int | np.integer) else None,
        "names": None if spec is None else list(spec.names),
        "sha256": {key: _digest(array) for key, array in arrays.items()},
    }
    arrays["header"] = np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8)
    writer = np.savez_compressed if compress else np.savez
    return atomic_write(path, lambda file: writer(file, **arrays), overwrite=overwrite)


def load_morse(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a Morse dataset written by :func:`save_morse`, or any interchange ``.npz``.

    Files without a header (Dey's ``xtr…`` or older ``xtrain…`` keys) are accepted; their
    shapes are still checked.

    Returns:
        ``{"xtr", "ytr", "xva", "yva", "xte", "yte"}`` as stored.

    Raises:
        ValueError: If the file is missing or unreadable, lacks a key, its shapes disagree
            (rows of x and y, features or classes across splits, labels not one-hot), its
            arrays do not match the header's digests, or they do not match its spec.
    """
    arrays, header = _read(path)
    path = Path(path)
    if header is not None:
        for key, digest in header.get("sha256", {}).items():
            if key not in arrays or _digest(arrays[key]) != digest:
                raise ValueError(f"{path}: {key} does not match its checksum (file was altered)")
    _check_arrays(arrays, str(path))
    spec = _header_spec(header, path)
    if spec is not None:
        _check_against_spec(arrays, spec, str(path))
    return arrays


def load_morse_spec(path: str | os.PathLike) -> MorseSpec | None:
    """The :class:`MorseSpec` stored in a file's header; None for a file without one.

    Raises:
        ValueError: As :func:`load_morse` for unreadable files or a corrupt header.
    """
    return _header_spec(_read(path, header_only=True)[1], Path(path))


def as_labels(y: np.ndarray) -> np.ndarray:
    """Integer class labels from one-hot rows ``(N, K)`` or integer labels ``(N,)``.

    Example:
        >>> as_labels(np.array([[0, 1, 0], [1, 0, 0]])).tolist()
        [1, 0]
    """
    y = np.asarray(y)
    if y.ndim == 2:
        return np.argmax(y, axis=1)
    if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        return y.astype(np.int64, copy=False)
    raise ValueError(
        f"labels must be one-hot (N, classes) or integer (N,), got {y.ndim}-D {y.dtype}"
    )


def _digest(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def _read(
    path: str | os.PathLike, *, header_only: bool = False
) -> tuple[dict[str, np.ndarray], dict | None]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as file:
            if not hasattr(file, "files"):
                raise ValueError("a single array, not an .npz archive")
            names = file.files
            wanted = [n for n in names if n == "header"] if header_only else names
            arrays = {name: file[name] for name in wanted}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error})") from None
    header = None
    if "header" in arrays:
        try:
            header = json.loads(arrays.pop("header").tobytes().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: corrupt header ({error})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"{path}: header is not a {FORMAT!r} header")
        if header.get("version") != VERSION:
            raise ValueError(
                f"{path}: version {header.get('version')} is not supported (need {VERSION})"
            )
    if not header_only and not all(key in arrays for key in KEYS):
        if all(old in arrays for old in _OLD_KEYS.values()):
            arrays = {key: arrays[old] for key, old in _OLD_KEYS.items()}
        else:
            missing = [key for key in KEYS if key not in arrays]
            raise ValueError(
                f"{path}: missing key(s) {', '.join(missing)}; a Morse file has "
                f"{', '.join(KEYS)}, found {', '.join(sorted(arrays)) or 'nothing'}"
            )
    return {key: arrays[key] for key in KEYS if key in arrays}, header


def _header_spec(header: dict | None, path: Path) -> MorseSpec | None:
    if header is None or header.get("spec") is None:
        return None
    try:
        return MorseSpec.from_dict(header["spec"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: invalid spec in header: {error}") from None


def _check_arrays(arrays: Mapping[str, np.ndarray], source: str) -> None:
    """Six arrays of one dataset: x 2-D numeric, y one-hot or integer, sizes consistent."""
    missing = [key for key in KEYS if key not in arrays]
    if missing:
        raise ValueError(f"{source}: missing key(s) {', '.join(missing)}")
    features, classes = set(), set()
    for split in SPLITS:
        x, y = arrays[f"x{split}"], arrays[f"y{split}"]
        if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"{source}: x{split} must be a 2-D numeric array, got {x.shape}")
        if y.ndim not in (1, 2) or len(y) != len(x):
            raise ValueError(
                f"{source}: y{split} has shape {y.shape} but x{split} has {len(x)} rows"
            )
        features.add(x.shape[1])
        if y.ndim == 2:
            classes.add(y.shape[1])
            if y.size and not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
                raise ValueError(f"{source}: y{split} is 2-D but its rows are not one-hot")
        elif not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise ValueError(f"{source}: y{split} must hold non-negative integer labels")
    if len(features) > 1:
        raise ValueError(f"{source}: splits disagree on the number of features {sorted(features)}")
    if len(classes) > 1:
        raise ValueError(f"{source}: splits disagree on the number of classes {sorted(classes)}")


def _check_against_spec(arrays: Mapping[str, np.ndarray], spec: MorseSpec, source: str) -> None:
    for split, count in zip(SPLITS, spec.per_class, strict=True):
        x, y = arrays[f"x{split}"], arrays[f"y{split}"]
        expected = (count * spec.num_classes, spec.input_features)
        if x.shape != expected:
            raise ValueError(
                f"{source}: x{split} has shape {x.shape} but the spec gives {expected} "
                f"({count} per class × {spec.num_classes} classes, "
                f"{spec.input_features} features)"
            )
        classes = y.shape[1] if y.ndim == 2 else (int(y.max()) + 1 if y.size else 0)
        if classes > spec.num_classes or (y.ndim == 2 and classes != spec.num_classes):
            raise ValueError(
                f"{source}: y{split} has {classes} classes but the spec has {spec.num_classes}"
            )
