"""Connection patterns as immutable numpy data (this package never imports torch).

A :class:`Junction` is the fixed pattern between two layers; a :class:`Topology` is layer sizes
plus junctions (skips allowed). Generators make them, metrics measure them (degrees, exact path
counts, clash-freedom, scatter), :mod:`~neurofabric.topology.io` saves and loads them.
"""

from neurofabric.topology.blocks import BlockStructure, GridPermutation
from neurofabric.topology.capacity import capacity_bound, gauge_neurons
from neurofabric.topology.clash import ClashReport, clash_report
from neurofabric.topology.generators._skips import SKIPS
from neurofabric.topology.generators.block_shuffle import block_shuffle_topology, clos_topology
from neurofabric.topology.generators.butterfly import benes_topology, butterfly_topology
from neurofabric.topology.generators.clash_free import (
    clash_free_junction,
    count_clash_free_masks,
    count_clash_free_patterns,
)
from neurofabric.topology.generators.dense import dense_junction
from neurofabric.topology.generators.mask import junction_from_mask
from neurofabric.topology.generators.mlp import PATTERNS, get_pattern, mlp_topology
from neurofabric.topology.generators.monarch import monarch_topology
from neurofabric.topology.generators.random_cascade import random_cascade_topology
from neurofabric.topology.generators.regular import regular_junction
from neurofabric.topology.generators.unstructured import random_junction
from neurofabric.topology.generators.windowed import windowed_junction
from neurofabric.topology.io import load_junction, load_topology, save_junction, save_topology
from neurofabric.topology.junction import Junction
from neurofabric.topology.metrics import degree_stats, density, junction_densities
from neurofabric.topology.paths import (
    is_fully_connected,
    path_count_stats,
    path_counts,
    reachability,
    reachable_fraction,
)
from neurofabric.topology.report import describe
from neurofabric.topology.scatter import ScatterReport, junction_scatter, scatter, simple_scatter
from neurofabric.topology.topology import Topology
from neurofabric.topology.windows import default_windows, window1d, window2d, window3d

__all__ = [
    "PATTERNS",
    "SKIPS",
    "BlockStructure",
    "ClashReport",
    "GridPermutation",
    "Junction",
    "ScatterReport",
    "Topology",
    "benes_topology",
    "block_shuffle_topology",
    "butterfly_topology",
    "capacity_bound",
    "clash_free_junction",
    "clash_report",
    "clos_topology",
    "count_clash_free_masks",
    "count_clash_free_patterns",
    "default_windows",
    "degree_stats",
    "dense_junction",
    "density",
    "describe",
    "gauge_neurons",
    "get_pattern",
    "is_fully_connected",
    "junction_densities",
    "junction_from_mask",
    "junction_scatter",
    "load_junction",
    "load_topology",
    "mlp_topology",
    "monarch_topology",
    "path_count_stats",
    "path_counts",
    "random_cascade_topology",
    "random_junction",
    "reachability",
    "reachable_fraction",
    "regular_junction",
    "save_junction",
    "save_topology",
    "scatter",
    "simple_scatter",
    "window1d",
    "window2d",
    "window3d",
    "windowed_junction",
]
