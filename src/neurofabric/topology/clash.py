"""Memory clashes of a junction's hardware schedule (SPEC §2.3, §8).

An edge-parallel engine reads ``parallelism`` (``z``) edges per cycle, in the junction's
schedule (slot) order. Left neuron ``q`` lives in memory bank ``q mod z``, and a bank can be read
once per cycle: a cycle that reads one bank twice *clashes* and stalls the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurofabric.topology.junction import Junction, _check_size


@dataclass(frozen=True, eq=False)
class ClashReport:
    """Banks read in every cycle of a schedule, and the cycles that read a bank twice.

    Attributes:
        parallelism: Edges (and banks) per cycle, ``z``.
        num_cycles: Cycles to visit every edge, ``ceil(nnz / z)``.
        banks: ``(num_cycles, z)`` bank read by each lane in each cycle, read-only; a partial
            last cycle is padded with ``-1``.
        clashing_cycles: ``(k,)`` indices of the cycles that read some bank more than once.
    """

    parallelism: int
    num_cycles: int
    banks: np.ndarray
    clashing_cycles: np.ndarray

    @property
    def is_clash_free(self) -> bool:
        """Whether no cycle reads a bank twice."""
        return self.clashing_cycles.size == 0

    def to_dict(self) -> dict[str, object]:
        """Return the counts as JSON-serialisable values (no arrays)."""
        return {
            "parallelism": self.parallelism,
            "num_cycles": self.num_cycles,
            "num_edges": int(np.count_nonzero(self.banks >= 0)),
            "num_clashing_cycles": int(self.clashing_cycles.size),
            "first_clashing_cycle": (
                int(self.clashing_cycles[0]) if self.clashing_cycles.size else None
            ),
            "is_clash_free": self.is_clash_free,
        }


def clash_report(junction: Junction, parallelism: int | None = None) -> ClashReport:
    """Check which cycles of ``junction``'s schedule read a memory bank more than once.

    Edges are taken in :meth:`~Junction.scheduled_edges` order (canonical order when the
    junction has no schedule), ``parallelism`` per cycle; cycle ``c`` reads the banks
    ``src mod parallelism`` of slots ``[c * z, (c + 1) * z)`` and is clash-free iff they are
    pairwise distinct.

    Args:
        junction: The junction to check.
        parallelism: Edges per cycle ``z``; defaults to ``junction.parallelism``.

    Returns:
        The per-cycle banks and the clashing cycles.

    Raises:
        ValueError: If neither the argument nor the junction gives a parallelism, or it is
            not a positive integer.

    Example:
        >>> j = Junction.from_edges(4, 2, src=[0, 1, 2, 3], dst=[0, 0, 1, 1])
        >>> clash_report(j, parallelism=2).is_clash_free  # cycles read banks (0, 1), (0, 1)
        True
        >>> r = clash_report(j, parallelism=3)  # cycle 0 reads banks (0, 1, 2), cycle 1 (0)
        >>> r.banks.tolist(), r.is_clash_free
        ([[0, 1, 2], [0, -1, -1]], True)
        >>> clash_report(Junction.from_edges(4, 1, src=[0, 2], dst=[0, 0]), 2).clashing_cycles
        array([0])
    """
    if parallelism is None:
        parallelism = junction.parallelism
        if parallelism is None:
            raise ValueError(
                "the junction carries no parallelism (edges per cycle); pass parallelism="
            )
    z = _check_size("parallelism", parallelism)
    src, _ = junction.scheduled_edges()
    num_cycles = -(-src.size // z)
    banks = np.full(num_cycles * z, -1, dtype=np.int64)
    banks[: src.size] = src % z
    banks = banks.reshape(num_cycles, z)
    ordered = np.sort(banks, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    clashing = np.flatnonzero(repeated.any(axis=1))
    banks.setflags(write=False)
    clashing.setflags(write=False)
    return ClashReport(z, num_cycles, banks, clashing)
