"""Exact path counts and reachability across the junctions of a topology."""

from __future__ import annotations

import numpy as np
import scipy.sparse

from neurofabric.topology.topology import Topology

_INT64_SAFE = 2**62


def _path_count_bound(topology: Topology) -> int:
    """An upper bound on any entry of the path-count matrix from layer 0 to every layer."""
    bound = [1] + [0] * (topology.num_layers - 1)
    for layer in range(1, topology.num_layers):
        for (source, _), junction in topology.incoming(layer):
            bound[layer] += int(junction.fan_in.max(initial=0)) * bound[source]
    return max(bound)


def path_counts(topology: Topology, *, source: int = 0, target: int = -1) -> np.ndarray:
    """Return the exact number of paths from every neuron of ``source`` to every one of ``target``.

    Entry ``[y, x]`` counts the directed paths from neuron ``x`` of layer ``source`` to neuron
    ``y`` of layer ``target`` through any junctions, skips included. For a chain this is the
    integer product ``M_L ··· M_1`` of the masks (SPEC §3).

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
    num_layers = topology.num_layers
    target = target % num_layers
    source = source % num_layers
    if not source < target:
        raise ValueError(f"source layer {source} must come before target layer {target}")
    exact = _path_count_bound(topology) >= _INT64_SAFE
    dtype = object if exact else np.int64
    counts: dict[int, object] = {
        source: scipy.sparse.identity(topology.layer_sizes[source], dtype=np.int64, format="csr")
    }
    for layer in range(source + 1, target + 1):
        total = None
        for (s, _), junction in topology.incoming(layer):
            if s not in counts or s < source:
                continue
            if exact:
                term = junction.to_mask().astype(object) @ _dense(counts[s], object)
            else:
                term = junction.to_csr(np.int64) @ counts[s]
            total = term if total is None else total + term
        if total is None:
            total = scipy.sparse.csr_array(
                (topology.layer_sizes[layer], topology.layer_sizes[source]), dtype=np.int64
            )
        counts[layer] = total
    return _dense(counts[target], dtype)


def _dense(matrix: object, dtype: object) -> np.ndarray:
    if scipy.sparse.issparse(matrix):
        matrix = matrix.toarray()
    return np.asarray(matrix).astype(dtype)


def reachability(topology: Topology, *, source: int = 0, target: int = -1) -> np.ndarray:
    """Return the boolean ``(N_target, N_source)`` matrix of pairs joined by at least one path."""
    num_layers = topology.num_layers
    target = target % num_layers
    source = source % num_layers
    if not source < target:
        raise ValueError(f"source layer {source} must come before target layer {target}")
    reach: dict[int, scipy.sparse.csr_array] = {
        source: scipy.sparse.identity(topology.layer_sizes[source], dtype=bool, format="csr")
    }
    for layer in range(source + 1, target + 1):
        total = scipy.sparse.csr_array(
            (topology.layer_sizes[layer], topology.layer_sizes[source]), dtype=bool
        )
        for (s, _), junction in topology.incoming(layer):
            if s in reach:
                # Boolean products saturate, so counts never overflow here.
                total = total + (junction.to_csr(np.int32) @ reach[s].astype(np.int32)).astype(bool)
        reach[layer] = total.astype(bool)
    return reach[target].toarray()


def is_fully_connected(topology: Topology) -> bool:
    """Whether every input neuron reaches every output neuron (SPEC §4.5 reachability = 1)."""
    return bool(reachability(topology).all())


def reachable_fraction(topology: Topology) -> float:
    """Fraction of (input, output) pairs joined by at least one path."""
    return float(reachability(topology).mean())
