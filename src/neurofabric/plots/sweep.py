"""Pictures of a finished sweep: accuracy against density, density allocation, sparse vs dense.

Every function takes the rows of :func:`neurofabric.experiments.sweep.collect_results` (one dict
per point), averages the completed runs over seeds (mean ± standard deviation as error bars) and
returns a ``matplotlib.figure.Figure``, or ``None`` when the rows cannot support the picture.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from neurofabric.plots.junction import save_figure

__all__ = [
    "allocation_label",
    "plot_accuracy_vs_density",
    "plot_density_allocation",
    "plot_sparse_vs_dense",
    "write_sweep_plots",
]

#: Overall densities this close to 1 count as dense.
_DENSE = 1 - 1e-9


@dataclass(frozen=True)
class _Group:
    """The completed runs of one point that differ only by seed."""

    pattern: str
    density: float
    junction_densities: tuple[float, ...]
    parameters: float | None
    layer_sizes: str
    mean: float
    std: float

    @property
    def dense(self) -> bool:
        return self.density >= _DENSE or self.pattern == "dense"


def _pattern_label(patterns: Sequence[str] | None) -> str:
    if not patterns:
        return "?"
    return patterns[0] if len(set(patterns)) == 1 else "/".join(patterns)


def _groups(rows: Iterable[Mapping[str, Any]], metric: str) -> list[_Group]:
    by_group: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("state") == "COMPLETE" and row.get(metric) is not None:
            if row.get("overall_density") is not None:
                by_group.setdefault(row.get("group", row["key"]), []).append(row)
    groups = []
    for members in by_group.values():
        values = np.array([m[metric] for m in members], dtype=float)
        first = members[0]
        junctions = [m.get("junction_densities") or [] for m in members]
        sizes = first.get("layer_sizes")
        groups.append(
            _Group(
                pattern=_pattern_label(first.get("patterns")),
                density=float(np.mean([m["overall_density"] for m in members])),
                junction_densities=tuple(np.mean(junctions, axis=0).tolist())
                if all(len(j) == len(junctions[0]) for j in junctions)
                else (),
                parameters=first.get("parameters"),
                layer_sizes="-".join(map(str, sizes)) if sizes else "",
                mean=float(values.mean()),
                std=float(values.std()),
            )
        )
    return groups


def _metric_label(metric: str) -> str:
    return metric.replace("_", " ")


def plot_accuracy_vs_density(rows: Iterable[Mapping[str, Any]], metric: str) -> Figure | None:
    """``metric`` against overall density (log), one line per connection pattern.

    Dense runs are horizontal reference lines with a ± std band. ``None`` without sparse runs.
    """
    groups = _groups(rows, metric)
    sparse = [g for g in groups if not g.dense]
    if not sparse:
        return None
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    ax = figure.add_subplot()
    for pattern, members in itertools.groupby(
        sorted(sparse, key=lambda g: (g.pattern, g.density)), key=lambda g: g.pattern
    ):
        members = list(members)
        ax.errorbar(
            [g.density for g in members],
            [g.mean for g in members],
            yerr=[g.std for g in members],
            marker="o",
            capsize=3,
            label=pattern,
        )
    for index, group in enumerate(g for g in groups if g.dense):
        colour = f"C{(index + 7) % 10}"
        label = f"dense {group.layer_sizes}".strip()
        ax.axhline(group.mean, color=colour, linestyle="--", label=label)
        if group.std > 0:
            ax.axhspan(group.mean - group.std, group.mean + group.std, color=colour, alpha=0.15)
    _density_axis(ax)
    ax.set_ylabel(_metric_label(metric))
    ax.set_title(f"{_metric_label(metric)} vs density (mean ± std over seeds)")
    ax.legend(fontsize="small")
    return figure


def allocation_label(junction_densities: Sequence[float], *, tolerance: float = 0.05) -> str:
    """``uniform``, ``later denser``, ``earlier denser`` or ``mixed``.

    Example:
        >>> allocation_label([0.1, 0.4]), allocation_label([0.2, 0.2]), allocation_label([0.5, 0.1])
        ('later denser', 'uniform', 'earlier denser')
    """
    d = list(junction_densities)
    if not d or max(d) <= min(d) * (1 + tolerance):
        return "uniform"
    pairs = list(itertools.pairwise(d))
    if all(b >= a * (1 - tolerance) for a, b in pairs):
        return "later denser"
    if all(b <= a * (1 + tolerance) for a, b in pairs):
        return "earlier denser"
    return "mixed"


def plot_density_allocation(rows: Iterable[Mapping[str, Any]], metric: str) -> Figure | None:
    """``metric`` against overall density, one curve per density of the last junction (the
    slides' "individual junction densities" figure): along a curve only the earlier junctions
    change, and at equal overall density a curve above another says that giving the last
    junction more of the edges wins (the papers' claim: later junctions need more density).

    ``None`` unless at least two last-junction densities each have runs at two or more
    overall densities.
    """
    sparse = [g for g in _groups(rows, metric) if not g.dense and len(g.junction_densities) > 1]
    several_patterns = len({g.pattern for g in sparse}) > 1
    curves: dict[tuple[str, float], list[_Group]] = {}
    for group in sparse:
        key = (group.pattern if several_patterns else "", round(group.junction_densities[-1], 4))
        curves.setdefault(key, []).append(group)
    curves = {k: v for k, v in curves.items() if len({round(g.density, 6) for g in v}) > 1}
    if len({last for _, last in curves}) < 2:
        return None
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    ax = figure.add_subplot()
    for (pattern, last), members in sorted(curves.items()):
        members = sorted(members, key=lambda g: g.density)
        label = f"ρ_last = {last:.3g}" + (f", {pattern}" if pattern else "")
        ax.errorbar(
            [g.density for g in members],
            [g.mean for g in members],
            yerr=[g.std for g in members],
            marker="o",
            capsize=3,
            label=label,
        )
    _density_axis(ax)
    ax.set_ylabel(_metric_label(metric))
    ax.set_title("each curve holds the last junction's density fixed")
    ax.legend(fontsize="small")
    return figure


def _density_axis(ax) -> None:
    """Log-scaled overall density in percent, major ticks only (minor labels collide)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{100 * value:g}%"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("overall density ρ_net")


def plot_sparse_vs_dense(rows: Iterable[Mapping[str, Any]], metric: str) -> Figure | None:
    """Large sparse vs small dense: ``metric`` against trainable parameters (log), sparse runs
    (one series per pattern) and dense runs, each point labelled with its layer sizes.

    ``None`` unless there are both sparse and dense runs with parameter counts.
    """
    groups = [g for g in _groups(rows, metric) if g.parameters]
    dense = [g for g in groups if g.dense]
    sparse = [g for g in groups if not g.dense]
    if not dense or not sparse:
        return None
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    ax = figure.add_subplot()
    series = [("dense", dense)] + [
        (f"sparse {pattern}", list(members))
        for pattern, members in itertools.groupby(
            sorted(sparse, key=lambda g: g.pattern), key=lambda g: g.pattern
        )
    ]
    for name, members in series:
        members = sorted(members, key=lambda g: g.parameters)
        ax.errorbar(
            [g.parameters for g in members],
            [g.mean for g in members],
            yerr=[g.std for g in members],
            marker="s" if name == "dense" else "o",
            linestyle="--" if name == "dense" else "-",
            capsize=3,
            label=name,
        )
        if len(groups) <= 16:
            for group in members:
                ax.annotate(
                    group.layer_sizes,
                    (group.parameters, group.mean),
                    textcoords="offset points",
                    xytext=(4, -10),
                    fontsize=7,
                )
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel(_metric_label(metric))
    ax.set_title("large sparse vs small dense (mean ± std over seeds)")
    ax.legend(fontsize="small")
    return figure


PLOTS = {
    "accuracy_vs_density.png": plot_accuracy_vs_density,
    "density_allocation.png": plot_density_allocation,
    "sparse_vs_dense.png": plot_sparse_vs_dense,
}


def write_sweep_plots(
    rows: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike, *, metric: str
) -> list[Path]:
    """Save the plots the rows support into ``out_dir`` (overwriting) and remove those of an
    earlier write that the rows no longer support; returns the paths written."""
    written = []
    for name, plot in PLOTS.items():
        figure = plot(rows, metric)
        if figure is not None:
            written.append(save_figure(figure, Path(out_dir) / name, overwrite=True))
        else:
            (Path(out_dir) / name).unlink(missing_ok=True)
    return written
