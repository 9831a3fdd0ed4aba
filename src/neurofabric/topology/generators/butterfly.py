"""Butterfly and Beneš cascades: stages that mix one base-``radix`` digit of the index each."""

from __future__ import annotations

from collections.abc import Sequence

from neurofabric.topology.blocks import BlockStructure, GridPermutation
from neurofabric.topology.generators._skips import Skip, cascade
from neurofabric.topology.junction import Junction, _check_size
from neurofabric.topology.topology import Topology


def _num_digits(features: int, radix: int) -> int:
    features = _check_size("features", features)
    radix = _check_size("radix", radix)
    if radix < 2:
        raise ValueError(f"radix must be at least 2, got {radix}")
    digits, power = 0, 1
    while power < features:
        power *= radix
        digits += 1
    if power != features or digits == 0:
        above = max(power, radix)
        below = above // radix
        nearest = f"{below} or {above}" if below >= radix else f"{above} or {above * radix}"
        raise ValueError(
            f"features = {features} must be a power of radix = {radix} (at least {radix}); "
            f"nearest: {nearest}"
        )
    return digits


def digit_stage(features: int, radix: int, digit: int, span: int = 1) -> Junction:
    """The stage that mixes ``span`` consecutive base-``radix`` digits starting at ``digit``.

    Neuron ``x`` feeds ``y`` iff their digits agree outside ``digit … digit + span − 1``. As
    blocks: bring those digits last (a grid transpose), apply ``features / radix**span`` dense
    blocks of ``radix**span``, and transpose back.
    """
    digits = _num_digits(features, radix)
    width = radix**span
    high, low = radix ** (digits - digit - span), radix**digit
    into = GridPermutation((high, width, low), (0, 2, 1))
    return Junction.from_blocks(
        BlockStructure(features // width, width, width, into, into.inverse())
    )


def butterfly_topology(
    features: int,
    *,
    radix: int = 2,
    digit_order: Sequence[int] | None = None,
    skip: Skip = "none",
) -> Topology:
    """Build a radix-``radix`` butterfly: ``log_radix(features)`` stages, one path per pair.

    Stage ``l`` links ``x → y`` iff their base-``radix`` digits agree except digit
    ``digit_order[l]`` (SPEC §4.3); each stage has ``radix`` edges per neuron, so the cascade
    has ``features · radix · log_radix(features)`` edges and exactly one path between every
    input and output.

    Args:
        features: Neurons per layer; a power of ``radix``.
        radix: Base ``k`` ≥ 2.
        digit_order: Which digit each stage mixes; default ``0, 1, …, L − 1``.
        skip: ``none``, ``identity``, ``trainable_identity`` or ``residual``.

    Raises:
        ValueError: If ``features`` is not a power of ``radix`` (the message names the nearest
            valid sizes) or ``digit_order`` is not a permutation of the digits.

    Example:
        >>> t = butterfly_topology(8)
        >>> t.depth, t.nnz
        (3, 48)
    """
    digits = _num_digits(features, radix)
    order = list(range(digits)) if digit_order is None else [int(d) for d in digit_order]
    if sorted(order) != list(range(digits)):
        raise ValueError(
            f"digit_order must be a permutation of 0..{digits - 1} for {features} = "
            f"{radix}^{digits}, got {order}"
        )
    stages = [digit_stage(features, radix, d) for d in order]
    metadata = {
        "generator": "butterfly_topology",
        "features": features,
        "radix": radix,
        "digit_order": order,
    }
    return cascade(stages, skip, metadata)


def benes_topology(
    features: int,
    *,
    radix: int = 2,
    recursion_depth: int | None = None,
    skip: Skip = "none",
) -> Topology:
    """Build a Beneš network: butterfly stages on digits ``0, 1, …, L−1, …, 1, 0`` (SPEC §4.4).

    The full network has ``2L − 1`` stages and ``radix^(L−1)`` paths between every input and
    output; it is a Clos network with ``n = m = radix`` whose middle switches are Beneš
    networks themselves. ``recursion_depth = d`` expands only the outer ``d`` levels: stages on
    digits ``0 … d−1``, one dense block over the remaining digits, then ``d−1 … 0`` — ``2d + 1``
    stages and ``radix^d`` paths per pair.

    Args:
        features: Neurons per layer; a power of ``radix``.
        radix: Base ``k`` ≥ 2.
        recursion_depth: Outer levels to expand, ``1 … L − 1``; default all (``L − 1``).
        skip: ``none``, ``identity``, ``trainable_identity`` or ``residual``.

    Example:
        >>> t = benes_topology(16)
        >>> t.depth
        7
    """
    digits = _num_digits(features, radix)
    depth = digits - 1 if recursion_depth is None else recursion_depth
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= digits - 1:
        raise ValueError(
            f"recursion_depth must lie in [0, {digits - 1}] for {features} = {radix}^{digits}, "
            f"got {recursion_depth}"
        )
    outer = [digit_stage(features, radix, d) for d in range(depth)]
    middle = digit_stage(features, radix, depth, span=digits - depth)
    stages = [*outer, middle, *reversed(outer)]
    metadata = {
        "generator": "benes_topology",
        "features": features,
        "radix": radix,
        "recursion_depth": depth,
    }
    return cascade(stages, skip, metadata)
