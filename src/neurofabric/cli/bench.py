"""``neurofabric bench``: sparse kernels against dense PyTorch, ratios from one run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from neurofabric.cli._common import float_list, int_list

METHOD_NAMES = ("dense", "masked", "torch-csr", "gather", "csr", "blockdiag", "cascade")


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench", help="time sparse layers against dense nn.Linear in the same run"
    )
    bench.add_argument(
        "--sizes",
        type=int_list,
        default=[1024, 2048, 4096],
        metavar="N,...",
        help="layer widths N (N x N layers; default 1024,2048,4096)",
    )
    bench.add_argument(
        "--batch",
        type=int_list,
        default=[1, 256],
        metavar="B,...",
        help="batch sizes (default 1,256)",
    )
    bench.add_argument(
        "--densities",
        type=float_list,
        default=[1 / 16],
        metavar="D,...",
        help="target densities (default 0.0625)",
    )
    bench.add_argument(
        "--methods",
        default=",".join(METHOD_NAMES),
        help=f"comma-separated subset of {','.join(METHOD_NAMES)}",
    )
    bench.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    bench.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    bench.add_argument("--no-backward", action="store_true", help="time the forward only")
    bench.add_argument("--no-memory", action="store_true", help="skip the peak-memory probe")
    bench.add_argument("--out", type=Path, help="also write the JSON rows to this file")
    bench.add_argument("--force", action="store_true", help="overwrite --out")
    bench.add_argument("--json", action="store_true", help="print the rows as JSON")
    bench.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from neurofabric.bench import machine_name, run_bench
    from neurofabric.cli._common import UsageError, emit_json
    from neurofabric.kernels import native
    from neurofabric.topology.io import atomic_write

    if args.out is not None and args.out.exists() and not args.force:
        raise UsageError(f"{args.out} already exists; refusing to overwrite it (use --force)")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda needs a CUDA device; none is available")
    if args.rounds < 1:
        raise UsageError(f"--rounds must be at least 1, got {args.rounds}")
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    total = len(args.sizes) * len(args.densities) * len(args.batch)
    with tqdm(total=total, desc="bench", unit="config", file=sys.stderr, disable=None) as bar:

        def progress(message: str) -> None:
            bar.set_postfix_str(message)
            bar.update(1)

        rows = run_bench(
            args.sizes,
            args.batch,
            args.densities,
            methods,
            rounds=args.rounds,
            backward=not args.no_backward,
            memory=not args.no_memory,
            device=args.device,
            progress=progress,
        )
    payload = {
        "threads": torch.get_num_threads(),
        "device": args.device,
        "machine": machine_name(args.device),
        "torch": torch.__version__,
        "native": native.status(),  # whether gather ran its native CPU passes, and why not
        "rows": [row.to_dict() for row in rows],
    }
    if args.out is not None:
        text = json.dumps(payload, indent=2).encode()
        atomic_write(args.out, lambda file: file.write(text), overwrite=args.force)
    if args.json:
        emit_json(payload)
    else:
        print(format_table(rows, payload["threads"], payload["machine"]))
    return 0


def format_table(rows, threads: int, machine: str | None = None) -> str:
    """A fixed-width table of bench rows, under a line naming the threads and the machine."""
    header = (
        f"{'N':>5} {'batch':>5} {'method':<10} {'density':>8} {'fwd ms':>9} {'fwd+bwd ms':>11} "
        f"{'speedup':>8} {'ideal':>6} {'of ideal':>8} {'peak MB':>8}  detail"
    )
    title = f"threads: {threads}" + (f", machine: {machine}" if machine else "")
    lines = [title, header, "-" * len(header)]
    for r in rows:
        bwd = f"{r.fwd_bwd_ms:11.3f}" if r.fwd_bwd_ms is not None else f"{'-':>11}"
        peak = f"{r.peak_mb:8.1f}" if r.peak_mb is not None else f"{'-':>8}"
        lines.append(
            f"{r.features:>5} {r.batch:>5} {r.method:<10} {r.density:8.4f} {r.fwd_ms:9.3f} {bwd} "
            f"{r.speedup:8.2f} {r.ideal:6.1f} {r.fraction_of_ideal:8.2f} {peak}  {r.detail}"
        )
    return "\n".join(lines)
