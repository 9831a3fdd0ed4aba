import numpy as np
import pytest
import scipy.sparse

from neurofabric.topology import Junction

MASK = np.array(
    [
        [1, 0, 1, 0],
        [0, 1, 1, 0],
        [1, 1, 0, 1],
    ],
    dtype=bool,
)


def test_from_mask_gives_canonical_order():
    j = Junction.from_mask(MASK)
    assert j.shape == (3, 4)
    assert j.dst.tolist() == [0, 0, 1, 1, 2, 2, 2]
    assert j.src.tolist() == [0, 2, 1, 2, 0, 1, 3]
    assert j.nnz == 7
    assert j.density == 7 / 12
    assert j.fan_in.tolist() == [2, 2, 3]
    assert j.fan_out.tolist() == [2, 2, 2, 1]
    assert not j.is_regular


def test_from_edges_sorts_and_round_trips_mask():
    dst, src = np.nonzero(MASK)
    order = np.random.default_rng(0).permutation(src.size)
    j = Junction.from_edges(4, 3, src[order], dst[order])
    assert j == Junction.from_mask(MASK)
    np.testing.assert_array_equal(j.to_mask(), MASK)
    np.testing.assert_array_equal(j.to_csr().toarray(), MASK.astype(np.int8))


def test_sparse_matrix_input():
    j = Junction.from_mask(scipy.sparse.csr_array(MASK.astype(int)))
    assert j == Junction.from_mask(MASK)


def test_arrays_are_read_only():
    j = Junction.from_mask(MASK)
    for array in (j.src, j.dst, j.fan_in, j.fan_out, j.indptr):
        with pytest.raises(ValueError):
            array[0] = 1


def test_constructor_copies_caller_arrays():
    src = np.array([0, 1])
    j = Junction(2, 1, src, np.array([0, 0]))
    src[0] = 1
    assert j.src.tolist() == [0, 1]


def test_fan_in_table_and_csr_row_pointer():
    j = Junction.from_mask([[1, 1, 0], [0, 1, 1]])
    assert j.fan_in_table().tolist() == [[0, 1], [1, 2]]
    assert j.indptr.tolist() == [0, 2, 4]
    assert j.is_regular is False  # fan-out is 1, 2, 1
    with pytest.raises(ValueError, match="constant fan-in"):
        Junction.from_mask(MASK).fan_in_table()


def test_transpose():
    j = Junction.from_mask(MASK)
    np.testing.assert_array_equal(j.transpose().to_mask(), MASK.T)


def test_schedule_is_kept_and_compared():
    # Edges given in slot order; the schedule maps slot -> canonical edge index.
    a = Junction.from_edges(2, 2, [1, 0, 0, 1], [0, 1, 0, 1], parallelism=2, scheduled=True)
    assert a.schedule.tolist() == [1, 2, 0, 3]
    src, dst = a.scheduled_edges()
    assert src.tolist() == [1, 0, 0, 1] and dst.tolist() == [0, 1, 0, 1]
    b = Junction.from_mask(np.ones((2, 2)))
    assert a != b
    assert Junction.from_edges(2, 2, [1, 0, 0, 1], [0, 1, 0, 1], parallelism=2, scheduled=True) == a


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"in_features": 0, "out_features": 2, "src": [], "dst": []},
            "in_features must be positive",
        ),
        ({"in_features": 2, "out_features": -1, "src": [], "dst": []}, "out_features must be"),
        ({"in_features": 2.5, "out_features": 2, "src": [], "dst": []}, "must be an integer"),
        ({"in_features": 2, "out_features": 2, "src": [2], "dst": [0]}, r"\[0, in_features = 2\)"),
        ({"in_features": 2, "out_features": 2, "src": [0], "dst": [5]}, r"out_features = 2\)"),
        ({"in_features": 2, "out_features": 2, "src": [0, 1], "dst": [0]}, "equal length"),
        ({"in_features": 2, "out_features": 2, "src": [1, 0], "dst": [0, 0]}, "sorted"),
    ],
)
def test_constructor_rejects_bad_edges(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Junction(**kwargs)


def test_duplicate_edges_rejected_with_the_edge():
    with pytest.raises(ValueError, match=r"duplicate edges .* \(in 1 -> out 0\)"):
        Junction.from_edges(3, 2, [1, 1], [0, 0])


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.ones(3), "2-D"),
        (np.array([[0, 2]]), "0/1"),
    ],
)
def test_from_mask_rejects(mask, message):
    with pytest.raises(ValueError, match=message):
        Junction.from_mask(mask)


def test_schedule_must_be_a_permutation():
    with pytest.raises(ValueError, match="permutation"):
        Junction(2, 1, [0, 1], [0, 0], schedule=[0, 0], parallelism=1)
    with pytest.raises(ValueError, match="parallelism"):
        Junction(2, 1, [0, 1], [0, 0], schedule=[1, 0])


def test_save_load_round_trip(tmp_path):
    j = Junction.from_edges(3, 2, [2, 0, 1], [0, 1, 1], parallelism=1, scheduled=True)
    j.save(tmp_path / "j.npz")
    loaded = Junction.load(tmp_path / "j.npz")
    assert loaded == j
    assert loaded.schedule.tolist() == j.schedule.tolist()
