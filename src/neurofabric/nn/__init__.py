"""PyTorch modules for pre-defined sparse networks."""

from neurofabric.nn.init import INITS, get_init
from neurofabric.nn.linear import SparseLinear

__all__ = ["INITS", "SparseLinear", "get_init"]
