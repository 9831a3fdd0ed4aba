import pytest
import torch
from torch import nn

from neurofabric.nn import SparseLinear
from neurofabric.nn.cascade import SparseCascade
from neurofabric.nn.sparsify import densify, sparsify
from neurofabric.topology import clos_topology, random_junction, regular_junction


def small_model():
    return nn.Sequential(
        nn.Linear(32, 32), nn.ReLU(), nn.Sequential(nn.Linear(32, 16), nn.ReLU()), nn.Linear(16, 4)
    )


def test_sparsify_replaces_matching_layers_in_place():
    model = small_model()
    replaced = sparsify(
        model, topology=lambda i, o: regular_junction(i, o, fan_in=8, seed=0), exclude=r"^3$"
    )
    assert replaced == ["0", "2.0"]
    assert isinstance(model[0], SparseLinear) and isinstance(model[2][0], SparseLinear)
    assert type(model[3]) is nn.Linear
    assert model(torch.randn(5, 32)).shape == (5, 4)


def test_include_pattern_and_cascade_factory():
    model = small_model()
    sparsify(model, topology=lambda i, o: clos_topology(i, o, groups=4, middle=4), include=r"^0$")
    assert isinstance(model[0], SparseCascade)
    assert type(model[2][0]) is nn.Linear


def test_keep_weights_copies_the_kept_entries_and_densify_round_trips():
    torch.manual_seed(0)
    linear = nn.Linear(16, 8)
    model = nn.Sequential(linear)
    junction = random_junction(16, 8, density=0.5, seed=1)
    dense_before = linear.weight.detach().clone()
    sparsify(model, topology=lambda i, o: junction, keep_weights=True)
    layer = model[0]
    torch.testing.assert_close(
        layer.dense_weight().detach(), dense_before * torch.from_numpy(junction.to_mask())
    )
    torch.testing.assert_close(layer.bias.detach(), linear.bias.detach())
    x = torch.randn(3, 16)
    expected = layer(x)
    back = densify(model)
    assert type(back[0]) is nn.Linear
    torch.testing.assert_close(back(x), expected)


def test_densify_a_single_layer_and_a_cascade():
    layer = SparseLinear(regular_junction(16, 8, fan_out=2, seed=0))
    linear = densify(layer)
    x = torch.randn(3, 16)
    torch.testing.assert_close(linear(x), layer(x))
    cascade = SparseCascade(clos_topology(16, 16, groups=4, middle=4))
    torch.testing.assert_close(densify(cascade)(x), cascade(x), rtol=1e-4, atol=1e-5)


def test_sparsified_model_trains():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    sparsify(
        model,
        topology=lambda i, o: regular_junction(i, o, fan_in=min(i, 10), seed=0),
        include=r"^0$",
    )
    x = torch.randn(512, 20)
    y = (x[:, :10].sum(1) > 0).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    assert (model(x).argmax(1) == y).float().mean() > 0.9


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda i, o: regular_junction(o, i, fan_out=4, seed=0), "for a Linear"),
        (lambda i, o: "clos", "must return a Junction or a Topology"),
    ],
)
def test_bad_factories(factory, message):
    with pytest.raises(ValueError, match=message):
        sparsify(nn.Sequential(nn.Linear(16, 8)), topology=factory)


def test_state_dict_round_trip_and_to():
    model = small_model()
    sparsify(model, topology=lambda i, o: regular_junction(i, o, fan_in=8, seed=0), exclude=r"^3$")
    clone = small_model()
    sparsify(clone, topology=lambda i, o: regular_junction(i, o, fan_in=8, seed=0), exclude=r"^3$")
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, 32)
    torch.testing.assert_close(clone(x), model(x))
    doubled = model.to(torch.float64)
    assert doubled(x.double()).dtype == torch.float64
