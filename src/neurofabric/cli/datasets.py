"""``neurofabric datasets list | show``: what can be loaded offline, and what a dataset holds."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from neurofabric.cli._common import emit_json
from neurofabric.data.datasets import available_datasets, dataset_names, load_dataset


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``datasets list | show`` to the top-level subcommands."""
    group = commands.add_parser("datasets", help="list and inspect the offline datasets")
    sub = group.add_subparsers(dest="action", metavar="ACTION", parser_class=type(group))
    sub.required = True

    listing = sub.add_parser("list", help="every dataset name: installed or not, sizes, source")
    listing.add_argument("--cache-dir", type=Path, help="Morse cache (default $NEUROFABRIC_CACHE)")
    listing.add_argument("--json", action="store_true", help="print the rows as JSON")
    listing.set_defaults(handler=_list)

    show = sub.add_parser("show", help="load a dataset: shapes, classes, value ranges")
    show.add_argument("name", help=f"one of: {', '.join(dataset_names())}")
    show.add_argument("--standardize", action="store_true", help="standardise (train stats)")
    show.add_argument("--pad-to", type=int, help="zero-pad features to this width (e.g. 800)")
    show.add_argument("--no-flatten", action="store_true", help="keep images as (C, H, W)")
    show.add_argument("--merge-train-val", action="store_true", help="train on train+val")
    show.add_argument("--seed", type=int, help="Morse generator seed / digits split (default 0)")
    show.add_argument("--cache-dir", type=Path, help="Morse cache (default $NEUROFABRIC_CACHE)")
    show.add_argument("--json", action="store_true", help="print the report as JSON")
    show.set_defaults(handler=_show)


def _list(args: argparse.Namespace) -> int:
    rows = [row.to_dict() for row in available_datasets(args.cache_dir)]
    if args.json:
        emit_json(rows)
        return 0
    width = max(len(row["name"]) for row in rows)
    print(f"{'name':<{width}}  installed  {'train/val/test':>20}  classes  source")
    for row in rows:
        installed = {True: "yes", False: "no", None: "your files"}[row["installed"]]
        sizes = "/".join(map(str, row["sizes"])) if row["sizes"] else "-"
        classes = row["num_classes"] if row["num_classes"] is not None else "-"
        hint = f" (install: {row['install']})" if row["installed"] is False else ""
        print(
            f"{row['name']:<{width}}  {installed:<9}  {sizes:>20}  {classes!s:>7}  "
            f"{row['source']}{hint}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    data = load_dataset(
        args.name,
        standardize=args.standardize,
        pad_to=args.pad_to,
        flatten=not args.no_flatten,
        merge_train_val=args.merge_train_val,
        seed=args.seed,
        cache_dir=args.cache_dir,
    )
    splits = {}
    for split, label in (("tr", "train"), ("va", "val"), ("te", "test")):
        x, y = getattr(data, f"x{split}"), getattr(data, f"y{split}")
        counts = np.bincount(y, minlength=data.num_classes)
        splits[label] = {
            "samples": len(x),
            "x_shape": list(x.shape),
            "x_dtype": str(x.dtype),
            "x_min": float(x.min()) if x.size else None,
            "x_max": float(x.max()) if x.size else None,
            "x_mean": float(x.mean(dtype=np.float64)) if x.size else None,
            "x_std": float(x.std(dtype=np.float64)) if x.size else None,
            "classes_present": int(np.count_nonzero(counts)),
            "per_class_min": int(counts.min()) if len(y) else 0,
            "per_class_max": int(counts.max()) if len(y) else 0,
        }
    report = {
        "name": data.name,
        "source": str(data.info.get("source", "")),
        "num_classes": data.num_classes,
        "input_shape": list(data.input_shape),
        "class_names": list(data.class_names) if data.class_names is not None else None,
        "splits": splits,
    }
    if args.json:
        emit_json(report)
        return 0
    print(f"{report['name']}: {report['source']}")
    print(f"  {data.num_classes} classes, input shape {tuple(data.input_shape)}")
    for label, row in splits.items():
        if not row["samples"]:
            print(f"  {label:<5} empty")
            continue
        print(
            f"  {label:<5} {row['samples']:>7} samples  x in [{row['x_min']:.4g}, "
            f"{row['x_max']:.4g}], mean {row['x_mean']:.4g}, sd {row['x_std']:.4g}; "
            f"{row['classes_present']} classes, {row['per_class_min']}–{row['per_class_max']} "
            "per class"
        )
    if data.class_names is not None:
        names = ", ".join(data.class_names[:12]) + (" …" if data.num_classes > 12 else "")
        print(f"  class names: {names}")
    return 0
