"""Clash-free junctions: Dey's interleaved patterns for an edge-parallel engine (SPEC §2.3).

An engine processes ``parallelism`` (``z``) edges per cycle. Left neuron ``q`` lives in memory
bank ``q mod z`` at address ``q // z``; each bank holds ``D = in_features / z`` neurons and can
be read once per cycle. Right-side edge slots ``i in [0, in_features * fan_out)`` are visited in
order, ``z`` per cycle; slot ``i`` belongs to right neuron ``i // fan_in``, sweep
``k = i // in_features``, cycle-in-sweep ``a = (i mod in_features) // z`` and lane ``j = i mod z``.
Its left neuron is ``t_k[a, j] * z + v_k[j]``: the memory map ``t`` picks the address, the dither
``v`` the bank. Every sweep reads each left neuron once and every cycle each bank once, so the
pattern is clash-free and every left neuron gets exactly ``fan_out`` edges.

Memory maps (``t``, one per sweep unless noted):

- ``"type1"``: per lane, an independent uniform permutation of the ``D`` addresses;
- ``"type2"``: a start vector ``s in [0, D)^z`` drawn with replacement, and
  ``t[a, j] = (s_j + a) mod D``;
- ``"type3"``: type 2 with one map (and one dither) shared by all sweeps.

Dither: ``False`` reads bank ``j`` in lane ``j``; ``True`` draws one bank permutation per sweep.

Shape legend: ``p`` in_features, ``n`` out_features, ``fo``/``fi`` fan-out/fan-in, ``z``
parallelism, ``D = p / z`` bank depth, ``P = p * fo`` edges (slots).

References:
    S. Dey, P. A. Beerel, K. M. Chugg, "Interleaver design for deep neural networks",
    Asilomar 2017. S. Dey, K.-W. Huang, P. A. Beerel, K. M. Chugg, "Pre-Defined Sparse Neural
    Networks with Hardware Acceleration", IEEE JETCAS 9(2), 2019.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from neurofabric._rng import Seed, as_generator
from neurofabric.topology.generators._degrees import regular_degrees
from neurofabric.topology.junction import Junction, _check_size

MemoryMap = Literal["type1", "type2", "type3"]
OnInvalid = Literal["resample", "raise"]
_MEMORY_MAPS = ("type1", "type2", "type3")
_ON_INVALID = ("resample", "raise")
# Below this many mask cells, canonical order comes from a dense bucket pass (O(n * p)); above
# it from a per-row sort (O(P log fi)), which needs no memory beyond the edges.
_BUCKET_CELLS = 1 << 22
_COUNT_CHUNK = 1 << 15


class _Sizes(NamedTuple):
    p: int  # in_features
    n: int  # out_features
    fo: int  # fan_out
    fi: int  # fan_in
    z: int  # parallelism
    depth: int  # D = p / z, addresses per bank


def _sizes(in_features, out_features, fan_out, fan_in, density, parallelism) -> _Sizes:
    fo, fi = regular_degrees(
        in_features, out_features, fan_out=fan_out, fan_in=fan_in, density=density
    )
    p, n = int(in_features), int(out_features)
    z = _check_size("parallelism", parallelism)
    if z > p:
        raise ValueError(f"parallelism = {z} must lie in [1, in_features = {p}]")
    if p % z:
        raise ValueError(
            f"parallelism must divide in_features (every bank holds in_features / parallelism "
            f"neurons), got in_features = {p}, parallelism = {z}"
        )
    return _Sizes(p, n, fo, fi, z, p // z)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return str(value)


def _check_dither(dither: object) -> bool:
    if not isinstance(dither, bool | int | np.integer) or dither not in (0, 1):
        raise ValueError(f"dither must be True/False (or 1/0), got {dither!r}")
    return bool(dither)


def _check_start_vectors(start_vectors, s: _Sizes, memory_map: str) -> np.ndarray | None:
    """Return the start vectors as a ``(sweeps, z)`` array, or ``None`` when not given."""
    if start_vectors is None:
        return None
    if memory_map == "type1":
        raise ValueError("start_vectors only apply to memory_map 'type2' or 'type3', got 'type1'")
    starts = np.asarray(start_vectors)
    sweeps = s.fo if memory_map == "type2" else 1
    allowed = [(s.fo, s.z)] if memory_map == "type2" else [(s.z,), (1, s.z)]
    if starts.shape not in allowed:
        wanted = " or ".join(str(shape) for shape in allowed)
        raise ValueError(
            f"start_vectors for memory_map {memory_map!r} must have shape {wanted} "
            f"(fan_out = {s.fo}, parallelism = {s.z}), got shape {starts.shape}"
        )
    if starts.size and not np.issubdtype(starts.dtype, np.integer):
        if starts.dtype == bool or not np.all(np.mod(starts, 1) == 0):
            raise ValueError("start_vectors must hold integer addresses")
    starts = starts.astype(np.int64).reshape(sweeps, s.z)
    if starts.min() < 0 or starts.max() >= s.depth:
        raise ValueError(
            f"start_vectors must lie in [0, D) with D = in_features / parallelism = "
            f"{s.p} / {s.z} = {s.depth}, got range [{starts.min()}, {starts.max()}]"
        )
    return starts


def _sweep_neurons(addresses: np.ndarray, banks: np.ndarray, z: int) -> np.ndarray:
    """Left neurons read by sweeps: ``(S, D, z)`` addresses, ``(S, z)`` banks -> ``(S, p)``."""
    left = addresses * z
    left += banks[:, None, :]
    return left.reshape(addresses.shape[0], -1)


def _cyclic_maps(starts: np.ndarray, depth: int) -> np.ndarray:
    """Type 2/3 addresses ``(s_j + a) mod D``: ``(S, z)`` starts -> ``(S, D, z)``."""
    addresses = starts[:, None, :] + np.arange(depth, dtype=starts.dtype)[:, None]
    addresses %= depth
    return addresses


def _draw(
    rng: np.random.Generator, s: _Sizes, memory_map: str, dither: bool, starts: np.ndarray | None
) -> np.ndarray:
    """Draw one interleaver: the ``(P,)`` left neuron of every slot, in slot order.

    Each sweep's banks are a permutation of ``[0, z)`` and each lane's addresses one of
    ``[0, D)``, so every cycle reads every bank once: clash-free by construction.
    """
    sweeps = 1 if memory_map == "type3" else s.fo
    if memory_map == "type1":  # every (sweep, lane) column is its own permutation
        cycles = np.arange(s.depth, dtype=np.int64)[:, None]
        addresses = rng.permuted(np.broadcast_to(cycles, (sweeps, s.depth, s.z)), axis=1)
    else:
        if starts is None:
            starts = rng.integers(0, s.depth, size=(sweeps, s.z))
        addresses = _cyclic_maps(starts, s.depth)  # (sweeps, D, z)
    banks = np.broadcast_to(np.arange(s.z, dtype=np.int64), (sweeps, s.z))
    if dither:
        banks = rng.permuted(banks, axis=1)
    left = _sweep_neurons(addresses, banks, s.z)  # (sweeps, p)
    return np.broadcast_to(left, (s.fo, s.p)).reshape(-1)


def _by_bucket(s: _Sizes, left: np.ndarray, dst: np.ndarray):
    """Canonical ``(src, schedule)`` by marking mask cells, O(n * p); ``None`` on a repeat."""
    row_start = dst * s.p
    cell = row_start + left
    mark = np.zeros(s.n * s.p, dtype=bool)
    mark[cell] = True
    if np.count_nonzero(mark) < left.size:
        return None
    src = np.flatnonzero(mark)
    src -= row_start
    schedule = np.cumsum(mark, dtype=dst.dtype)[cell]  # slot -> rank of its cell, plus one
    schedule -= 1
    return src, schedule


def _by_sort(s: _Sizes, left: np.ndarray, dst: np.ndarray):
    """Canonical ``(src, schedule)`` by sorting each row, O(P log fi); ``None`` on a repeat."""
    # uint16 keys take numpy's radix sort.
    table = left.astype(np.uint16 if s.p <= 1 << 16 else np.int64).reshape(s.n, s.fi)
    order = table.argsort(axis=1, kind="stable")
    src = np.take_along_axis(table, order, axis=1)
    if np.any(src[:, 1:] == src[:, :-1]):
        return None
    order += np.arange(0, left.size, s.fi)[:, None]
    schedule = np.empty(left.size, dtype=np.int64)
    schedule[order.reshape(-1)] = np.arange(left.size)
    return src.reshape(-1), schedule


def _to_junction(s: _Sizes, left: np.ndarray) -> Junction | None:
    """Return the junction of slot-order ``left`` neurons, or ``None`` if a row repeats one."""
    edges, cells = s.p * s.fo, s.n * s.p
    if np.any(np.bincount(left, minlength=s.p) != s.fo):
        raise RuntimeError("internal error: the interleaver is not a permutation of the edges")
    dtype = np.int32 if max(cells, edges) < 1 << 31 else np.int64
    dst = np.repeat(np.arange(s.n, dtype=dtype), s.fi)  # slot order is already by row
    by = _by_bucket if cells <= max(_BUCKET_CELLS, 16 * edges) else _by_sort
    canonical = by(s, left, dst)
    if canonical is None:
        return None
    src, schedule = canonical
    return Junction._trusted(s.p, s.n, src, dst, schedule, s.z)


def _repeat_reason(s: _Sizes, memory_map: str) -> str:
    return (
        f"fan_in = {s.fi} does not divide in_features = {s.p}, so some right neurons straddle "
        f"two sweeps, and memory_map {memory_map!r} draws a fresh map per sweep, which can give "
        "such a neuron the same left neuron twice; memory_map='type3' never does"
    )


def clash_free_junction(
    in_features: int,
    out_features: int,
    *,
    fan_out: int | None = None,
    fan_in: int | None = None,
    density: float | None = None,
    parallelism: int,
    memory_map: MemoryMap = "type1",
    dither: bool = False,
    start_vectors: npt.ArrayLike | None = None,
    on_invalid: OnInvalid = "resample",
    max_tries: int = 100,
    hardware: bool = False,
    seed: Seed = None,
) -> Junction:
    """Draw a regular junction whose hardware schedule never reads a memory bank twice a cycle.

    Give exactly one of ``fan_out``, ``fan_in`` or ``density``. The junction keeps the slot
    order as its :attr:`~Junction.schedule` and ``parallelism`` as its own, so
    :func:`~neurofabric.topology.clash.clash_report` can check it.

    When ``fan_in`` does not divide ``in_features``, a right neuron can straddle two sweeps and,
    with ``"type1"``/``"type2"``, receive one left neuron twice (Dey's code silently drops the
    edge). Every draw is checked; an invalid one is redrawn or raises, never returned.

    Args:
        in_features: Neurons in the left layer (``p``); a multiple of ``parallelism``.
        out_features: Neurons in the right layer (``n``).
        fan_out: Outputs of every left neuron.
        fan_in: Inputs of every right neuron.
        density: ``fan_out / out_features``.
        parallelism: Edges processed per cycle (``z``), a divisor of ``in_features``.
        memory_map: ``"type1"``, ``"type2"`` or ``"type3"`` (see the module docstring).
        dither: Whether each sweep reads the banks in a random lane order.
        start_vectors: Fixed type 2 start addresses, ``(fan_out, parallelism)``, or type 3 ones,
            ``(parallelism,)`` or ``(1, parallelism)``, in ``[0, in_features / parallelism)``.
        on_invalid: ``"resample"`` redraws an invalid pattern up to ``max_tries`` times;
            ``"raise"`` raises at the first one. Fixed ``start_vectors`` always raise.
        max_tries: Draws allowed with ``"resample"``.
        hardware: Enforce the RTL's limits: ``in_features / parallelism`` a power of two, and
            ``memory_map="type2"`` with ``dither=False``.
        seed: Seed or generator; ``None`` uses fresh entropy.

    Returns:
        A regular junction with ``in_features * fan_out`` edges, schedule and parallelism.

    Raises:
        ValueError: On sizes that break the rules above (the message shows the numbers), bad
            ``start_vectors``, or when no valid pattern was drawn.

    Warns:
        UserWarning: If ``parallelism == in_features`` without dither: the pattern is then a
            deterministic band of cyclically consecutive inputs with very low scatter.

    Example:
        Dey's worked example: 12 left neurons in 4 banks of depth 3, starts ``(1, 0, 2, 2)``.

        >>> j = clash_free_junction(
        ...     12, 3, fan_out=1, parallelism=4, memory_map="type3", start_vectors=[1, 0, 2, 2]
        ... )
        >>> src, dst = j.scheduled_edges()
        >>> src.reshape(-1, 4).tolist()  # one row per cycle
        [[4, 1, 10, 11], [8, 5, 2, 3], [0, 9, 6, 7]]
        >>> j.fan_in.tolist(), j.parallelism
        ([4, 4, 4], 4)
    """
    s = _sizes(in_features, out_features, fan_out, fan_in, density, parallelism)
    memory_map = _check_choice("memory_map", memory_map, _MEMORY_MAPS)
    on_invalid = _check_choice("on_invalid", on_invalid, _ON_INVALID)
    dither = _check_dither(dither)
    max_tries = _check_size("max_tries", max_tries)
    if hardware:
        if s.depth & (s.depth - 1):
            raise ValueError(
                "hardware mode computes addresses mod D by bit truncation, so "
                f"D = in_features / parallelism = {s.p} / {s.z} = {s.depth} must be a power of two"
            )
        if memory_map != "type2" or dither:
            raise ValueError(
                "hardware mode implements memory_map='type2' with dither=False, got "
                f"memory_map={memory_map!r}, dither={dither}"
            )
    starts = _check_start_vectors(start_vectors, s, memory_map)
    if s.z == s.p and not dither:
        warnings.warn(
            f"parallelism = in_features = {s.p} without dither gives a deterministic band: every "
            f"right neuron reads {s.fi} cyclically consecutive left neurons (very low scatter); "
            "use dither=True or parallelism < in_features",
            stacklevel=2,
        )
    rng = as_generator(seed)
    for attempt in range(1, max_tries + 1):
        left = _draw(rng, s, memory_map, dither, starts)
        junction = _to_junction(s, left)
        if junction is not None:
            return junction
        if on_invalid == "raise" or starts is not None:
            rows = np.sort(left.reshape(s.n, s.fi), axis=1)
            row, col = np.argwhere(rows[:, 1:] == rows[:, :-1])[0]
            given = "the given start_vectors" if starts is not None else f"draw {attempt}"
            raise ValueError(
                f"{given} gave right neuron {row} left neuron {rows[row, col]} twice: "
                f"{_repeat_reason(s, memory_map)}"
            )
    raise ValueError(
        f"no valid clash-free pattern in max_tries = {max_tries} draws: "
        f"{_repeat_reason(s, memory_map)}; or raise max_tries"
    )


def count_clash_free_patterns(
    in_features: int,
    out_features: int,
    *,
    fan_out: int,
    parallelism: int,
    memory_map: MemoryMap,
    dither: bool = False,
) -> int | None:
    """Return Dey's closed-form count of clash-free patterns, or ``None`` where it has none.

    With ``D = in_features / parallelism`` and ``k = 1`` if not dithered or ``z | fan_in``,
    ``k = z! / (fan_in!)^(z / fan_in)`` if dithered and ``fan_in | z``: type 1 gives
    ``(k * (D!)^z)^fan_out``, type 2 ``(k * D^z)^fan_out``, type 3 ``k * D^z``, and a fully
    connected junction 1. These count generator outcomes up to reordering inside a right neuron:
    exactly the distinct masks when ``fan_in == parallelism``, an overcount when a right neuron
    spans several cycles (compare :func:`count_clash_free_masks`).

    Raises:
        ValueError: On invalid sizes, as for :func:`clash_free_junction`.

    Example:
        >>> count_clash_free_patterns(9, 6, fan_out=2, parallelism=3, memory_map="type1")
        46656
        >>> count_clash_free_patterns(6, 4, fan_out=2, parallelism=2, memory_map="type3",
        ...                           dither=True) is None  # fan_in = 3 vs z = 2
        True
    """
    s = _sizes(in_features, out_features, fan_out, None, None, parallelism)
    memory_map = _check_choice("memory_map", memory_map, _MEMORY_MAPS)
    dither = _check_dither(dither)
    if s.fo == s.n:
        return 1
    if not dither or s.fi % s.z == 0:
        k = 1
    elif s.z % s.fi == 0:
        k = math.factorial(s.z) // math.factorial(s.fi) ** (s.z // s.fi)
    else:
        return None
    if memory_map == "type1":
        return (k * math.factorial(s.depth) ** s.z) ** s.fo
    if memory_map == "type2":
        return (k * s.depth**s.z) ** s.fo
    return k * s.depth**s.z


def _all_sweeps(s: _Sizes, memory_map: str, dither: bool) -> np.ndarray:
    """Every possible single sweep, ``(S, p)``: all address maps times all dithers."""
    if memory_map == "type1":
        perms = np.array(list(itertools.permutations(range(s.depth))))  # (D!, D)
        choice = np.indices((len(perms),) * s.z).reshape(s.z, -1).T  # (D!^z, z)
        addresses = perms[choice].transpose(0, 2, 1)  # (D!^z, D, z)
    else:
        starts = np.indices((s.depth,) * s.z).reshape(s.z, -1).T  # (D^z, z)
        addresses = _cyclic_maps(starts, s.depth)
    if dither:
        banks = np.array(list(itertools.permutations(range(s.z))))  # (z!, z)
    else:
        banks = np.arange(s.z)[None]
    num_maps, num_banks = len(addresses), len(banks)
    addresses = np.repeat(addresses, num_banks, axis=0)
    return _sweep_neurons(addresses, np.tile(banks, (num_maps, 1)), s.z)


def count_clash_free_masks(
    in_features: int,
    out_features: int,
    *,
    fan_out: int,
    parallelism: int,
    memory_map: MemoryMap,
    dither: bool = False,
    limit: int = 1_000_000,
) -> int:
    """Count the distinct valid masks :func:`clash_free_junction` can return, by brute force.

    Enumerates every generator outcome (every memory map and dither of every sweep) and counts
    the distinct masks with no repeated edge. For tiny configurations only.

    Raises:
        ValueError: On invalid sizes, or if there are more than ``limit`` outcomes.

    Example:
        >>> count_clash_free_masks(9, 6, fan_out=2, parallelism=3, memory_map="type2")
        729
        >>> count_clash_free_masks(8, 2, fan_out=1, parallelism=2, memory_map="type1")
        36
    """
    s = _sizes(in_features, out_features, fan_out, None, None, parallelism)
    memory_map = _check_choice("memory_map", memory_map, _MEMORY_MAPS)
    dither = _check_dither(dither)
    limit = _check_size("limit", limit)
    maps = math.factorial(s.depth) ** s.z if memory_map == "type1" else s.depth**s.z
    per_sweep = maps * (math.factorial(s.z) if dither else 1)
    outcomes = per_sweep if memory_map == "type3" else per_sweep**s.fo
    if outcomes > limit:
        raise ValueError(
            f"{memory_map} with dither={dither} has {outcomes} generator outcomes for "
            f"in_features = {s.p}, fan_out = {s.fo}, parallelism = {s.z}, more than limit = {limit}"
        )
    sweeps = _all_sweeps(s, memory_map, dither)  # (per_sweep, p)
    dtype = np.min_scalar_type(s.p)
    found: list[np.ndarray] = []
    for first in range(0, outcomes, _COUNT_CHUNK):
        index = np.arange(first, min(first + _COUNT_CHUNK, outcomes))
        if memory_map == "type3":
            choice = np.repeat(index[:, None], s.fo, axis=1)
        else:  # digits of the outcome index in base per_sweep, one per sweep
            powers = per_sweep ** np.arange(s.fo - 1, -1, -1)
            choice = index[:, None] // powers % per_sweep
        rows = np.sort(sweeps[choice].reshape(-1, s.n, s.fi).astype(dtype), axis=2)
        valid = ~np.any(rows[:, :, 1:] == rows[:, :, :-1], axis=(1, 2))
        found.append(np.unique(rows[valid].reshape(-1, s.n * s.fi), axis=0))
    return len(np.unique(np.concatenate(found), axis=0))
