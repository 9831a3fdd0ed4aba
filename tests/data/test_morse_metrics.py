"""Difficulty metrics: hand-computed tiny datasets, a loop-by-loop reference, Morse presets."""

import dataclasses
import math
import warnings

import numpy as np
import pytest

from neurofabric.data.morse import generate_morse, morse_preset
from neurofabric.data.morse_metrics import (
    class_statistics,
    dataset_metrics,
    difficulty_metrics,
)


def Q(t: float) -> float:
    return 0.5 * math.erfc(t / math.sqrt(2))


# ----------------------------------------------------------------- hand-computed example
# Three classes in two features:
#   A: (0,0) (2,0)             centroid (1,0)  per-dim variances (1,0)  σ² = 0.5
#   B: (4,0) (4,2)             centroid (4,1)  per-dim variances (0,1)  σ² = 0.5
#   C: (0,4) (2,4) (0,4) (2,4) centroid (1,4)  per-dim variances (1,0)  σ² = 0.5
# priors 1/4, 1/4, 1/2;  d(A,B) = √10, d(A,C) = 4, d(B,C) = √18;  d_min = √10, √10, 4;
# d1(A,B) = (3+1)/2 = 2, d1(A,C) = (0+4)/2 = 2, d1(B,C) = (3+3)/2 = 3;  threshold 2.5.
X = np.array([[0, 0], [2, 0], [4, 0], [4, 2], [0, 4], [2, 4], [0, 4], [2, 4]], dtype=float)
Y = np.array([0, 0, 1, 1, 2, 2, 2, 2])
S = math.sqrt(0.5)  # σ of every class; 2σ = √2 and 2σ² = 1

HAND = {
    "corrected": {
        "V_lower": 0.25 * Q(math.sqrt(10) / (2 * S)) * 2 + 0.5 * Q(4 / (2 * S)),
        "V_upper": 0.25 * (Q(math.sqrt(10) / (2 * S)) + Q(4 / (2 * S)))
        + 0.25 * (Q(math.sqrt(10) / (2 * S)) + Q(math.sqrt(18) / (2 * S)))
        + 0.5 * (Q(4 / (2 * S)) + Q(math.sqrt(18) / (2 * S))),
        "V_dist": (S / math.sqrt(10) + S / math.sqrt(10) + S / 4) / 3,
        "V_thresh": 4,  # (A,B) (B,A) (A,C) (C,A)
    },
    "code": {
        "V_lower": 0.25 * Q(math.sqrt(10)) * 2 + 0.5 * Q(4),
        # j pinned to K − 2 = 1 (class B): B's own terms are Q(0) = 1/2, K − 1 = 2 of each.
        "V_upper": 0.25 * 2 * Q(math.sqrt(10)) + 0.25 * 2 * 0.5 + 0.5 * 2 * Q(math.sqrt(18)),
        "V_dist": (0.5 / math.sqrt(10) + 0.5 / math.sqrt(10) + 0.5 / 4) / 3,
        "V_thresh": 2,  # (B,A) and (C,A); d1(C,B) = 3
    },
}


def test_class_statistics_by_hand():
    stats = class_statistics(X, Y)
    np.testing.assert_allclose(stats.priors, [0.25, 0.25, 0.5])
    np.testing.assert_allclose(stats.centroids, [[1, 0], [4, 1], [1, 4]])
    np.testing.assert_allclose(stats.variances, [0.5, 0.5, 0.5])
    r10, r18 = math.sqrt(10), math.sqrt(18)
    np.testing.assert_allclose(stats.distances, [[0, r10, 4], [r10, 0, r18], [4, r18, 0]])
    np.testing.assert_allclose(stats.mean_abs_distances, [[0, 2, 2], [2, 0, 3], [2, 3, 0]])
    np.testing.assert_allclose(stats.nearest, [r10, r10, 4])


