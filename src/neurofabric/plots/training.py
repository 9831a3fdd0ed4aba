"""Training curves: loss and accuracy per epoch for one or several runs, side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

__all__ = ["training_curves"]


def training_curves(
    histories: Mapping[str, Sequence[Mapping]], *, title: str | None = None
) -> Figure:
    """Two panels, loss and accuracy against epoch: training dashed, validation solid.

    Args:
        histories: Run label → per-epoch records (``epoch``, ``train_loss``,
            ``train_accuracy``, and ``val_loss`` / ``val_accuracy`` when validated).
        title: Figure title.

    Example:
        >>> fig = training_curves({"a": [{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5}]})
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['cross-entropy', 'accuracy']
    """
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = figure.subplots(1, 2)
    colours = [f"C{i}" for i in range(10)]
    for i, (label, records) in enumerate(histories.items()):
        colour = colours[i % len(colours)]
        epochs = [r["epoch"] for r in records]
        for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
            ax.plot(
                epochs,
                [r[f"train_{key}"] for r in records],
                "--",
                color=colour,
                label=f"{label} train",
            )
            val = [(r["epoch"], r.get(f"val_{key}")) for r in records]
            val = [(e, v) for e, v in val if v is not None]
            if val:
                ax.plot(*zip(*val, strict=True), "-", color=colour, label=f"{label} validation")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", yscale="log")
    acc_ax.set(xlabel="epoch", ylabel="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
    acc_ax.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    return figure
