"""Sweep files: a base experiment config, fixed overrides, a grid of axes, extra runs, seeds.

A sweep file is TOML::

    name = "mnist-patterns"          # study name; default: the file's stem
    base = "mnist_800.toml"          # experiment config, relative to the sweep file …
    seeds = [0, 1, 2]                # every point runs once per seed (sets train.seed)
    metric = "test_accuracy"         # the Optuna trial value
    direction = "maximize"           # or "minimize" (for test_loss, kl_to_reference, …)
    [base_config]                    # … or the base config inline (exactly one of the two)
    model.sizes = [800, 100, 10]
    [set]                            # dotted overrides applied to every point
    "train.epochs" = 20
    [[axes]]                         # the grid is the product of the axes
    "model.pattern" = ["clash-free", "structured", "random"]
    [[axes]]                         # keys inside one axes table vary together (zipped)
    "model.fan_out" = [[80, 80, 80, 10], [20, 20, 20, 10]]
    "model.parallelism" = [[200, 25, 25, 4], [200, 25, 25, 10]]
    [[runs]]                         # extra points outside the grid, e.g. the dense baseline
    "model.pattern" = "dense"

Every point's :class:`~neurofabric.experiments.config.ExperimentConfig` is built when the file
is loaded, so an unknown key or a wrongly typed value fails before any run starts. Each point
has a readable, filesystem-safe key built from its overrides
(``pattern=clash-free_fan_out=80-80-80-10_seed=0``); the same file always gives the same keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurofabric.experiments.config import ExperimentConfig, apply_overrides, read_toml

__all__ = [
    "METRICS",
    "SWEEP_KEYS",
    "Sweep",
    "SweepPoint",
    "load_sweep",
    "point_key",
    "sweep_from_dict",
]

#: Top-level keys of a sweep file.
SWEEP_KEYS = ("name", "base", "base_config", "seeds", "metric", "direction", "set", "axes", "runs")
#: Summary numbers a sweep can optimise, with the direction that is better.
METRICS = {
    "test_accuracy": "maximize",
    "val_accuracy": "maximize",
    "test_loss": "minimize",
    "kl_to_reference": "minimize",
    "parameters": "minimize",
    "flops_per_sample": "minimize",
    "overall_density": "minimize",
    "wall_time_s": "minimize",
    "samples_per_s": "maximize",
}
_SEED_KEY = "train.seed"
#: Keys longer than this are shortened to a prefix plus a hash.
MAX_KEY_LENGTH = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]+")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")


@dataclass(frozen=True)
class SweepPoint:
    """One training run of a sweep.

    Attributes:
        key: Stable, filesystem-safe name (also the run folder's name).
        group: ``key`` without the seed: the points that differ only by seed share it.
        overrides: Dotted-key overrides of this point (without ``set``), ``train.seed`` last.
        seed: ``train.seed`` of the run.
        config: The resolved experiment config.
    """

    key: str
    group: str
    overrides: Mapping[str, Any]
    seed: int
    config: ExperimentConfig


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file (see the module docstring).

    Attributes:
        name: Study name.
        base: The base experiment config as dotted keys (before ``set`` and the axes).
        base_path: The base config file, or ``None`` for an inline ``base_config``.
        seeds: Seeds every point runs with.
        metric: Summary key stored as the trial value.
        direction: ``maximize`` or ``minimize``.
        fixed: The ``[set]`` overrides, dotted keys.
        axes: One mapping per ``[[axes]]`` table: dotted key → values (zipped within a table).
        runs: The ``[[runs]]`` tables, dotted keys.
        points: Every run, grid points first (axes in file order), then the extra runs; seeds
            vary fastest.
        path: The sweep file, when loaded from one.
    """

    name: str
    base: Mapping[str, Any]
    base_path: Path | None
    seeds: tuple[int, ...]
    metric: str
    direction: str
    fixed: Mapping[str, Any]
    axes: tuple[Mapping[str, tuple[Any, ...]], ...]
    runs: tuple[Mapping[str, Any], ...]
    points: tuple[SweepPoint, ...]
    path: Path | None = None

    @property
    def varied_keys(self) -> list[str]:
        """Dotted keys that differ between points (axes, then extra runs' keys)."""
        keys = [key for table in self.axes for key in table]
        keys += [key for run in self.runs for key in run]
        return list(dict.fromkeys(keys))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: the file's settings plus every point's key and overrides."""
        return {
            "name": self.name,
            "path": None if self.path is None else str(self.path),
            "base_path": None if self.base_path is None else str(self.base_path),
            "base": self.base,
            "seeds": list(self.seeds),
            "metric": self.metric,
            "direction": self.direction,
            "set": dict(self.fixed),
            "axes": [{k: list(v) for k, v in table.items()} for table in self.axes],
            "runs": [dict(run) for run in self.runs],
            "points": [{"key": p.key, "overrides": dict(p.overrides)} for p in self.points],
        }


# ---------------------------------------------------------------- keys
def _format_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "-".join(_format_value(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return _UNSAFE.sub("-", str(value)).strip("-") or "none"


def _short_names(keys: Sequence[str]) -> dict[str, str]:
    """The last component of each dotted key, or the whole key where last components clash."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {
        key: key if last.count(name) > 1 else name for key, name in zip(keys, last, strict=True)
    }


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def point_key(overrides: Mapping[str, Any], seed: int | None = None) -> str:
    """A readable, filesystem-safe key: ``name=value`` parts joined by ``_``.

    Names are the last component of the dotted keys (the full key where two would clash);
    lists are joined by ``-``. Keys longer than ``MAX_KEY_LENGTH`` keep a prefix and gain a hash
    of the full key.

    Example:
        >>> point_key({"model.pattern": "clash-free", "model.fan_out": [80, 10]}, seed=0)
        'pattern=clash-free_fan_out=80-10_seed=0'
    """
    names = _short_names(list(overrides))
    parts = [f"{_NAME_UNSAFE.sub('-', names[k])}={_format_value(v)}" for k, v in overrides.items()]
    body = "_".join(parts) or "base"
    suffix = "" if seed is None else f"_seed={seed}"
    if len(body) + len(suffix) > MAX_KEY_LENGTH:
        full = json.dumps(dict(overrides), sort_keys=True, default=str)
        body = f"{body[: MAX_KEY_LENGTH - 20].rstrip('_-=')}_h{_hash(full)}"
    return body + suffix


