"""One experiment end to end: data → model → training → summary, in a run folder.

A run folder holds::

    config.json          the resolved config (and its hash)
    checkpoint.pt        model, optimiser, schedule, RNG state, history — after every epoch
    epochs.jsonl         one JSON record per epoch
    summary.json         the result (written last: its presence means the run finished)
    test_predictions.npy softmax of every test sample (the KL-to-dense reference of other runs)
    curves.png           loss and accuracy per epoch

Nothing is overwritten by surprise: a folder holding a finished or unfinished run is refused
unless ``resume`` (continue; extend with more epochs) or ``force`` (start over) is given.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurofabric.data.datasets import load_dataset
from neurofabric.experiments.build import build_model, model_costs, tune_if_asked
from neurofabric.experiments.checkpoint import load_checkpoint
from neurofabric.experiments.config import (
    ExperimentConfig,
    config_hash,
    config_to_dict,
)
from neurofabric.experiments.train import evaluate, fit
from neurofabric.plots.junction import save_figure
from neurofabric.plots.training import training_curves
from neurofabric.topology.io import atomic_write

__all__ = ["RUN_FILES", "kl_divergence", "load_summary", "prepare_data", "train_run"]

RUN_FILES = (
    "config.json",
    "checkpoint.pt",
    "epochs.jsonl",
    "summary.json",
    "test_predictions.npy",
    "curves.png",
)


def _write_json(path: Path, payload: Any) -> None:
    text = json.dumps(payload, indent=2, default=_plain) + "\n"
    atomic_write(path, lambda file: file.write(text.encode()), overwrite=True)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def load_summary(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``summary.json`` of a finished run folder.

    Raises:
        ValueError: If the folder holds no finished run or the file is damaged.
    """
    path = Path(run_dir) / "summary.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{str(run_dir)!r} holds no finished run (no summary.json)") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is damaged: {error}") from None


def prepare_data(config: ExperimentConfig, device: torch.device) -> dict[str, Any]:
    """Load the dataset of ``config`` as tensors on ``device`` and check it fits the model."""
    data_config, sizes = config.data, config.model.sizes
    merge = config.train.validation == "train+val"
    splits = load_dataset(
        data_config.name,
        standardize=data_config.standardize,
        pad_to=data_config.pad_to,
        merge_train_val=merge,
        seed=data_config.seed,
    )
    features = splits.xtr.shape[1]
    if sizes[0] != features:
        hint = "" if data_config.pad_to else " (set data.pad_to to zero-pad the inputs)"
        raise ValueError(
            f"model.sizes[0] = {sizes[0]} but dataset {data_config.name!r} has {features} "
            f"input features{hint}"
        )
    if sizes[-1] != splits.num_classes:
        raise ValueError(
            f"model.sizes[-1] = {sizes[-1]} but dataset {data_config.name!r} has "
            f"{splits.num_classes} classes"
        )
    xtr, ytr = splits.xtr, splits.ytr
    if data_config.train_subset is not None:
        xtr, ytr = xtr[: data_config.train_subset], ytr[: data_config.train_subset]

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(device)

    return {
        "name": splits.name,
        "train": (tensor(xtr), tensor(ytr)),
        "val": (tensor(splits.xva), tensor(splits.yva)),
        "test": (tensor(splits.xte), tensor(splits.yte)),
        "sizes": (len(xtr), len(splits.xva), len(splits.xte)),
    }


