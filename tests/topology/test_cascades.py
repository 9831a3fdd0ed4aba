"""Cascades (SPEC §4): Clos, block-shuffle, butterfly, Beneš, Monarch, random; skips; capacity."""

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from neurofabric.topology import (
    Topology,
    benes_topology,
    block_shuffle_topology,
    butterfly_topology,
    capacity_bound,
    clos_topology,
    gauge_neurons,
    load_topology,
    monarch_topology,
    path_count_stats,
    path_counts,
    random_cascade_topology,
    reachability,
    save_topology,
)
from neurofabric.topology.generators.butterfly import digit_stage
from neurofabric.topology.paths import propagate


# ----------------------------------------------------------------- independent references
def masks(topology: Topology) -> list[np.ndarray]:
    return [j.to_mask().astype(np.int64) for j in topology.junctions.values()]


def eye(out_features: int, in_features: int) -> np.ndarray:
    """Identity on the first min(out, in) indices (SPEC §4.6 for non-square stages)."""
    return np.eye(out_features, in_features, dtype=np.int64)


def product(factors: list[np.ndarray]) -> np.ndarray:
    result = np.eye(factors[0].shape[1], dtype=np.int64)
    for factor in factors:
        result = factor @ result
    return result


def digits(x: np.ndarray, radix: int, count: int) -> np.ndarray:
    """``(len(x), count)`` base-``radix`` digits, least significant first."""
    return np.stack([(x // radix**d) % radix for d in range(count)], axis=1)


def digit_mask(features: int, radix: int, mixed: list[int]) -> np.ndarray:
    """``mask[y, x]``: the digits of x and y agree everywhere except the ``mixed`` digits."""
    count = round(np.log(features) / np.log(radix))
    d = digits(np.arange(features), radix, count)
    keep = [i for i in range(count) if i not in mixed]
    return (d[:, None, keep] == d[None, :, keep]).all(axis=-1)


def clos_masks(n_in: int, m: int, r: int, n_out: int) -> list[np.ndarray]:
    """SPEC §4.1 written out with the flat index formulas."""
    # input (a, c) -> a·n_in + c
    in_a = np.arange(r * n_in) // n_in
    # hidden-1 (a, b) -> a·m + b
    h1_a, h1_b = np.arange(r * m) // m, np.arange(r * m) % m
    # hidden-2 (b, a') -> b·r + a'
    h2_b, h2_a = np.arange(m * r) // r, np.arange(m * r) % r
    # output (a', d) -> a'·n_out + d
    out_a = np.arange(r * n_out) // n_out
    m1 = h1_a[:, None] == in_a[None, :]  # M1[(a,b),(a0,c)]: a = a0
    m2 = h2_b[:, None] == h1_b[None, :]  # M2[(b,a'),(a,b0)]: b = b0
    m3 = out_a[:, None] == h2_a[None, :]  # M3[(a',d),(b,a1)]: a1 = a'
    return [m1, m2, m3]


# ----------------------------------------------------------------- Clos
CLOS = [
    # (n_in, m, r, n_out)
    (2, 2, 2, 2),
    (4, 4, 4, 4),
    (3, 5, 2, 3),
    (2, 3, 4, 5),
    (6, 2, 3, 1),
    (1, 1, 5, 1),
]


@pytest.mark.parametrize(("n_in", "m", "r", "n_out"), CLOS)
def test_clos_structure(n_in, m, r, n_out):
    t = clos_topology(r * n_in, r * n_out, groups=r, middle=m)
    assert t.layer_sizes == (r * n_in, r * m, m * r, r * n_out)
    assert t.kind == "cascade" and t.depth == 3
    assert t.dense_parameters == r * n_in * r * n_out
    assert t.nnz == m * r * (n_in + n_out + r)
    assert [j.density for j in t.junctions.values()] == pytest.approx([1 / r, 1 / m, 1 / r])
    counts = path_counts(t)
    assert counts.shape == (r * n_out, r * n_in)
    assert (counts == m).all()
    for junction, expected in zip(t.junctions.values(), clos_masks(n_in, m, r, n_out), strict=True):
        assert junction.blocks is not None
        assert np.array_equal(junction.to_mask(), expected)


@pytest.mark.parametrize(("n_in", "m", "r", "n_out"), CLOS)
def test_clos_is_the_block_shuffle_cascade(n_in, m, r, n_out):
    clos = clos_topology(r * n_in, r * n_out, groups=r, middle=m)
    shuffle = block_shuffle_topology((r * n_in, r * m, m * r, r * n_out), (r, m, r))
    assert clos == shuffle
    for a, b in zip(clos.junctions.values(), shuffle.junctions.values(), strict=True):
        assert np.array_equal(a.to_mask(), b.to_mask())
        assert a.blocks == b.blocks


@pytest.mark.parametrize(
    ("in_features", "out_features", "groups", "middle", "inner", "inner_middle", "paths"),
    [
        (16, 16, 4, 4, None, None, 4 * 2),  # default r2 = 2 (smallest divisor >= √4), m2 = 2
        (32, 16, 4, 3, 2, 3, 3 * 3),
        (36, 36, 9, 2, None, None, 2 * 3),  # r2 = 3, m2 = 3
        (12, 18, 6, 2, 3, 1, 2 * 1),
        (8, 8, 4, 1, 4, 1, 1),
    ],
)
def test_clos_five_stages(in_features, out_features, groups, middle, inner, inner_middle, paths):
    t = clos_topology(
        in_features,
        out_features,
        groups=groups,
        middle=middle,
        stages=5,
        inner_groups=inner,
        inner_middle=inner_middle,
    )
    assert t.depth == 5 and t.kind == "cascade"
    assert (t.in_features, t.out_features) == (in_features, out_features)
    assert (path_counts(t) == paths).all()
    assert all(j.blocks is not None for j in t.junctions.values())


# ----------------------------------------------------------------- butterfly
def butterfly_case(radix, count, order=None):
    marks = []
    name = f"k{radix}-L{count}" + ("" if order is None else "-" + "".join(map(str, order)))
    return pytest.param(radix, count, order, id=name, marks=marks)


BUTTERFLIES = [(2, 1), (2, 2), (2, 3), (2, 4), (3, 1), (3, 2), (3, 3), (4, 1), (4, 2), (4, 3)]


@pytest.mark.parametrize(("radix", "count"), BUTTERFLIES)
def test_butterfly_counts(radix, count):
    features = radix**count
    t = butterfly_topology(features, radix=radix)
    assert t.depth == count and t.kind == "cascade"
    assert t.layer_sizes == (features,) * (count + 1)
    assert t.nnz == features * radix * count
    assert (path_counts(t) == 1).all()
    for junction in t.junctions.values():
        assert (junction.fan_in == radix).all() and (junction.fan_out == radix).all()


@pytest.mark.parametrize(
    ("radix", "count", "order"),
    [butterfly_case(k, n) for k, n in BUTTERFLIES]
    + [
        butterfly_case(3, 2, (1, 0)),
        butterfly_case(2, 2, (1, 0)),
        butterfly_case(2, 3, (2, 0, 1)),
        butterfly_case(4, 3, (1, 2, 0)),
    ],
)
def test_butterfly_stage_mixes_one_digit(radix, count, order):
    features = radix**count
    t = butterfly_topology(features, radix=radix, digit_order=order)
    order = list(range(count)) if order is None else list(order)
    assert t.metadata["digit_order"] == order
    for digit, junction in zip(order, t.junctions.values(), strict=True):
        assert np.array_equal(junction.to_mask(), digit_mask(features, radix, [digit]))
    assert (path_counts(t) == 1).all()


@pytest.mark.parametrize(
    ("features", "radix", "digit", "span"),
    [
        (8, 2, 0, 1),
        (8, 2, 1, 1),
        (8, 2, 0, 3),
        (9, 3, 0, 2),
        (16, 2, 2, 2),  # Q transposes a 4×4 grid: its own inverse
        # Q = transpose of a (radix**digit × radix**span) grid: wrong unless the sides agree.
        pytest.param(8, 2, 2, 1),
        pytest.param(8, 2, 1, 2),
        pytest.param(16, 2, 1, 2),
        pytest.param(27, 3, 2, 1),
    ],
)
def test_digit_stage_mask(features, radix, digit, span):
    junction = digit_stage(features, radix, digit, span)
    mixed = list(range(digit, digit + span))
    assert np.array_equal(junction.to_mask(), digit_mask(features, radix, mixed))
    assert (junction.fan_in == radix**span).all()


# ----------------------------------------------------------------- Beneš
@pytest.mark.parametrize(
    ("features", "radix", "recursion_depth", "stages", "paths"),
    [
        (2, 2, None, 1, 1),
        (4, 2, None, 3, 2),
        (8, 2, None, 5, 4),
        (16, 2, None, 7, 8),
        (9, 3, None, 3, 3),
        (27, 3, None, 5, 9),
        (16, 4, None, 3, 4),
        (64, 4, None, 5, 16),
        (16, 2, 0, 1, 1),
        (16, 2, 1, 3, 2),
        (16, 2, 2, 5, 4),
        (27, 3, 1, 3, 3),
        (64, 4, 1, 3, 4),
    ],
)
def test_benes_stages_and_paths(features, radix, recursion_depth, stages, paths):
    t = benes_topology(features, radix=radix, recursion_depth=recursion_depth)
    assert t.depth == stages and t.kind == "cascade"
    assert (path_counts(t) == paths).all()


@pytest.mark.parametrize(
    ("features", "radix", "recursion_depth"),
    [
        (4, 2, None),
        (9, 3, None),
        (16, 4, None),
        (16, 2, 2),  # outer digits 0, 1; middle block over digits 2-3 (4×4 transpose)
        # A stage whose mixed digits start at d with span s is affected iff d ≥ 1 and s ≠ d.
        pytest.param(8, 2, None),
        pytest.param(16, 2, 1),
    ],
)
def test_benes_stage_masks(features, radix, recursion_depth):
    count = round(np.log(features) / np.log(radix))
    depth = count - 1 if recursion_depth is None else recursion_depth
    outer = [[d] for d in range(depth)]
    expected = [*outer, list(range(depth, count)), *reversed(outer)]
    t = benes_topology(features, radix=radix, recursion_depth=recursion_depth)
    for mixed, junction in zip(expected, t.junctions.values(), strict=True):
        assert np.array_equal(junction.to_mask(), digit_mask(features, radix, mixed))


# ----------------------------------------------------------------- Monarch
@pytest.mark.parametrize(
    ("features", "blocks"), [(16, 4), (9, 3), (8, 2), (32, 4), (12, 3), (6, 6), (6, 1)]
)
def test_monarch_counts(features, blocks):
    t = monarch_topology(features, blocks=blocks)
    assert t.depth == 2 and t.kind == "cascade"
    assert t.nnz == features**2 // blocks + features * blocks
    assert (path_counts(t) == 1).all()


@pytest.mark.parametrize(
    ("features", "blocks"),
    [
        (16, 4),
        (9, 3),
        (6, 1),
        (6, 6),
        pytest.param(8, 2),
        pytest.param(12, 3),
    ],
)
def test_monarch_masks(features, blocks):
    # R: blocks dense blocks of width w = features / blocks; L·Pᵀ mixes, within each residue
    # class mod w, i.e. output y and input x are joined iff x ≡ y (mod w).
    width = features // blocks
    first, second = (
        j.to_mask() for j in monarch_topology(features, blocks=blocks).junctions.values()
    )
    index = np.arange(features)
    assert np.array_equal(first, (index[:, None] // width) == (index[None, :] // width))
    assert np.array_equal(second, (index[:, None] % width) == (index[None, :] % width))


# ----------------------------------------------------------------- random cascades
@pytest.mark.parametrize(
    ("sizes", "fan_out"),
    [((12, 8, 16), (2, 4)), ((16, 16, 16, 16), 4), ((8, 24), 6), ((10, 5, 20, 10), (2, 8, 5))],
)
def test_random_cascade_structured(sizes, fan_out):
    t = random_cascade_topology(sizes, fan_out=fan_out, seed=3)
    assert t.kind == "cascade" and t.layer_sizes == tuple(sizes)
    assert t.depth == len(sizes) - 1
    fan_outs = [fan_out] * (len(sizes) - 1) if isinstance(fan_out, int) else fan_out
    for (s, target), junction in t.junctions.items():
        fo = fan_outs[s]
        assert (junction.fan_out == fo).all()
        assert (junction.fan_in == sizes[s] * fo // sizes[target]).all()
    assert t == random_cascade_topology(sizes, fan_out=fan_out, seed=3)


def test_random_cascade_random_pattern_and_seeds():
    a = random_cascade_topology((16, 16, 16), density=0.25, pattern="random", seed=1)
    assert [j.nnz for j in a.junctions.values()] == [64, 64]
    assert a == random_cascade_topology((16, 16, 16), density=0.25, pattern="random", seed=1)
    assert a != random_cascade_topology((16, 16, 16), density=0.25, pattern="random", seed=2)
    rng = np.random.default_rng(5)
    b = random_cascade_topology((16, 16), density=0.5, seed=rng)
    assert b.kind == "cascade" and b.nnz == 128


# ----------------------------------------------------------------- skips
Builder = Callable[[str], Topology]
GENERATORS: dict[str, tuple[Builder, bool]] = {
    # name: (skip -> topology, has an output order that is not its own inverse)
    "clos-square": (lambda skip: clos_topology(16, 16, groups=4, middle=4, skip=skip), False),
    "clos-rect": (lambda skip: clos_topology(8, 12, groups=2, middle=3, skip=skip), False),
    "clos-5": (lambda skip: clos_topology(16, 16, groups=4, middle=4, stages=5, skip=skip), False),
    "block-shuffle": (lambda skip: block_shuffle_topology((12, 6, 18), (3, 3), skip=skip), False),
    "butterfly-k3": (lambda skip: butterfly_topology(9, radix=3, skip=skip), False),
    "butterfly-k2-L3": (lambda skip: butterfly_topology(8, skip=skip), True),
    "benes-4": (lambda skip: benes_topology(4, skip=skip), False),
    "benes-8": (lambda skip: benes_topology(8, skip=skip), True),
    "monarch-16-4": (lambda skip: monarch_topology(16, blocks=4, skip=skip), False),
    "monarch-8-2": (lambda skip: monarch_topology(8, blocks=2, skip=skip), True),
    "random": (
        lambda skip: random_cascade_topology((12, 8, 16), fan_out=(2, 4), skip=skip, seed=0),
        False,
    ),
}


def generator_params() -> list:
    return [pytest.param(build, id=name) for name, (build, _) in GENERATORS.items()]


@pytest.mark.parametrize("build", generator_params())
def test_skip_none(build):
    t = build("none")
    assert not t.identity_skips and t.metadata["skip"] == "none"
    assert np.array_equal(path_counts(t), product(masks(t)))


@pytest.mark.parametrize("build", generator_params())
def test_skip_identity_counts_prod_of_m_plus_i(build):
    t, plain = build("identity"), build("none")
    assert t.identity_skips == {(s, s + 1) for s in range(t.depth)}
    assert t.nnz == plain.nnz  # fixed skips are not parameters
    assert [j.to_mask().tolist() for j in t.junctions.values()] == [
        j.to_mask().tolist() for j in plain.junctions.values()
    ]
    expected = product([m + eye(*m.shape) for m in masks(plain)])
    assert np.array_equal(path_counts(t), expected)


@pytest.mark.parametrize("build", generator_params())
def test_skip_residual_counts_prod_plus_i(build):
    t, plain = build("residual"), build("none")
    assert t.identity_skips == {(0, t.depth)}
    assert t.nnz == plain.nnz
    expected = product(masks(plain)) + eye(t.out_features, t.in_features)
    assert np.array_equal(path_counts(t), expected)


@pytest.mark.parametrize("build", generator_params())
def test_skip_trainable_identity_ors_the_identity(build):
    t, plain = build("trainable_identity"), build("none")
    assert not t.identity_skips
    grown = 0
    for before, junction in zip(plain.junctions.values(), t.junctions.values(), strict=True):
        m = before.to_mask().astype(np.int64)
        identity = eye(*m.shape)
        assert np.array_equal(junction.to_mask(), (m | identity).astype(bool))
        grown += int(np.count_nonzero(identity & (m == 0)))
        if before.blocks is not None:  # stays a block stage, with the diagonal flag
            assert junction.blocks == replace(before.blocks, diagonal=True)
    assert t.nnz == plain.nnz + grown
    expected = product([m | eye(*m.shape) for m in masks(plain)])
    assert np.array_equal(path_counts(t), expected)


def test_trainable_identity_on_a_clos_by_hand():
    # Clos(4, 4, 4), flat index i on the diagonal:
    # M1: i = 4a+b = 4a0+c with a = a0 always holds — 0 new edges.
    # M2: i = 4b+a' = 4a+b0 needs b = b0, i.e. a' = b — 4 of 16 present, 12 new.
    # M3: i = 4a'+d = 4b+a1 needs a1 = a', i.e. d = a' — 4 of 16 present, 12 new.
    plain = clos_topology(16, 16, groups=4, middle=4)
    t = clos_topology(16, 16, groups=4, middle=4, skip="trainable_identity")
    added = [
        b.nnz - a.nnz for a, b in zip(plain.junctions.values(), t.junctions.values(), strict=True)
    ]
    assert added == [0, 12, 12]
    assert t.nnz == plain.nnz + 24


@pytest.mark.parametrize(
    "build",
    [
        lambda skip: clos_topology(8, 12, groups=2, middle=3, skip=skip),
        lambda skip: random_cascade_topology((12, 8, 16), fan_out=(2, 4), skip=skip, seed=0),
    ],
    ids=["clos-rect", "random-rect"],
)
def test_non_square_identity_uses_the_first_min_indices(build):
    t = build("identity")
    sizes = t.layer_sizes
    assert any(a != b for a, b in zip(sizes, sizes[1:], strict=False))  # really non-square
    for s in range(t.depth):
        # Path counts across one stage: its mask plus the rectangular identity.
        counts = path_counts(t, source=s, target=s + 1)
        mask = t.junctions[(s, s + 1)].to_mask().astype(np.int64)
        shared = min(sizes[s], sizes[s + 1])
        extra = counts - mask
        assert np.array_equal(extra[:shared, :shared], np.eye(shared, dtype=np.int64))
        extra[:shared, :shared] = 0
        assert not extra.any()


# ----------------------------------------------------------------- path statistics
ALL_SKIPS = ("none", "identity", "trainable_identity", "residual")


@pytest.mark.parametrize("skip", ALL_SKIPS)
@pytest.mark.parametrize("build", generator_params())
def test_path_count_stats_agree_with_path_counts(build, skip):
    t = build(skip)
    counts = path_counts(t)
    stats = path_count_stats(t)
    assert stats["min"] == counts.min()
    assert stats["max"] == counts.max()
    assert stats["mean"] == pytest.approx(counts.mean())
    assert stats["reachable_fraction"] == pytest.approx(np.count_nonzero(counts) / counts.size)
    assert stats["fully_connected"] == bool((counts > 0).all())
    assert np.array_equal(reachability(t), counts > 0)


def test_path_count_stats_of_a_partially_connected_cascade():
    # Sizes (8, 8, 8), groups (4, 4): stage 2's block 0 reads hidden 0 and 2 (after the 4×2
    # shuffle), i.e. inputs 0-3 once each — every output reaches half the inputs by one path.
    t = block_shuffle_topology((8, 8, 8), (4, 4))
    counts = path_counts(t)
    assert sorted(set(counts.ravel().tolist())) == [0, 1]
    assert counts.sum(axis=1).tolist() == [4] * 8
    stats = path_count_stats(t)
    assert (stats["min"], stats["max"], stats["mean"]) == (0, 1, 0.5)
    assert stats["reachable_fraction"] == 0.5
    assert not stats["fully_connected"]


def propagate_params() -> list:
    return [
        pytest.param(build, skip, id=f"{name}-{skip}")
        for name, (build, _) in GENERATORS.items()
        for skip in ("none", "identity")
    ] + [
        pytest.param(build, "trainable_identity", id=f"{name}-trainable_identity")
        for name, (build, _) in GENERATORS.items()
    ]


@pytest.mark.parametrize(("build", "skip"), propagate_params())
def test_propagate_with_blocks_equals_mask_times_x(build, skip):
    t = build(skip)
    rng = np.random.default_rng(0)
    for junction in t.junctions.values():
        x = rng.integers(-3, 4, size=(junction.in_features, 5))
        assert np.array_equal(propagate(junction, x), junction.to_mask().astype(np.int64) @ x)


# ----------------------------------------------------------------- capacity (SPEC §6.1)
def hidden_neurons(t: Topology) -> int:
    return sum(t.layer_sizes[1:-1])


def unfixed_hidden_neurons(t: Topology) -> int:
    """Hidden neurons touched by no per-stage identity skip (first min(N_s, N_t) indices)."""
    sizes = t.layer_sizes
    total = 0
    for layer in range(1, len(sizes) - 1):
        fixed = max(min(sizes[layer - 1], sizes[layer]), min(sizes[layer], sizes[layer + 1]))
        total += sizes[layer] - fixed
    return total


@pytest.mark.parametrize("skip", ALL_SKIPS)
@pytest.mark.parametrize("build", generator_params())
def test_gauge_neurons_and_capacity_bound(build, skip):
    t = build(skip)
    square = len(set(t.layer_sizes)) == 1
    if skip == "identity":
        expected = 0 if square else unfixed_hidden_neurons(t)
    else:  # none, trainable_identity, residual: every hidden neuron carries a gauge
        expected = hidden_neurons(t)
    assert gauge_neurons(t) == expected
    edges = build("none").nnz if skip in ("none", "identity", "residual") else t.nnz
    assert t.nnz == edges
    assert capacity_bound(t) == min(t.in_features * t.out_features, edges - expected)


@pytest.mark.parametrize(
    ("build", "gauges", "bound"),
    [
        # Clos(4, 4, 4): 4·4·12 = 192 edges, 32 hidden neurons -> 160 < 256 pairs.
        (lambda: clos_topology(16, 16, groups=4, middle=4), 32, 160),
        (lambda: clos_topology(16, 16, groups=4, middle=4, skip="identity"), 0, 192),
        (lambda: clos_topology(16, 16, groups=4, middle=4, skip="residual"), 32, 160),
        # Butterfly(8): 48 edges, 16 hidden neurons.
        (lambda: butterfly_topology(8), 16, 32),
        # Clos(8, 12; r=2, m=3): sizes (8, 6, 6, 12), 3·2·(4 + 6 + 2) = 72 edges; identity
        # skips fix all 12 hidden neurons; 72 < 96 pairs.
        (lambda: clos_topology(8, 12, groups=2, middle=3, skip="identity"), 0, 72),
        (lambda: clos_topology(8, 12, groups=2, middle=3), 12, 60),
        # Random (12, 8, 16): 12·2 + 8·4 = 56 edges; hidden layer of 8 within min(12, 8).
        (lambda: random_cascade_topology((12, 8, 16), fan_out=(2, 4), skip="identity"), 0, 56),
        # Dense stages 4 -> 4 -> 4 would give 32 - 4 = 28, capped at 16 pairs.
        (lambda: block_shuffle_topology((4, 4, 4), (1, 1)), 4, 16),
    ],
    ids=[
        "clos",
        "clos-identity",
        "clos-residual",
        "butterfly",
        "clos-rect-identity",
        "clos-rect",
        "random",
        "dense",
    ],
)
def test_capacity_by_hand(build, gauges, bound):
    t = build()
    assert gauge_neurons(t) == gauges
    assert capacity_bound(t) == bound


def test_gauges_of_a_widening_cascade_with_identity_skips():
    # Sizes (4, 8, 4): the hidden layer's neurons 4..7 have no skip on either side.
    t = block_shuffle_topology((4, 8, 4), (2, 2), skip="identity")
    assert gauge_neurons(t) == 4
    assert capacity_bound(t) == min(16, t.nnz - 4)


# ----------------------------------------------------------------- save / load
@pytest.mark.parametrize("skip", ALL_SKIPS)
@pytest.mark.parametrize("build", generator_params())
def test_save_load_round_trip(build, skip, tmp_path):
    t = build(skip)
    path = save_topology(t, tmp_path / "cascade.npz")
    loaded = load_topology(path)
    assert loaded == t
    assert loaded.kind == "cascade"
    assert loaded.identity_skips == t.identity_skips
    for key, junction in t.junctions.items():
        assert loaded.junctions[key].blocks == junction.blocks
    assert loaded.metadata["skip"] == skip
    assert np.array_equal(path_counts(loaded), path_counts(t))


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: clos_topology(18, 16, groups=4, middle=4),
            "in_features = 18 is not divisible by groups = 4",
        ),
        (
            lambda: clos_topology(16, 10, groups=4, middle=4),
            "out_features = 10 is not divisible by groups = 4",
        ),
        (
            lambda: block_shuffle_topology((16, 12, 16), (4, 8)),
            "layer 1 size = 12 is not divisible by groups = 8",
        ),
        (
            lambda: block_shuffle_topology((16, 16), (4, 4)),
            "2 stages need 3 layer sizes, got 2",
        ),
        (lambda: clos_topology(16, 16, groups=4, middle=0), "middle must be positive, got 0"),
        (lambda: clos_topology(16, 16, groups=0, middle=4), "groups must be positive, got 0"),
        (
            lambda: clos_topology(16, 16, groups=4, middle=4, stages=4),
            "a Clos network has 3 or 5 stages, got stages = 4",
        ),
        (
            lambda: clos_topology(16, 16, groups=4, middle=4, stages=5, inner_groups=3),
            "groups = 4 is not divisible by inner_groups = 3",
        ),
        (
            lambda: clos_topology(16, 16, groups=4, middle=4, stages=5, inner_middle=0),
            "inner_middle must be positive, got 0",
        ),
        (
            lambda: butterfly_topology(10),
            r"features = 10 must be a power of radix = 2 .*nearest: 8 or 16",
        ),
        (
            lambda: butterfly_topology(20, radix=3),
            r"features = 20 must be a power of radix = 3 .*nearest: 9 or 27",
        ),
        (
            lambda: benes_topology(48, radix=4),
            r"features = 48 must be a power of radix = 4 .*nearest: 16 or 64",
        ),
        (
            lambda: butterfly_topology(2, radix=3),
            r"features = 2 must be a power of radix = 3 .*nearest: 3 or 9",
        ),
        pytest.param(
            lambda: butterfly_topology(1),
            r"features = 1 must be a power of radix = 2 .*nearest: 2 or 4",
            id="features-1-nearest",
        ),
        (lambda: butterfly_topology(8, radix=1), "radix must be at least 2, got 1"),
        (
            lambda: butterfly_topology(8, digit_order=(0, 0, 1)),
            r"digit_order must be a permutation of 0\.\.2 for 8 = 2\^3, got \[0, 0, 1\]",
        ),
        (
            lambda: butterfly_topology(8, digit_order=(0, 1)),
            r"digit_order must be a permutation of 0\.\.2",
        ),
        (
            lambda: benes_topology(8, recursion_depth=3),
            r"recursion_depth must lie in \[0, 2\] for 8 = 2\^3, got 3",
        ),
        (
            lambda: benes_topology(8, recursion_depth=-1),
            r"recursion_depth must lie in \[0, 2\] for 8 = 2\^3, got -1",
        ),
        (
            lambda: benes_topology(8, recursion_depth=True),
            r"recursion_depth must lie in \[0, 2\] .*got True",
        ),
        (
            lambda: monarch_topology(10, blocks=4),
            "features = 10 is not divisible by blocks = 4",
        ),
        (lambda: monarch_topology(10, blocks=0), "blocks must be positive, got 0"),
        (
            lambda: random_cascade_topology((12, 8), fan_out=5),
            "fan_out \\* in_features = 60 is not divisible by out_features = 8",
        ),
        (
            lambda: random_cascade_topology((12, 8), fan_out=2, pattern="windowed"),
            "pattern must be 'structured' or 'random', got 'windowed'",
        ),
    ],
    ids=lambda value: "" if callable(value) else value.split(" is ")[0].split(" must ")[0][:40],
)
def test_errors_show_the_numbers(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda skip: clos_topology(16, 16, groups=4, middle=4, skip=skip),
        lambda skip: clos_topology(16, 16, groups=4, middle=4, stages=5, skip=skip),
        lambda skip: block_shuffle_topology((4, 4), (2,), skip=skip),
        lambda skip: butterfly_topology(8, skip=skip),
        lambda skip: benes_topology(8, skip=skip),
        lambda skip: monarch_topology(16, blocks=4, skip=skip),
        lambda skip: random_cascade_topology((8, 8), fan_out=2, skip=skip),
    ],
    ids=["clos", "clos-5", "block-shuffle", "butterfly", "benes", "monarch", "random"],
)
def test_bad_skip_lists_the_valid_ones(make):
    with pytest.raises(
        ValueError,
        match="unknown skip 'skipped'; choose one of none, identity, trainable_identity, residual",
    ):
        make("skipped")


# ----------------------------------------------------------------- scale
def test_wide_clos_builds():
    # SPEC §4.1 at 8192 neurons: m·r·(n_in + n_out + r) = 128·64·(128 + 128 + 64) edges.
    t = clos_topology(8192, 8192, groups=64, middle=128)
    assert t.layer_sizes == (8192, 8192, 8192, 8192)
    assert t.nnz == 128 * 64 * (128 + 128 + 64)
