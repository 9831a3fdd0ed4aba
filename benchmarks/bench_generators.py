"""How fast are the pattern generators? Samples 1,000 junctions of each kind and reports timings.

Targets: 1,000 structured (800 -> 100, fan-out 50) plus 1,000 clash-free junctions in under
5 s in total on a 2-core machine; a Clos cascade for 8192 features in under a second.

    .venv/bin/python benchmarks/bench_generators.py [--count 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from neurofabric.topology.generators.block_shuffle import clos_topology
from neurofabric.topology.generators.butterfly import benes_topology
from neurofabric.topology.generators.clash_free import clash_free_junction
from neurofabric.topology.generators.regular import regular_junction
from neurofabric.topology.generators.unstructured import random_junction
from neurofabric.topology.generators.windowed import windowed_junction

CASES = {
    "structured 800->100 fan_out 50": lambda s: regular_junction(800, 100, fan_out=50, seed=s),
    "clash-free 800->100 fan_out 50 z 200 type1": lambda s: clash_free_junction(
        800, 100, fan_out=50, parallelism=200, memory_map="type1", seed=s
    ),
    "clash-free 800->100 fan_out 50 z 200 type2 dither": lambda s: clash_free_junction(
        800, 100, fan_out=50, parallelism=200, memory_map="type2", dither=True, seed=s
    ),
    "random 800->100 density 0.5": lambda s: random_junction(800, 100, density=0.5, seed=s),
    "windowed 800->100 fan_out 50": lambda s: windowed_junction(800, 100, fan_out=50),
}

CASCADES = {
    "clos 8192 features, r=64, m=128 (one cascade)": lambda: clos_topology(
        8192, 8192, groups=64, middle=128
    ),
    "benes 8192 features, radix 2 (one cascade)": lambda: benes_topology(8192),
}
TARGET = ("structured 800->100 fan_out 50", "clash-free 800->100 fan_out 50 z 200 type1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for name, make in CASCADES.items():
        start = time.perf_counter()
        topology = make()
        seconds = time.perf_counter() - start
        rows.append(
            {
                "case": name,
                "count": 1,
                "seconds": seconds,
                "ms_per_junction": 1e3 * seconds / len(topology.junctions),
            }
        )
    for name, make in CASES.items():
        make(0)  # warm-up
        start = time.perf_counter()
        for seed in range(args.count):
            make(seed)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "case": name,
                "count": args.count,
                "seconds": seconds,
                "ms_per_junction": 1e3 * seconds / args.count,
            }
        )
    target = sum(r["seconds"] for r in rows if r["case"] in TARGET)
    if args.json:
        print(json.dumps({"rows": rows, "structured_plus_clash_free_seconds": target}, indent=2))
        return
    for row in rows:
        print(f"{row['case']:<52} {row['seconds']:7.3f} s  ({row['ms_per_junction']:.3f} ms each)")
    verdict = "meets" if target < 5 else "MISSES"
    print(
        f"structured + clash-free (type1): {target:.3f} s for {args.count} each — {verdict} "
        "the 5 s target"
    )


if __name__ == "__main__":
    main()
