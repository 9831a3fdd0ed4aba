"""The native block product (``blocks.c``) against ``torch.bmm``, and block chains on one
sample: stage by stage, or the whole chain in one call."""

from __future__ import annotations

import copy

import pytest
import torch

import neurofabric.kernels.native as native
from neurofabric.kernels import block_chain as chain_module
from neurofabric.kernels.block_chain import SMALL_BATCH, block_chain, block_chain_plan
from neurofabric.kernels.native import passes
from neurofabric.nn import SparseCascade
from neurofabric.topology import (
    BlockStructure,
    GridPermutation,
    Junction,
    Topology,
    butterfly_topology,
    clos_topology,
    monarch_topology,
)

needs_native = pytest.mark.skipif(
    native.library() is None, reason=f"native passes unavailable: {native.status()}"
)

# (blocks, out, in): widths below, at and across one vector (16 floats with AVX-512) and rows
# below, at and across the groups of one vector's width and of 4 the product takes them in
PRODUCT_CASES = {
    "1x1x1": (1, 1, 1),
    "128x8x8": (128, 8, 8),  # a Clos middle stage
    "3x5x7": (3, 5, 7),
    "2x18x3": (2, 18, 3),
    "4x37x16": (4, 37, 16),
    "2x33x100": (2, 33, 100),
    "8x16x512": (8, 16, 512),
    "1x20x1000": (1, 20, 1000),
}


def _layouts(blocks: int, width: int, generator: torch.Generator):
    """The same ``(g, i, 1)`` sample stored three ways: contiguous, a perfect shuffle of the
    previous stage's ``(i, g)`` grid (inputs ``g`` apart), and a slice of a wider buffer."""
    values = torch.randn(blocks, width, 1, generator=generator)
    wide = torch.zeros(blocks, width + 3, 1)
    wide[:, 1 : width + 1] = values
    return {
        "contiguous": values,
        "shuffled": values.transpose(0, 1).contiguous().transpose(0, 1),
        "sliced": wide[:, 1 : width + 1],
    }


@needs_native
@pytest.mark.parametrize("case", PRODUCT_CASES.values(), ids=PRODUCT_CASES.keys())
def test_block_product_equals_bmm(case):
    g, o, i = case
    generator = torch.Generator().manual_seed(sum(case))
    weight = torch.randn(g, o, i, generator=generator)
    bias = torch.randn(g * o, generator=generator)
    for name, x in _layouts(g, i, generator).items():
        expected = torch.bmm(weight, x.contiguous())
        got = passes.block_product(weight, x)
        assert got.shape == (g, o, 1) and got.is_contiguous(), name
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5, msg=name)
        with_bias = passes.block_product(weight, x, bias)
        torch.testing.assert_close(
            with_bias, expected + bias.view(g, o, 1), rtol=1e-5, atol=1e-5, msg=name
        )


@needs_native
def test_block_product_refuses_blocks_wider_than_its_copy():
    width = passes.BLOCK_COPY_FLOATS + 1
    assert passes.block_product_fits(passes.BLOCK_COPY_FLOATS)
    assert not passes.block_product_fits(width)
    with pytest.raises(ValueError, match=f"blocks {width} wide"):
        passes.block_product(torch.zeros(1, 1, width), torch.zeros(1, width, 1))
    with pytest.raises(ValueError, match=f"blocks {width} wide"):
        passes.VectorChain([(1, 1, width)], [(width, 1)])


@needs_native
def test_block_product_does_not_depend_on_the_thread_count(monkeypatch):
    monkeypatch.setattr(passes, "WORK_PER_THREAD", 1)  # split even a tiny product
    weight, x = torch.randn(3, 37, 50), torch.randn(3, 50, 1)
    chain = passes.VectorChain([(3, 37, 50), (37, 3, 3)], [(50, 1), (1, 37)])
    second = torch.randn(37, 3, 3)
    results, threads = [], torch.get_num_threads()
    try:
        for count in (1, 2, 3):  # 3: parts that end inside a block
            torch.set_num_threads(count)
            results.append(
                (
                    passes.block_product(weight, x),
                    passes.vector_chain(chain, [weight, second], x.view(1, -1)),
                )
            )
    finally:
        torch.set_num_threads(threads)
    for result in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(result, results[0], strict=True))
    first = results[0][0].view(3, 37)  # the chain's second stage reads it shuffled
    expected = torch.bmm(second, first.t().contiguous().view(37, 3, 1)).view(1, -1)
    torch.testing.assert_close(results[0][1], expected, rtol=1e-5, atol=1e-5)


def _hand_made(skips=frozenset()):
    stages = [
        Junction.from_blocks(BlockStructure(4, 6, 3)),  # (blocks, in, out): 24 -> 12
        Junction.from_blocks(BlockStructure(3, 4, 5, GridPermutation((4, 3), (1, 0)))),
        Junction.from_blocks(BlockStructure(5, 3, 2, GridPermutation((3, 5), (1, 0)))),
    ]
    return Topology.chain(stages, identity_skips=set(skips), kind="cascade")


