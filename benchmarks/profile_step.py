"""Where one training step of a sparse layer goes: step medians and the profiler's top ops.

For an N×N ``gather`` layer (regular junction, density 1/16) or a Clos cascade (the shape
``neurofabric bench`` uses), batch 256, it prints:

- the forward+backward median with a fixed random upstream gradient and with
  ``y.sum().backward()`` (whose stride-0 gradient each method must copy first), beside
  ``nn.Linear`` under both;
- for the cascade, the step with ``torch.bmm`` replaced by an allocation of its output (the
  time of every op but the batched matmuls' arithmetic);
- the dense GEMM rate of this machine (an N×N by N×N matmul, GFLOP/s);
- per step, the self time of the most expensive ops (``torch.profiler``).

    .venv/bin/python benchmarks/profile_step.py [--layer gather|cascade] [--features 4096]
        [--batch 256] [--threads 2] [--steps 10]
"""

from __future__ import annotations

import argparse
import warnings
from unittest import mock

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile
from torch.utils import benchmark

from neurofabric.bench import clos_for_density, machine_name
from neurofabric.nn import SparseCascade, SparseLinear
from neurofabric.topology import clos_topology, regular_junction


def _median_ms(statement) -> float:
    timer = benchmark.Timer("s()", globals={"s": statement}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=1.0).median * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", choices=("gather", "cascade"), default="gather")
    parser.add_argument("--features", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    n = args.features
    if args.layer == "gather":
        layer = SparseLinear(regular_junction(n, n, density=1 / 16, seed=0), kernel="gather")
    else:
        groups, middle = clos_for_density(n, 1 / 16)
        layer = SparseCascade(clos_topology(n, n, groups=groups, middle=middle))
    linear = nn.Linear(n, n)
    x = torch.randn(args.batch, n, requires_grad=True)
    upstream = torch.randn(args.batch, n)

    def step(module, summed: bool) -> None:
        module.zero_grad(set_to_none=True)
        x.grad = None
        y = module(x)
        y.sum().backward() if summed else y.backward(upstream)

    print(
        f"machine: {machine_name()}, threads {args.threads}, {args.layer} {n}x{n}, batch "
        f"{args.batch}"
    )
    for name, module in (("sparse", layer), ("nn.Linear", linear)):
        fixed = _median_ms(lambda m=module: step(m, False))
        summed = _median_ms(lambda m=module: step(m, True))
        print(f"{name:>10}: {fixed:8.2f} ms with an upstream gradient, {summed:8.2f} ms with sum()")
    if args.layer == "cascade":  # what the batched matmuls leave: every other op of the step
        empty = lambda a, b, **_: a.new_empty(a.shape[0], a.shape[1], b.shape[2])  # noqa: E731
        with mock.patch.object(torch, "bmm", empty):
            rest = _median_ms(lambda: step(layer, False))
        print(f"    sparse: {rest:8.2f} ms with torch.bmm replaced by an allocation")
    a = torch.randn(n, n)
    gemm = _median_ms(lambda: a @ a)
    print(f"dense GEMM {n}³: {2 * n**3 / gemm / 1e6:.0f} GFLOP/s")
    for _ in range(2):
        step(layer, False)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(args.steps):
            step(layer, False)
    averages = prof.key_averages(group_by_input_shape=True)
    print(f"per step (self time, over {args.steps} steps):")
    for event in sorted(averages, key=lambda e: -e.self_cpu_time_total)[:12]:
        per_step = event.self_cpu_time_total / 1e3 / args.steps
        print(f"  {per_step:7.2f} ms  {event.key:<32} {event.input_shapes}")


if __name__ == "__main__":
    main()
