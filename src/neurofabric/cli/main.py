"""Entry point: ``neurofabric <command> …``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from neurofabric import __version__
from neurofabric.cli import bench, bench_train, datasets, morse, sweep, topology, train
from neurofabric.cli._common import Parser, UsageError, run_guarded


def build_parser() -> Parser:
    parser = Parser(
        prog="neurofabric",
        description="Neural networks with pre-defined sparse connectivity.",
    )
    parser.add_argument("--version", action="version", version=f"neurofabric {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    topology.register(commands)
    bench.register(commands)
    bench_train.register(commands)
    morse.register(commands)
    datasets.register(commands)
    sweep.register(commands)
    train.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 user error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return run_guarded(args.handler, args)
    except KeyboardInterrupt:
        # Runs checkpoint every epoch and write files atomically: nothing is half-written.
        print("interrupted (a run resumes from its last checkpoint with --resume)", file=sys.stderr)
        return 130
