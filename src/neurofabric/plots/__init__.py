"""Pictures of connection patterns (matplotlib, no pyplot state, no display needed)."""

from neurofabric.plots.junction import (
    plot_junction,
    plot_schedule,
    plot_topology,
    save_figure,
)

__all__ = ["plot_junction", "plot_schedule", "plot_topology", "save_figure"]
