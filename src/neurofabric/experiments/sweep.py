"""Run a sweep: every point of a :class:`~neurofabric.experiments.sweep_config.Sweep` trained
once, with the trials kept in an Optuna RDB storage.

The storage is the single source of truth, so a sweep can be killed and re-run (finished points
are skipped, the rest resume from their last epoch checkpoint), and any number of worker
processes, on one machine or on many pointing at one database URL, can share it.

How a worker claims a point without racing the others: it enqueues a WAITING trial carrying
the point's key (user attr ``run``) for every point that has none, and lets ``study.optimize``
pop one. Popping WAITING → RUNNING is atomic in the storage; when races produce two trials for
one point, the lowest-numbered unfinished one runs and the others end PRUNED at once.

Dead workers: Optuna's heartbeat marks their RUNNING trials FAIL after ``grace_period``; a
RUNNING trial of this host whose process is gone is failed at once.
"""

from __future__ import annotations

import importlib
import json
import math
import multiprocessing
import os
import socket
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from neurofabric.experiments.sweep_config import Sweep, SweepPoint
from neurofabric.experiments.sweep_results import (
    SUMMARY_KEYS,
    collect_results,
    count_states,
    is_current,
    trials_by_key,
    write_results,
)
from neurofabric.topology.io import atomic_write

__all__ = [
    "DEFAULT_RUNNER",
    "SUMMARY_KEYS",
    "SweepResult",
    "collect_results",
    "default_storage",
    "load_runner",
    "open_study",
    "run_sweep",
    "write_results",
]

DEFAULT_RUNNER = "neurofabric.experiments.run:train_run"
_HOST = socket.gethostname()


@dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes:
        name: Study name.
        out_dir: Output folder (``runs/<key>/`` per point, ``results.csv``, ``sweep.json``).
        storage: Storage URL (password hidden).
        counts: ``points``, ``complete``, ``failed``, ``running``, ``pending``.
        results_csv: Path of ``results.csv``.
        plots: The PNGs written.
        rows: One dict per point (see :func:`collect_results`).
        crashed_workers: Worker processes that exited with an error of their own.
    """

    name: str
    out_dir: Path
    storage: str
    counts: dict[str, int]
    results_csv: Path
    plots: list[Path]
    rows: list[dict[str, Any]]
    crashed_workers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "out_dir": str(self.out_dir),
            "storage": self.storage,
            "counts": self.counts,
            "results_csv": str(self.results_csv),
            "plots": [str(p) for p in self.plots],
            "crashed_workers": self.crashed_workers,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class _Worker:
    """Everything a (spawned) worker process needs; picklable."""

    sweep: Sweep
    out_dir: Path
    storage: str
    runner: str
    invocation: str
    max_attempts: int = 1
    poll_interval: float = 2.0
    heartbeat_interval: int = 10
    grace_period: int = 60


# ---------------------------------------------------------------- storage and runner
def default_storage(out_dir: str | os.PathLike) -> str:
    """``sqlite:///<out_dir>/study.db`` (absolute path)."""
    return f"sqlite:///{(Path(out_dir) / 'study.db').resolve()}"


def _quiet_optuna() -> None:
    # Failed runs are recorded in the results (and runs/<key>/error.txt), not logged.
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def open_study(
    sweep: Sweep, storage: str, *, heartbeat_interval: int = 10, grace_period: int = 60
) -> optuna.Study:
    """Create or load the sweep's study in an RDB storage with the heartbeat enabled."""
    _quiet_optuna()
    engine_kwargs = {"connect_args": {"timeout": 60}} if storage.startswith("sqlite") else {}
    with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna 5.0
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        rdb = optuna.storages.RDBStorage(
            storage,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )
    if storage.startswith("sqlite"):
        _serialize_sqlite(rdb.engine)
    study = optuna.create_study(
        storage=rdb,
        study_name=sweep.name,
        direction=sweep.direction,
        sampler=optuna.samplers.RandomSampler(seed=0),
        load_if_exists=True,
    )
    if study.direction.name.lower() != sweep.direction:
        raise ValueError(
            f"study {sweep.name!r} in {_hide_password(storage)} was created to "
            f"{study.direction.name.lower()}; this sweep asks to {sweep.direction}"
        )
    return study


