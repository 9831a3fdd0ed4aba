"""The reference kernel: materialise the dense masked weight and call ``F.linear``.

Slow and obviously right — the living definition every other kernel is tested against,
forward and backward. Never the fast path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neurofabric.kernels.base import Plan
from neurofabric.topology.junction import Junction


def dense_weight(weight: torch.Tensor, plan: Plan, junction: Junction) -> torch.Tensor:
    """Scatter the ``(e,)`` edge weights into a dense ``(o, i)`` matrix (differentiable)."""
    dense = weight.new_zeros(junction.out_features * junction.in_features)
    dense = dense.index_put((plan["flat_index"],), weight)
    return dense.view(junction.out_features, junction.in_features)


class ReferenceKernel:
    name = "reference"

    def supports(self, junction: Junction) -> bool:
        return True

    def prepare(self, junction: Junction) -> dict[str, torch.Tensor]:
        flat = junction.dst.astype("int64") * junction.in_features + junction.src
        return {"flat_index": torch.from_numpy(flat)}

    def __call__(
        self, x: torch.Tensor, weight: torch.Tensor, plan: Plan, junction: Junction
    ) -> torch.Tensor:
        return F.linear(x, dense_weight(weight, plan, junction))
