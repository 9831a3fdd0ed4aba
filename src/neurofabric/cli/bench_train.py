"""``neurofabric bench-train``: training throughput and per-epoch overhead against dense."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from neurofabric.cli._common import emit_json


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench-train",
        help="training samples/s of a Clos-cascade MLP vs dense, and per-epoch overhead",
        description="Two measurements, ratios from one run: (1) training samples/s of an MLP "
        "whose WIDTH x WIDTH junctions are Clos cascades against the nn.Linear MLP of the same "
        "sizes; (2) the share of each epoch spent outside forward/backward when the MNIST "
        "(800, 100, 100, 100, 10) nets of configs/ train with a checkpoint every epoch.",
    )
    bench.add_argument("--width", type=int, default=4096, help="hidden width (default 4096)")
    bench.add_argument("--hidden", type=int, default=3, help="hidden layers (default 3)")
    bench.add_argument("--groups", type=int, default=8, help="Clos r (default 8)")
    bench.add_argument("--middle", type=int, default=128, help="Clos m (default 128)")
    bench.add_argument("--batch", type=int, default=256, help="batch size (default 256)")
    bench.add_argument("--steps", type=int, default=3, help="steps per round (default 3)")
    bench.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    bench.add_argument(
        "--overhead-configs",
        type=Path,
        nargs="*",
        default=[Path("configs/mnist_clash_free.toml"), Path("configs/mnist_dense.toml")],
        metavar="TOML",
        help="configs whose per-epoch overhead is measured (default: the demo's two; none to skip)",
    )
    bench.add_argument("--epochs", type=int, default=3, help="epochs per overhead run")
    bench.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    bench.add_argument("--out", type=Path, help="also write the JSON result to this file")
    bench.add_argument("--force", action="store_true", help="overwrite --out")
    bench.add_argument("--json", action="store_true", help="print the result as JSON")
    bench.set_defaults(handler=_bench_train)


def _bench_train(args: argparse.Namespace) -> int:
    import torch

    from neurofabric.experiments.bench_train import (
        clos_mlp_config,
        measure_overhead,
        measure_throughput,
    )
    from neurofabric.experiments.config import load_config
    from neurofabric.topology.io import atomic_write

    for name in ("width", "hidden", "groups", "middle", "batch", "steps", "rounds", "epochs"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.out is not None and args.out.exists() and not args.force:
        raise ValueError(f"{args.out} already exists; refusing to overwrite it (use --force)")
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = [load_config(path) for path in args.overhead_configs]
    config = clos_mlp_config(
        args.width, args.hidden, groups=args.groups, middle=args.middle, batch=args.batch
    )

    def note(text: str) -> None:
        print(f"throughput: {text}", file=sys.stderr)

    result = {
        "throughput": measure_throughput(
            config, steps=args.steps, rounds=args.rounds, device=args.device, progress=note
        ),
        "overhead": [],
    }
    for path, overhead_config in zip(args.overhead_configs, configs, strict=True):
        print(f"overhead: {path}", file=sys.stderr)
        row = measure_overhead(overhead_config, epochs=args.epochs, device=args.device)
        result["overhead"].append({"config": str(path), **row})
    if args.out is not None:
        text = json.dumps(result, indent=2) + "\n"
        atomic_write(args.out, lambda f: f.write(text.encode()), overwrite=args.force)
    if args.json:
        emit_json(result)
        return 0
    t = result["throughput"]
    print(
        f"training throughput, {' -> '.join(map(str, t['layer_sizes']))} "
        f"({', '.join(t['junction_kinds'])}), batch {t['batch']}, {t['threads']} threads"
    )
    print(f"  sparse  {t['sparse_samples_per_s']:>10,.0f} samples/s")
    print(f"  dense   {t['dense_samples_per_s']:>10,.0f} samples/s")
    print(
        f"  speedup {t['speedup']:.2f}x  (ideal {t['ideal']:.2f}x at overall density "
        f"{t['overall_density']:.4f}; fraction of ideal {t['fraction_of_ideal']:.2f})"
    )
    for row in result["overhead"]:
        print(
            f"epoch overhead, {row['config']}: {row['overhead_fraction']:.1%} of "
            f"{row['epoch_seconds']:.2f} s/epoch outside forward/backward/step and evaluation "
            f"(data {row['data_fraction']:.1%}, checkpoint {row['checkpoint_fraction']:.1%}, "
            f"evaluation {row['eval_fraction']:.1%})"
        )
    return 0
