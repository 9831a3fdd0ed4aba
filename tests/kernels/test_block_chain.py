import numpy as np
import pytest
import torch

from neurofabric.kernels.block_chain import (
    SMALL_BATCH,
    block_chain,
    block_chain_buffers,
    block_chain_plan,
    block_chain_unsupported,
    weight_permutation,
)
from neurofabric.nn import SparseLinear
from neurofabric.topology import (
    BlockStructure,
    GridPermutation,
    Junction,
    Topology,
    benes_topology,
    block_shuffle_topology,
    butterfly_topology,
    clos_topology,
    monarch_topology,
    random_cascade_topology,
)


def _orders(topology):
    return [stage.weight_order for stage in block_chain_plan(topology).stages]


@pytest.mark.parametrize(
    "topology",
    [
        clos_topology(32, 32, groups=4, middle=6),
        clos_topology(24, 40, groups=4, middle=3),
        clos_topology(64, 64, groups=8, middle=4, stages=5),
        block_shuffle_topology((16, 32, 16), (4, 8)),  # block_in 4 divides the 4 groups before
    ],
    ids=["clos-3", "clos-3-rect", "clos-5", "block-shuffle"],
)
def test_canonical_order_is_block_order_for_shuffle_input_orders(topology):
    """Without an output order the (nnz,) weight is weight.view(g, o, i): no permutation."""
    assert _orders(topology) == ["view"] * topology.depth
    plan = block_chain_plan(topology)
    assert block_chain_buffers(topology, plan) == {}  # no index tensors at all
    for junction in topology.junctions.values():
        s = junction.blocks
        layer = SparseLinear(junction, bias=False)
        dense = layer.dense_weight().detach()
        blocks = layer.weight.detach().view(s.blocks, s.block_out, s.block_in)
        inputs = np.arange(s.in_features) if s.input_order is None else s.input_order.indices()
        for k in range(s.blocks):
            rows = torch.arange(k * s.block_out, (k + 1) * s.block_out)
            columns = torch.from_numpy(inputs[k * s.block_in : (k + 1) * s.block_in].copy())
            assert torch.equal(dense[rows][:, columns], blocks[k])


def test_weight_orders_of_other_cascades():
    # Butterfly and Monarch stages have an output order: Q⁻¹ on the rows, still no index.
    assert _orders(butterfly_topology(16)) == ["view", "rows", "rows", "rows"]
    assert _orders(monarch_topology(16, blocks=4)) == ["view", "rows"]
    assert set(_orders(benes_topology(16))) == {"view", "rows"}
    # block_in 6 > 2 groups before: blocks read their inputs out of order -> a weight index.
    topology = block_shuffle_topology((12, 24, 8, 16), (2, 4, 2))
    assert _orders(topology) == ["view", "index", "view"]
    buffers = block_chain_buffers(topology, block_chain_plan(topology))
    assert list(buffers) == ["weight_index_1"]
    perm = weight_permutation(topology.junctions[(1, 2)])
    assert np.array_equal(np.sort(perm), np.arange(perm.size))


def test_unsupported_topologies_say_why():
    assert "no block structure" in block_chain_unsupported(
        random_cascade_topology((8, 8, 8), density=0.5, seed=0)
    )
    diagonal = clos_topology(16, 16, groups=4, middle=4, skip="trainable_identity")
    assert "trainable identity" in block_chain_unsupported(diagonal)
    stages = list(clos_topology(16, 16, groups=4, middle=4).junctions.values())
    jump = Topology.chain(stages, identity_skips={(0, 2)}, kind="cascade")
    assert "(0, 2)" in block_chain_unsupported(jump)
    with pytest.raises(ValueError, match="cannot run as a block chain"):
        block_chain_plan(jump)


def _dense_chain(x, weights, topology):
    for (source, target), junction in topology.junctions.items():
        dense = torch.zeros(junction.shape, dtype=x.dtype)
        dense[torch.tensor(junction.dst), torch.tensor(junction.src)] = weights[source]
        y = x @ dense.T
        if (source, target) in topology.identity_skips:
            shared = min(junction.in_features, junction.out_features)
            y[:, :shared] += x[:, :shared]
        x = y
    return x


@pytest.mark.parametrize("batch", [1, SMALL_BATCH - 1, SMALL_BATCH, 40])
def test_hand_made_stages_with_both_orders(batch):
    """Output orders on every stage, unsorted block inputs, non-square skips."""
    shuffle = GridPermutation((2, 3, 4), (2, 0, 1))
    stages = [
        Junction.from_blocks(BlockStructure(4, 6, 3, shuffle, GridPermutation((3, 4), (1, 0)))),
        Junction.from_blocks(BlockStructure(2, 6, 5, GridPermutation((2, 6), (1, 0)))),
        Junction.from_blocks(BlockStructure(5, 2, 4, None, GridPermutation((4, 5), (1, 0)))),
    ]
    topology = Topology.chain(stages, identity_skips={(0, 1), (1, 2), (2, 3)}, kind="cascade")
    plan = block_chain_plan(topology)
    buffers = block_chain_buffers(topology, plan)
    weights = [torch.randn(j.nnz, dtype=torch.float64, requires_grad=True) for j in stages]
    x = torch.randn(batch, 24, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(20, dtype=torch.float64, requires_grad=True)
    out = block_chain(x, weights, plan, buffers, bias=bias)
    expected = _dense_chain(x, weights, topology) + bias
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(out)
    inputs = [x, bias, *weights]
    for a, b in zip(
        torch.autograd.grad(out, inputs, grad),
        torch.autograd.grad(expected, inputs, grad),
        strict=True,
    ):
        torch.testing.assert_close(a, b)


def test_block_chain_checks_its_arguments():
    topology = clos_topology(16, 16, groups=4, middle=4)
    plan = block_chain_plan(topology)
    weights = [torch.randn(j.nnz) for j in topology.junctions.values()]
    with pytest.raises(ValueError, match="in_features = 16"):
        block_chain(torch.randn(2, 15), weights, plan)
    with pytest.raises(ValueError, match="3 stages need as many weights, got 2"):
        block_chain(torch.randn(2, 16), weights[:2], plan)


@pytest.mark.parametrize("activation", [None, torch.relu], ids=["linear", "relu"])
def test_a_linear_chain_is_one_autograd_node(activation):
    topology = clos_topology(16, 16, groups=4, middle=4)
    plan = block_chain_plan(topology)
    weights = [torch.randn(j.nnz, requires_grad=True) for j in topology.junctions.values()]
    x = torch.randn(5, 16, requires_grad=True)
    out = block_chain(x, weights, plan, bias=torch.zeros(16), activation=activation)
    nodes, pending = set(), [out.grad_fn]
    while pending:  # every node between the output and the leaves
        node = pending.pop()
        nodes.add(type(node).__name__)
        pending += [f for f, _ in node.next_functions if f is not None]
    stages = {"_ChainBackward"} if activation is None else {"_BlockStageBackward"}
    assert stages <= nodes and not ({"_ChainBackward", "_BlockStageBackward"} - stages) & nodes
    out.sum().backward()
    assert x.grad is not None and all(w.grad is not None for w in weights)
