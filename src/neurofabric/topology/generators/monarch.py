"""Monarch cascades (Dao et al. 2022): two block-diagonal factors joined by a perfect shuffle."""

from __future__ import annotations

from neurofabric.topology.blocks import BlockStructure, GridPermutation
from neurofabric.topology.generators._skips import Skip, cascade
from neurofabric.topology.junction import Junction, _check_size
from neurofabric.topology.topology import Topology


def monarch_topology(features: int, *, blocks: int, skip: Skip = "none") -> Topology:
    """Build the Monarch pattern ``P · L · Pᵀ · R`` on ``features`` neurons.

    ``R`` has ``blocks`` dense blocks of ``features / blocks``; ``Pᵀ`` is the perfect shuffle
    of that ``(blocks × features/blocks)`` grid; ``L`` has ``features / blocks`` dense blocks of
    ``blocks``; ``P`` shuffles back. Every input reaches every output by exactly one path, with
    ``features² / blocks + features · blocks`` edges (fewest at ``blocks = √features``).

    Raises:
        ValueError: If ``blocks`` does not divide ``features``.

    Example:
        >>> t = monarch_topology(16, blocks=4)
        >>> t.nnz
        128

    References:
        T. Dao et al., "Monarch: Expressive Structured Matrices for Efficient and Accurate
        Training", ICML 2022.
    """
    features = _check_size("features", features)
    b = _check_size("blocks", blocks)
    if features % b:
        raise ValueError(f"features = {features} is not divisible by blocks = {b}")
    width = features // b
    shuffle = GridPermutation.shuffle(b, width)
    stages = [
        Junction.from_blocks(BlockStructure(b, width, width)),
        Junction.from_blocks(BlockStructure(width, b, b, shuffle, shuffle.inverse())),
    ]
    metadata = {"generator": "monarch_topology", "features": features, "blocks": b}
    return cascade(stages, skip, metadata)
