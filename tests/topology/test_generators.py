"""Invariants of the random, structured, windowed, dense and user-mask generators."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurofabric.topology.generators.dense import dense_junction
from neurofabric.topology.generators.mask import junction_from_mask
from neurofabric.topology.generators.regular import regular_junction
from neurofabric.topology.generators.unstructured import random_junction
from neurofabric.topology.generators.windowed import windowed_junction


@st.composite
def regular_sizes(draw):
    """(p, n, fan_out) with an integer fan-in: n = a*g, p = b*g, fan_out a multiple of a."""
    g = draw(st.integers(1, 12))
    a = draw(st.integers(1, 6))
    b = draw(st.integers(1, 6))
    n, p = a * g, b * g
    fan_out = a * draw(st.integers(1, g))
    return p, n, fan_out


def assert_exact_degrees(j, fan_out, fan_in):
    assert (j.fan_out == fan_out).all()
    assert (j.fan_in == fan_in).all()
    assert j.nnz == j.in_features * fan_out
    assert np.unique(j.dst * j.in_features + j.src).size == j.nnz  # no duplicates


@settings(max_examples=60, deadline=None)
@given(regular_sizes(), st.integers(0, 2**32 - 1))
def test_regular_exact_degrees(sizes, seed):
    p, n, fan_out = sizes
    j = regular_junction(p, n, fan_out=fan_out, seed=seed)
    assert_exact_degrees(j, fan_out, p * fan_out // n)
    assert j.is_regular


@settings(max_examples=40, deadline=None)
@given(regular_sizes())
def test_windowed_circular_exact_degrees(sizes):
    p, n, fan_out = sizes
    j = windowed_junction(p, n, fan_out=fan_out)
    assert_exact_degrees(j, fan_out, p * fan_out // n)


@settings(max_examples=40, deadline=None)
@given(regular_sizes())
def test_windowed_clipped_windows_are_contiguous(sizes):
    p, n, fan_out = sizes
    j = windowed_junction(p, n, fan_out=fan_out, circular=False)
    table = j.fan_in_table()
    assert (np.diff(table, axis=1) == 1).all()
    assert table.min() >= 0 and table.max() < p


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.floats(0.01, 1.0), st.integers(0, 1000))
def test_random_exact_edge_count(p, n, density, seed):
    j = random_junction(p, n, density=density, seed=seed)
    assert j.nnz == int(np.ceil(round(density * p * n, 9)))
    assert np.unique(j.dst * p + j.src).size == j.nnz


@pytest.mark.parametrize(
    ("generator", "kwargs"),
    [
        (regular_junction, {"fan_out": 5}),
        (random_junction, {"density": 0.3}),
        (random_junction, {"density": 0.3, "bernoulli": True}),
    ],
)
def test_same_seed_same_junction(generator, kwargs):
    a = generator(40, 20, **kwargs, seed=7)
    b = generator(40, 20, **kwargs, seed=7)
    c = generator(40, 20, **kwargs, seed=8)
    assert a == b
    assert a != c
    # A generator object is consumed, so two draws from it differ.
    rng = np.random.default_rng(1)
    assert generator(40, 20, **kwargs, seed=rng) != generator(40, 20, **kwargs, seed=rng)


@pytest.mark.parametrize(
    ("kwargs", "nnz"),
    [
        ({"density": 0.1}, 100),  # 0.1 * 1000 must not round up to 101
        ({"fan_out": 2.5}, 100),  # Dey's fan-out reading: ceil(2.5 * 40)
        ({"nnz": 7}, 7),
        ({"density": 1.0}, 1000),
    ],
)
def test_random_edge_count_forms(kwargs, nnz):
    assert random_junction(40, 25, **kwargs, seed=0).nnz == nnz


def test_regular_density_and_fan_in_forms_agree():
    by_density = regular_junction(800, 100, density=0.25, seed=3)
    by_fan_in = regular_junction(800, 100, fan_in=200, seed=3)
    assert by_density == by_fan_in
    assert by_density.fan_out.max() == 25


def test_windowed_hand_case():
    # p = 8, n = 4, fan-in 4: starts floor(j*2) + delta, delta = floor((2 - 4)/2 + 1/2) = -1.
    j = windowed_junction(8, 4, fan_in=4)
    assert j.fan_in_table().tolist() == [[0, 1, 2, 7], [1, 2, 3, 4], [3, 4, 5, 6], [0, 5, 6, 7]]
    clipped = windowed_junction(8, 4, fan_in=4, circular=False)
    assert clipped.fan_in_table().tolist() == [
        [0, 1, 2, 3],
        [1, 2, 3, 4],
        [3, 4, 5, 6],
        [4, 5, 6, 7],
    ]


def test_dense_is_full():
    j = dense_junction(5, 3)
    assert j.nnz == 15 and j.to_mask().all()


def test_junction_from_mask_forms():
    mask = np.array([[1, 0, 1], [0, 1, 0]])
    j = junction_from_mask(mask, in_features=3, out_features=2)
    assert j.nnz == 3
    edges = junction_from_mask([(0, 0), (0, 2), (1, 1)], in_features=3, out_features=2)
    assert edges == j
    with pytest.raises(ValueError, match="mask has 3 columns but in_features = 4"):
        junction_from_mask(mask, in_features=4)
    with pytest.raises(ValueError, match="duplicate"):
        junction_from_mask([(0, 0), (0, 0)], in_features=3, out_features=2)


@pytest.mark.parametrize(
    ("generator", "kwargs", "message"),
    [
        (
            regular_junction,
            {"fan_out": 3},
            r"fan_out \* in_features = 30 is not divisible by "
            r"out_features = 7",
        ),
        (regular_junction, {"fan_out": 9}, "fan_out = 9 exceeds out_features = 7"),
        (regular_junction, {"fan_in": 11}, "fan_in = 11 exceeds in_features = 10"),
        (regular_junction, {"density": 0.0}, r"density must lie in \(0, 1\]"),
        (regular_junction, {"density": 1.5}, r"density must lie in \(0, 1\]"),
        (regular_junction, {"density": 0.3}, "not a positive integer"),
        (regular_junction, {}, "exactly one of"),
        (regular_junction, {"fan_out": 7, "density": 1.0}, "exactly one of"),
        (windowed_junction, {"fan_in": 3}, r"fan_in \* out_features = 21 is not divisible"),
        (random_junction, {"density": -0.1}, r"density must lie in \(0, 1\]"),
        (random_junction, {"nnz": 71}, "nnz = 71 exceeds"),
        (random_junction, {"fan_out": 8}, "fan_out must lie in"),
        (random_junction, {"bernoulli": True, "nnz": 3}, "give density"),
    ],
)
def test_generator_errors_state_rule_and_numbers(generator, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generator(10, 7, **kwargs, seed=0)


@pytest.mark.parametrize("sizes", [(0, 5), (5, 0), (-3, 2)])
def test_sizes_must_be_positive(sizes):
    with pytest.raises(ValueError, match="must be positive"):
        regular_junction(*sizes, fan_out=1, seed=0)


@pytest.mark.parametrize("seed", [-1, 1.5, "x", True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be"):
        random_junction(4, 4, density=0.5, seed=seed)


def _sequential_row_fill(keys, fan_out, fan_in):
    """SPEC §2.2 one row at a time: forced columns first, then the smallest keys among open ones."""
    n, p = keys.shape
    need = np.full(p, fan_out)
    rows = []
    for row in range(n):
        remaining = n - row
        forced = np.flatnonzero(need == remaining)
        open_columns = np.flatnonzero((need > 0) & (need < remaining))
        extra = open_columns[np.argsort(keys[row, open_columns], kind="stable")]
        chosen = np.sort(np.concatenate([forced, extra[: fan_in - forced.size]]))
        need[chosen] -= 1
        rows.append(chosen)
    return np.array(rows)


@pytest.mark.parametrize(
    ("p", "n", "fan_out"), [(800, 100, 50), (30, 20, 4), (12, 12, 11), (7, 7, 7)]
)
def test_batched_row_fill_equals_sequential(p, n, fan_out):
    from neurofabric.topology.generators.regular import _row_fill

    fan_in = p * fan_out // n
    keys = np.random.default_rng(p + n).random((n, p), dtype=np.float32)
    fast = np.sort(_row_fill(keys.copy(), fan_out, fan_in), axis=1)
    np.testing.assert_array_equal(fast, _sequential_row_fill(keys, fan_out, fan_in))
