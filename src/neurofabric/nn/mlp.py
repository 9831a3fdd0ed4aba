"""Multi-layer pre-defined sparse networks built from a Topology (one SparseLinear per junction)."""

from __future__ import annotations

import torch
from torch import nn

from neurofabric.nn.linear import SparseLinear
from neurofabric.topology.topology import Topology

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


def make_activation(activation: str | nn.Module | None) -> nn.Module:
    """Turn ``"relu"``-style names (or ``None``) into a module; modules pass through."""
    if activation is None:
        return nn.Identity()
    if isinstance(activation, nn.Module):
        return activation
    try:
        return ACTIVATIONS[activation]()
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {', '.join(sorted(ACTIVATIONS))}"
        ) from None


def junction_name(key: tuple[int, int]) -> str:
    """Module name of junction ``(source, target)``: ``"0_1"``."""
    return f"{key[0]}_{key[1]}"


class SparseMLP(nn.Module):
    """A pre-defined sparse MLP: every junction of a topology is a :class:`SparseLinear`.

    Layer ``t`` sums the outputs of every junction that ends there (skips included) plus any
    fixed identity skips, then applies the activation (hidden layers only). Each layer gets one
    bias, held by its first incoming junction.

    Args:
        topology: Layer sizes and junctions.
        activation: Hidden-layer nonlinearity (name or module).
        bias: Whether layers learn biases.
        kernel: Kernel for every junction (``"auto"`` picks per junction).
        init: Weight initialiser name (:data:`~neurofabric.nn.init.INITS`).
        device: Where to allocate.
        dtype: Parameter dtype.

    Shape:
        - Input: ``(*, N_0)``.
        - Output: ``(*, N_L)`` (logits: no activation on the output layer).
    """

    def __init__(
        self,
        topology: Topology,
        *,
        activation: str | nn.Module | None = "relu",
        bias: bool = True,
        kernel: str = "auto",
        init: str = "linear",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.topology = topology
        self.activation = make_activation(activation)
        self.junctions = nn.ModuleDict()
        has_bias: set[int] = set()
        for key, junction in topology.junctions.items():
            first = key[1] not in has_bias
            has_bias.add(key[1])
            self.junctions[junction_name(key)] = SparseLinear(
                junction,
                bias=bias and first,
                kernel=kernel,
                init=init,
                device=device,
                dtype=dtype,
            )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        sizes = self.topology.layer_sizes
        if input.shape[-1] != sizes[0]:
            raise ValueError(
                f"input has {input.shape[-1]} features in its last dimension, expected "
                f"{sizes[0]} (the topology's input layer)"
            )
        layers: dict[int, torch.Tensor] = {0: input}
        last = len(sizes) - 1
        for target in range(1, len(sizes)):
            total = None
            for key, _ in self.topology.incoming(target):
                term = self.junctions[junction_name(key)](layers[key[0]])
                total = term if total is None else total + term
            for source, skip_target in sorted(self.topology.identity_skips):
                if skip_target == target:
                    shared = min(sizes[source], sizes[target])
                    total = torch.cat(
                        [total[..., :shared] + layers[source][..., :shared], total[..., shared:]],
                        dim=-1,
                    )
            layers[target] = total if target == last else self.activation(total)
        return layers[last]

    def set_kernel(self, kernel: str = "auto") -> None:
        """Switch every junction's kernel; ``state_dict`` is unchanged."""
        for layer in self.junctions.values():
            layer.set_kernel(kernel)

    def extra_repr(self) -> str:
        return (
            f"layer_sizes={self.topology.layer_sizes}, nnz={self.topology.nnz}, "
            f"overall_density={self.topology.overall_density:.4g}"
        )


def build_mlp(
    topology: Topology,
    *,
    activation: str | nn.Module | None = "relu",
    bias: bool = True,
    kernel: str = "auto",
    init: str = "linear",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> SparseMLP:
    """Build the pre-defined sparse MLP of ``topology`` (see :class:`SparseMLP`).

    Example:
        >>> from neurofabric.topology import mlp_topology
        >>> net = build_mlp(mlp_topology((16, 8, 4), "structured", fan_out=(2, 4), seed=0))
        >>> net(torch.randn(3, 16)).shape
        torch.Size([3, 4])
    """
    return SparseMLP(
        topology,
        activation=activation,
        bias=bias,
        kernel=kernel,
        init=init,
        device=device,
        dtype=dtype,
    )
