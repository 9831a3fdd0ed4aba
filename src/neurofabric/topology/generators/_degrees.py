"""Turn the ways users give a junction's sparsity (fan-out, fan-in, density) into exact degrees."""

from __future__ import annotations

import math

import numpy as np

from neurofabric.topology.junction import _check_size

# Densities come from decimal strings (0.1, 0.05…); products like 0.1 * 1000 must count as 100.
_TOLERANCE = 1e-9


def check_density(density: object) -> float:
    """Return ``density`` as a float, checking that it lies in (0, 1]."""
    if isinstance(density, bool) or not isinstance(density, int | float | np.integer | np.floating):
        raise ValueError(f"density must be a number in (0, 1], got {density!r}")
    value = float(density)
    if not (0.0 < value <= 1.0) or math.isnan(value):
        raise ValueError(f"density must lie in (0, 1], got {value}")
    return value


def regular_degrees(
    in_features: int,
    out_features: int,
    *,
    fan_out: int | None = None,
    fan_in: int | None = None,
    density: float | None = None,
) -> tuple[int, int]:
    """Return ``(fan_out, fan_in)`` of a regular junction given exactly one of the three.

    A regular junction has ``in_features * fan_out == out_features * fan_in`` edges (SPEC §1).

    Raises:
        ValueError: If not exactly one of the three is given, or the degrees cannot be exact
            integers within range; the message shows the numbers.

    Example:
        >>> regular_degrees(800, 100, fan_out=50)
        (50, 400)
        >>> regular_degrees(800, 100, density=0.25)
        (25, 200)
    """
    p = _check_size("in_features", in_features)
    n = _check_size("out_features", out_features)
    given = [
        name
        for name, v in (("fan_out", fan_out), ("fan_in", fan_in), ("density", density))
        if v is not None
    ]
    if len(given) != 1:
        raise ValueError(
            f"give exactly one of fan_out, fan_in or density, got {', '.join(given) or 'none'}"
        )
    if density is not None:
        rho = check_density(density)
        exact = rho * n
        fan_out = round(exact)
        if abs(exact - fan_out) > _TOLERANCE * max(1.0, exact) or fan_out == 0:
            raise ValueError(
                f"density {rho} gives fan_out = density * out_features = {exact:g}, not a "
                f"positive integer; densities that work are multiples of 1/{n}"
            )
    if fan_in is not None:
        fan_in = _check_size("fan_in", fan_in)
        if fan_in > p:
            raise ValueError(f"fan_in = {fan_in} exceeds in_features = {p}")
        if (n * fan_in) % p:
            raise ValueError(
                f"fan_in * out_features = {fan_in * n} is not divisible by in_features = {p}, "
                "so fan-out cannot be an integer"
            )
        return n * fan_in // p, fan_in
    fan_out = _check_size("fan_out", fan_out)
    if fan_out > n:
        raise ValueError(f"fan_out = {fan_out} exceeds out_features = {n}")
    if (p * fan_out) % n:
        raise ValueError(
            f"fan_out * in_features = {fan_out * p} is not divisible by out_features = {n}, "
            "so fan-in cannot be an integer"
        )
    return fan_out, p * fan_out // n
