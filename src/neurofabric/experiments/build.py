"""Config → topology → model: the network of one experiment, and what it costs.

Every junction ``i`` of ``model.sizes`` becomes either a :class:`~neurofabric.nn.SparseLinear`
with the configured pattern, or, for the junctions ``model.cascade`` selects, a
:class:`~neurofabric.nn.SparseCascade` replacing that dense layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neurofabric._rng import spawn
from neurofabric.experiments.config import CascadeConfig, ExperimentConfig, ModelConfig
from neurofabric.nn.cascade import SparseCascade
from neurofabric.nn.linear import SparseLinear
from neurofabric.nn.mlp import make_activation
from neurofabric.nn.tune import tune_kernels
from neurofabric.topology.generators.block_shuffle import clos_topology
from neurofabric.topology.generators.butterfly import benes_topology, butterfly_topology
from neurofabric.topology.generators.mlp import _make, get_pattern
from neurofabric.topology.generators.monarch import monarch_topology
from neurofabric.topology.generators.random_cascade import random_cascade_topology
from neurofabric.topology.junction import Junction
from neurofabric.topology.topology import Topology

__all__ = ["ExperimentNet", "JunctionCost", "build_model", "cascade_junctions", "model_costs"]


def _per_junction(value, count: int) -> list:
    return list(value) if isinstance(value, tuple) else [value] * count


def cascade_junctions(model: ModelConfig) -> list[int]:
    """Indices of the junctions ``model.cascade`` replaces by cascades (empty for ``none``)."""
    cascade = model.cascade
    if cascade.topology == "none":
        return []
    if cascade.junctions:
        return sorted(set(cascade.junctions))
    sizes = model.sizes
    return [i for i in range(len(sizes) - 1) if min(sizes[i], sizes[i + 1]) >= cascade.min_features]


def _cascade_topology(cascade: CascadeConfig, p: int, n: int, seed) -> Topology:
    kind = cascade.topology
    if kind == "clos":
        if cascade.groups is None or cascade.middle is None:
            raise ValueError("a clos cascade needs model.cascade.groups and model.cascade.middle")
        return clos_topology(
            p,
            n,
            groups=cascade.groups,
            middle=cascade.middle,
            stages=cascade.stages,
            skip=cascade.skip,
        )
    if p != n:
        raise ValueError(f"a {kind} cascade is square; the junction is {p} -> {n}")
    if kind == "butterfly":
        return butterfly_topology(p, radix=cascade.radix, skip=cascade.skip)
    if kind == "benes":
        return benes_topology(p, radix=cascade.radix, skip=cascade.skip)
    if kind == "monarch":
        if cascade.blocks is None:
            raise ValueError("a monarch cascade needs model.cascade.blocks")
        return monarch_topology(p, blocks=cascade.blocks, skip=cascade.skip)
    if cascade.density is None:
        raise ValueError("a random-cascade needs model.cascade.density")
    return random_cascade_topology(
        [p] * (cascade.depth + 1), density=cascade.density, skip=cascade.skip, seed=seed
    )


class ExperimentNet(nn.Module):
    """A feed-forward net of per-junction layers with one activation between them.

    Args:
        layers: One module per junction (``SparseLinear`` or ``SparseCascade``).
        activation: Hidden nonlinearity (not applied after the last layer: logits out).
        kinds: What each junction is, for reports (``"clash-free"``, ``"clos cascade"``, …).
    """

    def __init__(
        self, layers: list[nn.Module], activation: str = "relu", kinds: list[str] | None = None
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.activation = make_activation(activation)
        self.kinds = list(kinds) if kinds is not None else ["sparse"] * len(layers)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        x = input
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = self.activation(x)
        return x

    def weights(self) -> list[torch.Tensor]:
        """Every edge-weight vector (the tensors L2 acts on; biases excluded)."""
        return [p for name, p in self.named_parameters() if name.endswith("weight")]


def build_topologies(model: ModelConfig, seed: int) -> list[Junction | Topology]:
    """One junction (or cascade topology) per junction of ``model.sizes``.

    Raises:
        ValueError: From the pattern generators (fan-outs that don't divide, …), naming the
            junction.
    """
    sizes = model.sizes
    count = len(sizes) - 1
    patterns = _per_junction(model.pattern, count)
    fan_outs = _per_junction(model.fan_out, count)
    densities = _per_junction(model.density, count)
    parallelisms = _per_junction(model.parallelism, count)
    cascades = set(cascade_junctions(model))
    generators = spawn(model.topology_seed if model.topology_seed is not None else seed, count)
    out: list[Junction | Topology] = []
    for i in range(count):
        p, n, name = sizes[i], sizes[i + 1], patterns[i]
        where = f"junction {i} ({p} -> {n}"
        try:
            if i in cascades:
                out.append(_cascade_topology(model.cascade, p, n, generators[i]))
                continue
            get_pattern(name)
            if name == "dense":
                fan, dens, z = None, None, None
            else:
                fan, dens = fan_outs[i], densities[i]
                z = parallelisms[i] if name == "clash-free" else None
                if fan is None and dens is None:
                    raise ValueError("a sparse junction needs model.fan_out or model.density")
            out.append(
                _make(
                    get_pattern(name),
                    name,
                    p,
                    n,
                    fan,
                    dens,
                    z,
                    model.memory_map,
                    model.dither,
                    generators[i],
                )
            )
        except ValueError as error:
            kind = f"{model.cascade.topology} cascade" if i in cascades else name
            raise ValueError(f"{where}, {kind}): {error}") from None
    return out


def build_model(
    config: ExperimentConfig, *, device: torch.device | str | None = None
) -> ExperimentNet:
    """The network of ``config``, initialised from ``train.seed`` (same seed, same weights).

    Weights are drawn on the CPU and then moved, so a seed gives the same network on every
    device.

    Example:
        >>> from neurofabric.experiments.config import load_config
        >>> config = load_config(None, ["model.sizes=[16, 8, 4]", "model.fan_out=[2, 4]"])
        >>> net = build_model(config)
        >>> net(torch.randn(3, 16)).shape
        torch.Size([3, 4])
    """
    model = config.model
    make_activation(model.activation)  # fail early, with the list of names
    seed = config.train.seed
    parts = build_topologies(model, seed)
    generator = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    patterns = _per_junction(model.pattern, len(parts))
    kinds = [
        f"{model.cascade.topology} cascade" if isinstance(part, Topology) else patterns[i]
        for i, part in enumerate(parts)
    ]
    kernel = "auto" if model.kernel == "tune" else model.kernel  # tuned later, on the data
    for part in parts:
        if isinstance(part, Topology):
            layer = SparseCascade(part, bias=model.bias, kernel=kernel, init=model.cascade.init)
        else:
            layer = SparseLinear(part, bias=model.bias, kernel=kernel, init=model.init)
        layer.reset_parameters(generator=generator)
        layers.append(layer)
    return ExperimentNet(layers, model.activation, kinds).to(device)


@dataclass(frozen=True)
class JunctionCost:
    """What one junction of an experiment net costs."""

    kind: str  # pattern, or "<topology> cascade"
    in_features: int
    out_features: int
    edges: int
    density: float  # edges over in·out (a cascade can exceed 1 in principle)


def _junction_cost(layer: nn.Module, kind: str) -> JunctionCost:
    edges = layer.topology.nnz if isinstance(layer, SparseCascade) else layer.junction.nnz
    p, n = layer.in_features, layer.out_features
    return JunctionCost(kind, p, n, int(edges), edges / (p * n))


def model_costs(net: ExperimentNet) -> dict:
    """Parameters, FLOPs and densities of ``net`` beside the dense MLP of the same sizes.

    FLOPs count a multiply and an add per edge (``2 · edges`` per sample, forward), biases
    excluded, as in the papers' complexity tables.
    """
    costs = [_junction_cost(layer, kind) for layer, kind in zip(net.layers, net.kinds, strict=True)]
    edges = sum(c.edges for c in costs)
    dense = sum(c.in_features * c.out_features for c in costs)
    biases = sum(p.numel() for n, p in net.named_parameters() if n.endswith("bias"))
    return {
        "parameters": sum(p.numel() for p in net.parameters()),
        "dense_parameters": dense + sum(c.out_features for c in costs) * (biases > 0),
        "edges": edges,
        "flops_per_sample": 2 * edges,
        "dense_flops_per_sample": 2 * dense,
        "overall_density": edges / dense,
        "junction_densities": [c.density for c in costs],
        "junction_kinds": [c.kind for c in costs],
    }


def tune_if_asked(net: nn.Module, config: ExperimentConfig, train_x: torch.Tensor) -> None:
    """With ``model.kernel = "tune"``, time every candidate kernel per layer on the first
    training batch and keep the fastest (:func:`~neurofabric.nn.tune_kernels`); else nothing."""
    if config.model.kernel == "tune":
        tune_kernels(net, train_x[: config.train.batch_size])
