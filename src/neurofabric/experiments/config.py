"""Experiment configuration: small frozen dataclasses loaded from TOML, overridable by flags.

A config file has four tables, every key optional except ``model.sizes``::

    [data]
    name = "mnist"
    pad_to = 800

    [model]
    sizes = [800, 100, 100, 100, 10]
    pattern = "clash-free"          # or one name per junction (default "structured")
    fan_out = [20, 20, 20, 10]      # or density = 0.2 / [0.2, 0.2, 0.2, 1.0]
    parallelism = [200, 25, 25, 10] # z per junction, used by clash-free junctions

    [optimizer]
    name = "adam"                   # Keras-style Adam with per-batch decay (SPEC §7), or "sgd"
    lr = 1e-3

    [train]
    batch_size = 256
    epochs = 50
    validation = "best-epoch"       # SPEC §7 mode 0; "train+val" mode 1; "train-only" mode 2
    seed = 0

Overrides use dotted keys and TOML values: ``train.lr=3e-4`` style strings go through
:func:`apply_overrides`. Unknown keys and wrongly typed values raise ``ValueError`` naming the
valid keys or the expected type.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CASCADE_TOPOLOGIES",
    "VALIDATION_MODES",
    "CascadeConfig",
    "DataConfig",
    "ExperimentConfig",
    "ModelConfig",
    "OptimizerConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "config_hash",
    "config_to_dict",
    "load_config",
    "parse_override",
]

#: SPEC §7 validation modes by name, with the original ``valtest`` numbers accepted as aliases.
VALIDATION_MODES = {"best-epoch": 0, "train+val": 1, "train-only": 2}
CASCADE_TOPOLOGIES = ("none", "clos", "butterfly", "benes", "monarch", "random-cascade")
OPTIMIZERS = ("adam", "sgd")

IntOrList = int | tuple[int, ...]
FloatOrList = float | tuple[float, ...]


@dataclass(frozen=True)
class DataConfig:
    """Which dataset, and how it is prepared (see :func:`neurofabric.data.load_dataset`).

    Attributes:
        name: Registry name (``mnist``, ``morse:baseline``, ``npz:path.npz``, …).
        pad_to: Zero-pad features to this width (MNIST 784 → 800 in the papers).
        standardize: Standardise features with training statistics.
        seed: Dataset seed (Morse generation, digits split); ``None`` uses the loader's default.
        train_subset: Train on the first this-many training samples only (quick studies).
    """

    name: str = "mnist"
    pad_to: int | None = None
    standardize: bool = False
    seed: int | None = None
    train_subset: int | None = None


@dataclass(frozen=True)
class CascadeConfig:
    """Replace wide junctions by sparse cascades (NeuroFabric).

    Attributes:
        topology: ``none`` (plain junctions), ``clos``, ``butterfly``, ``benes``, ``monarch`` or
            ``random-cascade``.
        junctions: Junction indices to replace; empty means every junction whose input and
            output layers both have at least ``min_features`` neurons.
        min_features: Width threshold used when ``junctions`` is empty.
        groups: Clos ingress/egress switches ``r``.
        middle: Clos middle switches ``m``.
        stages: Clos stages (3 or 5).
        radix: Butterfly / Beneš radix.
        blocks: Monarch blocks per stage.
        density: Random-cascade per-stage density.
        depth: Random-cascade number of stages.
        skip: ``none``, ``identity``, ``trainable_identity`` or ``residual`` (SPEC §4.6).
        init: Initialiser of the cascade's stages (sparse Glorot keeps deep cascades trainable).
    """

    topology: str = "none"
    junctions: tuple[int, ...] = ()
    min_features: int = 1024
    groups: int | None = None
    middle: int | None = None
    stages: int = 3
    radix: int = 2
    blocks: int | None = None
    density: float | None = None
    depth: int = 2
    skip: str = "none"
    init: str = "sparse_glorot"


@dataclass(frozen=True)
class ModelConfig:
    """The network: layer sizes, one connection pattern per junction, nonlinearity, init.

    Attributes:
        sizes: Neurons per layer ``(N_0, …, N_L)``; ``N_0`` must equal the dataset's features
            and ``N_L`` its number of classes.
        pattern: ``random``, ``structured``, ``clash-free``, ``windowed`` or ``dense``, or one
            per junction. ``dense`` junctions ignore ``fan_out``, ``density``, ``parallelism``.
        fan_out: Outputs per left neuron ``d_out``, one per junction (or one for all).
        density: Alternative to ``fan_out``: edge fraction per junction.
        parallelism: Degree of parallelism ``z`` per junction, used by clash-free junctions.
        memory_map: Clash-free memory map ``type1`` / ``type2`` / ``type3``.
        dither: Clash-free bank dither.
        topology_seed: Seed of the connection patterns (``None``: ``train.seed``).
        activation: Hidden nonlinearity.
        init: Weight initialiser (``dense_he`` is Dey's recipe, biases 0.1).
        bias: Learn biases.
        kernel: Sparse kernel: ``auto`` (a fixed policy per junction), ``tune`` (before
            training, time every candidate per layer at the training batch on this machine and
            keep the fastest: :func:`~neurofabric.nn.tune_kernels`), or a kernel name.
        cascade: Cascades for wide junctions.
    """

    sizes: tuple[int, ...] = ()
    pattern: str | tuple[str, ...] = "structured"
    fan_out: IntOrList | None = None
    density: FloatOrList | None = None
    parallelism: IntOrList | None = None
    memory_map: str = "type1"
    dither: bool = False
    topology_seed: int | None = None
    activation: str = "relu"
    init: str = "dense_he"
    bias: bool = True
    kernel: str = "auto"
    cascade: CascadeConfig = field(default_factory=CascadeConfig)


@dataclass(frozen=True)
class OptimizerConfig:
    """Optimiser and regularisation (SPEC §7 defaults: Keras Adam, decay 1e-5 per batch).

    Attributes:
        name: ``adam`` or ``sgd``.
        lr: Learning rate.
        betas: Adam ``(β1, β2)``.
        eps: Adam epsilon (Keras default 1e-7).
        decay: Keras decay: ``lr_t = lr / (1 + decay · iterations)``, applied per batch.
        momentum: SGD momentum.
        nesterov: SGD Nesterov momentum.
        l2: ``λ`` of the ``λ‖w‖²`` penalty on weights (biases excluded).
    """

    name: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, ...] = (0.9, 0.999)
    eps: float = 1e-7
    decay: float = 1e-5
    momentum: float = 0.0
    nesterov: bool = False
    l2: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    """The loop.

    Attributes:
        batch_size: Samples per step.
        epochs: Passes over the training set.
        validation: ``best-epoch`` (validate every epoch, record the best), ``train+val``
            (train on train+val, test once) or ``train-only`` (test at the end).
        seed: Seed of initialisation, data order and (by default) the patterns.
        eval_batch_size: Samples per evaluation step.
        kl_reference: Folder of a finished run (normally the dense net) whose test-set softmax
            the summary compares with: mean ``KL(p_reference ‖ p_this)`` in nats.
        threads: ``torch.set_num_threads`` for the run (``None``: torch's default).
    """

    batch_size: int = 256
    epochs: int = 50
    validation: str = "best-epoch"
    seed: int = 0
    eval_batch_size: int = 4096
    kl_reference: str | None = None
    threads: int | None = None


@dataclass(frozen=True)
class ExperimentConfig:
    """One training run: ``data``, ``model``, ``optimizer``, ``train`` (see each class)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, overrides: Mapping[str, Any] | Iterable[str]) -> ExperimentConfig:
        """A copy with dotted-key overrides applied (see :func:`apply_overrides`)."""
        return apply_overrides(self, overrides)


# ---------------------------------------------------------------- validation
def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")


def _validate(config: ExperimentConfig) -> None:
    model, train, opt, cascade = config.model, config.train, config.optimizer, config.model.cascade
    if len(model.sizes) < 2:
        raise ValueError(
            f"model.sizes needs at least 2 layer sizes (input, …, classes), got {list(model.sizes)}"
        )
    for i, size in enumerate(model.sizes):
        _positive(f"model.sizes[{i}]", size)
    junctions = len(model.sizes) - 1
    for name in ("pattern", "fan_out", "density", "parallelism"):
        value = getattr(model, name)
        if isinstance(value, tuple) and len(value) != junctions:
            raise ValueError(
                f"model.{name} needs one value per junction: model.sizes has {junctions} "
                f"junctions, got {len(value)} values {list(value)}"
            )
    from neurofabric.topology.generators.mlp import PATTERNS

    for name in model.pattern if isinstance(model.pattern, tuple) else (model.pattern,):
        if name not in PATTERNS:
            raise ValueError(
                f"model.pattern: unknown pattern {name!r}; choose one of {', '.join(PATTERNS)}"
            )
    if train.validation not in VALIDATION_MODES:
        raise ValueError(
            f"train.validation must be one of {', '.join(VALIDATION_MODES)} "
            f"(SPEC §7 modes 0, 1, 2), got {train.validation!r}"
        )
    for name in ("batch_size", "epochs", "eval_batch_size", "threads"):
        _positive(f"train.{name}", getattr(train, name))
    if train.seed < 0:
        raise ValueError(f"train.seed must be >= 0, got {train.seed}")
    if opt.name not in OPTIMIZERS:
        raise ValueError(f"optimizer.name must be one of {', '.join(OPTIMIZERS)}, got {opt.name!r}")
    if not opt.lr > 0:
        raise ValueError(f"optimizer.lr must be > 0, got {opt.lr}")
    for name in ("decay", "momentum", "l2"):
        if getattr(opt, name) < 0:
            raise ValueError(f"optimizer.{name} must be >= 0, got {getattr(opt, name)}")
    if len(opt.betas) != 2 or not all(0 <= b < 1 for b in opt.betas):
        raise ValueError(f"optimizer.betas must be two numbers in [0, 1), got {list(opt.betas)}")
    if cascade.topology not in CASCADE_TOPOLOGIES:
        raise ValueError(
            f"model.cascade.topology must be one of {', '.join(CASCADE_TOPOLOGIES)}, "
            f"got {cascade.topology!r}"
        )
    for index in cascade.junctions:
        if not 0 <= index < junctions:
            raise ValueError(
                f"model.cascade.junctions: junction {index} does not exist; model.sizes has "
                f"junctions 0 … {junctions - 1}"
            )
    data = config.data
    _positive("data.pad_to", data.pad_to)
    _positive("data.train_subset", data.train_subset)


# ---------------------------------------------------------------- dict <-> dataclass
def _type_name(hint: Any) -> str:
    if hint is type(None):
        return "none"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(hint)[0])}"
    return getattr(hint, "__name__", str(hint))


