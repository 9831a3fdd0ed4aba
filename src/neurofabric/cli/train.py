"""``neurofabric train`` (one experiment) and ``neurofabric compare`` (runs side by side)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurofabric.cli._common import emit_json, float_list, int_list

# Convenience flags: each is a dotted config key (flags win over the file, --set wins over both).
_FLAGS = (
    ("--dataset", "data.name", str, "dataset name (data.name), e.g. mnist, morse:baseline"),
    ("--pad-to", "data.pad_to", int, "zero-pad inputs to this width (data.pad_to)"),
    ("--sizes", "model.sizes", "intlist", "layer sizes N_0,...,N_L (model.sizes)"),
    ("--pattern", "model.pattern", "strs", "pattern, or one per junction (model.pattern)"),
    ("--fan-out", "model.fan_out", "ints", "fan-outs d_out per junction (model.fan_out)"),
    ("--density", "model.density", "floats", "densities per junction (model.density)"),
    ("--parallelism", "model.parallelism", "ints", "z per junction (model.parallelism)"),
    ("--epochs", "train.epochs", int, "epochs (train.epochs)"),
    ("--batch-size", "train.batch_size", int, "batch size (train.batch_size)"),
    ("--lr", "optimizer.lr", float, "learning rate (optimizer.lr)"),
    ("--l2", "optimizer.l2", float, "L2 penalty lambda (optimizer.l2)"),
    ("--seed", "train.seed", int, "seed (train.seed)"),
)


def _one_or_list(parse, *, keep_list: bool = False):
    """An argparse type: ``parse`` a comma-separated list; one value stands for every junction."""

    def convert(text: str):
        values = parse(text)
        return values[0] if len(values) == 1 and not keep_list else values

    return convert


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


_KINDS = {
    "intlist": _one_or_list(int_list, keep_list=True),
    "ints": _one_or_list(int_list),
    "floats": _one_or_list(float_list),
    "strs": _one_or_list(_names),
}


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train one pre-defined sparse network (config file and/or flags)",
        description="Train one experiment into a run folder: progress bar, per-epoch records, "
        "checkpoint every epoch, summary.json and curves.png.",
    )
    train.add_argument("config", nargs="?", type=Path, help="experiment TOML file (optional)")
    for flag, key, kind, text in _FLAGS:
        if isinstance(kind, str):
            train.add_argument(flag, dest=key, metavar="V,...", help=text, type=_KINDS[kind])
        else:
            train.add_argument(flag, dest=key, type=kind, help=text)
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, e.g. optimizer.lr=3e-4",
    )
    train.add_argument("--out", type=Path, help="run folder (default runs/<config name>)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--force", action="store_true", help="replace the run in --out")
    train.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--json", action="store_true", help="print summary.json on stdout")
    train.set_defaults(handler=_train)

    compare = commands.add_parser(
        "compare", help="side-by-side table (and curves) of finished runs"
    )
    compare.add_argument("runs", nargs="+", type=Path, help="run folders")
    compare.add_argument("--png", type=Path, help="write training curves of all runs here")
    compare.add_argument("--force", action="store_true", help="overwrite --png")
    compare.add_argument("--json", action="store_true", help="print the rows as JSON")
    compare.set_defaults(handler=_compare)


def _train(args: argparse.Namespace) -> int:
    from neurofabric.experiments.config import load_config, parse_override
    from neurofabric.experiments.run import train_run

    overrides = {
        key: getattr(args, key) for _, key, _, _ in _FLAGS if getattr(args, key) is not None
    }
    overrides.update(parse_override(text) for text in args.overrides)
    if args.config is None and "model.sizes" not in overrides:
        raise ValueError(
            "give an experiment file (neurofabric train CONFIG.toml) or at least --sizes "
            "N0,...,NL (see configs/ for examples)"
        )
    config = load_config(args.config, overrides)
    name = args.config.stem if args.config is not None else "run"
    out = args.out or Path("runs") / name
    summary = train_run(
        config,
        out,
        resume=args.resume,
        force=args.force,
        progress=not args.quiet,
        device=args.device,
    )
    if args.json:
        emit_json(summary)
    else:
        print(format_table([(str(out), summary)]))
        print(f"run folder: {out}")
    return 0


ROWS = (
    ("test accuracy", "test_accuracy", "{:.4f}"),
    ("test loss", "test_loss", "{:.4f}"),
    ("best val accuracy", "val_accuracy", "{:.4f}"),
    ("KL to reference (nats)", "kl_to_reference", "{:.4f}"),
    ("parameters", "parameters", "{:,}"),
    ("FLOPs / sample", "flops_per_sample", "{:,}"),
    ("overall density", "overall_density", "{:.4f}"),
    ("epochs", "epochs", "{}"),
    ("train time (s)", "train_time_s", "{:.1f}"),
    ("samples / s", "samples_per_s", "{:,.0f}"),
)


def format_table(runs: list[tuple[str, dict]]) -> str:
    """Runs as columns, the summary numbers as rows."""
    header = ["", *[label for label, _ in runs]]
    lines = [header]
    for title, key, fmt in ROWS:
        cells = [title]
        for _, summary in runs:
            value = summary.get(key)
            cells.append("-" if value is None else fmt.format(value))
        lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in lines
    )


def _compare(args: argparse.Namespace) -> int:
    import json

    from neurofabric.experiments.run import load_summary

    runs = [(str(path), load_summary(path)) for path in args.runs]
    if args.png is not None:
        from neurofabric.plots.junction import save_figure
        from neurofabric.plots.training import training_curves

        histories = {}
        for path in args.runs:
            lines = (path / "epochs.jsonl").read_text().splitlines()
            histories[path.name] = [json.loads(line) for line in lines if line.strip()]
        save_figure(training_curves(histories), args.png, overwrite=args.force)
    if args.json:
        emit_json(
            [{"run": label, **{k: v for k, v in s.items() if k != "config"}} for label, s in runs]
        )
    else:
        print(format_table([(Path(label).name, s) for label, s in runs]))
        if args.png is not None:
            print(f"curves written to {args.png}", file=sys.stderr)
    return 0
