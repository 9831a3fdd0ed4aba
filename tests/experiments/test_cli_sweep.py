"""``neurofabric sweep``: dry runs, JSON, exit codes, and resuming a killed sweep."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest

from neurofabric.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SWEEP = """
name = "cli"
[base_config]
model.sizes = [16, 8, 4]
[[axes]]
"model.pattern" = ["structured", "random"]
[[axes]]
"model.fan_out" = [[2, 4], [4, 2], [8, 4]]
[[runs]]
"model.pattern" = "dense"
"""
KEYS = [
    f"pattern={p}_fan_out={f}_seed=0"
    for p in ("structured", "random")
    for f in ("2-4", "4-2", "8-4")
] + ["pattern=dense_seed=0"]


@pytest.fixture
def sweep_file(tmp_path):
    path = tmp_path / "cli.toml"
    path.write_text(SWEEP)
    return path


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "ran.log"
    monkeypatch.setenv("NF_FAKE_LOG", str(path))
    return path


def ran(log):
    return Counter(log.read_text().split()) if log.exists() else Counter()


def test_dry_run_lists_points(sweep_file, capsys, log):
    assert main(["sweep", str(sweep_file), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == KEYS
    assert '"model.fan_out": [2, 4]' in out[0]
    assert main(["sweep", str(sweep_file), "--dry-run", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["name"] == "cli" and [p["key"] for p in payload["points"]] == KEYS
    assert payload["points"][-1]["overrides"] == {"model.pattern": "dense", "train.seed": 0}
    assert not log.exists()


def test_json_run(sweep_file, tmp_path, capsys, log):
    out = tmp_path / "out"
    argv = ["sweep", str(sweep_file), "--out", str(out), "--json"]
    assert main([*argv, "--runner", "tests.experiments.fake_runner:fake_run"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {
        "name",
        "out_dir",
        "storage",
        "counts",
        "results_csv",
        "plots",
        "crashed_workers",
        "rows",
    }
    assert payload["counts"]["complete"] == len(KEYS)
    assert [row["key"] for row in payload["rows"]] == KEYS
    assert (out / "results.csv").exists() and (out / "study.db").exists()


def test_default_out_and_table(sweep_file, tmp_path, monkeypatch, capsys, log):
    monkeypatch.chdir(tmp_path)
    argv = ["sweep", str(sweep_file), "--no-progress"]
    assert main([*argv, "--runner", "tests.experiments.fake_runner:fake_run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["key", "state", "test_accuracy"]
    assert lines[1].split()[:2] == [KEYS[0], "COMPLETE"]
    assert (tmp_path / "runs" / "cli" / "results.csv").exists()


def test_failed_runs_exit_1(sweep_file, tmp_path, capsys, log):
    argv = ["sweep", str(sweep_file), "--out", str(tmp_path / "o"), "--no-progress"]
    assert main([*argv, "--runner", "tests.experiments.fake_runner:failing_run"]) == 1
    captured = capsys.readouterr()
    assert "3 runs failed; see" in captured.err and "results.csv" in captured.err
    assert captured.out.count("FAIL") == 3


@pytest.mark.parametrize(
    "text, extra, message",
    [
        ("axes = 1\n[base_config]\nmodel.sizes = [4, 2]\n", [], "axes must be an array"),
        ("[base_config]\nmodel.sizes = [4, 2]\n[set]\nmodel.nope = 1\n", [], "model.nope"),
        ("bogus = 1\n", [], "unknown key bogus in the sweep file"),
        ("[base_config]\nmodel.sizes = [4, 2]\n", ["--workers", "0"], "--workers"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(tmp_path, capsys, text, extra, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and message in err


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "none.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_killed_sweep_resumes(sweep_file, tmp_path, log):
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
        "NF_FAKE_SLEEP": "0.4",
    }
    command = [sys.executable, "-m", "neurofabric", "sweep", str(sweep_file), "--out", str(out)]
    command += ["--no-progress", "--runner", "tests.experiments.fake_runner:sleeping_run"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while sum(ran(log).values()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()  # reaped: its pid is gone, so its RUNNING trial is failed at once
    # A run killed after its runner returned but before Optuna stored it runs again, so
    # what counts as finished is what the storage says.
    finished = {t.user_attrs["run"] for t in complete_trials(out)}
    assert 2 <= len(finished) < len(KEYS), process.stderr.read().decode()
    log.unlink()

    argv = ["sweep", str(sweep_file), "--out", str(out), "--no-progress", "--json"]
    started = time.monotonic()
    assert main([*argv, "--runner", "tests.experiments.fake_runner:fake_run"]) == 0
    assert time.monotonic() - started < 20  # did not wait for the heartbeat grace period
    rerun = ran(log)
    assert set(rerun) == set(KEYS) - finished and max(rerun.values()) == 1
    assert Counter(t.user_attrs["run"] for t in complete_trials(out)) == Counter(KEYS)


def complete_trials(out):
    study = optuna.load_study(study_name="cli", storage=f"sqlite:///{out / 'study.db'}")
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
