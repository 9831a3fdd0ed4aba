"""``neurofabric topology make | show | scatter``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from neurofabric.cli._common import UsageError, emit_json, float_list, int_list
from neurofabric.topology.generators.mlp import PATTERNS, mlp_topology
from neurofabric.topology.io import load_topology, save_topology
from neurofabric.topology.topology import Topology
from neurofabric.topology.windows import parse_window_spec

MLP_PATTERNS = tuple(PATTERNS)


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("topology", help="make and inspect connection patterns")
    sub = group.add_subparsers(dest="action", metavar="ACTION", parser_class=type(group))
    sub.required = True

    make = sub.add_parser("make", help="generate a topology and save it as .npz")
    make.add_argument(
        "pattern",
        choices=MLP_PATTERNS,
        metavar="PATTERN",
        help=f"one of: {', '.join(MLP_PATTERNS)}",
    )
    make.add_argument(
        "--sizes",
        type=int_list,
        required=True,
        metavar="N0,N1,...",
        help="neurons per layer, e.g. 800,100,10",
    )
    sparsity = make.add_mutually_exclusive_group()
    sparsity.add_argument(
        "--fan-out",
        type=int_list,
        metavar="FO1,...",
        help="outputs per left neuron, one per junction",
    )
    sparsity.add_argument(
        "--density",
        type=float_list,
        metavar="D1,...",
        help="fraction of possible edges, one per junction, in (0, 1]",
    )
    make.add_argument(
        "--parallelism",
        type=int_list,
        metavar="Z1,...",
        help="clash-free: edges processed per cycle, one per junction",
    )
    make.add_argument(
        "--memory-map",
        choices=("type1", "type2", "type3"),
        default="type1",
        help="clash-free memory map (default type1)",
    )
    make.add_argument("--dither", action="store_true", help="clash-free: permute banks per sweep")
    make.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    make.add_argument("--out", type=Path, required=True, help="where to write the .npz file")
    make.add_argument("--png", type=Path, help="also draw the junction masks to this image")
    make.add_argument("--force", action="store_true", help="overwrite existing output files")
    make.add_argument("--json", action="store_true", help="print the report as JSON")
    make.set_defaults(handler=_make)

    show = sub.add_parser("show", help="report sizes, densities, degrees, connectivity, scatter")
    show.add_argument("path", type=Path)
    show.add_argument("--png", type=Path, help="draw every junction's mask to this image")
    show.add_argument(
        "--schedule-png",
        type=Path,
        help="draw the bank-access schedule of each clash-free junction",
    )
    _scatter_options(show)
    show.add_argument("--force", action="store_true", help="overwrite existing image files")
    show.add_argument("--json", action="store_true", help="print the report as JSON")
    show.set_defaults(handler=_show)

    scatter = sub.add_parser("scatter", help="scatter vector and network scatter (SPEC §3)")
    scatter.add_argument("path", type=Path)
    _scatter_options(scatter)
    scatter.add_argument(
        "--degree-source",
        choices=("mean", "neuron0"),
        default="mean",
        help="ideal counts from mean degrees, or Dey's neuron-0 degrees",
    )
    scatter.add_argument("--json", action="store_true", help="print the report as JSON")
    scatter.set_defaults(handler=_scatter)


def _scatter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--windows",
        help="one window spec for every entry, or one per scatter entry (2·junctions + 2), "
        "comma-separated: 1d:WIDTH:STRIDE | 2d:WxH:wxh:SWxSH | 3d:UxVxC:uxvxc:SUxSVxSC",
    )
    parser.add_argument("--in-matter", type=int, help="average input neurons only up to this")
    parser.add_argument("--out-matter", type=int, help="average output neurons only up to this")


def parse_windows(text: str | None, topology: Topology) -> list[np.ndarray] | None:
    """Turn a ``--windows`` value into the 2J+2 window arrays of SPEC §3 (None: defaults)."""
    if text is None:
        return None
    specs = [part.strip() for part in text.split(",") if part.strip()]
    sizes = []
    for source, target in topology.junctions:
        sizes += [topology.layer_sizes[source], topology.layer_sizes[target]]
    sizes += [topology.layer_sizes[0], topology.layer_sizes[-1]]
    if len(specs) == 1:
        specs = specs * len(sizes)
    if len(specs) != len(sizes):
        raise UsageError(
            f"--windows needs 1 spec or {len(sizes)} (2 per junction + 2), got {len(specs)}"
        )
    return [parse_window_spec(spec, size) for spec, size in zip(specs, sizes, strict=True)]


def _check_free(paths: list[Path | None], force: bool) -> None:
    for path in paths:
        if path is not None and path.exists() and not force:
            raise UsageError(f"{path} already exists; refusing to overwrite it (use --force)")


def _make(args: argparse.Namespace) -> int:
    _check_free([args.out, args.png], args.force)
    if args.pattern != "dense" and args.fan_out is None and args.density is None:
        raise UsageError(f"pattern {args.pattern} needs --fan-out or --density")
    count = len(args.sizes) - 1
    for name in ("fan_out", "density", "parallelism"):
        values = getattr(args, name)
        if values is not None and len(values) != count:
            flag = "--" + name.replace("_", "-")
            raise UsageError(
                f"{flag} needs one value per junction: {count} junctions for --sizes "
                f"{','.join(map(str, args.sizes))}, got {len(values)}"
            )
    if args.pattern == "clash-free" and args.parallelism is None:
        raise UsageError("pattern clash-free needs --parallelism, one value per junction")
    topology = mlp_topology(
        args.sizes,
        args.pattern,
        fan_out=args.fan_out,
        density=args.density,
        parallelism=args.parallelism,
        memory_map=args.memory_map,
        dither=args.dither,
        seed=args.seed,
    )
    save_topology(topology, args.out, overwrite=args.force)
    if args.png is not None:
        _draw_masks(topology, args.png, args.force)
    return _report(topology, args, saved=args.out)


def _show(args: argparse.Namespace) -> int:
    _check_free([args.png, args.schedule_png], args.force)
    topology = load_topology(args.path)
    if args.png is not None:
        _draw_masks(topology, args.png, args.force)
    if args.schedule_png is not None:
        _draw_schedules(topology, args.schedule_png, args.force)
    return _report(topology, args)


def _report(topology: Topology, args: argparse.Namespace, saved: Path | None = None) -> int:
    from neurofabric.topology.report import describe

    windows = parse_windows(getattr(args, "windows", None), topology)
    info = describe(
        topology,
        windows=windows,
        in_matter=getattr(args, "in_matter", None),
        out_matter=getattr(args, "out_matter", None),
    )
    if saved is not None:
        info["path"] = str(saved)
    if args.json:
        emit_json(info)
    else:
        print(_format(info))
    return 0


def _scatter(args: argparse.Namespace) -> int:
    from neurofabric.topology.scatter import scatter

    topology = load_topology(args.path)
    report = scatter(
        topology,
        parse_windows(args.windows, topology),
        in_matter=args.in_matter,
        out_matter=args.out_matter,
        degree_source=args.degree_source,
    )
    if args.json:
        emit_json(report.to_dict())
    else:
        for label, value in zip(report.labels, report.vector, strict=True):
            print(f"{label:<32} {value:.4f}")
        print(f"{'network scatter (minimum)':<32} {report.value:.4f}")
    return 0


def _draw_masks(topology: Topology, path: Path, force: bool) -> None:
    from neurofabric.plots import plot_topology, save_figure

    save_figure(plot_topology(topology), path, overwrite=force)


def _draw_schedules(topology: Topology, path: Path, force: bool) -> None:
    from matplotlib.figure import Figure

    from neurofabric.plots import plot_schedule, save_figure

    scheduled = [(k, j) for k, j in topology.junctions.items() if j.parallelism is not None]
    if not scheduled:
        raise UsageError(f"{path}: no junction carries a hardware schedule (not clash-free)")
    figure = Figure(figsize=(12, 3.5 * len(scheduled)), layout="constrained")
    for index, (key, junction) in enumerate(scheduled):
        ax = figure.add_subplot(len(scheduled), 1, index + 1)
        plot_schedule(junction, ax=ax)
        ax.set_title(f"junction {key[0]}→{key[1]}: " + ax.get_title())
    save_figure(figure, path, overwrite=force)


def _format(info: dict) -> str:
    lines = [
        f"layer sizes      {' -> '.join(map(str, info['layer_sizes']))}",
        f"parameters       {info['parameters']} of {info['dense_parameters']} dense "
        f"(overall density {info['overall_density']:.4g})",
    ]
    for j in info["junctions"]:
        fan_in, fan_out = j["fan_in"], j["fan_out"]
        line = (
            f"junction {j['source']}->{j['target']}  {j['in_features']}x{j['out_features']}  "
            f"nnz {j['nnz']}  density {j['density']:.4g}  "
            f"fan-in {_range(fan_in)}  fan-out {_range(fan_out)}"
        )
        if "clash" in j:
            clash = j["clash"]
            verdict = "clash-free" if clash["is_clash_free"] else "CLASHES"
            line += f"  parallelism {j['parallelism']}: {clash['num_cycles']} cycles, {verdict}"
        lines.append(line)
    connectivity = info["connectivity"]
    paths = connectivity["path_counts"]
    lines.append(
        f"connectivity     {'full' if connectivity['fully_connected'] else 'partial'} "
        f"({connectivity['reachable_fraction']:.4g} of input-output pairs); paths per pair "
        f"min {paths['min']:g} mean {paths['mean']:.4g} max {paths['max']:g}"
    )
    scatter = info["scatter"]
    vector = " ".join(f"{v:.3f}" for v in scatter["vector"])
    lines.append(f"scatter          [{vector}]  network scatter {scatter['value']:.4f}")
    if "path" in info:
        lines.append(f"saved            {info['path']}")
    return "\n".join(lines)


def _range(stats: dict) -> str:
    return str(stats["min"]) if stats["min"] == stats["max"] else f"{stats['min']}..{stats['max']}"