def _serialize_sqlite(engine: Any) -> None:
    """Run every SQLite transaction as ``BEGIN IMMEDIATE``.

    pysqlite starts a transaction only at the first write, so Optuna's ``SELECT … FOR UPDATE``
    guards nothing there and two processes can pop the same WAITING trial. Taking the write
    lock at the start of each transaction makes the pop atomic (the SQLAlchemy recipe for
    serialisable SQLite).
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # pooled connections were opened without the listeners


def load_runner(spec: str) -> Callable[..., Mapping[str, Any]]:
    """Import ``"package.module:function"``."""
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"a runner is 'module:function', got {spec!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"cannot import runner {spec!r}: {error}") from None


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


# ---------------------------------------------------------------- trial bookkeeping
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    try:  # an unreaped child is a zombie: dead, though kill() still finds it
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _fail_dead(study: optuna.Study) -> None:
    """Fail stale RUNNING trials, and at once those of dead processes on this host."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = trial.user_attrs.get("pid")
        if trial.user_attrs.get("host") != _HOST or not isinstance(pid, int) or _alive(pid):
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        except (RuntimeError, ValueError):  # finished by someone else meanwhile
            pass


def _point_state(
    trials: list[FrozenTrial], point: SweepPoint, invocation: str, max_attempts: int
) -> str:
    """``complete``, ``running``, ``exhausted`` (failed enough in this invocation), ``queued``
    (a WAITING trial exists) or ``todo``."""
    states = [t.state for t in trials]
    if any(is_current(t, point) for t in trials):
        return "complete"
    if TrialState.RUNNING in states:
        return "running"
    fails = sum(
        t.state == TrialState.FAIL and t.user_attrs.get("invocation") == invocation for t in trials
    )
    if fails >= max_attempts:
        return "exhausted"
    return "queued" if TrialState.WAITING in states else "todo"


def _states(study: optuna.Study, spec: _Worker) -> dict[str, str]:
    by_key = trials_by_key(study.get_trials(deepcopy=False))
    return {
        p.key: _point_state(by_key.get(p.key, []), p, spec.invocation, spec.max_attempts)
        for p in spec.sweep.points
    }


def _error_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _jsonable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy and torch scalars
        return value.item()
    return value


# ---------------------------------------------------------------- the worker
def _objective(study: optuna.Study, spec: _Worker, runner: Callable) -> Callable:
    points = {p.key: p for p in spec.sweep.points}

    def objective(trial: optuna.Trial) -> float:
        point = points.get(trial.user_attrs.get("run"))
        if point is None:  # the queue ran empty before this worker's ask(): nothing to do
            raise optuna.TrialPruned("no sweep point was queued")
        trial.set_user_attr("host", _HOST)
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("invocation", spec.invocation)
        trials = trials_by_key(study.get_trials(deepcopy=False)).get(point.key, [])
        others = [t for t in trials if t.number != trial.number]
        reason = None
        if any(is_current(t, point) for t in others):
            reason = "already complete"
        elif held := [
            t.number for t in others if t.number < trial.number and not t.state.is_finished()
        ]:
            reason = f"held by trial {held[0]}"
        elif _point_state(others, point, spec.invocation, spec.max_attempts) == "exhausted":
            reason = "failed too often in this invocation"
        if reason is not None:
            trial.set_user_attr("skipped", reason)
            raise optuna.TrialPruned(reason)
        return _train(trial, point, spec, runner)

    return objective


def _train(trial: optuna.Trial, point: SweepPoint, spec: _Worker, runner: Callable) -> float:
    run_dir = spec.out_dir / "runs" / point.key
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        summary = runner(point.config, run_dir, resume=True, progress=False)
        value = summary.get(spec.sweep.metric)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"the run's {spec.sweep.metric} is {value!r}, not a finite number")
    except Exception as error:
        trial.set_user_attr("error", _error_line(error))
        text = "".join(traceback.format_exception(error))
        atomic_write(run_dir / "error.txt", lambda f: f.write(text.encode()), overwrite=True)
        raise
    (run_dir / "error.txt").unlink(missing_ok=True)
    for key in SUMMARY_KEYS:
        if key in summary:
            trial.set_user_attr(key, _jsonable(summary[key]))
    return float(value)


