"""Block-shuffle cascades: block-diagonal stages joined by perfect shuffles; Clos networks."""

from __future__ import annotations

from collections.abc import Sequence

from neurofabric.topology.blocks import BlockStructure, GridPermutation
from neurofabric.topology.generators._skips import Skip, cascade
from neurofabric.topology.junction import Junction, _check_size
from neurofabric.topology.topology import Topology


def _divides(name: str, size: int, groups: int, what: str) -> int:
    if size % groups:
        raise ValueError(
            f"{what} = {size} is not divisible by {name} = {groups}; each of the {groups} "
            "groups needs the same number of neurons"
        )
    return size // groups


def block_shuffle_topology(
    sizes: Sequence[int], groups: Sequence[int], *, skip: Skip = "none"
) -> Topology:
    """Build a cascade of block-diagonal stages separated by perfect shuffles (SPEC §4.2).

    Stage ``s`` maps layer ``s − 1`` to layer ``s`` with ``groups[s − 1]`` dense blocks of shape
    ``(sizes[s] / g_s) × (sizes[s − 1] / g_s)``. Before every stage but the first, the previous
    stage's output, seen as its ``(groups × block)`` grid, is transposed (a perfect shuffle), so
    each block reads one neuron from every block of the stage before.

    Args:
        sizes: Neurons per layer ``(N_0, …, N_S)``.
        groups: Blocks per stage ``(g_1, …, g_S)``; ``g_s`` must divide ``N_{s−1}`` and ``N_s``.
        skip: ``none``, ``identity``, ``trainable_identity`` or ``residual`` (SPEC §4.6).

    Raises:
        ValueError: If lengths disagree or a group count does not divide its layer sizes.

    Example:
        >>> t = block_shuffle_topology((16, 16, 16), (4, 4))
        >>> [j.nnz for j in t.junctions.values()], t.depth
        ([64, 64], 2)
    """
    sizes = [_check_size(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
    groups = [_check_size(f"groups[{i}]", g) for i, g in enumerate(groups)]
    if len(sizes) != len(groups) + 1:
        raise ValueError(
            f"{len(groups)} stages need {len(groups) + 1} layer sizes, got {len(sizes)}"
        )
    stages = []
    for s, g in enumerate(groups):
        block_in = _divides("groups", sizes[s], g, f"layer {s} size")
        block_out = _divides("groups", sizes[s + 1], g, f"layer {s + 1} size")
        order = None
        if s > 0:
            previous = groups[s - 1]
            order = GridPermutation.shuffle(previous, sizes[s] // previous)
        stages.append(Junction.from_blocks(BlockStructure(g, block_in, block_out, order)))
    metadata = {"generator": "block_shuffle_topology", "sizes": sizes, "groups": groups}
    return cascade(stages, skip, metadata)


def clos_topology(
    in_features: int,
    out_features: int,
    *,
    groups: int,
    middle: int,
    stages: int = 3,
    inner_groups: int | None = None,
    inner_middle: int | None = None,
    skip: Skip = "none",
) -> Topology:
    """Build a Clos network cascade replacing a dense ``in_features × out_features`` layer.

    Three stages (SPEC §4.1): ``groups`` = r ingress switches of ``n_in = in_features / r``
    inputs and ``middle`` = m outputs; m middle switches ``r × r``; r egress switches
    ``m × n_out``. Every input reaches every output by exactly m paths (one per middle switch),
    with ``m · r · (n_in + n_out + r)`` edges; m ≥ n makes it rearrangeably non-blocking.

    ``stages=5`` replaces every middle switch by a three-stage Clos of its own, with
    ``inner_groups`` = r₂ switches (default: the smallest divisor of r that is at least √r)
    and ``inner_middle`` = m₂ (default ``r / r₂``): m · m₂ paths per pair.

    Args:
        in_features: Inputs of the dense layer replaced; divisible by ``groups``.
        out_features: Outputs; divisible by ``groups``.
        groups: Ingress (and egress) switches r.
        middle: Middle switches m (the width of every ingress switch's output).
        stages: 3, or 5 for the recursive variant.
        inner_groups: r₂ for ``stages=5``; must divide ``groups``.
        inner_middle: m₂ for ``stages=5``.
        skip: ``none``, ``identity``, ``trainable_identity`` or ``residual``.

    Raises:
        ValueError: On sizes not divisible by ``groups``, zero widths, or bad stage counts.

    Example:
        >>> t = clos_topology(64, 64, groups=8, middle=8)
        >>> t.layer_sizes, t.nnz == 8 * 8 * (2 * 8 + 8)
        ((64, 64, 64, 64), True)

    References:
        C. Clos, "A study of non-blocking switching networks", Bell System Technical Journal
        32(2), 1953. M. Isakov, M. A. Kinsy, "ClosNets: Batchless DNN training with on-chip
        a priori sparse neural topologies", FPL 2018.
    """
    r = _check_size("groups", groups)
    m = _check_size("middle", middle)
    n_in = _divides("groups", _check_size("in_features", in_features), r, "in_features")
    n_out = _divides("groups", _check_size("out_features", out_features), r, "out_features")
    metadata = {
        "generator": "clos_topology",
        "in_features": in_features,
        "out_features": out_features,
        "groups": r,
        "middle": m,
        "stages": stages,
    }
    if stages == 3:
        topology = block_shuffle_topology((r * n_in, r * m, m * r, r * n_out), (r, m, r))
        return cascade(list(topology.junctions.values()), skip, metadata)
    if stages != 5:
        raise ValueError(f"a Clos network has 3 or 5 stages, got stages = {stages}")
    r2 = _smallest_divisor_at_least_root(r) if inner_groups is None else inner_groups
    r2 = _check_size("inner_groups", r2)
    n2 = _divides("inner_groups", r, r2, "groups")
    m2 = _check_size("inner_middle", n2 if inner_middle is None else inner_middle)
    metadata.update(inner_groups=r2, inner_middle=m2)
    junctions = [
        # Ingress: r switches n_in -> m.
        Junction.from_blocks(BlockStructure(r, n_in, m)),
        # Inner ingress: shuffle to (middle switch b, ingress a), then m·r2 blocks n2 -> m2.
        Junction.from_blocks(BlockStructure(m * r2, n2, m2, GridPermutation.shuffle(r, m))),
        # Inner middle: within each middle switch, shuffle its (r2, m2) grid; blocks r2 -> r2.
        Junction.from_blocks(
            BlockStructure(m * m2, r2, r2, GridPermutation((m, r2, m2), (0, 2, 1)))
        ),
        # Inner egress: undo that shuffle; m·r2 blocks m2 -> n2 give each switch's r outputs.
        Junction.from_blocks(
            BlockStructure(m * r2, m2, n2, GridPermutation((m, m2, r2), (0, 2, 1)))
        ),
        # Egress: shuffle (b, a') -> (a', b); r switches m -> n_out.
        Junction.from_blocks(BlockStructure(r, m, n_out, GridPermutation.shuffle(m, r))),
    ]
    return cascade(junctions, skip, metadata)


def _smallest_divisor_at_least_root(value: int) -> int:
    return next(d for d in range(1, value + 1) if value % d == 0 and d * d >= value)
