"""Per-cycle memory clash checks of a junction's hardware schedule (SPEC §2.3)."""

import dataclasses
import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurofabric.topology.clash import ClashReport, clash_report
from neurofabric.topology.generators.clash_free import clash_free_junction
from neurofabric.topology.junction import Junction


def reference_clashing_cycles(src_in_slot_order, z):
    """Loop-by-loop twin: a cycle clashes iff its banks are not pairwise distinct."""
    cycles = [src_in_slot_order[c : c + z] for c in range(0, len(src_in_slot_order), z)]
    return [c for c, left in enumerate(cycles) if len({q % z for q in left}) < len(left)]


# Edges (in -> out): 0->0, 2->0, 1->1, 3->1, given in slot order with parallelism 2.
CASES = [
    # name, slot-order src, slot-order dst, parallelism, clashing cycles, banks
    ("clash-every-cycle", [0, 2, 1, 3], [0, 0, 1, 1], 2, [0, 1], [[0, 0], [1, 1]]),
    ("clash-free-order", [0, 1, 2, 3], [0, 1, 0, 1], 2, [], [[0, 1], [0, 1]]),
    ("clash-second-cycle", [0, 1, 2, 0], [0, 1, 0, 1], 2, [1], [[0, 1], [0, 0]]),
    ("partial-last-cycle", [0, 1, 2, 3, 4], [0, 0, 0, 0, 1], 3, [], [[0, 1, 2], [0, 1, -1]]),
    ("partial-last-clash", [0, 1, 2, 3, 6], [0, 0, 0, 0, 1], 3, [1], [[0, 1, 2], [0, 0, -1]]),
    ("one-lane", [3, 1, 0], [0, 0, 1], 1, [], [[0], [0], [0]]),
]


@pytest.mark.parametrize(
    "src, dst, parallelism, clashing, banks",
    [case[1:] for case in CASES],
    ids=[c[0] for c in CASES],
)
def test_hand_made_schedules(src, dst, parallelism, clashing, banks):
    in_features = max(src) + 1
    j = Junction.from_edges(
        in_features, max(dst) + 1, src, dst, parallelism=parallelism, scheduled=True
    )
    report = clash_report(j)
    assert report.parallelism == parallelism
    assert report.num_cycles == len(banks)
    assert report.banks.tolist() == banks
    assert report.clashing_cycles.tolist() == clashing
    assert report.is_clash_free == (not clashing)
    assert report.clashing_cycles.tolist() == reference_clashing_cycles(src, parallelism)


def test_schedule_order_not_canonical_order():
    # Canonical order (0, 2, 1, 3) clashes with z = 2; the schedule (0, 1, 2, 3) does not.
    scheduled = Junction.from_edges(4, 2, [0, 1, 2, 3], [0, 1, 0, 1], parallelism=2, scheduled=True)
    unscheduled = Junction.from_edges(4, 2, [0, 1, 2, 3], [0, 1, 0, 1])
    assert clash_report(scheduled).is_clash_free
    assert clash_report(unscheduled, parallelism=2).clashing_cycles.tolist() == [0, 1]


def test_argument_overrides_the_junction_parallelism():
    j = Junction.from_edges(4, 2, [0, 1, 2, 3], [0, 1, 0, 1], parallelism=2, scheduled=True)
    report = clash_report(j, parallelism=4)  # banks 0, 1, 2, 3 in one cycle
    assert report.parallelism == 4 and report.num_cycles == 1 and report.is_clash_free
    assert clash_report(j, 3).banks.tolist() == [[0, 1, 2], [0, -1, -1]]


@pytest.mark.parametrize(
    "parallelism, match",
    [
        (None, "carries no parallelism"),
        (0, "parallelism must be positive"),
        (2.5, "parallelism must be an integer"),
    ],
)
def test_errors(parallelism, match):
    j = Junction.from_edges(4, 2, [0, 1, 2, 3], [0, 1, 0, 1])
    with pytest.raises(ValueError, match=match):
        clash_report(j, parallelism)


def test_report_is_frozen_and_read_only():
    report = clash_report(Junction.from_edges(4, 1, [0, 2], [0, 0]), 2)
    assert isinstance(report, ClashReport)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.parallelism = 3
    with pytest.raises(ValueError):
        report.banks[0, 0] = 1


def test_to_dict_is_json_counts():
    report = clash_report(Junction.from_edges(6, 2, [0, 2, 1, 3, 5], [0, 0, 1, 1, 1]), 2)
    summary = report.to_dict()
    assert json.loads(json.dumps(summary)) == summary
    assert summary == {
        "parallelism": 2,
        "num_cycles": 3,
        "num_edges": 5,
        "num_clashing_cycles": 2,
        "first_clashing_cycle": 0,
        "is_clash_free": False,
    }
    clean = clash_report(Junction.from_edges(2, 1, [0, 1], [0, 0]), 2).to_dict()
    assert clean["first_clashing_cycle"] is None and clean["is_clash_free"]


@settings(max_examples=60, deadline=None)
@given(
    in_features=st.integers(1, 12),
    out_features=st.integers(1, 6),
    parallelism=st.integers(1, 8),
    data=st.data(),
)
def test_matches_loop_reference_on_random_schedules(in_features, out_features, parallelism, data):
    cells = data.draw(
        st.lists(st.integers(0, in_features * out_features - 1), min_size=1, unique=True)
    )
    src = [c % in_features for c in cells]
    dst = [c // in_features for c in cells]
    j = Junction.from_edges(
        in_features, out_features, src, dst, parallelism=parallelism, scheduled=True
    )
    report = clash_report(j)
    assert report.num_cycles == -(-len(src) // parallelism)
    assert report.clashing_cycles.tolist() == reference_clashing_cycles(src, parallelism)
    assert (report.banks.reshape(-1)[: len(src)] == np.array(src) % parallelism).all()
    assert (report.banks.reshape(-1)[len(src) :] == -1).all()


@pytest.mark.parametrize("memory_map", ["type1", "type2", "type3"])
@pytest.mark.parametrize("dither", [False, True])
@settings(max_examples=30, deadline=None)
@given(
    z=st.integers(1, 6),
    depth=st.integers(1, 5),
    fan_out=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_clash_free_junctions_read_every_bank_once_per_cycle(
    memory_map, dither, z, depth, fan_out, seed
):
    p = z * depth
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        j = clash_free_junction(
            p,
            fan_out * depth,
            fan_out=fan_out,
            parallelism=z,
            memory_map=memory_map,
            dither=dither,
            seed=seed,
        )
    report = clash_report(j)
    assert report.is_clash_free and report.num_cycles == p * fan_out // z
    assert (np.sort(report.banks, axis=1) == np.arange(z)).all()