def kl_divergence(reference: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean over samples of ``KL(p_ref ‖ p)`` in nats (SPEC §7)."""
    if reference.shape != probabilities.shape:
        raise ValueError(
            f"the KL reference has predictions of shape {reference.shape}, this run "
            f"{probabilities.shape}: they were not made on the same test set"
        )
    tiny = np.finfo(np.float32).tiny
    ref = np.clip(reference.astype(np.float64), tiny, None)
    own = np.clip(probabilities.astype(np.float64), tiny, None)
    return float(np.mean(np.sum(ref * (np.log(ref) - np.log(own)), axis=1)))


def _check_folder(out_dir: Path, *, resume: bool, force: bool) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ValueError(f"{str(out_dir)!r} exists and is not a folder")
    ours = [name for name in RUN_FILES if (out_dir / name).exists()]
    if force:
        for name in ours:
            (out_dir / name).unlink()
        return
    if resume or not ours:
        return
    state = "a finished" if (out_dir / "summary.json").exists() else "an unfinished"
    raise ValueError(
        f"{str(out_dir)!r} already holds {state} run; pass --resume to continue it, --force to "
        "start over, or choose another --out"
    )


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    out = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def _resume_state(out_dir: Path, config: ExperimentConfig) -> dict | None:
    path = out_dir / "checkpoint.pt"
    if not path.exists():
        return None
    state = load_checkpoint(path)
    if state.get("config_hash") != config_hash(config):
        old = state.get("config", {})
        changed = _differences(old, config_to_dict(config)) if isinstance(old, dict) else []
        ignore = {"train.epochs", "train.threads", "train.kl_reference"}
        changed = [c for c in changed if c not in ignore]
        raise ValueError(
            f"checkpoint {str(path)!r} was written by a different config (differs in: "
            f"{', '.join(changed) or 'unknown fields'}); use --force to start over"
        )
    return state


def train_run(
    config: ExperimentConfig,
    out_dir: str | os.PathLike,
    *,
    resume: bool = True,
    force: bool = False,
    progress: bool = False,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """Train ``config`` into ``out_dir`` and return its summary (also in ``summary.json``).

    Args:
        config: The experiment.
        out_dir: The run folder (created).
        resume: Continue from the folder's checkpoint if there is one; a finished run with as
            many epochs returns its summary without training.
        force: Delete the folder's run files and start over.
        progress: Progress bar and one line per epoch on stderr.
        device: ``"cpu"``, ``"cuda"``…; default CUDA when available.

    Raises:
        ValueError: On a folder holding another run (without ``resume``/``force``), a
            checkpoint written by another config, a corrupt checkpoint, a dataset that does not
            fit ``model.sizes``, or any pattern precondition.
    """
    out_dir = Path(out_dir)
    _check_folder(out_dir, resume=resume, force=force)
    started = time.perf_counter()
    if resume and (out_dir / "summary.json").exists():
        summary = load_summary(out_dir)
        if (
            summary.get("config_hash") == config_hash(config)
            and summary.get("epochs") == config.train.epochs
        ):
            return summary
    if config.train.threads is not None:
        torch.set_num_threads(config.train.threads)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was asked for but no CUDA device is available")
    state = _resume_state(out_dir, config) if resume else None
    if state is not None and int(state["epoch"]) > config.train.epochs:
        raise ValueError(
            f"the checkpoint in {str(out_dir)!r} is at epoch {state['epoch']}, past "
            f"train.epochs = {config.train.epochs}"
        )
    net = build_model(config, device=device)
    data = prepare_data(config, device)
    tune_if_asked(net, config, data["train"][0])  # kernels change the speed, not the function
    reference = None
    if config.train.kl_reference:
        ref_path = Path(config.train.kl_reference) / "test_predictions.npy"
        if not ref_path.is_file():
            raise ValueError(
                f"train.kl_reference: {str(ref_path)!r} does not exist (train the reference "
                "run first)"
            )
        reference = np.load(ref_path)
    costs = model_costs(net)
    values = config_to_dict(config)
    digest = config_hash(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").unlink(missing_ok=True)
    _write_json(out_dir / "config.json", {"config_hash": digest, "config": values})

    def write_records(history: list[dict]) -> None:
        text = "".join(json.dumps(record) + "\n" for record in history)
        atomic_write(out_dir / "epochs.jsonl", lambda f: f.write(text.encode()), overwrite=True)

    history = fit(
        net,
        data["train"],
        optimizer=config.optimizer,
        train=config.train,
        validation=data["val"] if config.train.validation == "best-epoch" else None,
        checkpoint=out_dir / "checkpoint.pt",
        checkpoint_extra={"config": values, "config_hash": digest},
        resume_from=state,
        on_epoch=write_records,
        progress=progress,
    )
    write_records(history)
    test = evaluate(net, *data["test"], batch_size=config.train.eval_batch_size, probabilities=True)
    predictions = test.probabilities.numpy()
    atomic_write(
        out_dir / "test_predictions.npy", lambda f: np.save(f, predictions), overwrite=True
    )
    summary = _summary(config, digest, data, history, test, costs, device)
    summary["kl_to_reference"] = (
        kl_divergence(reference, predictions) if reference is not None else None
    )
    summary["kl_reference"] = config.train.kl_reference
    summary["kernels"] = [layer.kernel for layer in net.layers]  # one per junction
    summary["wall_time_s"] = time.perf_counter() - started
    save_figure(
        training_curves({out_dir.name or "run": history}), out_dir / "curves.png", overwrite=True
    )
    _write_json(out_dir / "summary.json", summary)
    return summary


def _summary(config, digest, data, history, test, costs, device) -> dict[str, Any]:
    vals = [(r["val_accuracy"], r["epoch"]) for r in history if r["val_accuracy"] is not None]
    best = max(vals, key=lambda v: (v[0], -v[1])) if vals else (None, None)
    train_seconds = sum(r["seconds"] - r["eval_seconds"] for r in history)
    samples = sum(r["samples"] for r in history)
    compute = sum(r["compute_seconds"] for r in history)
    total = sum(r["seconds"] for r in history)
    overhead = total - compute - sum(r["eval_seconds"] for r in history)
    last = history[-1] if history else {}
    return {
        "dataset": data["name"],
        "split_sizes": list(data["sizes"]),
        "layer_sizes": list(config.model.sizes),
        "patterns": costs["junction_kinds"],
        "config_hash": digest,
        "epochs": len(history),
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "val_accuracy": best[0],
        "best_epoch": best[1],
        "final_train_loss": last.get("train_loss"),
        "final_train_accuracy": last.get("train_accuracy"),
        **{k: costs[k] for k in ("parameters", "dense_parameters", "edges")},
        "flops_per_sample": costs["flops_per_sample"],
        "dense_flops_per_sample": costs["dense_flops_per_sample"],
        "overall_density": costs["overall_density"],
        "junction_densities": costs["junction_densities"],
        "train_time_s": train_seconds,
        "samples_per_s": samples / train_seconds if train_seconds > 0 else None,
        "overhead_fraction": overhead / total if total > 0 else None,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "config": config_to_dict(config),
    }
