"""The native passes one by one, and the effects the README names, at N×N, density 1/16.

Prints medians (interleaved repeats) of:

- each pass of a training step: forward bag sum, the transposed edge order (a counting sort,
  derived in every backward; beside a stable ``torch.sort``, its fallback), ``take``,
  transposed bag sum, edge gradient, and the transpose of a batch-major input into padded rows
  (beside torch's ``copy_``);
- one sample's forward pass (``row_dots``) beside MKL's CSR ``mv`` over the same pattern;
- the forward bag sum on one thread with rows 1 KiB apart (``b = 256`` unpadded) against the
  padded stride :func:`~neurofabric.kernels.native.passes.row_stride` picks;
- the same pass alone and right after a torch op, on torch's OpenMP team and on pthreads
  (whose threads compete with OpenMP workers still spinning after torch's last parallel op);
- a Clos cascade's batch-1 forward (one native call for the whole chain, ``blocks.c``) alone
  and right after a dense ``nn.Linear`` forward (which evicts the cascade's weights from the
  caches), beside its products stage by stage on the native block product and on
  ``torch.bmm``, and the general path the chain took before.

    .venv/bin/python benchmarks/native_passes.py [--features 4096] [--batch 256] [--repeats 20]
        [--march haswell]

``--march`` builds the library for another target than this CPU (``haswell``: AVX2, 8-float
vectors; ``x86-64``: SSE2, 4) — the passes at the vector width such a CPU compiles for.
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace
from unittest import mock

import numpy as np
import torch
from torch import nn

from neurofabric.bench import clos_for_density, machine_name
from neurofabric.kernels import block_chain, native
from neurofabric.kernels._sparse import csr, sort_order, transpose_offsets
from neurofabric.kernels.native import passes
from neurofabric.nn import SparseCascade
from neurofabric.topology import clos_topology, regular_junction


def _medians(cases: dict, repeats: int) -> dict[str, float]:
    """Median milliseconds of each ``(setup, statement)``, interleaved over ``repeats``."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, (setup, statement) in cases.items():
            setup()
            start = time.perf_counter()
            statement()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def step_operands(n: int, b: int) -> SimpleNamespace:
    """The operands of a ``gather`` step's passes at N×N, density 1/16, batch ``b`` (seed 0):
    the junction, its fan-in table ``table``, row pointers ``crow``, transposed ``order`` and
    ``offsets``, ``weight`` and the ``transposed`` weights, an input ``x``, feature-major
    ``x_rows`` and ``g_rows``, and the ``generator`` for more."""
    junction = regular_junction(n, n, density=1 / 16, seed=0)
    table = torch.from_numpy(np.ascontiguousarray(junction.fan_in_table(), dtype=np.int32))
    order = sort_order(table.view(-1)).to(torch.int32)
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(junction.nnz, generator=generator)
    x = torch.randn(b, n, generator=generator)
    return SimpleNamespace(
        n=n,
        junction=junction,
        table=table,
        crow=torch.from_numpy(junction.indptr.astype(np.int32)),
        order=order,
        offsets=torch.from_numpy(transpose_offsets(junction).astype(np.int32)),
        weight=weight,
        transposed=passes.take(weight, order),
        x=x,
        x_rows=passes.feature_major(x),
        g_rows=passes.feature_major(torch.randn(b, n, generator=generator)),
        generator=generator,
    )


def step_passes(o: SimpleNamespace) -> dict:
    """The three passes of a step over :func:`step_operands`, as statements by name."""
    return {
        "forward bag sum": lambda: passes.bag_sum(o.x_rows, o.table, o.weight, o.n, offsets=o.crow),
        "transposed bag sum (dL/dx)": lambda: passes.bag_sum(
            o.g_rows, o.order, o.transposed, o.n, offsets=o.offsets, divisor=o.table.shape[1]
        ),
        "edge gradient (dL/dw)": lambda: passes.edge_gradient(
            o.g_rows, o.x_rows, o.table, offsets=o.crow
        ),
    }