def _coerce(key: str, hint: Any, value: Any) -> Any:
    """``value`` as type ``hint`` (TOML's values: int, float, str, bool, list), or ValueError."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _coerce(key, option, value)
            except ValueError:
                continue
    elif hint is type(None):
        if value is None:
            return None
    elif origin is tuple:
        if isinstance(value, list | tuple):
            item = typing.get_args(hint)[0]
            return tuple(_coerce(f"{key}[{i}]", item, v) for i, v in enumerate(value))
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    raise ValueError(f"{key} must be {_type_name(hint)}, got {value!r}")


def _build(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(values, Mapping):
        raise ValueError(f"{prefix.rstrip('.') or 'config'} must be a table, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        where = prefix.rstrip(".") or "the config"
        plural = "s" if len(unknown) > 1 else ""
        raise ValueError(
            f"unknown key{plural} {', '.join(prefix + k for k in unknown)} "
            f"in {where}; valid keys: {', '.join(prefix + n for n in names)}"
        )
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(prefix + name, hint, value)
    return cls(**kwargs)


def config_from_dict(values: Mapping[str, Any]) -> ExperimentConfig:
    """Build a config from nested dicts (parsed TOML or :func:`config_to_dict` output)."""
    return _build(ExperimentConfig, values, "")


def config_to_dict(config: ExperimentConfig, *, drop_defaults: bool = False) -> dict[str, Any]:
    """Nested plain dicts and lists (JSON-ready); ``None`` values are dropped (TOML has no null).

    With ``drop_defaults`` only the values that differ from the defaults are kept.
    """

    def convert(obj: Any, default: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            out = {}
            for f in dataclasses.fields(obj):
                value = getattr(obj, f.name)
                base = getattr(default, f.name) if default is not None else None
                if value is None or (drop_defaults and default is not None and value == base):
                    continue
                converted = convert(value, base)
                if converted != {} or not drop_defaults:
                    out[f.name] = converted
            return out
        if isinstance(obj, tuple):
            return [convert(v, None) for v in obj]
        return obj

    defaults = None
    if drop_defaults:
        defaults = ExperimentConfig.__new__(ExperimentConfig)
        for f in dataclasses.fields(ExperimentConfig):
            object.__setattr__(defaults, f.name, f.default_factory())
    return convert(config, defaults)


#: Fields that do not change what a run computes epoch by epoch; a checkpoint stays valid
#: when only these differ (``--resume`` with more epochs extends a run).
_RESUMABLE_FIELDS = {("train", "epochs"), ("train", "threads"), ("train", "kl_reference")}


def config_hash(config: ExperimentConfig) -> str:
    """SHA-256 (hex, 16 characters) of everything that determines the training trajectory."""
    values = config_to_dict(config)
    for section, name in _RESUMABLE_FIELDS:
        values.get(section, {}).pop(name, None)
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- overrides and files
def parse_override(text: str) -> tuple[str, Any]:
    """``"optimizer.lr=3e-4"`` → ``("optimizer.lr", 0.0003)``; the value is read as TOML, and
    as a plain string when it is not valid TOML (``data.name=mnist``)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"an override is KEY=VALUE (e.g. optimizer.lr=3e-4), got {text!r}")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def _set_dotted(values: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = values
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"{'.'.join(parts[: i + 1])} is a value, not a table (in {key!r})")
        node = child
    node[parts[-1]] = value


