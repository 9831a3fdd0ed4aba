"""Quick kernel benchmark: forward and forward+backward medians of every kernel (SPEC §11).

For each size N (an N×N layer), density and batch it times dense ``F.linear`` (the baseline),
``torch.sparse.mm`` on a CSR weight with builtin autograd, and each registered kernel on a
junction it supports at that density: a constant fan-in (``regular``) junction for
``reference``/``dense``/``csr``/``gather``, and for ``blockdiag`` ``1/density`` blocks, either
plain or framed by a Monarch-style shuffle (``blockdiag+shuffle``). Reported: median ms (the
best of ``--rounds`` interleaved rounds, against background load), speed-up over dense, and
the fraction of the ideal speed-up ``(dense time / method time) × density`` (1.0 = time
proportional to the nonzeros). ``(auto)`` marks the kernel ``select_kernel`` picks for the
regular junction. Gradients are reset to ``None`` every step, as ``optimizer.zero_grad()``.

Note: glibc returns freed blocks of 32 MiB and more to the OS, so every fresh 4096² float32
matrix (a dense kernel's weight, ``F.linear``'s ``∂L/∂W``) costs ~27 ms of page faults; run
with ``MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296`` (or jemalloc) to
see the times without them.

    .venv/bin/python benchmarks/bench_kernels_quick.py [--sizes 2048 4096] [--batches 256 1]
        [--densities 8 16 32] [--min-run-time 0.2] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import warnings

import torch
import torch.nn.functional as F
from torch.utils import benchmark

from neurofabric.kernels import KERNELS, select_kernel
from neurofabric.topology import BlockStructure, GridPermutation, Junction, regular_junction


def _median_ms(fn, min_run_time: float) -> float:
    timer = benchmark.Timer("fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3


def _sparse_builtin(junction: Junction):
    crow = torch.from_numpy(junction.indptr.copy())
    col = torch.from_numpy(junction.src.copy())

    def apply(x, weight):
        matrix = torch.sparse_csr_tensor(crow, col, weight, junction.shape, check_invariants=False)
        return torch.sparse.mm(matrix, x.t()).t()

    return apply


def _kernel(name: str, junction: Junction):
    kernel = KERNELS[name]
    plan = kernel.prepare(junction)
    return lambda x, weight: kernel(x, weight, plan, junction)


def methods(n: int, fan_in: int):
    """``label -> (junction, apply(x, weight))`` for one size and density."""
    regular = regular_junction(n, n, fan_in=fan_in, seed=0)
    g = n // fan_in
    plain = Junction.from_blocks(BlockStructure(g, fan_in, fan_in))
    shuffle = GridPermutation.shuffle(fan_in, g)
    shuffled = Junction.from_blocks(BlockStructure(g, fan_in, fan_in, shuffle, shuffle.inverse()))
    table = {"torch.sparse CSR (builtin autograd)": (regular, _sparse_builtin(regular))}
    for name in sorted(KERNELS):
        if name == "blockdiag":
            table["blockdiag"] = (plain, _kernel(name, plain))
            table["blockdiag+shuffle"] = (shuffled, _kernel(name, shuffled))
        elif KERNELS[name].supports(regular):
            table[name] = (regular, _kernel(name, regular))
    return table


def timers(apply, in_features: int, nnz: int, batch: int):
    """``(forward, forward_backward)`` closures; gradients are reset to ``None`` each step."""
    x = torch.randn(batch, in_features)
    weight = torch.randn(nnz)

    def forward():
        with torch.no_grad():
            apply(x, weight)

    xg, wg = x.clone().requires_grad_(), weight.clone().requires_grad_()
    grad = torch.randn_like(apply(x, weight))

    def forward_backward():
        xg.grad = wg.grad = None
        apply(xg, wg).backward(grad)

    return forward, forward_backward


def time_all(methods: dict, rounds: int, min_run_time: float) -> dict[str, tuple[float, float]]:
    """``label -> (forward ms, forward+backward ms)``: the best of ``rounds`` interleaved
    medians, so a burst of background load hits one round, not one method."""
    best = {label: [float("inf"), float("inf")] for label in methods}
    for _ in range(rounds):
        for label, pair in methods.items():
            for index, fn in enumerate(pair):
                best[label][index] = min(best[label][index], _median_ms(fn, min_run_time))
    return {label: (fwd, both) for label, (fwd, both) in best.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--densities", type=int, nargs="+", default=[8, 16, 32], help="1/d")
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 1])
    parser.add_argument("--min-run-time", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3, help="report the best of N rounds")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
    header = (
        f"{'N':>5} {'dens':>5} {'batch':>5}  {'method':<37} {'fwd ms':>8} {'f+b ms':>8} "
        f"{'spd fwd':>7} {'spd f+b':>7} {'ideal fwd':>9} {'ideal f+b':>9}"
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, load {load}")
    print(header)
    for n in args.sizes:
        for d in args.densities:
            fan_in = n // d
            table = methods(n, fan_in)
            regular = table["torch.sparse CSR (builtin autograd)"][0]
            for batch in args.batches:
                dense_weight = torch.randn(n, n, requires_grad=True)

                def linear(x, weight, dense_weight=dense_weight):
                    dense_weight.grad = None  # as optimizer.zero_grad(): assign, not accumulate
                    return F.linear(x, dense_weight)

                pairs = {"dense F.linear": timers(linear, n, 0, batch)}
                for label, (junction, apply) in table.items():
                    pairs[label] = timers(apply, n, junction.nnz, batch)
                times = time_all(pairs, args.rounds, args.min_run_time)
                dense = times["dense F.linear"]
                auto = select_kernel(regular, batch=batch)
                for label, (fwd, both) in times.items():
                    mark = " (auto)" if label == auto else ""
                    print(
                        f"{n:>5} {'1/' + str(d):>5} {batch:>5}  {label + mark:<37} {fwd:8.2f} "
                        f"{both:8.2f} {dense[0] / fwd:7.2f} {dense[1] / both:7.2f} "
                        f"{dense[0] / fwd / d:9.3f} {dense[1] / both / d:9.3f}"
                    )
                print(flush=True)
    print(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
