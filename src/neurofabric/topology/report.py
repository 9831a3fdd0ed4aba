"""One JSON-ready description of a topology: what ``neurofabric topology show`` reports."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurofabric.topology.capacity import capacity_bound, gauge_neurons
from neurofabric.topology.clash import clash_report
from neurofabric.topology.metrics import degree_stats
from neurofabric.topology.paths import path_count_stats
from neurofabric.topology.scatter import scatter
from neurofabric.topology.topology import Topology

#: Whole-net scatter needs the full path-count matrix; beyond this many (input, output) pairs
#: ``describe`` leaves it out unless windows are given explicitly.
SCATTER_PAIR_LIMIT = 1 << 22


def describe(
    topology: Topology,
    *,
    windows: Sequence[np.ndarray] | None = None,
    in_matter: int | None = None,
    out_matter: int | None = None,
) -> dict[str, object]:
    """Return sizes, edge counts, densities, degrees, clash checks, paths and scatter as JSON.

    Keys: ``kind``, ``layer_sizes``, ``parameters`` (trainable edges), ``dense_parameters``
    (the dense MLP of the same sizes, or for a cascade the dense layer it replaces),
    ``overall_density``, ``depth``, ``has_skips``, ``identity_skips``, ``junctions`` (one
    entry each: ``source``, ``target``, ``in_features``, ``out_features``, ``nnz``, ``density``,
    ``fan_in`` / ``fan_out`` as min/max/mean/std, isolated neurons, ``is_regular``, ``clash``
    when the junction carries a hardware schedule, ``blocks`` when it is block structured),
    ``path_diversity`` (paths per input-output pair: min/mean/max), ``fully_connected``,
    ``reachable_fraction``, ``capacity_bound`` and ``gauge_neurons`` (SPEC §6.1), and
    ``scatter`` (``vector``, ``labels``, ``value`` = the network scalar, the minimum; ``None``
    for nets with more than :data:`SCATTER_PAIR_LIMIT` input-output pairs unless ``windows``
    are given).
    """
    junctions = []
    for (source, target), junction in topology.junctions.items():
        entry: dict[str, object] = {
            "source": source,
            "target": target,
            "in_features": junction.in_features,
            "out_features": junction.out_features,
            "nnz": junction.nnz,
            "density": junction.density,
            **degree_stats(junction),
        }
        if junction.parallelism is not None:
            entry["parallelism"] = junction.parallelism
            entry["clash"] = clash_report(junction).to_dict()
        if junction.blocks is not None:
            entry["blocks"] = junction.blocks.to_dict()
        junctions.append(entry)
    paths = path_count_stats(topology)
    pairs = topology.in_features * topology.out_features
    report = None
    if windows is not None or pairs <= SCATTER_PAIR_LIMIT:
        report = scatter(topology, windows, in_matter=in_matter, out_matter=out_matter).to_dict()
    return {
        "kind": topology.kind,
        "layer_sizes": list(topology.layer_sizes),
        "parameters": topology.nnz,
        "dense_parameters": topology.dense_parameters,
        "overall_density": topology.overall_density,
        "depth": topology.depth,
        "has_skips": topology.has_skips,
        "identity_skips": sorted([list(key) for key in topology.identity_skips]),
        "junctions": junctions,
        "path_diversity": {"min": paths["min"], "mean": paths["mean"], "max": paths["max"]},
        "fully_connected": paths["fully_connected"],
        "reachable_fraction": paths["reachable_fraction"],
        "capacity_bound": capacity_bound(topology),
        "gauge_neurons": gauge_neurons(topology),
        "scatter": report,
        "metadata": dict(topology.metadata),
    }
