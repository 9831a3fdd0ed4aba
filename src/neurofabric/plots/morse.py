"""A grid of Morse frames per class: one image, one block per class, a few samples each."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from neurofabric.data.morse import as_labels


def plot_morse_samples(
    x: np.ndarray,
    y: np.ndarray,
    *,
    names: Sequence[str] | None = None,
    samples_per_class: int = 4,
    columns: int = 8,
) -> Figure:
    """Draw the first ``samples_per_class`` frames of every class, one block per class.

    Blocks are laid out in class order, ``columns`` per row; inside a block every row is one
    frame (time runs left to right, brighter is a higher level). The whole grid is a single
    image, so drawing stays fast for 64 classes.

    Args:
        x: ``(N, features)`` frames.
        y: ``(N, K)`` one-hot or ``(N,)`` integer labels.
        names: A label per class (e.g. ``"A .-"``); class indices by default.
        samples_per_class: Frames per block (fewer where a class has fewer).
        columns: Blocks per row of the grid.

    Raises:
        ValueError: On mismatched lengths, a wrong number of names, or counts below 1.
    """
    x = np.asarray(x, dtype=np.float64)
    labels = as_labels(y)
    if x.ndim != 2 or len(x) != len(labels):
        raise ValueError(f"x must be (N, features) with N = {len(labels)} labels, got {x.shape}")
    if samples_per_class < 1 or columns < 1:
        raise ValueError(
            f"samples_per_class = {samples_per_class} and columns = {columns} must be at least 1"
        )
    classes = np.asarray(y).shape[1] if np.asarray(y).ndim == 2 else int(labels.max()) + 1
    if names is None:
        names = [str(index) for index in range(classes)]
    if len(names) != classes:
        raise ValueError(f"got {len(names)} names for {classes} classes")
    width = x.shape[1]
    rows = -(-classes // columns)
    # Each block: one blank row on top for its name, a blank gutter on the right.
    block_h, block_w = samples_per_class + 1, width + max(2, width // 16)
    grid = np.full((rows * block_h, columns * block_w), np.nan)
    for label in range(classes):
        frames = x[labels == label][:samples_per_class]
        top, left = (label // columns) * block_h + 1, (label % columns) * block_w
        grid[top : top + len(frames), left : left + width] = frames
    figure = Figure(figsize=(min(24.0, 1.2 + 0.035 * grid.shape[1]), 1.0 + 0.75 * rows))
    ax = figure.add_axes((0.01, 0.01, 0.98, 0.94))
    ax.imshow(grid, cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="auto")
    for label in range(classes):
        top, left = (label // columns) * block_h, (label % columns) * block_w
        ax.text(left, top + 0.4, names[label], fontsize=7, va="center", ha="left", color="k")
    ax.set_axis_off()
    figure.suptitle(
        f"{samples_per_class} samples per class, {width} time steps each", fontsize=10, y=0.995
    )
    return figure
