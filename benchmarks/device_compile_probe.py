"""Which gradient does torch.compile get wrong on the blockdiag path, and does saving a
contiguous copy (instead of a view of the input) or dropping once_differentiable fix it?"""

import torch

from neurofabric.kernels import blockdiag
from neurofabric.nn import SparseLinear
from neurofabric.topology import BlockStructure, Junction


def check(label):
    torch.manual_seed(0)
    module = SparseLinear(Junction.from_blocks(BlockStructure(4, 16, 16)), kernel="blockdiag")
    torch._dynamo.reset()
    compiled = torch.compile(module)
    x = torch.randn(8, 64, requires_grad=True)
    compiled(x).sum().backward()
    got = [x.grad.clone(), module.weight.grad.clone()]
    x.grad = None
    module.zero_grad()
    module(x).sum().backward()
    want = [x.grad, module.weight.grad]
    errors = [float((g - w).abs().max()) for g, w in zip(got, want, strict=True)]
    print(label, "max |compiled - eager| for grad_x, grad_w:", errors)


check("as is")
original = blockdiag._BlockFunction.backward
blockdiag._BlockFunction.backward = staticmethod(original.__wrapped__)
check("without once_differentiable")
blockdiag._BlockFunction.backward = original
forward = blockdiag._BlockFunction.forward


def forward_copy(ctx, x, weight, order, shape, input_grid, output_grid):
    return forward(ctx, x.clone(), weight, order, shape, input_grid, output_grid)


blockdiag._BlockFunction.forward = staticmethod(forward_copy)
check("input cloned before saving")
