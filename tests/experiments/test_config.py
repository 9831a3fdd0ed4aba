"""Experiment configs: TOML files, overrides, defaults, and the errors users see."""

import pytest

from neurofabric.experiments.config import (
    ExperimentConfig,
    apply_overrides,
    config_from_dict,
    config_hash,
    config_to_dict,
    load_config,
    parse_override,
)

BASE = ["model.sizes=[800, 100, 10]", "model.fan_out=[20, 10]"]


def test_toml_file_with_every_table(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(
        """
[data]
name = "mnist"
pad_to = 800
[model]
sizes = [800, 100, 100, 100, 10]
pattern = "clash-free"
fan_out = [20, 20, 20, 10]
parallelism = [200, 25, 25, 10]
[model.cascade]
topology = "clos"
groups = 8
middle = 16
[optimizer]
name = "sgd"
lr = 0.1
momentum = 0.9
[train]
epochs = 3
validation = "train+val"
seed = 7
"""
    )
    config = load_config(path)
    assert config.data.pad_to == 800
    assert config.model.fan_out == (20, 20, 20, 10)
    assert config.model.cascade.groups == 8
    assert (config.optimizer.name, config.optimizer.lr, config.optimizer.momentum) == (
        "sgd",
        0.1,
        0.9,
    )
    assert (config.train.epochs, config.train.validation, config.train.seed) == (3, "train+val", 7)
    # Defaults are the papers' recipe (SPEC §7).
    assert config.optimizer.eps == 1e-7 and config.optimizer.decay == 1e-5
    assert config.train.batch_size == 256


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("optimizer.lr=3e-4", ("optimizer.lr", 3e-4)),
        ("data.name=mnist", ("data.name", "mnist")),
        ('data.name="morse:baseline"', ("data.name", "morse:baseline")),
        ("model.sizes=[1, 2]", ("model.sizes", [1, 2])),
        ("model.bias=false", ("model.bias", False)),
        (" train.epochs = 5 ", ("train.epochs", 5)),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.fan=3"], "unknown key model.fan in model; valid keys: model.sizes"),
        (["trian.epochs=3"], "unknown key trian in the config; valid keys: data, model"),
        (["model.cascade.topo=1"], "valid keys: model.cascade.topology"),
        (["optimizer.lr=fast"], "optimizer.lr must be float, got 'fast'"),
        (["optimizer.lr=0"], "optimizer.lr must be > 0"),
        (["train.epochs=0"], "train.epochs must be a positive integer, got 0"),
        (["train.epochs=1.5"], "train.epochs must be int"),
        (["model.fan_out=[1, 2, 3]"], "needs one value per junction: model.sizes has 2 junctions"),
        (['model.pattern="bogus"'], "unknown pattern 'bogus'; choose one of random"),
        (['train.validation="sometimes"'], "train.validation must be one of best-epoch"),
        (['optimizer.name="rmsprop"'], "optimizer.name must be one of adam, sgd"),
        (['model.cascade.topology="mesh"'], "model.cascade.topology must be one of none, clos"),
        (["model.cascade.junctions=[5]"], "junction 5 does not exist"),
        (["optimizer.betas=[0.9]"], "optimizer.betas must be two numbers"),
        (["model.sizes=[800]"], "needs at least 2 layer sizes"),
        (["model.sizes.x=1"], "model.sizes is a value, not a table"),
        (["lr"], "an override is KEY=VALUE"),
    ],
)
def test_bad_overrides_name_the_rule(overrides, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(None, [*BASE, *overrides])


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nsizes = 1")
    with pytest.raises(ValueError, match="bad.toml: not valid TOML"):
        load_config(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[model]\nsizes = [4, 2]\nfanout = 2\n")
    with pytest.raises(ValueError, match="unknown.toml: unknown key model.fanout"):
        load_config(unknown)


def test_round_trip_and_hash():
    config = load_config(None, BASE)
    assert config_from_dict(config_to_dict(config)) == config
    assert config_to_dict(config, drop_defaults=True) == {
        "model": {"sizes": [800, 100, 10], "fan_out": [20, 10]}
    }
    # The hash ignores what does not change the trajectory (epochs may be extended on resume).
    assert config_hash(config) == config_hash(config.replace(["train.epochs=99"]))
    assert config_hash(config) != config_hash(config.replace(["optimizer.lr=0.01"]))
    assert config_hash(config) != config_hash(config.replace(["train.seed=1"]))


def test_replace_is_a_new_frozen_config():
    config = load_config(None, BASE)
    other = apply_overrides(config, {"train.seed": 3})
    assert other.train.seed == 3 and config.train.seed == 0
    assert isinstance(other, ExperimentConfig)
    with pytest.raises(AttributeError):
        other.train = None  # type: ignore[misc]
