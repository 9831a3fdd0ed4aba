"""A tiny learnable dataset as an interchange ``.npz`` (4 Gaussian blobs in 16 dimensions)."""

import numpy as np
import pytest


def write_blobs(path, *, features=16, classes=4, per_class=(64, 16, 16), seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(classes, features))
    arrays = {}
    for split, count in zip(("tr", "va", "te"), per_class, strict=True):
        labels = np.repeat(np.arange(classes), count)
        rng.shuffle(labels)
        arrays[f"x{split}"] = (centres[labels] + rng.normal(size=(len(labels), features))).astype(
            np.float32
        )
        arrays[f"y{split}"] = labels.astype(np.int64)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def blobs(tmp_path):
    """Path of a 16-feature, 4-class dataset: 256/64/64 samples."""
    return write_blobs(tmp_path / "blobs.npz")
