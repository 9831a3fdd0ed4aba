"""``neurofabric topology make | show | scatter``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from neurofabric.cli import topology_make
from neurofabric.cli._common import UsageError, emit_json
from neurofabric.topology.io import load_topology, save_topology
from neurofabric.topology.topology import Topology
from neurofabric.topology.windows import parse_window_spec, window_layers


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("topology", help="make and inspect connection patterns")
    sub = group.add_subparsers(dest="action", metavar="ACTION", parser_class=type(group))
    sub.required = True

    make = sub.add_parser("make", help="generate a topology and save it as .npz")
    topology_make.add_arguments(make)
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
    sizes = [topology.layer_sizes[layer] for layer in window_layers(topology)]
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
    out = topology_make.output_path(args)
    _check_free([out, args.png], args.force)
    topology = topology_make.build(args)
    save_topology(topology, out, overwrite=args.force)
    if args.png is not None:
        _draw(topology, args.png, args.force)
    return _report(topology, args, saved=out)


def _show(args: argparse.Namespace) -> int:
    _check_free([args.png, args.schedule_png], args.force)
    topology = load_topology(args.path)
    if args.png is not None:
        _draw(topology, args.png, args.force)
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


def _draw(topology: Topology, path: Path, force: bool) -> None:
    """Masks of an MLP; for a cascade, its edges (small ones) and path-count heatmap."""
    from neurofabric.plots import plot_cascade_overview, plot_topology, save_figure

    figure = (
        plot_cascade_overview(topology) if topology.kind == "cascade" else plot_topology(topology)
    )
    save_figure(figure, path, overwrite=force)


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
        f"kind             {info['kind']}, depth {info['depth']}"
        + (f", identity skips {info['identity_skips']}" if info["identity_skips"] else ""),
        f"layer sizes      {' -> '.join(map(str, info['layer_sizes']))}",
        f"parameters       {info['parameters']} of {info['dense_parameters']} dense "
        f"(overall density {info['overall_density']:.4g}); capacity bound "
        f"{info['capacity_bound']}",
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
        if "blocks" in j:
            b = j["blocks"]
            line += f"  blocks {b['blocks']} x ({b['block_out']}x{b['block_in']})"
        lines.append(line)
    paths = info["path_diversity"]
    lines.append(
        f"connectivity     {'full' if info['fully_connected'] else 'partial'} "
        f"({info['reachable_fraction']:.4g} of input-output pairs); paths per pair "
        f"min {paths['min']:g} mean {paths['mean']:.4g} max {paths['max']:g}"
    )
    scatter = info["scatter"]
    if scatter is None:
        lines.append("scatter          skipped for this size (give --windows to compute it)")
    else:
        vector = " ".join(f"{v:.3f}" for v in scatter["vector"])
        lines.append(f"scatter          [{vector}]  network scatter {scatter['value']:.4f}")
    if "path" in info:
        lines.append(f"saved            {info['path']}")
    return "\n".join(lines)


def _range(stats: dict) -> str:
    return str(stats["min"]) if stats["min"] == stats["max"] else f"{stats['min']}..{stats['max']}"
