"""Pick each sparse layer's kernel by timing the candidates on this machine, at the real batch.

``kernel="auto"`` (:func:`~neurofabric.kernels.select_kernel`) is a fixed policy whose
thresholds were measured on one processor; where the machine's BLAS is relatively faster or
slower, the fastest kernel for a junction moves (``benchmarks/tune_example.py`` on a 2-core
AVX-512 Xeon, with ``gather``'s torch passes: ``dense`` took 0.72 ms against 1.49 for
``auto``'s ``gather`` at 800x100, density 0.2, batch 256; with its native passes they tie).
:func:`tune_kernels` measures instead, like ``torch.backends.cudnn.benchmark``: one forward
of an example batch records every :class:`~neurofabric.nn.SparseLinear`'s input, then each
layer runs every kernel that supports its junction, forward + backward (or forward only), and
keeps the fastest. Weights,
``state_dict`` and gradients are untouched; only ``set_kernel`` is called.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils import benchmark

from neurofabric.kernels import KERNELS, select_kernel
from neurofabric.nn.linear import SparseLinear

#: ``reference`` is the definition the others are tested against, never the fast path.
DEFAULT_CANDIDATES = ("dense", "gather", "csr", "blockdiag")


def tune_kernels(
    model: nn.Module,
    example_input: Any,
    *,
    kernels: Sequence[str] = DEFAULT_CANDIDATES,
    backward: bool = True,
    min_run_time: float = 0.05,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Set every :class:`SparseLinear` of ``model`` to its fastest kernel and report why.

    Args:
        model: Any module; its ``SparseLinear`` layers (also the stages of a cascade that does
            not run as a block chain) are tuned, in place.
        example_input: What ``model`` is called with: a tensor, or a tuple of positional
            arguments. Use a batch of the size you will run (kernels rank differently at batch
            1 and 256).
        kernels: Candidate names (each tried where it supports the junction).
        backward: Time forward + backward (training); ``False`` times the forward only
            (inference).
        min_run_time: Seconds of timing per candidate (``torch.utils.benchmark``'s
            ``blocked_autorange``; the median is compared).
        seed: Seeds the upstream gradients used for the backward.

    Returns:
        Per layer (by module name): ``kernel`` (chosen), ``auto`` (what ``kernel="auto"``
        picks), ``ms`` (median per candidate), ``linear_ms`` (``nn.Linear`` of the same shape on
        the same input, for scale) and ``batch``.

    Raises:
        ValueError: For an unknown candidate name, or no candidate at all.
    """
    unknown = [name for name in kernels if name not in KERNELS]
    if unknown or not kernels:
        raise ValueError(
            f"kernels must name registered kernels ({', '.join(sorted(KERNELS))}), got "
            f"{list(kernels)}"
        )
    inputs = _layer_inputs(model, example_input)
    generator = torch.Generator().manual_seed(seed)
    report: dict[str, dict[str, Any]] = {}
    for name, (layer, x) in inputs.items():
        candidates = [k for k in kernels if KERNELS[k].supports(layer.junction)]
        if not candidates:
            continue
        before = layer.requested_kernel
        upstream = _upstream(layer, x, generator) if backward else None
        step = functools.partial(_step, layer, x, upstream)
        times: dict[str, float] = {}
        try:
            for kernel in candidates:
                layer.set_kernel(kernel)
                times[kernel] = _median_ms(step, min_run_time)
        except BaseException:
            layer.set_kernel(before)
            raise
        best = min(times, key=times.__getitem__)
        layer.set_kernel(best)
        report[name] = {
            "kernel": best,
            "auto": select_kernel(layer.junction, batch=x.shape[0]),
            "ms": times,
            "linear_ms": _linear_ms(layer, x, upstream, min_run_time),
            "batch": int(x.shape[0]),
        }
    return report


def _layer_inputs(model: nn.Module, example_input: Any) -> dict[str, tuple[SparseLinear, Any]]:
    """Each SparseLinear's first input during one forward, flattened to ``(b, in_features)``."""
    seen: dict[str, tuple[SparseLinear, torch.Tensor]] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, SparseLinear):

            def record(module, args, name=name):
                if name not in seen:
                    x = args[0].detach().reshape(-1, module.in_features)
                    seen[name] = (module, x.requires_grad_(args[0].requires_grad))

            handles.append(module.register_forward_pre_hook(record))
    arguments = example_input if isinstance(example_input, tuple) else (example_input,)
    try:
        with torch.enable_grad():
            model(*arguments)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _upstream(layer: nn.Module, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    shape = (x.shape[0], layer.out_features)
    return torch.randn(shape, generator=generator, dtype=x.dtype).to(x.device)


def _step(layer: nn.Module, x: torch.Tensor, upstream: torch.Tensor | None) -> None:
    if upstream is None:
        with torch.no_grad():
            layer(x)
        return
    with torch.enable_grad():
        wrt = [t for t in (x, *layer.parameters()) if t.requires_grad]
        y = layer(x)
        if wrt:  # grad, not backward: the parameters' .grad stay as they were
            torch.autograd.grad(y, wrt, upstream)


def _linear_ms(
    layer: SparseLinear, x: torch.Tensor, upstream: torch.Tensor | None, min_run_time: float
) -> float:
    linear = nn.Linear(
        layer.in_features,
        layer.out_features,
        bias=layer.bias is not None,
        device=x.device,
        dtype=layer.weight.dtype,
    )
    return _median_ms(functools.partial(_step, linear, x, upstream), min_run_time)


def _median_ms(statement, min_run_time: float) -> float:
    statement()  # warm up: first-call work (derived indices, allocator) is not the kernel's
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    timer = benchmark.Timer(
        stmt="statement()",
        globals={"statement": statement},
        num_threads=torch.get_num_threads(),
    )
    return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3
