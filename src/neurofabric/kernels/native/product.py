"""``y = x · (W ⊙ M)ᵀ + bias`` on the native passes, with its backward: one autograd function
for every kernel whose pattern is CSR-shaped (``csr``; ``gather``, whose rows all have ``k``
edges).

Shape legend: ``b`` batch, ``i`` in_features, ``o`` out_features, ``e`` edges (nnz).

The layer holds the pattern's canonical rows ``crow`` ``(o + 1,)`` over the edges' sources
``col`` ``(e,)`` — one index per edge — and the transposed row pointer ``transpose_crow``
``(i + 1,)``, bound once into a :class:`NativePattern` with their addresses. Each direction
is one native call (``linear.c``), which chains the passes: the forward transposes ``x``
into the feature-major rows the bag sums read (kept for the backward) and sums batch-major
outputs; the backward transposes ``∂L/∂y``, sums ``∂L/∂bias`` off it, derives the transposed
edges that ``∂L/∂x`` sums over in one counting-sort pass — with a constant fan-in
``divisor`` the transposed order and the weights gathered through it (the bag sum reads each
edge's output neuron off its number, ``order // divisor``), else the weights and output
neurons written straight into transposed order — into a scratch buffer dropped after, and
runs the edge gradient. One sample needs no layout: its forward is one dot product per
output and its backward the ``e`` products in one pass. At inference (no gradient wanted)
there is no autograd node at all.

A small layer's cost is these fixed costs, not its arithmetic (a 64 × 64 layer at density
1/16 has 256 edges); hence one call per direction, with its arguments in one array, the
outputs and one scratch buffer as the only allocations, checks by attribute rather than by
helper, and no ``Function.apply`` wrapper (``benchmarks/small_layers.py``).
"""

from __future__ import annotations

import ctypes
import threading

import torch
from torch.autograd.function import once_differentiable

from neurofabric.kernels.native import library, passes
from neurofabric.kernels.native.passes import readable_in_place, row_stride, usable

__all__ = ["NativePattern", "applies", "product", "usable"]

_FLOAT = torch.float32
_INDEX = torch.int32


