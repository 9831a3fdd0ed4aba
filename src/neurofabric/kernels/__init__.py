"""Kernels: how sparse junctions multiply. A registry of name -> kernel, and the auto policy."""

from __future__ import annotations

from neurofabric.kernels.base import Kernel, Plan
from neurofabric.kernels.reference import ReferenceKernel

#: Kernel name -> kernel. Tests iterate over it, so every entry is held equal to ``reference``.
KERNELS: dict[str, Kernel] = {
    "reference": ReferenceKernel(),
}


def available_kernels() -> list[str]:
    """Names of the registered kernels."""
    return sorted(KERNELS)


def get_kernel(name: str) -> Kernel:
    """Return the kernel registered under ``name``.

    Raises:
        ValueError: For an unknown name, listing the valid ones (and ``auto``).
    """
    try:
        return KERNELS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown kernel {name!r}; choose auto or one of {', '.join(available_kernels())}"
        ) from None


def select_kernel(junction, *, batch: int | None = None) -> str:
    """The ``kernel="auto"`` policy: the fastest registered kernel for ``junction``.

    Block-structured stages run as batched matmuls; dense-ish junctions (density above
    :data:`DENSE_THRESHOLD`) materialise their weight, since a sparse kernel would be slower
    than ``nn.Linear`` there; constant fan-in junctions gather; everything else uses CSR.
    Falls back to ``reference`` while a kernel is not registered.
    """
    for name, wanted in (
        ("blockdiag", junction.blocks is not None and not junction.blocks.diagonal),
        ("dense", junction.density > DENSE_THRESHOLD),
        ("gather", junction.has_constant_fan_in),
        ("csr", True),
    ):
        if wanted and name in KERNELS and KERNELS[name].supports(junction):
            return name
    return "reference"


#: Above this density a sparse kernel is slower than dense ``F.linear`` on CPU (SPEC §11: the
#: best gather path reaches about a quarter of the ideal speed-up).
DENSE_THRESHOLD = 0.2

__all__ = [
    "DENSE_THRESHOLD",
    "KERNELS",
    "Kernel",
    "Plan",
    "available_kernels",
    "get_kernel",
    "select_kernel",
]
