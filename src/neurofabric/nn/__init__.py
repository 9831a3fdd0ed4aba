"""PyTorch modules for pre-defined sparse networks."""

from neurofabric.nn.cascade import SparseCascade
from neurofabric.nn.init import INITS, get_init
from neurofabric.nn.linear import SparseLinear
from neurofabric.nn.mlp import SparseMLP, build_mlp
from neurofabric.nn.sparsify import densify, sparsify
from neurofabric.nn.tune import tune_kernels

__all__ = [
    "INITS",
    "SparseCascade",
    "SparseLinear",
    "SparseMLP",
    "build_mlp",
    "densify",
    "get_init",
    "sparsify",
    "tune_kernels",
]
