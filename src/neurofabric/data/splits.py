"""One dataset as train / validation / test arrays: :class:`DatasetSplits`. numpy only.

Example:
    >>> import numpy as np
    >>> x, y = np.zeros((4, 3), np.float32), np.array([0, 1, 2, 1])
    >>> data = DatasetSplits("toy", x, y, x[:2], y[:2], x[:1], y[:1], num_classes=3)
    >>> data.sizes, data.input_shape, data.num_features
    ((4, 2, 1), (3,), 3)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SPLIT_KEYS = ("xtr", "ytr", "xva", "yva", "xte", "yte")


@dataclass(frozen=True, eq=False)
class DatasetSplits:
    """Train, validation and test arrays of one dataset.

    Shape:
        - ``xtr, xva, xte``: ``(N, *input_shape)`` float32; ``(N, features)`` when flattened,
          channels-first ``(N, C, H, W)`` images otherwise.
        - ``ytr, yva, yte``: ``(N,)`` int64 class labels in ``0 … num_classes − 1``.

    A split may be empty (``merge_train_val`` leaves no validation rows).

    Attributes:
        name: The registry name it was loaded by (``"mnist"``, ``"morse:baseline"``, …).
        num_classes: Number of classes (a split need not contain all of them).
        class_names: One name per class, when the source has them.
        info: Where the data came from and what was done to it (``source``; ``pca_mean`` and
            ``pca_axes``; ``standardize_mean`` and ``standardize_std``; ``pad_to``; …).

    Raises:
        ValueError: If rows of x and y differ, sample shapes differ across splits, x is not
            floating point, or a label is not an integer in range.
    """

    name: str
    xtr: np.ndarray
    ytr: np.ndarray
    xva: np.ndarray
    yva: np.ndarray
    xte: np.ndarray
    yte: np.ndarray
    num_classes: int
    class_names: tuple[str, ...] | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shapes = set()
        for split in ("tr", "va", "te"):
            x, y = getattr(self, f"x{split}"), getattr(self, f"y{split}")
            if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
                raise ValueError(f"{self.name}: x{split} must be a floating-point numpy array")
            integer = isinstance(y, np.ndarray) and np.issubdtype(y.dtype, np.integer)
            if not integer or y.ndim != 1:
                raise ValueError(f"{self.name}: y{split} must be a 1-D integer numpy array")
            if x.ndim < 2 or len(x) != len(y):
                raise ValueError(
                    f"{self.name}: x{split} has shape {x.shape} but y{split} has {len(y)} labels"
                )
            if y.size and (y.min() < 0 or y.max() >= self.num_classes):
                raise ValueError(
                    f"{self.name}: y{split} labels span {y.min()}…{y.max()}, outside "
                    f"0…{self.num_classes - 1}"
                )
            shapes.add(x.shape[1:])
        if len(shapes) > 1:
            raise ValueError(f"{self.name}: splits disagree on the sample shape {sorted(shapes)}")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"{self.name}: {len(self.class_names)} class names for {self.num_classes} classes"
            )

    # ---------------------------------------------------------------- sizes
    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample: ``(features,)`` when flat, ``(C, H, W)`` for images."""
        return tuple(self.xtr.shape[1:])

    @property
    def num_features(self) -> int:
        """Values per sample (the input width of an MLP)."""
        return int(np.prod(self.input_shape))

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Samples in train, validation and test."""
        return len(self.ytr), len(self.yva), len(self.yte)

    def arrays(self) -> dict[str, np.ndarray]:
        """``{"xtr": …, "ytr": …, …, "yte": …}``."""
        return {key: getattr(self, key) for key in SPLIT_KEYS}

    # ---------------------------------------------------------------- torch (lazy import)
    def tensors(self, *, device: Any = None) -> dict[str, Any]:
        """The six arrays as torch tensors: x float32, y int64 (shares memory on CPU)."""
        import torch

        return {
            key: torch.as_tensor(
                np.ascontiguousarray(value, dtype=np.float32 if key[0] == "x" else np.int64),
                device=device,
            )
            for key, value in self.arrays().items()
        }

    def torch_datasets(self, *, device: Any = None) -> tuple[Any, Any, Any]:
        """``(train, val, test)`` as ``torch.utils.data.TensorDataset`` of ``(x, y)``."""
        from torch.utils.data import TensorDataset

        t = self.tensors(device=device)
        return tuple(TensorDataset(t[f"x{s}"], t[f"y{s}"]) for s in ("tr", "va", "te"))

    # ---------------------------------------------------------------- files
    def save_npz(
        self, path: str | os.PathLike, *, onehot: bool = True, overwrite: bool = False
    ) -> Path:
        """Write the interchange layout (SPEC §9): flat x, labels one-hot (default) or integer.

        Raises:
            FileExistsError: If the file exists and ``overwrite`` is false.
        """
        from neurofabric.topology.io import atomic_write

        arrays = {}
        for key, value in self.arrays().items():
            if key[0] == "x":
                arrays[key] = value.reshape(len(value), self.num_features)
            elif onehot:
                arrays[key] = np.eye(self.num_classes, dtype=np.uint8)[value]
            else:
                arrays[key] = value
        return atomic_write(path, lambda file: np.savez(file, **arrays), overwrite=overwrite)
