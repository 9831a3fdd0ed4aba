"""Sweep files: parsing, validation errors, and stable point keys."""

import pytest

from neurofabric.experiments.sweep_config import MAX_KEY_LENGTH, load_sweep, sweep_from_dict

BASE = {"model": {"sizes": [16, 8, 4], "pattern": "structured"}}


def make(**values):
    return sweep_from_dict({"base_config": BASE, **values}, name="t")


EXAMPLE = """
name = "patterns"
seeds = [0, 1]
[base_config]
model.sizes = [16, 8, 4]
[set]
"train.epochs" = 3
[[axes]]
"model.pattern" = ["clash-free", "structured", "random"]
[[axes]]
"model.fan_out" = [[2, 4], [4, 2]]
"model.parallelism" = [[8, 4], [4, 2]]
[[runs]]
"model.pattern" = "dense"
"""


def test_example_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(EXAMPLE)
    sweep = load_sweep(path)
    assert sweep.name == "patterns" and sweep.seeds == (0, 1) and sweep.metric == "test_accuracy"
    assert len(sweep.points) == (3 * 2 + 1) * 2
    first = sweep.points[0]
    assert first.key == "pattern=clash-free_fan_out=2-4_parallelism=8-4_seed=0"
    assert first.group == "pattern=clash-free_fan_out=2-4_parallelism=8-4"
    assert first.config.train.epochs == 3 and first.config.train.seed == 0
    assert first.config.model.fan_out == (2, 4) and first.config.model.parallelism == (8, 4)
    assert sweep.points[-1].key == "pattern=dense_seed=1"
    keys = [p.key for p in sweep.points]
    assert len(set(keys)) == len(keys)
    assert keys == [p.key for p in load_sweep(path).points]  # stable
    assert sweep.varied_keys == ["model.pattern", "model.fan_out", "model.parallelism"]


def test_base_file_relative_to_sweep_and_default_name(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "base.toml").write_text("[model]\nsizes = [16, 8, 4]\n")
    path = tmp_path / "configs" / "my-sweep.toml"
    path.write_text('base = "base.toml"\n[[axes]]\n"optimizer.lr" = [1e-3, 3e-4]\n')
    sweep = load_sweep(path)
    assert sweep.name == "my-sweep"
    assert [p.key for p in sweep.points] == ["lr=0.001_seed=0", "lr=0.0003_seed=0"]
    assert sweep.points[1].config.optimizer.lr == 3e-4


def test_no_axes_is_one_point_per_seed():
    sweep = make(seeds=[3, 4])
    assert [p.key for p in sweep.points] == ["base_seed=3", "base_seed=4"]


def test_long_keys_are_shortened_and_unique():
    sweep = make(axes=[{"model.fan_out": [[2, 4], [4, 4]], "optimizer.betas": [[0.9, 0.99]] * 2},
                       {"optimizer.lr": [0.00012345678901, 0.00012345678902]},
                       {"optimizer.eps": [1.2345678901e-7]}, {"optimizer.decay": [1.1e-5]},
                       {"optimizer.l2": [1.23456789e-4]}])  # fmt: skip
    keys = [p.key for p in sweep.points]
    assert len(set(keys)) == 4
    assert all(len(k) <= MAX_KEY_LENGTH + 10 and k.endswith("_seed=0") for k in keys)
    assert all("_h" in k for k in keys)


def test_clashing_short_names_use_full_keys():
    sweep = make(axes=[{"model.density": [0.5]}, {"model.cascade.density": [0.25]}])
    assert sweep.points[0].key == "model.density=0.5_model.cascade.density=0.25_seed=0"


def test_runner_failures_are_not_sweep_errors():
    # 16 * 3 is not divisible by 8 · 5 … but the config is valid: the runner decides.
    sweep = make(axes=[{"model.fan_out": [[3, 3]]}])
    assert sweep.points[0].config.model.fan_out == (3, 3)


ERRORS = {
    "unknown top-level key": ({"axis": []}, "unknown key axis in the sweep file; valid keys: name"),
    "unknown config key": (
        {"axes": [{"model.fanout": [1]}]},
        "unknown key model.fanout in model",
    ),
    "wrong type": ({"set": {"train.epochs": "ten"}}, "train.epochs must be int"),
    "zipped lengths": (
        {"axes": [{"model.fan_out": [[2, 4], [4, 2]], "model.parallelism": [[8, 4]]}]},
        "axes[0]: keys in one axes table are zipped and need equal lengths; "
        "model.fan_out has 2, model.parallelism has 1",
    ),
    "axis not a list": ({"axes": [{"model.pattern": "random"}]}, "must be a non-empty list"),
    "empty axis": ({"axes": [{}]}, "axes[0] is empty"),
    "axes not tables": ({"axes": {"model.pattern": ["random"]}}, "axes must be an array"),
    "key in two axes": (
        {"axes": [{"model.pattern": ["random"]}, {"model.pattern": ["dense"]}]},
        "model.pattern is varied by both axes[0] and axes[1]",
    ),
    "set and axes": (
        {"set": {"model.pattern": "random"}, "axes": [{"model.pattern": ["dense"]}]},
        "model.pattern is both in [set] and varied",
    ),
    "seed in axes": ({"axes": [{"train.seed": [1, 2]}]}, "train.seed is set by the sweep's seeds"),
    "seed in runs": ({"runs": [{"train.seed": 1}]}, "runs[0]: train.seed is set"),
    "bad seeds": ({"seeds": [0, -1]}, "seeds must be a non-empty list of integers >= 0"),
    "repeated seeds": ({"seeds": [1, 1]}, "seeds must not repeat"),
    "bad metric": ({"metric": "accuracy"}, "metric must be one of test_accuracy"),
    "bad direction": ({"direction": "up"}, "direction must be maximize or minimize"),
    "bad name": ({"name": "a/b"}, "name must be"),
    "duplicate runs": (
        {"runs": [{"model.pattern": "dense"}, {"model.pattern": "dense"}]},
        "appears twice",
    ),
    "invalid point": (
        {"runs": [{"model.sizes": [16]}]},
        "point sizes=16_seed=0 (runs[0]): model.sizes needs",
    ),
}


@pytest.mark.parametrize("values, message", ERRORS.values(), ids=ERRORS.keys())
def test_errors(values, message):
    with pytest.raises(ValueError, match=None) as info:
        make(**values)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "values, message",
    [
        ({}, "exactly one of base"),
        ({"base": "x.toml", "base_config": BASE}, "exactly one of base"),
        ({"base": "missing.toml"}, "does not exist"),
    ],
)
def test_base_errors(tmp_path, values, message):
    with pytest.raises(ValueError) as info:
        sweep_from_dict(values, root=tmp_path)
    assert message in str(info.value)


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("metric = 1\n[base_config]\nmodel.sizes = [4, 2]\n")
    with pytest.raises(ValueError, match=r"bad.toml: metric must be one of"):
        load_sweep(path)
    path.write_text("not toml [")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_sweep(path)


def test_runs_without_axes_are_the_only_points():
    sweep = make(runs=[{"model.pattern": "dense"}, {"model.fan_out": [2, 4]}])
    assert [p.key for p in sweep.points] == ["pattern=dense_seed=0", "fan_out=2-4_seed=0"]
