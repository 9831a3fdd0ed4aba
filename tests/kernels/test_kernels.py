"""Every registered kernel against ``reference``: outputs, gradients, dtypes, edge cases, policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neurofabric.kernels.gather as gather_module
from neurofabric.kernels import (
    KERNELS,
    available_kernels,
    dense_thresholds,
    get_kernel,
    select_kernel,
)
from neurofabric.kernels.blockdiag import simplify
from neurofabric.kernels.dense import scatter_dense
from neurofabric.nn import SparseLinear
from neurofabric.topology import (
    BlockStructure,
    GridPermutation,
    Junction,
    butterfly_topology,
    clash_free_junction,
    clos_topology,
    dense_junction,
    monarch_topology,
    random_junction,
    regular_junction,
    windowed_junction,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """The cases are tiny: one thread spares them OpenMP barrier stalls on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _stage(topology, index: int) -> Junction:
    return list(topology.junctions.values())[index]


CASES = {
    "regular-64x32-fo4": lambda: regular_junction(64, 32, fan_out=4, seed=0),
    "random-40x30-nnz60-empty-rows": lambda: random_junction(40, 30, nnz=60, seed=3),
    "windowed-32x16-fi6": lambda: windowed_junction(32, 16, fan_in=6, seed=0),
    "clash-free-12x6-z4": lambda: clash_free_junction(12, 6, fan_out=2, parallelism=4, seed=2),
    "1x1": lambda: Junction.from_mask([[1]]),
    "dense-12x7": lambda: dense_junction(12, 7, seed=0),
    "no-edges-5x3": lambda: Junction.from_edges(5, 3, [], []),
    "clos-24-ingress": lambda: _stage(clos_topology(24, 24, groups=4, middle=3), 0),
    "clos-24-middle": lambda: _stage(clos_topology(24, 24, groups=4, middle=3), 1),
    "clos-24-egress": lambda: _stage(clos_topology(24, 24, groups=4, middle=3), 2),
    "clos5-32-inner": lambda: _stage(clos_topology(32, 32, groups=4, middle=2, stages=5), 2),
    "clos-24-diagonal": lambda: _stage(
        clos_topology(24, 24, groups=4, middle=3, skip="trainable_identity"), 1
    ),
    "butterfly-16-stage1": lambda: _stage(butterfly_topology(16), 1),
    "butterfly-27-r3-stage2": lambda: _stage(butterfly_topology(27, radix=3), 2),
    "monarch-64-stage0": lambda: _stage(monarch_topology(64, blocks=8), 0),
    "monarch-64-stage1": lambda: _stage(monarch_topology(64, blocks=8), 1),
    "blocks-output-order": lambda: Junction.from_blocks(
        BlockStructure(
            2, 3, 4, GridPermutation((3, 2), (1, 0)), GridPermutation((2, 2, 2), (2, 0, 1))
        )
    ),
    "blocks-unsorted-inputs": lambda: Junction.from_blocks(
        BlockStructure(3, 4, 2, GridPermutation((2, 2, 3), (2, 1, 0)))
    ),
}
JUNCTIONS = {name: make() for name, make in CASES.items()}
DTYPES = [torch.float32, torch.float64]


def _run(name: str, junction: Junction, x: torch.Tensor, weight: torch.Tensor, grad):
    """Output and ``(∂x, ∂w)`` of kernel ``name`` for upstream gradient ``grad``."""
    kernel = KERNELS[name]
    x = x.detach().requires_grad_()
    weight = weight.detach().requires_grad_()
    y = kernel(x, weight, kernel.prepare(junction), junction)
    y.backward(grad)
    return y.detach(), x.grad, weight.grad


def _supported(case: str, name: str) -> Junction:
    junction = JUNCTIONS[case]
    if not KERNELS[name].supports(junction):
        pytest.skip(f"{name} does not support {case}")
    return junction


@pytest.mark.parametrize("batch", [5, 1, 0])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", available_kernels())
@pytest.mark.parametrize("case", CASES)
def test_matches_reference(case, name, dtype, batch):
    junction = _supported(case, name)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, junction.in_features, dtype=dtype, generator=generator)
    weight = torch.randn(junction.nnz, dtype=dtype, generator=generator)
    grad = torch.randn(batch, junction.out_features, dtype=dtype, generator=generator)
    got = _run(name, junction, x, weight, grad)
    expected = _run("reference", junction, x, weight, grad)
    assert got[0].shape == (batch, junction.out_features)
    for value, reference in zip(got, expected, strict=True):
        assert value.dtype == dtype
        torch.testing.assert_close(value, reference)


