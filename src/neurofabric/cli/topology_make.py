"""``neurofabric topology make PATTERN …``: generate an MLP or cascade topology, save it."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurofabric.cli._common import UsageError, float_list, int_list
from neurofabric.topology.generators._skips import SKIPS
from neurofabric.topology.generators.block_shuffle import block_shuffle_topology, clos_topology
from neurofabric.topology.generators.butterfly import benes_topology, butterfly_topology
from neurofabric.topology.generators.mlp import PATTERNS, mlp_topology
from neurofabric.topology.generators.monarch import monarch_topology
from neurofabric.topology.generators.random_cascade import random_cascade_topology
from neurofabric.topology.topology import Topology

MLP_PATTERNS = tuple(PATTERNS)
CASCADE_PATTERNS = ("clos", "butterfly", "benes", "monarch", "random-cascade", "block-shuffle")


def add_arguments(make: argparse.ArgumentParser) -> None:
    patterns = (*MLP_PATTERNS, *CASCADE_PATTERNS)
    make.add_argument(
        "pattern", choices=patterns, metavar="PATTERN", help=f"one of: {', '.join(patterns)}"
    )
    mlp = make.add_argument_group("MLP patterns and random cascades")
    mlp.add_argument(
        "--sizes", type=int_list, metavar="N0,N1,...", help="neurons per layer, e.g. 800,100,10"
    )
    sparsity = mlp.add_mutually_exclusive_group()
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
    mlp.add_argument(
        "--parallelism",
        type=int_list,
        metavar="Z1,...",
        help="clash-free: edges processed per cycle, one per junction",
    )
    mlp.add_argument(
        "--memory-map",
        choices=("type1", "type2", "type3"),
        default="type1",
        help="clash-free memory map (default type1)",
    )
    mlp.add_argument("--dither", action="store_true", help="clash-free: permute banks per sweep")
    mlp.add_argument(
        "--stage-pattern",
        choices=("structured", "random"),
        default="structured",
        help="random-cascade: pattern of every stage (default structured)",
    )
    cascade = make.add_argument_group("cascades")
    cascade.add_argument(
        "--in",
        "--in-features",
        dest="in_features",
        type=int,
        help="clos: inputs of the dense layer replaced",
    )
    cascade.add_argument(
        "--out-features",
        type=int,
        help="clos: outputs (also accepted as a numeric --out, e.g. --out 1024)",
    )
    cascade.add_argument("--features", type=int, help="butterfly, benes, monarch: neurons")
    cascade.add_argument(
        "--groups",
        type=int_list,
        metavar="G[,G...]",
        help="clos: ingress switches r; block-shuffle: blocks per stage",
    )
    cascade.add_argument("--middle", type=int, help="clos: middle switches m")
    cascade.add_argument("--stages", type=int, default=3, help="clos: 3 or 5 (default 3)")
    cascade.add_argument("--inner-groups", type=int, help="clos --stages 5: inner switches")
    cascade.add_argument("--inner-middle", type=int, help="clos --stages 5: inner middle width")
    cascade.add_argument("--radix", type=int, default=2, help="butterfly, benes (default 2)")
    cascade.add_argument("--recursion-depth", type=int, help="benes: outer levels to expand")
    cascade.add_argument("--blocks", type=int, help="monarch: blocks of the first factor")
    cascade.add_argument(
        "--skip", choices=SKIPS, default="none", help="skip connections (default none)"
    )
    make.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    make.add_argument(
        "--out", action="append", metavar="FILE.npz", help="where to write the topology (.npz)"
    )
    make.add_argument("--png", type=Path, help="also draw the topology to this image")
    make.add_argument("--force", action="store_true", help="overwrite existing output files")
    make.add_argument("--json", action="store_true", help="print the report as JSON")


def output_path(args: argparse.Namespace) -> Path:
    """Separate ``--out FILE`` from a numeric ``--out N`` (Clos output features)."""
    values = args.out or []
    numbers = [v for v in values if v.isdigit()]
    paths = [v for v in values if not v.isdigit()]
    if len(paths) != 1:
        raise UsageError(f"give the output file exactly once with --out FILE.npz, got {len(paths)}")
    if numbers:
        if args.pattern != "clos" or len(numbers) > 1 or args.out_features is not None:
            raise UsageError(
                f"a numeric --out ({', '.join(numbers)}) means Clos output features; give it "
                "once, for pattern clos only, or use --out-features"
            )
        args.out_features = int(numbers[0])
    return Path(paths[0])


def _need(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) is None:
            flag = "--" + ("in" if name == "in_features" else name.replace("_", "-"))
            raise UsageError(f"pattern {args.pattern} needs {flag}")


def build(args: argparse.Namespace) -> Topology:
    """Generate the topology the arguments describe."""
    pattern = args.pattern
    if pattern in MLP_PATTERNS:
        return _build_mlp(args)
    if pattern == "clos":
        _need(args, "in_features", "out_features", "groups", "middle")
        if len(args.groups) != 1:
            raise UsageError(f"clos takes one --groups value, got {len(args.groups)}")
        return clos_topology(
            args.in_features,
            args.out_features,
            groups=args.groups[0],
            middle=args.middle,
            stages=args.stages,
            inner_groups=args.inner_groups,
            inner_middle=args.inner_middle,
            skip=args.skip,
        )
    if pattern == "butterfly":
        _need(args, "features")
        return butterfly_topology(args.features, radix=args.radix, skip=args.skip)
    if pattern == "benes":
        _need(args, "features")
        return benes_topology(
            args.features, radix=args.radix, recursion_depth=args.recursion_depth, skip=args.skip
        )
    if pattern == "monarch":
        _need(args, "features", "blocks")
        return monarch_topology(args.features, blocks=args.blocks, skip=args.skip)
    if pattern == "block-shuffle":
        _need(args, "sizes", "groups")
        return block_shuffle_topology(args.sizes, args.groups, skip=args.skip)
    _need(args, "sizes")
    if args.fan_out is None and args.density is None:
        raise UsageError("pattern random-cascade needs --fan-out or --density")
    _check_lengths(args)
    return random_cascade_topology(
        args.sizes,
        density=args.density,
        fan_out=args.fan_out,
        pattern=args.stage_pattern,
        skip=args.skip,
        seed=args.seed,
    )


def _check_lengths(args: argparse.Namespace) -> None:
    count = len(args.sizes) - 1
    for name in ("fan_out", "density", "parallelism"):
        values = getattr(args, name)
        if values is not None and len(values) != count:
            raise UsageError(
                f"--{name.replace('_', '-')} needs one value per junction: {count} junctions "
                f"for --sizes {','.join(map(str, args.sizes))}, got {len(values)}"
            )


def _build_mlp(args: argparse.Namespace) -> Topology:
    _need(args, "sizes")
    if args.pattern != "dense" and args.fan_out is None and args.density is None:
        raise UsageError(f"pattern {args.pattern} needs --fan-out or --density")
    _check_lengths(args)
    if args.pattern == "clash-free" and args.parallelism is None:
        raise UsageError("pattern clash-free needs --parallelism, one value per junction")
    return mlp_topology(
        args.sizes,
        args.pattern,
        fan_out=args.fan_out,
        density=args.density,
        parallelism=args.parallelism,
        memory_map=args.memory_map,
        dither=args.dither,
        seed=args.seed,
    )
