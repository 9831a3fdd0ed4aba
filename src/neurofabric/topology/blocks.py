"""Block structure of a cascade stage: block-diagonal up to reshape-and-transpose permutations.

A stage of a Clos, butterfly, Beneš or Monarch cascade computes

    y = Q · blockdiag(B_1, …, B_g) · P · x

where ``P`` and ``Q`` are *grid permutations* — view the vector as a row-major grid, transpose
its axes, flatten — and every block ``B_i`` is a dense ``block_out × block_in`` matrix. Fast
kernels run such a stage as one batched matmul framed by ``reshape``/``permute`` calls, with no
index tensors; the junction's edges are exactly the nonzeros of that product, which
:meth:`BlockStructure.edges` reproduces and :class:`~neurofabric.topology.Junction` checks.

Shape legend: ``g`` blocks, ``i``/``o`` block input/output width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class GridPermutation:
    """Reorder a vector by viewing it as a row-major grid of ``shape`` and transposing ``axes``.

    ``apply(x) = x.reshape(shape).transpose(axes).reshape(-1)``. The perfect shuffle of an
    ``r × m`` grid (``a·m + b ↦ b·r + a``) is ``GridPermutation((r, m), (1, 0))``.

    Example:
        >>> shuffle = GridPermutation((2, 3), (1, 0))
        >>> shuffle.indices().tolist()
        [0, 3, 1, 4, 2, 5]
        >>> shuffle.inverse().indices()[shuffle.indices()].tolist()
        [0, 1, 2, 3, 4, 5]
    """

    shape: tuple[int, ...]
    axes: tuple[int, ...]

    def __post_init__(self) -> None:
        shape = tuple(_positive("grid size", s) for s in self.shape)
        axes = tuple(int(a) for a in self.axes)
        if sorted(axes) != list(range(len(shape))):
            raise ValueError(f"axes {axes} must be a permutation of 0..{len(shape) - 1}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "axes", axes)

    @classmethod
    def shuffle(cls, rows: int, columns: int) -> GridPermutation:
        """The perfect shuffle: transpose of a ``rows × columns`` grid."""
        return cls((rows, columns), (1, 0))

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def is_identity(self) -> bool:
        kept = [a for a in self.axes if self.shape[a] > 1]
        return kept == sorted(kept)

    def indices(self) -> np.ndarray:
        """``(size,)`` source index of every output position: ``apply(x) == x[indices()]``."""
        return np.arange(self.size).reshape(self.shape).transpose(self.axes).reshape(-1)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Permute the last axis of ``x``."""
        lead = x.shape[:-1]
        grid = x.reshape(*lead, *self.shape)
        axes = tuple(range(len(lead))) + tuple(len(lead) + a for a in self.axes)
        return grid.transpose(axes).reshape(*lead, self.size)

    def inverse(self) -> GridPermutation:
        """The permutation that undoes this one."""
        return GridPermutation(
            tuple(self.shape[a] for a in self.axes), tuple(int(a) for a in np.argsort(self.axes))
        )

    def to_dict(self) -> dict[str, list[int]]:
        return {"shape": list(self.shape), "axes": list(self.axes)}

    @classmethod
    def from_dict(cls, data: dict) -> GridPermutation:
        return cls(tuple(data["shape"]), tuple(data["axes"]))


@dataclass(frozen=True)
class BlockStructure:
    """A stage ``Q · blockdiag(B_1 … B_g) · P`` with dense ``block_out × block_in`` blocks.

    Attributes:
        blocks: Number of diagonal blocks ``g``.
        block_in: Inputs of each block.
        block_out: Outputs of each block.
        input_order: ``P``, applied to the layer's input vector before the blocks (None: as is).
        output_order: ``Q``, applied to the blocks' output to give the layer's neuron order.
        diagonal: The identity on the first ``min(in, out)`` neurons is OR-ed into the mask
            (trainable identity skips); edges inside a block are not doubled.

    Example:
        >>> s = BlockStructure(blocks=2, block_in=2, block_out=1)
        >>> s.in_features, s.out_features, s.edges()[0].tolist()
        (4, 2, [0, 1, 2, 3])
    """

    blocks: int
    block_in: int
    block_out: int
    input_order: GridPermutation | None = None
    output_order: GridPermutation | None = None
    diagonal: bool = False

    def __post_init__(self) -> None:
        for name in ("blocks", "block_in", "block_out"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))
        for name, size in (("input_order", self.in_features), ("output_order", self.out_features)):
            order = getattr(self, name)
            if order is not None and order.size != size:
                raise ValueError(f"{name} permutes {order.size} neurons, the stage has {size}")

    @property
    def in_features(self) -> int:
        return self.blocks * self.block_in

    @property
    def out_features(self) -> int:
        return self.blocks * self.block_out

    @property
    def block_nnz(self) -> int:
        """Edges inside the blocks (``g · block_out · block_in``)."""
        return self.blocks * self.block_out * self.block_in

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(src, dst)`` in canonical order (by output neuron, then input neuron)."""
        g, bi, bo = self.blocks, self.block_in, self.block_out
        # Input neuron at each permuted position, grouped by block: (g, i), rows sorted.
        feeds = (
            np.arange(self.in_features) if self.input_order is None else self.input_order.indices()
        ).reshape(g, bi)
        feeds = np.sort(feeds, axis=1)
        # Output neuron y reads block position Q.indices()[y], since apply(z) == z[indices()].
        if self.output_order is None:
            position = np.arange(self.out_features)
        else:
            position = self.output_order.indices()
        table = feeds[position // bo]  # (out_features, block_in)
        dst = np.repeat(np.arange(self.out_features, dtype=np.int64), bi)
        src = table.reshape(-1)
        if self.diagonal:
            eye = np.arange(min(self.in_features, self.out_features))
            key = np.union1d(dst * self.in_features + src, eye * self.in_features + eye)
            return key % self.in_features, key // self.in_features
        return src.astype(np.int64), dst

    def to_dict(self) -> dict[str, object]:
        return {
            "blocks": self.blocks,
            "block_in": self.block_in,
            "block_out": self.block_out,
            "input_order": None if self.input_order is None else self.input_order.to_dict(),
            "output_order": None if self.output_order is None else self.output_order.to_dict(),
            "diagonal": self.diagonal,
        }

    @classmethod
    def from_dict(cls, data: dict) -> BlockStructure:
        orders = {
            name: None if data.get(name) is None else GridPermutation.from_dict(data[name])
            for name in ("input_order", "output_order")
        }
        return cls(
            int(data["blocks"]),
            int(data["block_in"]),
            int(data["block_out"]),
            **orders,
            diagonal=bool(data.get("diagonal", False)),
        )
