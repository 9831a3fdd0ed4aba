"""The Morse generator and its files: codebook order, invariants of every frame, errors, io."""

import dataclasses
import json

import numpy as np
import pytest

from neurofabric.data.morse import (
    KEYS,
    MORSE_CODEBOOK,
    MORSE_PRESETS,
    PRESET_NOTES,
    MorseSpec,
    as_labels,
    default_filename,
    generate_morse,
    load_morse,
    load_morse_spec,
    mark_mask,
    morse_codebook,
    morse_preset,
    save_morse,
)

SMALL = (6, 2, 2)


def small(spec: MorseSpec, per_class=SMALL) -> MorseSpec:
    return dataclasses.replace(spec, per_class=per_class)


def decode(frame: np.ndarray, spec: MorseSpec):
    """Independent run-length decoder of a noise-free frame: code, mark and gap lengths, lead."""
    on = np.concatenate([[0], (frame > 0).astype(int), [0]])
    edges = np.diff(on)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    marks = ends - starts
    code = "".join("." if length <= spec.dot_max * spec.dilation else "-" for length in marks)
    return code, marks, starts[1:] - ends[:-1], starts[0]


# ----------------------------------------------------------------- codebook
def test_codebook_order_is_length_then_binary_value():
    codes = [code for _, code in MORSE_CODEBOOK]
    key = [(len(c), int(c.replace(".", "0").replace("-", "1"), 2)) for c in codes]
    assert key == sorted(key)
    assert len(MORSE_CODEBOOK) == 64 and len(set(codes)) == 63
    assert len({name for name, _ in MORSE_CODEBOOK}) == 64
    # The duplicate: '(' right before 'H^', both -.--.
    assert MORSE_CODEBOOK[44:46] == (("(", "-.--."), ("H^", "-.--."))
    assert [len([c for c in codes if len(c) == n]) for n in range(1, 7)] == [2, 4, 8, 16, 22, 12]


def test_dedup_drops_only_h_circumflex():
    dedup = morse_codebook("dedup")
    assert len(dedup) == 63 and len({code for _, code in dedup}) == 63
    assert [entry for entry in MORSE_CODEBOOK if entry[0] != "H^"] == list(dedup)


# ----------------------------------------------------------------- generation invariants
NOISE_FREE = {
    "baseline": MorseSpec(),
    "leading-space": MorseSpec(leading_space=True),
    "dilation-2": MorseSpec(dilation=2),
    "bw": MorseSpec(style="BW"),
    "dedup": MorseSpec(codebook="dedup"),
    "wide-frame-short-spaces": MorseSpec(frame_len=80, space_min=2, space_max=2),
}


@pytest.mark.parametrize("name", NOISE_FREE)
def test_every_codeword_decodes_back_from_noise_free_frames(name):
    spec = small(NOISE_FREE[name], (4, 1, 1))
    data = generate_morse(spec, seed=1)
    dot, dash, space = spec.lengths("dot"), spec.lengths("dash"), spec.lengths("space")
    for split in ("tr", "va", "te"):
        labels = as_labels(data[f"y{split}"])
        for frame, label in zip(data[f"x{split}"], labels, strict=True):
            code, marks, gaps, lead = decode(frame, spec)
            assert code == spec.codes[label]
            for symbol, length in zip(code, marks, strict=True):
                low, high = dot if symbol == "." else dash
                assert low <= length <= high
            assert all(space[0] <= gap <= space[1] for gap in gaps)
            if not spec.leading_space:
                assert lead == 0


def test_leading_spaces_move_the_codeword():
    data = generate_morse(small(MorseSpec(leading_space=True), (20, 0, 0)), seed=0)
    first = np.argmax(data["xtr"] > 0, axis=1)
    assert first.min() == 0 and first.max() > 20


SPECS = {
    "baseline": MorseSpec(),
    "difficult": MORSE_PRESETS["difficult"],
    "legacy": MORSE_PRESETS["legacy"],
    "bw-flip-2": MORSE_PRESETS["bw-flip-2"],
    "dilation-2": MORSE_PRESETS["dilation-2"],
    "noise-mean": MorseSpec(noise_mean=3.0),
}


