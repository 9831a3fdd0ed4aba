"""The command line as a user runs it: exit codes, one-line errors, JSON keys, files."""

import json
import subprocess
import sys

import pytest

from neurofabric.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_clash_free_make_then_show_json(tmp_path, capsys):
    # The acceptance example.
    net = tmp_path / "x.npz"
    code, _, err = run(
        capsys,
        "topology",
        "make",
        "clash-free",
        "--sizes",
        "1024,64,16",
        "--fan-out",
        "8,8",
        "--parallelism",
        "512,32",
        "--out",
        net,
    )
    assert code == 0, err
    code, out, _ = run(capsys, "topology", "show", net, "--json")
    assert code == 0
    info = json.loads(out)
    assert info["layer_sizes"] == [1024, 64, 16]
    first, second = info["junctions"]
    assert first["fan_out"]["min"] == first["fan_out"]["max"] == 8
    assert first["fan_in"]["min"] == first["fan_in"]["max"] == 128
    assert second["fan_out"]["min"] == second["fan_out"]["max"] == 8
    assert second["fan_in"]["min"] == second["fan_in"]["max"] == 32
    for junction, z in ((first, 512), (second, 32)):
        assert junction["parallelism"] == z
        assert junction["clash"]["is_clash_free"]
        assert junction["clash"]["num_clashing_cycles"] == 0
    assert {"nnz", "density"} <= set(first)
    assert {"overall_density", "scatter"} <= set(info)
    assert info["overall_density"] == pytest.approx((1024 * 8 + 64 * 8) / (1024 * 64 + 64 * 16))


@pytest.mark.parametrize(
    ("pattern", "sparsity"),
    [
        ("random", ["--density", "0.25,0.5"]),
        ("structured", ["--fan-out", "5,2"]),
        ("windowed", ["--fan-out", "5,2"]),
        ("dense", []),
    ],
)
def test_make_every_pattern(tmp_path, capsys, pattern, sparsity):
    net = tmp_path / "net.npz"
    code, out, err = run(
        capsys, "topology", "make", pattern, "--sizes", "40,20,4", *sparsity, "--out", net, "--json"
    )
    assert code == 0, err
    info = json.loads(out)
    assert info["path"] == str(net)
    assert len(info["scatter"]["vector"]) == 6
    assert net.exists()


def test_text_reports(tmp_path, capsys):
    net = tmp_path / "net.npz"
    code, out, _ = run(
        capsys, "topology", "make", "structured", "--sizes", "40,20", "--fan-out", "5", "--out", net
    )
    assert code == 0
    assert "junction 0->1" in out and "network scatter" in out
    code, out, _ = run(capsys, "topology", "scatter", net, "--windows", "1d:4:4")
    assert code == 0
    assert "network scatter (minimum)" in out


def test_scatter_json_with_windows(tmp_path, capsys):
    net = tmp_path / "net.npz"
    run(capsys, "topology", "make", "windowed", "--sizes", "64,16", "--fan-out", "2", "--out", net)
    code, out, _ = run(
        capsys, "topology", "scatter", net, "--windows", "1d:8:8,1d:4:4,1d:1:1,1d:1:1", "--json"
    )
    assert code == 0
    report = json.loads(out)
    assert len(report["vector"]) == 4
    assert report["value"] == min(report["vector"])


def test_pictures(tmp_path, capsys):
    net = tmp_path / "net.npz"
    png = tmp_path / "masks.png"
    schedule = tmp_path / "schedule.png"
    code, _, err = run(
        capsys,
        "topology",
        "make",
        "clash-free",
        "--sizes",
        "12,6",
        "--fan-out",
        "2",
        "--parallelism",
        "4",
        "--out",
        net,
        "--png",
        png,
    )
    assert code == 0, err
    code, _, err = run(capsys, "topology", "show", net, "--schedule-png", schedule)
    assert code == 0, err
    for path in (png, schedule):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["topology", "make", "structured", "--sizes", "10,7", "--fan-out", "3"],
            "not divisible by out_features = 7",
        ),
        (
            [
                "topology",
                "make",
                "clash-free",
                "--sizes",
                "10,5",
                "--fan-out",
                "2",
                "--parallelism",
                "3",
            ],
            "10",
        ),
        (["topology", "make", "random", "--sizes", "10,5", "--density", "1.5"], r"\(0, 1\]"),
        (["topology", "make", "structured", "--sizes", "10,0", "--fan-out", "1"], "positive"),
        (
            ["topology", "make", "structured", "--sizes", "10,5", "--fan-out", "6"],
            "fan_out = 6 exceeds out_features = 5",
        ),
        (
            ["topology", "make", "structured", "--sizes", "10,5,5", "--fan-out", "1"],
            "one value per junction",
        ),
        (
            ["topology", "make", "clash-free", "--sizes", "10,5", "--fan-out", "1"],
            "needs --parallelism",
        ),
        (["topology", "make", "structured", "--sizes", "10,5"], "needs --fan-out or --density"),
        (["topology", "make", "hexagonal", "--sizes", "10,5", "--fan-out", "1"], "invalid choice"),
        (["topology", "make", "structured", "--sizes", "10,x", "--fan-out", "1"], "integers"),
        (["topology", "frobnicate"], "invalid choice"),
    ],
)
def test_user_errors_are_one_line_exit_2(tmp_path, capsys, argv, message):
    code, out, err = (
        run(capsys, *argv, "--out", tmp_path / "x.npz") if argv[1] == "make" else run(capsys, *argv)
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert __import__("re").search(message, lines[0]), lines[0]
    assert not (tmp_path / "x.npz").exists()


def test_bad_files_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_text("hello")
    for argv in (["topology", "show", bad], ["topology", "scatter", tmp_path / "missing.npz"]):
        code, _, err = run(capsys, *argv)
        assert code == 2
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def test_existing_output_is_never_overwritten(tmp_path, capsys):
    net = tmp_path / "net.npz"
    argv = ["topology", "make", "structured", "--sizes", "40,20", "--fan-out", "5", "--out", net]
    assert run(capsys, *argv, "--seed", "1")[0] == 0
    before = net.read_bytes()
    code, _, err = run(capsys, *argv, "--seed", "2")
    assert code == 2 and "already exists" in err
    assert net.read_bytes() == before
    assert run(capsys, *argv, "--seed", "2", "--force")[0] == 0
    assert net.read_bytes() != before


def test_same_seed_same_file_contents(tmp_path, capsys):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for path in (a, b):
        run(
            capsys,
            "topology",
            "make",
            "random",
            "--sizes",
            "30,10",
            "--density",
            "0.2",
            "--seed",
            "5",
            "--out",
            path,
        )
    from neurofabric.topology.io import load_topology

    assert load_topology(a) == load_topology(b)


def test_bad_window_spec(tmp_path, capsys):
    net = tmp_path / "net.npz"
    run(
        capsys, "topology", "make", "structured", "--sizes", "40,20", "--fan-out", "5", "--out", net
    )
    code, _, err = run(capsys, "topology", "scatter", net, "--windows", "1d:8:8,1d:4:4")
    assert code == 2 and "needs 1 spec or 4" in err
    code, _, err = run(capsys, "topology", "scatter", net, "--windows", "2d:3x3:2x2:1x1")
    assert code == 2 and err.startswith("error: ")


def test_entry_point_runs_as_a_program(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "neurofabric",
            "topology",
            "make",
            "structured",
            "--sizes",
            "10,7",
            "--fan-out",
            "3",
            "--out",
            str(tmp_path / "x.npz"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
