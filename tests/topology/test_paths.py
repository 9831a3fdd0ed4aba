import numpy as np
import pytest

from neurofabric.topology import Junction, Topology
from neurofabric.topology.paths import (
    is_fully_connected,
    path_counts,
    reachability,
    reachable_fraction,
)

# Layer 0 (3) -> layer 1 (2) -> layer 2 (2), plus a skip 0 -> 2.
M1 = np.array([[1, 1, 0], [0, 1, 1]])
M2 = np.array([[1, 1], [0, 1]])
SKIP = np.array([[0, 0, 1], [1, 0, 0]])


def test_chain_path_counts_by_hand():
    t = Topology.chain([Junction.from_mask(M1), Junction.from_mask(M2)])
    # Output 0 reads hidden 0 and 1: paths from input 0: 1 (via h0); input 1: 2 (h0, h1);
    # input 2: 1 (h1). Output 1 reads only hidden 1: inputs 1 and 2, one path each.
    assert path_counts(t).tolist() == [[1, 2, 1], [0, 1, 1]]
    assert path_counts(t).tolist() == (M2 @ M1).tolist()
    assert not is_fully_connected(t)
    assert reachable_fraction(t) == 5 / 6


def test_skip_adds_its_paths():
    t = Topology(
        (3, 2, 2),
        {
            (0, 1): Junction.from_mask(M1),
            (1, 2): Junction.from_mask(M2),
            (0, 2): Junction.from_mask(SKIP),
        },
    )
    assert path_counts(t).tolist() == (M2 @ M1 + SKIP).tolist()
    assert is_fully_connected(t)
    assert reachability(t).all()


def test_intermediate_layers():
    t = Topology.chain([Junction.from_mask(M1), Junction.from_mask(M2)])
    assert path_counts(t, source=1, target=2).tolist() == M2.tolist()
    assert path_counts(t, source=0, target=1).tolist() == M1.tolist()
    with pytest.raises(ValueError, match="must come before"):
        path_counts(t, source=2, target=1)


def test_huge_counts_stay_exact():
    # 40 dense layers of width 4: 4**39 paths per pair, beyond int64.
    dense = Junction.from_mask(np.ones((4, 4)))
    t = Topology.chain([dense] * 40)
    counts = path_counts(t)
    assert counts.dtype == object
    assert counts[0, 0] == 4**39
