"""Clash-free junctions (SPEC §2.3): invariants, the worked example, validity, counts, errors."""

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurofabric.topology.clash import clash_report
from neurofabric.topology.generators import clash_free
from neurofabric.topology.generators.clash_free import (
    clash_free_junction,
    count_clash_free_masks,
    count_clash_free_patterns,
)
from neurofabric.topology.junction import Junction

MEMORY_MAPS = ("type1", "type2", "type3")
EXHAUSTED = "no valid clash-free pattern in max_tries"


@st.composite
def clash_free_sizes(draw):
    """(p, n, fan_out, z): p = z * depth, and (n, fan_out) with an integer fan-in <= p."""
    z = draw(st.integers(1, 5))
    depth = draw(st.integers(1, 4))
    p = z * depth
    pairs = [(n, fo) for n in range(1, 2 * p + 1) for fo in range(1, n + 1) if p * fo % n == 0]
    n, fan_out = draw(st.sampled_from(pairs))
    return p, n, fan_out, z


def quiet(**kwargs):
    """clash_free_junction without the p == z warning (tested on its own below)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return clash_free_junction(**kwargs)


def assert_clash_free_schedule(j, p, n, fan_out, z, memory_map, dither):
    """Every SPEC §2.3 invariant of a clash-free junction and of its slot order."""
    fan_in = p * fan_out // n
    depth = p // z
    # Exact degrees and no repeated edge.
    assert (j.fan_out == fan_out).all() and (j.fan_in == fan_in).all()
    assert np.unique(j.dst * p + j.src).size == j.nnz == p * fan_out
    assert j.parallelism == z and j.schedule is not None
    # The schedule is the slot order: slot i feeds right neuron i // fan_in.
    src, dst = j.scheduled_edges()
    np.testing.assert_array_equal(dst, np.arange(p * fan_out) // fan_in)
    sweeps = src.reshape(fan_out, depth, z)  # (sweep, cycle in sweep, lane)
    # Each sweep reads every left neuron once; each cycle reads every bank once.
    assert (np.sort(sweeps.reshape(fan_out, p), axis=1) == np.arange(p)).all()
    report = clash_report(j)
    assert report.is_clash_free and report.num_cycles == p * fan_out // z
    assert (np.sort(report.banks, axis=1) == np.arange(z)).all()
    # A lane reads one bank for a whole sweep; without dither lane j reads bank j.
    banks, addresses = sweeps % z, sweeps // z
    assert (banks == banks[:, :1, :]).all()
    if not dither:
        assert (banks == np.arange(z)).all()
    if memory_map == "type1":
        assert (np.sort(addresses, axis=1) == np.arange(depth)[:, None]).all()
    else:  # consecutive cycles add 1 modulo the bank depth
        assert ((np.diff(addresses, axis=1) - 1) % depth == 0).all()
    if memory_map == "type3":
        assert (sweeps == sweeps[:1]).all()


@pytest.mark.parametrize("dither", [False, True])
@pytest.mark.parametrize("memory_map", MEMORY_MAPS)
@settings(max_examples=80, deadline=None)
@given(sizes=clash_free_sizes(), seed=st.integers(0, 2**32 - 1))
def test_invariants(memory_map, dither, sizes, seed):
    p, n, fan_out, z = sizes
    kwargs = dict(
        in_features=p,
        out_features=n,
        fan_out=fan_out,
        parallelism=z,
        memory_map=memory_map,
        dither=dither,
        seed=seed,
    )
    straddles = p % (p * fan_out // n) != 0
    try:
        j = quiet(**kwargs)
    except ValueError as error:  # only a fresh map per sweep with straddling neurons fails
        assert memory_map != "type3" and straddles and EXHAUSTED in str(error)
        return
    assert_clash_free_schedule(j, p, n, fan_out, z, memory_map, dither)
    assert quiet(**kwargs) == j  # same seed, same junction


@pytest.mark.parametrize("dither", [False, True])
@pytest.mark.parametrize("memory_map", MEMORY_MAPS)
@settings(max_examples=80, deadline=None)
@given(sizes=clash_free_sizes(), seed=st.integers(0, 2**32 - 1))
def test_never_invalid_without_straddling_or_with_type3(memory_map, dither, sizes, seed):
    p, n, fan_out, z = sizes
    if memory_map != "type3" and p % (p * fan_out // n):
        return
    j = quiet(
        in_features=p,
        out_features=n,
        fan_out=fan_out,
        parallelism=z,
        memory_map=memory_map,
        dither=dither,
        on_invalid="raise",
        seed=seed,
    )
    assert_clash_free_schedule(j, p, n, fan_out, z, memory_map, dither)


@pytest.mark.parametrize("dither", [False, True])
@pytest.mark.parametrize("memory_map", MEMORY_MAPS)
def test_different_seeds_usually_differ(memory_map, dither):
    kwargs = dict(fan_out=5, parallelism=10, memory_map=memory_map, dither=dither)
    junctions = [clash_free_junction(40, 10, **kwargs, seed=seed) for seed in range(10)]
    distinct = {j.schedule.tobytes() + j.src.tobytes() for j in junctions}
    assert len(distinct) >= 9


def test_generator_seed_is_threaded():
    rng = np.random.default_rng(3)
    first = clash_free_junction(40, 10, fan_out=5, parallelism=10, seed=rng)
    second = clash_free_junction(40, 10, fan_out=5, parallelism=10, seed=rng)
    assert first != second
    again = np.random.default_rng(3)
    assert clash_free_junction(40, 10, fan_out=5, parallelism=10, seed=again) == first


# ----------------------------------------------------------------- SPEC worked example
WORKED_CYCLES = [[4, 1, 10, 11], [8, 5, 2, 3], [0, 9, 6, 7]]


@pytest.mark.parametrize(
    "out_features, fan_out, start_vectors",
    [
        (3, 1, [1, 0, 2, 2]),
        (3, 1, [[1, 0, 2, 2]]),
        (6, 2, np.array([1, 0, 2, 2])),  # type 3 repeats the sweep
    ],
)
def test_worked_example(out_features, fan_out, start_vectors):
    j = clash_free_junction(
        12,
        out_features,
        fan_out=fan_out,
        parallelism=4,
        memory_map="type3",
        start_vectors=start_vectors,
    )
    src, _ = j.scheduled_edges()
    assert src.reshape(-1, 4).tolist() == WORKED_CYCLES * fan_out


def test_type2_start_vectors_one_per_sweep():
    starts = [[1, 0, 2, 2], [0, 0, 0, 0]]
    j = clash_free_junction(
        12, 6, fan_out=2, parallelism=4, memory_map="type2", start_vectors=starts
    )
    src, _ = j.scheduled_edges()
    zero_start = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert src.reshape(-1, 4).tolist() == WORKED_CYCLES + zero_start


# ----------------------------------------------------------------- the straddling pitfall
def test_straddling_case_raises_for_some_seed():
    # (p, fo, n, z) = (6, 2, 3, 3): fan-in 4 does not divide 6, so right neuron 1 straddles.
    outcomes = []
    for seed in range(40):
        try:
            clash_free_junction(6, 3, fan_out=2, parallelism=3, on_invalid="raise", seed=seed)
            outcomes.append(True)
        except ValueError as error:
            assert "gave right neuron 1 left neuron" in str(error)
            assert "fan_in = 4 does not divide in_features = 6" in str(error)
            assert "type3" in str(error)
            outcomes.append(False)
    assert 5 < sum(outcomes) < 35  # about half the draws repeat a left neuron


@pytest.mark.parametrize("memory_map", ["type1", "type2"])
@pytest.mark.parametrize("dither", [False, True])
def test_straddling_case_resample_always_valid(memory_map, dither):
    for seed in range(40):
        j = clash_free_junction(
            6, 3, fan_out=2, parallelism=3, memory_map=memory_map, dither=dither, seed=seed
        )
        assert_clash_free_schedule(j, 6, 3, 2, 3, memory_map, dither)


def test_resample_gives_up_with_reason():
    # fan-in 7 of 8 spans two sweeps for almost every right neuron: valid draws are rare.
    with pytest.raises(
        ValueError,
        match=r"max_tries = 3 draws: fan_in = 7 does not divide "
        r"in_features = 8.*memory_map='type3'",
    ):
        clash_free_junction(8, 8, fan_out=7, parallelism=2, max_tries=3, seed=0)


def test_invalid_start_vectors_raise_at_once():
    # Second sweep starts so that right neuron 1 (slots 4..7) reads neuron 4 in both sweeps.
    with pytest.raises(
        ValueError, match="the given start_vectors gave right neuron 1 left neuron 4 twice"
    ):
        clash_free_junction(
            6, 3, fan_out=2, parallelism=3, memory_map="type2", start_vectors=[[0, 0, 0], [1, 1, 0]]
        )


def test_type3_never_needs_resampling():
    for seed in range(30):
        for dither in (False, True):
            clash_free_junction(
                8,
                8,
                fan_out=7,
                parallelism=2,
                memory_map="type3",
                dither=dither,
                on_invalid="raise",
                seed=seed,
            )


# ----------------------------------------------------------------- p == z, hardware mode
def test_parallelism_equal_to_in_features_warns():
    with pytest.warns(UserWarning, match="deterministic band.*dither=True"):
        first = clash_free_junction(8, 4, fan_out=2, parallelism=8, seed=0)
    with pytest.warns(UserWarning):
        assert clash_free_junction(8, 4, fan_out=2, parallelism=8, seed=1) == first
    # Right neuron j reads fan_in cyclically consecutive left neurons.
    assert first.fan_in_table().tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]] * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clash_free_junction(8, 4, fan_out=2, parallelism=8, dither=True, seed=0)
        clash_free_junction(8, 4, fan_out=2, parallelism=4, seed=0)


def test_hardware_mode():
    j = clash_free_junction(
        16,
        8,
        fan_out=2,
        parallelism=4,
        memory_map="type2",
        hardware=True,
        start_vectors=np.zeros((2, 4), int),
    )
    assert_clash_free_schedule(j, 16, 8, 2, 4, "type2", False)


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(in_features=10, out_features=5, fan_out=1, parallelism=3),
            r"parallelism must divide in_features.*in_features = 10, parallelism = 3",
        ),
        (
            dict(in_features=8, out_features=4, fan_out=1, parallelism=16),
            r"parallelism = 16 must lie in \[1, in_features = 8\]",
        ),
        (
            dict(in_features=8, out_features=4, fan_out=1, parallelism=0),
            "parallelism must be positive",
        ),
        (
            dict(in_features=10, out_features=4, fan_out=1, parallelism=5),
            "fan_out \\* in_features = 10 is not divisible by out_features = 4",
        ),
        (
            dict(in_features=8, out_features=4, fan_out=5, parallelism=4),
            "fan_out = 5 exceeds out_features = 4",
        ),
        (
            dict(in_features=8, out_features=4, density=1.5, parallelism=4),
            r"density must lie in \(0, 1\]",
        ),
        (
            dict(in_features=8, out_features=4, density=0.0, parallelism=4),
            r"density must lie in \(0, 1\]",
        ),
        (dict(in_features=8, out_features=4, parallelism=4), "give exactly one of"),
        (
            dict(in_features=12, out_features=3, fan_out=1, parallelism=4, start_vectors=[0] * 4),
            "start_vectors only apply to memory_map 'type2' or 'type3'",
        ),
        (
            dict(
                in_features=12,
                out_features=3,
                fan_out=1,
                parallelism=4,
                memory_map="type3",
                start_vectors=[0, 1, 2],
            ),
            r"must have shape \(4,\) or \(1, 4\).*got shape \(3,\)",
        ),
        (
            dict(
                in_features=12,
                out_features=6,
                fan_out=2,
                parallelism=4,
                memory_map="type2",
                start_vectors=[0, 1, 2, 0],
            ),
            r"must have shape \(2, 4\)",
        ),
        (
            dict(
                in_features=12,
                out_features=3,
                fan_out=1,
                parallelism=4,
                memory_map="type3",
                start_vectors=[0, 1, 3, 0],
            ),
            r"must lie in \[0, D\).*= 3, got range \[0, 3\]",
        ),
        (
            dict(
                in_features=12,
                out_features=3,
                fan_out=1,
                parallelism=4,
                memory_map="type3",
                start_vectors=[0, -1, 2, 0],
            ),
            r"must lie in \[0, D\)",
        ),
        (
            dict(
                in_features=12,
                out_features=3,
                fan_out=1,
                parallelism=4,
                memory_map="type3",
                start_vectors=[0, 0.5, 2, 0],
            ),
            "integer addresses",
        ),
        (
            dict(
                in_features=12,
                out_features=3,
                fan_out=1,
                parallelism=4,
                memory_map="type2",
                hardware=True,
            ),
            r"D = in_features / parallelism = 12 / 4 = 3 must be a power of two",
        ),
        (
            dict(in_features=16, out_features=4, fan_out=1, parallelism=4, hardware=True),
            "hardware mode implements memory_map='type2' with dither=False",
        ),
        (
            dict(
                in_features=16,
                out_features=4,
                fan_out=1,
                parallelism=4,
                memory_map="type2",
                dither=True,
                hardware=True,
            ),
            "hardware mode implements",
        ),
        (
            dict(in_features=16, out_features=4, fan_out=1, parallelism=4, memory_map="type4"),
            "memory_map must be one of",
        ),
        (
            dict(in_features=16, out_features=4, fan_out=1, parallelism=4, on_invalid="ignore"),
            "on_invalid must be one of",
        ),
        (
            dict(in_features=16, out_features=4, fan_out=1, parallelism=4, dither=2),
            "dither must be",
        ),
        (
            dict(in_features=16, out_features=4, fan_out=1, parallelism=4, max_tries=0),
            "max_tries must be positive",
        ),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        clash_free_junction(**kwargs)


# ----------------------------------------------------------------- counts
def reference_mask_count(p, n, fan_out, z, memory_map, dither):
    """Slow, loop-by-loop enumeration of every generator outcome (independent of the module)."""
    depth, fan_in = p // z, p * fan_out // n
    if memory_map == "type1":
        maps = list(itertools.product(itertools.permutations(range(depth)), repeat=z))
        address = [lambda a, j, m=m: m[j][a] for m in maps]
    else:
        starts = itertools.product(range(depth), repeat=z)
        address = [lambda a, j, s=s: (s[j] + a) % depth for s in starts]
    dithers = list(itertools.permutations(range(z))) if dither else [tuple(range(z))]
    sweeps = [
        [address_of(a, j) * z + bank[j] for a in range(depth) for j in range(z)]
        for address_of in address
        for bank in dithers
    ]
    choices = (
        [[sweep] * fan_out for sweep in sweeps]
        if memory_map == "type3"
        else itertools.product(sweeps, repeat=fan_out)
    )
    masks = set()
    for choice in choices:
        slots = [q for sweep in choice for q in sweep]
        rows = [frozenset(slots[r * fan_in : (r + 1) * fan_in]) for r in range(n)]
        if all(len(row) == fan_in for row in rows):
            masks.add(tuple(rows))
    return len(masks)


# (p, n, fan_out, z, memory_map, dither, Dey's formula, distinct valid masks)
COUNT_CASES = [
    # fan_in == z: the formula counts masks exactly (Dey's tests, p=9, fo=2, n=6, z=3).
    (9, 6, 2, 3, "type1", False, 46656, 46656),
    (9, 6, 2, 3, "type2", False, 729, 729),
    (9, 6, 2, 3, "type2", True, 729, 729),
    (9, 6, 2, 3, "type3", False, 27, 27),
    (9, 6, 2, 3, "type3", True, 27, 27),
    (8, 8, 2, 2, "type2", True, 256, 256),
    (8, 4, 2, 4, "type1", False, 256, 256),
    # fan_in | z with dither: k = z! / (fan_in!)^(z / fan_in) = 6 (Dey: 486).
    (12, 12, 2, 4, "type3", True, 486, 486),
    # A right neuron spans two cycles: addresses reorder inside it, so the formula overcounts.
    (8, 2, 1, 2, "type1", False, 576, 36),
    (6, 4, 2, 2, "type1", False, 1296, 81),
    # fan_in = 3 vs z = 2 with dither: no formula (Dey's "parasitic" cases).
    (6, 4, 2, 2, "type3", True, None, 18),
    (4, 4, 3, 2, "type2", True, None, 16),
    # Straddling right neurons: invalid outcomes are not masks.
    (6, 3, 2, 3, "type1", False, 64, 8),
    (6, 3, 2, 3, "type3", True, None, 48),
    # Fully connected.
    (4, 2, 2, 2, "type1", True, 1, 1),
]


@pytest.mark.parametrize("p, n, fan_out, z, memory_map, dither, formula, masks", COUNT_CASES)
def test_counts(p, n, fan_out, z, memory_map, dither, formula, masks):
    kwargs = dict(fan_out=fan_out, parallelism=z, memory_map=memory_map, dither=dither)
    assert count_clash_free_patterns(p, n, **kwargs) == formula
    assert count_clash_free_masks(p, n, **kwargs) == masks
    if masks < 1000:
        assert reference_mask_count(p, n, fan_out, z, memory_map, dither) == masks


@pytest.mark.parametrize(
    "memory_map, dither, expected",
    [("type1", True, 60466176), ("type2", True, 236196), ("type2", False, 6561)],
)
def test_pattern_count_formulas(memory_map, dither, expected):
    count = count_clash_free_patterns(
        12, 12, fan_out=2, parallelism=4, memory_map=memory_map, dither=dither
    )
    assert count == expected and isinstance(count, int)


@pytest.mark.parametrize(
    "p, n, fan_out, z, memory_map, dither",
    [
        (6, 3, 2, 3, "type1", False),
        (6, 3, 2, 3, "type2", True),
        (8, 2, 1, 2, "type1", False),
    ],
)
def test_sampled_masks_reach_the_brute_force_count(p, n, fan_out, z, memory_map, dither):
    masks = {
        clash_free_junction(
            p, n, fan_out=fan_out, parallelism=z, memory_map=memory_map, dither=dither, seed=seed
        )
        .to_mask()
        .tobytes()
        for seed in range(600)
    }
    assert len(masks) == count_clash_free_masks(
        p, n, fan_out=fan_out, parallelism=z, memory_map=memory_map, dither=dither
    )


def test_mask_count_limit():
    with pytest.raises(ValueError, match="1679616 generator outcomes.*more than limit = 1000000"):
        count_clash_free_masks(12, 12, fan_out=2, parallelism=4, memory_map="type1")
    assert (
        count_clash_free_masks(9, 6, fan_out=2, parallelism=3, memory_map="type3", limit=27) == 27
    )
    with pytest.raises(ValueError, match="more than limit = 26"):
        count_clash_free_masks(9, 6, fan_out=2, parallelism=3, memory_map="type3", limit=26)


@pytest.mark.parametrize("count", [count_clash_free_patterns, count_clash_free_masks])
def test_count_errors(count):
    with pytest.raises(ValueError, match="parallelism must divide in_features"):
        count(10, 5, fan_out=1, parallelism=3, memory_map="type1")
    with pytest.raises(ValueError, match="memory_map must be one of"):
        count(8, 4, fan_out=1, parallelism=4, memory_map="type0")


# ----------------------------------------------------------------- canonical-order paths
@settings(max_examples=60, deadline=None)
@given(sizes=clash_free_sizes(), seed=st.integers(0, 2**32 - 1))
def test_bucket_and_sort_paths_agree(sizes, seed):
    """Small masks use a dense bucket pass, large sparse ones a per-row sort: same junction."""
    p, n, fan_out, z = sizes
    s = clash_free._sizes(p, n, fan_out, None, None, z)
    rng = np.random.default_rng(seed)
    left = clash_free._draw(rng, s, "type1", True, None)
    dst = np.repeat(np.arange(n, dtype=np.int32), s.fi)
    bucket = clash_free._by_bucket(s, left, dst)
    by_sort = clash_free._by_sort(s, left, dst)
    if bucket is None or by_sort is None:
        assert bucket is None and by_sort is None
        assert np.unique(dst * p + left).size < left.size
        return
    for a, b in zip(bucket, by_sort, strict=True):
        np.testing.assert_array_equal(a, b)
    j = Junction(p, n, bucket[0], dst, bucket[1], z)
    np.testing.assert_array_equal(j.scheduled_edges()[0], left)


def test_large_sparse_junction_takes_the_sort_path():
    # 4096 x 2048 cells with 16 * 4096 edges: above both bucket thresholds.
    j = clash_free_junction(4096, 2048, fan_out=16, parallelism=64, seed=0)
    assert_clash_free_schedule(j, 4096, 2048, 16, 64, "type1", False)
