"""Unstructured cascades: the same stage sizes, each stage an independent random pattern."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from neurofabric._rng import Seed
from neurofabric.topology.generators._skips import Skip, cascade
from neurofabric.topology.generators.mlp import mlp_topology
from neurofabric.topology.topology import Topology


def random_cascade_topology(
    sizes: Sequence[int],
    *,
    density: float | Sequence[float] | None = None,
    fan_out: int | Sequence[int] | None = None,
    pattern: Literal["structured", "random"] = "structured",
    skip: Skip = "none",
    seed: Seed = None,
) -> Topology:
    """Build a cascade whose stages are random junctions (SPEC §4.5), the unstructured baseline.

    Args:
        sizes: Neurons per layer ``(N_0, …, N_S)``.
        density: Per-stage density (one value, or one per stage).
        fan_out: Per-stage fan-out instead of ``density``.
        pattern: ``structured`` (exact fan-in and fan-out) or ``random`` (exact edge count).
        skip: ``none``, ``identity``, ``trainable_identity`` or ``residual``.
        seed: Seed or generator.

    Example:
        >>> t = random_cascade_topology((64, 64, 64), density=0.25, seed=0)
        >>> t.kind, t.nnz
        ('cascade', 2048)
    """
    if pattern not in ("structured", "random"):
        raise ValueError(f"pattern must be 'structured' or 'random', got {pattern!r}")
    stages = mlp_topology(sizes, pattern, fan_out=fan_out, density=density, seed=seed)
    metadata = {
        **stages.metadata,
        "generator": "random_cascade_topology",
    }
    return cascade(list(stages.junctions.values()), skip, metadata)
