"""The ``gather`` kernel: junctions where every output neuron has the same fan-in ``k``.

Shape legend: ``b`` batch, ``i`` in_features, ``o`` out_features, ``e`` edges (nnz = o·k),
``k`` fan-in, ``c`` batch columns per chunk.

In canonical edge order the junction's ``src`` reshaped to ``(o, k)`` *is* the gather table,
and ``weight.view(o, k)`` lines up with it, so

    y[:, j] = Σ_k  w[j, k] · x[:, table[j, k]]

is a weighted ``F.embedding_bag`` over the rows of ``xᵀ`` (one bag per output neuron). The
custom backward (``embedding_bag``'s own backward reaches about 0.01 of the ideal speed-up,
SPEC §11) computes

- ``∂L/∂x`` with the same bag sum over the *transposed* pattern: bags are input neurons, rows
  are ``∂L/∂yᵀ``, per-sample weights ``w`` in transposed edge order;
- ``∂L/∂w`` as the ``e`` sampled dot products ``Σ_b ∂L/∂y[b, dst] · x[b, src]``
  (``torch.sparse.sampled_addmm``), never a ``(e, b)`` tensor.

Layout (torch passes): ``embedding_bag`` gathers rows, so the kernel works feature-major.
``x`` is transposed once to ``(i, b)`` (saved for the backward in place of ``x``), the batch is
processed ``c`` columns at a time so the gathered rows stay in cache, and the ``(b, o)`` result
is returned as the transposed view of an ``(o, b)`` tensor; call ``.contiguous()`` if a
batch-major copy is needed. Batch 1 is a matrix-vector product, where MKL's CSR ``mv`` over the
same table beats the bag sum; its backward scatter-adds the ``e`` products and needs no
transposed order.

Native passes: for float32 on the CPU the product runs
:mod:`neurofabric.kernels.native.product` (shared with ``csr``; the rows all have ``k``
edges, and the transposed pass reads each edge's output neuron off its number by an exact
multiply-shift division, so no transposed column index is derived; one sample runs one dot
product per output and a one-pass backward instead): C passes compiled on first
use, called on torch's own OpenMP threads, the bias added as the forward sums (the kernel
``fuses_bias``), outputs and ``∂L/∂x`` batch-major and contiguous like ``nn.Linear``'s. The
torch passes above are their twins and run everywhere else (float64, CUDA, ``torch.compile``,
no C compiler, ``NEUROFABRIC_NATIVE=0``), with results equal to rounding.

Measured on a 2-core AMD EPYC VM with the torch passes (2 threads, 4096², density 1/16,
float32, best of repeated runs): batch 256 forward 7.4 ms, forward + backward 31 ms against
162 ms for dense ``F.linear`` (0.33 of the ideal speed-up; SPEC §11 reports 0.27 for this
method) and 150 ms for ``torch.sparse.mm`` with builtin autograd; batch-1 forward 0.17 ms with
``mv`` against 2.9 ms for ``F.linear`` (the bag sum takes 4.3 ms there, ``index_select`` +
multiply + sum 0.72 ms). On a 2-core AVX-512 Xeon VM, where MKL runs the dense GEMM near peak,
the torch passes take 51–62 ms per step (``sampled_addmm`` for ``∂L/∂w`` 27–29 of them); the
native passes take 6.7–12 ms each (``benchmarks/native_passes.py``) and ``neurofabric
bench``'s step 27–38 ms against 109–137 ms for ``nn.Linear`` (this VM's timings move by up to
2× within an hour). What bounds the passes is the L2 cache's bandwidth for the gathered rows:
every edge reads a 256-byte chunk of a random row, once per pass and per 64 batch columns.

Memory: the layer holds the table, one int32 per edge, and two row pointers (``o + 1`` and
``i + 1``). ``∂L/∂x`` needs the transposed edge order: each backward derives it and drops it
after (:func:`~neurofabric.kernels._sparse.transposed_edges`), so training holds no more
indices than inference. On the CPU that is one native counting-sort pass over the known
fan-outs (1.4–2.4 ms at 4096², density 1/16, on the 2-core EPYC VM, against 4.7–6.2 for a
stable ``torch.sort``, ``benchmarks/native_passes.py``; keeping the order from step to step
saved about 1 ms of ``neurofabric bench``'s 18 ms step);
elsewhere a stable sort. The transposed ``dst`` is read off the order (``order // k``, a shift
when ``k`` is a power of two) instead of being stored. Peak extra memory of one forward +
backward at 8192², density 1/16, batch 256: 173 MB (``F.linear``: 318 MB, ``dense``: 576 MB).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from neurofabric.kernels._sparse import (
    as_index,
    csr,
    edge_gradient,
    index_dtype,
    transpose_offsets,
    transposed_edges,
)
from neurofabric.kernels.base import Plan
from neurofabric.kernels.native import product as native
from neurofabric.topology.junction import Junction

#: Bytes of gathered source rows kept hot per chunk (about half an L2 cache).
CHUNK_BYTES = 1 << 20


def _columns_per_chunk(rows: int, element_size: int) -> int:
    return max(16, CHUNK_BYTES // max(1, rows * element_size))


def bag_sum(
    indices: torch.Tensor,
    offsets: torch.Tensor | None,
    weights: torch.Tensor,
    rows: torch.Tensor,
    bags: int,
    *,
    batch_major: bool = True,
) -> torch.Tensor:
    """``out[:, j] = Σ_{e ∈ bag j} weights[e] · rows[indices[e], :]``: ``(n, b) → (b, bags)``.

    ``rows`` is the source feature-major (one row of ``b`` values per neuron); ``indices`` and
    ``weights`` are ``(bags, k)`` with ``offsets=None``, or flat ``(e,)`` with the
    ``(bags + 1,)`` bag pointer ``offsets``. The result is contiguous if ``batch_major``, else
    the transposed view of a ``(bags, b)`` tensor (one copy fewer).
    """
    n, b = rows.shape
    out = rows.new_empty(b, bags) if batch_major else rows.new_empty(bags, b)
    step = _columns_per_chunk(n, rows.element_size())
    for start in range(0, b, step):
        sums = F.embedding_bag(
            indices,
            rows[:, start : start + step],  # (n, c)
            offsets,
            mode="sum",
            per_sample_weights=weights,
            include_last_offset=offsets is not None,
        )  # (bags, c)
        if batch_major:
            out[start : start + step] = sums.t()
        else:
            out[:, start : start + step] = sums
    return out if batch_major else out.t()


def _row_of(edge: torch.Tensor, k: int) -> torch.Tensor:
    """Output neuron of each canonical edge index: ``edge // k`` (a shift when k = 2^n)."""
    if k & (k - 1) == 0:
        return torch.bitwise_right_shift(edge, k.bit_length() - 1)
    return torch.div(edge, k, rounding_mode="floor")