# ---------------------------------------------------------------- parsing
def _flatten(values: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    """Nested tables and quoted dotted keys alike become ``{"a.b": value}``."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{where} must be a table of dotted keys, got {values!r}")
    flat: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, where, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _check_seed_key(keys: Sequence[str], where: str) -> None:
    if _SEED_KEY in keys:
        raise ValueError(f"{where}: {_SEED_KEY} is set by the sweep's seeds = [...], not here")


def _parse_axes(raw: Any) -> tuple[dict[str, tuple[Any, ...]], ...]:
    if not isinstance(raw, list) or not all(isinstance(t, Mapping) for t in raw):
        raise ValueError("axes must be an array of tables ([[axes]] sections)")
    axes = []
    for index, table in enumerate(raw):
        where = f"axes[{index}]"
        flat = _flatten(table, where)
        if not flat:
            raise ValueError(f"{where} is empty; an axis needs at least one key = [values]")
        _check_seed_key(list(flat), where)
        lengths = {}
        for key, values in flat.items():
            if not isinstance(values, list) or not values:
                raise ValueError(
                    f"{where}.{key} must be a non-empty list of values, got {values!r}"
                )
            lengths[key] = len(values)
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise ValueError(
                f"{where}: keys in one axes table are zipped and need equal lengths; {listed}"
            )
        axes.append({key: tuple(values) for key, values in flat.items()})
    seen: dict[str, int] = {}
    for index, table in enumerate(axes):
        for key in table:
            if key in seen:
                raise ValueError(f"{key} is varied by both axes[{seen[key]}] and axes[{index}]")
            seen[key] = index
    return tuple(axes)


def _parse_seeds(raw: Any) -> tuple[int, ...]:
    ok = (
        isinstance(raw, list)
        and raw
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in raw)
    )
    if not ok:
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {raw!r}")
    if len(set(raw)) != len(raw):
        raise ValueError(f"seeds must not repeat, got {raw}")
    return tuple(raw)


def sweep_from_dict(
    values: Mapping[str, Any], *, name: str = "sweep", root: str | os.PathLike = "."
) -> Sweep:
    """Build a :class:`Sweep` from parsed TOML; ``base`` paths are relative to ``root``."""
    unknown = sorted(set(values) - set(SWEEP_KEYS))
    if unknown:
        raise ValueError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} in the sweep file; "
            f"valid keys: {', '.join(SWEEP_KEYS)}"
        )
    name = values.get("name", name)
    if not isinstance(name, str) or not re.fullmatch(r"[\w.+-]+", name):
        raise ValueError(
            f"name must be a non-empty string of letters, digits, '.', '+', '-', '_', got {name!r}"
        )
    if ("base" in values) == ("base_config" in values):
        raise ValueError('a sweep needs exactly one of base = "config.toml" or [base_config]')
    base_path = None
    if "base" in values:
        if not isinstance(values["base"], str):
            raise ValueError(f"base must be a path to a config file, got {values['base']!r}")
        base_path = Path(root) / values["base"]
        base = read_toml(base_path)
    else:
        base = values["base_config"]
        if not isinstance(base, Mapping):
            raise ValueError(f"base_config must be a table, got {base!r}")
    base = _flatten(base, "base_config" if base_path is None else str(base_path))
    seeds = _parse_seeds(values.get("seeds", [0]))
    metric = values.get("metric", "test_accuracy")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    direction = values.get("direction", METRICS[metric])
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be maximize or minimize, got {direction!r}")
    fixed = _flatten(values.get("set", {}), "set")
    _check_seed_key(list(fixed), "set")
    axes = _parse_axes(values.get("axes", []))
    raw_runs = values.get("runs", [])
    if not isinstance(raw_runs, list):
        raise ValueError("runs must be an array of tables ([[runs]] sections)")
    runs = tuple(_flatten(run, f"runs[{i}]") for i, run in enumerate(raw_runs))
    for index, run in enumerate(runs):
        _check_seed_key(list(run), f"runs[{index}]")
    for key in fixed:
        if any(key in table for table in axes):
            raise ValueError(f"{key} is both in [set] and varied by [[axes]]")

    varied: list[tuple[str, dict[str, Any]]] = []
    if axes:  # the grid: the product of the axes, zipped within each table
        for combo in itertools.product(*(range(len(next(iter(t.values())))) for t in axes)):
            overrides = {k: v[i] for t, i in zip(axes, combo, strict=True) for k, v in t.items()}
            varied.append(("grid", overrides))
    elif not runs:  # no axes and no runs: the base config alone
        varied.append(("grid", {}))
    varied += [(f"runs[{i}]", dict(run)) for i, run in enumerate(runs)]

    points: list[SweepPoint] = []
    for where, overrides in varied:
        group = point_key(overrides)
        for seed in seeds:
            point_overrides = {**overrides, _SEED_KEY: seed}
            key = point_key(overrides, seed)
            try:
                config = apply_overrides({}, {**base, **fixed, **point_overrides})
            except ValueError as error:
                raise ValueError(f"point {key} ({where}): {error}") from None
            points.append(SweepPoint(key, group, point_overrides, seed, config))
    return Sweep(
        name=name,
        base=base,
        base_path=base_path,
        seeds=seeds,
        metric=metric,
        direction=direction,
        fixed=fixed,
        axes=axes,
        runs=runs,
        points=_unique(points),
    )


def _unique(points: list[SweepPoint]) -> tuple[SweepPoint, ...]:
    """Reject repeated points; keys that clash for different configs gain a hash suffix."""
    by_key: dict[str, list[SweepPoint]] = {}
    for point in points:
        by_key.setdefault(point.key, []).append(point)
    out = []
    for point in points:
        same = by_key[point.key]
        if len(same) == 1:
            out.append(point)
            continue
        if sum(p.config == point.config for p in same) > 1:
            raise ValueError(f"point {point.key} appears twice in the sweep (same config)")
        varied = {k: v for k, v in point.overrides.items() if k != _SEED_KEY}
        tag = _hash(json.dumps(varied, sort_keys=True, default=str))
        out.append(
            SweepPoint(
                f"{point.key}_h{tag}",
                f"{point.group}_h{tag}",
                point.overrides,
                point.seed,
                point.config,
            )
        )
    return tuple(out)


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read a sweep file; every mistake raises ``ValueError`` naming the file and the rule."""
    path = Path(path)
    values = read_toml(path)
    try:
        sweep = sweep_from_dict(values, name=path.stem, root=path.parent)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return dataclasses.replace(sweep, path=path)
