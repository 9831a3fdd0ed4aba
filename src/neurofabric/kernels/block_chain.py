"""A chain of block-structured stages run as batched matmuls, with no index tensors (SPEC §4, §11).

Every stage of a Clos, Monarch, block-shuffle, butterfly or Beneš cascade is
``y = Q · blockdiag(B_1 … B_g) · P · x`` with grid permutations ``P``, ``Q``
(:class:`~neurofabric.topology.blocks.BlockStructure`). This module runs a whole chain of them.

**Layout.** Between stages the activations stay *feature-major*: a ``(n, b)`` matrix whose rows
are the layer's neurons, held as the ``(g, o, b)`` grid the last batched matmul wrote. A grid
permutation then only moves whole rows of ``b`` contiguous values. The perfect shuffle of a
Clos, Monarch or block-shuffle cascade is no copy at all: ``z.transpose(0, 1)`` is already a
batch of ``(i, b)`` matrices with unit stride, which ``torch.bmm`` reads in place. Any other
grid permutation (butterfly digits, output orders, block widths that straddle the previous
grid) is a ``reshape``/``permute`` that copies whole rows once — never ``x[:, perm]``. The
first stage reads the ``(b, i)`` input through a transposed view; the last writes the ``(b, o)``
output in one pass that also adds the bias; the input gradient costs one such pass too.

**Autograd.** A chain without activations is one :class:`torch.autograd.Function` (with
activations between stages, one per stage, and autograd differentiates the activations; none
when no gradient is needed). A stage's backward is two ``bmm`` calls on the same strided views
and hands the previous stage its gradient laid out like that stage's output, so no operand
ever reaches ``bmm`` without a unit stride (SPEC §11: under plain autograd a shuffle can hand
``bmm`` such a gradient, which takes a slow path). Below :data:`SMALL_BATCH` the products run
transposed, with the batch as the row dimension, where BLAS is several times faster.

**One sample** (float32, CPU) runs on the native block product (``native/blocks.c``), which
reads a stage's input at the strides of its grid permutation; at inference, a chain whose
stages all read their input that way (Clos, block-shuffle; not stages with an output order)
runs in a single native call (:attr:`BlockChainPlan.vector_chain`).

**Weights** arrive as the junction's ``(e,)`` canonical edge vector (sorted by output neuron,
then input neuron). Without an output order, and when every block reads its inputs in
increasing order (Clos networks; block-shuffle stages whose block width divides the previous
stage's group count), that *is* the block order: ``weight.view(g, o, i)``. With an output order
``Q`` (butterfly, Beneš, Monarch) it is ``Q`` applied to the rows of the block weights, undone
by a reshape and a permute. Only blocks that read their inputs out of order need a
precomputed permutation of the weight vector — of weights only, never of activations.

Shape legend: ``b`` batch, ``n`` neurons of a layer, ``g`` blocks, ``i``/``o`` block input /
output width, ``e`` edges.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from neurofabric.kernels.native import passes
from neurofabric.topology.blocks import GridPermutation
from neurofabric.topology.junction import Junction
from neurofabric.topology.topology import Topology

WeightOrder = Literal["view", "rows", "index"]


@dataclass(frozen=True)
class ChainStage:
    """One stage of a block chain: ``g`` blocks ``o × i``, its orders and its identity skip.

    Attributes:
        blocks: ``g``.
        block_in: ``i``.
        block_out: ``o``.
        input_order: ``P`` (``None`` when it is the identity).
        output_order: ``Q`` (``None`` when it is the identity).
        weight_order: How the canonical edge vector becomes the ``(g, o, i)`` block weights:
            ``"view"`` (already in block order), ``"rows"`` (``Q⁻¹`` on its rows) or
            ``"index"`` (a precomputed permutation, see :func:`block_chain_buffers`).
        skip: A fixed identity skip adds the stage's input (first ``min(in, out)`` neurons).
        input_inverse: ``P⁻¹``, precomputed for the backward pass.
        output_inverse: ``Q⁻¹``, precomputed for the backward pass and the weights.
    """

    blocks: int
    block_in: int
    block_out: int
    input_order: GridPermutation | None
    output_order: GridPermutation | None
    weight_order: WeightOrder
    skip: bool
    input_inverse: GridPermutation | None = None
    output_inverse: GridPermutation | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output"):
            order = getattr(self, f"{name}_order")
            if order is not None and getattr(self, f"{name}_inverse") is None:
                object.__setattr__(self, f"{name}_inverse", order.inverse())

    @property
    def in_features(self) -> int:
        return self.blocks * self.block_in

    @property
    def out_features(self) -> int:
        return self.blocks * self.block_out


@dataclass(frozen=True)
class BlockChainPlan:
    """How to run a cascade as a block chain: its stages and an optional residual skip."""

    stages: tuple[ChainStage, ...]
    residual: bool

    @property
    def in_features(self) -> int:
        return self.stages[0].in_features

    @property
    def out_features(self) -> int:
        return self.stages[-1].out_features

    @functools.cached_property
    def vector_chain(self) -> passes.VectorChain | None:
        """The stages laid out to run one sample in a single native call
        (:func:`_vector_chain`): each reads the previous stage's output vector in place, its
        input order a pair of strides. ``None`` if some stage cannot: an output order, a skip,
        weights not in block order, an input order that needs a copy, or too wide a block."""
        shapes, strides = [], []
        for stage in self.stages:
            if stage.output_order is not None or stage.skip or stage.weight_order != "view":
                return None
            if not passes.block_product_fits(stage.block_in):
                return None
            probe = torch.empty(stage.in_features, 1)
            x = _to_blocks(probe, stage)
            if x.untyped_storage().data_ptr() != probe.untyped_storage().data_ptr():
                return None
            shapes.append((stage.blocks, stage.block_out, stage.block_in))
            strides.append((x.stride(0), x.stride(1)))
        return passes.VectorChain(shapes, strides)


# ----------------------------------------------------------------------------- planning
def _nontrivial(order: GridPermutation | None) -> GridPermutation | None:
    if order is None or np.array_equal(order.indices(), np.arange(order.size)):
        return None
    return order


def _block_keys(junction: Junction) -> np.ndarray:
    """``(g·o·i,)`` edge key ``dst · in + src`` of every block weight, in block order."""
    s = junction.blocks
    inputs = np.arange(s.in_features) if s.input_order is None else s.input_order.indices()
    position_to_dst = np.empty(s.out_features, dtype=np.int64)
    if s.output_order is None:
        position_to_dst[:] = np.arange(s.out_features)
    else:  # y = z[Q.indices()]: the block output at position Q.indices()[j] is neuron j
        position_to_dst[s.output_order.indices()] = np.arange(s.out_features)
    dst = position_to_dst.reshape(s.blocks, s.block_out, 1)
    src = inputs.reshape(s.blocks, 1, s.block_in)
    return (dst * s.in_features + src).reshape(-1)


def weight_permutation(junction: Junction) -> np.ndarray:
    """``(e,)`` canonical index of every block weight: ``block = weight[perm].view(g, o, i)``."""
    canonical = junction.dst * junction.in_features + junction.src
    return np.searchsorted(canonical, _block_keys(junction))


def _weight_order(junction: Junction, output_order: GridPermutation | None) -> WeightOrder:
    perm = weight_permutation(junction)
    if np.array_equal(perm, np.arange(perm.size)):
        return "view"
    if output_order is not None:
        rows = np.arange(perm.size).reshape(junction.out_features, -1)
        if np.array_equal(_permute_rows_np(rows, output_order.inverse()).reshape(-1), perm):
            return "rows"
    return "index"


def _permute_rows_np(rows: np.ndarray, order: GridPermutation) -> np.ndarray:
    k = len(order.shape)
    grid = rows.reshape(*order.shape, *rows.shape[1:])
    return grid.transpose(*order.axes, *range(k, grid.ndim)).reshape(rows.shape)


def block_chain_unsupported(topology: Topology) -> str | None:
    """Why ``topology`` cannot run as a block chain, or ``None`` when it can.

    A block chain needs junctions ``(0, 1), (1, 2), …`` only, each with a block structure and
    no trainable diagonal, and fixed identity skips only of the forms ``(s, s + 1)`` and
    ``(0, L)``.
    """
    last = topology.num_layers - 1
    if set(topology.junctions) != {(s, s + 1) for s in range(last)}:
        return "its junctions do not form a chain (0, 1), (1, 2), …"
    for key, junction in topology.junctions.items():
        if junction.blocks is None:
            return f"junction {key} has no block structure"
        if junction.blocks.diagonal:
            return f"junction {key} has a trainable identity OR-ed into its blocks"
    for source, target in topology.identity_skips:
        if target != source + 1 and (source, target) != (0, last):
            return f"identity skip {(source, target)} is neither (s, s + 1) nor (0, {last})"
    return None


def block_chain_plan(topology: Topology) -> BlockChainPlan:
    """Plan a block chain for ``topology`` (see :func:`block_chain_unsupported`).

    Raises:
        ValueError: If the topology cannot run as a block chain, saying why.

    Example:
        >>> from neurofabric.topology import clos_topology
        >>> plan = block_chain_plan(clos_topology(64, 64, groups=8, middle=8))
        >>> [(s.blocks, s.block_out, s.block_in, s.weight_order) for s in plan.stages]
        [(8, 8, 8, 'view'), (8, 8, 8, 'view'), (8, 8, 8, 'view')]
    """
    reason = block_chain_unsupported(topology)
    if reason is not None:
        raise ValueError(f"this topology cannot run as a block chain: {reason}")
    last = topology.num_layers - 1
    stages = []
    for s in range(last):
        junction = topology.junctions[(s, s + 1)]
        blocks = junction.blocks
        output_order = _nontrivial(blocks.output_order)
        stages.append(
            ChainStage(
                blocks.blocks,
                blocks.block_in,
                blocks.block_out,
                _nontrivial(blocks.input_order),
                output_order,
                _weight_order(junction, output_order),
                (s, s + 1) in topology.identity_skips,
            )
        )
    residual = last > 1 and (0, last) in topology.identity_skips
    return BlockChainPlan(tuple(stages), residual)


def block_chain_buffers(topology: Topology, plan: BlockChainPlan) -> dict[str, torch.Tensor]:
    """Index tensors of the stages with ``weight_order == "index"``: ``"weight_index_<s>"``.

    They permute *weights* only; none exist for the cascades this package generates.
    """
    return {
        f"weight_index_{s}": torch.from_numpy(weight_permutation(topology.junctions[(s, s + 1)]))
        for s, stage in enumerate(plan.stages)
        if stage.weight_order == "index"
    }


# ----------------------------------------------------------------------------- tensor helpers
def _permute_rows(rows: torch.Tensor, order: GridPermutation) -> torch.Tensor:
    """Apply ``order`` to the rows of ``(n, b)``: ``(n, b)`` (a view when strides allow)."""
    k = len(order.shape)
    grid = rows.reshape(*order.shape, *rows.shape[1:])
    return grid.permute(*order.axes, *range(k, grid.dim())).reshape(rows.shape)


def _batch_major(h: torch.Tensor) -> bool:
    """Whether a feature-major ``(…, b)`` tensor is stored batch-major (its transpose is dense)."""
    return h.shape[-1] > 1 and h.stride(-1) != 1


def _to_blocks(h: torch.Tensor, stage: ChainStage) -> torch.Tensor:
    """Neuron-major ``(*grid, b)`` -> the blocks' inputs ``(g, i, b)``, a view when possible."""
    batch = h.shape[-1]
    order = stage.input_order
    if order is None:
        return h.reshape(stage.blocks, stage.block_in, batch)
    k = len(order.shape)
    grid = h.reshape(*order.shape, batch).permute(*order.axes, k)
    return grid.reshape(stage.blocks, stage.block_in, batch)


