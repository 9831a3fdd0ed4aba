"""One JSON-ready description of a topology: what ``neurofabric topology show`` reports."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurofabric.topology.clash import clash_report
from neurofabric.topology.metrics import degree_stats
from neurofabric.topology.paths import path_counts
from neurofabric.topology.scatter import scatter
from neurofabric.topology.topology import Topology


def describe(
    topology: Topology,
    *,
    windows: Sequence[np.ndarray] | None = None,
    in_matter: int | None = None,
    out_matter: int | None = None,
) -> dict[str, object]:
    """Return sizes, edge counts, densities, degree statistics, clash checks, connectivity and
    scatter of ``topology`` as plain JSON-serialisable values.

    Keys: ``layer_sizes``, ``parameters`` (edges), ``dense_parameters``, ``overall_density``,
    ``junctions`` (one entry each: ``source``, ``target``, ``in_features``, ``out_features``,
    ``nnz``, ``density``, ``fan_in`` / ``fan_out`` as min/max/mean/std, isolated neurons,
    ``is_regular``, and ``clash`` when the junction carries a hardware schedule),
    ``connectivity`` (``fully_connected``, ``reachable_fraction``, path counts min/mean/max),
    ``scatter`` (``vector``, ``labels``, ``value`` = the network scalar, the minimum).
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
        junctions.append(entry)
    counts = path_counts(topology).astype(float)
    report = scatter(topology, windows, in_matter=in_matter, out_matter=out_matter)
    return {
        "layer_sizes": list(topology.layer_sizes),
        "parameters": topology.nnz,
        "dense_parameters": topology.dense_parameters,
        "overall_density": topology.overall_density,
        "has_skips": topology.has_skips,
        "junctions": junctions,
        "connectivity": {
            "fully_connected": bool((counts > 0).all()),
            "reachable_fraction": float((counts > 0).mean()),
            "path_counts": {
                "min": float(counts.min()),
                "mean": float(counts.mean()),
                "max": float(counts.max()),
            },
        },
        "scatter": report.to_dict(),
        "metadata": dict(topology.metadata),
    }
