"""Scatter: how evenly a sparse pattern spreads its connections over windows of neurons.

Scatter (Dey et al., ITA 2018; SPEC §3) compares, for every neuron on one side of a junction,
the number of connections ``a`` it has to each window of neurons on the other side with the
number ``I`` a perfectly spread pattern of the same density would have. Each window scores
``min(a / I, 1)``; scores are averaged over windows, then over neurons. A fully connected
junction scores 1; a banded pattern whose neurons only see one window scores about
``1 / num_windows``. The whole net is scored the same way on the path-count matrix ``A``.

Counts are sparse products ``(mask @ membership)``, where ``membership[k, w]`` counts neuron
``k`` in window ``w``, so no Python loop runs over neurons.

Shape legend: ``n`` right (output) neurons, ``p`` left (input) neurons, ``w`` windows.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse

from neurofabric.topology.junction import Junction
from neurofabric.topology.paths import path_counts
from neurofabric.topology.topology import Topology
from neurofabric.topology.windows import default_windows, window_layers

DegreeSource = Literal["mean", "neuron0"]
_DEGREE_SOURCES = ("mean", "neuron0")


# --------------------------------------------------------------------------- helpers
def _check_degree_source(degree_source: str) -> None:
    if degree_source not in _DEGREE_SOURCES:
        raise ValueError(
            f"degree_source must be one of {', '.join(map(repr, _DEGREE_SOURCES))}, "
            f"got {degree_source!r}"
        )


def _check_windows(windows: object, size: int, name: str) -> np.ndarray:
    """Validate a ``(num_windows, window_size)`` array of indices into a layer of ``size``."""
    array = np.asarray(windows)
    if array.ndim != 2 or 0 in array.shape or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{name} must be a non-empty 2-D integer array (num_windows, window_size), "
            f"got shape {array.shape} and dtype {array.dtype}"
        )
    if array.min() < 0 or array.max() >= size:
        raise ValueError(
            f"{name} lies over a layer of {size} neurons, so its indices must lie in "
            f"[0, {size}), got range [{array.min()}, {array.max()}]"
        )
    return array.astype(np.int64, copy=False)


def _membership(windows: np.ndarray, size: int) -> scipy.sparse.csr_array:
    """``(size, num_windows)`` matrix: entry ``[k, w]`` counts neuron ``k`` in window ``w``."""
    num_windows, window_size = windows.shape
    data = np.ones(windows.size, dtype=np.int64)
    columns = np.repeat(np.arange(num_windows), window_size)
    return scipy.sparse.csr_array((data, (windows.ravel(), columns)), shape=(size, num_windows))


def _check_ideal(ideal: float, label: str) -> float:
    if not ideal > 0:
        raise ValueError(
            f"{label}: the ideal number of connections per window is {ideal}, so scatter is "
            "undefined (no edges or paths, or neuron 0 is isolated with degree_source='neuron0')"
        )
    return float(ideal)


def _is_integer(value: float) -> bool:
    return abs(value - round(value)) <= 1e-9 * max(1.0, abs(value))


def _warn_non_integer(ideals: list[tuple[str, float]], stacklevel: int = 3) -> None:
    """One warning per call, listing every entry whose ideal window count is not an integer."""
    odd = [f"{label} (ideal {ideal:.6g})" for label, ideal in ideals if not _is_integer(ideal)]
    if odd:
        warnings.warn(
            "the ideal number of connections per window is not an integer for "
            + ", ".join(odd)
            + "; windows are clipped at that fractional ideal",
            UserWarning,
            stacklevel=stacklevel,
        )


def _neuron_scores(counts: object, ideal: float) -> np.ndarray:
    """Mean over windows of ``min(count / ideal, 1)``, per neuron (row of ``counts``)."""
    if scipy.sparse.issparse(counts):
        coo = scipy.sparse.coo_array(counts)
        coo.sum_duplicates()
        # Windows with no connection score 0, so only stored counts contribute.
        ratios = np.minimum(coo.data / ideal, 1.0)
        totals = np.bincount(coo.row, weights=ratios, minlength=coo.shape[0])
        return totals / coo.shape[1]
    return np.minimum(np.asarray(counts, dtype=np.float64) / ideal, 1.0).mean(axis=1)


@dataclass(frozen=True)
class _Entry:
    """One scatter entry before averaging over the neurons that matter."""

    label: str
    scores: np.ndarray  # (neurons,) mean window score of each neuron
    ideal: float


def _junction_entries(
    junction: Junction,
    left: np.ndarray,
    right: np.ndarray,
    degree_source: str,
    name: str,
) -> tuple[_Entry, _Entry]:
    p, n = junction.in_features, junction.out_features
    if degree_source == "neuron0":
        forward_per_neuron = junction.fan_out[0] / n  # Dey: fo read off left neuron 0
        backward_per_neuron = junction.fan_in[0] / p  # Dey: fi read off right neuron 0
    else:
        forward_per_neuron = backward_per_neuron = junction.density
    mask = junction.to_csr(np.int64)  # (n, p)
    forward = f"{name} forward"
    backward = f"{name} backward"
    forward_ideal = _check_ideal(left.shape[1] * forward_per_neuron, forward)
    backward_ideal = _check_ideal(right.shape[1] * backward_per_neuron, backward)
    forward_counts = mask @ _membership(left, p)  # (n, w_left)
    backward_counts = mask.T @ _membership(right, n)  # (p, w_right)
    return (
        _Entry(forward, _neuron_scores(forward_counts, forward_ideal), forward_ideal),
        _Entry(backward, _neuron_scores(backward_counts, backward_ideal), backward_ideal),
    )


def _check_matter(name: str, value: object, limit: int, layer: str) -> int:
    if value is None:
        return limit
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not 1 <= value <= limit:
        raise ValueError(f"{name} must lie in [1, {limit}] ({limit} {layer}), got {value}")
    return int(value)


# --------------------------------------------------------------------------- public API
def junction_scatter(
    junction: Junction,
    left_windows: object,
    right_windows: object,
    *,
    degree_source: DegreeSource = "mean",
) -> tuple[float, float]:
    """Return the (forward, backward) scatter of one junction (SPEC §3).

    *Forward*: each right neuron ``j`` against the left windows ``w``: ``a = Σ_{k∈w} M[j, k]``,
    ideal ``I = |w|·ρ``, score ``min(a / I, 1)`` averaged over windows, then over right neurons.
    *Backward*: each left neuron against the right windows, ideal ``|w|·ρ`` (``= |w|·fi/p``).

    With ``degree_source="neuron0"`` the ideals are Dey's: ``|w|·fo/n`` with ``fo`` read off
    left neuron 0 and ``|w|·fi/p`` with ``fi`` read off right neuron 0. Both agree on regular
    junctions.

    Args:
        junction: The junction; mask ``M`` is ``(n, p)``.
        left_windows: ``(num_windows, window_size)`` indices into the ``p`` left neurons.
        right_windows: ``(num_windows, window_size)`` indices into the ``n`` right neurons.
        degree_source: ``"mean"`` (density-based ideals) or ``"neuron0"`` (Dey's).

    Returns:
        ``(forward, backward)``, each in ``[0, 1]``.

    Raises:
        ValueError: On malformed or out-of-range windows, an unknown ``degree_source``, or an
            ideal of 0 connections per window.

    Warns:
        UserWarning: Once, if an ideal is not an integer.

    Example:
        >>> from neurofabric.topology.windows import window1d
        >>> j = Junction.from_mask([[1, 1, 0, 0], [1, 0, 1, 0]])
        >>> junction_scatter(j, window1d(4, 2, 2), window1d(2, 2, 2))
        (0.75, 0.75)
    """
    _check_degree_source(degree_source)
    left = _check_windows(left_windows, junction.in_features, "left_windows")
    right = _check_windows(right_windows, junction.out_features, "right_windows")
    forward, backward = _junction_entries(junction, left, right, degree_source, "junction")
    _warn_non_integer([(e.label, e.ideal) for e in (forward, backward)])
    return float(forward.scores.mean()), float(backward.scores.mean())


@dataclass(frozen=True)
class ScatterReport:
    """The scatter vector of a network and its minimum, the network scatter (SPEC §3).

    Attributes:
        vector: ``2J + 2`` scatter values: forward and backward of each junction in key order,
            then whole-net forward and whole-net backward.
        labels: One label per entry, e.g. ``"junction 0->1 forward"``, ``"network backward"``.
    """

    vector: tuple[float, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        vector = tuple(float(v) for v in self.vector)
        labels = tuple(str(label) for label in self.labels)
        if len(vector) != len(labels) or not vector:
            raise ValueError(
                f"a scatter report needs one label per value, got {len(vector)} values and "
                f"{len(labels)} labels"
            )
        object.__setattr__(self, "vector", vector)
        object.__setattr__(self, "labels", labels)

    @property
    def value(self) -> float:
        """Network scatter ``min(vector)``; the minimum marks the bottleneck."""
        return min(self.vector)

    @property
    def bottleneck(self) -> str:
        """Label of the (first) entry attaining the minimum."""
        return self.labels[self.vector.index(self.value)]

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict: ``value``, ``bottleneck``, ``vector`` and ``labels``."""
        return {
            "value": self.value,
            "bottleneck": self.bottleneck,
            "vector": list(self.vector),
            "labels": list(self.labels),
        }


def scatter(
    topology: Topology,
    windows: Sequence[object] | None = None,
    *,
    in_matter: int | None = None,
    out_matter: int | None = None,
    degree_source: DegreeSource = "mean",
) -> ScatterReport:
    """Return the scatter vector of a network and its minimum (SPEC §3).

    For ``J`` junctions in key order, the vector is

    ======================  =========================================
    ``s[2i]``, ``s[2i+1]``  forward, backward scatter of junction ``i``
    ``s[2J]``               whole net forward: outputs vs input windows
    ``s[2J+1]``             whole net backward: inputs vs output windows
    ======================  =========================================

    The whole net uses the path-count matrix ``A`` (``N_L × N_0``, skips included) in place of a
    mask. Its ideals are ``|w|·ΣA/(N_0·N_L)`` in ``"mean"`` mode (``|w|·Π fo_i/N_L`` forward and
    ``|w|·Π fi_i/N_0`` backward for a regular chain); ``"neuron0"`` mode uses those products with
    degrees read at neuron 0, as Dey does, and needs a chain.

    Args:
        topology: The network.
        windows: ``2J + 2`` window arrays: ``windows[2i]`` over junction ``i``'s left layer,
            ``windows[2i+1]`` over its right layer, ``windows[2J]`` over the inputs and
            ``windows[2J+1]`` over the outputs. ``None`` uses
            :func:`~neurofabric.topology.windows.default_windows`.
        in_matter: Average input-neuron entries (backward of junctions leaving layer 0, which
            is ``s[1]`` in a chain, and ``s[2J+1]``) over the first ``in_matter`` inputs only.
        out_matter: Average output-neuron entries (forward of junctions entering the last
            layer, which is ``s[2J-2]`` in a chain, and ``s[2J]``) over the first
            ``out_matter`` outputs only, e.g. 10 of 16 padded MNIST classes.
        degree_source: ``"mean"`` (density-based ideals) or ``"neuron0"`` (Dey's).

    Returns:
        A :class:`ScatterReport`; ``report.value`` is the network scatter.

    Raises:
        ValueError: On a wrong number of windows, windows outside their layer, ``in_matter``
            or ``out_matter`` out of range, ``"neuron0"`` with skips, or a zero ideal.

    Warns:
        UserWarning: Once, listing the entries whose ideal is not an integer, when ``windows``
            are given (the default windows often have fractional ideals by design).

    Example:
        >>> from neurofabric.topology.windows import window1d
        >>> j = Junction.from_mask([[1, 1, 0, 0], [1, 0, 1, 0]])
        >>> w = [window1d(4, 2, 2), window1d(2, 2, 2)] * 2
        >>> report = scatter(Topology.chain([j]), w)
        >>> report.vector
        (0.75, 0.75, 0.75, 0.75)
        >>> scatter(Topology.chain([j]), w, out_matter=1).vector
        (0.5, 0.75, 0.5, 0.75)
    """
    _check_degree_source(degree_source)
    sizes = topology.layer_sizes
    last = len(sizes) - 1
    keys = list(topology.junctions)
    explicit = windows is not None
    if windows is None:
        windows = default_windows(topology)
    if len(windows) != 2 * len(keys) + 2:
        raise ValueError(
            f"scatter needs 2J + 2 = {2 * len(keys) + 2} window arrays for J = {len(keys)} "
            f"junctions, got {len(windows)}"
        )
    layers = window_layers(topology)
    checked = [
        _check_windows(w, sizes[layer], f"windows[{i}] (layer {layer})")
        for i, (w, layer) in enumerate(zip(windows, layers, strict=True))
    ]
    in_matter = _check_matter("in_matter", in_matter, sizes[0], "inputs")
    out_matter = _check_matter("out_matter", out_matter, sizes[-1], "outputs")

    entries: list[tuple[_Entry, int | None]] = []
    for i, (source, target) in enumerate(keys):
        forward, backward = _junction_entries(
            topology.junctions[(source, target)],
            checked[2 * i],
            checked[2 * i + 1],
            degree_source,
            f"junction {source}->{target}",
        )
        entries.append((forward, out_matter if target == last else None))
        entries.append((backward, in_matter if source == 0 else None))

    forward, backward = _network_entries(topology, checked[-2], checked[-1], degree_source)
    entries += [(forward, out_matter), (backward, in_matter)]
    if explicit:  # fractional ideals are expected with the default windows
        _warn_non_integer([(e.label, e.ideal) for e, _ in entries])
    return ScatterReport(
        vector=tuple(float(e.scores[:matter].mean()) for e, matter in entries),
        labels=tuple(e.label for e, _ in entries),
    )


def _network_entries(
    topology: Topology, inputs: np.ndarray, outputs: np.ndarray, degree_source: str
) -> tuple[_Entry, _Entry]:
    counts = path_counts(topology)  # (N_L, N_0), int64 or exact Python ints
    n_out, n_in = counts.shape
    if degree_source == "neuron0":
        if topology.has_skips:
            raise ValueError(
                "degree_source='neuron0' multiplies per-junction degrees along a chain and is "
                "undefined with skip connections; use degree_source='mean'"
            )
        junctions = list(topology.junctions.values())
        forward_per_neuron = math.prod(int(j.fan_out[0]) for j in junctions) / n_out
        backward_per_neuron = math.prod(int(j.fan_in[0]) for j in junctions) / n_in
    else:
        forward_per_neuron = backward_per_neuron = float(counts.sum()) / (n_in * n_out)
    paths = counts.astype(np.float64)
    forward_ideal = _check_ideal(inputs.shape[1] * forward_per_neuron, "network forward")
    backward_ideal = _check_ideal(outputs.shape[1] * backward_per_neuron, "network backward")
    forward_counts = paths @ _membership(inputs, n_in)  # (N_L, w_in)
    backward_counts = paths.T @ _membership(outputs, n_out)  # (N_0, w_out)
    return (
        _Entry("network forward", _neuron_scores(forward_counts, forward_ideal), forward_ideal),
        _Entry("network backward", _neuron_scores(backward_counts, backward_ideal), backward_ideal),
    )


def simple_scatter(
    topology: Topology, input_windows: object, *, out_matter: int | None = None
) -> float:
    """Return Dey's simple scatter: forward scatter of the outputs on the path counts ``A``.

    This is the two-junction variant of Dey's code, for any depth: each output ``y`` against
    the input windows ``w``, count ``Σ_{x∈w} A[y, x]``, ideal ``|w|·ΣA[0]/N_0`` (the path total
    of output 0 spread evenly over the inputs), score ``min(count / ideal, 1)`` averaged over
    windows, then over the first ``out_matter`` outputs.

    Args:
        topology: The network (skips allowed: ``A`` counts all paths).
        input_windows: ``(num_windows, window_size)`` indices into the inputs.
        out_matter: Number of leading outputs to average over (default: all).

    Raises:
        ValueError: On malformed windows, ``out_matter`` out of range, or an output 0 with no
            paths (a zero ideal).

    Warns:
        UserWarning: If the ideal is not an integer.

    Example:
        >>> from neurofabric.topology.windows import window1d
        >>> a = Junction.from_mask([[1, 1, 0, 0], [0, 0, 1, 1]])
        >>> b = Junction.from_mask([[1, 1], [1, 0]])
        >>> simple_scatter(Topology.chain([a, b]), window1d(4, 2, 2))
        0.75
    """
    counts = path_counts(topology)
    n_out, n_in = counts.shape
    inputs = _check_windows(input_windows, n_in, "input_windows")
    out_matter = _check_matter("out_matter", out_matter, n_out, "outputs")
    ideal = _check_ideal(inputs.shape[1] * float(counts[0].sum()) / n_in, "simple scatter")
    _warn_non_integer([("simple scatter", ideal)])
    scores = _neuron_scores(counts.astype(np.float64) @ _membership(inputs, n_in), ideal)
    return float(scores[:out_matter].mean())
