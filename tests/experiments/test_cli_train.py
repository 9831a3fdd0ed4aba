"""`neurofabric train`, `compare` and `bench-train` as a user runs them."""

import json

import pytest
import torch

from neurofabric.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def flags(blobs):
    return [
        "--dataset",
        f"npz:{blobs}",
        "--sizes",
        "16,32,4",
        "--fan-out",
        "8,4",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--lr",
        "0.01",
        "--quiet",
    ]


def test_train_from_flags_json_then_compare(blobs, tmp_path, capsys):
    code, out, err = run(capsys, "train", *flags(blobs), "--out", tmp_path / "a", "--json")
    assert code == 0, err
    summary = json.loads(out)
    for key in (
        "test_accuracy",
        "test_loss",
        "parameters",
        "flops_per_sample",
        "overall_density",
        "wall_time_s",
        "samples_per_s",
        "kl_to_reference",
        "junction_densities",
    ):
        assert key in summary, key
    dense = tmp_path / "dense"
    code, out, err = run(capsys, "train", *flags(blobs), "--pattern", "dense", "--out", dense)
    assert code == 0, err
    assert "test accuracy" in out and "run folder" in out
    code, out, err = run(capsys, "compare", tmp_path / "a", dense, "--png", tmp_path / "c.png")
    assert code == 0, err
    assert "parameters" in out and "FLOPs / sample" in out
    assert (tmp_path / "c.png").stat().st_size > 0
    code, out, _ = run(capsys, "compare", tmp_path / "a", dense, "--json")
    rows = json.loads(out)
    assert [r["overall_density"] for r in rows][1] == 1.0


def test_train_from_a_toml_with_set_overrides(blobs, tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text(
        f'[data]\nname = "npz:{blobs}"\n[model]\nsizes = [16, 32, 4]\nfan_out = [8, 4]\n'
        "[train]\nepochs = 50\n"
    )
    code, out, err = run(
        capsys,
        "train",
        config,
        "--set",
        "train.epochs=2",
        "--set",
        "optimizer.lr=0.02",
        "--out",
        tmp_path / "r",
        "--json",
        "--quiet",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["epochs"] == 2 and summary["config"]["optimizer"]["lr"] == 0.02


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "train.lr=1"], "unknown key train.lr in train; valid keys: train.batch_size"),
        (["--pattern", "zigzag"], "unknown pattern 'zigzag'"),
        (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
        (["--sizes", "16,30,4"], "fan_out \\* in_features = 128 is not divisible"),
        (["--sizes", "10,32,4", "--fan-out", "16,4"], "has 16 input features"),
        (["--epochs", "x"], "invalid int value"),
        pytest.param(
            ["--device", "cuda"],
            "no CUDA device is available",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device exists"),
        ),
    ],
)
def test_train_user_mistakes_are_one_line_exit_2(blobs, tmp_path, capsys, argv, message):
    code, out, err = run(capsys, "train", *flags(blobs), *argv, "--out", tmp_path / "r")
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "r" / "summary.json").exists()


def test_train_refuses_to_overwrite_and_rejects_corrupt_checkpoints(blobs, tmp_path, capsys):
    out_dir = tmp_path / "r"
    assert run(capsys, "train", *flags(blobs), "--out", out_dir)[0] == 0
    before = (out_dir / "summary.json").read_bytes()
    code, _, err = run(capsys, "train", *flags(blobs), "--out", out_dir)
    assert code == 2 and "already holds a finished run" in err
    code, _, err = run(
        capsys, "train", *flags(blobs), "--lr", "0.5", "--epochs", "4", "--out", out_dir, "--resume"
    )
    assert code == 2 and "different config (differs in: optimizer.lr)" in err
    (out_dir / "checkpoint.pt").write_bytes(b"\x00garbage")
    code, _, err = run(
        capsys, "train", *flags(blobs), "--epochs", "4", "--out", out_dir, "--resume"
    )
    assert code == 2 and "corrupt or unreadable" in err
    assert (out_dir / "summary.json").read_bytes() == before
    code, _, err = run(capsys, "compare", tmp_path / "nowhere")
    assert code == 2 and "holds no finished run" in err


def test_bench_train_small_json(blobs, tmp_path, capsys):
    config = tmp_path / "o.toml"
    config.write_text(
        f'[data]\nname = "npz:{blobs}"\n[model]\nsizes = [16, 32, 4]\nfan_out = [8, 4]\n'
    )
    code, out, err = run(
        capsys,
        "bench-train",
        "--width",
        "64",
        "--groups",
        "4",
        "--middle",
        "8",
        "--hidden",
        "2",
        "--rounds",
        "1",
        "--steps",
        "1",
        "--epochs",
        "1",
        "--overhead-configs",
        config,
        "--json",
        "--out",
        tmp_path / "b.json",
    )
    assert code == 0, err
    result = json.loads(out)
    throughput = result["throughput"]
    assert throughput["junction_kinds"] == ["clos cascade", "clos cascade", "dense"]
    assert throughput["speedup"] > 0 and throughput["ideal"] > 1
    assert 0 <= result["overhead"][0]["overhead_fraction"] < 1
    assert json.loads((tmp_path / "b.json").read_text()) == result
    code, _, err = run(capsys, "bench-train", "--rounds", "0")
    assert code == 2 and "--rounds must be a positive integer" in err
