"""Fake training runners for sweep tests: instant, deterministic summaries from the config.

Set ``NF_FAKE_LOG`` to a file and every finished run appends its folder name (the point key)
to it, so tests can check that no point ran twice. ``NF_FAKE_SLEEP`` sets the seconds
:func:`sleeping_run` sleeps.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from neurofabric.experiments.config import ExperimentConfig, config_hash


def _densities(config: ExperimentConfig) -> list[float]:
    model = config.model
    sizes = model.sizes
    junctions = len(sizes) - 1

    def per_junction(value):
        return list(value) if isinstance(value, tuple) else [value] * junctions

    patterns = per_junction(model.pattern)
    fan_out = per_junction(model.fan_out)
    density = per_junction(model.density)
    out = []
    for i in range(junctions):
        if patterns[i] == "dense":
            out.append(1.0)
        elif fan_out[i] is not None:
            if (sizes[i] * fan_out[i]) % sizes[i + 1]:
                raise ValueError(
                    f"fan_out * in_features = {sizes[i] * fan_out[i]} is not divisible by "
                    f"out_features = {sizes[i + 1]}"
                )
            out.append(fan_out[i] / sizes[i + 1])
        else:
            out.append(1.0 if density[i] is None else density[i])
    return out


def fake_run(config: ExperimentConfig, out_dir, *, resume: bool = True, progress: bool = False):
    out_dir = Path(out_dir)
    sizes = list(config.model.sizes)
    densities = _densities(config)
    pairs = [p * n for p, n in zip(sizes[:-1], sizes[1:], strict=True)]
    edges = sum(d * pn for d, pn in zip(densities, pairs, strict=True))
    overall = edges / sum(pairs)
    pattern = config.model.pattern
    patterns = list(pattern) if isinstance(pattern, tuple) else [pattern] * len(pairs)
    # Later junctions denser → better, more density → better, a little noise per seed.
    accuracy = 0.5 + 0.3 * overall**0.25 + 0.05 * densities[-1] + 0.002 * config.train.seed
    summary = {
        "test_accuracy": accuracy,
        "test_loss": 1 - accuracy,
        "val_accuracy": accuracy - 0.01,
        "best_epoch": config.train.epochs - 1,
        "parameters": int(round(edges)) + sum(sizes[1:]),
        "dense_parameters": sum(pairs) + sum(sizes[1:]),
        "flops_per_sample": 2 * int(round(edges)),
        "overall_density": overall,
        "junction_densities": densities,
        "wall_time_s": 0.01,
        "samples_per_s": 1000.0,
        "kl_to_reference": None,
        "layer_sizes": sizes,
        "patterns": patterns,
        "epochs": config.train.epochs,
        "config_hash": config_hash(config),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary))
    log = os.environ.get("NF_FAKE_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(out_dir.name + "\n")
    return summary


def failing_run(config: ExperimentConfig, out_dir, *, resume: bool = True, progress: bool = False):
    """Like :func:`fake_run`, but every ``random``-pattern run raises."""
    if config.model.pattern == "random":
        raise RuntimeError("simulated crash in a random-pattern run\nsecond line")
    return fake_run(config, out_dir, resume=resume, progress=progress)


def sleeping_run(config: ExperimentConfig, out_dir, *, resume: bool = True, progress: bool = False):
    """Like :func:`fake_run`, after sleeping ``NF_FAKE_SLEEP`` seconds (default 0.3)."""
    time.sleep(float(os.environ.get("NF_FAKE_SLEEP", "0.3")))
    return fake_run(config, out_dir, resume=resume, progress=progress)
