"""``tune_kernels`` against ``kernel="auto"`` on a five-layer sparse MLP, batch 256.

The layers (800→100 at density 0.2, 100→128 at 0.25, 128→1024 and 1024→1024 at 1/16,
1024→10 at 0.5) span the sizes where the fastest kernel moves with the processor. Prints, per
layer, the kernel chosen, what ``auto`` picks, every candidate's forward+backward median and
``nn.Linear``'s.

    .venv/bin/python benchmarks/tune_example.py [--threads 2] [--min-run-time 0.1]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from neurofabric.bench import machine_name
from neurofabric.nn import SparseLinear, tune_kernels
from neurofabric.topology import regular_junction

LAYERS = [
    (800, 100, 0.2),
    (100, 128, 0.25),
    (128, 1024, 1 / 16),
    (1024, 1024, 1 / 16),
    (1024, 10, 0.5),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-run-time", type=float, default=0.1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    modules: list[nn.Module] = []
    for i, (n_in, n_out, density) in enumerate(LAYERS):
        if i:
            modules.append(nn.ReLU())
        modules.append(SparseLinear(regular_junction(n_in, n_out, density=density, seed=0)))
    model = nn.Sequential(*modules)
    began = time.perf_counter()
    report = tune_kernels(model, torch.randn(256, 800), min_run_time=args.min_run_time)
    print(f"machine: {machine_name()}; tuning took {time.perf_counter() - began:.1f} s")
    for name, entry in report.items():
        layer = model.get_submodule(name)
        times = ", ".join(f"{k} {v:.3f}" for k, v in entry["ms"].items())
        print(
            f"{layer.in_features:>5}x{layer.out_features:<5} {entry['kernel']:<7} "
            f"(auto {entry['auto']:<7}) ms: {times}; nn.Linear {entry['linear_ms']:.3f}"
        )


if __name__ == "__main__":
    main()
