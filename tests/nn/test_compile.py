"""torch.compile on the gather and blockdiag paths and on a cascade (slow: compiles on CPU)."""

import pytest
import torch

from neurofabric.nn import SparseCascade, SparseLinear
from neurofabric.topology import BlockStructure, Junction, clos_topology, regular_junction

MODULES = {
    "gather": lambda: SparseLinear(regular_junction(64, 64, fan_in=32, seed=0), kernel="gather"),
    "blockdiag": lambda: SparseLinear(
        Junction.from_blocks(BlockStructure(4, 16, 16)), kernel="blockdiag"
    ),
    "clos-identity": lambda: SparseCascade(
        clos_topology(64, 64, groups=4, middle=16, skip="identity")
    ),
}


# Measured on a GPU machine whose image has torch 2.11: compiled gradients of the two block
# paths differ from eager there (grad_x and grad_w, also with the inputs cloned or without
# once_differentiable); torch 2.13, which `make` installs, compiles them exactly.
_OLD_TORCH = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) < (2, 13)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                _OLD_TORCH and name != "gather",
                reason="torch < 2.13 miscompiles the block backward",
                strict=False,
            ),
        )
        for name in MODULES
    ],
)
def test_compiled_module_matches_eager(name):
    torch.manual_seed(0)
    module = MODULES[name]()
    compiled = torch.compile(module)
    x = torch.randn(8, 64, requires_grad=True)
    y = compiled(x)
    y.sum().backward()
    compiled_grads = [x.grad.clone()] + [p.grad.clone() for p in module.parameters()]
    x.grad = None
    module.zero_grad()
    eager = module(x)
    eager.sum().backward()
    eager_grads = [x.grad] + [p.grad for p in module.parameters()]
    torch.testing.assert_close(y, eager)
    for got, want in zip(compiled_grads, eager_grads, strict=True):
        torch.testing.assert_close(got, want)
