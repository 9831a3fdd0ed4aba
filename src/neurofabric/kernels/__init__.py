"""Kernels: how sparse junctions multiply. A registry of name -> kernel, and the auto policy."""

from __future__ import annotations

from neurofabric.kernels.base import Kernel, Plan
from neurofabric.kernels.blockdiag import BlockDiagKernel
from neurofabric.kernels.csr import CSRKernel
from neurofabric.kernels.dense import DenseKernel
from neurofabric.kernels.gather import GatherKernel
from neurofabric.kernels.reference import ReferenceKernel

#: Kernel name -> kernel. Tests iterate over it, so every entry is held equal to ``reference``.
KERNELS: dict[str, Kernel] = {
    "reference": ReferenceKernel(),
    "dense": DenseKernel(),
    "gather": GatherKernel(),
    "csr": CSRKernel(),
    "blockdiag": BlockDiagKernel(),
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


def select_kernel(junction, *, batch: int | None = None, native: bool | None = None) -> str:
    """The ``kernel="auto"`` policy: the fastest registered kernel for ``junction``.

    Measured forward + backward on 2 CPU threads at 1024²–4096², float32
    (``benchmarks/bench_kernels_quick.py``; ``batch=None`` means a training batch, 256):

    1. ``blockdiag`` for a block-structured stage whose blocks are at least
       :data:`MIN_BLOCK_WIDTH` wide (narrower blocks leave ``bmm`` slower than ``csr``) —
       with the native passes only blocks at least :data:`NATIVE_MIN_BLOCK_WIDTH` wide in a
       junction of at least :data:`NATIVE_MIN_BLOCK_ELEMENTS` weights in its dense shape
       (``gather`` runs narrower blocks and smaller stages faster);
    2. ``dense`` for a complete junction (its weight is a free ``view``), above the density
       of :data:`DENSE_THRESHOLDS` for this batch, where one scatter plus a GEMM beats the
       sparse kernel (never at batch 1: materialising ``o·i`` values costs more than the
       ``e`` products; with the native passes ``csr`` has ``gather``'s threshold, as both run
       them), or — without the native passes — for a small junction (at most
       :data:`SMALL_JUNCTION` weights in its dense shape) at batches above 1, where the torch
       passes' fixed cost outweighs the arithmetic and the dense GEMM has the smallest (the
       native product crosses into C once per direction and beats ``nn.Linear`` itself there,
       ``benchmarks/small_layers.py``);
    3. ``gather`` for a constant fan-in — of at least :data:`MIN_GATHER_FAN_IN` when its
       native CPU passes are unavailable (``native``: ``None`` asks
       :func:`neurofabric.kernels.native.library`) — else ``csr``.

    Falls back to ``reference`` while a kernel is not registered.
    """
    from neurofabric.kernels import native as native_passes

    if native is None:
        native = native_passes.library() is not None
    blocks = junction.blocks
    gather_threshold, csr_threshold = dense_thresholds(batch, native=native)
    gather = junction.has_constant_fan_in and (
        native or junction.nnz >= MIN_GATHER_FAN_IN * junction.out_features
    )
    elements = junction.in_features * junction.out_features
    complete = junction.nnz == elements
    small = not native and elements <= SMALL_JUNCTION and (batch is None or batch > 1)
    width = 0 if blocks is None or blocks.diagonal else min(blocks.block_in, blocks.block_out)
    if native:
        block_wanted = width >= NATIVE_MIN_BLOCK_WIDTH and elements >= NATIVE_MIN_BLOCK_ELEMENTS
    else:
        block_wanted = width >= MIN_BLOCK_WIDTH
    for name, wanted in (
        ("blockdiag", block_wanted),
        (
            "dense",
            complete or small or junction.density > (gather_threshold if gather else csr_threshold),
        ),
        ("gather", gather),
        ("csr", True),
    ):
        if wanted and name in KERNELS and KERNELS[name].supports(junction):
            return name
    return "reference"


def dense_thresholds(batch: int | None = None, *, native: bool = False) -> tuple[float, float]:
    """``(gather, csr)``: the density above which ``dense`` is faster, for a batch size; with
    the ``native`` passes, which both kernels run, ``csr`` has ``gather``'s threshold."""
    batch = 256 if batch is None else batch
    gather, csr = next(value for smallest, value in DENSE_THRESHOLDS.items() if batch >= smallest)
    return (gather, gather) if native else (gather, csr)


#: Smallest batch -> density above which ``dense`` beats ``gather`` / ``csr``, forward +
#: backward, 2 CPU threads, 2048² and 4096² (the crossover barely moves with size): at batch
#: 256 ``gather`` ties ``dense`` at 0.28–0.33 and ``csr`` at 0.2–0.23; at batches 16–64 at
#: 0.4 and 0.3–0.4; at batch 1 ``dense`` loses even at density 0.9. With the native passes on
#: the 2-core EPYC VM (``neurofabric bench --sizes 1024,2048 --batch 32,256 --densities
#: 0.375,0.5,0.75 --methods dense,gather,csr``) both kernels tie ``nn.Linear`` near 0.5 at
#: batch 256 (speed-ups 0.99–1.14) and near 0.375 at batch 32 (0.85–1.05); on the AVX-512 Xeon,
#: where ``gather`` at density 1/16 was only 3.8× faster than dense, the tie is near 0.24. The
#: thresholds stay the cautious ones: past them ``dense`` costs a few per cent more than
#: ``nn.Linear``, a sparse kernel up to 2×.
DENSE_THRESHOLDS: dict[int, tuple[float, float]] = {
    128: (0.3, 0.2),
    2: (0.4, 0.33),
    1: (1.0, 1.0),
}

#: The ``csr`` threshold at training batch sizes: above this density an irregular junction
#: is faster as a dense matmul.
DENSE_THRESHOLD = DENSE_THRESHOLDS[128][1]

#: Largest dense shape ``in · out`` that runs ``dense`` at batches above 1 whatever its density.
#: Forward + backward at batch 256, 2 CPU threads, best of three: 100×100 at densities
#: 0.05–0.4 took 0.39–0.45 ms with ``dense`` against 0.49–0.56 with ``gather`` and 0.55–0.68
#: with ``csr`` (``nn.Linear`` 0.30); at 256×256 ``dense`` and ``gather`` tie at density 1/4
#: and ``gather`` wins below; at 800×100 ``gather`` wins up to density 0.2.
SMALL_JUNCTION = 16384

#: Narrowest blocks ``blockdiag`` is chosen for (batch 256, 4096²): 4×4 blocks ran 1.6× slower
#: than ``csr``, 8×8 blocks as fast as ``csr`` and 1.3–2× faster than ``gather``, 16×16 blocks
#: 1.7–2.7× faster than both.
MIN_BLOCK_WIDTH = 8

#: With the native passes, the narrowest blocks and the smallest dense shape ``in · out`` for
#: which ``blockdiag`` is chosen over ``gather`` (a block stage has a constant fan-in). On
#: the 2-core EPYC (AVX2; ``benchmarks/small_layers.py --patterns blocks --kernels
#: blockdiag,gather``, µs per training step at batch 256): blocks 8 and 16 wide ran faster on
#: ``gather`` at 1024² and 4096² (4096², 16 wide: 8388 against 10557), 32 wide tied or went
#: to ``blockdiag`` (4096²: 10396 against 11440), 64 and wider went to ``blockdiag`` (1024²,
#: 128 wide: 6455 against 10600). Below 1024² ``blockdiag``'s fixed cost (an autograd
#: ``Function`` and ``bmm`` calls) made its batch-1 steps 1.4–1.7× slower than
#: ``nn.Linear``'s at 128² and 256² and its batch-1 forwards up to 1.2× slower at 512²,
#: where ``gather`` stays at or below ``nn.Linear`` (and still beats it at batch 256).
NATIVE_MIN_BLOCK_WIDTH = 32
NATIVE_MIN_BLOCK_ELEMENTS = 1024 * 1024

#: Smallest constant fan-in ``gather``'s torch passes are chosen for: below it ``csr`` is
#: 1.2–1.6× faster at batches of 32 and more (the two layout transposes per pass dominate tiny
#: rows); at fan-in 64 and more ``gather`` is faster (1.4× at 4096², fan-in 256). With the
#: native passes both kernels run the same C passes (``kernels/native/product.py``), and
#: ``gather`` is chosen at every constant fan-in: it reads each edge's output neuron off the
#: edge's number, so its backward derives only the transposed order, not a column index too.
MIN_GATHER_FAN_IN = 32

__all__ = [
    "DENSE_THRESHOLD",
    "SMALL_JUNCTION",
    "DENSE_THRESHOLDS",
    "MIN_BLOCK_WIDTH",
    "NATIVE_MIN_BLOCK_ELEMENTS",
    "NATIVE_MIN_BLOCK_WIDTH",
    "MIN_GATHER_FAN_IN",
    "KERNELS",
    "Kernel",
    "Plan",
    "available_kernels",
    "dense_thresholds",
    "get_kernel",
    "select_kernel",
]
