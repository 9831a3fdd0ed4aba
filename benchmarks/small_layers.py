"""Small layers against ``nn.Linear``: where fixed per-call costs outweigh the arithmetic.

For each N × N layer, density and pattern — ``regular`` (constant fan-in: ``gather``),
``random`` (``csr``) and ``blocks`` (a Clos ingress stage: block-diagonal, blocks
``density · N`` wide) — the medians over interleaved rounds (each round times every method
once, in an order rotated from round to round; ``timeit``, 2 threads) of a batch-1 forward
under ``no_grad`` and of training steps (forward + backward of one upstream gradient) at
batches 1, 32 and 256, for ``nn.Linear``, ``kernel="auto"`` (the kernel it picks is
printed, with auto's time over nn.Linear's) and the kernels named by ``--kernels``:

    .venv/bin/python benchmarks/small_layers.py [--sizes 64,256,1024] [--densities 0.0625]
        [--patterns regular,random,blocks] [--kernels dense] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import torch
from torch import nn

from neurofabric.bench import machine_name
from neurofabric.kernels import native
from neurofabric.nn import SparseLinear
from neurofabric.topology import clos_topology, random_junction, regular_junction


def _junction(pattern: str, n: int, density: float):
    if pattern == "regular":
        return regular_junction(n, n, density=density, seed=0)
    if pattern == "random":
        return random_junction(n, n, density=density, seed=0)
    width = round(n * density)  # a Clos ingress stage: n / width blocks of width × width
    topology = clos_topology(n, n, groups=n // width, middle=width)
    return list(topology.junctions.values())[0]


def _medians(statements: dict, rounds: int) -> dict[str, float]:
    """Microseconds per call of each statement: median over interleaved rounds."""
    for statement in statements.values():
        statement()
    number = max(1, int(0.02 / max(timeit.timeit(f, number=1) for f in statements.values())))
    times: dict[str, list[float]] = {name: [] for name in statements}
    names = list(statements)
    for round_ in range(rounds):  # each round starts one method later: none always runs
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # after
            statement = statements[name]  # the same one (nn.Linear's weights evict caches)
            times[name].append(timeit.timeit(statement, number=number) / number * 1e6)
    return {name: statistics.median(values) for name, values in times.items()}


def _row(pattern: str, n: int, density: float, batch: int | None, kernels, rounds) -> str:
    """One line: microseconds per method, a forward under no_grad if ``batch`` is None."""
    junction = _junction(pattern, n, density)
    modules = {"nn.Linear": nn.Linear(n, n), "auto": SparseLinear(junction)}
    for kernel in kernels:
        modules[kernel] = SparseLinear(junction, kernel=kernel)
    x = torch.randn(batch or 1, n, requires_grad=batch is not None)
    upstream = torch.randn(batch or 1, n)
    if batch is None:

        def step(module):
            with torch.no_grad():
                return module(x)
    else:

        def step(module):
            module(x).backward(upstream)

    times = _medians({name: lambda m=m: step(m) for name, m in modules.items()}, rounds)
    what = "batch-1 forward" if batch is None else f"batch-{batch} step"
    cells = "  ".join(f"{name} {us:9.1f}" for name, us in times.items())
    ratio = times["auto"] / times["nn.Linear"]
    return (
        f"{pattern:8s} {n:5d}  {junction.density:6.4f}  {what:16s}  {cells}  "
        f"(auto: {modules['auto'].kernel}, {ratio:.2f} of nn.Linear's time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,512,1024")
    parser.add_argument("--densities", default="0.0625,0.1875")
    parser.add_argument("--patterns", default="regular,random,blocks")
    parser.add_argument("--kernels", default="dense", help="comma-separated; '' for none")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(2)
    kernels = [k for k in args.kernels.split(",") if k]
    print(f"machine: {machine_name('cpu')}; {native.status()}; microseconds, 2 threads")
    for pattern in args.patterns.split(","):
        for n in map(int, args.sizes.split(",")):
            for density in map(float, args.densities.split(",")):
                if pattern == "regular" and (n * density) % 1:
                    continue  # a regular junction needs an integer fan-in
                if pattern == "blocks" and n % round(n * density):
                    continue  # a whole number of blocks
                for batch in (None, 1, 32, 256):
                    print(_row(pattern, n, density, batch, kernels, args.rounds), flush=True)


if __name__ == "__main__":
    main()
