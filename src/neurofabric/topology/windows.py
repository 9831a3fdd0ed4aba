"""Sliding windows over a layer of neurons, for scatter (SPEC §3; Dey et al., ITA 2018).

A *window array* has shape ``(num_windows, window_size)`` and holds neuron indices of one layer:
row ``w`` lists the neurons of window ``w``. Multi-dimensional layers are flattened row-major
(C order, last axis fastest), so a 2-D image uses ``index = row * width + col`` and a 3-D feature
map uses channels-last ``index = (u * size_v + v) * channels + c`` (Keras ``Flatten``). Window
positions and the neurons within a window are both enumerated in that same order.

A window count ``⌊(size - window) / stride⌋ + 1`` that leaves neurons uncovered at the end of an
axis is allowed but warned about, as in Dey's code.
"""

from __future__ import annotations

import warnings

import numpy as np

from neurofabric.topology.junction import _check_size
from neurofabric.topology.topology import Topology

_FORMS = {
    "1d": "'1d:WIDTH:STRIDE', e.g. '1d:8:8'",
    "2d": "'2d:WxH:wxh:SWxSH', e.g. '2d:32x32:4x4:2x2'",
    "3d": "'3d:UxVxC:uxvxc:SUxSVxSC', e.g. '3d:4x4x128:2x2x2:2x2x2'",
}
_DEFAULT_LAYER_WINDOW = 8


