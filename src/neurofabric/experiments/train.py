"""The training loop: :func:`fit` and :func:`evaluate`, with per-epoch checkpoints and resume.

Data stay in memory as tensors; the order of epoch ``e`` is a permutation drawn from a generator
seeded by ``(seed, e)``, so a run resumed from the checkpoint after epoch ``e`` replays exactly
the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from neurofabric.experiments.checkpoint import save_checkpoint
from neurofabric.experiments.config import OptimizerConfig, TrainConfig
from neurofabric.experiments.optim import l2_penalty, make_optimizer

__all__ = ["Evaluation", "epoch_order", "evaluate", "fit"]


@dataclass(frozen=True)
class Evaluation:
    """Mean cross-entropy, accuracy and (optionally) the softmax of every sample."""

    loss: float
    accuracy: float
    probabilities: torch.Tensor | None = None


@torch.no_grad()
def evaluate(
    net: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int = 4096,
    probabilities: bool = False,
) -> Evaluation:
    """Loss and accuracy of ``net`` on ``(x, y)`` in eval mode (``nan`` for an empty split)."""
    if len(x) == 0:
        return Evaluation(float("nan"), float("nan"), None)
    was_training = net.training
    net.eval()
    total_loss = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    kept = []
    for start in range(0, len(x), batch_size):
        logits = net(x[start : start + batch_size])
        target = y[start : start + batch_size]
        total_loss += F.cross_entropy(logits.float(), target, reduction="sum").double()
        correct += (logits.argmax(dim=1) == target).sum()
        if probabilities:
            kept.append(torch.softmax(logits.float(), dim=1).cpu())
    net.train(was_training)
    return Evaluation(
        total_loss.item() / len(x),
        correct.item() / len(x),
        torch.cat(kept) if probabilities else None,
    )


def epoch_order(seed: int, epoch: int, count: int, device=None) -> torch.Tensor:
    """The sample order of ``epoch`` (1-based): a permutation seeded by ``(seed, epoch)``."""
    entropy = int(np.random.SeedSequence([seed, epoch]).generate_state(2, np.uint64)[0] >> 1)
    generator = torch.Generator().manual_seed(entropy)
    return torch.randperm(count, generator=generator).to(device)


def _state(net, optimizer, schedule, epoch, history, train: TrainConfig, extra) -> dict:
    return {
        **extra,
        "epoch": epoch,
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "history": history,
        "torch_rng": torch.get_rng_state(),
        "data_order": {"seed": train.seed, "rule": "randperm(SeedSequence([seed, epoch]))"},
    }


def fit(
    net: torch.nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    *,
    optimizer: OptimizerConfig,
    train: TrainConfig,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    resume_from: dict[str, Any] | None = None,
    on_epoch: Callable[[list[dict]], None] | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train ``net`` for ``train.epochs`` epochs; returns one record per epoch.

    Args:
        net: The model (trained in place).
        train_data: ``(x, y)`` tensors on the model's device.
        optimizer: Optimiser settings (SPEC §7 Keras Adam by default).
        train: Batch size, epochs, seed, evaluation batch size.
        validation: ``(x, y)`` evaluated after every epoch (``val_loss``, ``val_accuracy``).
        checkpoint: Where to write the state after every epoch (atomically).
        checkpoint_extra: Extra entries stored in every checkpoint (config, hash).
        resume_from: A loaded checkpoint: weights, optimiser, schedule, history and RNG state
            are restored and training continues after its epoch.
        on_epoch: Called with the history after each epoch (before the checkpoint is written).
        progress: Show a progress bar (epoch, loss, accuracy, samples/s) on stderr.

    Each record holds ``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``,
    ``val_accuracy``, ``lr``, ``samples``, ``seconds`` (the whole epoch), ``compute_seconds``
    (forward, backward, optimiser step), ``data_seconds`` (batch gathering), ``eval_seconds``,
    ``checkpoint_seconds`` (the previous epoch's checkpoint write, 0 for the first) and
    ``samples_per_s`` (training samples over the training-loop time).
    """
    x, y = train_data
    count = len(x)
    if count == 0:
        raise ValueError("the training split is empty")
    opt, schedule = make_optimizer(optimizer, net.parameters())
    weights = net.weights() if hasattr(net, "weights") else list(net.parameters())
    history: list[dict] = []
    start_epoch = 0
    if resume_from is not None:
        net.load_state_dict(resume_from["model"])
        opt.load_state_dict(resume_from["optimizer"])
        schedule.load_state_dict(resume_from["schedule"])
        torch.set_rng_state(resume_from["torch_rng"])
        history = list(resume_from["history"])
        start_epoch = int(resume_from["epoch"])
    extra = dict(checkpoint_extra or {})
    batch = train.batch_size
    batches = -(-count // batch)
    checkpoint_seconds = 0.0
    net.train()
    for epoch in range(start_epoch + 1, train.epochs + 1):
        began = time.perf_counter()
        order = epoch_order(train.seed, epoch, count, device=x.device)
        loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
        correct = torch.zeros((), dtype=torch.int64, device=x.device)
        compute = data = 0.0
        bar = tqdm(
            total=batches,
            desc=f"epoch {epoch}/{train.epochs}",
            disable=not progress,
            leave=False,
            mininterval=0.5,
            unit="batch",
        )
        last_postfix = began
        for step in range(batches):
            t0 = time.perf_counter()
            index = order[step * batch : (step + 1) * batch]
            xb, yb = x.index_select(0, index), y.index_select(0, index)
            t1 = time.perf_counter()
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            penalty = l2_penalty(weights, optimizer.l2)
            total = loss if penalty is None else loss + penalty
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            schedule.step()
            with torch.no_grad():
                loss_sum += loss.detach().double() * len(index)
                correct += (logits.argmax(dim=1) == yb).sum()
            t2 = time.perf_counter()
            data += t1 - t0
            compute += t2 - t1
            bar.update(1)
            if progress and t2 - last_postfix > 1.0:
                last_postfix = t2
                done = min((step + 1) * batch, count)
                bar.set_postfix(
                    loss=f"{loss_sum.item() / done:.4f}",
                    acc=f"{correct.item() / done:.4f}",
                    samples_s=f"{done / (t2 - began):.0f}",
                    refresh=False,
                )
        bar.close()
        loop = time.perf_counter() - began
        t3 = time.perf_counter()
        val = (
            evaluate(net, *validation, batch_size=train.eval_batch_size)
            if validation is not None and len(validation[0])
            else None
        )
        eval_seconds = time.perf_counter() - t3
        record = {
            "epoch": epoch,
            "train_loss": loss_sum.item() / count,
            "train_accuracy": correct.item() / count,
            "val_loss": None if val is None else val.loss,
            "val_accuracy": None if val is None else val.accuracy,
            "lr": opt.param_groups[0]["lr"],
            "samples": count,
            "seconds": time.perf_counter() - began + checkpoint_seconds,
            "compute_seconds": compute,
            "data_seconds": data,
            "eval_seconds": eval_seconds,
            "checkpoint_seconds": checkpoint_seconds,
            "samples_per_s": count / loop,
        }
        history.append(record)
        if progress:
            shown = f"loss {record['train_loss']:.4f}  acc {record['train_accuracy']:.4f}"
            if val is not None:
                shown += f"  val_loss {val.loss:.4f}  val_acc {val.accuracy:.4f}"
            tqdm.write(
                f"epoch {epoch}/{train.epochs}  {shown}  {record['samples_per_s']:.0f} samples/s"
            )
        if on_epoch is not None:
            on_epoch(history)
        if checkpoint is not None:
            t4 = time.perf_counter()
            save_checkpoint(checkpoint, _state(net, opt, schedule, epoch, history, train, extra))
            checkpoint_seconds = time.perf_counter() - t4
    return history
