"""Random junctions: an exact number of edges placed uniformly, degrees left free."""

from __future__ import annotations

import math

import numpy as np

from neurofabric._rng import Seed, as_generator
from neurofabric.topology.generators._degrees import check_density
from neurofabric.topology.junction import Junction, _check_size

# Guards ceil() against products such as 0.1 * 1000 = 100.00000000000001.
_DIGITS = 9


def random_junction(
    in_features: int,
    out_features: int,
    *,
    density: float | None = None,
    fan_out: float | None = None,
    nnz: int | None = None,
    bernoulli: bool = False,
    seed: Seed = None,
) -> Junction:
    """Sample a junction with edges placed uniformly at random (SPEC §2.1).

    The edge count is exact: ``nnz``, or ``ceil(density * in_features * out_features)``, or
    ``ceil(fan_out * in_features)`` (Dey's reading of a density argument ≥ 1 as an average
    fan-out). Degrees are free, so some neurons may be left without edges.

    Args:
        in_features: Neurons in the left layer.
        out_features: Neurons in the right layer.
        density: Fraction of the possible edges, in (0, 1].
        fan_out: Average outputs per left neuron, in (0, out_features].
        nnz: Number of edges, in [1, in_features * out_features].
        bernoulli: Instead of an exact count, keep each possible edge independently with
            probability ``density`` (needs ``density``).
        seed: Seed or generator; ``None`` uses fresh entropy.

    Raises:
        ValueError: If not exactly one of ``density``, ``fan_out``, ``nnz`` is given or it is
            out of range.

    Example:
        >>> j = random_junction(10, 10, density=0.1, seed=0)
        >>> j.nnz
        10
    """
    p = _check_size("in_features", in_features)
    n = _check_size("out_features", out_features)
    given = [
        k for k, v in (("density", density), ("fan_out", fan_out), ("nnz", nnz)) if v is not None
    ]
    if len(given) != 1:
        raise ValueError(
            f"give exactly one of density, fan_out or nnz, got {', '.join(given) or 'none'}"
        )
    rng = as_generator(seed)
    total = p * n
    if bernoulli:
        if density is None:
            raise ValueError(
                "bernoulli=True draws each edge with probability density; give density"
            )
        rho = check_density(density)
        dst, src = np.nonzero(rng.random((n, p)) < rho)
        return Junction(p, n, src, dst)
    if density is not None:
        count = math.ceil(round(check_density(density) * total, _DIGITS))
    elif fan_out is not None:
        if isinstance(fan_out, bool) or not (0 < float(fan_out) <= n):
            raise ValueError(f"fan_out must lie in (0, out_features = {n}], got {fan_out!r}")
        count = math.ceil(round(float(fan_out) * p, _DIGITS))
    else:
        count = _check_size("nnz", nnz)
        if count > total:
            raise ValueError(
                f"nnz = {count} exceeds in_features * out_features = {p} * {n} = {total}"
            )
    flat = np.sort(rng.choice(total, size=count, replace=False))
    return Junction(p, n, flat % p, flat // p)
