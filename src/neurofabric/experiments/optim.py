"""The papers' optimiser (SPEC §7): Keras-style Adam with per-batch decay, or SGD; L2 on weights."""

from __future__ import annotations

import torch

from neurofabric.experiments.config import OptimizerConfig

__all__ = ["keras_decay", "l2_penalty", "make_optimizer"]


def keras_decay(decay: float):
    """The LambdaLR factor of Keras' decay: ``lr_t = lr / (1 + decay · iterations)``.

    Example:
        >>> keras_decay(1e-5)(100_000)
        0.5
    """

    def factor(iterations: int) -> float:
        return 1.0 / (1.0 + decay * iterations)

    return factor


def make_optimizer(
    config: OptimizerConfig, parameters
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """The optimiser of ``config`` and its per-batch learning-rate schedule.

    Step the scheduler once after every batch (the Keras decay counts iterations, not epochs).
    L2 is not weight decay here: it is the ``λ‖w‖²`` loss term of :func:`l2_penalty`, whose
    gradient ``2λw`` then passes through Adam's scaling as in Keras.
    """
    parameters = list(parameters)
    if config.name == "adam":
        optimizer = torch.optim.Adam(
            parameters, lr=config.lr, betas=tuple(config.betas), eps=config.eps
        )
    else:
        optimizer = torch.optim.SGD(
            parameters, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov
        )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, keras_decay(config.decay))
    return optimizer, schedule


def l2_penalty(weights: list[torch.Tensor], l2: float) -> torch.Tensor | None:
    """``λ · Σ w²`` over the edge weights (``None`` when ``λ = 0``, so nothing is computed)."""
    if l2 == 0 or not weights:
        return None
    return l2 * sum(w.pow(2).sum() for w in weights)