@pytest.mark.parametrize("variant", HAND)
@pytest.mark.parametrize("labels", ["integer", "one-hot"])
def test_metrics_by_hand(variant, labels):
    y = Y if labels == "integer" else np.eye(3)[Y]
    metrics = difficulty_metrics(X, y, variant=variant, threshold=2.5)
    for key, expected in HAND[variant].items():
        assert getattr(metrics, key) == pytest.approx(expected, rel=1e-12), key
    info = metrics.to_dict()
    assert list(info)[:4] == ["V_lower", "V_upper", "V_dist", "V_thresh"]
    assert (info["variant"], info["dim_variance"], info["threshold"]) == (variant, "mean", 2.5)


def test_median_of_per_dimension_variances_by_hand():
    # Per-dim variances are (1,0), (0,1), (1,0): their median (of two) is 0.5 again, while a
    # third feature that never varies drags the median to 0 and the mean to 1/3.
    x3 = np.column_stack([X, np.zeros(len(X))])
    np.testing.assert_allclose(class_statistics(x3, Y).variances, [1 / 3] * 3)
    with pytest.warns(UserWarning, match="degenerate on noise-free data"):
        metrics = difficulty_metrics(x3, Y, dim_variance="median", threshold=2.5)
    # σ = 0: Q(d/0) = 0 for d > 0 and σ/d_min = 0; the thresholds do not use σ at all.
    assert (metrics.V_lower, metrics.V_upper, metrics.V_dist) == (0.0, 0.0, 0.0)
    assert metrics.V_thresh == 6  # d1 is now 4/3, 4/3 and 2: every ordered pair is below 2.5


# ----------------------------------------------------------------- zero conventions
def test_equal_centroids_zero_distance_conventions():
    # Classes 0 and 1 share centroid (1,0) and σ² = 0.5; class 2 is far away.
    x = np.array([[0, 0], [2, 0], [1, 1], [1, -1], [10, 10], [12, 10]], dtype=float)
    y = np.array([0, 0, 1, 1, 2, 2])
    corrected = difficulty_metrics(x, y)
    code = difficulty_metrics(x, y, variant="code")
    assert corrected.V_dist == code.V_dist == math.inf
    # d_min = 0 for classes 0 and 1: Q(0) = 1/2 each; class 2 is ~13 away at σ ≈ 0.7.
    assert corrected.V_lower == pytest.approx((1 / 3) * 0.5 * 2, abs=1e-12)
    # The exact-zero pair counts in the corrected variant, the code variant drops it.
    assert corrected.V_thresh == 2 and code.V_thresh == 0


