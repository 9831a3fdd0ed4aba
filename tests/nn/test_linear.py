import numpy as np
import pytest
import torch
from torch import nn

from neurofabric.nn import SparseLinear
from neurofabric.nn.init import INITS
from neurofabric.topology import (
    Junction,
    clash_free_junction,
    random_junction,
    regular_junction,
)

CASES = {
    "regular-64x32-fo4": lambda: regular_junction(64, 32, fan_out=4, seed=0),
    "random-40x30-d0.1": lambda: random_junction(40, 30, density=0.1, seed=1),
    "clash-free-12x6-z4": lambda: clash_free_junction(12, 6, fan_out=2, parallelism=4, seed=2),
    "1x1": lambda: Junction.from_mask([[1]]),
}


@pytest.mark.parametrize("case", CASES)
def test_matches_dense_weight(case):
    layer = SparseLinear(CASES[case](), dtype=torch.float64)
    x = torch.randn(2, 3, layer.in_features, dtype=torch.float64)
    expected = x @ layer.dense_weight().T + layer.bias
    torch.testing.assert_close(layer(x), expected)
    assert layer(x).shape == (2, 3, layer.out_features)


def test_dense_weight_is_zero_off_pattern_and_holds_edges_in_canonical_order():
    junction = regular_junction(8, 4, fan_out=2, seed=0)
    layer = SparseLinear(junction, bias=False)
    dense = layer.dense_weight().detach().numpy()
    assert np.array_equal(dense != 0, junction.to_mask())
    assert np.allclose(dense[junction.dst, junction.src], layer.weight.detach().numpy())


def test_state_dict_holds_only_weights():
    layer = SparseLinear(regular_junction(16, 8, fan_out=2, seed=0))
    assert set(layer.state_dict()) == {"weight", "bias"}
    assert layer.weight.shape == (layer.junction.nnz,)
    clone = SparseLinear(layer.junction)
    clone.load_state_dict(layer.state_dict())
    x = torch.randn(4, 16)
    torch.testing.assert_close(clone(x), layer(x))


def test_set_kernel_keeps_state_dict():
    layer = SparseLinear(regular_junction(16, 8, fan_out=2, seed=0))
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    x = torch.randn(3, 16)
    y = layer(x)
    for name in ("reference", "auto"):
        layer.set_kernel(name)
        assert layer.state_dict().keys() == before.keys()
        for key, value in layer.state_dict().items():
            assert torch.equal(value, before[key])
        torch.testing.assert_close(layer(x), y)


def test_factory_kwargs_and_no_bias():
    layer = SparseLinear(
        regular_junction(16, 8, fan_out=2, seed=0), bias=False, dtype=torch.float64
    )
    assert layer.bias is None
    assert layer.weight.dtype == torch.float64
    assert all(b.device.type == "cpu" for b in layer.buffers())
    assert "nnz=32" in repr(layer) and "bias=False" in repr(layer)


@pytest.mark.parametrize("kernel", ["gather", "csr", "dense"])
def test_plan_follows_buffers_that_to_replaces(kernel):
    """``plan`` is kept, not rebuilt per call: whatever replaces the buffers (``.to``,
    ``.cuda``, ``_apply``) must refresh it, and ``set_kernel`` too."""
    layer = SparseLinear(regular_junction(16, 8, fan_out=2, seed=0), kernel=kernel)
    x = torch.randn(3, 16)
    y = layer(x)
    layer._apply(lambda t: t.clone())  # every parameter and buffer a new tensor
    buffers = dict(layer.named_buffers())
    assert layer.plan and all(t is buffers["_plan_" + k] for k, t in layer.plan.items())
    torch.testing.assert_close(layer(x), y)
    layer.to(torch.float64)
    torch.testing.assert_close(layer(x.double()), y.double())
    layer.set_kernel("csr" if kernel == "dense" else "dense")
    buffers = dict(layer.named_buffers())
    assert all(t is buffers["_plan_" + k] for k, t in layer.plan.items())
    assert len(layer.plan) == len(buffers)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_to_cuda_moves_index_buffers():
    layer = SparseLinear(regular_junction(16, 8, fan_out=2, seed=0)).to("cuda")
    assert all(b.is_cuda for b in layer.buffers())
    x = torch.randn(3, 16, device="cuda")
    torch.testing.assert_close(layer(x), x @ layer.dense_weight().T + layer.bias)


@pytest.mark.parametrize("init", sorted(INITS))
def test_every_init_runs_and_is_reproducible(init):
    junction = regular_junction(64, 32, fan_out=4, seed=0)
    a = SparseLinear(junction, init=init)
    b = SparseLinear(junction, init=init)
    a.reset_parameters(generator=torch.Generator().manual_seed(0))
    b.reset_parameters(generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.weight, b.weight)
    assert torch.isfinite(a.weight).all() and a.weight.std() > 0


