"""The fully connected junction, a pattern like any other (fan_out == out_features)."""

from __future__ import annotations

import numpy as np

from neurofabric._rng import Seed
from neurofabric.topology.junction import Junction, _check_size


def dense_junction(in_features: int, out_features: int, *, seed: Seed = None) -> Junction:
    """Connect every left neuron to every right neuron.

    ``seed`` is accepted so every generator shares one signature; it is unused.

    Example:
        >>> dense_junction(3, 2).density
        1.0
    """
    del seed
    p = _check_size("in_features", in_features)
    n = _check_size("out_features", out_features)
    return Junction(p, n, np.tile(np.arange(p), n), np.repeat(np.arange(n), p))