class _GatherFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, table, crow, offsets):
        o, k = table.shape
        x_rows = x.t().contiguous()  # (i, b): transposed once, reused by every chunk and ∂L/∂w
        ctx.save_for_backward(x_rows, weight, table, crow, offsets)
        if x.shape[0] == 0 or k == 0:
            return x.new_zeros(x.shape[0], o)
        if x.shape[0] == 1:
            matrix = csr(crow, table.view(-1), weight, (o, x.shape[1]))
            return torch.mv(matrix, x_rows[:, 0]).unsqueeze(0)
        return bag_sum(table, None, weight.view(o, k), x_rows, o, batch_major=False)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        x_rows, weight, table, crow, offsets = ctx.saved_tensors
        (o, k), (i, b) = table.shape, x_rows.shape
        need_x, need_weight = ctx.needs_input_grad[:2]
        if b == 0 or k == 0:
            grad_x = x_rows.new_zeros(b, i) if need_x else None
            return grad_x, torch.zeros_like(weight) if need_weight else None, *[None] * 3
        grad_rows = grad_output.t().contiguous()  # (o, b)
        grad_x = grad_weight = None
        if need_x and b == 1:  # scatter-add the e products: no transposed order needed
            products = weight.view(o, k) * grad_rows  # (o, k)
            grad_x = x_rows.new_zeros(1, i)
            grad_x[0].index_add_(0, table.view(-1), products.view(-1))
        elif need_x:
            order, _ = transposed_edges(crow, table.view(-1), offsets)  # (e,), this call only
            transposed_weight = weight.index_select(0, order)
            grad_x = bag_sum(
                _row_of(order, k), offsets, transposed_weight, grad_rows, i, batch_major=False
            )
        if need_weight and b == 1:
            gathered = x_rows[:, 0].index_select(0, table.view(-1)).view(o, k)
            grad_weight = gathered.mul_(grad_rows).view(-1)
        elif need_weight:
            grad_weight = edge_gradient(crow, table.view(-1), grad_rows, x_rows)
        return grad_x, grad_weight, None, None, None


class GatherKernel:
    """Constant fan-in junctions as weighted bag sums, custom backward: native C passes for
    float32 on the CPU, ``F.embedding_bag`` and ``sampled_addmm`` elsewhere."""

    name = "gather"
    #: The native forward adds the bias as it sums; the torch passes add it afterwards.
    fuses_bias = True

    def supports(self, junction: Junction) -> bool:
        return junction.has_constant_fan_in

    def prepare(self, junction: Junction) -> dict[str, torch.Tensor]:
        o, i, e = junction.out_features, junction.in_features, junction.nnz
        dtype = index_dtype(i, o, e + 1)
        return {
            "table": as_index(junction.fan_in_table(), dtype),  # (o, k)
            "crow": as_index(junction.indptr, dtype),  # (o + 1,)
            "transpose_offsets": as_index(transpose_offsets(junction), dtype),  # (i + 1,)
        }

    def bind(self, plan: Plan, junction: Junction) -> native.NativePattern | None:
        """The plan bound for the native product, or ``None`` if its passes cannot run it."""
        table, crow, offsets = plan["table"], plan["crow"], plan["transpose_offsets"]
        if not native.usable(table, crow, offsets):
            return None
        return native.NativePattern(crow, table.view(-1), offsets, divisor=table.shape[1])

    def __call__(
        self,
        x: torch.Tensor,
        weight: torch.Tensor,
        plan: Plan,
        junction: Junction,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        table, crow, offsets = plan["table"], plan["crow"], plan["transpose_offsets"]
        if native.applies(x, weight, bias, table):  # rows of k edges; dst = order // k
            return native.product(
                x,
                weight,
                bias,
                crow=crow,
                col=table.view(-1),
                transpose_crow=offsets,
                divisor=table.shape[1],
            )
        output = _GatherFunction.apply(x, weight, table, crow, offsets)
        return output if bias is None else output + bias
