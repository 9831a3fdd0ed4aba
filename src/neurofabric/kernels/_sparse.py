"""Helpers shared by the index-based kernels (``gather``, ``csr``): index plans and CSR products.

Shape legend: ``b`` batch, ``i`` in_features, ``o`` out_features, ``e`` edges (nnz).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from neurofabric.kernels.native import passes
from neurofabric.topology.junction import Junction


def index_dtype(*sizes: int) -> torch.dtype:
    """``int32`` when every index and offset fits (half the memory of int64), else ``int64``."""
    return torch.int32 if max(sizes, default=0) < 2**31 else torch.int64


def as_index(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A CPU index tensor of ``dtype`` holding ``array`` (copied, so it is writable)."""
    numpy_dtype = np.int32 if dtype == torch.int32 else np.int64
    return torch.from_numpy(np.array(array, dtype=numpy_dtype, order="C", copy=True))


def transpose_offsets(junction: Junction) -> np.ndarray:
    """``(i + 1,)`` row pointer of the transposed pattern (input ``n`` owns ``[p[n], p[n+1])``)."""
    offsets = np.zeros(junction.in_features + 1, dtype=np.int64)
    np.cumsum(junction.fan_out, out=offsets[1:])
    return offsets


def sort_order(keys: torch.Tensor) -> torch.Tensor:
    """Stable ``argsort`` of ``keys`` on their own device (``np.argsort(kind="stable")``)."""
    return torch.sort(keys, stable=True).indices


def edge_rows(crow: torch.Tensor) -> torch.Tensor:
    """``(e,)`` the output neuron (CSR row) of every edge in canonical order."""
    rows = torch.arange(crow.numel() - 1, device=crow.device, dtype=crow.dtype)
    return torch.repeat_interleave(rows, crow.diff())


def transposed_edges(
    crow: torch.Tensor, col: torch.Tensor, transpose_crow: torch.Tensor, *, rows: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(order, rows)``: the transposed edge order of the pattern ``crow``/``col`` — edges
    sorted by input neuron, then output neuron (the canonical order of the transposed
    junction), as indices into the canonical order — and, if ``rows``, each of those edges'
    output neuron (``None`` otherwise).

    Derived in every backward that needs ``∂L/∂x`` and dropped after it, so a layer holds one
    index per edge: on the CPU by the native counting sort over the known counts
    ``transpose_crow`` (:func:`~neurofabric.kernels.native.passes.transpose_edges`), elsewhere
    (CUDA, ``torch.compile``, no C compiler) by a stable sort of ``col``.
    """
    if passes.usable(crow, col, transpose_crow):
        _, edge_row, order = passes.transpose_edges(
            crow, col, transpose_crow, rows=rows, order=True
        )
        return order, edge_row
    order = sort_order(col)
    return order, edge_rows(crow).index_select(0, order) if rows else None


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