def _sliding_windows(
    axes: tuple[str, ...],
    sizes: tuple[object, ...],
    window_sizes: tuple[object, ...],
    strides: tuple[object, ...],
    *,
    stacklevel: int = 3,
) -> np.ndarray:
    """Windows over a C-ordered grid: positions and pixels both enumerated first axis outermost."""
    sizes = tuple(_check_size(f"{a} size", s) for a, s in zip(axes, sizes, strict=True))
    window_sizes = tuple(
        _check_size(f"{a} window size", w) for a, w in zip(axes, window_sizes, strict=True)
    )
    strides = tuple(_check_size(f"{a} stride", s) for a, s in zip(axes, strides, strict=True))
    uncovered = []
    for axis, size, window, stride in zip(axes, sizes, window_sizes, strides, strict=True):
        if window > size:
            raise ValueError(
                f"the {axis} window size must not exceed the {axis} size, got window {window} "
                f"> size {size}"
            )
        if (size - window) % stride:
            uncovered.append(
                f"{axis}: (size - window) % stride = ({size} - {window}) % {stride} = "
                f"{(size - window) % stride}, so {(size - window) // stride + 1} windows leave "
                f"the last {(size - window) % stride} neurons uncovered"
            )
    if uncovered:
        warnings.warn("; ".join(uncovered), UserWarning, stacklevel=stacklevel)

    ndim = len(sizes)
    counts = [(s - w) // st + 1 for s, w, st in zip(sizes, window_sizes, strides, strict=True)]
    index = np.zeros((1,) * (2 * ndim), dtype=np.int64)
    multiplier = 1
    for axis in reversed(range(ndim)):
        # (positions, pixels) coordinate of this axis, placed at dims `axis` and `ndim + axis`.
        coordinate = (
            np.arange(counts[axis], dtype=np.int64)[:, None] * strides[axis]
            + np.arange(window_sizes[axis], dtype=np.int64)[None, :]
        )
        shape = [1] * (2 * ndim)
        shape[axis], shape[ndim + axis] = counts[axis], window_sizes[axis]
        index = index + (coordinate * multiplier).reshape(shape)
        multiplier *= sizes[axis]
    return index.reshape(int(np.prod(counts)), int(np.prod(window_sizes)))


def window1d(size: int, width: int, stride: int) -> np.ndarray:
    """Return the windows of ``width`` consecutive neurons, ``stride`` apart, over ``size`` neurons.

    There are ``⌊(size - width) / stride⌋ + 1`` windows; window ``w`` is
    ``{w·stride, …, w·stride + width − 1}``.

    Args:
        size: Neurons in the layer.
        width: Neurons per window.
        stride: Offset between the starts of consecutive windows.

    Returns:
        ``(num_windows, width)`` int64 array of neuron indices.

    Raises:
        ValueError: If an argument is not a positive integer, or ``width > size``.

    Warns:
        UserWarning: If ``(size - width) % stride != 0``, so the last neurons lie in no window.

    Example:
        >>> window1d(6, 2, 2).tolist()
        [[0, 1], [2, 3], [4, 5]]
        >>> window1d(5, 3, 1).tolist()
        [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    """
    return _sliding_windows(("1-D",), (size,), (width,), (stride,))


def window2d(
    width: int,
    height: int,
    window_width: int,
    window_height: int,
    stride_width: int,
    stride_height: int,
) -> np.ndarray:
    """Return windows over a ``height × width`` image stored row by row.

    Neuron ``row * width + col`` is pixel ``(row, col)``. Window positions are enumerated
    row-major (left to right, then top to bottom) and the pixels of a window row by row.

    Args:
        width: Columns of the image.
        height: Rows of the image.
        window_width: Columns per window.
        window_height: Rows per window.
        stride_width: Column offset between horizontally adjacent windows.
        stride_height: Row offset between vertically adjacent windows.

    Returns:
        ``(num_windows, window_width * window_height)`` int64 array, with
        ``num_windows = (⌊(width − window_width)/stride_width⌋ + 1) ·
        (⌊(height − window_height)/stride_height⌋ + 1)``.

    Raises:
        ValueError: If an argument is not a positive integer, or a window exceeds the image.

    Warns:
        UserWarning: If an axis has neurons left uncovered by the stride.

    Example:
        >>> w = window2d(32, 32, 4, 4, 2, 2)
        >>> w.shape
        (225, 16)
        >>> w[0].tolist()
        [0, 1, 2, 3, 32, 33, 34, 35, 64, 65, 66, 67, 96, 97, 98, 99]
        >>> w[1, :4].tolist()
        [2, 3, 4, 5]
    """
    return _sliding_windows(
        ("height", "width"),
        (height, width),
        (window_height, window_width),
        (stride_height, stride_width),
    )


def window3d(
    size_u: int,
    size_v: int,
    channels: int,
    window_u: int,
    window_v: int,
    window_channels: int,
    stride_u: int,
    stride_v: int,
    stride_channels: int,
) -> np.ndarray:
    """Return windows over a ``size_u × size_v × channels`` feature map flattened channels-last.

    Neuron ``(u · size_v + v) · channels + c`` is feature ``c`` at spatial position ``(u, v)``,
    as Keras ``Flatten`` lays out a channels-last tensor; ``u`` is the outer spatial axis (Dey's
    code calls it "width") and ``v`` the inner one ("height"). Window positions and the neurons
    within a window are enumerated ``u``, then ``v``, then ``c`` (channels fastest).

    Args:
        size_u: Size of the outer spatial axis.
        size_v: Size of the inner spatial axis.
        channels: Number of channels (feature maps).
        window_u: Window extent along ``u``.
        window_v: Window extent along ``v``.
        window_channels: Window extent along the channels.
        stride_u: Window stride along ``u``.
        stride_v: Window stride along ``v``.
        stride_channels: Window stride along the channels.

    Returns:
        ``(num_windows, window_u * window_v * window_channels)`` int64 array.

    Raises:
        ValueError: If an argument is not a positive integer, or a window exceeds the map.

    Warns:
        UserWarning: If an axis has neurons left uncovered by the stride.

    Example:
        >>> w = window3d(4, 4, 128, 2, 2, 2, 2, 2, 2)
        >>> w.shape
        (256, 8)
        >>> w[0].tolist()
        [0, 1, 128, 129, 512, 513, 640, 641]
    """
    return _sliding_windows(
        ("u", "v", "channel"),
        (size_u, size_v, channels),
        (window_u, window_v, window_channels),
        (stride_u, stride_v, stride_channels),
    )


def _parse_dims(text: str, field: str, count: int, kind: str) -> tuple[int, ...]:
    parts = text.lower().split("x")
    if len(parts) != count or not all(p.strip().isdecimal() for p in parts):
        raise ValueError(
            f"window spec field {field} = {text!r} must be {count} positive integers joined by "
            f"'x'; expected {_FORMS[kind]}"
        )
    return tuple(int(p) for p in parts)


def parse_window_spec(text: str, size: int) -> np.ndarray:
    """Return the windows described by a command-line string, over a layer of ``size`` neurons.

    Accepted forms (case-insensitive):

    - ``1d:WIDTH:STRIDE`` → :func:`window1d` ``(size, WIDTH, STRIDE)``;
    - ``2d:WxH:wxh:SWxSH`` → :func:`window2d` over a ``W``-wide, ``H``-high image, with
      ``W·H = size``;
    - ``3d:UxVxC:uxvxc:SUxSVxSC`` → :func:`window3d`, with ``U·V·C = size``.

    Args:
        text: The window specification.
        size: Neurons in the layer the windows lie over.

    Returns:
        ``(num_windows, window_size)`` int64 array.

    Raises:
        ValueError: If the string does not follow one of the forms, or its grid does not hold
            exactly ``size`` neurons, or the windows themselves are invalid.

    Example:
        >>> parse_window_spec("1d:4:4", 8).tolist()
        [[0, 1, 2, 3], [4, 5, 6, 7]]
        >>> parse_window_spec("2d:4x2:2x2:2x1", 8).tolist()
        [[0, 1, 4, 5], [2, 3, 6, 7]]
    """
    size = _check_size("size", size)
    fields = text.strip().split(":")
    kind = fields[0].strip().lower()
    if kind not in _FORMS:
        forms = ", ".join(_FORMS.values())
        raise ValueError(f"window spec {text!r} must start with 1d, 2d or 3d; expected {forms}")
    if len(fields) != {"1d": 3, "2d": 4, "3d": 4}[kind]:
        raise ValueError(
            f"window spec {text!r} has {len(fields)} ':'-separated fields; expected {_FORMS[kind]}"
        )
    if kind == "1d":
        (width,) = _parse_dims(fields[1], "WIDTH", 1, kind)
        (stride,) = _parse_dims(fields[2], "STRIDE", 1, kind)
        return _sliding_windows(("1-D",), (size,), (width,), (stride,))
    ndim = int(kind[0])
    grid, window, stride = (
        _parse_dims(f, name, ndim, kind)
        for f, name in zip(fields[1:], ("grid", "window", "stride"), strict=True)
    )
    if int(np.prod(grid)) != size:
        dims = " * ".join(str(g) for g in grid)
        raise ValueError(
            f"window spec {text!r} describes a grid of {dims} = {int(np.prod(grid))} neurons but "
            f"the layer has {size}; expected {_FORMS[kind]}"
        )
    if kind == "2d":
        return _sliding_windows(("height", "width"), grid[::-1], window[::-1], stride[::-1])
    return _sliding_windows(("u", "v", "channel"), grid, window, stride)


def _layer_window_width(size: int) -> int:
    """Largest divisor of ``size`` that is at most 8."""
    return max(d for d in range(1, _DEFAULT_LAYER_WINDOW + 1) if size % d == 0)


def default_windows(topology: Topology) -> list[np.ndarray]:
    """Return the default windows for :func:`~neurofabric.topology.scatter.scatter`.

    The list has ``2J + 2`` entries for ``J`` junctions taken in key order (SPEC §3): entry
    ``2i`` lies over junction ``i``'s left layer, ``2i + 1`` over its right layer, ``2J`` over
    the inputs and ``2J + 1`` over the outputs.

    Rule: a junction's windows are 1-D, with width = stride = the largest divisor of the layer
    size that is at most 8 (so they tile the layer exactly); the whole-net windows are single
    neurons, ``window1d(N, 1, 1)``. For Dey's Morse net (64, 1024, 64) this gives his defaults
    1D(64,8,8), 1D(1024,8,8), 1D(1024,8,8), 1D(64,8,8), 1D(64,1,1), 1D(64,1,1).

    Example:
        >>> from neurofabric.topology import Junction, Topology
        >>> t = Topology.chain([Junction.from_mask([[1] * 12] * 6)])
        >>> [w.shape for w in default_windows(t)]
        [(2, 6), (1, 6), (12, 1), (6, 1)]
    """
    sizes = topology.layer_sizes
    layers = window_layers(topology)
    windows = []
    for layer in layers[:-2]:
        width = _layer_window_width(sizes[layer])
        windows.append(window1d(sizes[layer], width, width))
    windows += [window1d(sizes[layer], 1, 1) for layer in layers[-2:]]
    return windows


def window_layers(topology: Topology) -> list[int]:
    """The layer each of the ``2J + 2`` scatter windows lies over (SPEC §3 order).

    Example:
        >>> from neurofabric.topology import Junction, Topology
        >>> window_layers(Topology.chain([Junction.from_mask([[1]])] * 2))
        [0, 1, 1, 2, 0, 2]
    """
    return [layer for key in topology.junctions for layer in key] + [0, topology.num_layers - 1]
