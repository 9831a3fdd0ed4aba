"""Pictures of connection patterns (matplotlib, no pyplot state, no display needed)."""

from neurofabric.plots.cascade import plot_cascade, plot_cascade_overview, plot_path_counts
from neurofabric.plots.junction import (
    plot_junction,
    plot_schedule,
    plot_topology,
    save_figure,
)

__all__ = [
    "plot_cascade",
    "plot_cascade_overview",
    "plot_junction",
    "plot_path_counts",
    "plot_schedule",
    "plot_topology",
    "save_figure",
]
