"""The ``blockdiag`` kernel: a cascade stage ``y = Q · blockdiag(B_1 … B_g) · P · x`` as one bmm.

Shape legend: ``b`` batch, ``i`` in_features, ``o`` out_features, ``e`` edges (nnz),
``g`` blocks, ``bi``/``bo`` block input/output width.

A junction carrying a :class:`~neurofabric.topology.blocks.BlockStructure` needs no index
tensors for its activations: the grid permutations ``P`` (``input_order``) and ``Q``
(``output_order``) are reshape + permute copies, never ``x[:, perm]`` gathers (3.5–5× slower,
SPEC §11), and the blocks are one ``torch.bmm`` over ``(g, b, bi) @ (g, bi, bo)``. The
``(g, b, bi)`` operand is a strided view of the ``(b, g·bi)`` activations, which ``bmm`` reads
without a copy. The custom backward keeps every ``bmm`` operand in a layout with unit stride
(under plain autograd the permutes hand ``bmm`` strided gradients, which take a slow path).

Weights arrive as the junction's ``(e,)`` canonical edge vector, sorted by output neuron, then
input neuron. With no output order and sorted block inputs (identity or shuffle input orders,
as every generator makes) that is already the block order and ``weight.view(g, bo, bi)`` is
free; otherwise the plan holds ``block_order``, the canonical index of every block entry, and
only the weight vector (never the activations) is gathered.

Diagonal (trainable identity skip) stages are not supported: their extra edges are outside
the blocks.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from neurofabric.kernels import block_chain
from neurofabric.kernels.base import Plan
from neurofabric.kernels.native import passes
from neurofabric.topology.blocks import BlockStructure, GridPermutation
from neurofabric.topology.junction import Junction

Grid = tuple[tuple[int, ...], tuple[int, ...]]


def simplify(order: GridPermutation | None) -> Grid | None:
    """The same permutation on the fewest grid axes, or ``None`` for the identity.

    Axes of size 1 are dropped and axes that stay adjacent and in order are merged, so e.g.
    ``((8, 1, 2), (0, 2, 1))`` is the identity and ``((4, 2, 8), (2, 0, 1))`` a 2-D transpose
    of ``(8, 8)``.
    """
    if order is None:
        return None
    kept = [a for a in range(len(order.shape)) if order.shape[a] > 1]
    rank = {axis: r for r, axis in enumerate(kept)}
    sizes = [order.shape[a] for a in kept]
    groups: list[list[int]] = []  # runs of input axes that move together, in output order
    for r in (rank[a] for a in order.axes if order.shape[a] > 1):
        if groups and r == groups[-1][-1] + 1:
            groups[-1].append(r)
        else:
            groups.append([r])
    if len(groups) <= 1:
        return None
    by_input = sorted(range(len(groups)), key=lambda index: groups[index][0])
    shape = tuple(int(np.prod([sizes[r] for r in groups[index]])) for index in by_input)
    axes = tuple(by_input.index(index) for index in range(len(groups)))
    return shape, axes


def permute_features(t: torch.Tensor, grid: Grid | None) -> torch.Tensor:
    """Apply a simplified grid permutation to the last axis of ``t`` ``(b, n)``: ``(b, n)``."""
    if grid is None:
        return t
    shape, axes = grid
    b, n = t.shape
    return t.reshape(b, *shape).permute(0, *(1 + a for a in axes)).reshape(b, n)


def to_blocks(t: torch.Tensor, grid: Grid | None, blocks: int) -> torch.Tensor:
    """``(b, n)`` neurons → ``(g, b, n/g)`` block operand (a view when ``grid`` is ``None``)."""
    b, n = t.shape
    return permute_features(t, grid).reshape(b, blocks, n // blocks).transpose(0, 1)


def from_blocks(t: torch.Tensor, grid: Grid | None) -> torch.Tensor:
    """``(g, b, w)`` block result → ``(b, g·w)`` neurons, contiguous."""
    g, b, w = t.shape
    flat = t.transpose(0, 1).reshape(b, g * w)
    return permute_features(flat, grid).contiguous()


def block_order(structure: BlockStructure, junction: Junction) -> np.ndarray:
    """``(g·bo·bi,)`` canonical edge index of every block entry ``(g, o, i)``."""
    g, bi, bo = structure.blocks, structure.block_in, structure.block_out
    feeds = np.arange(structure.in_features)
    if structure.input_order is not None:
        feeds = structure.input_order.indices()
    neuron_at = np.arange(structure.out_features)  # output neuron at each block position
    if structure.output_order is not None:
        neuron_at = np.empty_like(neuron_at)
        neuron_at[structure.output_order.indices()] = np.arange(structure.out_features)
    src = feeds.reshape(g, 1, bi)
    dst = neuron_at.reshape(g, bo, 1)
    key = (dst * junction.in_features + src).reshape(-1)
    canonical = junction.dst * junction.in_features + junction.src
    return np.searchsorted(canonical, key)


class _BlockFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, order, shape, input_grid, output_grid):
        g, bo, bi = shape
        blocks = (weight if order is None else weight.index_select(0, order)).view(g, bo, bi)
        xb = to_blocks(x, input_grid, g)  # (g, b, bi)
        ctx.save_for_backward(xb, blocks, order)
        ctx.grids = input_grid, output_grid  # inverted in the backward (cached)
        return from_blocks(torch.bmm(xb, blocks.transpose(1, 2)), output_grid)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        xb, blocks, order = ctx.saved_tensors
        input_grid, output_grid = ctx.grids
        g = blocks.shape[0]
        inverse_output = _inverse(output_grid)
        grad_blocks = to_blocks(grad_output, inverse_output, g).contiguous()  # (g, b, bo)
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = from_blocks(torch.bmm(grad_blocks, blocks), _inverse(input_grid))
        if ctx.needs_input_grad[1]:
            grad = torch.bmm(grad_blocks.transpose(1, 2), xb.contiguous()).reshape(-1)
            grad_weight = (
                grad if order is None else torch.empty_like(grad).index_copy_(0, order, grad)
            )
        return grad_x, grad_weight, None, None, None, None


@functools.lru_cache(maxsize=1024)
def _inverse(grid: Grid | None) -> Grid | None:
    """The simplified grid's inverse (grids are tuples of ints: cached, as layers reuse few)."""
    if grid is None:
        return None
    inverse = GridPermutation(*grid).inverse()
    return inverse.shape, inverse.axes


