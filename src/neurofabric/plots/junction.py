"""Biadjacency pictures of junctions and bank-access schedules of clash-free junctions.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot), so they work on any
machine without a display and leave no global state behind.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from neurofabric.topology.clash import clash_report
from neurofabric.topology.io import atomic_write
from neurofabric.topology.junction import Junction
from neurofabric.topology.topology import Topology

_EDGE_COLOURS = ListedColormap(["#ffffff", "#1f3b73"])


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=size, layout="constrained").add_subplot()


def plot_junction(junction: Junction, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw the ``(out, in)`` biadjacency matrix: a dark cell for every edge.

    Rows are right (output) neurons, columns left (input) neurons, as in the weight matrix.

    Returns:
        The axes drawn on (a new figure's if ``ax`` is None; reach it with ``ax.figure``).
    """
    ax = _axes(ax, (6, 6 * min(2.0, max(0.25, junction.out_features / junction.in_features))))
    ax.imshow(
        junction.to_mask(),
        cmap=_EDGE_COLOURS,
        vmin=0,
        vmax=1,
        interpolation="nearest",
        aspect="auto",
    )
    ax.set_xlabel(f"input neuron (left layer, {junction.in_features})")
    ax.set_ylabel(f"output neuron (right layer, {junction.out_features})")
    ax.set_title(
        title
        or f"{junction.in_features} → {junction.out_features}, density "
        f"{junction.density:.3g}, nnz {junction.nnz}"
    )
    return ax


def plot_schedule(
    junction: Junction,
    *,
    parallelism: int | None = None,
    max_cycles: int = 48,
    ax: Axes | None = None,
) -> Axes:
    """Draw which memory address every bank reads in each cycle of the hardware schedule.

    Columns are cycles, rows are the ``parallelism`` banks; a cell holds the address
    ``left // parallelism`` read from that bank (blank: bank idle). A clash-free schedule reads
    every bank once per cycle; clashing cycles are outlined in red.

    Args:
        junction: A junction, normally from ``clash_free_junction`` (which carries its
            schedule); otherwise edges are taken in canonical order.
        parallelism: Banks; defaults to the junction's own.
        max_cycles: Draw at most this many cycles from the start.
        ax: Axes to draw on.
    """
    report = clash_report(junction, parallelism)
    z = report.parallelism
    src, _ = junction.scheduled_edges()
    cycles = min(report.num_cycles, max_cycles)
    grid = np.full((z, cycles), np.nan)
    slots = np.arange(min(src.size, cycles * z))
    grid[src[slots] % z, slots // z] = src[slots] // z
    ax = _axes(ax, (min(14.0, 2 + 0.35 * cycles), min(8.0, 1.5 + 0.35 * z)))
    image = ax.imshow(grid, cmap="viridis", interpolation="nearest", aspect="auto")
    ax.figure.colorbar(image, ax=ax, label="address in bank")
    if z * cycles <= 400:
        # Small schedules are labelled with the left neuron read: address * z + bank.
        for bank, cycle in zip(*np.nonzero(~np.isnan(grid)), strict=True):
            left = int(grid[bank, cycle]) * z + bank
            ax.text(cycle, bank, str(left), ha="center", va="center", fontsize=7, color="w")
    for cycle in report.clashing_cycles:
        if cycle < cycles:
            ax.axvspan(cycle - 0.5, cycle + 0.5, fill=False, edgecolor="red", linewidth=2)
    verdict = (
        "clash-free" if report.is_clash_free else f"{len(report.clashing_cycles)} clashing cycles"
    )
    shown = "" if cycles == report.num_cycles else f", first {cycles} of {report.num_cycles} cycles"
    ax.set_title(f"bank-access schedule, parallelism {z}: {verdict}{shown}")
    ax.set_xlabel("cycle")
    ax.set_ylabel("memory bank")
    return ax


def plot_topology(topology: Topology) -> Figure:
    """Draw every junction's biadjacency matrix side by side."""
    count = len(topology.junctions)
    figure = Figure(figsize=(4.5 * count, 4.5), layout="constrained")
    for index, (key, junction) in enumerate(topology.junctions.items()):
        ax = figure.add_subplot(1, count, index + 1)
        plot_junction(
            junction, ax=ax, title=f"junction {key[0]}→{key[1]}: density {junction.density:.3g}"
        )
    return figure


def save_figure(figure: Figure, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``figure`` atomically; the format follows the suffix (``.png``, ``.pdf``, ``.svg``)."""
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower() or "png"
    buffer = io.BytesIO()
    figure.savefig(buffer, format=suffix, dpi=120)
    return atomic_write(path, lambda file: file.write(buffer.getvalue()), overwrite=overwrite)
