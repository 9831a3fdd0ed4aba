"""Counting metrics of junctions and topologies: density and degree statistics."""

from __future__ import annotations

import numpy as np

from neurofabric.topology.junction import Junction
from neurofabric.topology.topology import Topology


def density(pattern: Junction | Topology) -> float:
    """Fraction of possible edges present: one junction's, or the overall ``ρ_net`` (SPEC §1).

    Example:
        >>> from neurofabric.topology import Junction
        >>> density(Junction.from_mask([[1, 0], [1, 1]]))
        0.75
    """
    return pattern.density if isinstance(pattern, Junction) else pattern.overall_density


def _stats(values: np.ndarray) -> dict[str, float | int]:
    return {
        "min": int(values.min()),
        "max": int(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std()),
    }


def degree_stats(junction: Junction) -> dict[str, object]:
    """Return fan-in and fan-out statistics (min, max, mean, std) and isolated-neuron counts.

    Example:
        >>> from neurofabric.topology import Junction
        >>> s = degree_stats(Junction.from_mask([[1, 0, 0], [1, 1, 0]]))
        >>> s["fan_in"]["max"], s["isolated_inputs"], s["is_regular"]
        (2, 1, False)
    """
    return {
        "fan_in": _stats(junction.fan_in),
        "fan_out": _stats(junction.fan_out),
        "isolated_inputs": int(np.count_nonzero(junction.fan_out == 0)),
        "isolated_outputs": int(np.count_nonzero(junction.fan_in == 0)),
        "is_regular": junction.is_regular,
    }


def junction_densities(topology: Topology) -> dict[tuple[int, int], float]:
    """Return the density of every junction, keyed ``(source, target)``."""
    return {key: j.density for key, j in topology.junctions.items()}
