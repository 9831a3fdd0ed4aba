"""Markdown tables of the reproduction studies (docs/reproduction.md) from their sweep folders.

    python benchmarks/reproduction_tables.py runs/mnist-patterns runs/morse-baseline \
        runs/mnist-allocation runs/mnist-large-sparse

Reads each folder's ``sweep.json`` and Optuna storage (``FOLDER=SWEEP.toml`` names the sweep
file of a sweep that is still running) and prints test accuracy as mean ± std over seeds, with
the slides' numbers beside ours for the MNIST table.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import optuna

from neurofabric.experiments.sweep_config import load_sweep
from neurofabric.experiments.sweep_results import collect_results

# Slides, "Performance Comparison", MNIST N_net = (800, 100, 100, 100, 10); FC: 98 ± 0.1.
SLIDES_MNIST = {
    "80-80-80-10": (80.2, "97.9 ± 0.2", "97.9 ± 0.2", "97.8 ± 0.2"),
    "60-60-60-10": (60.4, "97.6 ± 0.1", "97.8 ± 0.1", "97.6 ± 0.2"),
    "40-40-40-10": (40.6, "97.5 ± 0.1", "97.7", "97.6 ± 0.1"),
    "20-20-20-10": (20.8, "97.2 ± 0.2", "97.2 ± 0.1", "97.1 ± 0.1"),
    "10-10-10-10": (10.9, "96.7 ± 0.1", "96.8 ± 0.2", "96.7 ± 0.2"),
    "5-10-10-10": (6.9, "96.3 ± 0.1", "96.3 ± 0.1", "96.2 ± 0.1"),
    "2-5-5-10": (3.6, "95 ± 0.2", "95.1 ± 0.1", "95 ± 0.3"),
    "1-2-2-10": (2.2, "93.3 ± 0.3", "93.1 ± 0.5", "92 ± 0.3"),
}
PATTERNS = ("clash-free", "structured", "random")


def rows_of(folder: Path, sweep_file: str | None) -> list[dict]:
    if sweep_file is None:
        info = json.loads((folder / "sweep.json").read_text())
        sweep_file = info["path"]
    sweep = load_sweep(sweep_file)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=sweep.name, storage=f"sqlite:///{folder / 'study.db'}")
    return collect_results(sweep, study.get_trials(deepcopy=False))


def stat(values: list[float]) -> str:
    values = [100 * v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def fan_out_key(row: dict) -> str:
    value = row.get("model.fan_out")
    return "-".join(map(str, value)) if isinstance(value, list) else str(value)


def by_pattern(rows: list[dict]) -> tuple[dict, dict, list[float]]:
    """Accuracies by (fan-out row, pattern), each row's overall density, and the dense runs'."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    densities = {}
    dense = []
    for row in rows:
        if row["state"] != "COMPLETE":
            continue
        if row.get("model.pattern") == "dense":
            dense.append(row["test_accuracy"])
            continue
        key = fan_out_key(row)
        groups[key, row["model.pattern"]].append(row["test_accuracy"])
        densities[key] = row["overall_density"]
    return groups, densities, dense


def mnist_table(rows: list[dict]) -> str:
    groups, densities, dense = by_pattern(rows)
    lines = [
        "| d_out | ρ_net % | clash-free (ours / slides) | structured (ours / slides) | "
        "random (ours / slides) |",
        "|---|---|---|---|---|",
    ]
    for key, (rho, *slides) in SLIDES_MNIST.items():
        ours = [stat(groups.get((key, p), [])) for p in PATTERNS]
        measured = f"{100 * densities[key]:.1f}" if key in densities else f"({rho})"
        cells = [f"{o} / {s}" for o, s in zip(ours, slides, strict=True)]
        lines.append(f"| ({key.replace('-', ', ')}) | {measured} | " + " | ".join(cells) + " |")
    lines.append(f"| dense (FC) | 100 | {stat(dense)} / 98 ± 0.1 (all patterns) | | |")
    return "\n".join(lines)


def pattern_table(rows: list[dict]) -> str:
    groups, densities, dense = by_pattern(rows)
    lines = ["| d_out | ρ_net % | clash-free | structured | random |", "|---|---|---|---|---|"]
    for key in sorted(densities, key=lambda k: -densities[k]):
        cells = [stat(groups.get((key, p), [])) for p in PATTERNS]
        lines.append(
            f"| ({key.replace('-', ', ')}) | {100 * densities[key]:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    lines.append(f"| dense | 100 | {stat(dense)} | | |")
    return "\n".join(lines)


def allocation_table(rows: list[dict]) -> str:
    cells: dict[tuple[int, int], list[float]] = defaultdict(list)
    for row in rows:
        if row["state"] == "COMPLETE":
            first, second = row["model.fan_out"]
            cells[first, second].append(row["test_accuracy"])
    firsts = sorted({a for a, _ in cells})
    seconds = sorted({b for _, b in cells})
    header = "| ρ_1 (d_out 1) | " + " | ".join(f"ρ_2 = {10 * b}%" for b in seconds) + " |"
    lines = [header, "|---|" + "---|" * len(seconds)]
    for a in firsts:
        row = [stat(cells.get((a, b), [])) for b in seconds]
        lines.append(f"| {a}% ({a}) | " + " | ".join(row) + " |")
    return "\n".join(lines)


def size_table(rows: list[dict]) -> str:
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for row in rows:
        if row["state"] == "COMPLETE":
            kind = "dense" if row.get("model.pattern") == "dense" else "sparse"
            groups[kind, row["parameters"]].append(row)
    lines = ["| net | trainable parameters | test accuracy % |", "|---|---|---|"]
    for (kind, params), group in sorted(groups.items(), key=lambda kv: kv[0][1]):
        sizes = group[0]["layer_sizes"]
        label = f"{kind} {tuple(sizes)}"
        if kind == "sparse":
            label += f", d_out = {fan_out_key(group[0]).replace('-', ', ')}"
        lines.append(f"| {label} | {params:,} | {stat([r['test_accuracy'] for r in group])} |")
    return "\n".join(lines)


def main(folders: list[str]) -> None:
    for argument in folders:
        folder, _, sweep_file = argument.partition("=")
        folder = Path(folder)
        rows = rows_of(folder, sweep_file or None)
        done = sum(r["state"] == "COMPLETE" for r in rows)
        name = folder.name
        print(f"\n### {name} ({done} of {len(rows)} runs complete)\n")
        if "allocation" in name:
            print(allocation_table(rows))
        elif "large-sparse" in name:
            print(size_table(rows))
        elif "mnist" in name:
            print(mnist_table(rows))
        else:
            print(pattern_table(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
