"""``neurofabric datasets …`` as a user runs it: tables, JSON keys, one-line errors, exit codes."""

import json
import sys

import numpy as np
import pytest

from neurofabric.cli import main
from neurofabric.data.morse import MORSE_PRESETS, MorseSpec
from neurofabric.data.splits import DatasetSplits


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def npz(tmp_path):
    rng = np.random.default_rng(0)
    arrays = []
    for n in (20, 5, 5):
        arrays += [rng.uniform(0, 2, size=(n, 6)).astype(np.float32), np.arange(n) % 4]
    return DatasetSplits("toy", *arrays, num_classes=4).save_npz(tmp_path / "toy.npz")


def test_list_json_has_every_dataset(capsys, tmp_path):
    code, out, err = run(capsys, "datasets", "list", "--json", "--cache-dir", tmp_path)
    assert code == 0, err
    rows = {row["name"]: row for row in json.loads(out)}
    assert {"mnist", "mnist-pca200", "fashion-mnist", "digits", "morse:baseline"} <= set(rows)
    assert set(rows["mnist"]) == {
        "name",
        "installed",
        "source",
        "install",
        "sizes",
        "num_classes",
        "input_shape",
    }
    assert rows["mnist"]["installed"] is True and rows["mnist"]["sizes"] == [50000, 10000, 10000]
    assert rows["cifar10:<dir>"]["installed"] is None
    assert rows["morse:baseline"]["source"] == "generated on first load"


def test_list_table(capsys, tmp_path):
    code, out, _ = run(capsys, "datasets", "list", "--cache-dir", tmp_path)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["name", "installed", "train/val/test"]
    mnist = next(line for line in lines if line.startswith("mnist "))
    assert "yes" in mnist and "50000/10000/10000" in mnist


def test_show_json_reports_shapes_classes_and_ranges(capsys, npz):
    code, out, err = run(capsys, "datasets", "show", f"npz:{npz}", "--pad-to", "8", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["num_classes"] == 4 and report["input_shape"] == [8]
    train = report["splits"]["train"]
    assert train["samples"] == 20 and train["x_shape"] == [20, 8]
    assert train["x_min"] == 0 and 1.5 < train["x_max"] < 2
    assert train["classes_present"] == 4 and train["per_class_min"] == 5


def test_show_text_for_a_morse_preset(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(MORSE_PRESETS, "tiny", MorseSpec(per_class=(2, 1, 0)))
    code, out, err = run(capsys, "datasets", "show", "morse:tiny", "--cache-dir", tmp_path)
    assert code == 0, err
    assert "64 classes, input shape (64,)" in out
    assert "test  empty" in out and "class names: E, T, I" in out
    assert len(list((tmp_path / "morse").iterdir())) == 1


def test_show_mnist(capsys):
    code, out, err = run(capsys, "datasets", "show", "mnist", "--merge-train-val", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [report["splits"][s]["samples"] for s in ("train", "val", "test")] == [60000, 0, 10000]
    assert report["splits"]["test"]["x_max"] == 255 / 256


@pytest.mark.parametrize(
    "argv, message",
    [
        (["show", "imagenet"], "error: unknown dataset 'imagenet'; valid: mnist, "),
        (["show", "npz:/nonexistent.npz"], "error: /nonexistent.npz: no such file"),
        (["show", "mnist", "--pad-to", "800", "--no-flatten"], "error: pad_to pads features"),
        (["show"], "error: neurofabric datasets show: the following arguments are required"),
        (["shuffle"], "error: neurofabric datasets: argument ACTION: invalid choice"),
    ],
)
def test_errors_are_one_line(capsys, argv, message):
    code, out, err = run(capsys, "datasets", *argv)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_missing_dataset_names_its_install_command(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    code, _, err = run(capsys, "datasets", "show", "digits")
    assert code == 2 and "`pip install scikit-learn`" in err and err.count("\n") == 1
