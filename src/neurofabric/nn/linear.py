"""SparseLinear: ``torch.nn.Linear`` with a pre-defined sparse pattern, one weight per edge."""

from __future__ import annotations

import torch
from torch import nn

from neurofabric.kernels import get_kernel, select_kernel
from neurofabric.kernels.reference import dense_weight
from neurofabric.nn.init import get_init, init_bias_
from neurofabric.topology.junction import Junction

_PLAN_PREFIX = "_plan_"


class SparseLinear(nn.Module):
    """Apply ``y = x · (W ⊙ M)ᵀ + b`` where the mask ``M`` is a fixed :class:`Junction`.

    Only the junction's edges are stored and multiplied: ``weight`` has one entry per edge, in
    the junction's canonical order (by output neuron, then input neuron), whatever kernel runs
    it, so checkpoints do not depend on the kernel.

    Args:
        junction: The connection pattern (``in_features → out_features``).
        bias: Whether to learn an additive bias.
        kernel: ``"auto"`` (chosen by :func:`~neurofabric.kernels.select_kernel`) or a name
            from :func:`~neurofabric.kernels.available_kernels`.
        init: Weight initialiser from :data:`~neurofabric.nn.init.INITS`; the default,
            ``linear``, is ``nn.Linear``'s rule with each neuron's real fan-in.
        device: Where to allocate parameters and index buffers.
        dtype: Parameter dtype.

    Shape:
        - Input: ``(*, in_features)``.
        - Output: ``(*, out_features)``.

    Attributes:
        weight: ``(nnz,)`` the values of the junction's edges in canonical order.
        bias: ``(out_features,)``, or ``None``.
        junction: The pattern (immutable numpy data; not a parameter).

    Example:
        >>> from neurofabric.topology import regular_junction
        >>> layer = SparseLinear(regular_junction(64, 32, fan_out=4, seed=0))
        >>> layer(torch.randn(5, 64)).shape, layer.weight.shape
        (torch.Size([5, 32]), torch.Size([256]))
    """

    def __init__(
        self,
        junction: Junction,
        bias: bool = True,
        *,
        kernel: str = "auto",
        init: str = "linear",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(junction, Junction):
            raise ValueError(f"junction must be a Junction, got {type(junction).__name__}")
        get_init(init)  # fail early on an unknown name
        factory = {"device": device, "dtype": dtype}
        self.junction = junction
        self.in_features = junction.in_features
        self.out_features = junction.out_features
        self.init = init
        self.weight = nn.Parameter(torch.empty(junction.nnz, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(junction.out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.kernel = ""
        self.set_kernel(kernel)
        self.reset_parameters()

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Initialise ``weight`` with :attr:`init` and ``bias`` to match."""
        get_init(self.init)(self.weight, self.junction, generator=generator)
        if self.bias is not None:
            init_bias_(self.bias, self.junction, self.init, generator=generator)

    def set_kernel(self, kernel: str = "auto") -> None:
        """Switch the multiplication kernel; ``state_dict`` is unchanged.

        Raises:
            ValueError: For an unknown kernel or one that cannot run this junction.
        """
        name = select_kernel(self.junction, batch=None) if kernel == "auto" else kernel
        chosen = get_kernel(name)
        if not chosen.supports(self.junction):
            raise ValueError(f"kernel {name!r} cannot run {self.junction!r}")
        for key in [k for k in self._buffers if k.startswith(_PLAN_PREFIX)]:
            del self._buffers[key]
        device = self.weight.device
        for key, tensor in chosen.prepare(self.junction).items():
            self.register_buffer(_PLAN_PREFIX + key, tensor.to(device), persistent=False)
        self.kernel = name
        self.requested_kernel = kernel
        self._kernel = chosen
        self._refresh_plan()

    @property
    def plan(self) -> dict[str, torch.Tensor]:
        """The kernel's index tensors, by name."""
        return self._plan

    def _refresh_plan(self) -> None:
        """Gather the plan buffers into :attr:`plan` (rebuilt each call it cost a small layer's
        forward a microsecond) and bind them for the kernel's native product, if it has one;
        after :meth:`set_kernel` and whatever replaces buffers."""
        size = len(_PLAN_PREFIX)
        self._plan = {k[size:]: v for k, v in self._buffers.items() if k.startswith(_PLAN_PREFIX)}
        bind = getattr(self._kernel, "bind", None)
        self._bound = None if bind is None else bind(self._plan, self.junction)

    def _apply(self, fn, recurse=True):  # .to(), .cuda(), .double(): new buffer tensors
        module = super()._apply(fn, recurse)
        self._refresh_plan()
        return module

    def __getstate__(self):  # copy.deepcopy, pickling: the bound plan holds raw addresses
        state = self.__dict__.copy()
        state.pop("_bound", None)
        state.pop("_plan", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._refresh_plan()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.shape[-1] != self.in_features:
            raise ValueError(
                f"input has {input.shape[-1]} features in its last dimension, expected "
                f"in_features = {self.in_features}"
            )
        matrix = input.dim() == 2
        flat = input if matrix else input.reshape(-1, self.in_features)
        # the parameters straight from their dict: nn.Module's __getattr__ costs a small
        # layer's forward over a microsecond apiece; a parametrization moves them elsewhere
        parameters = self._parameters
        weight = parameters.get("weight")
        if weight is None:
            weight = self.weight
        bias = parameters["bias"] if "bias" in parameters else self.bias
        bound = self._bound  # the native product; it returns None where operands do not suit
        output = None if bound is None else bound(flat, weight, bias)
        if output is None:
            output = self._multiply(flat, weight, bias)
        return output if matrix else output.reshape(*input.shape[:-1], self.out_features)

    def _multiply(
        self, flat: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        if bias is not None and getattr(self._kernel, "fuses_bias", False):
            return self._kernel(flat, weight, self._plan, self.junction, bias=bias)
        output = self._kernel(flat, weight, self._plan, self.junction)
        return output if bias is None else output + bias

    def dense_weight(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` dense matrix, zeros off the pattern."""
        flat = self.junction.dst.astype("int64") * self.in_features + self.junction.src
        index = torch.from_numpy(flat).to(self.weight.device)
        return dense_weight(self.weight, {"flat_index": index}, self.junction)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"nnz={self.junction.nnz}, density={self.junction.density:.4g}, "
            f"bias={self.bias is not None}, kernel={self.kernel}"
        )
