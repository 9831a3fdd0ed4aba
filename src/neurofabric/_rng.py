"""The one way randomness enters neurofabric: ``seed`` arguments become generators here."""

from __future__ import annotations

import numpy as np

Seed = int | np.random.Generator | None


def as_generator(seed: Seed) -> np.random.Generator:
    """Return a numpy generator for ``seed``.

    Args:
        seed: An ``int`` (reproducible), an existing ``numpy.random.Generator`` (used as is,
            so a caller can thread one generator through several draws), or ``None`` (fresh
            entropy).

    Raises:
        ValueError: If ``seed`` is of any other type or is a negative integer.
    """
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(
            f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return np.random.default_rng(int(seed))


def spawn(seed: Seed, count: int) -> list[np.random.Generator]:
    """Return ``count`` independent generators derived from ``seed`` (one per junction, say)."""
    return list(as_generator(seed).spawn(count))