@pytest.mark.parametrize("name", available_kernels())
@pytest.mark.parametrize("case", CASES)
def test_gradcheck(case, name):
    junction = _supported(case, name)
    kernel = KERNELS[name]
    plan = kernel.prepare(junction)
    x = torch.randn(2, junction.in_features, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(junction.nnz, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: kernel(x, w, plan, junction), (x, weight))


@pytest.mark.parametrize("name", ["dense", "reference"])
@pytest.mark.parametrize("case", CASES)
def test_dense_and_reference_kernels_have_second_derivatives(case, name):
    """Built from autograd's own ops, so gradient penalties (double backward) work."""
    junction = _supported(case, name)
    kernel = KERNELS[name]
    plan = kernel.prepare(junction)
    x = torch.randn(2, junction.in_features, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(junction.nnz, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda x, w: kernel(x, w, plan, junction), (x, weight))


@pytest.mark.parametrize("name", ["gather", "csr", "blockdiag", "dense"])
def test_only_needed_gradients(name):
    junction = JUNCTIONS["monarch-64-stage1" if name == "blockdiag" else "regular-64x32-fo4"]
    kernel = KERNELS[name]
    plan = kernel.prepare(junction)
    x = torch.randn(3, junction.in_features, requires_grad=True)
    weight = torch.randn(junction.nnz)
    kernel(x, weight, plan, junction).sum().backward()
    assert x.grad is not None
    x = torch.randn(3, junction.in_features)
    weight.requires_grad_()
    kernel(x, weight, plan, junction).sum().backward()
    assert weight.grad is not None


def test_gather_chunks_the_batch(monkeypatch):
    monkeypatch.setattr(gather_module, "CHUNK_BYTES", 1)  # 16 batch columns per chunk
    junction = JUNCTIONS["regular-64x32-fo4"]
    x, weight = torch.randn(40, 64, dtype=torch.float64), torch.randn(junction.nnz).double()
    grad = torch.randn(40, 32, dtype=torch.float64)
    got = _run("gather", junction, x, weight, grad)
    for value, reference in zip(got, _run("reference", junction, x, weight, grad), strict=True):
        torch.testing.assert_close(value, reference)


@pytest.mark.parametrize("name", available_kernels())
@pytest.mark.parametrize("case", ["regular-64x32-fo4", "monarch-64-stage1", "clos-24-middle"])
def test_leading_batch_dimensions_through_sparse_linear(case, name):
    junction = _supported(case, name)
    layer = SparseLinear(junction, kernel=name, dtype=torch.float64)
    reference = SparseLinear(junction, kernel="reference", dtype=torch.float64)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(2, 3, junction.in_features, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (2, 3, junction.out_features)
    torch.testing.assert_close(y, reference(x))
    y.sum().backward()
    reference(x).sum().backward()
    torch.testing.assert_close(layer.weight.grad, reference.weight.grad)
    torch.testing.assert_close(layer.bias.grad, reference.bias.grad)


@pytest.mark.parametrize("case", ["regular-64x32-fo4", "monarch-64-stage1", "dense-12x7"])
def test_set_kernel_keeps_state_dict_and_outputs(case):
    junction = JUNCTIONS[case]
    layer = SparseLinear(junction, kernel="reference")
    before = {key: value.clone() for key, value in layer.state_dict().items()}
    x = torch.randn(4, junction.in_features)
    expected = layer(x).detach()
    for name in ["auto", *available_kernels()]:
        if name != "auto" and not KERNELS[name].supports(junction):
            continue
        layer.set_kernel(name)
        state = layer.state_dict()
        assert state.keys() == before.keys()
        for key, value in state.items():
            assert torch.equal(value, before[key])
        torch.testing.assert_close(layer(x), expected)


POLICY = [
    # (case, batch, expected). Junctions of at most SMALL_JUNCTION dense weights run dense at
    # batches above 1 (fixed costs dominate there); the larger ones exercise the rest.
    ("regular-256x256-fi32", None, "gather"),
    ("regular-256x256-fi32", 1, "gather"),
    ("regular-256x256-fi8", None, "csr"),  # fan-in 8: too small to gather
    ("random-256x256-d0.1", None, "csr"),
    ("random-256x256-d0.3", None, "dense"),
    ("random-256x256-d0.3", 16, "csr"),
    ("random-256x256-d0.3", 1, "csr"),
    ("regular-256x256-d0.5", 256, "dense"),
    ("regular-256x256-d0.5", 16, "dense"),
    ("regular-256x256-d0.5", 1, "gather"),
    ("regular-256x256-d0.375", 256, "dense"),
    ("regular-256x256-d0.375", 16, "gather"),
    ("regular-128x64-fi32", None, "dense"),  # small
    ("regular-128x64-fi32", 1, "gather"),
    ("regular-64x32-fo4", None, "dense"),  # small
    ("random-40x30-nnz60-empty-rows", None, "dense"),  # small
    ("random-40x30-nnz60-empty-rows", 1, "csr"),
    ("random-40x30-d0.3", 16, "dense"),  # small
    ("random-40x30-d0.3", 1, "csr"),
    ("dense-12x7", None, "dense"),
    ("dense-12x7", 1, "dense"),
    ("1x1", None, "dense"),
    ("clos-512-ingress-32x32", None, "blockdiag"),
    ("clos-512-ingress-32x32", 1, "blockdiag"),
    ("clos-512-middle-16x16", None, "blockdiag"),
    ("monarch-64-stage1", None, "blockdiag"),  # 8x8 blocks
    ("butterfly-16-stage1", None, "dense"),  # 2x2 blocks: too small for bmm; small
    ("butterfly-16-stage1", 1, "csr"),
    ("clos-24-diagonal", None, "dense"),
]
POLICY_JUNCTIONS = {
    "regular-256x256-fi32": lambda: regular_junction(256, 256, fan_in=32, seed=0),
    "regular-256x256-fi8": lambda: regular_junction(256, 256, fan_in=8, seed=0),
    "random-256x256-d0.1": lambda: random_junction(256, 256, density=0.1, seed=0),
    "random-256x256-d0.3": lambda: random_junction(256, 256, density=0.3, seed=0),
    "regular-256x256-d0.5": lambda: regular_junction(256, 256, fan_in=128, seed=0),
    "regular-256x256-d0.375": lambda: regular_junction(256, 256, fan_in=96, seed=0),
    "regular-128x64-fi32": lambda: regular_junction(128, 64, fan_in=32, seed=0),
    "random-40x30-d0.3": lambda: random_junction(40, 30, density=0.3, seed=0),
    "random-40x30-d0.15": lambda: random_junction(40, 30, density=0.15, seed=0),
    "regular-128x128-d0.5": lambda: regular_junction(128, 128, fan_in=64, seed=0),
    "regular-128x128-d0.375": lambda: regular_junction(128, 128, fan_in=48, seed=0),
    "clos-512-ingress-32x32": lambda: _stage(clos_topology(512, 512, groups=16, middle=32), 0),
    "clos-512-middle-16x16": lambda: _stage(clos_topology(512, 512, groups=16, middle=32), 1),
    "clos-1024-ingress-32x32": lambda: _stage(clos_topology(1024, 1024, groups=32, middle=32), 0),
    "clos-1024-ingress-16x16": lambda: _stage(clos_topology(1024, 1024, groups=64, middle=16), 0),
}


# With the native passes, gather wins at every constant fan-in (block stages too, unless their
# blocks are 32 wide or more in a junction of 1024² or more), csr shares gather's density
# threshold, and small junctions stay sparse at every batch; the other rules stay.
NATIVE_POLICY = [
    ("regular-256x256-fi8", None, "gather"),
    ("regular-256x256-fi32", None, "gather"),
    ("random-256x256-d0.1", None, "csr"),  # no constant fan-in
    ("random-256x256-d0.3", 16, "csr"),
    ("random-256x256-d0.3", 1, "csr"),
    ("regular-256x256-d0.5", None, "dense"),
    ("regular-256x256-d0.375", None, "dense"),
    ("regular-256x256-d0.375", 16, "gather"),
    ("clos-512-ingress-32x32", None, "gather"),  # blocks: only from 1024² on
    ("clos-1024-ingress-32x32", None, "blockdiag"),
    ("clos-1024-ingress-32x32", 1, "blockdiag"),
    ("clos-1024-ingress-16x16", None, "gather"),  # too narrow for bmm to win
    ("regular-64x32-fo4", None, "gather"),  # small, but a training batch
    ("regular-64x32-fo4", 256, "gather"),
    ("regular-64x32-fo4", 16, "gather"),
    ("random-40x30-d0.3", 16, "csr"),
    ("random-40x30-d0.3", 128, "csr"),
    ("random-40x30-d0.3", 1, "csr"),
    ("dense-12x7", None, "dense"),  # complete
]


@pytest.mark.parametrize(
    ("native", "case", "batch", "expected"),
    [(False, *row) for row in POLICY] + [(True, *row) for row in NATIVE_POLICY],
)
def test_select_kernel_policy(native, case, batch, expected):
    """The policy with ``gather``'s torch passes (no native library) and with the native ones."""
    junction = JUNCTIONS[case] if case in JUNCTIONS else POLICY_JUNCTIONS[case]()
    assert select_kernel(junction, batch=batch, native=native) == expected
    assert KERNELS[expected].supports(junction)


def test_dense_thresholds_fall_with_batch():
    assert dense_thresholds(None) == dense_thresholds(256)
    assert dense_thresholds(1) == (1.0, 1.0)
    gather_small, csr_small = dense_thresholds(16)
    gather_large, csr_large = dense_thresholds(256)
    assert gather_large <= gather_small and csr_large <= csr_small
    assert dense_thresholds(16, native=True) == (gather_small, gather_small)


@pytest.mark.parametrize(
    ("case", "name"),
    [
        ("random-40x30-nnz60-empty-rows", "gather"),
        ("regular-64x32-fo4", "blockdiag"),
        ("clos-24-diagonal", "blockdiag"),
    ],
)
def test_unsupported_kernel_raises(case, name):
    with pytest.raises(ValueError, match=name):
        SparseLinear(JUNCTIONS[case], kernel=name)


def test_unknown_kernel_lists_valid_names():
    with pytest.raises(ValueError, match="gather"):
        get_kernel("nope")


def _per_edge(plan, junction) -> list[str]:
    return sorted(key for key, tensor in plan.items() if tensor.numel() >= junction.nnz)


def test_index_plans_are_cpu_int32_and_one_index_per_edge():
    junction = JUNCTIONS["regular-64x32-fo4"]
    for name in ("gather", "csr"):
        plan = KERNELS[name].prepare(junction)
        for tensor in plan.values():
            assert tensor.device.type == "cpu" and tensor.dtype == torch.int32
    plan = KERNELS["gather"].prepare(junction)
    assert plan["table"].shape == (junction.out_features, junction.nnz // junction.out_features)
    assert _per_edge(plan, junction) == ["table"]
    assert np.array_equal(plan["table"].view(-1).numpy(), junction.src)
    assert _per_edge(KERNELS["csr"].prepare(junction), junction) == ["col"]


# (kernel, dtype, input requires grad, batch): the torch passes (float64) and the native ones
# (float32 above batch 1), with and without ∂L/∂x, and batch 1's scatter
ONE_INDEX_PER_EDGE = [
    (name, dtype, input_grad, batch)
    for name in ("gather", "csr")
    for dtype in (torch.float32, torch.float64)
    for input_grad in (False, True)
    for batch in (1, 5)
]


@pytest.mark.parametrize(("name", "dtype", "input_grad", "batch"), ONE_INDEX_PER_EDGE)
def test_a_trained_layer_holds_one_index_per_edge(name, dtype, input_grad, batch):
    """The transposed edges ∂L/∂x needs are derived in each backward and dropped after it, so
    training holds no more indices than inference — and still gets the reference gradients."""
    irregular = random_junction(40, 30, nnz=300, seed=1)
    junction = irregular if name == "csr" else JUNCTIONS["regular-64x32-fo4"]
    layer = SparseLinear(junction, kernel=name, dtype=dtype)
    pointers = {key: tensor.data_ptr() for key, tensor in layer.plan.items()}
    x = torch.randn(batch, junction.in_features, dtype=dtype, requires_grad=input_grad)
    for _ in range(2):
        layer.zero_grad()
        layer(x).sum().backward()
    with torch.no_grad():
        layer(torch.randn(batch, junction.in_features, dtype=dtype))
    assert _per_edge(layer.plan, junction) == ["col" if name == "csr" else "table"]
    assert {key: tensor.data_ptr() for key, tensor in layer.plan.items()} == pointers
    assert all(key in ("weight", "bias") for key in layer.state_dict())
    reference = SparseLinear(junction, kernel="reference", dtype=dtype)
    reference.load_state_dict(layer.state_dict())
    x_reference = x.detach().clone().requires_grad_(input_grad)
    reference(x_reference).sum().backward()
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {}
    torch.testing.assert_close(layer.weight.grad, reference.weight.grad, **tolerance)
    if input_grad:
        torch.testing.assert_close(x.grad, 2 * x_reference.grad, **tolerance)


BLOCK_CASES = [
    name
    for name, junction in JUNCTIONS.items()
    if junction.blocks is not None and KERNELS["blockdiag"].supports(junction)
]


@pytest.mark.parametrize(
    ("case", "batch", "dtype", "bias"),
    [(case, b, d, bias) for case in BLOCK_CASES for b in (1, 5) for d in DTYPES for bias in (0, 1)],
)
def test_blockdiag_inference_without_autograd_equals_reference(case, batch, dtype, bias):
    """Under ``no_grad`` (and for inputs and weights that want no gradient) a block stage runs
    without its autograd node — one sample in float32 on the native block product — and gives
    the reference output, grid permutations, block order and bias included."""
    junction = JUNCTIONS[case]
    torch.manual_seed(0)
    layer = SparseLinear(junction, bias=bool(bias), kernel="blockdiag", dtype=dtype)
    reference = SparseLinear(junction, bias=bool(bias), kernel="reference", dtype=dtype)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(batch, junction.in_features, dtype=dtype)
    with torch.no_grad():
        y = layer(x)
    assert y.grad_fn is None and y.is_contiguous()
    torch.testing.assert_close(y, reference(x).detach())
    layer.requires_grad_(False)  # no gradient wanted, grad mode on: the same path
    torch.testing.assert_close(layer(x), y, rtol=0, atol=0)


def test_blockdiag_skips_the_weight_gather_when_orders_agree():
    for case in ("clos-24-ingress", "clos-24-middle", "clos-24-egress", "monarch-64-stage0"):
        assert KERNELS["blockdiag"].prepare(JUNCTIONS[case]) == {}
    for case in ("blocks-output-order", "blocks-unsorted-inputs"):
        assert set(KERNELS["blockdiag"].prepare(JUNCTIONS[case])) == {"block_order"}


@pytest.mark.parametrize(
    ("shape", "axes", "expected"),
    [
        ((8, 1, 2), (0, 2, 1), None),
        ((4, 2, 8), (2, 0, 1), ((8, 8), (1, 0))),
        ((2, 3, 4), (0, 2, 1), ((2, 3, 4), (0, 2, 1))),
        ((5,), (0,), None),
    ],
)
def test_simplify_grid_permutation(shape, axes, expected):
    order = GridPermutation(shape, axes)
    assert simplify(order) == expected
    got = np.arange(order.size) if expected is None else GridPermutation(*expected).indices()
    assert np.array_equal(got, order.indices())


def test_dense_kernel_views_a_complete_junction():
    junction = JUNCTIONS["dense-12x7"]
    weight = torch.randn(junction.nnz)
    plan = KERNELS["dense"].prepare(junction)
    assert scatter_dense(weight, plan["flat_index"], junction.shape).data_ptr() == (
        weight.data_ptr()
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", available_kernels())
@pytest.mark.parametrize("case", ["regular-64x32-fo4", "random-40x30-nnz60-empty-rows"])
@pytest.mark.parametrize("batch", [1, 7])
def test_cuda_matches_cpu(case, name, batch):
    junction = _supported(case, name)
    layer = SparseLinear(junction, kernel=name)
    x = torch.randn(batch, junction.in_features)
    expected = layer(x)
    expected.sum().backward()
    expected_grad = layer.weight.grad.clone()
    layer.zero_grad()
    layer.cuda()
    y = layer(x.cuda())
    y.sum().backward()
    torch.testing.assert_close(y.cpu(), expected)
    torch.testing.assert_close(layer.weight.grad.cpu(), expected_grad)
