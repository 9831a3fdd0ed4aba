"""``neurofabric morse generate | metrics | show | presets``: the Morse datasets of SPEC §8."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from neurofabric.cli._common import UsageError, emit_json, int_list
from neurofabric.data.morse import (
    MORSE_PRESETS,
    PRESET_NOTES,
    MorseSpec,
    default_filename,
    generate_morse,
    load_morse,
    load_morse_spec,
    morse_preset,
    save_morse,
)
from neurofabric.data.morse_spec import CODEBOOKS, ROUND_MODES, STYLES

# MorseSpec fields that `generate` takes as flags of the same name (dashes for underscores).
_KNOBS = (
    "style",
    "frame_len",
    "dilation",
    "leading_space",
    "symbol_mean",
    "symbol_sd",
    "noise_mean",
    "noise_sd",
    "levels",
    "round_mode",
    "decimals",
    "max_flip",
    "codebook",
)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``morse generate | metrics | show | presets`` to the top-level subcommands."""
    group = commands.add_parser("morse", help="generate, score and draw Morse code datasets")
    sub = group.add_subparsers(dest="action", metavar="ACTION", parser_class=type(group))
    sub.required = True

    generate = sub.add_parser("generate", help="draw a Morse dataset and save it as .npz")
    _generate_arguments(generate)
    generate.set_defaults(handler=_generate)

    metrics = sub.add_parser(
        "metrics", help="difficulty metrics V_lower, V_upper, V_dist, V_thresh"
    )
    metrics.add_argument("path", type=Path)
    metrics.add_argument(
        "--variant",
        choices=("corrected", "code"),
        default="corrected",
        help="published formulas (default) or Dey's code as written",
    )
    metrics.add_argument(
        "--dim-variance",
        choices=("mean", "median"),
        default="mean",
        help="collapse per-dimension variances by mean (default) or median",
    )
    metrics.add_argument("--threshold", type=float, default=0.05, help="V_thresh (default 0.05)")
    metrics.add_argument("--json", action="store_true", help="print the metrics as JSON")
    metrics.set_defaults(handler=_metrics)

    show = sub.add_parser("show", help="draw a grid of samples per class")
    show.add_argument("path", type=Path)
    show.add_argument("--png", type=Path, required=True, help="image to write")
    show.add_argument("--samples", type=int, default=4, help="frames per class (default 4)")
    show.add_argument(
        "--split", choices=("tr", "va", "te"), default="tr", help="which split (default tr)"
    )
    show.add_argument("--force", action="store_true", help="overwrite an existing image")
    show.set_defaults(handler=_show)

    presets = sub.add_parser("presets", help="list the named presets")
    presets.add_argument("--json", action="store_true", help="print the presets as JSON")
    presets.set_defaults(handler=_presets)


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        default="baseline",
        help=f"start from a preset (default baseline): {', '.join(MORSE_PRESETS)}",
    )
    parser.add_argument("--style", choices=STYLES, help="GRAY levels or BW bits")
    parser.add_argument("--frame-len", type=int, help="time steps per frame before dilation")
    for kind in ("dot", "dash", "space"):
        parser.add_argument(
            f"--{kind}", type=int_list, metavar="MIN,MAX", help=f"{kind} length range"
        )
    parser.add_argument(
        "--leading-space",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random leading spaces before the codeword",
    )
    parser.add_argument("--dilation", type=int, help="multiply the frame and every length")
    parser.add_argument("--symbol-mean", type=float, help="GRAY: mean mark level")
    parser.add_argument("--symbol-sd", type=float, help="GRAY: sd of mark levels")
    parser.add_argument("--noise-mean", type=float, help="GRAY: mean of the additive noise")
    parser.add_argument("--noise-sd", type=float, help="GRAY: sd of the additive noise")
    parser.add_argument("--levels", type=int, help="GRAY: clip to [0, levels], divide by it")
    parser.add_argument("--round-mode", choices=ROUND_MODES, help="GRAY: rounding")
    parser.add_argument("--decimals", type=int, help="GRAY: decimals kept (round-mode decimals)")
    parser.add_argument("--max-flip", type=int, help="BW: flip up to this many positions")
    parser.add_argument("--codebook", choices=CODEBOOKS, help="faithful (64) or dedup (63)")
    parser.add_argument(
        "--per-class",
        type=int_list,
        metavar="TRAIN,VAL,TEST",
        help="samples per class in each split (default 5000,1000,1000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, help="file to write (default: named after the knobs)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def spec_from_args(args: argparse.Namespace) -> MorseSpec:
    """The preset's spec with every knob given on the command line replaced."""
    changes = {name: getattr(args, name) for name in _KNOBS if getattr(args, name) is not None}
    for kind in ("dot", "dash", "space"):
        values = getattr(args, kind)
        if values is not None:
            if len(values) != 2:
                raise UsageError(f"--{kind} needs MIN,MAX (2 integers), got {len(values)}")
            changes[f"{kind}_min"], changes[f"{kind}_max"] = values
    if args.per_class is not None:
        if len(args.per_class) != 3:
            raise UsageError(
                f"--per-class needs TRAIN,VAL,TEST (3 integers), got {len(args.per_class)}"
            )
        changes["per_class"] = tuple(args.per_class)
    return dataclasses.replace(morse_preset(args.preset), **changes)


def _generate(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    out = args.out if args.out is not None else Path(default_filename(spec))
    if out.exists() and not args.force:
        raise UsageError(f"{out} already exists; refusing to overwrite it (use --force)")
    data = generate_morse(spec, seed=args.seed)
    save_morse(data, out, spec=spec, seed=args.seed, overwrite=args.force)
    report = {
        "path": str(out),
        "preset": args.preset,
        "seed": args.seed,
        "samples": {"train": len(data["xtr"]), "val": len(data["xva"]), "test": len(data["xte"])},
        "features": spec.input_features,
        "classes": spec.num_classes,
        "spec": spec.to_dict(),
    }
    if args.json:
        emit_json(report)
    else:
        samples = report["samples"]
        print(
            f"wrote {out}: {spec.total_samples} samples ({samples['train']}/{samples['val']}/"
            f"{samples['test']}), {spec.input_features} features, {spec.num_classes} classes, "
            f"preset {args.preset}, seed {args.seed}"
        )
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from neurofabric.data.morse_metrics import dataset_metrics

    metrics = dataset_metrics(
        load_morse(args.path),
        variant=args.variant,
        dim_variance=args.dim_variance,
        threshold=args.threshold,
    )
    info = {**metrics.to_dict(), "path": str(args.path)}
    if args.json:
        emit_json(info)
    else:
        for key in ("V_lower", "V_upper", "V_dist", "V_thresh"):
            print(f"{key:<10} {info[key]:.6g}")
        print(
            f"({args.variant} variant, {args.dim_variance} of per-dimension variances, "
            f"threshold {args.threshold:g})"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    from neurofabric.plots import save_figure
    from neurofabric.plots.morse import plot_morse_samples

    if args.png.exists() and not args.force:
        raise UsageError(f"{args.png} already exists; refusing to overwrite it (use --force)")
    data = load_morse(args.path)
    spec = load_morse_spec(args.path)
    x, y = data[f"x{args.split}"], data[f"y{args.split}"]
    if len(x) == 0:
        raise UsageError(f"{args.path}: split {args.split} is empty")
    names = None
    if spec is not None:
        pairs = zip(spec.names, spec.codes, strict=True)
        names = [f"{index} {name} {code}" for index, (name, code) in enumerate(pairs)]
    figure = plot_morse_samples(x, y, names=names, samples_per_class=args.samples)
    save_figure(figure, args.png, overwrite=args.force)
    print(f"wrote {args.png}")
    return 0


def _presets(args: argparse.Namespace) -> int:
    base = MorseSpec().to_dict()
    rows = []
    for name, spec in MORSE_PRESETS.items():
        values = spec.to_dict()
        changed = {key: value for key, value in values.items() if value != base[key]}
        rows.append(
            {
                "name": name,
                "note": PRESET_NOTES[name],
                "changes": changed,
                "file": default_filename(spec),
            }
        )
    if args.json:
        emit_json(rows)
    else:
        width = max(len(row["name"]) for row in rows)
        for row in rows:
            print(f"{row['name']:<{width}}  {row['note']}")
    return 0