@pytest.mark.parametrize("name", SPECS)
def test_same_seed_same_bytes_other_seed_other_bytes(name):
    spec = small(SPECS[name])
    first, again = generate_morse(spec, seed=7), generate_morse(spec, seed=7)
    other = generate_morse(spec, seed=8)
    assert list(first) == list(KEYS)
    for key in KEYS:
        assert first[key].tobytes() == again[key].tobytes()
    assert first["xtr"].tobytes() != other["xtr"].tobytes()
    threaded = generate_morse(spec, seed=np.random.default_rng(7))
    assert threaded["xtr"].tobytes() == first["xtr"].tobytes()


@pytest.mark.parametrize("name", SPECS)
def test_shapes_dtypes_balance_and_value_grid(name):
    spec = small(SPECS[name])
    data = generate_morse(spec, seed=0)
    for split, count in zip(("tr", "va", "te"), spec.per_class, strict=True):
        x, y = data[f"x{split}"], data[f"y{split}"]
        assert x.shape == (count * 64, spec.input_features) and x.dtype == np.float32
        assert y.shape == (count * 64, 64) and y.dtype == np.uint8
        assert (y.sum(axis=1) == 1).all()
        assert np.bincount(as_labels(y), minlength=64).tolist() == [count] * 64
        assert x.min() >= 0 and x.max() <= 1 and not np.signbit(x).any()
        if spec.style == "BW":
            step = 1
        elif spec.round_mode == "integer_levels":
            step = spec.levels
        else:
            step = 10**spec.decimals
        grid = x.astype(np.float64) * step
        np.testing.assert_allclose(grid, np.round(grid), atol=1e-3)
    # Splits are shuffled: labels are not in class blocks.
    assert not (np.diff(as_labels(data["ytr"])) >= 0).all()


def test_bw_flips_touch_at_most_max_flip_positions():
    # Separate random streams: turning flips on keeps every clean frame, so the difference
    # between the two draws is exactly the flips.
    clean = generate_morse(small(MorseSpec(style="BW"), (30, 0, 0)), seed=3)
    noisy = generate_morse(small(MorseSpec(style="BW", max_flip=3), (30, 0, 0)), seed=3)
    assert (clean["ytr"] == noisy["ytr"]).all()
    flipped = (clean["xtr"] != noisy["xtr"]).sum(axis=1)
    assert flipped.max() == 3 and set(flipped.tolist()) == {0, 1, 2, 3}


def test_gray_noise_is_added_around_the_clean_frame():
    clean = generate_morse(small(MorseSpec(), (30, 0, 0)), seed=3)["xtr"]
    noisy = generate_morse(small(MorseSpec(noise_sd=1.0), (30, 0, 0)), seed=3)["xtr"]
    difference = (noisy - clean) * 16  # noise in level units, clipped at 0 in the spaces
    assert 0.5 < difference[clean > 0].std() < 1.5
    assert (noisy[clean == 0] >= 0).all() and (noisy[clean == 0] > 0).mean() > 0.3


def test_mark_mask_matches_a_loop():
    rng = np.random.default_rng(0)
    marks = rng.integers(1, 4, size=(50, 3))
    spaces = rng.integers(0, 3, size=(50, 2))
    leading = rng.integers(0, 5, size=50)
    mask = mark_mask(marks, spaces, leading, 20)
    for row in range(50):
        expected = np.zeros(20, dtype=bool)
        position = leading[row]
        for k in range(3):
            expected[position : position + marks[row, k]] = True
            position += marks[row, k] + (spaces[row, k] if k < 2 else 0)
        assert (mask[row] == expected).all()


