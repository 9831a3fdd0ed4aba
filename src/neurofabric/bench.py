"""Kernel benchmark: sparse layers against dense PyTorch, measured in the same run.

For every size N, density and batch size, each method multiplies a ``(batch, N)`` input by an
``N × N`` layer, forward and forward+backward. Methods are timed in interleaved rounds (each
round times every method once) and the median per method is reported, so slow drifts of the
machine hit all methods alike. Ratios against dense ``nn.Linear`` — never absolute times — are
the result:

- ``speedup`` = dense time / method time (forward+backward where measured, else forward);
- ``ideal`` = dense FLOPs / method FLOPs = N² / nnz;
- ``fraction_of_ideal`` = speedup / ideal: 1.0 means time proportional to the edges.

Forward+backward back-propagates one fixed random ``(batch, N)`` upstream gradient, as a layer
inside a network receives, with the input requiring a gradient too (a hidden layer). It is the
same tensor for every method; ``y.sum().backward()`` would instead hand every method a
stride-0 expanded gradient that each must first copy into a dense one, a cost no real network
pays (``benchmarks/profile_step.py --layer cascade --features 2048``: +1.0–1.5 ms for
``nn.Linear``, +1.2–1.8 ms for the Clos cascade, a third to a half of the cascade's step).

Methods: ``dense`` (``nn.Linear``), ``masked`` (dense weight times a mask, what pruning
libraries run), ``torch-csr`` (``torch.sparse.mm`` with its builtin autograd), and ours:
``gather`` and ``csr`` (:class:`~neurofabric.nn.SparseLinear` on a structured junction),
``blockdiag`` (one block-diagonal stage) and ``cascade`` (a Clos
:class:`~neurofabric.nn.cascade.SparseCascade` whose density is closest to the requested one).
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import benchmark

from neurofabric.kernels import native
from neurofabric.nn.cascade import SparseCascade
from neurofabric.nn.linear import SparseLinear
from neurofabric.topology.blocks import BlockStructure
from neurofabric.topology.generators.block_shuffle import clos_topology
from neurofabric.topology.generators.regular import regular_junction
from neurofabric.topology.junction import Junction

METHODS = ("dense", "masked", "torch-csr", "gather", "csr", "blockdiag", "cascade")


@dataclass(frozen=True)
class BenchRow:
    """One method at one size, density and batch: medians in milliseconds and ratios."""

    method: str
    features: int
    density: float
    target_density: float
    batch: int
    nnz: int
    fwd_ms: float
    fwd_bwd_ms: float | None
    speedup: float
    fwd_speedup: float
    ideal: float
    fraction_of_ideal: float
    peak_mb: float | None
    detail: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Case:
    method: str
    module: nn.Module
    nnz: int
    detail: str


class _Masked(nn.Module):
    """The anti-pattern: a dense weight multiplied by a 0/1 mask on every call."""

    def __init__(self, junction: Junction) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(junction.shape) / math.sqrt(junction.in_features))
        self.register_buffer("mask", torch.from_numpy(junction.to_mask()).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask)


class _TorchCSR(nn.Module):
    """``torch.sparse.mm`` on a CSR weight rebuilt from trainable values, builtin autograd."""

    def __init__(self, junction: Junction) -> None:
        super().__init__()
        self.shape = junction.shape
        self.values = nn.Parameter(torch.randn(junction.nnz) / math.sqrt(junction.fan_in.max()))
        self.register_buffer("crow", torch.from_numpy(junction.indptr.copy()))
        self.register_buffer("col", torch.from_numpy(junction.src.copy()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = torch.sparse_csr_tensor(self.crow, self.col, self.values, self.shape)
        return torch.sparse.mm(weight, x.t()).t()


def machine_name(device: str = "cpu") -> str:
    """What ran the benchmark: the CPU model (``/proc/cpuinfo``) or the CUDA device's name.

    Ratios against dense PyTorch move with the processor (its BLAS against our kernels), so
    every result records it.
    """
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def clos_for_density(features: int, density: float) -> tuple[int, int]:
    """Pick Clos ``(groups, middle)`` for ``features`` with a density close to ``density``.

    Batched matmuls run near peak only for large blocks (SPEC §11), so the ingress and egress
    switches are few and wide: ``groups = 4`` below 4096 features and 8 from 4096 on (measured
    best on the 2-core reference machine), or the nearest divisor of ``features``; ``middle`` is
    the power of two whose density ``m·(2n + r) / (r·n²)`` is closest to the target.
    """
    wanted = 4 if features < 4096 else 8
    divisors = [r for r in range(2, features // 2 + 1) if features % r == 0]
    if not divisors:
        raise ValueError(f"no Clos shape for {features} features (needs a divisor >= 2)")
    groups = min(divisors, key=lambda r: (abs(math.log(r / wanted)), r))
    n = features // groups
    candidates = [2**k for k in range(int(math.log2(2 * n)) + 1)]
    middle = min(
        candidates,
        key=lambda m: abs(math.log(m * groups * (2 * n + groups) / features**2 / density)),
    )
    return groups, middle


def _cases(
    features: int, density: float, methods: Sequence[str], seed: int, device: str = "cpu"
) -> Iterator[_Case]:
    fan_out = max(1, round(features * density))
    structured = regular_junction(features, features, fan_out=fan_out, seed=seed)
    for method in methods:
        if method == "dense":
            yield _Case(method, nn.Linear(features, features), features * features, "nn.Linear")
        elif method == "masked":
            yield _Case(method, _Masked(structured), structured.nnz, "dense weight * mask")
        elif method == "torch-csr":
            yield _Case(method, _TorchCSR(structured), structured.nnz, "torch.sparse.mm")
        elif method in ("gather", "csr"):
            layer = SparseLinear(structured, kernel=method)
            detail = f"fan-in {structured.fan_in[0]}"
            if device == "cpu" and native.library() is not None:  # float32 CPU: native passes
                detail += ", native passes"
            yield _Case(method, layer, structured.nnz, detail)
        elif method == "blockdiag":
            blocks = max(1, round(1 / density))
            while features % blocks:
                blocks -= 1
            size = features // blocks
            junction = Junction.from_blocks(BlockStructure(blocks, size, size))
            yield _Case(
                method,
                SparseLinear(junction, kernel="blockdiag"),
                junction.nnz,
                f"{blocks} blocks of {size}",
            )
        elif method == "cascade":
            groups, middle = clos_for_density(features, density)
            topology = clos_topology(features, features, groups=groups, middle=middle)
            yield _Case(
                method,
                SparseCascade(topology),
                topology.nnz,
                f"clos r={groups} m={middle} n={features // groups}",
            )
        else:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


def _timer(statement: Callable[[], object]) -> benchmark.Timer:
    return benchmark.Timer(
        stmt="statement()", globals={"statement": statement}, num_threads=torch.get_num_threads()
    )


def _calibrate(timer: benchmark.Timer, budget: float = 0.05) -> int:
    """Iterations per measurement so that one measurement takes about ``budget`` seconds."""
    number = 1
    while True:
        seconds = timer.timeit(number).mean * number
        if seconds >= budget / 4 or number >= 1 << 14:
            return max(1, min(1 << 14, int(number * budget / max(seconds, 1e-9))))
        number *= 4


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence native writes to standard error (the profiler's start/stop log lines)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _peak_mb(step: Callable[[], object]) -> float | None:
    """Peak extra memory of one step: CUDA allocator stats, or the CPU profiler's allocations."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted(
        (e for e in prof.events() if e.cpu_memory_usage), key=lambda e: e.time_range.start
    )
    level = peak = 0
    for event in events:
        level += event.cpu_memory_usage
        peak = max(peak, level)
    return peak / 2**20


