"""Cascade topologies through the command line, as the issue's examples run them."""

import json

import pytest

from neurofabric.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def make_and_show(tmp_path, capsys, *argv):
    net = tmp_path / "c.npz"
    code, _, err = run(capsys, "topology", "make", *argv, "--out", net)
    assert code == 0, err
    code, out, err = run(capsys, "topology", "show", net, "--json")
    assert code == 0, err
    return json.loads(out)


def test_clos_16_as_in_the_issue(tmp_path, capsys):
    # `--out 256` is the output width, `--out FILE` the file: both spellings of the issue.
    info = make_and_show(
        tmp_path, capsys, "clos", "--in", "256", "--out", "256", "--groups", "16", "--middle", "16"
    )
    assert info["path_diversity"] == {"min": 16, "mean": 16.0, "max": 16}
    assert info["parameters"] == 16 * 16 * (2 * 16 + 16)
    assert info["dense_parameters"] == 256 * 256
    assert info["depth"] == 3
    assert info["fully_connected"] is True
    assert info["kind"] == "cascade"
    assert [j["blocks"]["blocks"] for j in info["junctions"]] == [16, 16, 16]


def test_butterfly_256_one_path_per_pair(tmp_path, capsys):
    info = make_and_show(tmp_path, capsys, "butterfly", "--features", "256", "--radix", "2")
    assert info["path_diversity"]["min"] == info["path_diversity"]["max"] == 1
    assert info["parameters"] == 256 * 2 * 8
    assert info["depth"] == 8


@pytest.mark.parametrize(
    ("argv", "depth", "paths", "parameters"),
    [
        (["benes", "--features", "16"], 7, 8, 16 * 2 * 7),
        (["benes", "--features", "16", "--recursion-depth", "1"], 3, 2, 16 * 2 * 2 + 16 * 8),
        (["monarch", "--features", "64", "--blocks", "8"], 2, 1, 64 * 64 // 8 + 64 * 8),
        (
            ["clos", "--in", "64", "--out-features", "32", "--groups", "4", "--middle", "4"],
            3,
            4,
            4 * 4 * (16 + 8 + 4),
        ),
        (
            [
                "clos",
                "--in",
                "64",
                "--out-features",
                "64",
                "--groups",
                "16",
                "--middle",
                "4",
                "--stages",
                "5",
            ],
            5,
            16,
            None,
        ),
        (["block-shuffle", "--sizes", "64,64,64,64", "--groups", "8,8,8"], 3, 8, 3 * 64 * 8),
        (["random-cascade", "--sizes", "64,64,64", "--density", "0.25,0.25"], 2, None, 2048),
    ],
)
def test_cascade_patterns(tmp_path, capsys, argv, depth, paths, parameters):
    info = make_and_show(tmp_path, capsys, *argv)
    assert info["depth"] == depth
    if paths is not None:
        assert info["path_diversity"]["min"] == info["path_diversity"]["max"] == paths
    if parameters is not None:
        assert info["parameters"] == parameters


def test_skips_show_up_in_the_metrics(tmp_path, capsys):
    base = ["clos", "--in", "16", "--out", "16", "--groups", "4", "--middle", "4"]
    plain = make_and_show(tmp_path / "a", capsys, *base)
    skipped = make_and_show(tmp_path / "b", capsys, *base, "--skip", "identity")
    assert skipped["parameters"] == plain["parameters"]  # fixed skips are not parameters
    assert skipped["identity_skips"] == [[0, 1], [1, 2], [2, 3]]
    assert skipped["path_diversity"]["min"] > plain["path_diversity"]["min"]
    assert skipped["gauge_neurons"] == 0 < plain["gauge_neurons"]
    trainable = make_and_show(tmp_path / "c", capsys, *base, "--skip", "trainable_identity")
    assert trainable["parameters"] > plain["parameters"]


def test_cascade_picture(tmp_path, capsys):
    png = tmp_path / "c.png"
    code, _, err = run(
        capsys,
        "topology",
        "make",
        "clos",
        "--in",
        "16",
        "--out",
        "16",
        "--groups",
        "4",
        "--middle",
        "4",
        "--skip",
        "identity",
        "--out",
        tmp_path / "c.npz",
        "--png",
        png,
    )
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["clos", "--in", "100", "--out", "96", "--groups", "16", "--middle", "4"],
            "in_features = 100 is not divisible by groups = 16",
        ),
        (
            ["clos", "--in", "64", "--out", "64", "--groups", "4", "--middle", "0"],
            "middle must be positive",
        ),
        (["clos", "--in", "64", "--out", "64", "--groups", "4"], "needs --middle"),
        (
            [
                "clos",
                "--in",
                "64",
                "--out",
                "64",
                "--groups",
                "4",
                "--middle",
                "4",
                "--stages",
                "4",
            ],
            "3 or 5",
        ),
        (["butterfly", "--features", "100"], "power of radix = 2"),
        (["butterfly", "--features", "81", "--radix", "1"], "radix must be at least 2"),
        (["monarch", "--features", "64", "--blocks", "5"], "not divisible by blocks = 5"),
        (["benes", "--features", "16", "--recursion-depth", "9"], "recursion_depth"),
        (["butterfly", "--features", "16", "--out", "16"], "numeric --out"),
        (
            [
                "clos",
                "--in",
                "16",
                "--out",
                "16",
                "--groups",
                "4",
                "--middle",
                "4",
                "--skip",
                "sideways",
            ],
            "invalid choice",
        ),
    ],
)
def test_cascade_errors(tmp_path, capsys, argv, message):
    code, _, err = run(capsys, "topology", "make", *argv, "--out", tmp_path / "x.npz")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert message in err
    assert not (tmp_path / "x.npz").exists()
