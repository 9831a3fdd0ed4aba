"""GridPermutation and BlockStructure against dense references built independently here."""

import math
from dataclasses import replace
from itertools import permutations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurofabric.topology import Junction
from neurofabric.topology.blocks import BlockStructure, GridPermutation
from neurofabric.topology.paths import propagate


# ----------------------------------------------------------------- independent references
def permutation_matrix(order: GridPermutation | None, size: int) -> np.ndarray:
    """``(size, size)`` 0/1 matrix of ``x ↦ x.reshape(shape).transpose(axes).reshape(-1)``.

    Built element by element from the grid coordinates, not from ``indices()``.
    """
    matrix = np.zeros((size, size), dtype=np.int64)
    if order is None:
        return np.eye(size, dtype=np.int64)
    moved_shape = [order.shape[a] for a in order.axes]
    for target, position in enumerate(np.ndindex(*moved_shape)):
        coordinate = [0] * len(order.shape)
        for axis, value in zip(order.axes, position, strict=True):
            coordinate[axis] = value
        source = int(np.ravel_multi_index(coordinate, order.shape))
        matrix[target, source] = 1
    return matrix


def dense_mask(structure: BlockStructure) -> np.ndarray:
    """``Q · blockdiag(ones) · P`` as a boolean ``(out, in)`` mask, OR the identity if diagonal."""
    blocks = np.kron(
        np.eye(structure.blocks, dtype=np.int64),
        np.ones((structure.block_out, structure.block_in), dtype=np.int64),
    )
    p = permutation_matrix(structure.input_order, structure.in_features)
    q = permutation_matrix(structure.output_order, structure.out_features)
    mask = (q @ blocks @ p) > 0
    if structure.diagonal:
        mask |= np.eye(structure.out_features, structure.in_features, dtype=bool)
    return mask


def mask_of(structure: BlockStructure) -> np.ndarray:
    src, dst = structure.edges()
    mask = np.zeros((structure.out_features, structure.in_features), dtype=bool)
    mask[dst, src] = True
    return mask


# ----------------------------------------------------------------- GridPermutation
@st.composite
def grid_permutations(draw, max_axes: int = 4, max_side: int = 4):
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=1, max_size=max_axes)))
    axes = tuple(draw(st.permutations(range(len(shape)))))
    return GridPermutation(shape, axes)


@settings(max_examples=80, deadline=None)
@given(grid_permutations(), st.integers(1, 3))
def test_grid_permutation_indices_agree_with_apply(order, lead):
    x = np.arange(lead * order.size).reshape(lead, order.size) * 10 + 7
    assert np.array_equal(order.apply(x), x[:, order.indices()])
    assert np.array_equal(order.apply(x[0]), x[0][order.indices()])
    assert np.array_equal(permutation_matrix(order, order.size) @ x[0], order.apply(x[0]))
    assert sorted(order.indices().tolist()) == list(range(order.size))
    assert order.size == math.prod(order.shape)


@settings(max_examples=80, deadline=None)
@given(grid_permutations())
def test_grid_permutation_inverse_composes_to_identity(order):
    inverse = order.inverse()
    identity = np.arange(order.size)
    assert np.array_equal(inverse.apply(order.apply(identity)), identity)
    assert np.array_equal(order.apply(inverse.apply(identity)), identity)
    assert np.array_equal(inverse.indices()[order.indices()], identity)
    assert inverse.inverse().indices().tolist() == order.indices().tolist()


@pytest.mark.parametrize(("rows", "columns"), [(1, 1), (2, 3), (3, 2), (4, 4), (5, 7)])
def test_shuffle_is_the_grid_transpose(rows, columns):
    shuffle = GridPermutation.shuffle(rows, columns)
    assert shuffle == GridPermutation((rows, columns), (1, 0))
    x = np.arange(rows * columns) * 3 + 1
    y = shuffle.apply(x)
    for a in range(rows):
        for b in range(columns):
            # The element at a·m + b moves to b·r + a.
            assert y[b * rows + a] == x[a * columns + b]


@pytest.mark.parametrize(
    ("shape", "axes", "identity"),
    [
        ((6,), (0,), True),
        ((2, 3), (0, 1), True),
        ((2, 3), (1, 0), False),
        ((1, 3), (1, 0), True),
        ((3, 1), (1, 0), True),
        ((1, 1, 1), (2, 0, 1), True),
        ((2, 1, 3), (1, 0, 2), True),
        ((2, 3, 1), (0, 2, 1), True),
        ((2, 1, 3), (2, 1, 0), False),
        pytest.param(
            (1, 3, 2),
            (2, 0, 1),
            False,
            id="moved-size-1-axis-hides-transpose",
        ),
    ],
)
def test_is_identity_matches_indices(shape, axes, identity):
    order = GridPermutation(shape, axes)
    assert np.array_equal(order.indices(), np.arange(order.size)) == identity
    assert order.is_identity == identity