class NativePattern:
    """A CSR pattern bound for :func:`product`: its int32 CPU index tensors (kept alive here)
    and their addresses, and the scratch sizes of the backward, by batch.

    Calling it runs the product when the operands suit the native passes, else returns
    ``None`` (the caller runs the torch passes).

    Args:
        crow: ``(o + 1,)`` row pointer of the canonical edges.
        col: ``(e,)`` each edge's input neuron.
        transpose_crow: ``(i + 1,)`` where each input neuron's edges begin in transposed order.
        divisor: The constant fan-in if every row has it (then ``edge // divisor`` is an
            edge's output neuron), else 0.

    Raises:
        ValueError: If the indices are not int32 CPU tensors, or the library is unavailable
            (check :func:`usable` first).
    """

    __slots__ = (
        "crow",
        "col",
        "transpose_crow",
        "divisor",
        "in_features",
        "out_features",
        "edges",
        "_library",
        "_forward",
        "_backward",
        "_addresses",
        "_scratch",
    )

    def __init__(
        self,
        crow: torch.Tensor,
        col: torch.Tensor,
        transpose_crow: torch.Tensor,
        divisor: int = 0,
    ) -> None:
        for name, tensor in (("crow", crow), ("col", col), ("transpose_crow", transpose_crow)):
            if tensor.dtype != _INDEX or not tensor.is_cpu or not tensor.is_contiguous():
                raise ValueError(
                    f"{name} must be a contiguous int32 CPU tensor, got {tensor.dtype} on "
                    f"{tensor.device}"
                )
        self._library = library()
        if self._library is None:
            raise ValueError("the native library is unavailable: check usable() first")
        self._forward, self._backward = (
            self._library.nf_linear_forward,
            self._library.nf_linear_backward,
        )
        self.crow, self.col, self.transpose_crow = crow, col, transpose_crow
        self.divisor = int(divisor)
        self.out_features = crow.numel() - 1
        self.in_features = transpose_crow.numel() - 1
        self.edges = col.numel()
        self._addresses = (crow.data_ptr(), col.data_ptr(), transpose_crow.data_ptr())
        self._scratch: dict[tuple[int, bool, int, int], int] = {}

    def __call__(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        """``(b, o)`` for ``x`` ``(b, i)``, or ``None`` if the operands do not suit (not
        float32 on the CPU, weights not contiguous, an empty batch, a traced graph, a functorch
        transform)."""
        if not (
            x.dtype is _FLOAT
            and weight.dtype is _FLOAT
            and x.is_cpu
            and weight.is_cpu
            and weight.is_contiguous()
            and (bias is None or (bias.dtype is _FLOAT and bias.is_cpu and bias.is_contiguous()))
            and x.shape[0]
        ):
            return None
        # neither a traced graph nor a functorch transform's wrapped tensors can go to ctypes
        if torch.compiler.is_compiling() or torch._C._are_functorch_transforms_active():
            return None
        if torch.is_grad_enabled() and (
            x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
        ):
            return _apply_native_product(x, weight, bias, self)
        return self.forward(x, weight, bias)[0]

    def forward(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, saved)``: the product and what the backward reads — ``x`` itself for one
        sample, else its feature-major rows (a view of ``x`` if its layout suits)."""
        b = x.shape[0]
        stride = x.stride()
        if stride[1] != 1 and b > 1 and readable_in_place(x.t()):  # feature-major: read in place
            saved, address = x.t(), 0
        else:
            if stride[1] != 1:
                x = x.contiguous()
                stride = x.stride()
            address = x.data_ptr()
            saved = x if b == 1 else torch.empty(self.in_features, row_stride(b), dtype=_FLOAT)
        y = torch.empty(b, self.out_features, dtype=_FLOAT)
        crow, col, _ = self._addresses
        words = _WORDS.forward
        words[:] = (
            torch.get_num_threads(),
            passes.WORK_PER_THREAD,
            b,
            self.in_features,
            self.out_features,
            crow,
            col,
            weight.data_ptr(),
            0 if bias is None else bias.data_ptr(),
            address,
            stride[0],
            address if b == 1 else saved.data_ptr(),
            stride[0] if b == 1 else saved.stride(0),  # the transpose zeroes the padding
            y.data_ptr(),
        )
        self._forward(words)
        return y, saved

    def backward(
        self,
        saved: torch.Tensor,
        weight: torch.Tensor,
        grad_y: torch.Tensor,
        needs: tuple[bool, bool, bool],
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """``(∂L/∂x, ∂L/∂w, ∂L/∂bias)`` from ``∂L/∂y`` ``(b, o)`` and the forward's ``saved``;
        each ``None`` unless ``needs`` says so."""
        need_x, need_weight, need_bias = needs
        stride = grad_y.stride()
        if stride[1] != 1:
            grad_y = grad_y.contiguous()
            stride = grad_y.stride()
        b = grad_y.shape[0]
        threads, per_thread = torch.get_num_threads(), passes.WORK_PER_THREAD
        grad_x = torch.empty(b, self.in_features, dtype=_FLOAT) if need_x else None
        grad_weight = torch.empty(self.edges, dtype=_FLOAT) if need_weight else None
        grad_bias = torch.empty(self.out_features, dtype=_FLOAT) if need_bias else None
        scratch, size, ld = 0, 0, 0
        if b > 1:
            ld = row_stride(b)
            key = (b, need_x, threads, per_thread)
            size = self._scratch.get(key)
            if size is None:
                size = self._scratch[key] = self._library.nf_linear_backward_scratch(
                    threads, per_thread, b, *self._shape(), ld, int(need_x)
                )
            buffer = torch.empty(size, dtype=torch.uint8)
            scratch = buffer.data_ptr()
        crow, col, transpose_crow = self._addresses
        words = _WORDS.backward
        words[:] = (
            threads,
            per_thread,
            b,
            self.in_features,
            self.out_features,
            crow,
            col,
            transpose_crow,
            self.divisor,
            weight.data_ptr(),
            saved.data_ptr(),
            saved.stride(0),
            grad_y.data_ptr(),
            stride[0],
            0 if grad_x is None else grad_x.data_ptr(),
            0 if grad_weight is None else grad_weight.data_ptr(),
            0 if grad_bias is None else grad_bias.data_ptr(),
            scratch,
            size,
            ld,
        )
        if self._backward(words) != 0:
            raise RuntimeError(f"the native backward refused {size} bytes of scratch")
        return grad_x, grad_weight, grad_bias

    def __reduce__(self):  # copies bind their own addresses
        return NativePattern, (self.crow, self.col, self.transpose_crow, self.divisor)

    def _shape(self) -> tuple[int, int, int]:
        return self.in_features, self.out_features, self.edges


class _Words(threading.local):
    """Each thread's argument arrays of ``nf_linear_forward`` and ``nf_linear_backward``:
    ctypes converts an array at the cost of one argument (``linear.c``), and a thread's own
    arrays cannot change under a call that released the GIL."""

    def __init__(self) -> None:
        self.forward = (ctypes.c_int64 * 14)()
        self.backward = (ctypes.c_int64 * 20)()


_WORDS = _Words()


class _NativeProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, pattern):
        y, saved = pattern.forward(x, weight, bias)
        ctx.pattern = pattern
        ctx.save_for_backward(saved, weight)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        if torch.is_grad_enabled():  # create_graph=True: these gradients have no graph
            return _backward_once(ctx, grad_output)
        saved, weight = ctx.saved_tensors
        grads = ctx.pattern.backward(saved, weight, grad_output, ctx.needs_input_grad[:3])
        return *grads, None


@once_differentiable
def _backward_once(ctx, grad_output):
    """The backward, marked as one that cannot be differentiated again (an error if tried);
    that wrapper costs a small layer's backward ~12 µs, so it runs only under create_graph."""
    saved, weight = ctx.saved_tensors
    grads = ctx.pattern.backward(saved, weight, grad_output, ctx.needs_input_grad[:3])
    return *grads, None


#: ``_NativeProduct.apply`` without ``Function.apply``'s Python wrapper (~2.5 µs of argument
#: binding and unwrapping for functorch transforms, which the caller has ruled out).
_apply_native_product = torch._C._FunctionBase.__dict__["apply"].__get__(None, _NativeProduct)


def applies(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, index) -> bool:
    """Whether :func:`product` runs these operands: float32 on the CPU, a batch of at least
    one, contiguous weights (and bias), int32 indices, the library available."""
    operands = (x, weight, index) if bias is None else (x, weight, bias, index)
    return (
        x.shape[0] >= 1
        and weight.is_contiguous()
        and (bias is None or bias.is_contiguous())
        and usable(*operands)
    )


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
    :func:`applies` first. ``divisor``: the constant fan-in, if every row has it. A module
    that multiplies by one pattern many times binds it once instead (:class:`NativePattern`)."""
    output = NativePattern(crow, col.contiguous(), transpose_crow, divisor)(x, weight, bias)
    if output is None:
        raise ValueError("these operands do not suit the native product: check applies() first")
    return output
