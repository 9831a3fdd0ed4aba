"""Windowed (banded) junctions: each right neuron reads a contiguous window of inputs."""

from __future__ import annotations

from fractions import Fraction
from math import floor

import numpy as np

from neurofabric._rng import Seed
from neurofabric.topology.generators._degrees import regular_degrees
from neurofabric.topology.junction import Junction


def windowed_junction(
    in_features: int,
    out_features: int,
    *,
    fan_out: int | None = None,
    fan_in: int | None = None,
    density: float | None = None,
    offset: int | None = None,
    circular: bool = True,
    seed: Seed = None,
) -> Junction:
    """Build the banded junction where right neuron ``j`` reads a local window of inputs.

    Right neuron ``j`` takes inputs ``s_j … s_j + fan_in − 1`` with
    ``s_j = floor(j · in_features / out_features) + offset`` (SPEC §2.4). The default offset
    ``round_half_up((in_features / out_features − fan_in) / 2)`` centres each window on ``j``'s
    proportional position. This is the *low-scatter* contrast to the random patterns: every
    output sees only one neighbourhood of the input.

    Args:
        in_features: Neurons in the left layer (``p``).
        out_features: Neurons in the right layer (``n``).
        fan_out: Outputs per left neuron; give exactly one of the three sparsity arguments.
        fan_in: Inputs per right neuron (the window width).
        density: ``fan_out / out_features``.
        offset: Shift ``δ`` of every window; default centres them.
        circular: Wrap windows around modulo ``in_features``: fan-in and fan-out are then both
            exact. If false, windows are clipped to ``[0, in_features − fan_in]``: fan-in stays
            exact, fan-out is uneven near the ends.
        seed: Accepted so that every generator shares one signature; the pattern is
            deterministic and ignores it.

    Raises:
        ValueError: If ``fan_in * out_features`` is not divisible by ``in_features`` (fan-out
            could not be exact), or degrees exceed the layer sizes.

    Example:
        >>> j = windowed_junction(8, 4, fan_in=4)
        >>> j.fan_in_table().tolist()
        [[0, 1, 2, 7], [1, 2, 3, 4], [3, 4, 5, 6], [0, 5, 6, 7]]
    """
    del seed  # deterministic
    fan_out, fan_in = regular_degrees(
        in_features, out_features, fan_out=fan_out, fan_in=fan_in, density=density
    )
    p, n = in_features, out_features
    if offset is None:
        offset = floor((Fraction(p, n) - fan_in) / 2 + Fraction(1, 2))
    rows = np.arange(n, dtype=np.int64)
    starts = rows * p // n + int(offset)
    if circular:
        table = (starts[:, None] + np.arange(fan_in)) % p
        table.sort(axis=1)
    else:
        starts = np.clip(starts, 0, p - fan_in)
        table = starts[:, None] + np.arange(fan_in)
    return Junction(p, n, table.reshape(-1), np.repeat(rows, fan_in))
