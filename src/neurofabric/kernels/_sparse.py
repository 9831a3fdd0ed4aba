"""Helpers shared by the index-based kernels (``gather``, ``csr``): index plans and CSR products.

Shape legend: ``b`` batch, ``i`` in_features, ``o`` out_features, ``e`` edges (nnz).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from neurofabric.topology.junction import Junction


def index_dtype(*sizes: int) -> torch.dtype:
    """``int32`` when every index and offset fits (half the memory of int64), else ``int64``."""
    return torch.int32 if max(sizes, default=0) < 2**31 else torch.int64


def as_index(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A CPU index tensor of ``dtype`` holding ``array`` (copied, so it is writable)."""
    numpy_dtype = np.int32 if dtype == torch.int32 else np.int64
    return torch.from_numpy(np.array(array, dtype=numpy_dtype, order="C", copy=True))


def transpose_order(junction: Junction) -> np.ndarray:
    """``(e,)`` the edges sorted by input neuron, then output neuron: the canonical edge order
    of :meth:`Junction.transpose`, as indices into the canonical order."""
    return np.argsort(junction.src, kind="stable")


def transpose_offsets(junction: Junction) -> np.ndarray:
    """``(i + 1,)`` row pointer of the transposed pattern (input ``n`` owns ``[p[n], p[n+1])``)."""
    offsets = np.zeros(junction.in_features + 1, dtype=np.int64)
    np.cumsum(junction.fan_out, out=offsets[1:])
    return offsets


def pending_index(dtype: torch.dtype) -> torch.Tensor:
    """An empty placeholder for an index derived on first need (see :func:`derived_index`)."""
    return torch.empty(0, dtype=dtype)


def needs_input_gradient(x: torch.Tensor) -> bool:
    """Whether a backward through this call will ask for ``∂L/∂x`` over a batch above one —
    the only case that reads the transposed indices."""
    return x.requires_grad and torch.is_grad_enabled() and x.shape[0] > 1


def derived_index(slot: torch.Tensor, size: int, derive) -> torch.Tensor:
    """The index held in ``slot``, derived with ``derive()`` the first time it is needed.

    ``slot`` is a plan buffer that starts empty (:func:`pending_index`): a layer that never
    back-propagates into its input (inference, a first layer) holds only its forward index.
    The first call that needs the backward's index stores it in the buffer in place (so
    ``.to(device)`` and later calls see it); under ``torch.compile`` it is derived in the graph
    each call instead, as a traced function cannot fill a buffer.
    """
    if slot.numel() == size:
        return slot
    value = derive().to(slot.dtype)
    if torch.compiler.is_compiling():
        return value
    with torch.no_grad():
        slot.set_(value)
    return slot


def sort_order(keys: torch.Tensor) -> torch.Tensor:
    """Stable ``argsort`` of ``keys`` on their own device (``np.argsort(kind="stable")``)."""
    return torch.sort(keys, stable=True).indices


_first_csr = True


def csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape) -> torch.Tensor:
    """A sparse CSR matrix over prepared indices (no copy, no O(e) invariant check)."""
    global _first_csr
    if _first_csr:  # torch warns once per process that CSR is "beta"; keep that out of user logs
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta state")
            matrix = torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)
        _first_csr = False
        return matrix
    return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


def edge_gradient(
    crow: torch.Tensor, col: torch.Tensor, grad_rows: torch.Tensor, x_rows: torch.Tensor
) -> torch.Tensor:
    """``(e,)`` ``∂L/∂w`` in canonical order: ``Σ_b grad_rows[dst, b] · x_rows[src, b]``.

    Both operands are feature-major: ``grad_rows`` ``(o, b)``, ``x_rows`` ``(i, b)``; contiguous
    ones spare ``sampled_addmm`` two transposing copies. It forms only the ``e`` sampled dot
    products over the ``(o, i)`` pattern, so memory stays ``O(e)`` at any batch size.
    """
    shape = (grad_rows.shape[0], x_rows.shape[0])
    # Zero values: sampled_addmm propagates NaN from its input even at beta = 0.
    pattern = csr(crow, col, x_rows.new_zeros(col.shape), shape)
    return torch.sparse.sampled_addmm(pattern, grad_rows, x_rows.t(), beta=0.0).values()
