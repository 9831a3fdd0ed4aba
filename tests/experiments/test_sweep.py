"""The sweep engine with fake runners: completion, failures, several workers, results."""

import csv
import json
from collections import Counter

import optuna
import pytest

from neurofabric.experiments.sweep import collect_results, open_study, run_sweep
from neurofabric.experiments.sweep_config import sweep_from_dict
from neurofabric.plots.sweep import allocation_label, plot_density_allocation

FAKE = "tests.experiments.fake_runner:fake_run"
FAILING = "tests.experiments.fake_runner:failing_run"
SLEEPING = "tests.experiments.fake_runner:sleeping_run"


def make_sweep(seeds=(0, 1), patterns=("structured", "random"), fixed=None):
    # 16-16-16: the three fan-out splits share overall density 0.5 (allocation plot).
    return sweep_from_dict(
        {
            "seeds": list(seeds),
            "base_config": {"model": {"sizes": [16, 16, 16]}},
            "set": fixed or {"train.epochs": 2},
            "axes": [
                {"model.pattern": list(patterns)},
                {"model.fan_out": [[4, 12], [8, 8], [12, 4], [2, 2]]},
            ],
            "runs": [
                {"model.pattern": "dense"},
                {"model.pattern": "dense", "model.sizes": [16, 4, 16]},
            ],
        },
        name="t",
    )


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "ran.log"
    monkeypatch.setenv("NF_FAKE_LOG", str(path))
    return path


def ran(log):
    return Counter(log.read_text().split()) if log.exists() else Counter()


def test_in_process_sweep_completes_and_writes_results(tmp_path, log):
    sweep = make_sweep()
    result = run_sweep(sweep, tmp_path / "out", runner=FAKE, progress=False)
    keys = [p.key for p in sweep.points]
    assert result.counts == {"points": 20, "complete": 20, "failed": 0, "running": 0, "pending": 0}
    assert ran(log) == Counter(keys)
    out = tmp_path / "out"
    # No two runs share a last-junction density here: no allocation plot.
    assert {p.name for p in result.plots} == {"accuracy_vs_density.png", "sparse_vs_dense.png"}
    assert all(p.stat().st_size > 1000 for p in result.plots)
    assert (out / "runs" / keys[0] / "summary.json").exists()
    with open(out / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["key"] for r in rows] == keys
    first = rows[0]
    assert first["model.fan_out"] == "4-12" and first["model.pattern"] == "structured"
    assert first["junction_densities"] == "0.25;0.75" and first["state"] == "COMPLETE"
    assert first["attempts"] == "1" and first["error"] == "" and float(first["test_accuracy"]) > 0
    info = json.loads((out / "sweep.json").read_text())
    assert info["counts"]["complete"] == 20 and len(info["points"]) == 20
    assert info["storage"].startswith("sqlite:///") and info["name"] == "t"

    # Running again trains nothing.
    log.unlink()
    again = run_sweep(sweep, tmp_path / "out", runner=FAKE, progress=False)
    assert again.counts["complete"] == 20 and ran(log) == Counter()


def test_edited_base_config_makes_finished_points_stale(tmp_path, log):
    sweep = make_sweep(seeds=(0,), patterns=("structured",))
    run_sweep(sweep, tmp_path / "out", runner=FAKE, progress=False)
    keys = [p.key for p in sweep.points]
    log.unlink()
    # More epochs (same keys): every point runs again, so its run folder can be extended.
    longer = make_sweep(seeds=(0,), patterns=("structured",), fixed={"train.epochs": 3})
    assert [p.key for p in longer.points] == keys
    again = run_sweep(longer, tmp_path / "out", runner=FAKE, progress=False)
    assert again.counts["complete"] == len(keys) and ran(log) == Counter(keys)
    log.unlink()
    # Another learning rate changes the config hash: stale as well; unchanged: nothing runs.
    fixed = {"train.epochs": 3, "optimizer.lr": 0.01}
    other = make_sweep(seeds=(0,), patterns=("structured",), fixed=fixed)
    run_sweep(other, tmp_path / "out", runner=FAKE, progress=False)
    assert ran(log) == Counter(keys)
    log.unlink()
    run_sweep(other, tmp_path / "out", runner=FAKE, progress=False)
    assert ran(log) == Counter()


def test_failing_point_is_isolated_and_retried_once_per_invocation(tmp_path, log):
    sweep = make_sweep(seeds=(0,))
    result = run_sweep(sweep, tmp_path, runner=FAILING, progress=False)
    failed = [p.key for p in sweep.points if p.config.model.pattern == "random"]
    assert result.counts["failed"] == len(failed) == 4
    assert result.counts["complete"] == len(sweep.points) - 4
    rows = {row["key"]: row for row in result.rows}
    for key in failed:
        assert rows[key]["state"] == "FAIL"
        assert rows[key]["error"] == "RuntimeError: simulated crash in a random-pattern run"
        assert "Traceback" in (tmp_path / "runs" / key / "error.txt").read_text()
    study = optuna.load_study(study_name="t", storage=result.storage)
    fail_trials = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    assert sorted(t.user_attrs["run"] for t in fail_trials) == sorted(failed)
    assert all(t.user_attrs["error"].startswith("RuntimeError") for t in fail_trials)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert {"overall_density", "junction_densities", "host", "pid", "overrides"} <= set(
        complete[0].user_attrs
    )

    # A re-run tries the failed points once more and nothing else.
    log.unlink()
    again = run_sweep(sweep, tmp_path, runner=FAILING, progress=False)
    assert again.counts["failed"] == 4 and ran(log) == Counter()
    assert {row["attempts"] for row in again.rows if row["state"] == "FAIL"} == {2}
    # Once the runner is fixed, they complete.
    fixed = run_sweep(sweep, tmp_path, runner=FAKE, progress=False)
    assert fixed.counts["complete"] == len(sweep.points) and ran(log) == Counter(failed)


