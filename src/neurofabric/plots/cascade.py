"""Pictures of cascades: neurons in columns joined by their edges, and the path-count heatmap."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from neurofabric.topology.paths import path_counts
from neurofabric.topology.topology import Topology

#: Drawing individual edges is only readable for small layers.
MAX_DRAWN_NEURONS = 64


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=size, layout="constrained").add_subplot()


def plot_cascade(topology: Topology, *, ax: Axes | None = None) -> Axes:
    """Draw layers as columns of neurons (inputs left) and every edge as a line.

    Trainable edges are dark lines; fixed identity skips are dashed orange lines.

    Raises:
        ValueError: If a layer has more than :data:`MAX_DRAWN_NEURONS` neurons.
    """
    largest = max(topology.layer_sizes)
    if largest > MAX_DRAWN_NEURONS:
        raise ValueError(
            f"drawing edges needs layers of at most {MAX_DRAWN_NEURONS} neurons, the largest "
            f"has {largest}; draw the path-count heatmap instead"
        )
    ax = _axes(ax, (2.2 * topology.num_layers + 1, max(3.0, 0.16 * largest + 1)))

    def y(layer: int, index: np.ndarray) -> np.ndarray:
        size = topology.layer_sizes[layer]
        return (largest - 1) / 2 - (index - (size - 1) / 2) * (largest - 1) / max(size - 1, 1)

    segments = []
    for (source, target), junction in topology.junctions.items():
        y0, y1 = y(source, junction.src), y(target, junction.dst)
        segments += [((source, a), (target, b)) for a, b in zip(y0, y1, strict=True)]
    ax.add_collection(LineCollection(segments, colors="#1f3b73", linewidths=0.5, alpha=0.6))
    skips = []
    for source, target in topology.identity_skips:
        shared = np.arange(min(topology.layer_sizes[source], topology.layer_sizes[target]))
        skips += [
            ((source, a), (target, b))
            for a, b in zip(y(source, shared), y(target, shared), strict=True)
        ]
    if skips:
        ax.add_collection(
            LineCollection(skips, colors="#e07b00", linewidths=0.8, linestyles="dashed")
        )
    for layer, size in enumerate(topology.layer_sizes):
        ax.scatter(np.full(size, layer), y(layer, np.arange(size)), s=12, color="black", zorder=3)
    ax.set_xticks(range(topology.num_layers))
    ax.set_xticklabels([f"layer {i}\n{n}" for i, n in enumerate(topology.layer_sizes)])
    ax.set_yticks([])
    ax.set_xlim(-0.3, topology.num_layers - 0.7)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{topology.nnz} edges, depth {topology.depth}")
    return ax


def plot_path_counts(topology: Topology, *, ax: Axes | None = None) -> Axes:
    """Draw the input-to-output path-count matrix as a heatmap (outputs as rows)."""
    counts = path_counts(topology).astype(float)
    ax = _axes(ax, (6, 5))
    image = ax.imshow(counts, cmap="magma", interpolation="nearest", aspect="auto")
    ax.figure.colorbar(image, ax=ax, label="paths")
    ax.set_xlabel(f"input neuron ({topology.in_features})")
    ax.set_ylabel(f"output neuron ({topology.out_features})")
    ax.set_title(f"paths per pair: min {counts.min():g}, max {counts.max():g}")
    return ax


def plot_cascade_overview(topology: Topology) -> Figure:
    """The cascade drawing (when small enough) beside its path-count heatmap."""
    drawable = max(topology.layer_sizes) <= MAX_DRAWN_NEURONS
    figure = Figure(figsize=(13 if drawable else 6.5, 5), layout="constrained")
    if drawable:
        plot_cascade(topology, ax=figure.add_subplot(1, 2, 1))
        plot_path_counts(topology, ax=figure.add_subplot(1, 2, 2))
    else:
        plot_path_counts(topology, ax=figure.add_subplot())
    return figure
