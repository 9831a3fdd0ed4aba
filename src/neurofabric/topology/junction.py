"""Junction: the fixed connection pattern between one pair of layers.

A junction joins ``in_features`` left neurons to ``out_features`` right neurons. Its edges are
stored once, in the canonical order of SPEC §1 — sorted by output (right) neuron, then input
(left) neuron, i.e. the row-major order of the nonzeros of the ``(out, in)`` biadjacency mask.
Every layer keeps one weight per edge in this order, whatever kernel multiplies it.

A junction made by a hardware-aware generator may also carry a *schedule*: the order in which
an edge-processing engine with ``parallelism`` lanes visits the edges (SPEC §2.3). The schedule
is a permutation of edge indices and never changes the canonical order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse

from neurofabric.topology.blocks import BlockStructure


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _as_index_array(name: str, values: object) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.mod(array, 1) == 0):
            raise ValueError(f"{name} must hold integer neuron indices")
    return array.astype(np.int64, copy=True)


@dataclass(frozen=True, eq=False)
class Junction:
    """Connections from ``in_features`` left neurons to ``out_features`` right neurons.

    Build one with :meth:`from_edges`, :meth:`from_mask` or a generator such as
    :func:`~neurofabric.topology.regular_junction`; the constructor expects arrays that are
    already canonical and is mostly for internal use.

    Attributes:
        in_features: Neurons in the left layer (``p`` in Dey's papers).
        out_features: Neurons in the right layer (``n``).
        src: ``(nnz,)`` left neuron of each edge, read-only.
        dst: ``(nnz,)`` right neuron of each edge, read-only; edges sorted by ``(dst, src)``.
        schedule: ``(nnz,)`` hardware processing order (slot -> edge index), or ``None``.
        parallelism: Edges processed per cycle by that schedule (``z``), or ``None``.
        blocks: For a cascade stage, its :class:`~neurofabric.topology.blocks.BlockStructure`
            (block-diagonal up to grid permutations), whose nonzeros are exactly the edges;
            fast kernels run it as a batched matmul. ``None`` otherwise.

    Example:
        >>> j = Junction.from_edges(3, 2, src=[2, 0, 1], dst=[0, 0, 1])
        >>> j.src.tolist(), j.dst.tolist()
        ([0, 2, 1], [0, 0, 1])
        >>> j.nnz, j.fan_in.tolist(), j.fan_out.tolist()
        (3, [2, 1], [1, 1, 1])
    """

    in_features: int
    out_features: int
    src: np.ndarray
    dst: np.ndarray
    schedule: np.ndarray | None = None
    parallelism: int | None = None
    blocks: BlockStructure | None = None

    def __post_init__(self) -> None:
        in_features = _check_size("in_features", self.in_features)
        out_features = _check_size("out_features", self.out_features)
        src = _as_index_array("src", self.src)
        dst = _as_index_array("dst", self.dst)
        if src.shape != dst.shape:
            raise ValueError(f"src and dst must have equal length, got {src.size} and {dst.size}")
        if src.size:
            if src.min() < 0 or src.max() >= in_features:
                raise ValueError(
                    f"src indices must lie in [0, in_features = {in_features}), "
                    f"got range [{src.min()}, {src.max()}]"
                )
            if dst.min() < 0 or dst.max() >= out_features:
                raise ValueError(
                    f"dst indices must lie in [0, out_features = {out_features}), "
                    f"got range [{dst.min()}, {dst.max()}]"
                )
        key = dst * in_features + src
        if np.any(np.diff(key) <= 0):
            raise ValueError(
                "edges must be unique and sorted by (dst, src); use Junction.from_edges"
            )
        schedule = self.schedule
        parallelism = self.parallelism
        if schedule is not None:
            schedule = _as_index_array("schedule", schedule)
            if schedule.size != src.size or (
                schedule.size
                and (
                    schedule.min() < 0
                    or schedule.max() >= src.size
                    or not (np.bincount(schedule, minlength=src.size) == 1).all()
                )
            ):
                raise ValueError(f"schedule must be a permutation of the {src.size} edge indices")
            if parallelism is None:
                raise ValueError("a schedule needs its parallelism (edges per cycle)")
        if parallelism is not None:
            parallelism = _check_size("parallelism", parallelism)
        object.__setattr__(self, "in_features", in_features)
        object.__setattr__(self, "out_features", out_features)
        object.__setattr__(self, "src", _readonly(src))
        object.__setattr__(self, "dst", _readonly(dst))
        object.__setattr__(self, "schedule", None if schedule is None else _readonly(schedule))
        object.__setattr__(self, "parallelism", parallelism)
        if self.blocks is not None:
            self._check_blocks()

    def _check_blocks(self) -> None:
        blocks = self.blocks
        if not isinstance(blocks, BlockStructure):
            raise ValueError(f"blocks must be a BlockStructure, got {type(blocks).__name__}")
        if (blocks.in_features, blocks.out_features) != (self.in_features, self.out_features):
            raise ValueError(
                f"block structure maps {blocks.in_features} -> {blocks.out_features} neurons, "
                f"the junction {self.in_features} -> {self.out_features}"
            )
        src, dst = blocks.edges()
        if not (np.array_equal(src, self.src) and np.array_equal(dst, self.dst)):
            raise ValueError("the block structure does not reproduce the junction's edges")

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_edges(
        cls,
        in_features: int,
        out_features: int,
        src: object,
        dst: object,
        *,
        parallelism: int | None = None,
        scheduled: bool = False,
    ) -> Junction:
        """Build a junction from edges given in any order.

        Args:
            in_features: Neurons in the left layer.
            out_features: Neurons in the right layer.
            src: Left neuron of each edge.
            dst: Right neuron of each edge.
            parallelism: Edges per cycle of the hardware schedule, if any.
            scheduled: If true, the given edge order *is* the hardware schedule (slot order)
                and is kept as :attr:`schedule`; needs ``parallelism``.

        Raises:
            ValueError: On out-of-range indices, mismatched lengths or duplicate edges.
        """
        in_features = _check_size("in_features", in_features)
        out_features = _check_size("out_features", out_features)
        src = _as_index_array("src", src)
        dst = _as_index_array("dst", dst)
        if src.shape != dst.shape:
            raise ValueError(f"src and dst must have equal length, got {src.size} and {dst.size}")
        key = dst * in_features + src
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        repeated = np.flatnonzero(np.diff(sorted_key) == 0)
        if repeated.size:
            k = sorted_key[repeated[0]]
            raise ValueError(
                f"duplicate edges are not allowed: {repeated.size} repeated, first "
                f"(in {k % in_features} -> out {k // in_features})"
            )
        schedule = None
        if scheduled:
            schedule = np.empty_like(order)
            schedule[order] = np.arange(order.size)
        return cls(in_features, out_features, src[order], dst[order], schedule, parallelism)

    @classmethod
    def _trusted(
        cls,
        in_features: int,
        out_features: int,
        src: np.ndarray,
        dst: np.ndarray,
        schedule: np.ndarray | None = None,
        parallelism: int | None = None,
        blocks: BlockStructure | None = None,
    ) -> Junction:
        """Wrap arrays a generator built canonical by construction, skipping the O(nnz) checks.

        Only for generators whose invariants (range, order, no duplicates) hold by construction
        and are covered by their invariant tests; takes ownership of the arrays.
        """
        junction = object.__new__(cls)
        fields = {
            "in_features": int(in_features),
            "out_features": int(out_features),
            "src": _readonly(np.asarray(src, dtype=np.int64)),
            "dst": _readonly(np.asarray(dst, dtype=np.int64)),
            "schedule": None if schedule is None else _readonly(np.asarray(schedule, np.int64)),
            "parallelism": None if parallelism is None else int(parallelism),
            "blocks": blocks,
        }
        for name, value in fields.items():
            object.__setattr__(junction, name, value)
        return junction

    @classmethod
    def from_blocks(cls, blocks: BlockStructure) -> Junction:
        """Build the junction whose edges are the nonzeros of a block structure.

        Example:
            >>> from neurofabric.topology.blocks import BlockStructure
            >>> Junction.from_blocks(BlockStructure(blocks=2, block_in=2, block_out=1)).to_mask()
            array([[ True,  True, False, False],
                   [False, False,  True,  True]])
        """
        src, dst = blocks.edges()
        return cls._trusted(blocks.in_features, blocks.out_features, src, dst, blocks=blocks)

    @classmethod
    def from_mask(cls, mask: object) -> Junction:
        """Build a junction from an ``(out_features, in_features)`` mask.

        Accepts a boolean or 0/1 numpy array, or a ``scipy.sparse`` matrix (stored zeros are
        ignored). ``mask[j, k]`` is true iff left neuron ``k`` feeds right neuron ``j``.

        Raises:
            ValueError: If the mask is not two-dimensional, is empty, or holds values other
                than 0 and 1.
        """
        if scipy.sparse.issparse(mask):
            coo = scipy.sparse.coo_array(mask)
            coo.sum_duplicates()
            out_features, in_features = coo.shape
            keep = coo.data != 0
            values, dst, src = coo.data[keep], coo.row[keep], coo.col[keep]
        else:
            array = np.asarray(mask)
            if array.ndim != 2:
                raise ValueError(f"a mask must be 2-D (out, in), got shape {array.shape}")
            out_features, in_features = array.shape
            dst, src = np.nonzero(array)
            values = array[dst, src]
        if np.any((values != 0) & (values != 1)):
            raise ValueError("a mask must hold only 0/1 or boolean values")
        return cls.from_edges(in_features, out_features, src, dst)

    # ----------------------------------------------------------------- views
    @property
    def shape(self) -> tuple[int, int]:
        """``(out_features, in_features)``, the shape of the mask and dense weight."""
        return (self.out_features, self.in_features)

    @property
    def nnz(self) -> int:
        """Number of edges (weights)."""
        return int(self.src.size)

    @property
    def density(self) -> float:
        """Fraction of the ``out_features * in_features`` possible edges that exist."""
        return self.nnz / (self.in_features * self.out_features)

    @cached_property
    def fan_in(self) -> np.ndarray:
        """``(out_features,)`` number of inputs of each right neuron."""
        return _readonly(np.bincount(self.dst, minlength=self.out_features))

    @cached_property
    def fan_out(self) -> np.ndarray:
        """``(in_features,)`` number of outputs of each left neuron."""
        return _readonly(np.bincount(self.src, minlength=self.in_features))

    @property
    def is_regular(self) -> bool:
        """Whether every right neuron has one fan-in and every left neuron one fan-out."""
        return bool(
            self.fan_in.min() == self.fan_in.max() and self.fan_out.min() == self.fan_out.max()
        )

    @property
    def has_constant_fan_in(self) -> bool:
        """Whether every right neuron has the same number of inputs."""
        return bool(self.fan_in.min() == self.fan_in.max())

    @cached_property
    def indptr(self) -> np.ndarray:
        """``(out_features + 1,)`` CSR row pointer: row ``j`` owns ``indptr[j]:indptr[j+1]``."""
        indptr = np.zeros(self.out_features + 1, dtype=np.int64)
        np.cumsum(self.fan_in, out=indptr[1:])
        return _readonly(indptr)

    def to_mask(self) -> np.ndarray:
        """Return the dense ``(out_features, in_features)`` boolean mask."""
        mask = np.zeros(self.shape, dtype=bool)
        mask[self.dst, self.src] = True
        return mask

    def to_csr(self, dtype: type = np.int8) -> scipy.sparse.csr_array:
        """Return the mask as a ``scipy.sparse.csr_array`` of ones, ``(out, in)``."""
        data = np.ones(self.nnz, dtype=dtype)
        return scipy.sparse.csr_array((data, self.src.copy(), self.indptr.copy()), shape=self.shape)

    def fan_in_table(self) -> np.ndarray:
        """Return the ``(out_features, fan_in)`` table of inputs of each right neuron.

        Row ``j`` lists the inputs of right neuron ``j`` in increasing order; this is the gather
        table of a constant fan-in kernel.

        Raises:
            ValueError: If the fan-in is not the same for every right neuron.
        """
        if not self.has_constant_fan_in:
            raise ValueError(
                "a fan-in table needs a constant fan-in, got fan-in between "
                f"{self.fan_in.min()} and {self.fan_in.max()}"
            )
        return self.src.reshape(self.out_features, -1)

    def scheduled_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(src, dst)`` in hardware slot order (canonical order if unscheduled)."""
        if self.schedule is None:
            return self.src, self.dst
        return self.src[self.schedule], self.dst[self.schedule]

    def transpose(self) -> Junction:
        """Return the junction with left and right swapped (the backward-pass pattern)."""
        return Junction.from_edges(self.out_features, self.in_features, self.dst, self.src)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write this junction to an ``.npz`` file (see :mod:`neurofabric.topology.io`)."""
        from neurofabric.topology.io import save_junction

        save_junction(self, path, overwrite=overwrite)

    @staticmethod
    def load(path: str | os.PathLike) -> Junction:
        """Read a junction written by :meth:`save`; exact round trip, schedule included."""
        from neurofabric.topology.io import load_junction

        return load_junction(path)

    # ----------------------------------------------------------------- protocol
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Junction):
            return NotImplemented
        same_schedule = (self.schedule is None and other.schedule is None) or (
            self.schedule is not None
            and other.schedule is not None
            and np.array_equal(self.schedule, other.schedule)
        )
        return (
            self.shape == other.shape
            and np.array_equal(self.src, other.src)
            and np.array_equal(self.dst, other.dst)
            and self.parallelism == other.parallelism
            and self.blocks == other.blocks
            and same_schedule
        )

    def __hash__(self) -> int:
        return hash((self.shape, self.nnz, self.src[:16].tobytes(), self.dst[-16:].tobytes()))

    def __repr__(self) -> str:
        extra = f", parallelism={self.parallelism}" if self.parallelism else ""
        if self.blocks is not None:
            extra += (
                f", blocks={self.blocks.blocks}x({self.blocks.block_out}x{self.blocks.block_in})"
            )
        return (
            f"Junction(in_features={self.in_features}, out_features={self.out_features}, "
            f"nnz={self.nnz}, density={self.density:.4g}{extra})"
        )
