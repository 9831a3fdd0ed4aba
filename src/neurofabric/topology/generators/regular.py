"""Structured (regular) junctions: exact fan-in and exact fan-out (Dey's "structured")."""

from __future__ import annotations

import numpy as np

from neurofabric._rng import Seed, as_generator
from neurofabric.topology.generators._degrees import regular_degrees
from neurofabric.topology.junction import Junction


def regular_junction(
    in_features: int,
    out_features: int,
    *,
    fan_out: int | None = None,
    fan_in: int | None = None,
    density: float | None = None,
    seed: Seed = None,
) -> Junction:
    """Sample a junction where every left neuron has ``fan_out`` and every right one ``fan_in``.

    Give exactly one of ``fan_out``, ``fan_in`` or ``density``; the others follow from
    ``in_features * fan_out == out_features * fan_in`` (SPEC §1).

    The sampler is Dey's row fill (SPEC §2.2): each left neuron keeps a count of the edges it
    still needs; right neurons are filled in order, first taking every left neuron that needs an
    edge in each remaining row ("forced"), then drawing the rest uniformly among the left
    neurons that still need edges. It never fails and is exact; like Dey's, it is not uniform
    over all biregular graphs.

    Args:
        in_features: Neurons in the left layer (``p``).
        out_features: Neurons in the right layer (``n``).
        fan_out: Outputs of every left neuron.
        fan_in: Inputs of every right neuron.
        density: ``fan_out / out_features``.
        seed: Seed or generator; ``None`` uses fresh entropy.

    Returns:
        A regular junction with ``in_features * fan_out`` edges.

    Raises:
        ValueError: If the degrees cannot be exact integers (e.g. ``fan_out * in_features`` not
            divisible by ``out_features``) or exceed the layer sizes.

    Example:
        >>> j = regular_junction(8, 4, fan_out=2, seed=0)
        >>> j.nnz, j.density, j.fan_in.tolist(), j.fan_out.tolist()
        (16, 0.5, [4, 4, 4, 4], [2, 2, 2, 2, 2, 2, 2, 2])

    References:
        S. Dey, K.-W. Huang, P. A. Beerel, K. M. Chugg, "Pre-Defined Sparse Neural Networks with
        Hardware Acceleration", IEEE JETCAS 9(2), 2019.
    """
    fan_out, fan_in = regular_degrees(
        in_features, out_features, fan_out=fan_out, fan_in=fan_in, density=density
    )
    rng = as_generator(seed)
    p, n = in_features, out_features
    # One uniform key per (row, column), drawn at once; a row takes the available columns with
    # the smallest keys, which is a uniform draw without replacement among them.
    keys = rng.random((n, p), dtype=np.float32)
    chosen = _row_fill(keys, fan_out, fan_in)
    # Marking mask cells and reading them back row-major yields the canonical order directly.
    mask = np.zeros((n, p), dtype=bool)
    np.put_along_axis(mask, chosen, True, axis=1)
    dst = np.repeat(np.arange(n, dtype=np.int64), fan_in)
    src = np.flatnonzero(mask) - dst * p
    return Junction._trusted(p, n, src, dst)


def _row_fill(keys: np.ndarray, fan_out: int, fan_in: int) -> np.ndarray:
    """Dey's row fill driven by ``keys``: returns the ``(n, fan_in)`` table of inputs.

    Rows are processed in batches where the sequential algorithm provably makes the same
    choices as independent per-row draws: no column can be forced (its need is below the rows
    remaining after the batch) and none runs out before the batch's last row. The result is
    identical to filling one row at a time with the same keys; batching only saves time.
    """
    n, p = keys.shape
    need = np.full(p, fan_out, dtype=np.int64)
    src = np.empty((n, fan_in), dtype=np.int64)
    row, batch = 0, n
    while row < n:
        remaining = n - row
        size = min(batch, remaining - int(need.max()))
        if size >= 2:
            block = keys[row : row + size]
            block[:, need == 0] = 2.0
            chosen = np.argpartition(block, fan_in - 1, axis=1)[:, :fan_in]
            before_last = np.bincount(chosen[:-1].reshape(-1), minlength=p)
            if np.all((before_last < need) | (need == 0)):
                src[row : row + size] = chosen
                need -= before_last + np.bincount(chosen[-1], minlength=p)
                row += size
                continue
            batch = size // 2
        row_keys = keys[row]
        # Forced columns (need equals the rows left) sort first, exhausted ones last.
        row_keys[need == remaining] = -1.0
        row_keys[need == 0] = 2.0
        chosen = np.argpartition(row_keys, fan_in - 1)[:fan_in] if fan_in < p else np.arange(p)
        src[row] = chosen
        need[chosen] -= 1
        row += 1
    return src