def test_constant_classes_with_the_mean_give_zero_without_warning():
    x = np.array([[0.0, 0], [0, 0], [1, 0], [1, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = difficulty_metrics(x, np.array([0, 0, 1, 1]))
    assert (metrics.V_lower, metrics.V_upper, metrics.V_dist) == (0.0, 0.0, 0.0)


# ----------------------------------------------------------------- loop reference
def reference(x, y, variant, threshold):
    """The formulas of SPEC §8.4, one sample and one pair at a time."""
    classes = int(y.max()) + 1
    n, features = x.shape
    totals = np.zeros((classes, features))
    counts = np.zeros(classes)
    for row, label in zip(x, y, strict=True):
        totals[label] += row
        counts[label] += 1
    centroids = totals / counts[:, None]
    squares = np.zeros((classes, features))
    for row, label in zip(x, y, strict=True):
        squares[label] += (row - centroids[label]) ** 2
    var = (squares / counts[:, None]).mean(axis=1)
    d = np.zeros((classes, classes))
    d1 = np.zeros((classes, classes))
    for m in range(classes):
        for j in range(classes):
            d[m, j] = math.sqrt(sum((centroids[m] - centroids[j]) ** 2))
            d1[m, j] = sum(abs(centroids[m] - centroids[j])) / features
    dmin = [min(d[m, j] for j in range(classes) if j != m) for m in range(classes)]
    spread = [math.sqrt(v) for v in var] if variant == "corrected" else list(var)
    lower = sum(counts[m] / n * Q(dmin[m] / (2 * spread[m])) for m in range(classes))
    upper = 0.0
    for m in range(classes):
        if variant == "corrected":
            inner = sum(Q(d[m, j] / (2 * spread[m])) for j in range(classes) if j != m)
        else:
            inner = (classes - 1) * Q(d[m, classes - 2] / (2 * spread[m]))
        upper += counts[m] / n * inner
    dist = sum(spread[m] / dmin[m] for m in range(classes)) / classes
    if variant == "corrected":
        pairs = [(m, j) for m in range(classes) for j in range(classes) if j != m]
        thresh = sum(d1[m, j] < threshold for m, j in pairs)
    else:
        thresh = sum(0 < d1[m, j] < threshold for m in range(classes) for j in range(m))
    return {"V_lower": lower, "V_upper": upper, "V_dist": dist, "V_thresh": thresh}


@pytest.mark.parametrize("variant", ["corrected", "code"])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_the_loop_reference(variant, seed):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(5), rng.integers(0, 5, size=60)])
    x = rng.normal(size=(65, 6)) * 0.3 + y[:, None] * rng.normal(size=6) * 0.2
    metrics = difficulty_metrics(x, y, variant=variant, threshold=0.15)
    for key, expected in reference(x, y, variant, 0.15).items():
        assert getattr(metrics, key) == pytest.approx(expected, rel=1e-10), key


def test_code_variant_depends_on_class_order_corrected_does_not():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(4), 10)
    x = rng.normal(size=(40, 3)) + y[:, None] * np.array([0.5, 1.0, 0.2])
    swap = np.array([0, 1, 3, 2])[y]  # classes 2 and 3 trade places: K − 2 is another class
    for variant, same in (("corrected", True), ("code", False)):
        a = difficulty_metrics(x, y, variant=variant).V_upper
        b = difficulty_metrics(x, swap, variant=variant).V_upper
        assert (a == pytest.approx(b)) is same


# ----------------------------------------------------------------- Morse presets
@pytest.fixture(scope="module")
def presets():
    return {
        name: generate_morse(
            dataclasses.replace(morse_preset(name), per_class=(100, 20, 20)), seed=0
        )
        for name in ("baseline", "difficult")
    }


@pytest.mark.parametrize("variant", ["corrected", "code"])
@pytest.mark.parametrize("key", ["V_lower", "V_upper", "V_dist", "V_thresh"])
def test_difficult_is_harder_than_baseline(presets, variant, key):
    baseline = dataset_metrics(presets["baseline"], variant=variant)
    difficult = dataset_metrics(presets["difficult"], variant=variant)
    assert getattr(difficult, key) > 1.5 * getattr(baseline, key)


def test_dataset_metrics_pools_the_splits(presets):
    data = presets["baseline"]
    x = np.concatenate([data[k] for k in ("xtr", "xva", "xte")])
    y = np.concatenate([data[k] for k in ("ytr", "yva", "yte")])
    assert dataset_metrics(data) == difficulty_metrics(x, y)
    as_integers = {k: (v.argmax(1) if k.startswith("y") else v) for k, v in data.items()}
    assert dataset_metrics(as_integers, variant="code") == difficulty_metrics(x, y, variant="code")


# ----------------------------------------------------------------- errors
ERRORS = {
    "one class": (dict(x=X[:2], y=Y[:2]), "at least 2 classes, got 1"),
    "empty class": (dict(x=X, y=np.eye(4)[Y]), r"class\(es\) \[3\] have no samples"),
    "lengths differ": (dict(x=X, y=Y[:-1]), "8 samples but y has 7"),
    "unknown variant": (dict(x=X, y=Y, variant="paper"), "corrected, code"),
    "unknown collapse": (dict(x=X, y=Y, dim_variance="max"), "mean, median"),
    "negative threshold": (dict(x=X, y=Y, threshold=-1.0), "-1.0"),
    "float labels": (dict(x=X, y=Y.astype(float)), "one-hot"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors(case):
    kwargs, message = ERRORS[case]
    with pytest.raises(ValueError, match=message):
        difficulty_metrics(**kwargs)