def test_init_scales_by_real_fan_in():
    # 1024 -> 128 with fan-in 8: nn.Linear's rule would use 1/sqrt(1024); ours 1/sqrt(8).
    junction = regular_junction(1024, 128, fan_in=8, seed=0)
    layer = SparseLinear(junction, init="linear")
    assert layer.weight.abs().max() <= 1 / np.sqrt(8) + 1e-6
    assert layer.weight.abs().max() > 1 / np.sqrt(1024)
    he = SparseLinear(junction, init="sparse_he")
    assert abs(he.weight.var().item() - 2 / 8) < 0.05


def test_dense_he_bias_is_dey_constant():
    layer = SparseLinear(regular_junction(16, 8, fan_out=2, seed=0), init="dense_he")
    assert torch.all(layer.bias == 0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kernel": "warp"}, "unknown kernel 'warp'"),
        ({"init": "zeros"}, "unknown init 'zeros'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SparseLinear(regular_junction(16, 8, fan_out=2, seed=0), **kwargs)


def test_wrong_input_width():
    layer = SparseLinear(regular_junction(16, 8, fan_out=2, seed=0))
    with pytest.raises(ValueError, match="expected in_features = 16"):
        layer(torch.randn(2, 15))


def test_trains():
    torch.manual_seed(0)
    layer = SparseLinear(random_junction(8, 1, density=0.5, seed=0))
    target = nn.Linear(8, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.randn(256, 8)
    y = target(x).detach()
    first = None
    for _ in range(100):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(layer(x), y)
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first


def _native_layer(**kwargs) -> SparseLinear:
    layer = SparseLinear(regular_junction(48, 24, fan_in=6, seed=3), **kwargs)
    if layer._bound is None:
        pytest.skip("native passes unavailable")
    return layer


def test_copies_bind_their_own_index_buffers():
    import copy
    import pickle

    layer = _native_layer()
    x = torch.randn(5, 48)
    y = layer(x).detach()
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        buffers = dict(clone.named_buffers())
        assert clone._bound.crow is buffers["_plan_crow"]
        assert clone._bound._addresses[0] == buffers["_plan_crow"].data_ptr()
        assert clone._bound._addresses[1] == buffers["_plan_table"].data_ptr()
        del clone._plan  # the copy needs nothing of the original's
        torch.testing.assert_close(clone(x), y)


def test_double_backward_is_refused_but_create_graph_gives_first_order_gradients():
    layer = _native_layer()
    reference = SparseLinear(layer.junction, kernel="reference")
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(4, 48, requires_grad=True)
    (grad,) = torch.autograd.grad(layer(x).square().sum(), x, create_graph=True)
    (expected,) = torch.autograd.grad(reference(x).square().sum(), x)
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="once"):
        grad.sum().backward()


def test_concurrent_threads_get_their_own_results():
    from concurrent.futures import ThreadPoolExecutor

    layer = _native_layer()
    inputs = [torch.randn(b, 48) for b in (1, 3, 17, 64) for _ in range(8)]
    with torch.no_grad():
        expected = [layer(x) for x in inputs]
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda x: [layer(x) for _ in range(20)], inputs))
    for runs, want in zip(results, expected, strict=True):
        assert all(torch.equal(y, want) for y in runs)


def test_functional_call_parametrization_and_data_swaps_reach_the_product():
    from torch.func import functional_call
    from torch.nn.utils import parametrize

    layer = _native_layer()
    x = torch.randn(3, 48)
    dense = layer.dense_weight().detach()
    doubled = {"weight": layer.weight.detach() * 2, "bias": torch.zeros(24)}
    torch.testing.assert_close(functional_call(layer, doubled, (x,)), 2 * x @ dense.T)

    class Double(nn.Module):
        def forward(self, weight):
            return 2 * weight

    parametrize.register_parametrization(layer, "weight", Double())
    torch.testing.assert_close(layer(x), 2 * x @ dense.T + layer.bias, rtol=1e-5, atol=1e-5)
    parametrize.remove_parametrizations(layer, "weight")
    layer.weight.data = torch.ones(layer.junction.nnz)  # a new tensor under the parameter
    ones = torch.from_numpy(layer.junction.to_mask()).float()
    torch.testing.assert_close(layer(x), x @ ones.T + layer.bias, rtol=1e-5, atol=1e-5)
    layer.weight.data = torch.ones(2 * layer.junction.nnz)[::2]  # not contiguous: torch passes
    torch.testing.assert_close(layer(x), x @ ones.T + layer.bias, rtol=1e-5, atol=1e-5)
