"""``neurofabric sweep``: train every point of a sweep file, kept in an Optuna storage."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="train a grid of runs (a study in an Optuna storage; resumable, shareable)",
        description="Train every point of SWEEP.toml once. Re-running skips finished points "
        "and resumes the rest; several processes or machines may share one --storage.",
    )
    sweep.add_argument("file", type=Path, metavar="SWEEP.toml", help="the sweep file")
    sweep.add_argument("--out", type=Path, help="output folder (default runs/<name>)")
    sweep.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna RDB URL (default sqlite:///<out>/study.db; postgresql://… for many machines)",
    )
    sweep.add_argument(
        "--workers", type=int, default=1, help="worker processes on this machine (default 1)"
    )
    sweep.add_argument("--dry-run", action="store_true", help="list the points without running")
    sweep.add_argument("--json", action="store_true", help="print the result as JSON")
    sweep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    # For tests: "module:function" used instead of the real training runner.
    sweep.add_argument("--runner", help=argparse.SUPPRESS)
    sweep.add_argument("--poll-interval", type=float, default=2.0, help=argparse.SUPPRESS)
    sweep.set_defaults(handler=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from neurofabric.cli._common import UsageError, emit_json
    from neurofabric.experiments.sweep import DEFAULT_RUNNER, run_sweep
    from neurofabric.experiments.sweep_config import load_sweep

    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    sweep = load_sweep(args.file)
    if args.dry_run:
        points = [{"key": p.key, "overrides": dict(p.overrides)} for p in sweep.points]
        if args.json:
            emit_json({"name": sweep.name, "points": points})
        else:
            for point in points:
                print(f"{point['key']}  {json.dumps(point['overrides'])}")
            print(f"{len(points)} points", file=sys.stderr)
        return 0
    out = args.out if args.out is not None else Path("runs") / sweep.name
    result = run_sweep(
        sweep,
        out,
        storage=args.storage,
        workers=args.workers,
        runner=args.runner or DEFAULT_RUNNER,
        progress=not args.no_progress and not args.json,
        poll_interval=args.poll_interval,
    )
    if args.json:
        emit_json(result.to_dict())
    else:
        _print_table(result.rows, sweep.metric)
    incomplete = result.counts["points"] - result.counts["complete"]
    if result.crashed_workers:
        print(f"{result.crashed_workers} sweep workers crashed", file=sys.stderr)
    if incomplete:
        failed = result.counts["failed"]
        print(f"{failed} runs failed; see {result.results_csv}", file=sys.stderr)
        return 1
    return 1 if result.crashed_workers else 0


def _print_table(rows: list[dict], metric: str) -> None:
    width = max([len("key")] + [len(row["key"]) for row in rows])
    print(f"{'key':<{width}}  {'state':<8}  {metric}")
    for row in rows:
        value = row.get(metric)
        shown = "" if value is None else f"{value:.4g}"
        print(f"{row['key']:<{width}}  {row['state']:<8}  {shown}")
