"""torch-facing wrappers of the native passes in ``gather.c``, ``edges.c`` and ``blocks.c``
(float32, int32, CPU).

Shape legend: ``b`` batch, ``n`` rows (neurons), ``e`` edges, ``k`` fan-in.

Every matrix is feature-major — ``(n, b)``, one row per neuron, unit stride along the batch —
with a row stride chosen by :func:`row_stride`. Callers check :func:`usable` first; the
functions here assume float32 CPU tensors and int32 indices.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import torch

from neurofabric.kernels.native import library

#: Multiply-adds per extra thread below which a pass runs on the calling thread only.
WORK_PER_THREAD = 1 << 17


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the native passes can run on these tensors (and the library is available)."""
    if torch.compiler.is_compiling():  # a traced graph cannot call into ctypes
        return False
    for tensor in tensors:
        if not tensor.is_cpu or tensor.dtype not in (torch.float32, torch.int32):
            return False
    return library() is not None


def _threads(work: int) -> int:
    return max(1, min(torch.get_num_threads(), work // WORK_PER_THREAD))


def row_stride(b: int) -> int:
    """Floats between rows of a feature-major ``(n, b)`` matrix: ``b`` rounded up to whole
    64-byte lines, plus one line if that count is even. Rows whose stride is a multiple of a
    large power of two (1 KiB at ``b = 256``) all map to the same few cache sets, and the chunk
    of rows a pass gathers falls out of the L2 cache; an odd number of lines spreads them."""
    lines = -(-b // 16)
    return 16 * (lines + 1 - lines % 2)


def readable_in_place(rows: torch.Tensor) -> bool:
    """Whether a feature-major view can be read in place: unit stride along the batch, a row
    stride of an odd number of 64-byte lines, aligned, and whole vectors (``b % 16 == 0``: a
    pass reads the last chunk's vectors whole, which only a padded copy makes safe)."""
    stride = rows.stride(0)
    return (
        rows.stride(1) == 1
        and rows.shape[1] % 16 == 0
        and stride % 16 == 0
        and (stride // 16) % 2 == 1
        and rows.data_ptr() % 64 == 0
    )


def feature_major(x: torch.Tensor) -> torch.Tensor:
    """``(b, n) → (n, b)``: the transposed view if its layout suits the passes, else a copy
    with :func:`row_stride` (a view of a padded buffer)."""
    rows = x.t()
    if rows.shape[1] <= 1 or readable_in_place(rows):
        return rows
    if x.stride(1) == 1 and x.dtype == torch.float32:  # batch-major rows: the native transpose
        b, n = x.shape
        out = torch.empty(n, row_stride(b), dtype=torch.float32)  # it zeroes the padding
        library().nf_transpose(
            _threads(x.numel() // 4),
            x.data_ptr(),
            b,
            n,
            x.stride(0),
            out.data_ptr(),
            out.stride(0),
        )
        return out[:, :b]
    out = new_rows(*rows.shape)
    out.copy_(rows)
    return out


def new_rows(n: int, b: int) -> torch.Tensor:
    """A feature-major ``(n, b)`` float32 matrix with :func:`row_stride`: the ``b`` columns
    uninitialised, the padding after them zero (the passes read whole vectors, and a zero in
    either operand keeps those lanes out of every sum)."""
    buffer = torch.empty(n, row_stride(b), dtype=torch.float32)
    buffer[:, b:].zero_()
    return buffer[:, :b]


def bag_sum(
    rows: torch.Tensor,
    index: torch.Tensor,
    weight: torch.Tensor,
    bags: int,
    *,
    offsets: torch.Tensor,
    divisor: int = 0,
    bias: torch.Tensor | None = None,
    batch_major: bool = False,
) -> torch.Tensor:
    """``out[j] = bias[j] + Σ_{e ∈ bag j} weight[e] · rows[src(e)]``: feature-major
    ``(bags, b)`` with :func:`row_stride`, or a contiguous ``(b, bags)`` if ``batch_major``.

    Bags are ``[offsets[j], offsets[j+1])``; ``src(e) = index[e]``, or
    ``index[e] // divisor`` when ``divisor > 1`` (the transposed pass reads the output neuron
    off a canonical edge number).
    """
    lib = library()
    b = rows.shape[1]
    out = torch.empty(b, bags, dtype=torch.float32) if batch_major else new_rows(bags, b)
    magic = (2**64 - 1) // divisor + 1 if divisor > 1 else 0
    lib.nf_bag_sum(
        _threads(index.numel() * b),
        bags,
        offsets.data_ptr(),
        index.data_ptr(),
        magic,
        weight.data_ptr(),
        rows.data_ptr(),
        b,
        rows.stride(0),
        out.data_ptr(),
        out.stride(0),
        None if bias is None else bias.data_ptr(),
        int(batch_major),
    )
    return out


def edge_gradient(
    grad_rows: torch.Tensor,
    x_rows: torch.Tensor,
    index: torch.Tensor,
    *,
    offsets: torch.Tensor,
) -> torch.Tensor:
    """``(e,)`` ``∂L/∂w[e] = Σ_b grad_rows[j, b] · x_rows[index[e], b]`` for the edges
    ``e ∈ [offsets[j], offsets[j+1])`` of output ``j``."""
    lib = library()
    o, e, b = grad_rows.shape[0], index.numel(), x_rows.shape[1]
    out = torch.empty(e, dtype=torch.float32)
    lib.nf_edge_gradient(
        _threads(e * b),
        o,
        offsets.data_ptr(),
        index.data_ptr(),
        grad_rows.data_ptr(),
        grad_rows.stride(0),
        x_rows.data_ptr(),
        x_rows.stride(0),
        b,
        out.data_ptr(),
    )
    return out


def row_dots(
    x: torch.Tensor,
    index: torch.Tensor,
    weight: torch.Tensor,
    *,
    offsets: torch.Tensor,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(1, o)``: ``y[0, j] = bias[j] + Σ_{e ∈ [offsets[j], offsets[j+1])} weight[e] ·
    x[0, index[e]]`` for one contiguous sample ``x`` ``(1, i)``."""
    o = offsets.numel() - 1
    y = torch.empty(1, o, dtype=torch.float32)
    library().nf_row_dots(
        _threads(index.numel() * 8),
        o,
        offsets.data_ptr(),
        index.data_ptr(),
        weight.data_ptr(),
        x.data_ptr(),
        None if bias is None else bias.data_ptr(),
        y.data_ptr(),
    )
    return y


def row_dots_backward(
    grad_output: torch.Tensor,
    x: torch.Tensor,
    index: torch.Tensor,
    weight: torch.Tensor,
    *,
    offsets: torch.Tensor,
    input_gradient: bool = True,
    weight_gradient: bool = True,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``(∂L/∂x, ∂L/∂w)`` of :func:`row_dots` for one sample: ``(1, i)`` and ``(e,)``, each
    ``None`` unless asked for; ``grad_output`` ``(1, o)`` and ``x`` contiguous."""
    o = offsets.numel() - 1
    grad_x = torch.zeros(x.shape, dtype=torch.float32) if input_gradient else None
    grad_weight = torch.empty(index.numel(), dtype=torch.float32) if weight_gradient else None
    library().nf_row_dots_backward(
        o,
        offsets.data_ptr(),
        index.data_ptr(),
        weight.data_ptr(),
        x.data_ptr(),
        grad_output.data_ptr(),
        None if grad_x is None else grad_x.data_ptr(),
        None if grad_weight is None else grad_weight.data_ptr(),
    )
    return grad_x, grad_weight


def take(weight: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """``weight[order]`` for a flat float32 ``weight`` and int32 ``order``."""
    out = torch.empty(order.numel(), dtype=torch.float32)
    library().nf_take(
        _threads(order.numel() * 4),
        order.numel(),
        order.data_ptr(),
        weight.data_ptr(),
        out.data_ptr(),
    )
    return out


def transpose_edges(
    crow: torch.Tensor,
    col: torch.Tensor,
    transpose_crow: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    rows: bool = True,
    order: bool = False,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The edges of the CSR pattern ``crow``/``col`` in transposed order (by input neuron,
    then output neuron), one counting-sort pass with the known counts ``transpose_crow``:
    ``(weight[order], row of each edge, order)``, each ``None`` unless asked for (``weight``
    given, ``rows``, ``order``)."""
    o, i, e = crow.numel() - 1, transpose_crow.numel() - 1, col.numel()
    threads = _threads(e * 4)
    scratch = torch.empty(threads * i, dtype=torch.int32)
    outputs = (
        None if weight is None else torch.empty(e, dtype=torch.float32),
        torch.empty(e, dtype=torch.int32) if rows else None,
        torch.empty(e, dtype=torch.int32) if order else None,
    )
    library().nf_transpose_edges(
        threads,
        o,
        i,
        crow.data_ptr(),
        col.data_ptr(),
        None if weight is None else weight.data_ptr(),
        transpose_crow.data_ptr(),
        scratch.data_ptr(),
        *(None if out is None else out.data_ptr() for out in outputs),
    )
    return outputs


#: Inputs of the widest block ``blocks.c`` takes (its copy of a block's input lives on the
#: thread's stack); wider blocks are left to ``torch.bmm``.
BLOCK_COPY_FLOATS = 16384


def block_product_fits(in_width: int) -> bool:
    """Whether :func:`block_product` and :func:`vector_chain` take blocks ``in_width`` wide."""
    return in_width <= BLOCK_COPY_FLOATS


def block_product(
    weight: torch.Tensor, x: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """``(g, o, 1)``, contiguous: ``weight`` ``(g, o, i)`` (contiguous) times one sample ``x``
    ``(g, i, 1)`` at any strides, plus ``bias`` ``(g·o,)``. Check :func:`block_product_fits`
    first."""
    g, o, i = weight.shape
    y = torch.empty(g, o, 1, dtype=torch.float32)
    status = library().nf_block_product(
        _threads(g * o * i),
        g,
        o,
        i,
        weight.data_ptr(),
        x.data_ptr(),
        x.stride(0),
        x.stride(1),
        None if bias is None else bias.data_ptr(),
        y.data_ptr(),
        o,
        1,
    )
    if status != 0:
        raise ValueError(f"blocks {i} wide exceed the native product's input copy")
    return y


class VectorChain:
    """A chain of block stages laid out for :func:`vector_chain`: per stage ``(g, o, i)`` and
    the strides ``(block, input)`` at which its blocks read the previous stage's output."""

    def __init__(self, shapes: Sequence[tuple[int, int, int]], strides: Sequence[tuple[int, int]]):
        self._arguments = (tuple(map(tuple, shapes)), tuple(map(tuple, strides)))
        numbers = [n for shape, pair in zip(shapes, strides, strict=True) for n in (*shape, *pair)]
        self.layout = (ctypes.c_int64 * len(numbers))(*numbers)
        self.stages = len(shapes)
        self.widths = [g * o for g, o, _ in shapes]
        for _, _, i in shapes:
            if not block_product_fits(i):
                raise ValueError(f"blocks {i} wide exceed the native product's input copy")

    def __reduce__(self):  # pickled (torch.save of a model) as its arguments: ctypes arrays
        return VectorChain, self._arguments  # do not pickle


def vector_chain(
    chain: VectorChain,
    weights: Sequence[torch.Tensor],
    x: torch.Tensor,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(1, o)``: one sample ``x`` (contiguous) through every stage of ``chain`` in one native
    call, ``bias`` added to the last; ``weights`` contiguous in block order."""
    *middle, last = chain.widths
    scratch = torch.empty(sum(middle), dtype=torch.float32)
    out = torch.empty(1, last, dtype=torch.float32)
    pointers = [scratch.data_ptr() + 4 * sum(middle[:s]) for s in range(len(middle))]
    status = library().nf_block_chain(
        torch.get_num_threads(),
        WORK_PER_THREAD,
        chain.stages,
        chain.layout,
        (ctypes.c_void_p * chain.stages)(*(w.data_ptr() for w in weights)),
        x.data_ptr(),
        None if bias is None else bias.data_ptr(),
        (ctypes.c_void_p * chain.stages)(*pointers, out.data_ptr()),
    )
    if status != 0:  # VectorChain checked the widths
        raise RuntimeError("the native block chain refused its layout")
    return out
