import copy
import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neurofabric.kernels import available_kernels
from neurofabric.nn.cascade import SparseCascade
from neurofabric.topology import (
    SKIPS,
    benes_topology,
    block_shuffle_topology,
    butterfly_topology,
    clos_topology,
    monarch_topology,
    random_cascade_topology,
)

CASES = {
    "clos-3": lambda skip: clos_topology(32, 32, groups=4, middle=6, skip=skip),
    "clos-3-rect": lambda skip: clos_topology(24, 40, groups=4, middle=3, skip=skip),
    "clos-5": lambda skip: clos_topology(64, 64, groups=8, middle=4, stages=5, skip=skip),
    "clos-5-rect": lambda skip: clos_topology(48, 32, groups=4, middle=3, stages=5, skip=skip),
    "butterfly-2": lambda skip: butterfly_topology(16, radix=2, skip=skip),
    "butterfly-4": lambda skip: butterfly_topology(64, radix=4, skip=skip),
    "benes": lambda skip: benes_topology(16, skip=skip),
    "monarch": lambda skip: monarch_topology(16, blocks=4, skip=skip),
    "block-shuffle": lambda skip: block_shuffle_topology((12, 24, 8, 16), (2, 4, 2), skip=skip),
    "random": lambda skip: random_cascade_topology((20, 24, 16), density=0.25, skip=skip, seed=0),
}
TOLERANCES = {torch.float64: {}, torch.float32: {"rtol": 2e-4, "atol": 2e-5}}


def reference(cascade: SparseCascade, x: torch.Tensor) -> torch.Tensor:
    """The slow twin: F.linear with every stage's dense weight, skips as identity matrices."""
    topology = cascade.topology
    sizes = topology.layer_sizes
    layers = {0: x}
    for target in range(1, len(sizes)):
        total = 0
        for (source, _), _junction in topology.incoming(target):
            total = total + F.linear(
                layers[source], cascade.junctions[f"{source}_{target}"].dense_weight()
            )
        for source, skip_target in topology.identity_skips:
            if skip_target == target:
                eye = torch.eye(sizes[target], sizes[source], dtype=x.dtype)
                total = total + F.linear(layers[source], eye)
        if target < len(sizes) - 1 and cascade.activation is not None:
            total = cascade.activation(total)
        layers[target] = total
    output = layers[len(sizes) - 1]
    return output if cascade.bias is None else output + cascade.bias


def make(case: str, skip: str = "none", **kwargs) -> SparseCascade:
    cascade = SparseCascade(CASES[case](skip), **kwargs)
    if cascade.bias is not None:
        with torch.no_grad():
            cascade.bias.uniform_(-1, 1)
    return cascade


def assert_same_outputs_and_grads(cascade, x, **tolerance):
    inputs = [x, *cascade.parameters()]
    output, expected = cascade(x), reference(cascade, x)
    torch.testing.assert_close(output, expected, **tolerance)
    grad = torch.randn_like(expected)
    got = torch.autograd.grad(output, inputs, grad)
    want = torch.autograd.grad(expected, inputs, grad)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, **tolerance)


def fast_path_expected(case: str, skip: str) -> bool:
    return case != "random" and skip != "trainable_identity"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("case", CASES)
def test_matches_reference(case, skip, dtype):
    torch.manual_seed(0)
    cascade = make(case, skip, dtype=dtype)
    assert (cascade.kernel == "block_chain") == fast_path_expected(case, skip)
    for batch in (1, 3, 17):  # both sides of the small-batch switch
        x = torch.randn(batch, cascade.in_features, dtype=dtype, requires_grad=True)
        assert_same_outputs_and_grads(cascade, x, **TOLERANCES[dtype])


@pytest.mark.parametrize("kernel", ["auto", *available_kernels()])
@pytest.mark.parametrize("case", CASES)
def test_per_stage_kernels_match_reference(case, kernel):
    torch.manual_seed(1)
    cascade = make(case, "identity", dtype=torch.float64)
    try:
        cascade.set_kernel(kernel)
    except ValueError as error:
        pytest.skip(str(error))
    x = torch.randn(5, cascade.in_features, dtype=torch.float64, requires_grad=True)
    assert_same_outputs_and_grads(cascade, x)


@pytest.mark.parametrize("activation", ["relu", "tanh", nn.GELU()], ids=str)
@pytest.mark.parametrize("case", ["clos-3-rect", "butterfly-2", "block-shuffle", "random"])
def test_activation_between_stages_only(case, activation):
    torch.manual_seed(2)
    cascade = make(case, "identity", activation=activation, dtype=torch.float64)
    x = torch.randn(6, cascade.in_features, dtype=torch.float64, requires_grad=True)
    assert_same_outputs_and_grads(cascade, x)
    if activation == "relu":
        assert (cascade(x) - cascade.bias < 0).any()  # no activation after the last stage


@pytest.mark.parametrize(
    ("case", "skip", "activation"),
    [
        ("clos-3-rect", "identity", None),
        ("clos-5-rect", "residual", "tanh"),
        ("butterfly-2", "residual", None),
        ("monarch", "none", "tanh"),
        ("block-shuffle", "identity", None),
        ("random", "identity", None),
    ],
)
def test_gradcheck(case, skip, activation):
    torch.manual_seed(3)
    cascade = make(case, skip, activation=activation, dtype=torch.float64)
    x = torch.randn(3, cascade.in_features, dtype=torch.float64, requires_grad=True)
    names = [name for name, _ in cascade.named_parameters()]

    def run(x, *params):
        return torch.func.functional_call(cascade, dict(zip(names, params, strict=True)), (x,))

    assert torch.autograd.gradcheck(run, (x, *cascade.parameters()))