def _work(spec: _Worker, on_progress: Callable[[], None] | None = None) -> None:
    """Run points until none is left for this worker; wait while others hold the last ones."""
    study = open_study(
        spec.sweep,
        spec.storage,
        heartbeat_interval=spec.heartbeat_interval,
        grace_period=spec.grace_period,
    )
    runner = load_runner(spec.runner)
    objective = _objective(study, spec, runner)
    overrides = {p.key: json.dumps(dict(p.overrides)) for p in spec.sweep.points}
    while True:
        _fail_dead(study)
        states = _states(study, spec)
        if on_progress is not None:
            on_progress()
        if not any(s in ("todo", "queued") for s in states.values()):
            if "running" not in states.values():
                return
            time.sleep(spec.poll_interval)
            continue
        for key, state in states.items():
            if state == "todo":
                study.enqueue_trial({}, user_attrs={"run": key, "overrides": overrides[key]})
        study.optimize(objective, n_trials=1, catch=(Exception,))


# ---------------------------------------------------------------- the driver
def run_sweep(
    sweep: Sweep,
    out_dir: str | os.PathLike,
    *,
    storage: str | None = None,
    workers: int = 1,
    runner: str = DEFAULT_RUNNER,
    progress: bool = True,
    max_attempts: int = 1,
    poll_interval: float = 2.0,
    heartbeat_interval: int = 10,
    grace_period: int = 60,
) -> SweepResult:
    """Train every point of ``sweep`` that is not complete in ``storage``, then write results.

    Args:
        sweep: The parsed sweep file.
        out_dir: Folder for ``runs/<key>/``, ``results.csv``, ``sweep.json`` and the plots.
        storage: Optuna RDB URL; default ``sqlite:///<out_dir>/study.db``. Processes on several
            machines may run the same sweep against one URL: each takes different points.
        workers: Worker processes on this machine (1: run in this process).
        runner: ``"module:function"`` with the signature of
            ``neurofabric.experiments.run.train_run``.
        progress: Show a progress bar on standard error.
        max_attempts: Tries per failing point in this invocation; a point that failed this
            often stays FAIL until the sweep is run again.
        poll_interval: Seconds between looks at the storage while others hold the last points.
        heartbeat_interval: Seconds between a running trial's heartbeats.
        grace_period: Seconds without a heartbeat after which a trial counts as dead.

    Raises:
        ValueError: Bad arguments, an unimportable runner, or a study of the same name that
            optimises in the other direction.
    """
    from tqdm import tqdm

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    load_runner(runner)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    storage = storage or default_storage(out_dir)
    spec = _Worker(
        sweep, out_dir.resolve(), storage, runner, uuid.uuid4().hex, max_attempts,
        poll_interval, heartbeat_interval, grace_period,
    )  # fmt: skip
    study = open_study(
        sweep, storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period
    )
    total = len(sweep.points)
    bar = tqdm(total=total, desc=sweep.name, unit="run", file=sys.stderr, disable=not progress)

    def update() -> None:
        states = list(_states(study, spec).values())
        done, failed = states.count("complete"), states.count("exhausted")
        bar.n = done + failed
        bar.set_postfix(done=done, failed=failed, running=states.count("running"), refresh=False)
        bar.refresh()

    crashed = 0
    with bar:
        if workers == 1:
            _work(spec, update)
        else:
            crashed = _spawn(spec, workers, update)
        update()
    rows = collect_results(sweep, study.get_trials(deepcopy=False))
    csv_path, plots = write_results(sweep, rows, out_dir)
    counts = count_states(rows)
    summary = {
        **sweep.to_dict(),
        "storage": _hide_password(storage),
        "counts": counts,
        "results_csv": str(csv_path),
        "plots": [str(p) for p in plots],
    }
    text = json.dumps(summary, indent=2, default=str) + "\n"
    atomic_write(out_dir / "sweep.json", lambda f: f.write(text.encode()), overwrite=True)
    return SweepResult(
        sweep.name, out_dir, _hide_password(storage), counts, csv_path, plots, rows, crashed
    )


def _spawn(spec: _Worker, workers: int, update: Callable[[], None]) -> int:
    """Run ``workers`` spawned processes to the end; returns how many crashed."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_work, args=(spec,)) for _ in range(workers)]
    try:
        for process in processes:
            process.start()
        while any(p.is_alive() for p in processes):
            update()
            time.sleep(min(1.0, spec.poll_interval))
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    return sum(p.exitcode != 0 for p in processes)
