"""Experiments: configs, the training loop, run folders and sweeps (SPEC §7, §14).

Example:
    >>> from neurofabric.experiments import build_model, load_config
    >>> config = load_config(None, ["model.sizes=[16, 8, 4]", "model.fan_out=[2, 4]"])
    >>> build_model(config).layers[0].junction.nnz
    32
"""

from neurofabric.experiments.build import build_model, model_costs
from neurofabric.experiments.config import (
    ExperimentConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
)
from neurofabric.experiments.run import load_summary, train_run
from neurofabric.experiments.sweep import run_sweep
from neurofabric.experiments.sweep_config import load_sweep
from neurofabric.experiments.train import evaluate, fit

__all__ = [
    "ExperimentConfig",
    "apply_overrides",
    "build_model",
    "config_from_dict",
    "config_to_dict",
    "evaluate",
    "fit",
    "load_config",
    "load_summary",
    "load_sweep",
    "model_costs",
    "run_sweep",
    "train_run",
]