# ----------------------------------------------------------------- specs, presets, names
IMPOSSIBLE = {
    "codeword longer than frame": (dict(frame_len=56), ["'-----'", "class 51", "57", "56"]),
    "dash too long": (dict(dash_max=12), ["'-----'", "72", "= 64"]),
    "dilation overflows": (dict(dilation=2, frame_len=28), ["114", "28 × 2 = 56"]),
    "dot min above max": (dict(dot_min=4, dot_max=3), ["dot_min = 4", "dot_max = 3"]),
    "dash min above max": (dict(dash_min=9, dash_max=5), ["dash_min = 9", "dash_max = 5"]),
    "space min above max": (dict(space_min=3, space_max=1), ["space_min = 3", "space_max = 1"]),
    "negative noise sd": (dict(noise_sd=-1.0), ["noise_sd", "-1.0"]),
    "negative symbol sd": (dict(symbol_sd=-0.5), ["symbol_sd", "-0.5"]),
    "infinite noise": (dict(noise_sd=float("inf")), ["noise_sd", "finite"]),
    "zero dot": (dict(dot_min=0), ["dot_min", "at least 1", "0"]),
    "zero dilation": (dict(dilation=0), ["dilation", "0"]),
    "float frame": (dict(frame_len=64.0), ["frame_len", "integer"]),
    "two split sizes": (dict(per_class=(1, 2)), ["3 counts", "(1, 2)"]),
    "negative split": (dict(per_class=(5, -1, 1)), ["val", "-1"]),
    "no samples": (dict(per_class=(0, 0, 0)), ["no samples"]),
    "unknown style": (dict(style="RGB"), ["GRAY, BW", "'RGB'"]),
    "unknown codebook": (dict(codebook="new"), ["faithful, dedup", "'new'"]),
    "flips in gray": (dict(max_flip=2), ["max_flip = 2", "BW"]),
    "gaussian noise in bw": (dict(style="BW", noise_sd=1.0), ["noise_sd = 1.0", "GRAY"]),
    "more flips than positions": (dict(style="BW", max_flip=65), ["65", "64 positions"]),
}


@pytest.mark.parametrize("case", IMPOSSIBLE)
def test_impossible_specs_raise_with_numbers(case):
    knobs, fragments = IMPOSSIBLE[case]
    with pytest.raises(ValueError) as error:
        MorseSpec(**knobs)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_longest_default_codeword_fits_exactly_57():
    MorseSpec(frame_len=57)
    with pytest.raises(ValueError, match="needs up to 57"):
        MorseSpec(frame_len=56)


def test_seed_is_validated():
    with pytest.raises(ValueError, match="non-negative"):
        generate_morse(small(MorseSpec()), seed=-1)


@pytest.mark.parametrize("name", MORSE_PRESETS)
def test_every_preset_is_documented_and_generates(name):
    spec = morse_preset(name)
    assert PRESET_NOTES[name]
    data = generate_morse(small(spec, (1, 1, 0)), seed=0)
    assert data["xtr"].shape == (64, spec.input_features)
    assert MorseSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_presets_of_the_spec():
    assert morse_preset("baseline") == MorseSpec()
    difficult = morse_preset("difficult")
    assert (difficult.noise_sd, difficult.leading_space, difficult.dash_min) == (4.0, True, 3)
    assert dataclasses.replace(difficult, noise_sd=0.0, leading_space=False, dash_min=4) == (
        MorseSpec()
    )
    assert morse_preset("dilation-4").input_features == 256
    with pytest.raises(ValueError, match="baseline, difficult"):
        morse_preset("nope")


FILENAMES = {
    "baseline": (MorseSpec(), "morseGRAY448000_64i64o_noisesd0_lsp0_dash49.npz"),
    "difficult": (MORSE_PRESETS["difficult"], "morseGRAY448000_64i64o_noisesd4_lsp1_dash39.npz"),
    "fractional noise": (
        MorseSpec(noise_sd=0.5, per_class=(10, 0, 0)),
        "morseGRAY640_64i64o_noisesd0.5_lsp0_dash49.npz",
    ),
    "bw": (MorseSpec(style="BW", max_flip=2), "morseBW448000_64i64o_noise2_lsp0.npz"),
    "dilated dedup": (
        MorseSpec(dilation=4, codebook="dedup"),
        "morseGRAY441000_256i63o_noisesd0_lsp0_dash49_dil4.npz",
    ),
    "other knobs": (
        MorseSpec(dot_min=2, space_max=2, dash_max=12, round_mode="integer_levels", frame_len=80),
        "morseGRAY448000_80i64o_noisesd0_lsp0_dash4-12_dot23_sp12_intlev.npz",
    ),
}


@pytest.mark.parametrize("case", FILENAMES)
def test_default_filename_encodes_the_knobs(case):
    spec, expected = FILENAMES[case]
    assert default_filename(spec) == expected


