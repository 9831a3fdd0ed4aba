"""Exact path counts and reachability across the junctions (and fixed skips) of a topology.

Counts propagate a block of input columns layer by layer: ``H_t = Σ_(s→t) M_st · H_s`` over
junctions, plus ``H_s`` itself over fixed identity skips. Stages with a block structure are
applied as block sums (their blocks are all ones), so even 8192-wide cascades cost
``O(layers · N · N_0)``; other junctions use sparse products. Large inputs are processed in
column chunks, so summary statistics never hold the whole ``N_L × N_0`` matrix.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from neurofabric.topology.junction import Junction
from neurofabric.topology.topology import Topology

_INT64_SAFE = 2**62
_CHUNK_BYTES = 64 * 2**20


def _path_count_bound(topology: Topology) -> int:
    """An upper bound on any entry of the path-count matrix from layer 0 to every layer."""
    bound = [1] + [0] * (topology.num_layers - 1)
    for layer in range(1, topology.num_layers):
        for (source, _), junction in topology.incoming(layer):
            bound[layer] += int(junction.fan_in.max(initial=0)) * bound[source]
        bound[layer] += sum(bound[s] for s, t in topology.identity_skips if t == layer)
    return max(bound)


def _permute_rows(x: np.ndarray, order) -> np.ndarray:
    if order is None:
        return x
    columns = x.shape[1]
    grid = x.reshape(*order.shape, columns)
    return grid.transpose(*order.axes, len(order.shape)).reshape(order.size, columns)


def propagate(junction: Junction, x: np.ndarray) -> np.ndarray:
    """Return ``mask @ x`` for a ``(in_features, C)`` array, using the block structure if any."""
    blocks = junction.blocks
    if blocks is not None and not blocks.diagonal:
        grouped = _permute_rows(x, blocks.input_order).reshape(blocks.blocks, blocks.block_in, -1)
        sums = grouped.sum(axis=1)  # (g, C): every block is all ones
        return _permute_rows(np.repeat(sums, blocks.block_out, axis=0), blocks.output_order)
    if x.dtype == object:
        return junction.to_mask().astype(object) @ x
    return np.asarray(junction.to_csr(x.dtype) @ x)


def _layers(topology: Topology, source: int, target: int) -> tuple[int, int]:
    num_layers = topology.num_layers
    source, target = source % num_layers, target % num_layers
    if not source < target:
        raise ValueError(f"source layer {source} must come before target layer {target}")
    return source, target


def _columns(
    topology: Topology,
    start: int,
    stop: int,
    source: int,
    target: int,
    dtype: object,
    saturate: bool = False,
) -> np.ndarray:
    """Path counts from neurons ``start:stop`` of ``source`` to every neuron of ``target``."""
    sizes = topology.layer_sizes
    first = np.zeros((sizes[source], stop - start), dtype=dtype)
    first[np.arange(start, stop), np.arange(stop - start)] = 1
    counts = {source: first}
    for layer in range(source + 1, target + 1):
        total = np.zeros((sizes[layer], stop - start), dtype=dtype)
        for (s, _), junction in topology.incoming(layer):
            if s in counts:
                total += propagate(junction, counts[s])
        for s, t in topology.identity_skips:
            if t == layer and s in counts:
                shared = min(sizes[s], sizes[t])
                total[:shared] += counts[s][:shared]
        counts[layer] = np.minimum(total, 1) if saturate else total
    return counts[target]


def _chunks(topology: Topology, source: int, target: int) -> Iterator[tuple[int, int]]:
    width = max(topology.layer_sizes[source : target + 1])
    step = max(1, _CHUNK_BYTES // (8 * width))
    size = topology.layer_sizes[source]
    for start in range(0, size, step):
        yield start, min(size, start + step)


def path_counts(topology: Topology, *, source: int = 0, target: int = -1) -> np.ndarray:
    """Return the exact number of paths from every neuron of ``source`` to every one of ``target``.

    Entry ``[y, x]`` counts the directed paths from neuron ``x`` of layer ``source`` to neuron
    ``y`` of layer ``target`` through junctions and fixed identity skips. For a chain this is the
    integer product ``M_L ··· M_1`` of the masks (SPEC §3); with per-stage identity skips it is
    ``Π (M_s + I)`` (SPEC §4.6).

    Returns:
        ``(N_target, N_source)`` integer array: ``int64``, or Python integers (``object``)
        when counts could overflow 64 bits.

    Raises:
        ValueError: If ``source`` does not come before ``target``.

    Example:
        >>> from neurofabric.topology import Junction, Topology
        >>> a = Junction.from_mask([[1, 1], [0, 1]])
        >>> b = Junction.from_mask([[1, 1]])
        >>> path_counts(Topology.chain([a, b])).tolist()
        [[1, 2]]
    """
    source, target = _layers(topology, source, target)
    dtype = object if _path_count_bound(topology) >= _INT64_SAFE else np.int64
    parts = [
        _columns(topology, start, stop, source, target, dtype)
        for start, stop in _chunks(topology, source, target)
    ]
    return np.concatenate(parts, axis=1)


def reachability(topology: Topology, *, source: int = 0, target: int = -1) -> np.ndarray:
    """Return the boolean ``(N_target, N_source)`` matrix of pairs joined by at least one path."""
    source, target = _layers(topology, source, target)
    parts = [
        _columns(topology, start, stop, source, target, np.int64, saturate=True) > 0
        for start, stop in _chunks(topology, source, target)
    ]
    return np.concatenate(parts, axis=1)


def path_count_stats(topology: Topology) -> dict[str, float | int | bool]:
    """Summarise input-to-output path counts without holding the whole matrix.

    Returns:
        ``min``, ``mean``, ``max`` paths per (input, output) pair (path diversity),
        ``reachable_fraction`` (pairs with at least one path) and ``fully_connected``.
    """
    dtype = object if _path_count_bound(topology) >= _INT64_SAFE else np.int64
    low, high, total, reached = None, None, 0, 0
    for start, stop in _chunks(topology, 0, topology.num_layers - 1):
        block = _columns(topology, start, stop, 0, topology.num_layers - 1, dtype)
        low = block.min() if low is None else min(low, block.min())
        high = block.max() if high is None else max(high, block.max())
        total += block.sum()
        reached += int(np.count_nonzero(block))
    pairs = topology.in_features * topology.out_features
    return {
        "min": int(low),
        "mean": float(total / pairs),
        "max": int(high),
        "reachable_fraction": reached / pairs,
        "fully_connected": reached == pairs,
    }


def is_fully_connected(topology: Topology) -> bool:
    """Whether every input neuron reaches every output neuron (SPEC §4.5 reachability = 1)."""
    return bool(reachability(topology).all())


def reachable_fraction(topology: Topology) -> float:
    """Fraction of (input, output) pairs joined by at least one path."""
    return float(reachability(topology).mean())
