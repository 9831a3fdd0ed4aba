"""Initialisers for sparse weights: scaled by the fan-in each neuron actually has (SPEC §5).

Dense initialisers over-scale a sparse layer: a neuron with 8 inputs out of 1024 possible gets
weights sized for 1024 and its activations vanish layer after layer. Each initialiser here
fills the ``(nnz,)`` edge weights of a junction in place.

| name | rule |
|---|---|
| ``linear`` | ``U(±1/√fi_j)`` per row: ``torch.nn.Linear``'s default with the real fan-in |
| ``sparse_glorot`` | ``U(±a)``, ``a = √6 / (√(n_in + n_out) · √(1 − s))``, s = sparsity (poster) |
| ``sparse_glorot_rows`` | row j: ``a_j = √6 / √(fi_j + f̄o)``, ``f̄o = nnz / n_in`` |
| ``sparse_he`` | ``N(0, 2 / fi_j)`` per row (``distribution="uniform"``: ``U(±√(6/fi_j))``) |
| ``dense_he`` | Dey's recipe: He-normal on the dense shape, std ``√(2 / n_in)``, ±2σ truncated |
| ``glorot`` | dense Glorot ``U(±√(6 / (n_in + n_out)))``, the contrast case |
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from neurofabric.topology.junction import Junction


def _edge_fan_in(junction: Junction, weight: torch.Tensor) -> torch.Tensor:
    fan_in = torch.as_tensor(junction.fan_in[junction.dst], dtype=weight.dtype)
    return fan_in.to(weight.device).clamp_min(1)


def _uniform_(weight: torch.Tensor, bound: torch.Tensor | float, generator) -> torch.Tensor:
    with torch.no_grad():
        weight.uniform_(-1.0, 1.0, generator=generator)
        return weight.mul_(bound)


def linear_(weight: torch.Tensor, junction: Junction, *, generator=None) -> torch.Tensor:
    """``U(±1/√fi_j)``: ``nn.Linear``'s default rule (kaiming_uniform, a = √5) per real fan-in."""
    return _uniform_(weight, _edge_fan_in(junction, weight).rsqrt(), generator)


def sparse_glorot_(weight: torch.Tensor, junction: Junction, *, generator=None) -> torch.Tensor:
    """The poster's sparse Glorot: ``a = √6 / (√(n_in + n_out) · √density)``."""
    p, n = junction.in_features, junction.out_features
    return _uniform_(weight, math.sqrt(6.0 / ((p + n) * junction.density)), generator)


def sparse_glorot_rows_(
    weight: torch.Tensor, junction: Junction, *, generator=None
) -> torch.Tensor:
    """Row-wise sparse Glorot: ``a_j = √6 / √(fi_j + f̄o)``; the poster's limit when regular."""
    mean_fan_out = junction.nnz / junction.in_features
    bound = torch.sqrt(6.0 / (_edge_fan_in(junction, weight) + mean_fan_out))
    return _uniform_(weight, bound, generator)


def sparse_he_(
    weight: torch.Tensor, junction: Junction, *, distribution: str = "normal", generator=None
) -> torch.Tensor:
    """He initialisation from each row's real fan-in: ``N(0, 2/fi_j)`` or ``U(±√(6/fi_j))``."""
    fan_in = _edge_fan_in(junction, weight)
    if distribution == "uniform":
        return _uniform_(weight, torch.sqrt(6.0 / fan_in), generator)
    if distribution != "normal":
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
    with torch.no_grad():
        weight.normal_(0.0, 1.0, generator=generator)
        return weight.mul_(torch.sqrt(2.0 / fan_in))


def dense_he_(weight: torch.Tensor, junction: Junction, *, generator=None) -> torch.Tensor:
    """Dey's fidelity recipe: He-normal on the dense shape (std √(2/n_in)), truncated at ±2σ."""
    std = math.sqrt(2.0 / junction.in_features)
    with torch.no_grad():
        torch.nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std, generator=generator)
    return weight


def glorot_(weight: torch.Tensor, junction: Junction, *, generator=None) -> torch.Tensor:
    """Dense Glorot uniform on the dense shape: the contrast that vanishes in deep sparse nets."""
    p, n = junction.in_features, junction.out_features
    return _uniform_(weight, math.sqrt(6.0 / (p + n)), generator)


#: Initialiser name -> in-place function ``(weight, junction, *, generator)``.
INITS: dict[str, Callable[..., torch.Tensor]] = {
    "linear": linear_,
    "sparse_glorot": sparse_glorot_,
    "sparse_glorot_rows": sparse_glorot_rows_,
    "sparse_he": sparse_he_,
    "dense_he": dense_he_,
    "glorot": glorot_,
}


def get_init(name: str) -> Callable[..., torch.Tensor]:
    """Return the initialiser named ``name``; unknown names list the valid ones."""
    try:
        return INITS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown init {name!r}; choose one of {', '.join(sorted(INITS))}"
        ) from None


def init_bias_(
    bias: torch.Tensor, junction: Junction, init: str, *, generator=None
) -> torch.Tensor:
    """Bias to match ``init``: ``nn.Linear``'s ``U(±1/√fi_j)`` for ``linear``, 0.1 for Dey's
    ``dense_he`` (SPEC §7), zero otherwise."""
    with torch.no_grad():
        if init == "linear":
            fan_in = torch.tensor(junction.fan_in, dtype=bias.dtype, device=bias.device)
            bias.uniform_(-1.0, 1.0, generator=generator)
            return bias.mul_(fan_in.clamp_min(1).rsqrt())
        return bias.fill_(0.1 if init == "dense_he" else 0.0)