def test_two_worker_processes_share_one_storage(tmp_path, log, monkeypatch):
    monkeypatch.setenv("NF_FAKE_SLEEP", "0.1")
    sweep = make_sweep(seeds=(0,))
    result = run_sweep(
        sweep, tmp_path, runner=SLEEPING, workers=2, progress=False, poll_interval=0.2
    )
    assert result.crashed_workers == 0
    assert result.counts["complete"] == len(sweep.points)
    assert ran(log) == Counter(p.key for p in sweep.points)  # every point exactly once
    study = optuna.load_study(study_name="t", storage=result.storage)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert Counter(t.user_attrs["run"] for t in complete) == Counter(p.key for p in sweep.points)
    assert len({t.user_attrs["pid"] for t in complete}) == 2  # both workers did some


def test_two_workers_isolate_failures(tmp_path, log):
    sweep = make_sweep(seeds=(0,))
    result = run_sweep(
        sweep, tmp_path, runner=FAILING, workers=2, progress=False, poll_interval=0.2
    )
    failed = sorted(p.key for p in sweep.points if p.config.model.pattern == "random")
    assert result.crashed_workers == 0
    assert sorted(r["key"] for r in result.rows if r["state"] == "FAIL") == failed
    assert result.counts["complete"] == len(sweep.points) - len(failed)
    assert ran(log) == Counter(p.key for p in sweep.points if p.key not in failed)


def test_dead_local_worker_is_failed_at_once_and_point_rerun(tmp_path, log):
    sweep = make_sweep(seeds=(0,), patterns=("structured",))
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = open_study(sweep, storage)
    # A trial left RUNNING by a killed process of this host (pid that cannot exist).
    key = sweep.points[0].key
    with pytest.warns(UserWarning, match="Heartbeat"):
        trial = study.ask()
    from neurofabric.experiments import sweep as engine

    for name, value in {"run": key, "host": engine._HOST, "pid": 2**22 + 12345}.items():
        trial.set_user_attr(name, value)
    result = run_sweep(sweep, tmp_path, storage=storage, runner=FAKE, progress=False)
    assert result.counts["complete"] == len(sweep.points)
    assert result.rows[0]["attempts"] == 2


def test_collect_results_states(tmp_path):
    sweep = make_sweep(seeds=(0,), patterns=("structured",))
    study = open_study(sweep, f"sqlite:///{tmp_path / 'study.db'}")
    rows = collect_results(sweep, study.get_trials())
    assert {row["state"] for row in rows} == {"PENDING"}
    assert rows[0]["attempts"] == 0 and rows[0]["test_accuracy"] is None


def test_bad_runner_and_workers(tmp_path):
    sweep = make_sweep(seeds=(0,))
    with pytest.raises(ValueError, match="a runner is 'module:function'"):
        run_sweep(sweep, tmp_path, runner="nope", progress=False)
    with pytest.raises(ValueError, match="cannot import runner"):
        run_sweep(sweep, tmp_path, runner="tests.experiments.fake_runner:missing")
    with pytest.raises(ValueError, match="workers must be at least 1"):
        run_sweep(sweep, tmp_path, runner=FAKE, workers=0)


@pytest.mark.parametrize(
    "densities, label",
    [
        ([0.1, 0.4], "later denser"),
        ([0.4, 0.1], "earlier denser"),
        ([0.2, 0.2, 0.205], "uniform"),
        ([0.1, 0.5, 0.1], "mixed"),
        ([0.1, 0.1, 1.0], "later denser"),
    ],
)
def test_allocation_label(densities, label):
    assert allocation_label(densities) == label


def _row(densities, accuracy, seed=0):
    sizes = [100] * (len(densities) + 1)
    overall = sum(densities) / len(densities)
    return {
        "key": f"{densities}-{seed}",
        "group": str(densities),
        "state": "COMPLETE",
        "test_accuracy": accuracy,
        "overall_density": overall,
        "junction_densities": list(densities),
        "layer_sizes": sizes,
        "patterns": ["structured"] * len(densities),
        "parameters": 1000,
    }


def test_density_allocation_plot_draws_one_curve_per_last_junction_density():
    rows = [
        _row((0.1, 0.1), 0.90),
        _row((0.2, 0.1), 0.92),
        _row((0.1, 0.5), 0.93),
        _row((0.2, 0.5), 0.95),
        _row((0.4, 0.5), 0.96, seed=1),
    ]
    figure = plot_density_allocation(rows, "test_accuracy")
    ax = figure.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["ρ_last = 0.1", "ρ_last = 0.5"]
    assert ax.get_xscale() == "log"
    # One curve only, or curves of one point each: nothing to compare.
    assert plot_density_allocation(rows[2:], "test_accuracy") is None
    assert plot_density_allocation([rows[0], rows[2]], "test_accuracy") is None


def test_pattern_curves_with_one_last_junction_density_are_no_allocation_plot():
    rows = [
        {**_row((0.1, 1.0), 0.9), "patterns": ["random", "random"]},
        {**_row((0.2, 1.0), 0.92), "patterns": ["random", "random"]},
        {**_row((0.1, 1.0), 0.91), "key": "s", "group": "s"},
        {**_row((0.2, 1.0), 0.93), "key": "t", "group": "t"},
    ]
    assert plot_density_allocation(rows, "test_accuracy") is None