@pytest.mark.parametrize(
    ("shape", "axes", "match"),
    [
        ((2, 3), (0, 0), r"axes \(0, 0\) must be a permutation of 0\.\.1"),
        ((2, 3), (0,), r"axes \(0,\) must be a permutation of 0\.\.1"),
        ((2, 3), (1, 2), r"must be a permutation of 0\.\.1"),
        ((2, 3), (0, 1, 2), r"must be a permutation of 0\.\.1"),
        ((2, 0), (0, 1), "grid size must be a positive integer, got 0"),
        ((2, -1), (1, 0), "grid size must be a positive integer, got -1"),
    ],
)
def test_grid_permutation_errors(shape, axes, match):
    with pytest.raises(ValueError, match=match):
        GridPermutation(shape, axes)


def test_grid_permutation_dict_round_trip():
    order = GridPermutation((2, 3, 4), (2, 0, 1))
    assert order.to_dict() == {"shape": [2, 3, 4], "axes": [2, 0, 1]}
    assert GridPermutation.from_dict(order.to_dict()) == order


# ----------------------------------------------------------------- BlockStructure
@st.composite
def grid_orders(draw, size: int):
    """A random grid permutation of ``size`` neurons with up to three factors, or None."""
    if draw(st.booleans()):
        return None
    first = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    rest = size // first
    second = draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0]))
    shape = (first, second, rest // second)
    return GridPermutation(shape, tuple(draw(st.permutations(range(3)))))


@st.composite
def input_ordered_structures(draw):
    blocks, block_in, block_out = (draw(st.integers(1, 4)) for _ in range(3))
    return BlockStructure(
        blocks,
        block_in,
        block_out,
        input_order=draw(grid_orders(blocks * block_in)),
        diagonal=draw(st.booleans()),
    )


@settings(max_examples=80, deadline=None)
@given(input_ordered_structures())
def test_edges_match_dense_reference_for_any_input_order(structure):
    src, dst = structure.edges()
    assert np.array_equal(mask_of(structure), dense_mask(structure))
    # Canonical order: sorted by (dst, src), no duplicates.
    key = dst * structure.in_features + src
    assert np.all(np.diff(key) > 0)
    if not structure.diagonal:
        assert src.size == structure.block_nnz


# Output orders: None, involutions (square transposes) and non-involutive grid permutations.
SQUARE_T = GridPermutation((3, 3), (1, 0))
CASES = {
    "plain": BlockStructure(3, 2, 4),
    "plain-diagonal": BlockStructure(3, 2, 4, diagonal=True),
    "wide-diagonal": BlockStructure(2, 5, 1, diagonal=True),
    "clos-middle": BlockStructure(3, 2, 2, GridPermutation.shuffle(2, 3)),
    "clos-egress": BlockStructure(2, 3, 4, GridPermutation.shuffle(3, 2)),
    "three-axis-input": BlockStructure(4, 6, 1, GridPermutation((2, 3, 4), (2, 0, 1))),
    "square-transpose-output": BlockStructure(3, 3, 3, SQUARE_T, SQUARE_T),
    "square-transpose-output-diagonal": BlockStructure(3, 3, 3, None, SQUARE_T, diagonal=True),
    "digit1-radix2": BlockStructure(
        4, 2, 2, GridPermutation((2, 2, 2), (0, 2, 1)), GridPermutation((2, 2, 2), (0, 2, 1))
    ),
}
NON_INVOLUTIVE_CASES = {
    "rect-shuffle-output": BlockStructure(3, 2, 2, None, GridPermutation.shuffle(2, 3)),
    "monarch-second-stage": BlockStructure(
        4, 2, 2, GridPermutation.shuffle(2, 4), GridPermutation.shuffle(4, 2)
    ),
    "digit2-radix2": BlockStructure(
        4, 2, 2, GridPermutation((1, 2, 4), (0, 2, 1)), GridPermutation((1, 4, 2), (0, 2, 1))
    ),
    "three-axis-output-diagonal": BlockStructure(
        2, 3, 6, GridPermutation.shuffle(2, 3), GridPermutation((2, 3, 2), (1, 2, 0)), True
    ),
}
ALL_CASES = [pytest.param(s, id=name) for name, s in CASES.items()] + [
    pytest.param(s, id=name) for name, s in NON_INVOLUTIVE_CASES.items()
]
# Output orders that are not their own inverse tell Q from its inverse.
PROPAGATE_CASES = ALL_CASES
UNMARKED_CASES = [pytest.param(s, id=n) for n, s in {**CASES, **NON_INVOLUTIVE_CASES}.items()]


@pytest.mark.parametrize("structure", ALL_CASES)
def test_edges_match_dense_reference(structure):
    assert np.array_equal(mask_of(structure), dense_mask(structure))


@pytest.mark.parametrize("structure", PROPAGATE_CASES)
def test_propagate_uses_the_same_matrix_as_the_mask(structure):
    junction = Junction.from_blocks(structure)
    x = np.random.default_rng(0).integers(-5, 6, size=(structure.in_features, 3))
    assert np.array_equal(propagate(junction, x), junction.to_mask().astype(np.int64) @ x)


@pytest.mark.parametrize("structure", [pytest.param(s, id=n) for n, s in CASES.items()])
def test_diagonal_ors_identity_without_doubling(structure):
    plain = mask_of(replace(structure, diagonal=False))
    with_eye = mask_of(replace(structure, diagonal=True))
    eye = np.eye(structure.out_features, structure.in_features, dtype=bool)
    assert np.array_equal(with_eye, plain | eye)
    src, dst = replace(structure, diagonal=True).edges()
    already = int(np.count_nonzero(plain & eye))
    assert src.size == structure.block_nnz + eye.sum() - already
    assert np.unique(dst * structure.in_features + src).size == src.size


def test_diagonal_on_a_block_diagonal_square_adds_nothing():
    # Square blocks on the diagonal already contain every (i, i).
    plain, diagonal = BlockStructure(4, 3, 3), BlockStructure(4, 3, 3, diagonal=True)
    assert [a.tolist() for a in plain.edges()] == [a.tolist() for a in diagonal.edges()]


def test_edges_docstring_case_by_hand():
    # Two blocks of one output reading two inputs: out 0 <- in 0, 1; out 1 <- in 2, 3.
    src, dst = BlockStructure(blocks=2, block_in=2, block_out=1).edges()
    assert src.tolist() == [0, 1, 2, 3]
    assert dst.tolist() == [0, 0, 1, 1]
    # Shuffled input (2×2 transpose): block 0 reads inputs 0 and 2, block 1 inputs 1 and 3.
    src, dst = BlockStructure(2, 2, 1, GridPermutation.shuffle(2, 2)).edges()
    assert src.tolist() == [0, 2, 1, 3]
    assert dst.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"blocks": 0, "block_in": 2, "block_out": 2}, "blocks must be a positive integer, got 0"),
        ({"blocks": 2, "block_in": -1, "block_out": 2}, "block_in must be a positive integer"),
        ({"blocks": 2, "block_in": 2, "block_out": 1.5}, "block_out must be a positive integer"),
        ({"blocks": True, "block_in": 2, "block_out": 2}, "blocks must be a positive integer"),
        (
            {
                "blocks": 2,
                "block_in": 2,
                "block_out": 2,
                "input_order": GridPermutation((2, 3), (1, 0)),
            },
            "input_order permutes 6 neurons, the stage has 4",
        ),
        (
            {
                "blocks": 2,
                "block_in": 2,
                "block_out": 3,
                "output_order": GridPermutation((4,), (0,)),
            },
            "output_order permutes 4 neurons, the stage has 6",
        ),
    ],
)
def test_block_structure_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BlockStructure(**kwargs)