def test_spec_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown MorseSpec field"):
        MorseSpec.from_dict({"noise": 1})


# ----------------------------------------------------------------- files
@pytest.fixture
def saved(tmp_path):
    spec = small(MORSE_PRESETS["difficult"])
    data = generate_morse(spec, seed=5)
    path = save_morse(data, tmp_path / "m.npz", spec=spec, seed=5)
    return path, data, spec


def test_save_load_round_trip(saved):
    path, data, spec = saved
    loaded = load_morse(path)
    assert list(loaded) == list(KEYS)
    for key in KEYS:
        assert loaded[key].dtype == data[key].dtype
        assert loaded[key].tobytes() == data[key].tobytes()
    assert load_morse_spec(path) == spec


def test_save_refuses_to_overwrite(saved):
    path, data, spec = saved
    with pytest.raises(FileExistsError, match="--force"):
        save_morse(data, path, spec=spec)
    save_morse(data, path, spec=spec, overwrite=True, compress=False)
    assert load_morse(path)["xte"].tobytes() == data["xte"].tobytes()


def test_interchange_files_without_header_load(tmp_path, saved):
    _, data, _ = saved
    old = {"xtrain": "xtr", "ytrain": "ytr", "xval": "xva", "yval": "yva"}
    old |= {"xtest": "xte", "ytest": "yte"}
    np.savez(tmp_path / "dey.npz", **{name: data[key] for name, key in old.items()})
    loaded = load_morse(tmp_path / "dey.npz")
    assert all(loaded[key].tobytes() == data[key].tobytes() for key in KEYS)
    assert load_morse_spec(tmp_path / "dey.npz") is None


def rewrite(path, name="bad.npz", **changes):
    """Copy the arrays of ``path`` (header included) into file ``name`` with some replaced."""
    with np.load(path) as file:
        arrays = {name: file[name] for name in file.files}
    arrays.update(changes)
    arrays = {name: value for name, value in arrays.items() if value is not None}
    target = path.with_name(name)
    np.savez(target, **arrays)
    return target


def test_load_refuses_bad_files(saved, tmp_path):
    path, data, spec = saved
    cases = {
        "no such file": (tmp_path / "absent.npz", "no such file"),
        "missing key": (rewrite(path, "a.npz", yte=None, header=None), "missing key"),
        "altered array": (rewrite(path, "b.npz", xtr=data["xtr"] * 0.5), "checksum"),
    }
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    cases["not npz"] = (tmp_path / "junk.npz", "not a readable")
    for bad, message in cases.values():
        with pytest.raises(ValueError, match=message):
            load_morse(bad)


HEADERLESS = {
    "rows of x and y differ": (dict(ytr=lambda d: d["ytr"][:-1]), "rows"),
    "features differ": (dict(xva=lambda d: d["xva"][:, :10]), "number of features"),
    "not one-hot": (dict(yte=lambda d: d["yte"] * 2), "not one-hot"),
    "x not 2-D": (dict(xtr=lambda d: d["xtr"].ravel()), "2-D numeric"),
}


@pytest.mark.parametrize("case", HEADERLESS)
def test_load_refuses_mismatched_arrays(saved, case):
    path, data, _ = saved
    changes, message = HEADERLESS[case]
    bad = rewrite(path, header=None, **{key: make(data) for key, make in changes.items()})
    with pytest.raises(ValueError, match=message):
        load_morse(bad)


def test_load_refuses_arrays_that_disagree_with_the_header_spec(saved):
    path, data, spec = saved
    other = generate_morse(small(spec, (3, 2, 2)), seed=0)
    save_morse(other, path, spec=small(spec, (3, 2, 2)), overwrite=True)
    with np.load(path) as file:
        header = json.loads(file["header"].tobytes())
    header["spec"]["per_class"] = list(SMALL)
    forged = rewrite(path, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"shape \(192, 64\) but the spec gives \(384, 64\)"):
        load_morse(forged)
    with pytest.raises(ValueError, match="spec gives"):
        save_morse(other, path.with_name("x.npz"), spec=spec)


def test_truncated_file_is_refused(saved):
    path, _, _ = saved
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="not a readable"):
        load_morse(path)