def _from_blocks(gx: torch.Tensor, stage: ChainStage, shape: torch.Size) -> torch.Tensor:
    """Inverse of :func:`_to_blocks` for a gradient: ``(g, i, b)`` -> ``shape``."""
    batch = gx.shape[-1]
    order = stage.input_order
    if order is not None:
        inverse = stage.input_inverse
        gx = gx.reshape(*inverse.shape, batch).permute(*inverse.axes, len(inverse.shape))
    return gx.reshape(shape)


#: Below this batch size a block product runs with the batch as its row dimension: BLAS is
#: several times faster at ``(b, i) @ (i, o)`` than at ``(o, i) @ (i, b)`` for a narrow ``b``
#: (e.g. 17 vs 2 GFLOP/s at b = 1, 128 × 128 blocks; equal from b = 16 on) [meas].
SMALL_BATCH = 16


def _blas_operand(t: torch.Tensor) -> torch.Tensor:
    """``t`` if every matrix of the batch is row- or column-major, else a dense copy.

    ``torch.bmm`` hands such operands (with a dense output) to one batched BLAS call; any other
    stride sends it down a per-matrix loop that copies each operand.
    """
    size, stride = t.shape, t.stride()
    if (stride[2] == 1 and (size[1] == 1 or stride[1] >= size[2])) or (
        stride[1] == 1 and (size[2] == 1 or stride[2] >= size[1])
    ):
        return t
    return t.contiguous()


