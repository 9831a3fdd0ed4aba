"""``neurofabric morse …`` as a user runs it: files, JSON keys, one-line errors, exit codes."""

import json

import numpy as np
import pytest

from neurofabric.cli import main
from neurofabric.data.morse import (
    MORSE_PRESETS,
    MorseSpec,
    default_filename,
    load_morse,
    load_morse_spec,
)

SMALL = ["--per-class", "10,2,2"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def generate(tmp_path, capsys, name, *argv):
    path = tmp_path / name
    code, out, err = run(capsys, "morse", "generate", *argv, "--out", path, "--json")
    assert code == 0, err
    return path, json.loads(out)


def test_generate_with_overrides_writes_a_self_describing_file(tmp_path, capsys):
    path, report = generate(
        tmp_path,
        capsys,
        "d.npz",
        "--preset",
        "difficult",
        "--noise-sd",
        "2",
        "--dash",
        "3,8",
        "--no-leading-space",
        "--per-class",
        "10,2,3",
        "--seed",
        "3",
    )
    expected = MorseSpec(noise_sd=2.0, dash_min=3, dash_max=8, per_class=(10, 2, 3))
    assert load_morse_spec(path) == expected
    assert report["samples"] == {"train": 640, "val": 128, "test": 192}
    assert (report["features"], report["classes"], report["seed"]) == (64, 64, 3)
    assert report["spec"] == expected.to_dict()
    data = load_morse(path)
    assert data["xte"].shape == (192, 64)


def test_same_seed_same_arrays(tmp_path, capsys):
    first, _ = generate(tmp_path, capsys, "a.npz", *SMALL, "--seed", "4")
    again, _ = generate(tmp_path, capsys, "b.npz", *SMALL, "--seed", "4")
    a, b = load_morse(first), load_morse(again)
    assert all(a[key].tobytes() == b[key].tobytes() for key in a)


def test_default_file_name_and_refusal_to_overwrite(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["morse", "generate", "--preset", "bw-flip-2", "--codebook", "dedup", *SMALL]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    name = default_filename(
        MorseSpec(style="BW", max_flip=2, codebook="dedup", per_class=(10, 2, 2))
    )
    assert name == "morseBW882_64i63o_noise2_lsp0.npz"
    assert (tmp_path / name).is_file() and name in out
    code, _, err = run(capsys, *args)
    assert code == 2
    assert err.startswith("error: ") and "--force" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, *args, "--force")
    assert code == 0, err


BAD = {
    "codeword too long": (["--frame-len", "56"], ["'-----'", "57", "56"]),
    "min above max": (["--dash", "5,4"], ["dash_min = 5", "dash_max = 4"]),
    "negative sd": (["--noise-sd", "-1"], ["noise_sd", "-1.0"]),
    "range of one": (["--dot", "2"], ["--dot needs MIN,MAX", "got 1"]),
    "two split sizes": (["--per-class", "5,1"], ["--per-class", "got 2"]),
    "unknown preset": (["--preset", "hard"], ["'hard'", "baseline, difficult"]),
    "flips in gray": (["--max-flip", "3"], ["max_flip = 3", "BW"]),
    "not a number": (["--noise-sd", "x"], ["--noise-sd", "invalid float"]),
}


@pytest.mark.parametrize("case", BAD)
def test_generate_errors_are_one_line(tmp_path, capsys, case):
    argv, fragments = BAD[case]
    out = tmp_path / "x.npz"
    code, _, err = run(capsys, "morse", "generate", *SMALL, *argv, "--out", out)
    assert code == 2 and err.startswith("error: ") and len(err.splitlines()) == 1
    for fragment in fragments:
        assert fragment in err
    assert not out.exists()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Small baseline and difficult files, generated once for the metric checks."""
    folder = tmp_path_factory.mktemp("morse")
    paths = {}
    for name in ("baseline", "difficult"):
        paths[name] = folder / f"{name}.npz"
        argv = ["morse", "generate", "--preset", name, "--per-class", "100,20,20"]
        assert main([*argv, "--out", str(paths[name])]) == 0
    return paths


@pytest.mark.parametrize("variant", ["corrected", "code"])
def test_metrics_difficult_reads_harder_than_baseline(pair, capsys, variant):
    values = {}
    for name, path in pair.items():
        code, out, err = run(capsys, "morse", "metrics", path, "--variant", variant, "--json")
        assert code == 0, err
        values[name] = json.loads(out)
    for key in ("V_lower", "V_upper", "V_dist", "V_thresh"):
        assert values["difficult"][key] > values["baseline"][key], key
    assert values["baseline"]["variant"] == variant


def test_metrics_text_and_options(pair, capsys):
    code, out, _ = run(capsys, "morse", "metrics", pair["baseline"], "--threshold", "0.1")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[:4]] == [
        "V_lower",
        "V_upper",
        "V_dist",
        "V_thresh",
    ]
    assert "threshold 0.1" in out
    code, _, err = run(capsys, "morse", "metrics", pair["baseline"], "--dim-variance", "median")
    assert code == 0 and "warning: " in err and "degenerate" in err


def test_metrics_refuses_corrupt_and_mismatched_files(tmp_path, capsys, pair):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x00" * 100)
    with np.load(pair["baseline"]) as file:
        arrays = {name: file[name] for name in file.files}
    arrays["xtr"] = arrays["xtr"][:, :32]
    np.savez(tmp_path / "cut.npz", **arrays)
    for path, message in ((junk, "not a readable"), (tmp_path / "cut.npz", "checksum")):
        code, _, err = run(capsys, "morse", "metrics", path)
        assert code == 2 and message in err and len(err.splitlines()) == 1


def test_show_draws_a_png_and_refuses_to_overwrite(pair, tmp_path, capsys):
    png = tmp_path / "grid.png"
    code, _, err = run(capsys, "morse", "show", pair["difficult"], "--png", png, "--samples", "2")
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(capsys, "morse", "show", pair["difficult"], "--png", png)
    assert code == 2 and "--force" in err
    code, _, err = run(capsys, "morse", "show", pair["difficult"], "--png", png, "--force")
    assert code == 0, err


def test_presets_list(capsys):
    code, out, _ = run(capsys, "morse", "presets", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert list(rows) == list(MORSE_PRESETS)
    assert rows["baseline"]["changes"] == {}
    assert rows["difficult"]["changes"] == {"dash_min": 3, "leading_space": True, "noise_sd": 4.0}
    assert rows["difficult"]["file"] == "morseGRAY448000_64i64o_noisesd4_lsp1_dash39.npz"
    code, out, _ = run(capsys, "morse", "presets")
    assert code == 0 and out.splitlines()[0].startswith("baseline")
