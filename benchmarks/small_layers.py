"""Small layers against ``nn.Linear``: where fixed per-call costs outweigh the arithmetic.

For each N × N layer and density, the medians (``torch.utils.benchmark``, 2 threads) of a
batch-1 forward under ``no_grad`` and of training steps (forward + backward of one upstream
gradient) at batches 1, 32 and 256, for ``nn.Linear``, ``kernel="auto"`` (the kernel it picks
is printed) and the ``dense``, ``gather`` and ``csr`` kernels:

    .venv/bin/python benchmarks/small_layers.py [--sizes 64,256,1024] [--densities 0.0625,0.1875]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.utils import benchmark

from neurofabric.bench import machine_name
from neurofabric.kernels import native
from neurofabric.nn import SparseLinear
from neurofabric.topology import regular_junction


def _us(statement) -> float:
    timer = benchmark.Timer("f()", globals={"f": statement})
    return timer.blocked_autorange(min_run_time=0.2).median * 1e6


def _row(n: int, density: float, batch: int | None) -> str:
    """One line: microseconds per method, a forward under no_grad if ``batch`` is None."""
    junction = regular_junction(n, n, density=density, seed=0)
    modules = {"nn.Linear": nn.Linear(n, n), "auto": SparseLinear(junction)}
    for kernel in ("dense", "gather", "csr"):
        modules[kernel] = SparseLinear(junction, kernel=kernel)
    x = torch.randn(batch or 1, n, requires_grad=batch is not None)
    upstream = torch.randn(batch or 1, n)
    times = {}
    for name, module in modules.items():
        if batch is None:
            with torch.no_grad():
                times[name] = _us(lambda m=module: m(x))
        else:
            times[name] = _us(lambda m=module: m(x).backward(upstream))
    what = "batch-1 forward" if batch is None else f"batch-{batch} step"
    cells = "  ".join(f"{name} {us:9.1f}" for name, us in times.items())
    return f"{n:5d}  {density:6.4f}  {what:16s}  {cells}  (auto: {modules['auto'].kernel})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,512,1024")
    parser.add_argument("--densities", default="0.0625,0.1875")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"machine: {machine_name('cpu')}; {native.status()}; microseconds, 2 threads")
    for n in map(int, args.sizes.split(",")):
        for density in map(float, args.densities.split(",")):
            if (n * density) % 1:
                continue  # a regular junction needs an integer fan-in
            for batch in (None, 1, 32, 256):
                print(_row(n, density, batch), flush=True)


if __name__ == "__main__":
    main()
