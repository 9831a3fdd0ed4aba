"""tune_kernels: picks the fastest measured kernel per layer, touches nothing else."""

import pytest
import torch
from torch import nn

import neurofabric.nn.tune as tune_module
from neurofabric.kernels import KERNELS
from neurofabric.nn import SparseCascade, SparseLinear, tune_kernels
from neurofabric.topology import clos_topology, random_junction, regular_junction


def _model():
    torch.manual_seed(0)
    return nn.Sequential(
        SparseLinear(regular_junction(64, 32, fan_in=32, seed=0)),  # gather, csr, dense
        nn.ReLU(),
        SparseLinear(random_junction(32, 10, density=0.3, seed=1)),  # csr, dense
    )


# (fake milliseconds per kernel, expected choice for each layer)
FAKE_TIMES = [
    ({"dense": 3.0, "gather": 1.0, "csr": 2.0}, {"0": "gather", "2": "csr"}),
    ({"dense": 1.0, "gather": 2.0, "csr": 3.0}, {"0": "dense", "2": "dense"}),
    ({"dense": 2.0, "gather": 3.0, "csr": 1.0}, {"0": "csr", "2": "csr"}),
]


@pytest.mark.parametrize(("times", "expected"), FAKE_TIMES)
def test_chooses_the_fastest_measured_kernel(monkeypatch, times, expected):
    model = _model()
    layers = {"0": model[0], "2": model[2]}
    stepped = []
    real_step = tune_module._step

    def step(layer, x, upstream):
        stepped.append(layer)
        real_step(layer, x, upstream)

    def fake_median(statement, min_run_time):
        statement()  # the statement really runs, on the layer being tuned
        return times[stepped[-1].kernel]

    monkeypatch.setattr(tune_module, "_step", step)
    monkeypatch.setattr(tune_module, "_median_ms", fake_median)
    monkeypatch.setattr(tune_module, "_linear_ms", lambda *args: 0.5)
    report = tune_kernels(model, torch.randn(8, 64))
    assert {name: entry["kernel"] for name, entry in report.items()} == expected
    assert {name: layer.kernel for name, layer in layers.items()} == expected
    for entry in report.values():
        assert entry["batch"] == 8 and entry["linear_ms"] == 0.5


def test_leaves_weights_gradients_and_outputs_alone():
    model = _model()
    x = torch.randn(16, 64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    expected = model(x).detach()
    report = tune_kernels(model, x, min_run_time=0.001)
    assert set(report) == {"0", "2"}
    for name, entry in report.items():
        layer = model.get_submodule(name)
        assert entry["kernel"] == layer.kernel
        assert set(entry["ms"]) == {
            k for k in tune_module.DEFAULT_CANDIDATES if KERNELS[k].supports(layer.junction)
        }
        assert entry["kernel"] == min(entry["ms"], key=entry["ms"].get)
        assert entry["auto"] in KERNELS and entry["linear_ms"] > 0
    assert all(p.grad is None for p in model.parameters())
    state = model.state_dict()
    assert state.keys() == before.keys()
    assert all(torch.equal(state[k], before[k]) for k in before)
    torch.testing.assert_close(model(x), expected)


def test_forward_only_and_tuple_inputs():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = SparseLinear(regular_junction(64, 32, fan_in=32, seed=0))

        def forward(self, a, b):
            return self.layer(a + b)

    model = TwoInputs()
    report = tune_kernels(
        model, (torch.randn(4, 64), torch.randn(4, 64)), backward=False, min_run_time=0.001
    )
    assert set(report) == {"layer"} and report["layer"]["batch"] == 4


def test_block_chain_cascades_are_left_alone_and_stage_kernels_tuned():
    chain = SparseCascade(clos_topology(32, 32, groups=4, middle=4))
    staged = SparseCascade(clos_topology(32, 32, groups=4, middle=4), kernel="csr")
    model = nn.Sequential(chain, staged)
    report = tune_kernels(model, torch.randn(8, 32), min_run_time=0.001)
    assert chain.kernel == "block_chain"  # its stages never run on their own
    assert set(report) == {f"1.junctions.{name}" for name in staged.junctions}


@pytest.mark.parametrize("kernels", [("nope",), ()])
def test_unknown_or_no_candidates_raise(kernels):
    with pytest.raises(ValueError, match="registered kernels"):
        tune_kernels(_model(), torch.randn(2, 64), kernels=kernels)


def test_a_failure_restores_the_layer_kernel(monkeypatch):
    model = _model()
    model[0].set_kernel("csr")

    def boom(statement, min_run_time):
        raise RuntimeError("timer failed")

    monkeypatch.setattr(tune_module, "_median_ms", boom)
    with pytest.raises(RuntimeError, match="timer failed"):
        tune_kernels(model, torch.randn(2, 64))
    assert model[0].kernel == "csr"