def _bmm_batch_major(
    a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """``(g, o, i) @ (g, i, b)`` (plus ``bias``, ``(g·o,)``) as a dense ``(b, g, o)`` tensor.

    The transposed product ``(g, b, i) @ (g, i, o)`` then one pass that moves whole ``o``-wide
    rows into place and adds the bias. ``torch.bmm`` cannot write the ``(b, g, o)`` layout
    itself: given a strided ``out=`` it loops over the blocks, which was as slow and, with two
    threads, up to 100× slower [meas].
    """
    z = torch.bmm(_blas_operand(b.mT), _blas_operand(a.mT))  # (g, b, o)
    out = torch.empty(z.shape[1], z.shape[0], z.shape[2], dtype=z.dtype, device=z.device)
    if bias is None:
        return out.copy_(z.transpose(0, 1))
    return torch.add(z.transpose(0, 1), bias.view(z.shape[0], z.shape[2]), out=out)


def _bmm(a: torch.Tensor, b: torch.Tensor, batch_major: bool = False) -> torch.Tensor:
    """``(g, o, i) @ (g, i, b) -> (g, o, b)``, stored ``(b, g, o)`` when ``batch_major``."""
    if batch_major:
        return _bmm_batch_major(a, b).permute(1, 2, 0)
    if b.shape[-1] < SMALL_BATCH:  # the transposed product, stored (g, b, o)
        return torch.bmm(_blas_operand(b.mT), _blas_operand(a.mT)).mT
    return torch.bmm(_blas_operand(a), _blas_operand(b))


def native_product_applies(
    weight: torch.Tensor, x: torch.Tensor, bias: torch.Tensor | None
) -> bool:
    """Whether ``passes.block_product(weight, x, bias)`` can take a stage's product, ``x``
    ``(g, i, 1)``: one sample, float32 CPU operands outside traced graphs and functorch
    transforms (whose wrapped tensors have no data pointer), contiguous blocks and bias,
    blocks it fits. There one C call beats a batched BLAS call's dispatch (at batch 2 and up
    ``torch.bmm`` was faster [meas])."""
    if torch._C._are_functorch_transforms_active():
        return False
    operands = (weight, x) if bias is None else (weight, x, bias)
    return (
        x.shape[-1] == 1
        and weight.is_contiguous()
        and (bias is None or bias.is_contiguous())
        and passes.block_product_fits(x.shape[1])
        and passes.usable(*operands)
    )


def _vector_chain(
    input: torch.Tensor,
    weights: Sequence[torch.Tensor],
    plan: BlockChainPlan,
    bias: torch.Tensor | None,
) -> torch.Tensor | None:
    """Inference on one sample in one native call (:attr:`BlockChainPlan.vector_chain`), or
    ``None`` where that does not apply and the general path runs. At a batch of one the
    stages' products are a few microseconds each; the torch ops and calls around them (views,
    one product per stage) took as long again [meas: benchmarks/native_passes.py]."""
    chain = plan.vector_chain
    if chain is None:
        return None
    tensors = (input, *weights) if bias is None else (input, *weights, bias)
    if not passes.usable(*tensors) or not all(t.is_contiguous() for t in tensors):
        return None
    out = passes.vector_chain(chain, weights, input, None if plan.residual else bias)
    if plan.residual:
        out = add_identity(out, input)
        if bias is not None:
            out = out + bias
    return out


def _outer(gz: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Weight gradient ``(g, o, b) @ (g, b, i) -> (g, o, i)``; a broadcast product at b = 1."""
    if gz.shape[-1] == 1:  # BLAS is slow at a contraction of length 1 [meas]
        return gz * x.mT
    return torch.bmm(_blas_operand(gz), _blas_operand(x.mT))


def _flat(h: torch.Tensor, features: int) -> torch.Tensor:
    return h.reshape(features, h.shape[-1])


def _flat_view(h: torch.Tensor, features: int) -> torch.Tensor | None:
    try:
        return h.view(features, h.shape[-1])
    except RuntimeError:
        return None


def _stage_forward(
    h: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stage: ChainStage,
    last: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One stage: ``(*grid_in, b) -> (*grid_out, b)``; also returns the blocks' input."""
    x = _to_blocks(h, stage)  # (g, i, b)
    if last:  # write the chain's (b, n) output directly, bias included
        order = stage.output_order
        fused = bias if order is None else None
        if native_product_applies(weight, x, fused):
            out = passes.block_product(weight, x, fused).view(1, stage.out_features)
        else:
            out = _bmm_batch_major(weight, x, fused)
        out = out.reshape(out.shape[0], stage.out_features)
        if order is not None:
            out = _permute_columns(out, order)
            if bias is not None:
                out += bias
        y = out.t()  # (n, b)
    else:
        y = (
            passes.block_product(weight, x)
            if native_product_applies(weight, x, None)
            else _bmm(weight, x)
        )
        if stage.output_order is not None:
            y = _permute_rows(_flat(y, stage.out_features), stage.output_order)
    if stage.skip:
        shared = min(stage.in_features, stage.out_features)
        y = _add_rows(y, _flat(h, stage.in_features)[:shared], stage.out_features)
    return y, x


@dataclass(frozen=True)
class _Saved:
    """What a stage's backward needs besides its saved tensors (see :func:`_save`)."""

    view_of_input: bool  # the blocks' input is a view of the stage input, which was saved
    in_shape: torch.Size
    in_batch_major: bool


def _save(h: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, _Saved]:
    """The tensor a stage keeps for its backward — the stage input ``h`` when the blocks'
    input ``x`` is a view of it, else ``x`` — and how to read it back."""
    view_of_input = x._is_view() and x._base is (h._base if h._is_view() else h)
    return (h if view_of_input else x), _Saved(view_of_input, h.shape, _batch_major(h))


def _stage_backward(
    saved: torch.Tensor,
    weight: torch.Tensor,
    gy: torch.Tensor,
    stage: ChainStage,
    info: _Saved,
    needs: tuple[bool, bool, bool],
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """Gradients of one stage for its input, block weights and bias (those ``needs`` asks
    for), from ``gy`` laid out like the stage's output; the input's gradient is laid out like
    the stage's input."""
    batch = gy.shape[-1]
    x = _to_blocks(saved, stage) if info.view_of_input else saved
    gz = gy
    if stage.output_order is not None:
        gz = _permute_rows(_flat(gy, stage.out_features), stage.output_inverse)
    gz = gz.reshape(stage.blocks, stage.block_out, batch)  # (g, o, b)
    gh = gw = gb = None
    if needs[2]:
        gb = _flat(gy, stage.out_features).sum(-1)
    if needs[1]:
        gw = _outer(gz, x)  # (g, o, i)
    if needs[0]:
        gx = _bmm(weight.transpose(1, 2), gz, info.in_batch_major)  # (g, i, b)
        gh = _from_blocks(gx, stage, info.in_shape)
        if stage.skip:
            shared = min(stage.in_features, stage.out_features)
            gh = _add_rows(gh, _flat(gy, stage.out_features)[:shared], stage.in_features)
    return gh, gw, gb


class _BlockStage(torch.autograd.Function):
    """One stage on feature-major activations: ``(*grid_in, b) -> (*grid_out, b)`` (for
    chains with an activation between stages, which autograd differentiates)."""

    @staticmethod
    def forward(ctx, h, weight, bias, stage: ChainStage, last: bool):
        y, x = _stage_forward(h, weight, bias, stage, last)
        saved, ctx.info = _save(h, x)
        ctx.save_for_backward(saved, weight)
        ctx.stage = stage
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, gy):
        saved, weight = ctx.saved_tensors
        needs = tuple(ctx.needs_input_grad[:3])
        return *_stage_backward(saved, weight, gy, ctx.stage, ctx.info, needs), None, None


class _Chain(torch.autograd.Function):
    """A whole chain without activations, ``(b, i) -> (b, o)``, as one autograd node: one
    Python call into the forward and one into the backward instead of one per stage (and a
    view node per stage), which was most of a small cascade's step [meas]."""

    @staticmethod
    def forward(ctx, input, bias, stages: tuple[ChainStage, ...], *blocks):
        h = input.t()  # (i, b): a transposed view, read in place by the first bmm
        last = len(stages) - 1
        saved, infos = [], []
        for s, (stage, block) in enumerate(zip(stages, blocks, strict=True)):
            y, x = _stage_forward(h, block, bias if s == last else None, stage, s == last)
            kept, info = _save(h, x)
            saved.append(kept)
            infos.append(info)
            h = y
        ctx.save_for_backward(*saved, *blocks)
        ctx.stages, ctx.infos = stages, infos
        return _flat(h, stages[-1].out_features).t()  # (b, o), batch-major

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        stages = ctx.stages
        depth = len(stages)
        tensors = ctx.saved_tensors
        saved, blocks = tensors[:depth], tensors[depth:]
        need_input, need_bias = ctx.needs_input_grad[:2]
        need_blocks = ctx.needs_input_grad[3:]
        grads: list[torch.Tensor | None] = [None] * depth
        gy, grad_bias = grad_output.t(), None  # (o, b), like the last stage's output
        for s in reversed(range(depth)):
            last = s == depth - 1
            needs = (s > 0 or need_input, need_blocks[s], last and need_bias)
            gy, grads[s], gb = _stage_backward(
                saved[s], blocks[s], gy, stages[s], ctx.infos[s], needs
            )
            grad_bias = gb if last else grad_bias
        grad_input = None if gy is None else gy.t()  # the first stage's input was input.t()
        return grad_input, grad_bias, None, *grads


def _permute_columns(matrix: torch.Tensor, order: GridPermutation) -> torch.Tensor:
    """Apply ``order`` to the columns of ``(b, n)``: ``(b, n)``."""
    grid = matrix.reshape(matrix.shape[0], *order.shape)
    return grid.permute(0, *(a + 1 for a in order.axes)).reshape(matrix.shape)


def _add_rows(target: torch.Tensor, rows: torch.Tensor, features: int) -> torch.Tensor:
    """Add ``(k, b)`` to the first ``k`` neurons of our own buffer ``target`` (``(*grid, b)``)."""
    if rows.shape[0] == features:
        return target.add_(rows.reshape(target.shape))
    if _flat_view(target, features) is None:  # rows that do not flatten in place: copy once
        target = target.contiguous()
    target.view(features, target.shape[-1])[: rows.shape[0]] += rows
    return target


def add_identity(total: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """``total`` plus ``source`` on the first ``min`` features of the last dimension.

    The fixed identity skip of SPEC §4.6: non-square layers share their first
    ``min(in, out)`` neurons.
    """
    shared = min(total.shape[-1], source.shape[-1])
    if shared == total.shape[-1] == source.shape[-1]:
        return total + source
    if shared == total.shape[-1]:
        return total + source[..., :shared]
    return torch.cat([total[..., :shared] + source, total[..., shared:]], dim=-1)


def _block_weight(
    weight: torch.Tensor, stage: ChainStage, index: torch.Tensor | None
) -> torch.Tensor:
    shape = (stage.blocks, stage.block_out, stage.block_in)
    if stage.weight_order == "view":
        return weight.view(shape)
    if stage.weight_order == "rows":
        rows = weight.view(stage.out_features, stage.block_in)
        return _permute_rows(rows, stage.output_inverse).reshape(shape)
    if index is None:
        raise ValueError("a stage with weight_order='index' needs its weight_index buffer")
    return weight[index].view(shape)


def block_chain(
    input: torch.Tensor,
    weights: Sequence[torch.Tensor],
    plan: BlockChainPlan,
    buffers: Mapping[str, torch.Tensor] | None = None,
    *,
    bias: torch.Tensor | None = None,
    activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Run the stages of ``plan`` on ``input``: ``(b, i) -> (b, o)``, then add ``bias``.

    Args:
        input: ``(b, in_features)``.
        weights: One ``(e_s,)`` canonical edge vector per stage.
        plan: From :func:`block_chain_plan`.
        buffers: From :func:`block_chain_buffers` (only for ``weight_order == "index"``).
        bias: ``(out_features,)``, added after the last stage (and the residual skip).
        activation: Applied between stages (not after the last); it sees ``(b, n)`` tensors.

    Returns:
        ``(b, out_features)``, contiguous.

    Example:
        >>> from neurofabric.topology import clos_topology
        >>> topology = clos_topology(16, 16, groups=4, middle=4)
        >>> plan = block_chain_plan(topology)
        >>> weights = [torch.randn(j.nnz) for j in topology.junctions.values()]
        >>> block_chain(torch.randn(3, 16), weights, plan).shape
        torch.Size([3, 16])
    """
    if input.dim() != 2 or input.shape[-1] != plan.in_features:
        raise ValueError(
            f"input must be (batch, in_features = {plan.in_features}), got {tuple(input.shape)}"
        )
    if len(weights) != len(plan.stages):
        raise ValueError(f"{len(plan.stages)} stages need as many weights, got {len(weights)}")
    buffers = buffers or {}
    batch = input.shape[0]
    differentiable = torch.is_grad_enabled() and (
        input.requires_grad
        or any(w.requires_grad for w in weights)
        or (bias is not None and bias.requires_grad)
    )
    if batch == 1 and not differentiable and activation is None:
        output = _vector_chain(input, weights, plan, bias)
        if output is not None:
            return output
    blocks = [
        _block_weight(weight, stage, buffers.get(f"weight_index_{s}"))
        for s, (stage, weight) in enumerate(zip(plan.stages, weights, strict=True))
    ]
    chain_bias = None if plan.residual else bias
    if differentiable and activation is None:
        output = _Chain.apply(input, chain_bias, plan.stages, *blocks)
    else:
        h = input.t()  # (i, b): a transposed view, read in place by the first bmm
        last = len(plan.stages) - 1
        for s, (stage, block) in enumerate(zip(plan.stages, blocks, strict=True)):
            stage_bias = chain_bias if s == last else None
            if differentiable:
                h = _BlockStage.apply(h, block, stage_bias, stage, s == last)
            else:  # inference: skip the autograd.Function machinery
                h, _ = _stage_forward(h, block, stage_bias, stage, s == last)
            if activation is not None and s != last:
                h = activation(_flat(h, stage.out_features).t()).t()
        output = _flat(h, plan.out_features).t()  # (b, o), dense: the last stage wrote it so
    if not output.is_contiguous():
        output = output.contiguous()
    if plan.residual:
        output = add_identity(output, input)
        if bias is not None:
            output = output + bias
    return output.reshape(batch, plan.out_features)
