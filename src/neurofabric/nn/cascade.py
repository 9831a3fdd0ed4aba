"""SparseCascade: one ``nn.Linear(in, out)`` replaced by a cascade of sparse stages (SPEC §4)."""

from __future__ import annotations

import torch
from torch import nn

from neurofabric.kernels import KERNELS, get_kernel
from neurofabric.kernels.block_chain import (
    add_identity,
    block_chain,
    block_chain_buffers,
    block_chain_plan,
    block_chain_unsupported,
)
from neurofabric.nn.init import get_init, init_bias_
from neurofabric.nn.linear import SparseLinear
from neurofabric.nn.mlp import make_activation
from neurofabric.topology.topology import Topology

_CHAIN_PREFIX = "_chain_"
#: Kernels under which a block-structured chain runs as one :func:`block_chain`.
_CHAIN_KERNELS = ("auto", "blockdiag")


def _stage_name(key: tuple[int, int]) -> str:
    return f"{key[0]}_{key[1]}"


class SparseCascade(nn.Module):
    """Replace ``nn.Linear(topology.in_features, topology.out_features)`` by sparse stages.

    Computes ``y = S_L(… S_2(S_1(x))) + b``: every junction of ``topology`` is a bias-free
    :class:`~neurofabric.nn.SparseLinear` stage, layer ``t`` sums the junctions that end there
    plus the topology's fixed identity skips, ``activation`` (if any) acts between stages, and
    one bias follows the last stage (SPEC §4: stages linear, bias only at the end).

    When every stage is block structured (Clos, Monarch, block-shuffle, butterfly, Beneš), the
    junctions form a chain and ``kernel`` is ``"auto"`` or ``"blockdiag"``, the stages run as
    one :func:`~neurofabric.kernels.block_chain.block_chain`: batched matmuls on activations
    that stay feature-major between stages, shuffles as reshapes, no index tensors — the path
    that turns the saved FLOPs into saved time. Otherwise (random stages, trainable identities
    OR-ed into the blocks, skips other than ``(s, s + 1)`` and ``(0, L)``, or another
    ``kernel``) each stage runs its own kernel.

    Args:
        topology: The cascade: layer sizes, junctions, fixed identity skips.
        bias: Whether to learn one bias after the last stage.
        activation: Between stages only: a name (``"relu"``, ``"tanh"``, …), a module or
            ``None`` (linear stages, the default).
        kernel: ``"auto"``, ``"blockdiag"`` or any name of
            :func:`~neurofabric.kernels.available_kernels`; see :meth:`set_kernel`.
        init: Weight initialiser of every stage (:data:`~neurofabric.nn.init.INITS`); the
            default ``sparse_glorot`` is the poster's, which keeps linear cascades of any
            depth at unit gain.
        device: Where to allocate.
        dtype: Parameter dtype.

    Shape:
        - Input: ``(*, in_features)``.
        - Output: ``(*, out_features)``.

    Attributes:
        junctions: ``nn.ModuleDict`` of the stages, keyed ``"<source>_<target>"``; each holds
            its ``(nnz,)`` canonical edge weights, so ``state_dict`` has no indices.
        bias: ``(out_features,)`` or ``None``.
        activation: The stage activation module, or ``None``.
        kernel: The path in use: ``"block_chain"``, or the stages' kernels, comma-separated.

    Example:
        >>> from neurofabric.topology import clos_topology
        >>> layer = SparseCascade(clos_topology(64, 64, groups=8, middle=8))
        >>> layer(torch.randn(5, 64)).shape, layer.kernel
        (torch.Size([5, 64]), 'block_chain')
    """

    def __init__(
        self,
        topology: Topology,
        bias: bool = True,
        *,
        activation: str | nn.Module | None = None,
        kernel: str = "auto",
        init: str = "sparse_glorot",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(topology, Topology):
            raise ValueError(f"topology must be a Topology, got {type(topology).__name__}")
        get_init(init)  # fail early on an unknown name
        self.topology = topology
        self.in_features = topology.in_features
        self.out_features = topology.out_features
        self.init = init
        activation = None if activation is None else make_activation(activation)
        self.activation = None if isinstance(activation, nn.Identity) else activation
        self.junctions = nn.ModuleDict(
            {
                _stage_name(key): SparseLinear(
                    junction, bias=False, kernel="reference", init=init, device=device, dtype=dtype
                )
                for key, junction in topology.junctions.items()
            }
        )
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self._stage_names = [_stage_name(key) for key in topology.junctions]
        self.kernel = ""
        self._chain = None
        self.set_kernel(kernel)
        self.reset_parameters()

    # ----------------------------------------------------------------- setup
    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Initialise every stage with :attr:`init`; the bias to match (zero for Glorot rules)."""
        for stage in self.junctions.values():
            stage.reset_parameters(generator=generator)
        if self.bias is not None:
            last = next(j for (_, t), j in self.topology.incoming(self.topology.num_layers - 1))
            init_bias_(self.bias, last, self.init, generator=generator)

    def set_kernel(self, kernel: str = "auto") -> None:
        """Choose how the stages multiply; ``state_dict`` is unchanged.

        ``"auto"`` and ``"blockdiag"`` run a block-structured chain as one block chain;
        otherwise every stage gets ``kernel`` (``"auto"`` picks per junction).

        Raises:
            ValueError: For an unknown kernel, or one that cannot run some stage.
        """
        reason = block_chain_unsupported(self.topology)
        use_chain = kernel in _CHAIN_KERNELS and reason is None
        stage_kernel = kernel if kernel in KERNELS or not use_chain else "auto"
        if stage_kernel != "auto":  # check every stage before changing any
            if kernel == "blockdiag" and stage_kernel not in KERNELS:
                raise ValueError(f"kernel 'blockdiag' cannot run this cascade: {reason}")
            chosen = get_kernel(stage_kernel)
            for key, junction in self.topology.junctions.items():
                if not chosen.supports(junction):
                    raise ValueError(
                        f"kernel {stage_kernel!r} cannot run junction {key}, {junction!r}"
                        + (
                            ""
                            if reason is None
                            else f", and the cascade is no block chain: {reason}"
                        )
                    )
        for stage in self.junctions.values():
            stage.set_kernel(stage_kernel)
        for key in [k for k in self._buffers if k.startswith(_CHAIN_PREFIX)]:
            del self._buffers[key]
        self._chain = None
        if use_chain:
            self._chain = block_chain_plan(self.topology)
            device = self._stage_weights()[0].device
            for key, tensor in block_chain_buffers(self.topology, self._chain).items():
                self.register_buffer(_CHAIN_PREFIX + key, tensor.to(device), persistent=False)
        self.requested_kernel = kernel
        names = sorted({stage.kernel for stage in self.junctions.values()})
        self.kernel = "block_chain" if use_chain else ",".join(names)

    def _stage_weights(self) -> list[torch.Tensor]:
        stages = self.junctions._modules  # not Module.__getattr__: this runs on every forward
        return [stages[name]._parameters["weight"] for name in self._stage_names]

    # ----------------------------------------------------------------- forward
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() == 0 or input.shape[-1] != self.in_features:
            got = "a scalar" if input.dim() == 0 else f"{input.shape[-1]} features"
            raise ValueError(
                f"input has {got} in its last dimension, expected in_features = {self.in_features}"
            )
        lead = input.shape[:-1]
        x = input.reshape(-1, self.in_features)
        # The block chain's hand-written autograd and layouts do not trace under torch.compile;
        # compiled code runs the stages through their own (compilable) kernels instead.
        if self._chain is not None and not torch.compiler.is_compiling():
            size = len(_CHAIN_PREFIX)
            buffers = {k[size:]: v for k, v in self._buffers.items() if k.startswith(_CHAIN_PREFIX)}
            output = block_chain(
                x,
                self._stage_weights(),
                self._chain,
                buffers,
                bias=self.bias,
                activation=self.activation,
            )
        else:
            output = self._forward_stages(x)
            if self.bias is not None:
                output = output + self.bias
        return output.reshape(*lead, self.out_features)

    def _forward_stages(self, x: torch.Tensor) -> torch.Tensor:
        """Layer by layer: sum the incoming junctions and identity skips, then activate."""
        topology = self.topology
        last = topology.num_layers - 1
        layers = {0: x}
        for target in range(1, last + 1):
            total = None
            for key, _ in topology.incoming(target):
                term = self.junctions[_stage_name(key)](layers[key[0]])
                total = term if total is None else total + term
            for source, skip_target in sorted(topology.identity_skips):
                if skip_target == target:
                    total = add_identity(total, layers[source])
            if target != last and self.activation is not None:
                total = self.activation(total)
            layers[target] = total
        return layers[last]

    # ----------------------------------------------------------------- views
    def dense_weight(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` matrix of the whole cascade, bias excluded.

        The product of the stages' dense weights, fixed identity skips included
        (differentiable). Only a linear cascade has one.

        Raises:
            ValueError: If the cascade has a stage activation.
        """
        if self.activation is not None:
            raise ValueError(
                f"a cascade with activation {self.activation} is not linear and has no dense weight"
            )
        sizes = self.topology.layer_sizes
        weight = self._stage_weights()[0]
        products = {0: torch.eye(sizes[0], dtype=weight.dtype, device=weight.device)}
        for target in range(1, len(sizes)):
            total = torch.zeros(sizes[target], sizes[0], dtype=weight.dtype, device=weight.device)
            for key, _ in self.topology.incoming(target):
                total = total + self.junctions[_stage_name(key)].dense_weight() @ products[key[0]]
            for source, skip_target in sorted(self.topology.identity_skips):
                if skip_target == target:
                    shared = min(sizes[source], sizes[target])
                    padding = (0, 0, 0, sizes[target] - shared)
                    total = total + nn.functional.pad(products[source][:shared], padding)
            products[target] = total
        return products[len(sizes) - 1]

    def extra_repr(self) -> str:
        topology = self.topology
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"layer_sizes={topology.layer_sizes}, nnz={topology.nnz}, "
            f"density={topology.nnz / (self.in_features * self.out_features):.4g}, "
            f"skip={topology.metadata.get('skip', len(topology.identity_skips))}, "
            f"activation={self.activation is not None}, bias={self.bias is not None}, "
            f"kernel={self.kernel}"
        )
