"""Tests for neurofabric.topology.scatter (SPEC §3; Dey et al., ITA 2018)."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pytest

from neurofabric.topology import Junction, Topology
from neurofabric.topology.scatter import (
    ScatterReport,
    junction_scatter,
    scatter,
    simple_scatter,
)
from neurofabric.topology.windows import window1d

NON_INTEGER = "ideal number of connections per window is not an integer"

# 4 -> 2 junction used throughout; rows are right neurons, columns left neurons.
#   row 0: [1, 1, 0, 0]
#   row 1: [1, 0, 1, 0]     nnz = 4, density = 4 / 8 = 0.5
SMALL = [[1, 1, 0, 0], [1, 0, 1, 0]]


def banded_mask(size, fan_in):
    """Block-diagonal: right neuron j sees the fan_in left neurons of its own block."""
    mask = np.zeros((size, size), dtype=bool)
    for j in range(size):
        start = (j // fan_in) * fan_in
        mask[j, start : start + fan_in] = True
    return mask


def spread_mask(size, fan_in):
    """Right neuron j sees left neurons j % fan_in + fan_in * m: one per block of fan_in."""
    mask = np.zeros((size, size), dtype=bool)
    step = size // fan_in
    for j in range(size):
        mask[j, j % step + step * np.arange(fan_in)] = True
    return mask


def regular_mask(p, n, fan_in, rng):
    """Circular band (SPEC §2.4) with rows and columns permuted: exact fan-in and fan-out."""
    mask = np.zeros((n, p), dtype=bool)
    for j in range(n):
        mask[j, (j * p // n + np.arange(fan_in)) % p] = True
    return mask[rng.permutation(n)][:, rng.permutation(p)]


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --------------------------------------------------------------- slow reference (Dey's loops)
def reference_scatter(masks, windows, degree_source="mean", in_matter=None, out_matter=None):
    """Transcription of Dey's ``scatter_net`` loop for a chain, with mean ideals as an option."""
    masks = [np.asarray(m, dtype=float) for m in masks]
    net = masks[0]
    for m in masks[1:]:
        net = m @ net
    matrices = [*masks, net]
    num = len(masks)
    s = []
    for i, window in enumerate(windows):
        m = matrices[i // 2]
        n, p = m.shape
        if degree_source == "neuron0":
            if i // 2 < num:
                fo, fi = np.count_nonzero(m[:, 0]), np.count_nonzero(m[0])
            else:
                fo = math.prod(np.count_nonzero(x[:, 0]) for x in masks)
                fi = math.prod(np.count_nonzero(x[0]) for x in masks)
            per_neuron = fo / n if i % 2 == 0 else fi / p
        else:
            per_neuron = m.sum() / (n * p)
        ideal = per_neuron * window.shape[1]
        neurons = n if i % 2 == 0 else p
        scores = []
        for k in range(neurons):
            row = m[k] if i % 2 == 0 else m[:, k]
            scores.append(np.mean([min(row[w].sum() / ideal, 1.0) for w in window]))
        if i in (1, 2 * num + 1) and in_matter is not None:
            scores = scores[:in_matter]
        elif i in (2 * num - 2, 2 * num) and out_matter is not None:
            scores = scores[:out_matter]
        s.append(np.mean(scores))
    return np.array(s)


# --------------------------------------------------------------- junction_scatter by hand
@pytest.mark.parametrize(
    ("mask", "left", "right", "degree_source", "expected"),
    [
        # forward, ideal |w|·ρ = 2·0.5 = 1: row 0 windows {0,1},{2,3} count 2,0 -> 1,0 -> 0.5;
        #   row 1 counts 1,1 -> 1; mean 0.75.
        # backward, window {0,1}, ideal 2·0.5 = 1: columns count 2,1,1,0 -> 1,1,1,0 -> 0.75.
        pytest.param(SMALL, (4, 2, 2), (2, 2, 2), "mean", (0.75, 0.75), id="small"),
        # neuron0: fo at column 0 is 2 -> forward ideal 2·2/2 = 2: row 0: 2/2, 0 -> 0.5;
        #   row 1: 1/2, 1/2 -> 0.5; mean 0.5. fi at row 0 is 2 -> backward ideal 2·2/4 = 1 as above.
        pytest.param(SMALL, (4, 2, 2), (2, 2, 2), "neuron0", (0.5, 0.75), id="small-neuron0"),
        # overlapping windows {0,1},{1,2},{2,3}, ideal 1: row 0 counts 2,1,0 -> 2/3;
        #   row 1 counts 1,1,1 -> 1; forward (2/3 + 1)/2 = 5/6.
        pytest.param(SMALL, (4, 2, 1), (2, 2, 2), "mean", (5 / 6, 0.75), id="overlap"),
        # 16x16 block diagonal, fan-in 4, windows of 4 (ideal 4·0.25 = 1): every neuron fills
        #   one window with 4 and leaves 3 empty -> (1 + 0 + 0 + 0)/4 = 0.25 both ways.
        pytest.param(banded_mask(16, 4), (16, 4, 4), (16, 4, 4), "mean", (0.25, 0.25), id="band"),
        # 16x16 spread, one input in each block of 4 -> every window counts exactly 1 = ideal.
        pytest.param(spread_mask(16, 4), (16, 4, 4), (16, 4, 4), "mean", (1.0, 1.0), id="spread"),
        # fully connected 6 -> 3: counts equal |w| = ideal |w|·1 everywhere.
        pytest.param(np.ones((3, 6)), (6, 3, 3), (3, 1, 1), "mean", (1.0, 1.0), id="full"),
        pytest.param(np.ones((3, 6)), (6, 2, 1), (3, 3, 1), "neuron0", (1.0, 1.0), id="full-n0"),
    ],
)
def test_junction_scatter_by_hand(mask, left, right, degree_source, expected, no_warnings):
    junction = Junction.from_mask(mask)
    got = junction_scatter(junction, window1d(*left), window1d(*right), degree_source=degree_source)
    assert got == pytest.approx(expected)


def test_banded_mask_scatters_less_than_spread_mask_of_equal_density():
    banded, spread = (Junction.from_mask(m(16, 4)) for m in (banded_mask, spread_mask))
    assert banded.density == spread.density == 0.25
    windows = window1d(16, 4, 4)
    banded_forward, _ = junction_scatter(banded, windows, windows)
    spread_forward, _ = junction_scatter(spread, windows, windows)
    assert banded_forward < spread_forward


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("p", "n", "fan_in"), [(12, 6, 4), (8, 16, 3), (10, 10, 5)])
def test_neuron0_equals_mean_on_regular_junctions(p, n, fan_in, seed):
    junction = Junction.from_mask(regular_mask(p, n, fan_in, np.random.default_rng(seed)))
    assert junction.is_regular
    left, right = window1d(p, 2, 2), window1d(n, 2, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mean = junction_scatter(junction, left, right, degree_source="mean")
        neuron0 = junction_scatter(junction, left, right, degree_source="neuron0")
    assert neuron0 == pytest.approx(mean)


def test_non_integer_ideal_warns_once():
    # Right windows of one neuron: backward ideal 1·0.5 = 0.5; column scores 1, 0.5, 0.5, 0.
    junction = Junction.from_mask(SMALL)
    with pytest.warns(
        UserWarning, match=NON_INTEGER + r" for junction backward \(ideal 0.5\)"
    ) as w:
        _, backward = junction_scatter(junction, window1d(4, 2, 2), window1d(2, 1, 1))
    assert len(w) == 1
    assert backward == pytest.approx(0.5)


# --------------------------------------------------------------- scatter
def small_windows():
    return [window1d(4, 2, 2), window1d(2, 2, 2), window1d(4, 2, 2), window1d(2, 2, 2)]


@pytest.mark.parametrize(
    ("in_matter", "out_matter", "expected"),
    [
        # One junction: the net is the junction (A = M), so s[2], s[3] repeat s[0], s[1].
        (None, None, (0.75, 0.75, 0.75, 0.75)),
        # out_matter = 1 keeps right neuron 0 only: forward 0.5 (see test above).
        (None, 1, (0.5, 0.75, 0.5, 0.75)),
        # in_matter = 3 keeps columns 0..2, scoring 1, 1, 1 -> 1.
        (3, None, (0.75, 1.0, 0.75, 1.0)),
        # in_matter = 1: column 0 alone scores 1; out_matter = 2 is everyone.
        (1, 2, (0.75, 1.0, 0.75, 1.0)),
        (4, 1, (0.5, 0.75, 0.5, 0.75)),
    ],
)
def test_scatter_matter_by_hand(in_matter, out_matter, expected, no_warnings):
    topology = Topology.chain([Junction.from_mask(SMALL)])
    report = scatter(topology, small_windows(), in_matter=in_matter, out_matter=out_matter)
    assert report.vector == pytest.approx(expected)
    assert report.value == pytest.approx(min(expected))


def test_matter_leaves_hidden_entries_alone():
    rng = np.random.default_rng(0)
    topology = Topology.chain(
        [
            Junction.from_mask(regular_mask(8, 4, 4, rng)),
            Junction.from_mask(regular_mask(4, 8, 2, rng)),
        ]
    )
    full = scatter(topology).vector
    limited = scatter(topology, in_matter=3, out_matter=5).vector
    # s[0] (junction 0 forward, hidden neurons) and s[3] (junction 1 backward) do not change.
    assert limited[0] == full[0] and limited[3] == full[3]


@pytest.mark.parametrize("layer_sizes", [(8, 4, 8), (6, 3), (4, 8, 2, 4)])
def test_fully_connected_scatter_is_one_everywhere(layer_sizes, no_warnings):
    junctions = [Junction.from_mask(np.ones((n, p))) for p, n in itertools.pairwise(layer_sizes)]
    for degree_source in ("mean", "neuron0"):
        report = scatter(Topology.chain(junctions), degree_source=degree_source)
        assert report.vector == pytest.approx((1.0,) * (2 * len(junctions) + 2))
        assert report.value == pytest.approx(1.0)


def test_labels_and_report_dict():
    rng = np.random.default_rng(1)
    topology = Topology.chain(
        [
            Junction.from_mask(regular_mask(8, 4, 4, rng)),
            Junction.from_mask(regular_mask(4, 8, 2, rng)),
        ]
    )
    report = scatter(topology)
    assert report.labels == (
        "junction 0->1 forward",
        "junction 0->1 backward",
        "junction 1->2 forward",
        "junction 1->2 backward",
        "network forward",
        "network backward",
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["vector"] == list(report.vector)
    assert data["value"] == min(report.vector)
    assert data["bottleneck"] == report.labels[int(np.argmin(report.vector))]


def test_report_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="got 2 values and 1 labels"):
        ScatterReport((1.0, 0.5), ("a",))


def test_skips_change_the_whole_net_entries():
    # Chain I·I: A = I. Single-neuron windows, ideal ΣA/(N_0·N_L) = 2/4 = 0.5:
    #   output 0 scores min(1/0.5, 1) = 1 on input 0 and 0 on input 1 -> 0.5 (backward alike).
    # Skip (0,2) = anti-identity: A = I + anti-I = all ones, ideal 4/4 = 1 -> every score 1.
    # Each junction is a permutation with single-neuron windows: scores 1, 0 -> 0.5.
    identity = Junction.from_mask(np.eye(2))
    swap = Junction.from_mask(np.eye(2)[::-1])
    chain = Topology.chain([identity, identity])
    skips = Topology((2, 2, 2), {(0, 1): identity, (1, 2): identity, (0, 2): swap})
    with pytest.warns(UserWarning, match=NON_INTEGER):
        plain = scatter(chain, [window1d(2, 1, 1)] * 6)
    with pytest.warns(UserWarning, match=NON_INTEGER):
        skipped = scatter(skips, [window1d(2, 1, 1)] * 8)
    assert plain.vector == pytest.approx((0.5,) * 6)
    assert skipped.vector == pytest.approx((0.5,) * 6 + (1.0, 1.0))
    assert skipped.labels[2:4] == ("junction 0->2 forward", "junction 0->2 backward")
    with pytest.raises(ValueError, match="undefined with skip connections"):
        scatter(skips, [window1d(2, 1, 1)] * 8, degree_source="neuron0")


@pytest.mark.parametrize("seed", range(3))
def test_neuron0_equals_mean_on_regular_chains(seed):
    rng = np.random.default_rng(seed)
    topology = Topology.chain(
        [
            Junction.from_mask(regular_mask(16, 8, 4, rng)),
            Junction.from_mask(regular_mask(8, 16, 2, rng)),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mean = scatter(topology, degree_source="mean")
        neuron0 = scatter(topology, degree_source="neuron0")
    assert neuron0.vector == pytest.approx(mean.vector)


@pytest.mark.filterwarnings("ignore:the ideal number")
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("degree_source", ["mean", "neuron0"])
@pytest.mark.parametrize("layer_sizes", [(6, 8, 4), (10, 5), (4, 6, 6, 3)])
def test_scatter_matches_dey_reference(layer_sizes, degree_source, seed):
    rng = np.random.default_rng(seed)
    masks = []
    for p, n in itertools.pairwise(layer_sizes):
        mask = rng.random((n, p)) < 0.5
        mask[0, 0] = True  # neuron-0 degrees must not vanish
        masks.append(mask)
    sizes = [s for p, n in itertools.pairwise(layer_sizes) for s in (p, n)]
    sizes += [layer_sizes[0], layer_sizes[-1]]
    windows = []
    for size in sizes:
        width = int(rng.integers(1, size + 1))
        windows.append(np.stack([rng.choice(size, width, replace=False) for _ in range(3)]))
    in_matter = int(rng.integers(1, layer_sizes[0] + 1))
    out_matter = int(rng.integers(1, layer_sizes[-1] + 1))
    topology = Topology.chain([Junction.from_mask(m) for m in masks])
    for matter in ({}, {"in_matter": in_matter, "out_matter": out_matter}):
        got = scatter(topology, windows, degree_source=degree_source, **matter)
        want = reference_scatter(masks, windows, degree_source, **matter)
        np.testing.assert_allclose(got.vector, want, rtol=1e-12)


# --------------------------------------------------------------- simple_scatter
def test_simple_scatter_by_hand(no_warnings):
    # A = [[1,1,0,0],[0,0,1,1]] then [[1,1],[1,0]] gives paths [[1,1,1,1],[1,1,0,0]].
    # Ideal = |w|·ΣA[0]/N_0 = 2·4/4 = 2. Output 0: counts 2,2 -> 1; output 1: 2,0 -> 0.5.
    a = Junction.from_mask([[1, 1, 0, 0], [0, 0, 1, 1]])
    b = Junction.from_mask([[1, 1], [1, 0]])
    topology = Topology.chain([a, b])
    assert simple_scatter(topology, window1d(4, 2, 2)) == pytest.approx(0.75)
    assert simple_scatter(topology, window1d(4, 2, 2), out_matter=1) == pytest.approx(1.0)
    assert simple_scatter(topology, window1d(4, 2, 2), out_matter=2) == pytest.approx(0.75)


@pytest.mark.parametrize("seed", range(3))
def test_simple_scatter_equals_network_forward_on_regular_chains(seed):
    rng = np.random.default_rng(seed)
    topology = Topology.chain(
        [
            Junction.from_mask(regular_mask(16, 8, 4, rng)),
            Junction.from_mask(regular_mask(8, 16, 2, rng)),
        ]
    )
    # Regular chain: ΣA[0]/N_0 = Π fi / N_0 = ΣA/(N_0·N_L) = Π fo / N_L, so the ideals agree.
    hidden = [window1d(16, 4, 4), window1d(8, 4, 4), window1d(8, 4, 4), window1d(16, 4, 4)]
    report = scatter(topology, hidden + [window1d(16, 4, 2), window1d(16, 4, 4)], out_matter=10)
    assert simple_scatter(topology, window1d(16, 4, 2), out_matter=10) == pytest.approx(
        report.vector[4]
    )


# --------------------------------------------------------------- errors
def _small_topology():
    return Topology.chain([Junction.from_mask(SMALL)])


@pytest.mark.parametrize(
    ("windows", "kwargs", "match"),
    [
        pytest.param(
            small_windows()[:3],
            {},
            r"2J \+ 2 = 4 window arrays for J = 1 junctions, got 3",
            id="count",
        ),
        pytest.param(
            small_windows()[:1] + [np.array([[0, 2]])] + small_windows()[2:],
            {},
            r"windows\[1\] \(layer 1\) lies over a layer of 2 neurons.*got range \[0, 2\]",
            id="out-of-range",
        ),
        pytest.param(
            [np.array([[-1, 0]])] + small_windows()[1:],
            {},
            r"windows\[0\].*\[-1, 0\]",
            id="negative",
        ),
        pytest.param(
            [np.arange(4)] + small_windows()[1:],
            {},
            r"non-empty 2-D integer array.*shape \(4,\)",
            id="1-D",
        ),
        pytest.param(
            [np.array([[0.0, 1.0]])] + small_windows()[1:], {}, "dtype float64", id="float"
        ),
        pytest.param(
            None,
            {"in_matter": 0},
            r"in_matter must lie in \[1, 4\] \(4 inputs\), got 0",
            id="in_matter=0",
        ),
        pytest.param(None, {"in_matter": 5}, r"in_matter must lie in \[1, 4\]", id="in_matter=5"),
        pytest.param(
            None,
            {"out_matter": 3},
            r"out_matter must lie in \[1, 2\] \(2 outputs\)",
            id="out_matter",
        ),
        pytest.param(None, {"out_matter": 1.5}, "out_matter must be an integer", id="float-matter"),
        pytest.param(
            None,
            {"degree_source": "median"},
            "degree_source must be one of 'mean'",
            id="degree-source",
        ),
    ],
)
def test_scatter_errors(windows, kwargs, match):
    with pytest.raises(ValueError, match=match):
        scatter(_small_topology(), windows, **kwargs)


def test_zero_ideal_is_an_error():
    empty = Junction.from_edges(2, 2, [], [])
    with pytest.raises(ValueError, match="ideal number of connections per window is 0"):
        scatter(Topology.chain([empty]))
    # Left neuron 0 is isolated: Dey's neuron-0 fan-out is 0, the mean ideal is fine.
    isolated = Junction.from_mask([[0, 1], [0, 1]])
    with pytest.raises(ValueError, match=r"junction forward: the ideal .* is 0\.0"):
        junction_scatter(isolated, window1d(2, 2, 2), window1d(2, 2, 2), degree_source="neuron0")
    assert junction_scatter(isolated, window1d(2, 2, 2), window1d(2, 2, 2)) == (1.0, 0.5)


def test_junction_and_simple_scatter_validate_windows():
    junction = Junction.from_mask(SMALL)
    with pytest.raises(ValueError, match=r"left_windows lies over a layer of 4 neurons"):
        junction_scatter(junction, window1d(5, 2, 1), window1d(2, 2, 2))
    with pytest.raises(ValueError, match=r"right_windows lies over a layer of 2 neurons"):
        junction_scatter(junction, window1d(4, 2, 2), window1d(3, 1, 1))
    with pytest.raises(ValueError, match=r"out_matter must lie in \[1, 2\]"):
        simple_scatter(_small_topology(), window1d(4, 2, 2), out_matter=3)
    with pytest.raises(ValueError, match="input_windows lies over a layer of 4 neurons"):
        simple_scatter(_small_topology(), window1d(6, 2, 2))
