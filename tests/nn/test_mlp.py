import torch

from neurofabric.nn.mlp import build_mlp
from neurofabric.topology import Junction, Topology, mlp_topology


def test_mlp_matches_dense_forward():
    topology = mlp_topology((16, 8, 4), "structured", fan_out=(2, 4), seed=0)
    net = build_mlp(topology, dtype=torch.float64)
    x = torch.randn(5, 16, dtype=torch.float64)
    first, second = net.junctions["0_1"], net.junctions["1_2"]
    hidden = torch.relu(x @ first.dense_weight().T + first.bias)
    torch.testing.assert_close(net(x), hidden @ second.dense_weight().T + second.bias)


def test_skips_are_summed_with_one_bias_per_layer():
    full = Junction.from_mask(torch.ones(2, 3).numpy())
    topology = Topology(
        (3, 2, 2),
        {(0, 1): full, (1, 2): Junction.from_mask([[1, 0], [0, 1]]), (0, 2): full},
    )
    net = build_mlp(topology, activation=None, dtype=torch.float64)
    # Layer 2 gets one bias, held by its first incoming junction in key order: (0, 2).
    assert net.junctions["0_2"].bias is not None and net.junctions["1_2"].bias is None
    x = torch.randn(4, 3, dtype=torch.float64)
    expected = net.junctions["1_2"](net.junctions["0_1"](x)) + net.junctions["0_2"](x)
    torch.testing.assert_close(net(x), expected)


def test_identity_skips_add_the_source_layer():
    a = Junction.from_mask([[1, 1], [0, 1]])
    topology = Topology((2, 2), {(0, 1): a}, identity_skips=frozenset({(0, 1)}))
    net = build_mlp(topology, activation=None, bias=False, dtype=torch.float64)
    x = torch.randn(3, 2, dtype=torch.float64)
    torch.testing.assert_close(net(x), x @ net.junctions["0_1"].dense_weight().T + x)


def test_mlp_learns_a_tiny_task():
    torch.manual_seed(0)
    x = torch.randn(512, 20)
    y = (x[:, :10].sum(1) > x[:, 10:].sum(1)).long()
    net = build_mlp(mlp_topology((20, 40, 2), "structured", fan_out=(10, 2), seed=0))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
    accuracy = (net(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.9
