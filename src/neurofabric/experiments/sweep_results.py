"""The results of a sweep: one row per point from the study's trials, ``results.csv``, plots."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from neurofabric.experiments.config import ExperimentConfig, config_hash
from neurofabric.experiments.sweep_config import Sweep, SweepPoint
from neurofabric.topology.io import atomic_write

__all__ = ["SUMMARY_KEYS", "collect_results", "count_states", "trials_by_key", "write_results"]

#: Summary entries copied into the trial's user attrs and the results table.
SUMMARY_KEYS = (
    "test_accuracy",
    "test_loss",
    "val_accuracy",
    "best_epoch",
    "parameters",
    "dense_parameters",
    "flops_per_sample",
    "overall_density",
    "junction_densities",
    "kl_to_reference",
    "wall_time_s",
    "samples_per_s",
    "layer_sizes",
    "patterns",
    "epochs",
    "config_hash",
)
_DIED = "the worker running it died (process killed or heartbeat lost)"


def is_current(trial: FrozenTrial, point: SweepPoint) -> bool:
    """Whether ``trial`` is a finished run of ``point`` as the sweep now defines it.

    A COMPLETE trial whose recorded config hash or epoch count differs from the point's config
    (the base config was edited after it ran) is stale: the point runs again, and its run
    folder then resumes (more epochs) or refuses with the keys that differ.
    """
    if trial.state != TrialState.COMPLETE:
        return False
    attrs = trial.user_attrs
    if "epochs" in attrs and attrs["epochs"] != point.config.train.epochs:
        return False
    return "config_hash" not in attrs or attrs["config_hash"] == config_hash(point.config)


def trials_by_key(trials: list[FrozenTrial]) -> dict[str, list[FrozenTrial]]:
    out: dict[str, list[FrozenTrial]] = {}
    for trial in trials:
        key = trial.user_attrs.get("run")
        if key is not None:
            out.setdefault(key, []).append(trial)
    return out


def _config_value(config: ExperimentConfig, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return list(value) if isinstance(value, tuple) else value


def collect_results(sweep: Sweep, trials: list[FrozenTrial]) -> list[dict[str, Any]]:
    """One row per point: key, varied config values, seed, state, attempts, summary, error.

    ``state`` is COMPLETE, RUNNING, FAIL or PENDING; the summary numbers come from the
    completed trial (or are absent), ``error`` from the latest failed attempt.
    """
    by_key = trials_by_key(trials)
    rows = []
    for point in sweep.points:
        mine = sorted(by_key.get(point.key, []), key=lambda t: t.number)
        tried = [t for t in mine if t.state in (TrialState.COMPLETE, TrialState.FAIL)]
        running = [t for t in mine if t.state == TrialState.RUNNING]
        complete = [t for t in tried if is_current(t, point)]
        failed = [t for t in tried if t.state == TrialState.FAIL]
        row: dict[str, Any] = {"key": point.key, "group": point.group}
        row.update({k: _config_value(point.config, k) for k in sweep.varied_keys})
        row["seed"] = point.seed
        row["state"] = (
            "COMPLETE" if complete else "RUNNING" if running else "FAIL" if failed else "PENDING"
        )
        row["attempts"] = len(tried) + len(running)
        best = complete[-1] if complete else None
        row["trial"] = best.number if best else None
        row.update({k: best.user_attrs.get(k) if best else None for k in SUMMARY_KEYS})
        row["error"] = None
        if not complete and failed:
            row["error"] = failed[-1].user_attrs.get("error", _DIED)
        rows.append(row)
    return rows


def count_states(rows: list[dict[str, Any]]) -> dict[str, int]:
    states = [row["state"] for row in rows]
    return {
        "points": len(rows),
        "complete": states.count("COMPLETE"),
        "failed": states.count("FAIL"),
        "running": states.count("RUNNING"),
        "pending": states.count("PENDING"),
    }


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        sep = ";" if key in ("junction_densities", "patterns") else "-"
        return sep.join(_cell(key, v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else str(value)


def write_results(
    sweep: Sweep, rows: list[dict[str, Any]], out_dir: str | os.PathLike
) -> tuple[Path, list[Path]]:
    """Write ``results.csv`` and the plots the data supports; returns their paths."""
    from neurofabric.plots.sweep import write_sweep_plots

    out_dir = Path(out_dir)
    buffer = io.StringIO()
    columns = list(rows[0]) if rows else ["key", "state"]
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(c, row.get(c)) for c in columns])
    text = buffer.getvalue()
    csv_path = atomic_write(
        out_dir / "results.csv", lambda f: f.write(text.encode()), overwrite=True
    )
    return csv_path, write_sweep_plots(rows, out_dir, metric=sweep.metric)
