"""Training runs: they learn, they are reproducible, and a killed run resumes exactly."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from neurofabric.experiments.build import build_model, model_costs
from neurofabric.experiments.checkpoint import load_checkpoint
from neurofabric.experiments.config import load_config
from neurofabric.experiments.optim import keras_decay
from neurofabric.experiments.run import kl_divergence, load_summary, train_run
from neurofabric.experiments.train import epoch_order
from neurofabric.kernels import KERNELS
from tests.experiments.conftest import write_blobs


def blob_config(path, *extra):
    return load_config(
        None,
        [
            f'data.name="npz:{path}"',
            "model.sizes=[16, 32, 4]",
            'model.pattern="structured"',
            "model.fan_out=[8, 4]",
            "train.epochs=8",
            "train.batch_size=32",
            "train.threads=1",
            "optimizer.lr=0.01",
            *extra,
        ],
    )


def weights(run_dir):
    return load_checkpoint(run_dir / "checkpoint.pt")["model"]


def metrics(run_dir):
    keys = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
    lines = (run_dir / "epochs.jsonl").read_text().splitlines()
    return [{k: json.loads(line)[k] for k in keys} for line in lines]


def test_short_run_learns_and_writes_every_file(blobs, tmp_path):
    summary = train_run(blob_config(blobs), tmp_path / "run")
    assert summary["test_accuracy"] > 0.9  # chance is 0.25
    assert summary["epochs"] == 8 and summary["best_epoch"] is not None
    for name in (
        "config.json",
        "checkpoint.pt",
        "epochs.jsonl",
        "summary.json",
        "curves.png",
        "test_predictions.npy",
    ):
        assert (tmp_path / "run" / name).is_file(), name
    assert load_summary(tmp_path / "run") == json.loads(json.dumps(summary))
    assert summary["edges"] == 16 * 8 + 32 * 4
    assert summary["flops_per_sample"] == 2 * summary["edges"]
    assert summary["overall_density"] == pytest.approx(256 / (16 * 32 + 32 * 4))
    assert summary["parameters"] == summary["edges"] + 32 + 4
    assert 0 <= summary["overhead_fraction"] < 1
    assert len(metrics(tmp_path / "run")) == 8


@pytest.mark.parametrize("validation", ["best-epoch", "train+val", "train-only"])
def test_validation_modes(blobs, tmp_path, validation):
    summary = train_run(
        blob_config(blobs, f'train.validation="{validation}"', "train.epochs=2"),
        tmp_path / validation,
    )
    records = metrics(tmp_path / validation)
    validated = validation == "best-epoch"
    assert all((r["val_accuracy"] is not None) == validated for r in records)
    # train+val trains on both splits (SPEC §7 mode 1).
    assert summary["split_sizes"][0] == (320 if validation == "train+val" else 256)


def test_same_seed_same_weights_other_seed_other_weights(blobs, tmp_path):
    config = blob_config(blobs, "train.epochs=2")
    train_run(config, tmp_path / "a")
    train_run(config, tmp_path / "b")
    train_run(config.replace(["train.seed=1"]), tmp_path / "c")
    a, b, c = weights(tmp_path / "a"), weights(tmp_path / "b"), weights(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_extends_a_finished_run_exactly(blobs, tmp_path):
    config = blob_config(blobs)
    train_run(config, tmp_path / "full")
    train_run(config.replace(["train.epochs=3"]), tmp_path / "split")
    summary = train_run(config, tmp_path / "split", resume=True)
    assert summary["epochs"] == 8
    full, split = weights(tmp_path / "full"), weights(tmp_path / "split")
    assert all(torch.equal(full[k], split[k]) for k in full)
    assert metrics(tmp_path / "full") == metrics(tmp_path / "split")


def test_kill_mid_epoch_and_resume_gives_identical_weights(tmp_path):
    data = write_blobs(tmp_path / "big.npz", per_class=(1500, 50, 50))
    config = [
        f'--set=data.name="npz:{data}"',
        "--set=model.sizes=[16, 64, 4]",
        "--set=model.fan_out=[16, 4]",
        "--set=train.epochs=5",
        "--set=train.batch_size=8",
        "--set=train.threads=1",
        "--set=optimizer.lr=0.003",
        "--quiet",
    ]
    command = [sys.executable, "-m", "neurofabric", "train", *config]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([*command, "--out", str(tmp_path / "full")], check=True, env=env)

    killed = tmp_path / "killed"
    process = subprocess.Popen([*command, "--out", str(killed)], env=env)
    deadline = time.monotonic() + 120
    while not (killed / "epochs.jsonl").exists() or len(metrics(killed)) < 2:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    time.sleep(0.1)  # into the next epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "summary.json").exists()
    done = len(metrics(killed))
    assert 2 <= done < 5

    # Without --resume the unfinished run is refused, not overwritten.
    refused = subprocess.run(
        [*command, "--out", str(killed)], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "unfinished run" in refused.stderr
    subprocess.run([*command, "--out", str(killed), "--resume"], check=True, env=env)

    full, resumed = weights(tmp_path / "full"), weights(killed)
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    assert metrics(tmp_path / "full") == metrics(killed)
    first, second = load_summary(tmp_path / "full"), load_summary(killed)
    assert (first["test_accuracy"], first["test_loss"]) == (
        second["test_accuracy"],
        second["test_loss"],
    )


def test_resume_refuses_another_config_and_corrupt_checkpoints(blobs, tmp_path):
    run = tmp_path / "run"
    train_run(blob_config(blobs, "train.epochs=2"), run)
    with pytest.raises(ValueError, match="different config .differs in: optimizer.lr"):
        train_run(blob_config(blobs, "train.epochs=3", "optimizer.lr=0.5"), run, resume=True)
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt or unreadable"):
        train_run(blob_config(blobs, "train.epochs=3"), run, resume=True)
    assert (run / "summary.json").exists()  # nothing was lost


def test_kl_to_reference(blobs, tmp_path):
    dense = blob_config(blobs, 'model.pattern="dense"', "train.epochs=3")
    train_run(dense, tmp_path / "dense")
    summary = train_run(
        blob_config(blobs, f'train.kl_reference="{tmp_path / "dense"}"'), tmp_path / "sparse"
    )
    assert summary["kl_to_reference"] > 0
    p = np.load(tmp_path / "dense" / "test_predictions.npy")
    assert kl_divergence(p, p) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="not made on the same test set"):
        kl_divergence(p, p[:3])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.sizes=[15, 30, 4]"], "model.sizes.0. = 15 but dataset .* has 16 input features"),
        (
            ["model.sizes=[16, 32, 5]", "model.fan_out=[8, 5]"],
            "model.sizes.-1. = 5 but dataset .* has 4 classes",
        ),
        (["model.fan_out=[5, 4]"], r"junction 0 \(16 -> 32, structured\)"),
        (['model.pattern="clash-free"'], "needs parallelism"),
        (["model.fan_out=[8, 4]", 'model.activation="swish"'], "unknown activation 'swish'"),
        (['model.init="zeros"'], "unknown init 'zeros'"),
        (['train.kl_reference="nowhere"'], "kl_reference: 'nowhere/test_predictions.npy' does not"),
    ],
)
def test_bad_experiments_fail_before_training(blobs, tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        train_run(blob_config(blobs, *overrides), tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_folder_with_a_finished_run_is_never_overwritten(blobs, tmp_path):
    run = tmp_path / "run"
    config = blob_config(blobs, "train.epochs=1")
    first = train_run(config, run)
    with pytest.raises(ValueError, match="already holds a finished run"):
        train_run(config, run, resume=False)
    assert train_run(config, run, resume=True) == first  # nothing to do
    train_run(config.replace(["train.seed=1"]), run, resume=False, force=True)


def test_keras_decay_and_epoch_order():
    assert keras_decay(0.0)(10**6) == 1.0
    assert keras_decay(1e-5)(0) == 1.0
    a, b = epoch_order(0, 1, 100), epoch_order(0, 1, 100)
    assert torch.equal(a, b) and not torch.equal(a, epoch_order(0, 2, 100))
    assert sorted(a.tolist()) == list(range(100))


def test_model_costs_of_a_clos_mlp():
    config = load_config(
        None,
        [
            "model.sizes=[64, 64, 10]",
            "model.fan_out=[8, 10]",
            'model.cascade.topology="clos"',
            "model.cascade.min_features=64",
            "model.cascade.groups=4",
            "model.cascade.middle=8",
        ],
    )
    net = build_model(config)
    costs = model_costs(net)
    assert costs["junction_kinds"] == ["clos cascade", "structured"]
    assert costs["edges"] == 8 * 4 * (16 + 16 + 4) + 64 * 10
    assert net(torch.randn(2, 64)).shape == (2, 10)


def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path):
    data = write_blobs(tmp_path / "big.npz", per_class=(1500, 50, 50))
    command = [
        sys.executable,
        "-m",
        "neurofabric",
        "train",
        f'--set=data.name="npz:{data}"',
        "--set=model.sizes=[16, 64, 4]",
        "--set=model.fan_out=[16, 4]",
        "--set=train.epochs=50",
        "--set=train.batch_size=8",
        "--set=train.threads=1",
        "--quiet",
        "--out",
        str(tmp_path / "run"),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # A shell's background job (`make test &`) starts with SIGINT ignored, and Python then never
    # raises KeyboardInterrupt: give the child the default disposition, as a terminal would.
    process = subprocess.Popen(
        command,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "checkpoint.pt").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] >= 1


@pytest.mark.parametrize(
    ("kernel", "allowed"),
    [
        ("auto", None),  # whatever the policy picks, reported per junction
        ("csr", {"csr"}),
        ("tune", {"dense", "gather", "csr"}),  # timed on this machine at the training batch
    ],
)
def test_kernels_are_reported_and_tune_picks_per_layer(blobs, tmp_path, kernel, allowed):
    summary = train_run(
        blob_config(blobs, f'model.kernel="{kernel}"', "train.epochs=2"), tmp_path / kernel
    )
    assert len(summary["kernels"]) == 2
    assert all(name in (allowed or KERNELS) for name in summary["kernels"])
    assert summary["test_accuracy"] > 0.5  # the kernel changes the speed, not the function
