"""Swap the ``nn.Linear`` layers of an existing model for pre-defined sparse ones, and back."""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
from torch import nn

from neurofabric.nn.linear import SparseLinear
from neurofabric.topology.junction import Junction
from neurofabric.topology.topology import Topology

Factory = Callable[[int, int], Junction | Topology]


def _sparse_layer(linear: nn.Linear, pattern: Junction | Topology, kernel: str, keep: bool):
    factory = {"device": linear.weight.device, "dtype": linear.weight.dtype}
    bias = linear.bias is not None
    if isinstance(pattern, Junction):
        if pattern.shape != (linear.out_features, linear.in_features):
            raise ValueError(
                f"the factory gave a {pattern.in_features} -> {pattern.out_features} junction "
                f"for a Linear({linear.in_features}, {linear.out_features})"
            )
        layer = SparseLinear(pattern, bias, kernel=kernel, **factory)
        if keep:
            with torch.no_grad():
                src = torch.from_numpy(pattern.src.copy()).to(linear.weight.device)
                dst = torch.from_numpy(pattern.dst.copy()).to(linear.weight.device)
                layer.weight.copy_(linear.weight[dst, src])
                if bias:
                    layer.bias.copy_(linear.bias)
        return layer
    if isinstance(pattern, Topology):
        from neurofabric.nn.cascade import SparseCascade

        if (pattern.in_features, pattern.out_features) != (
            linear.in_features,
            linear.out_features,
        ):
            raise ValueError(
                f"the factory gave a {pattern.in_features} -> {pattern.out_features} cascade "
                f"for a Linear({linear.in_features}, {linear.out_features})"
            )
        if keep:
            raise ValueError("keep_weights needs a single junction, not a cascade")
        return SparseCascade(pattern, bias, kernel=kernel, **factory)
    raise ValueError(
        f"the topology factory must return a Junction or a Topology, got {type(pattern).__name__}"
    )


def sparsify(
    model: nn.Module,
    *,
    topology: Factory,
    include: str | None = None,
    exclude: str | None = None,
    kernel: str = "auto",
    keep_weights: bool = False,
) -> list[str]:
    """Replace matching ``nn.Linear`` modules of ``model``, in place, by sparse ones.

    Args:
        model: Any module; its ``nn.Linear`` descendants are candidates.
        topology: Factory ``(in_features, out_features) -> Junction | Topology``: a junction
            gives a :class:`SparseLinear`, a cascade topology a
            :class:`~neurofabric.nn.cascade.SparseCascade`.
        include: Regular expression a layer's qualified name must match (``re.search``).
        exclude: Regular expression that excludes matching names.
        kernel: Kernel of the new layers.
        keep_weights: Copy the dense weights at the pattern's edges (and the bias) instead of
            initialising afresh (junctions only).

    Returns:
        The qualified names of the replaced layers.

    Example:
        >>> from neurofabric.topology import random_junction
        >>> model = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 4))
        >>> sparsify(model, topology=lambda i, o: random_junction(i, o, density=0.25, seed=0),
        ...          exclude=r"^2$")
        ['0']
    """
    include_re = re.compile(include) if include is not None else None
    exclude_re = re.compile(exclude) if exclude is not None else None
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if type(module) is nn.Linear
        and (include_re is None or include_re.search(name))
        and not (exclude_re is not None and exclude_re.search(name))
    ]
    if targets and targets[0][0] == "":
        raise ValueError("the model itself is an nn.Linear; build a SparseLinear directly")
    for name, linear in targets:
        pattern = topology(linear.in_features, linear.out_features)
        _replace(model, name, _sparse_layer(linear, pattern, kernel, keep_weights))
    return [name for name, _ in targets]


def _replace(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    if name == "":
        return new
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
    return new


def _to_linear(layer: nn.Module) -> nn.Linear:
    dense = layer.dense_weight().detach()
    bias = getattr(layer, "bias", None)
    linear = nn.Linear(
        dense.shape[1],
        dense.shape[0],
        bias=bias is not None,
        device=dense.device,
        dtype=dense.dtype,
    )
    with torch.no_grad():
        linear.weight.copy_(dense)
        if bias is not None:
            linear.bias.copy_(bias.detach())
    return linear


def densify(module: nn.Module) -> nn.Module:
    """Turn sparse layers back into equivalent ``nn.Linear`` layers.

    A :class:`SparseLinear` (or a linear ``SparseCascade``) is returned as an ``nn.Linear``
    holding its dense weight; any other module has its sparse descendants replaced in place
    and is returned.
    """
    from neurofabric.nn.cascade import SparseCascade

    sparse = (SparseLinear, SparseCascade)
    if isinstance(module, sparse):
        return _to_linear(module)
    names = [name for name, m in module.named_modules() if name and isinstance(m, sparse)]
    replaced: list[str] = []
    for name in names:
        if any(name.startswith(done + ".") for done in replaced):
            continue
        _replace(module, name, _to_linear(module.get_submodule(name)))
        replaced.append(name)
    return module
