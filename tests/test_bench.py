"""The benchmark machinery on tiny sizes: rows, keys, ratios, CLI; no timing assertions."""

import json

import pytest

from neurofabric.bench import METHODS, clos_for_density, machine_name, run_bench
from neurofabric.cli import main


def test_run_bench_rows_and_ratios():
    rows = run_bench([64], [2], [1 / 4], METHODS, rounds=1, memory=False)
    assert [r.method for r in rows] == list(METHODS)
    for row in rows:
        assert row.fwd_ms > 0 and row.fwd_bwd_ms > 0
        assert row.ideal == pytest.approx(64 * 64 / row.nnz)
        assert row.fraction_of_ideal == pytest.approx(row.speedup / row.ideal)
    dense = rows[0]
    assert dense.speedup == 1.0 and dense.density == 1.0


def test_peak_memory_is_reported():
    rows = run_bench([32], [4], [1 / 4], ["dense", "gather"], rounds=1)
    assert all(r.peak_mb is not None and r.peak_mb >= 0 for r in rows)
    assert rows[0].peak_mb > 0  # dense allocates its output and gradients


@pytest.mark.parametrize(("features", "density"), [(4096, 1 / 16), (2048, 1 / 16), (1024, 1 / 8)])
def test_clos_shape_is_close_to_the_density(features, density):
    groups, middle = clos_for_density(features, density)
    n = features // groups
    actual = middle * groups * (2 * n + groups) / features**2
    assert features % groups == 0
    assert 0.5 * density <= actual <= 2 * density


def test_cli_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--sizes",
            "32",
            "--batch",
            "2",
            "--densities",
            "0.25",
            "--methods",
            "gather,cascade",
            "--rounds",
            "1",
            "--no-memory",
            "--json",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    payload = json.loads(captured.out)
    assert json.loads(out.read_text()) == payload
    assert payload["machine"] == machine_name("cpu") and payload["machine"]  # ratios depend on it
    assert payload["native"]  # says whether gather ran native passes (or why not)
    row = payload["rows"][0]
    for key in (
        "method",
        "features",
        "density",
        "batch",
        "fwd_ms",
        "fwd_bwd_ms",
        "speedup",
        "fraction_of_ideal",
    ):
        assert key in row
    assert [r["method"] for r in payload["rows"]] == ["dense", "gather", "cascade"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--methods", "magic"], "unknown method 'magic'"),
        (["--densities", "2"], "densities must lie in"),
        (["--rounds", "0"], "--rounds must be at least 1"),
    ],
)
def test_cli_errors(capsys, argv, message):
    code = main(["bench", "--sizes", "32", "--batch", "2", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
