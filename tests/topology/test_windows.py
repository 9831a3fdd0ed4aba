"""Tests for neurofabric.topology.windows: sliding windows over layers (SPEC §3)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from neurofabric.topology import Junction, Topology
from neurofabric.topology.windows import (
    default_windows,
    parse_window_spec,
    window1d,
    window2d,
    window3d,
)


# --------------------------------------------------------------- slow references (Dey's loops)
def reference_window2d(width, height, window_width, window_height, stride_width, stride_height):
    windows = []
    for row in range(0, height - window_height + 1, stride_height):
        for col in range(0, width - window_width + 1, stride_width):
            windows.append(
                [
                    (row + dr) * width + col + dc
                    for dr in range(window_height)
                    for dc in range(window_width)
                ]
            )
    return np.array(windows)


def reference_window3d(su, sv, sc, wu, wv, wc, tu, tv, tc):
    windows = []
    for u in range(0, su - wu + 1, tu):
        for v in range(0, sv - wv + 1, tv):
            for c in range(0, sc - wc + 1, tc):
                windows.append(
                    [
                        ((u + du) * sv + v + dv) * sc + c + dc
                        for du in range(wu)
                        for dv in range(wv)
                        for dc in range(wc)
                    ]
                )
    return np.array(windows)


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --------------------------------------------------------------- window1d
@pytest.mark.parametrize(
    ("size", "width", "stride", "expected"),
    [
        pytest.param(6, 2, 2, [[0, 1], [2, 3], [4, 5]], id="tiling"),
        pytest.param(5, 3, 1, [[0, 1, 2], [1, 2, 3], [2, 3, 4]], id="overlapping"),
        pytest.param(4, 4, 1, [[0, 1, 2, 3]], id="whole-layer"),
        pytest.param(3, 1, 1, [[0], [1], [2]], id="single-neurons"),
        pytest.param(7, 1, 3, [[0], [3], [6]], id="gaps"),
    ],
)
def test_window1d_cases(size, width, stride, expected, no_warnings):
    windows = window1d(size, width, stride)
    assert windows.dtype == np.int64
    assert windows.tolist() == expected


@pytest.mark.parametrize(("size", "width", "stride"), [(1024, 16, 8), (1024, 8, 8), (64, 1, 1)])
def test_window1d_count_formula(size, width, stride):
    windows = window1d(size, width, stride)
    assert windows.shape == ((size - width) // stride + 1, width)
    assert windows[-1, -1] == ((size - width) // stride) * stride + width - 1


def test_window1d_warns_when_neurons_are_left_uncovered():
    # (10 - 4) % 4 = 2: two windows, neurons 8 and 9 in none.
    with pytest.warns(UserWarning, match=r"\(10 - 4\) % 4 = 2") as record:
        windows = window1d(10, 4, 4)
    assert len(record) == 1
    assert windows.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        pytest.param((4, 5, 1), r"must not exceed .* window 5 > size 4", id="width>size"),
        pytest.param((0, 1, 1), "must be positive, got 0", id="size=0"),
        pytest.param((4, 0, 1), "must be positive, got 0", id="width=0"),
        pytest.param((4, 2, -1), "must be positive, got -1", id="stride<0"),
        pytest.param((4, 2.5, 1), "must be an integer", id="float-width"),
    ],
)
def test_window1d_errors(args, match):
    with pytest.raises(ValueError, match=match):
        window1d(*args)


# --------------------------------------------------------------- window2d
def test_window2d_spec_example(no_warnings):
    windows = window2d(32, 32, 4, 4, 2, 2)
    assert windows.shape == (225, 16)
    assert set(windows[0].tolist()) == {*range(4), *range(32, 36), *range(64, 68), *range(96, 100)}
    assert windows[0].tolist() == [0, 1, 2, 3, 32, 33, 34, 35, 64, 65, 66, 67, 96, 97, 98, 99]
    assert windows[1].tolist() == [2, 3, 4, 5, 34, 35, 36, 37, 66, 67, 68, 69, 98, 99, 100, 101]
    assert windows[15, 0] == 2 * 32  # second row of positions starts two image rows down


@pytest.mark.parametrize(
    "args",
    [
        (32, 32, 4, 4, 2, 2),
        (6, 4, 3, 2, 1, 2),  # non-square image, window and stride
        (5, 3, 5, 1, 1, 1),  # window spans the full width
        (4, 4, 1, 1, 1, 1),
        (28, 28, 7, 7, 7, 7),
    ],
)
def test_window2d_matches_reference(args):
    np.testing.assert_array_equal(window2d(*args), reference_window2d(*args))


def test_window2d_warns_once_for_both_axes():
    with pytest.warns(UserWarning, match="height: .*width: ") as record:
        window2d(5, 5, 2, 2, 2, 2)
    assert len(record) == 1


@pytest.mark.parametrize(
    ("args", "match"),
    [
        pytest.param((4, 4, 5, 1, 1, 1), "width window size must not exceed", id="wide"),
        pytest.param((4, 4, 1, 5, 1, 1), "height window size must not exceed", id="high"),
        pytest.param((4, 4, 1, 1, 1, 0), "height stride must be positive", id="stride"),
    ],
)
def test_window2d_errors(args, match):
    with pytest.raises(ValueError, match=match):
        window2d(*args)


# --------------------------------------------------------------- window3d
def test_window3d_spec_example(no_warnings):
    windows = window3d(4, 4, 128, 2, 2, 2, 2, 2, 2)
    assert windows.shape == (256, 8)
    assert windows[0].tolist() == [0, 1, 128, 129, 512, 513, 640, 641]
    assert windows[1].tolist() == [2, 3, 130, 131, 514, 515, 642, 643]  # channels step first


@pytest.mark.parametrize(
    "args",
    [
        (4, 4, 128, 2, 2, 2, 2, 2, 2),
        (3, 5, 4, 2, 3, 2, 1, 2, 2),
        (2, 2, 3, 1, 1, 3, 1, 1, 1),
    ],
)
def test_window3d_matches_reference(args):
    np.testing.assert_array_equal(window3d(*args), reference_window3d(*args))


def test_window3d_errors():
    with pytest.raises(ValueError, match="channel window size must not exceed"):
        window3d(4, 4, 2, 2, 2, 3, 2, 2, 1)


# --------------------------------------------------------------- parse_window_spec
@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        ("1d:8:8", 64, lambda: window1d(64, 8, 8)),
        ("1D:16:8", 1024, lambda: window1d(1024, 16, 8)),
        (" 2d:32x32:4x4:2x2 ", 1024, lambda: window2d(32, 32, 4, 4, 2, 2)),
        ("2d:6x4:3x2:1x2", 24, lambda: window2d(6, 4, 3, 2, 1, 2)),
        ("3d:4x4x128:2x2x2:2x2x2", 2048, lambda: window3d(4, 4, 128, 2, 2, 2, 2, 2, 2)),
        ("3d:3X5X4:2x3x2:1x2x2", 60, lambda: window3d(3, 5, 4, 2, 3, 2, 1, 2, 2)),
    ],
)
def test_parse_window_spec_cases(text, size, expected):
    np.testing.assert_array_equal(parse_window_spec(text, size), expected())


@pytest.mark.parametrize(
    ("text", "size", "match"),
    [
        pytest.param("4d:8:8", 64, "must start with 1d, 2d or 3d", id="kind"),
        pytest.param("1d:8", 64, "has 2 ':'-separated fields; expected '1d:WIDTH:STRIDE'", id="1d"),
        pytest.param("1d:a:8", 64, "field WIDTH = 'a'", id="not-a-number"),
        pytest.param("1d:-8:8", 64, "field WIDTH = '-8'", id="negative"),
        pytest.param("1d:80:8", 64, "window 80 > size 64", id="too-wide"),
        pytest.param("2d:32x32:4x4", 1024, r"expected '2d:WxH:wxh:SWxSH'", id="2d-fields"),
        pytest.param("2d:32:4x4:2x2", 1024, "field grid = '32'", id="2d-grid"),
        pytest.param(
            "2d:32x16:4x4:2x2", 1024, r"32 \* 16 = 512 neurons but the layer has 1024", id="2d-size"
        ),
        pytest.param("3d:4x4:2x2x2:2x2x2", 32, r"expected '3d:UxVxC:uxvxc:SUxSVxSC'", id="3d"),
        pytest.param("3d:4x4x2:2x2x2:2x2x2", 64, r"4 \* 4 \* 2 = 32 neurons", id="3d-size"),
    ],
)
def test_parse_window_spec_errors(text, size, match):
    with pytest.raises(ValueError, match=match):
        parse_window_spec(text, size)


# --------------------------------------------------------------- default_windows
def _full(p, n):
    return Junction.from_mask(np.ones((n, p), dtype=bool))


def test_default_windows_reproduce_deys_morse_defaults():
    topology = Topology.chain([_full(64, 1024), _full(1024, 64)])
    expected = [
        window1d(64, 8, 8),
        window1d(1024, 8, 8),
        window1d(1024, 8, 8),
        window1d(64, 8, 8),
        window1d(64, 1, 1),
        window1d(64, 1, 1),
    ]
    windows = default_windows(topology)
    assert len(windows) == len(expected)
    for got, want in zip(windows, expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("size", "width"),
    [(64, 8), (12, 6), (10, 5), (7, 7), (11, 1), (9, 3), (1, 1)],
)
def test_default_layer_window_is_largest_divisor_up_to_8(size, width, no_warnings):
    windows = default_windows(Topology.chain([_full(size, 2)]))
    assert windows[0].shape == (size // width, width)
    np.testing.assert_array_equal(np.sort(windows[0].ravel()), np.arange(size))


def test_default_windows_with_skips_follow_key_order():
    topology = Topology(
        (4, 6, 10), {(0, 1): _full(4, 6), (1, 2): _full(6, 10), (0, 2): _full(4, 10)}
    )
    shapes = [w.shape for w in default_windows(topology)]
    # keys (0,1), (0,2), (1,2), then inputs and outputs as single neurons
    assert shapes == [(1, 4), (1, 6), (1, 4), (2, 5), (1, 6), (2, 5), (4, 1), (10, 1)]


@pytest.mark.parametrize(("layer_sizes"), [(3, 5), (8, 6, 4, 2)])
def test_default_windows_length_and_bounds(layer_sizes):
    junctions = [_full(p, n) for p, n in itertools.pairwise(layer_sizes)]
    topology = Topology.chain(junctions)
    windows = default_windows(topology)
    assert len(windows) == 2 * len(junctions) + 2
    layers = [layer for key in topology.junctions for layer in key] + [0, len(layer_sizes) - 1]
    for window, layer in zip(windows, layers, strict=True):
        assert 0 <= window.min() and window.max() < layer_sizes[layer]
