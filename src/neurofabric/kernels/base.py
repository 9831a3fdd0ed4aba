"""The kernel protocol: how a sparse junction's product ``y = x · (W ⊙ M)ᵀ`` is computed.

A kernel never changes *what* is stored — one weight per edge, in the junction's canonical
order — only *how* it multiplies. ``prepare`` builds whatever index tensors it needs once, on
the CPU; the module registers them as non-persistent buffers, so ``.to(device)`` moves them
and checkpoints never contain them.

Shape legend: ``b`` batch (all leading dimensions flattened), ``i`` in_features,
``o`` out_features, ``e`` edges (nnz), ``k`` fan-in, ``g`` blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import torch

from neurofabric.topology.junction import Junction

Plan = Mapping[str, torch.Tensor]


class Kernel(Protocol):
    """A way to multiply by a sparse junction, with its own forward and backward.

    A kernel whose class sets ``fuses_bias = True`` also takes ``bias=`` in ``__call__`` and
    adds it inside its product (as ``nn.Linear``'s ``addmm`` does); the others leave the bias
    to the caller.

    A kernel may also define ``bind(plan, junction)``: whatever a module's repeated calls
    share worked out once (after ``prepare`` and each time the plan's tensors are replaced),
    as a callable ``(x, weight, bias) → (b, o)`` output with the bias added, or ``None``
    where these operands do not suit it; ``bind`` itself returns ``None`` when it has
    nothing to bind. Either way the module then calls the kernel. For a small layer the
    per-call work is most of its cost.
    """

    name: str

    def supports(self, junction: Junction) -> bool:
        """Whether this kernel can run ``junction`` (e.g. ``gather`` needs constant fan-in)."""
        ...

    def prepare(self, junction: Junction) -> dict[str, torch.Tensor]:
        """Build the index tensors this kernel needs, once (CPU tensors)."""
        ...

    def __call__(
        self, x: torch.Tensor, weight: torch.Tensor, plan: Plan, junction: Junction
    ) -> torch.Tensor:
        """Return ``x · (W ⊙ M)ᵀ`` for ``x`` of shape ``(b, i)``: ``(b, o)``, no bias."""
        ...
