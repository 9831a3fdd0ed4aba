"""PyTorch modules for pre-defined sparse networks."""

from neurofabric.nn.cascade import SparseCascade
from neurofabric.nn.init import INITS, get_init
from neurofabric.nn.linear import SparseLinear

__all__ = ["INITS", "SparseCascade", "SparseLinear", "get_init"]