class BlockDiagKernel:
    """Block-structured cascade stages as one batched matmul framed by reshape/permute."""

    name = "blockdiag"

    def supports(self, junction: Junction) -> bool:
        return junction.blocks is not None and not junction.blocks.diagonal

    def prepare(self, junction: Junction) -> dict[str, torch.Tensor]:
        if not self.supports(junction):
            return {}
        order = block_order(junction.blocks, junction)
        if np.array_equal(order, np.arange(order.size)):
            return {}
        return {"block_order": torch.from_numpy(order.astype(np.int64))}

    def bind(self, plan: Plan, junction: Junction) -> BoundBlocks:
        """The stage's shape and simplified grids worked out once, for repeated calls."""
        return BoundBlocks(plan, junction)

    def __call__(
        self, x: torch.Tensor, weight: torch.Tensor, plan: Plan, junction: Junction
    ) -> torch.Tensor:
        return BoundBlocks(plan, junction)(x, weight)


class BoundBlocks:
    """A block-structured junction's product with everything but the operands worked out:
    the block shape and the simplified input and output grids (a small layer's call spent
    tens of microseconds simplifying them)."""

    __slots__ = ("order", "shape", "grids")

    def __init__(self, plan: Plan, junction: Junction) -> None:
        structure = junction.blocks
        self.order = plan.get("block_order")
        self.shape = (structure.blocks, structure.block_out, structure.block_in)
        self.grids = (simplify(structure.input_order), simplify(structure.output_order))

    def __call__(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(b, o)`` for ``x`` ``(b, i)``, plus ``bias``."""
        operands = (x, weight) if bias is None else (x, weight, bias)
        if not (torch.is_grad_enabled() and any(t.requires_grad for t in operands)):
            return self.infer(x, weight, bias)
        y = _BlockFunction.apply(x, weight, self.order, self.shape, *self.grids)
        return y if bias is None else y + bias

    def infer(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The product without an autograd node: at inference the ``Function``'s Python cost
        a small stage's forward more than its ``bmm`` [meas: 47 of 104 µs at 1024², blocks
        8 wide, batch 1]. One sample on the CPU in float32 runs the native block product
        (``blocks.c``, one C call reading the input at the grid's strides) instead of
        ``bmm``, whose dispatch costs more than a one-sample stage's arithmetic."""
        g, bo, bi = self.shape
        input_grid, output_grid = self.grids
        blocks = (weight if self.order is None else weight.index_select(0, self.order)).view(
            g, bo, bi
        )
        xb = to_blocks(x, input_grid, g)  # (g, b, bi)
        if x.shape[0] == 1:
            fused = bias if output_grid is None else None  # else added after the permutation
            columns = xb.transpose(1, 2)  # (g, bi, 1)
            if block_chain.native_product_applies(blocks, columns, fused):
                y = passes.block_product(blocks, columns, fused).view(1, g * bo)
                y = permute_features(y, output_grid)
                return y if fused is not None or bias is None else y + bias
        y = from_blocks(torch.bmm(xb, blocks.transpose(1, 2)), output_grid)
        return y if bias is None else y + bias