def run_bench(
    sizes: Sequence[int] = (1024, 2048, 4096),
    batches: Sequence[int] = (1, 256),
    densities: Sequence[float] = (1 / 16,),
    methods: Sequence[str] = METHODS,
    *,
    rounds: int = 5,
    backward: bool = True,
    memory: bool = True,
    device: str = "cpu",
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    """Time every method at every (size, density, batch) and return one row per method.

    Raises:
        ValueError: On unknown methods, non-positive sizes or densities outside (0, 1].
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    if any(n <= 0 for n in sizes) or any(b <= 0 for b in batches):
        raise ValueError("sizes and batch sizes must be positive")
    if any(not 0 < d <= 1 for d in densities):
        raise ValueError(f"densities must lie in (0, 1], got {list(densities)}")
    methods = ["dense", *[m for m in methods if m != "dense"]]
    with warnings.catch_warnings():
        # torch.sparse CSR announces its beta status on first use; the comparison is the point.
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly")
        return _run(
            sizes, batches, densities, methods, rounds, backward, memory, device, seed, progress
        )


def _run(sizes, batches, densities, methods, rounds, backward, memory, device, seed, progress):
    rows: list[BenchRow] = []
    torch.manual_seed(seed)
    for features in sizes:
        for density in densities:
            cases = list(_cases(features, density, methods, seed, str(device)))
            for case in cases:
                case.module.to(device)
            for batch in batches:
                rows += _measure(cases, features, density, batch, rounds, backward, memory, device)
                if progress is not None:  # called once per finished configuration
                    progress(f"N={features} density={density:.4g} batch={batch}")
    return rows


def _measure(cases, features, density, batch, rounds, backward, memory, device):
    x = torch.randn(batch, features, device=device)
    x_grad = x.clone().requires_grad_(True)
    upstream = torch.randn(batch, features, device=device)  # every method's output is (b, N)
    steps = {}
    for case in cases:
        module = case.module

        def forward(module=module):
            with torch.no_grad():
                return module(x)

        def forward_backward(module=module):
            module.zero_grad(set_to_none=True)
            module(x_grad).backward(upstream)

        steps[case.method] = (forward, forward_backward)
    timers = {}
    for method, (forward, forward_backward) in steps.items():
        forward()
        timers[(method, "fwd")] = _timer(forward)
        if backward:
            forward_backward()
            timers[(method, "bwd")] = _timer(forward_backward)
    numbers = {key: _calibrate(timer) for key, timer in timers.items()}
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in timers}
    for _ in range(rounds):
        for key, timer in timers.items():
            samples[key].append(timer.timeit(numbers[key]).mean * 1e3)
    median = {key: statistics.median(values) for key, values in samples.items()}
    dense_fwd = median[("dense", "fwd")]
    dense_bwd = median.get(("dense", "bwd"))
    rows = []
    for case in cases:
        fwd = median[(case.method, "fwd")]
        bwd = median.get((case.method, "bwd"))
        speedup = dense_bwd / bwd if bwd else dense_fwd / fwd
        ideal = features * features / case.nnz
        rows.append(
            BenchRow(
                method=case.method,
                features=features,
                density=case.nnz / (features * features),
                target_density=density,
                batch=batch,
                nnz=case.nnz,
                fwd_ms=fwd,
                fwd_bwd_ms=bwd,
                speedup=speedup,
                fwd_speedup=dense_fwd / fwd,
                ideal=ideal,
                fraction_of_ideal=speedup / ideal,
                peak_mb=_peak_mb(steps[case.method][1 if backward else 0]) if memory else None,
                detail=case.detail,
            )
        )
    return rows
