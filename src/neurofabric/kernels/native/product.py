"""``y = x · (W ⊙ M)ᵀ + bias`` on the native passes, with its backward: one autograd function
for every kernel whose pattern is CSR-shaped (``csr``; ``gather``, whose rows all have ``k``
edges).

Shape legend: ``b`` batch, ``i`` in_features, ``o`` out_features, ``e`` edges (nnz).

The layer holds the pattern's canonical rows ``crow`` ``(o + 1,)`` over the edges' sources
``col`` ``(e,)`` — one index per edge — and the transposed row pointer ``transpose_crow``
``(i + 1,)``. The backward derives the transposed edges that ``∂L/∂x`` sums over in one
counting-sort pass (``passes.transpose_edges``) and drops them after: with a constant fan-in
``divisor`` the transposed order and the weights gathered through it (the bag sum reads each
edge's output neuron off its number, ``order // divisor``), else the weights and output
neurons written straight into transposed order. Outputs and ``∂L/∂x`` are batch-major and
contiguous, like ``nn.Linear``'s. One sample needs no layout: its forward is one dot product
per output (``passes.row_dots``; at inference without an autograd node) and its backward the
``e`` products in one pass.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from neurofabric.kernels.native import passes


def applies(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, index) -> bool:
    """Whether :func:`product` runs these operands: float32 on the CPU, a batch of at least
    one, contiguous weights (and bias), int32 indices, the library available."""
    operands = (x, weight, index) if bias is None else (x, weight, bias, index)
    return (
        x.shape[0] >= 1
        and weight.is_contiguous()
        and (bias is None or bias.is_contiguous())
        and passes.usable(*operands)
    )


class _NativeProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, crow, col, transpose_crow, divisor):
        ctx.divisor = divisor
        ctx.has_bias = bias is not None
        ctx.one_sample = x.shape[0] == 1
        if ctx.one_sample:  # one dot product per output, no layout copies
            x = x.contiguous()
            ctx.save_for_backward(x, weight, crow, col, transpose_crow)
            return passes.row_dots(x, col, weight, offsets=crow, bias=bias)
        x_rows = passes.feature_major(x)  # (i, b), a view if x already is
        ctx.save_for_backward(x_rows, weight, crow, col, transpose_crow)
        o = crow.numel() - 1
        return passes.bag_sum(x_rows, col, weight, o, offsets=crow, bias=bias, batch_major=True)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        x_rows, weight, crow, col, transpose_crow = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
        grad_bias = grad_output.sum(0) if need_bias and ctx.has_bias else None
        if ctx.one_sample:  # x itself, (1, i): the e products in one pass, no transposed order
            grad_x, grad_weight = passes.row_dots_backward(
                grad_output.contiguous(),
                x_rows,
                col,
                weight,
                offsets=crow,
                input_gradient=need_x,
                weight_gradient=need_weight,
            )
            return grad_x, grad_weight, grad_bias, *[None] * 4
        grad_rows = passes.feature_major(grad_output)  # (o, b)
        grad_x = grad_weight = None
        if need_x:  # the transposed edges (e,), derived here and dropped after
            if ctx.divisor:  # order, then weights through it: faster than writing two arrays
                _, _, order = passes.transpose_edges(
                    crow, col, transpose_crow, rows=False, order=True
                )
                transposed_weight, source = passes.take(weight, order), order
            else:
                transposed_weight, source, _ = passes.transpose_edges(
                    crow, col, transpose_crow, weight
                )
            grad_x = passes.bag_sum(
                grad_rows,
                source,
                transposed_weight,
                x_rows.shape[0],
                offsets=transpose_crow,
                divisor=ctx.divisor,
                batch_major=True,
            )  # (b, i)
        if need_weight:
            grad_weight = passes.edge_gradient(grad_rows, x_rows, col, offsets=crow)
        return grad_x, grad_weight, grad_bias, *[None] * 4


def product(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    *,
    crow: torch.Tensor,
    col: torch.Tensor,
    transpose_crow: torch.Tensor,
    divisor: int = 0,
) -> torch.Tensor:
    """``(b, o)``: ``x`` ``(b, i)`` times the pattern's weights, plus ``bias``; check
    :func:`applies` first. ``divisor``: the constant fan-in, if every row has it."""
    if x.shape[0] == 1 and not (
        torch.is_grad_enabled()
        and (x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad))
    ):  # inference on one sample: the pass alone, without an autograd node around it
        return passes.row_dots(x.contiguous(), col, weight, offsets=crow, bias=bias)
    return _NativeProduct.apply(x, weight, bias, crow, col, transpose_crow, divisor)
