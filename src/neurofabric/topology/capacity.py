"""The most constraints a topology can solve: edges minus hidden-neuron gauges (SPEC §6.1)."""

from __future__ import annotations

import numpy as np

from neurofabric.topology.topology import Topology


def gauge_neurons(topology: Topology) -> int:
    """Count hidden neurons whose incident edges are all trainable: H in SPEC §6.1.

    Scaling such a neuron's inputs by ``c`` and its outputs by ``1/c`` leaves the product
    unchanged, so each one costs a degree of freedom. A fixed identity skip touching the neuron
    breaks that symmetry; a neuron with no input or no output edge carries no gauge.

    Example:
        >>> from neurofabric.topology.generators.block_shuffle import clos_topology
        >>> gauge_neurons(clos_topology(16, 16, groups=4, middle=4))
        32
        >>> gauge_neurons(clos_topology(16, 16, groups=4, middle=4, skip="identity"))
        0
    """
    sizes = topology.layer_sizes
    total = 0
    for layer in range(1, topology.num_layers - 1):
        has_input = np.zeros(sizes[layer], dtype=bool)
        has_output = np.zeros(sizes[layer], dtype=bool)
        fixed = np.zeros(sizes[layer], dtype=bool)
        for (source, target), junction in topology.junctions.items():
            if target == layer:
                has_input |= junction.fan_in > 0
            if source == layer:
                has_output |= junction.fan_out > 0
        for source, target in topology.identity_skips:
            if layer in (source, target):
                fixed[: min(sizes[source], sizes[target])] = True
        total += int(np.count_nonzero(has_input & has_output & ~fixed))
    return total


def capacity_bound(topology: Topology) -> int:
    """Return ``B = min(N_out · N_in, E − H)``: the most input-output constraints solvable.

    ``E`` counts trainable edges (fixed skips are not parameters), ``H`` the gauge-carrying
    hidden neurons (:func:`gauge_neurons`).

    Example:
        >>> from neurofabric.topology.generators.butterfly import butterfly_topology
        >>> capacity_bound(butterfly_topology(8))  # 48 edges - 16 gauged hidden neurons
        32
    """
    pairs = topology.in_features * topology.out_features
    return min(pairs, topology.nnz - gauge_neurons(topology))