@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("case", CASES)
def test_dense_weight_agrees_with_forward(case, skip):
    torch.manual_seed(4)
    cascade = make(case, skip, dtype=torch.float64)
    x = torch.randn(4, cascade.in_features, dtype=torch.float64)
    dense = cascade.dense_weight()
    assert dense.shape == (cascade.out_features, cascade.in_features)
    torch.testing.assert_close(cascade(x), F.linear(x, dense, cascade.bias))


def test_dense_weight_needs_a_linear_cascade():
    cascade = make("clos-3", activation="relu")
    with pytest.raises(ValueError, match="not linear"):
        cascade.dense_weight()


@pytest.mark.parametrize("case", ["clos-3", "butterfly-4", "monarch", "block-shuffle"])
def test_state_dict_round_trip_between_fast_path_and_per_stage(case):
    torch.manual_seed(5)
    fast = make(case, "identity")
    assert fast.kernel == "block_chain"
    state = fast.state_dict()
    expected = {"bias"} | {f"junctions.{s}_{s + 1}.weight" for s in range(len(state) - 1)}
    assert set(state) == expected  # weights only: no index buffers
    slow = SparseCascade(fast.topology, kernel="reference")
    assert slow.kernel == "reference"
    slow.load_state_dict(state)
    x = torch.randn(9, fast.in_features)
    torch.testing.assert_close(slow(x), fast(x), rtol=1e-5, atol=1e-6)
    fast.load_state_dict(slow.state_dict())
    slow.set_kernel("auto")
    assert slow.kernel == "block_chain"
    torch.testing.assert_close(slow(x), fast(x))


def test_set_kernel_keeps_weights():
    cascade = make("clos-3", "identity")
    before = {k: v.clone() for k, v in cascade.state_dict().items()}
    x = torch.randn(3, cascade.in_features)
    y = cascade(x)
    for kernel in ("reference", "blockdiag", "auto"):
        cascade.set_kernel(kernel)
        assert all(torch.equal(v, before[k]) for k, v in cascade.state_dict().items())
        torch.testing.assert_close(cascade(x), y, rtol=1e-5, atol=1e-6)
    assert cascade.kernel == "block_chain"


def _output_variance(init: str) -> float:
    torch.manual_seed(6)
    cascade = SparseCascade(benes_topology(256, skip="none"), init=init)
    assert cascade.topology.depth == 15 and cascade.activation is None
    cascade.reset_parameters(generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return cascade(torch.randn(2048, 256)).var().item()


def test_sparse_glorot_keeps_a_deep_linear_cascade_at_unit_gain_where_glorot_vanishes():
    sparse, dense = _output_variance("sparse_glorot"), _output_variance("glorot")
    assert 0.5 < sparse < 2.0  # input variance 1, 15 stages
    assert dense < 1e-20  # (2 / 256)^15 ≈ 1e-32: plain Glorot vanishes


def test_reset_parameters_is_reproducible_and_bias_starts_at_zero():
    a, b = SparseCascade(CASES["clos-3"]("none")), SparseCascade(CASES["clos-3"]("none"))
    for cascade in (a, b):
        cascade.reset_parameters(generator=torch.Generator().manual_seed(7))
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])
    assert torch.count_nonzero(a.bias) == 0  # SPEC §5: bias 0 for NeuroFabric runs


def test_leading_batch_dims_and_empty_batch():
    cascade = make("clos-3-rect", "identity")
    x = torch.randn(2, 3, cascade.in_features)
    y = cascade(x)
    assert y.shape == (2, 3, cascade.out_features)
    torch.testing.assert_close(y[1, 2], cascade(x[1, 2]))
    assert cascade(torch.randn(0, cascade.in_features)).shape == (0, cascade.out_features)


def test_non_contiguous_input():
    cascade = make("clos-3", "identity")
    x = torch.randn(cascade.in_features, 5).t()
    torch.testing.assert_close(cascade(x), cascade(x.contiguous()))


def test_no_bias_and_factory_kwargs():
    cascade = SparseCascade(CASES["monarch"]("none"), bias=False, dtype=torch.float64)
    assert cascade.bias is None
    assert all(p.dtype == torch.float64 for p in cascade.parameters())
    assert cascade(torch.randn(2, 16, dtype=torch.float64)).dtype == torch.float64


def test_bad_inputs_raise_with_the_numbers():
    cascade = make("clos-3-rect")
    with pytest.raises(ValueError, match=r"25 features.*in_features = 24"):
        cascade(torch.randn(2, 25))
    with pytest.raises(ValueError, match="unknown kernel 'nope'"):
        cascade.set_kernel("nope")
    with pytest.raises(ValueError, match="unknown init"):
        SparseCascade(cascade.topology, init="nope")
    with pytest.raises(ValueError, match="unknown activation"):
        SparseCascade(cascade.topology, activation="nope")
    with pytest.raises(ValueError, match="must be a Topology"):
        SparseCascade(cascade.junctions["0_1"].junction)
    with pytest.raises(ValueError, match="blockdiag"):
        SparseCascade(CASES["random"]("none"), kernel="blockdiag")


def test_extra_repr():
    text = repr(make("clos-3", "identity", activation="relu"))
    for part in (
        "in_features=32",
        "out_features=32",
        "skip=identity",
        "kernel=block_chain",
        "(0_1): SparseLinear",
        "ReLU()",
    ):
        assert part in text


def test_deepcopy_and_pickle():
    cascade = make("block-shuffle", "identity")  # holds a weight-index buffer
    x = torch.randn(3, cascade.in_features)
    clone = copy.deepcopy(cascade)
    torch.testing.assert_close(clone(x), cascade(x))
    buffer = io.BytesIO()
    torch.save(cascade, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert loaded.topology == cascade.topology and loaded.kernel == "block_chain"
    torch.testing.assert_close(loaded(x), cascade(x))
