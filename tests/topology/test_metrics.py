import numpy as np

from neurofabric.topology import Junction, Topology
from neurofabric.topology.metrics import degree_stats, density, junction_densities


def test_density_and_overall_density():
    a = Junction.from_mask(np.ones((2, 4)))  # 8 of 8
    b = Junction.from_mask([[1, 0]])  # 1 of 2
    t = Topology.chain([a, b])
    assert density(a) == 1.0
    assert density(t) == 9 / 10
    assert junction_densities(t) == {(0, 1): 1.0, (1, 2): 0.5}


def test_degree_stats_by_hand():
    j = Junction.from_mask([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]])
    stats = degree_stats(j)
    assert stats["fan_in"] == {"min": 1, "max": 2, "mean": 5 / 3, "std": float(np.std([2, 1, 2]))}
    assert stats["fan_out"]["max"] == 3
    assert stats["isolated_inputs"] == 2
    assert stats["isolated_outputs"] == 0
    assert stats["is_regular"] is False
