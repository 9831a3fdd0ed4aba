"""Training benchmarks: sparse nets against dense PyTorch, as ratios measured in the same run.

Two measurements (``neurofabric bench-train``):

- **throughput**: training samples per second (forward, loss, backward, Adam step) of an MLP
  whose wide junctions are sparse cascades, against the same MLP built from dense
  ``nn.Linear`` layers; timed in interleaved rounds on synthetic data, median per net.
- **overhead**: the share of each epoch spent outside forward/backward/optimiser (batch
  gathering, progress bar, records, checkpoint) when :func:`~neurofabric.experiments.train.fit`
  trains a real net, with the checkpoint written every epoch.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from neurofabric.bench import machine_name
from neurofabric.experiments.build import build_model, model_costs, tune_if_asked
from neurofabric.experiments.config import ExperimentConfig, load_config
from neurofabric.experiments.optim import make_optimizer
from neurofabric.experiments.run import prepare_data
from neurofabric.experiments.train import fit

__all__ = ["clos_mlp_config", "dense_twin", "measure_overhead", "measure_throughput"]


def clos_mlp_config(
    width: int = 4096,
    hidden: int = 3,
    *,
    groups: int = 8,
    middle: int = 128,
    classes: int = 10,
    batch: int = 256,
) -> ExperimentConfig:
    """An MLP ``(width, width × hidden, classes)`` whose ``width × width`` junctions are Clos
    cascades (``groups`` r, ``middle`` m; r = 8, m = 128 at 4096 is density ≈ 1/16) and whose
    output junction is dense."""
    sizes = [width] * (hidden + 1) + [classes]
    junctions = list(range(hidden))
    return load_config(
        None,
        {
            "model.sizes": sizes,
            "model.pattern": ["dense"] * (hidden + 1),
            "model.cascade.topology": "clos",
            "model.cascade.junctions": junctions,
            "model.cascade.groups": groups,
            "model.cascade.middle": middle,
            "train.batch_size": batch,
        },
    )


def dense_twin(config: ExperimentConfig) -> nn.Module:
    """The dense PyTorch MLP of the same sizes: ``nn.Linear`` layers with ReLU between."""
    sizes = config.model.sizes
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _step_function(net: nn.Module, config: ExperimentConfig, x, y) -> Callable[[], None]:
    optimizer, schedule = make_optimizer(config.optimizer, net.parameters())

    def step() -> None:
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()

    return step


def measure_throughput(
    config: ExperimentConfig,
    *,
    steps: int = 3,
    rounds: int = 5,
    warmup: int = 2,
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Training samples/s of ``config``'s net and of its dense twin, interleaved in rounds.

    Returns:
        ``sparse_samples_per_s``, ``dense_samples_per_s``, ``speedup`` (their ratio),
        ``ideal`` (dense FLOPs over sparse FLOPs), ``fraction_of_ideal``, per-round samples/s,
        and the net's costs.
    """
    torch.manual_seed(seed)
    device = torch.device(device)
    batch = config.train.batch_size
    sizes = config.model.sizes
    x = torch.randn(batch, sizes[0], device=device)
    y = torch.randint(0, sizes[-1], (batch,), device=device)
    nets = {"sparse": build_model(config, device=device), "dense": dense_twin(config).to(device)}
    tune_if_asked(nets["sparse"], config, x)
    steps_of = {name: _step_function(net, config, x, y) for name, net in nets.items()}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for step in steps_of.values():
        for _ in range(warmup):
            step()
        sync()
    rates: dict[str, list[float]] = {name: [] for name in nets}
    for round_ in range(rounds):
        for name, step in steps_of.items():
            sync()
            began = time.perf_counter()
            for _ in range(steps):
                step()
            sync()
            rates[name].append(steps * batch / (time.perf_counter() - began))
        if progress is not None:
            progress(f"round {round_ + 1}/{rounds}")
    costs = model_costs(nets["sparse"])
    sparse, dense = statistics.median(rates["sparse"]), statistics.median(rates["dense"])
    ideal = costs["dense_flops_per_sample"] / costs["flops_per_sample"]
    return {
        "layer_sizes": list(sizes),
        "junction_kinds": costs["junction_kinds"],
        "overall_density": costs["overall_density"],
        "batch": batch,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "machine": machine_name(str(device)),
        "sparse_samples_per_s": sparse,
        "dense_samples_per_s": dense,
        "speedup": sparse / dense,
        "ideal": ideal,
        "fraction_of_ideal": sparse / dense / ideal,
        "rounds": {name: values for name, values in rates.items()},
    }


def measure_overhead(
    config: ExperimentConfig,
    *,
    epochs: int = 3,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Per-epoch time split of a real training run (checkpoint every epoch, records kept).

    The first epoch is dropped (allocator and kernel warm-up). ``overhead_fraction`` is the
    share of epoch time outside forward/backward/optimiser and outside evaluation.
    """
    device = torch.device(device)
    config = config.replace({"train.epochs": epochs + 1})
    data = prepare_data(config, device)
    net = build_model(config, device=device)
    tune_if_asked(net, config, data["train"][0])
    with tempfile.TemporaryDirectory() as folder:
        history = fit(
            net,
            data["train"],
            optimizer=config.optimizer,
            train=config.train,
            validation=data["val"] if config.train.validation == "best-epoch" else None,
            checkpoint=Path(folder) / "checkpoint.pt",
            progress=progress,
        )
    kept = history[1:]
    seconds = sum(r["seconds"] for r in kept)
    compute = sum(r["compute_seconds"] for r in kept)
    evaluation = sum(r["eval_seconds"] for r in kept)
    return {
        "layer_sizes": list(config.model.sizes),
        "patterns": model_costs(net)["junction_kinds"],
        "epochs_measured": len(kept),
        "epoch_seconds": seconds / len(kept),
        "compute_fraction": compute / seconds,
        "eval_fraction": evaluation / seconds,
        "data_fraction": sum(r["data_seconds"] for r in kept) / seconds,
        "checkpoint_fraction": sum(r["checkpoint_seconds"] for r in kept) / seconds,
        "overhead_fraction": (seconds - compute - evaluation) / seconds,
    }
