"""Difficulty metrics of a classification dataset, computed before any learning (SPEC §8.4).

Dey, Chugg and Beerel (ICCCNT 2018) score a dataset by how far apart its class centroids are
compared with the spread of each class. Pool all samples, flatten them, and for each class ``m``
take the prior ``p_m``, the centroid ``c_m`` and the per-dimension population variances,
averaged (or, optionally, the median) to ``σ²_m``. With ``d(m, j) = ‖c_m − c_j‖₂``,
``d1(m, j) = ‖c_m − c_j‖₁ / N_0`` (``N_0`` features), ``d_min(m) = min_{j≠m} d(m, j)``,
``Q = 1 − Φ`` and ``K`` classes:

========= ======================================= =========================================
metric    ``variant="corrected"`` (published)     ``variant="code"`` (Dey's code as written)
========= ======================================= =========================================
V_lower   ``Σ_m p_m Q(d_min(m) / 2σ_m)``          ``Σ_m p_m Q(d_min(m) / 2σ²_m)``
V_upper   ``Σ_m p_m Σ_{j≠m} Q(d(m, j) / 2σ_m)``   ``Σ_m p_m (K − 1) Q(d(m, K − 2) / 2σ²_m)``
V_dist    ``(1/K) Σ_m σ_m / d_min(m)``            ``(1/K) Σ_m σ²_m / d_min(m)``
V_thresh  ``#{(m, j), j ≠ m : d1(m, j) < t}``     ``#{(m, j), j < m : 0 < d1(m, j) < t}``
========= ======================================= =========================================

The code variant divides by the variance where the paper has the standard deviation, and a stale
loop index pins ``j`` to ``K − 2`` in V_upper, so class ``K − 2`` contributes ``Q(0) = 1/2`` per
term and the value depends on the class order: compare code-variant values only under one order.
V_upper is a union bound and may exceed 1. Larger values mean a harder dataset for all four.

Divisions by zero follow one rule: ``0/0 = 0`` and ``a/0 = ∞`` for ``a > 0``. So a class with
``σ_m = 0`` gives ``Q(d/0) = 0`` for ``d > 0``, ``Q(0) = 1/2`` for ``d = 0``, and
``σ_m / d_min = 0``; two classes with equal centroids give ``V_dist = ∞``.

Example:
    >>> x = np.array([[0.0, 0], [2, 0], [4, 0], [4, 2]])
    >>> metrics = difficulty_metrics(x, np.array([0, 0, 1, 1]), threshold=2.5)
    >>> round(metrics.V_dist, 4), metrics.V_thresh  # σ = √0.5, d_min = √10 for both classes
    (0.2236, 2)

References:
    S. Dey, K. M. Chugg, P. A. Beerel, "Morse Code Datasets for Machine Learning", ICCCNT 2018.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy.special import ndtr

from neurofabric.data.morse import SPLITS, as_labels

Variant = Literal["corrected", "code"]
DimVariance = Literal["mean", "median"]
VARIANTS = ("corrected", "code")
DIM_VARIANCES = ("mean", "median")


@dataclass(frozen=True)
class DifficultyMetrics:
    """The four difficulty metrics of one dataset and the options they were computed with."""

    V_lower: float  # lower bound on the error of a nearest-centroid Gaussian model
    V_upper: float  # union (upper) bound on that error; may exceed 1
    V_dist: float  # mean spread-to-nearest-centroid ratio
    V_thresh: int  # class pairs whose centroids differ by less than `threshold` per feature
    variant: Variant
    dim_variance: DimVariance
    threshold: float

    def to_dict(self) -> dict[str, float | int | str]:
        """JSON-ready values, keys ``V_lower, V_upper, V_dist, V_thresh`` first."""
        return asdict(self)


@dataclass(frozen=True)
class ClassStatistics:
    """Per-class quantities the metrics are built from (``K`` classes, ``N_0`` features)."""

    priors: np.ndarray  # (K,) p_m
    centroids: np.ndarray  # (K, N_0) c_m
    variances: np.ndarray  # (K,) σ²_m: mean (or median) of the per-dimension variances
    distances: np.ndarray  # (K, K) d(m, j), L2
    mean_abs_distances: np.ndarray  # (K, K) d1(m, j), L1 / N_0

    @property
    def nearest(self) -> np.ndarray:
        """``(K,)`` d_min(m): L2 distance to the nearest other centroid."""
        off_diagonal = self.distances + np.diag(np.full(len(self.priors), np.inf))
        return off_diagonal.min(axis=1)


def class_statistics(
    x: np.ndarray, y: np.ndarray, *, dim_variance: DimVariance = "mean"
) -> ClassStatistics:
    """Priors, centroids, collapsed variances and centroid distances of a labelled dataset.

    Args:
        x: ``(N, …)`` samples; flattened to ``(N, N_0)``.
        y: ``(N, K)`` one-hot or ``(N,)`` integer labels; every class needs a sample.
        dim_variance: Collapse the per-dimension population variances by ``"mean"`` or
            ``"median"``.

    Raises:
        ValueError: On mismatched lengths, fewer than 2 classes, or a class without samples.
    """
    _choice("dim_variance", dim_variance, DIM_VARIANCES)
    x = np.asarray(x)
    x = x.reshape(len(x), -1)
    labels = as_labels(y)
    if len(labels) != len(x):
        raise ValueError(f"x has {len(x)} samples but y has {len(labels)} labels")
    classes = np.asarray(y).shape[1] if np.asarray(y).ndim == 2 else int(labels.max()) + 1
    if classes < 2:
        raise ValueError(f"difficulty metrics need at least 2 classes, got {classes}")
    counts = np.bincount(labels, minlength=classes)
    if (counts == 0).any():
        empty = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"class(es) {empty} have no samples; every one of {classes} needs one")
    # Sorting by label makes every class a contiguous block: one pass, no per-class masks.
    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    centroids = np.empty((classes, x.shape[1]))
    variances = np.empty(classes)
    collapse = np.mean if dim_variance == "mean" else np.median
    for m in range(classes):
        block = x[order[bounds[m] : bounds[m + 1]]].astype(np.float64)
        centroids[m] = block.mean(axis=0)
        # Two passes (deviations from the centroid), not E[x²] − c², to avoid cancellation.
        variances[m] = collapse(np.mean((block - centroids[m]) ** 2, axis=0))
    distances = np.empty((classes, classes))
    mean_abs_distances = np.empty((classes, classes))
    for m in range(classes):  # row by row: K × N_0 memory even for wide inputs
        difference = centroids - centroids[m]  # (K, N_0)
        distances[m] = np.sqrt(np.einsum("jf,jf->j", difference, difference))
        mean_abs_distances[m] = np.abs(difference).sum(axis=1) / x.shape[1]
    return ClassStatistics(
        priors=counts / len(labels),
        centroids=centroids,
        variances=variances,
        distances=distances,
        mean_abs_distances=mean_abs_distances,
    )


def difficulty_metrics(
    x: np.ndarray,
    y: np.ndarray,
    *,
    variant: Variant = "corrected",
    dim_variance: DimVariance = "mean",
    threshold: float = 0.05,
) -> DifficultyMetrics:
    """V_lower, V_upper, V_dist and V_thresh of a dataset (see the module docstring).

    Args:
        x: ``(N, …)`` samples of all splits pooled.
        y: ``(N, K)`` one-hot or ``(N,)`` integer labels.
        variant: ``"corrected"`` (the published formulas) or ``"code"`` (Dey's code as written).
        dim_variance: ``"mean"`` (default, as published) or ``"median"`` of the per-dimension
            variances. The median is 0 for many classes of noise-free data; a warning says so.
        threshold: ``t`` of V_thresh, in the units of ``x`` per feature.

    Raises:
        ValueError: On an unknown option, a negative threshold, or the errors of
            :func:`class_statistics`.
    """
    _choice("variant", variant, VARIANTS)
    if not threshold >= 0:
        raise ValueError(f"threshold must be a non-negative number, got {threshold}")
    stats = class_statistics(x, y, dim_variance=dim_variance)
    if dim_variance == "median" and (stats.variances == 0).any():
        warnings.warn(
            f"the median per-dimension variance is 0 for {int((stats.variances == 0).sum())} "
            "classes: the median is degenerate on noise-free data (use the mean)",
            stacklevel=2,
        )
    classes = len(stats.priors)
    nearest = stats.nearest
    off_diagonal = ~np.eye(classes, dtype=bool)
    if variant == "corrected":
        spread = np.sqrt(stats.variances)  # σ_m
        lower = stats.priors @ _q(nearest, 2 * spread)
        pair_q = _q(stats.distances, 2 * spread[:, None])  # (K, K), row m uses σ_m
        upper = stats.priors @ np.where(off_diagonal, pair_q, 0.0).sum(axis=1)
        dist = _ratio(spread, nearest).mean()
        thresh = int((off_diagonal & (stats.mean_abs_distances < threshold)).sum())
    else:
        spread = stats.variances  # σ²_m where the paper has σ_m
        lower = stats.priors @ _q(nearest, 2 * spread)
        # The stale inner-loop index: j is K − 2 for every m, and K − 1 equal terms.
        upper = stats.priors @ ((classes - 1) * _q(stats.distances[:, classes - 2], 2 * spread))
        dist = _ratio(spread, nearest).mean()
        below = np.tril(off_diagonal) & (stats.mean_abs_distances > 0)
        thresh = int((below & (stats.mean_abs_distances < threshold)).sum())
    return DifficultyMetrics(
        V_lower=float(lower),
        V_upper=float(upper),
        V_dist=float(dist),
        V_thresh=thresh,
        variant=variant,
        dim_variance=dim_variance,
        threshold=float(threshold),
    )


def dataset_metrics(
    data: Mapping[str, np.ndarray],
    *,
    variant: Variant = "corrected",
    dim_variance: DimVariance = "mean",
    threshold: float = 0.05,
) -> DifficultyMetrics:
    """:func:`difficulty_metrics` of the train, validation and test splits pooled.

    Args:
        data: ``xtr, ytr, xva, yva, xte, yte`` (as :func:`~neurofabric.data.morse.load_morse`
            or :func:`~neurofabric.data.morse.generate_morse` return them).
        variant, dim_variance, threshold: As :func:`difficulty_metrics`.

    Example:
        >>> from neurofabric.data.morse import MorseSpec, generate_morse
        >>> data = generate_morse(MorseSpec(per_class=(20, 5, 5)), seed=0)
        >>> 0 < dataset_metrics(data).V_lower < dataset_metrics(data).V_upper
        True
    """
    x = np.concatenate([np.asarray(data[f"x{split}"]) for split in SPLITS])
    ys = [np.asarray(data[f"y{split}"]) for split in SPLITS]
    # One-hot labels keep their width K, so a class absent from every split is reported.
    y = (
        np.concatenate(ys)
        if all(y.ndim == 2 for y in ys)
        else np.concatenate([as_labels(y) for y in ys])
    )
    return difficulty_metrics(x, y, variant=variant, dim_variance=dim_variance, threshold=threshold)


def _q(distance: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``Q(distance / scale)`` with ``0/0 = 0`` (Q = 1/2) and ``d/0 = ∞`` (Q = 0)."""
    return ndtr(-_ratio(distance, scale))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator, denominator = np.broadcast_arrays(numerator, denominator)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return np.where(numerator == 0, 0.0, ratio)


def _choice(name: str, value: object, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}; got {value!r}")