@pytest.mark.parametrize("structure", UNMARKED_CASES)
def test_block_structure_dict_round_trip(structure):
    data = structure.to_dict()
    assert BlockStructure.from_dict(data) == structure
    # JSON-like: plain ints, lists and None only.
    assert data["input_order"] is None or isinstance(data["input_order"]["shape"], list)
    assert BlockStructure.from_dict({k: v for k, v in data.items() if k != "diagonal"}) == (
        replace(structure, diagonal=False)
    )


# ----------------------------------------------------------------- Junction with blocks
def test_junction_from_blocks_keeps_the_structure():
    structure = CASES["clos-middle"]
    junction = Junction.from_blocks(structure)
    assert junction.blocks == structure
    assert junction.nnz == structure.block_nnz
    assert np.array_equal(junction.to_mask(), dense_mask(structure))
    # The validating constructor accepts the same arrays with the structure.
    same = Junction(6, 6, junction.src, junction.dst, blocks=structure)
    assert same == junction


def test_junction_with_wrong_blocks_is_refused():
    structure = CASES["clos-middle"]
    plain = Junction.from_blocks(BlockStructure(3, 2, 2))  # same sizes, no shuffle
    with pytest.raises(ValueError, match="does not reproduce the junction's edges"):
        Junction(6, 6, plain.src, plain.dst, blocks=structure)


def test_junction_with_blocks_of_another_size_is_refused():
    junction = Junction.from_blocks(BlockStructure(2, 3, 3))
    with pytest.raises(ValueError, match="maps 4 -> 4 neurons, the junction 6 -> 6"):
        Junction(6, 6, junction.src, junction.dst, blocks=BlockStructure(2, 2, 2))


def test_junction_blocks_must_be_a_block_structure():
    junction = Junction.from_blocks(BlockStructure(2, 3, 3))
    with pytest.raises(ValueError, match="blocks must be a BlockStructure, got dict"):
        Junction(6, 6, junction.src, junction.dst, blocks=junction.blocks.to_dict())


def test_junction_equality_depends_on_blocks():
    structure = BlockStructure(2, 3, 3)
    with_blocks = Junction.from_blocks(structure)
    without = Junction.from_mask(with_blocks.to_mask())
    assert np.array_equal(with_blocks.to_mask(), without.to_mask())
    assert with_blocks != without


@pytest.mark.parametrize("axes", list(permutations(range(3))))
def test_every_three_axis_order_has_an_exact_dense_matrix(axes):
    # The reference matrix itself: apply(x) == P @ x for every axis order.
    order = GridPermutation((2, 3, 4), axes)
    x = np.arange(order.size)
    assert np.array_equal(permutation_matrix(order, order.size) @ x, order.apply(x))