def _print(title: str, medians: dict[str, float]) -> None:
    print(title)
    for name, ms in medians.items():
        print(f"  {ms:8.2f} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--march", default="native", help="compiler -march (default native)")
    args = parser.parse_args()
    if args.march != "native":
        native.FLAGS = native._FALLBACK_FLAGS = ("-O3", f"-march={args.march}", *native.FLAGS[2:])
    lib = native.library()
    if lib is None:
        raise SystemExit(f"error: {native.status()}")
    torch.set_num_threads(2)
    n, b = args.features, args.batch
    print(f"machine: {machine_name('cpu')}; {native.status()}; {n}x{n}, batch {b}")
    operands = step_operands(n, b)
    table, crow, order, offsets = operands.table, operands.crow, operands.order, operands.offsets
    weight, x, x_rows = operands.weight, operands.x, operands.x_rows
    generator = operands.generator
    pass_of = step_passes(operands)
    padded = passes.new_rows(n, b)
    nothing = lambda: None  # noqa: E731

    _print(
        "passes of one step (2 threads):",
        _medians(
            {
                "forward bag sum": (nothing, pass_of["forward bag sum"]),
                "transposed edge order (counting sort)": (
                    nothing,
                    lambda: passes.transpose_edges(
                        crow, table.view(-1), offsets, rows=False, order=True
                    ),
                ),
                "stable torch.sort of the table (the order's fallback)": (
                    nothing,
                    lambda: sort_order(table.view(-1)),
                ),
                "take (weights into transposed order)": (
                    nothing,
                    lambda: passes.take(weight, order),
                ),
                "transposed bag sum (dL/dx)": (nothing, pass_of["transposed bag sum (dL/dx)"]),
                "edge gradient (dL/dw)": (nothing, pass_of["edge gradient (dL/dw)"]),
                "native transpose into padded rows": (nothing, lambda: passes.feature_major(x)),
                "torch copy_ into padded rows": (nothing, lambda: padded.copy_(x.t())),
            },
            args.repeats,
        ),
    )

    sample = x[:1].contiguous()
    _print(
        "one sample's forward (2 threads):",
        _medians(
            {
                "row_dots (native)": (
                    nothing,
                    lambda: passes.row_dots(sample, table.view(-1), weight, offsets=crow),
                ),
                "torch.mv over a CSR matrix (MKL)": (
                    nothing,
                    lambda: torch.mv(csr(crow, table.view(-1), weight, (n, n)), sample[0]),
                ),
            },
            args.repeats * 10,
        ),
    )

    unpadded = x.t().contiguous()  # rows b floats apart (1 KiB at b = 256)
    torch.set_num_threads(1)
    _print(
        f"forward bag sum, 1 thread, row stride {unpadded.stride(0)} vs {x_rows.stride(0)}:",
        _medians(
            {
                f"stride {unpadded.stride(0)}": (
                    nothing,
                    lambda: passes.bag_sum(unpadded, table, weight, n, offsets=crow),
                ),
                f"stride {x_rows.stride(0)}": (
                    nothing,
                    lambda: passes.bag_sum(x_rows, table, weight, n, offsets=crow),
                ),
            },
            args.repeats,
        ),
    )
    torch.set_num_threads(2)

    big = torch.randn(4096, 1024, generator=generator)
    openmp = native._torch_openmp()
    results = {}
    for threads, entries in (("torch's OpenMP team", openmp), ("pthreads", None)):
        if threads.startswith("torch") and entries is None:
            continue
        lib.nf_use_openmp(*(entries[:3] if entries else (None, None, None)))
        forward = lambda: passes.bag_sum(x_rows, table, weight, n, offsets=crow)  # noqa: E731
        for key, setup in (("alone", nothing), ("right after a torch op", big.sum)):
            # each in its own loop: interleaved, "alone" would follow the other case's torch op
            results[f"{threads}, {key}"] = _medians({key: (setup, forward)}, args.repeats)[key]
    if openmp is not None:
        lib.nf_use_openmp(*openmp[:3])
    _print("forward bag sum, 2 threads:", results)

    groups, middle = clos_for_density(n, 1 / 16)
    cascade = SparseCascade(clos_topology(n, n, groups=groups, middle=middle))
    dense = nn.Linear(n, n)
    one = torch.randn(1, n, generator=generator)
    weights = [w.detach() for w in cascade._stage_weights()]
    plan = block_chain.block_chain_plan(cascade.topology)
    stages = [
        (block_chain._block_weight(w, stage, None), stage)
        for w, stage in zip(weights, plan.stages, strict=True)
    ]

    def stage_by_stage(product):
        """The chain's products only, one call per stage on ``product``."""
        h = one.t()
        for block, stage in stages:
            h = product(block, block_chain._to_blocks(h, stage)).reshape(-1, 1)

    def on_bmm():  # the general path: no one-call chain, no native product
        with (
            mock.patch.object(block_chain, "_vector_chain", lambda *a: None),
            mock.patch.object(block_chain, "native_product_applies", lambda *a: False),
        ):
            return cascade(one)

    cases = {
        "alone (one native call for the chain)": (nothing, lambda: cascade(one)),
        "right after a dense forward": (lambda: dense(one), lambda: cascade(one)),
        "stage by stage, native product": (
            nothing,
            lambda: stage_by_stage(passes.block_product),
        ),
        "stage by stage, torch.bmm": (nothing, lambda: stage_by_stage(torch.bmm)),
        "the general path (torch.bmm and the ops around it)": (nothing, on_bmm),
        "dense nn.Linear, alone": (nothing, lambda: dense(one)),
    }
    with torch.no_grad():  # each case in its own loop, so "alone" keeps its weights cached
        medians = {
            key: _medians({key: case}, args.repeats * 10)[key] for key, case in cases.items()
        }
    _print("Clos cascade, batch-1 forward:", medians)


if __name__ == "__main__":
    main()