def apply_overrides(
    config: ExperimentConfig | Mapping[str, Any], overrides: Mapping[str, Any] | Iterable[str]
) -> ExperimentConfig:
    """Apply dotted-key overrides (a mapping, or ``KEY=VALUE`` strings) and re-validate."""
    values = config_to_dict(config) if isinstance(config, ExperimentConfig) else _copy(config)
    items = overrides.items() if isinstance(overrides, Mapping) else map(parse_override, overrides)
    for key, value in items:
        _set_dotted(values, key, value)
    return config_from_dict(values)


def _copy(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, Mapping) else v for k, v in values.items()}


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a TOML file; unreadable or malformed files raise ``ValueError`` naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ValueError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None


def load_config(
    path: str | os.PathLike | None = None, overrides: Mapping[str, Any] | Iterable[str] = ()
) -> ExperimentConfig:
    """Load a TOML config (or start from the defaults when ``path`` is None), then override.

    Example:
        >>> config = load_config(None, ["model.sizes=[800, 100, 10]", "model.fan_out=[20, 10]"])
        >>> config.model.fan_out, config.optimizer.lr
        ((20, 10), 0.001)
    """
    values = read_toml(path) if path is not None else {}
    try:
        return apply_overrides(values, overrides)
    except ValueError as error:
        if path is None:
            raise
        raise ValueError(f"{path}: {error}") from None