CHAINS = {
    "clos": lambda: clos_topology(64, 64, groups=4, middle=8),
    "clos-5": lambda: clos_topology(64, 64, groups=8, middle=4, stages=5),
    "clos-rect": lambda: clos_topology(24, 40, groups=4, middle=3),
    "hand-made": _hand_made,
    "residual": lambda: _hand_made({(0, 3)}),
    "butterfly": lambda: butterfly_topology(32, radix=2),  # output orders: no vector chain
    "monarch": lambda: monarch_topology(36, blocks=6),
}


def _dense_chain(x, weights, topology):
    out = x
    for (source, _), junction in topology.junctions.items():
        dense = torch.zeros(junction.shape, dtype=x.dtype)
        dense[torch.tensor(junction.dst), torch.tensor(junction.src)] = weights[source]
        y = out @ dense.T
        if (source, source + 1) in topology.identity_skips:
            shared = min(junction.in_features, junction.out_features)
            y[:, :shared] += out[:, :shared]
        out = y
    last = topology.num_layers - 1
    if last > 1 and (0, last) in topology.identity_skips:
        shared = min(out.shape[1], x.shape[1])
        out[:, :shared] += x[:, :shared]
    return out


@needs_native
@pytest.mark.parametrize("make", CHAINS.values(), ids=CHAINS.keys())
@pytest.mark.parametrize("batch", [1, 2, SMALL_BATCH - 1])
def test_one_sample_runs_natively_and_equals_the_dense_chain(make, batch, monkeypatch):
    topology = make()
    plan = block_chain_plan(topology)
    generator = torch.Generator().manual_seed(batch)
    weights = [torch.randn(j.nnz, generator=generator) for j in topology.junctions.values()]
    bias = torch.randn(topology.layer_sizes[-1], generator=generator)
    x = torch.randn(batch, topology.layer_sizes[0], generator=generator)
    calls = {"product": 0, "chain": 0}
    product, vector = passes.block_product, passes.vector_chain

    def count(name, function):
        def counted(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return counted

    monkeypatch.setattr(passes, "block_product", count("product", product))
    monkeypatch.setattr(passes, "vector_chain", count("chain", vector))
    out = block_chain(x, weights, plan, bias=bias)
    expected = _dense_chain(x, weights, topology) + bias
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
    if batch > 1:  # torch.bmm
        assert calls == {"product": 0, "chain": 0}
    elif plan.vector_chain is not None:  # the whole chain in one call
        assert calls == {"product": 0, "chain": 1}
    else:  # stage by stage
        assert calls == {"product": len(plan.stages), "chain": 0}


@needs_native
@pytest.mark.parametrize("grad", [False, True], ids=["inference", "training"])
def test_cascade_at_batch_one_equals_the_reference_kernel(grad):
    torch.manual_seed(3)
    fast = SparseCascade(clos_topology(64, 64, groups=4, middle=8))
    slow = SparseCascade(fast.topology, kernel="reference")
    slow.load_state_dict(fast.state_dict())
    assert fast.kernel == "block_chain"
    x = torch.randn(1, 64, requires_grad=grad)
    with torch.set_grad_enabled(grad):
        outputs = [layer(x) for layer in (fast, slow)]
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)
    assert outputs[0].shape == (1, 64) and outputs[0].is_contiguous()
    if grad:
        upstream = torch.randn(1, 64)
        parameters = [x, *fast.parameters()]
        first = torch.autograd.grad(outputs[0], parameters, upstream)
        second = torch.autograd.grad(outputs[1], [x, *slow.parameters()], upstream)
        for a, b in zip(first, second, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_float64_and_disabled_native_use_bmm(monkeypatch):
    topology = clos_topology(32, 32, groups=4, middle=4)
    plan = block_chain_plan(topology)
    weights = [torch.randn(j.nnz, dtype=torch.float64) for j in topology.junctions.values()]
    x = torch.randn(1, 32, dtype=torch.float64)
    monkeypatch.setattr(passes, "vector_chain", None)  # would fail if called
    monkeypatch.setattr(passes, "block_product", None)
    expected = _dense_chain(x, weights, topology)
    torch.testing.assert_close(block_chain(x, weights, plan), expected)
    monkeypatch.setattr(chain_module.passes, "usable", lambda *tensors: False)  # no library
    single = [w.float() for w in weights]
    torch.testing.assert_close(
        block_chain(x.float(), single, plan), expected.float(), rtol=1e-5, atol=1e-5
    )


def test_a_cascade_that_ran_one_sample_still_copies_and_saves(tmp_path):
    cascade = SparseCascade(clos_topology(64, 64, groups=4, middle=8))
    one = torch.randn(1, 64)
    with torch.no_grad():
        expected = cascade(one)  # lays out the plan's vector chain where the library exists
    torch.save(cascade, tmp_path / "cascade.pt")
    loaded = torch.load(tmp_path / "cascade.pt", weights_only=False)
    with torch.no_grad():
        for model in (loaded, copy.deepcopy(cascade)):
            torch.testing.assert_close(model(one), expected)
