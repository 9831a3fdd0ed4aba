"""Topology: layer sizes plus the junctions between them (a DAG; skip connections allowed)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from neurofabric.topology.junction import Junction, _check_size

JunctionKey = tuple[int, int]
Kind = Literal["mlp", "cascade"]


@dataclass(frozen=True, eq=False)
class Topology:
    """Neurons per layer and the junctions that join them.

    Junctions are keyed ``(source_layer, target_layer)`` with ``source < target``; a key with
    ``target - source > 1`` is a skip connection. A plain MLP stack has keys ``(0, 1), (1, 2),
    …``. Layer 0 is the input layer and the last layer the output layer.

    Attributes:
        layer_sizes: Neurons per layer, ``(N_0, …, N_L)``.
        junctions: Read-only mapping ``(source, target) -> Junction``, sorted by key.
        metadata: JSON-serialisable notes on how the topology was made (generator, seed, …);
            saved with it, not part of equality.
        identity_skips: Fixed skip connections ``(source, target)``: the target layer adds the
            source layer's first ``min(N_source, N_target)`` activations with weight 1. They
            are not parameters (SPEC §4.6) but count in path counts and reachability.
        kind: ``"mlp"`` — a network whose layers are all neurons (nonlinear hidden layers) —
            or ``"cascade"`` — a product of sparse stages that replaces one dense
            ``N_0 × N_L`` layer (stages linear, SPEC §4).

    Example:
        >>> from neurofabric.topology import Junction
        >>> j = Junction.from_mask([[1, 0], [1, 1]])
        >>> t = Topology((2, 2), {(0, 1): j})
        >>> t.num_layers, t.nnz, t.has_skips
        (2, 3, False)
    """

    layer_sizes: tuple[int, ...]
    junctions: Mapping[JunctionKey, Junction]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    identity_skips: frozenset[JunctionKey] = frozenset()
    kind: Kind = "mlp"

    def __post_init__(self) -> None:
        sizes = tuple(_check_size(f"layer_sizes[{i}]", s) for i, s in enumerate(self.layer_sizes))
        if len(sizes) < 2:
            raise ValueError(f"a topology needs at least 2 layers, got {len(sizes)}")
        checked: dict[JunctionKey, Junction] = {}
        for key in sorted(self.junctions):
            junction = self.junctions[key]
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ValueError(f"junction keys must be (source, target) pairs, got {key!r}")
            source, target = int(key[0]), int(key[1])
            if not 0 <= source < target < len(sizes):
                raise ValueError(
                    f"junction key {key} must satisfy 0 <= source < target < {len(sizes)}"
                )
            if not isinstance(junction, Junction):
                raise ValueError(
                    f"junction {key} must be a Junction, got {type(junction).__name__}"
                )
            if junction.in_features != sizes[source] or junction.out_features != sizes[target]:
                raise ValueError(
                    f"junction {key} joins {junction.in_features} -> {junction.out_features} "
                    f"neurons but layers {source} and {target} have {sizes[source]} and "
                    f"{sizes[target]}"
                )
            checked[(source, target)] = junction
        for layer in range(1, len(sizes)):
            if not any(t == layer for _, t in checked):
                raise ValueError(f"layer {layer} has no incoming junction")
        object.__setattr__(self, "layer_sizes", sizes)
        object.__setattr__(self, "junctions", MappingProxyType(checked))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        skips = set()
        for key in self.identity_skips:
            source, target = (int(k) for k in key)
            if not 0 <= source < target < len(sizes):
                raise ValueError(
                    f"identity skip {tuple(key)} must satisfy 0 <= source < target < {len(sizes)}"
                )
            skips.add((source, target))
        object.__setattr__(self, "identity_skips", frozenset(skips))
        if self.kind not in ("mlp", "cascade"):
            raise ValueError(f"kind must be 'mlp' or 'cascade', got {self.kind!r}")

    @classmethod
    def chain(
        cls,
        junctions: list[Junction] | tuple[Junction, ...],
        metadata: Mapping[str, Any] | None = None,
        *,
        identity_skips: frozenset[JunctionKey] | set[JunctionKey] = frozenset(),
        kind: Kind = "mlp",
    ) -> Topology:
        """Stack junctions into an MLP topology ``(0, 1), (1, 2), …``.

        Raises:
            ValueError: If consecutive junctions do not agree on the size of the layer between.
        """
        if not junctions:
            raise ValueError("a chain needs at least one junction")
        sizes = [junctions[0].in_features]
        for i, junction in enumerate(junctions):
            if junction.in_features != sizes[-1]:
                raise ValueError(
                    f"junction {i} has in_features = {junction.in_features} but the previous "
                    f"layer has {sizes[-1]} neurons"
                )
            sizes.append(junction.out_features)
        return cls(
            tuple(sizes),
            {(i, i + 1): j for i, j in enumerate(junctions)},
            metadata or {},
            frozenset(identity_skips),
            kind,
        )

    @property
    def num_layers(self) -> int:
        """Number of layers, inputs and outputs included (``L + 1``)."""
        return len(self.layer_sizes)

    @property
    def in_features(self) -> int:
        return self.layer_sizes[0]

    @property
    def out_features(self) -> int:
        return self.layer_sizes[-1]

    @property
    def has_skips(self) -> bool:
        """Whether some junction jumps over a layer, or any fixed identity skip exists."""
        return bool(self.identity_skips) or any(t - s > 1 for s, t in self.junctions)

    @property
    def depth(self) -> int:
        """Junctions on the longest input-to-output path (stages of a cascade)."""
        longest = [0] * self.num_layers
        for source, target in self.junctions:  # keys are sorted by source, so a DAG order
            longest[target] = max(longest[target], longest[source] + 1)
        return longest[-1]

    @property
    def nnz(self) -> int:
        """Total number of edges (weights) over all junctions."""
        return sum(j.nnz for j in self.junctions.values())

    @property
    def dense_parameters(self) -> int:
        """Weights of the dense equivalent: the fully connected MLP with the same layer sizes,
        or, for a cascade, the one dense ``N_0 × N_L`` layer it replaces."""
        sizes = self.layer_sizes
        if self.kind == "cascade":
            return sizes[0] * sizes[-1]
        return sum(sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1))

    @property
    def overall_density(self) -> float:
        """``Σ|W_i| / Σ N_s·N_t`` over the junctions that exist (SPEC §1)."""
        possible = sum(j.in_features * j.out_features for j in self.junctions.values())
        return self.nnz / possible

    def incoming(self, layer: int) -> Iterator[tuple[JunctionKey, Junction]]:
        """Yield the junctions that end at ``layer``, by source."""
        for key, junction in self.junctions.items():
            if key[1] == layer:
                yield key, junction

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Topology):
            return NotImplemented
        return (
            self.layer_sizes == other.layer_sizes
            and dict(self.junctions) == dict(other.junctions)
            and self.identity_skips == other.identity_skips
            and self.kind == other.kind
        )

    def __hash__(self) -> int:
        return hash((self.layer_sizes, tuple(self.junctions)))

    def __reduce__(self):
        # The read-only mapping proxies cannot be pickled (nor deep-copied, e.g. with a module
        # that holds this topology): rebuild from plain dicts.
        return (
            type(self),
            (
                self.layer_sizes,
                dict(self.junctions),
                dict(self.metadata),
                self.identity_skips,
                self.kind,
            ),
        )

    def __repr__(self) -> str:
        return (
            f"Topology(layer_sizes={self.layer_sizes}, junctions={len(self.junctions)}, "
            f"nnz={self.nnz}, overall_density={self.overall_density:.4g})"
        )
