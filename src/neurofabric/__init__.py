"""neurofabric: neural networks with pre-defined sparse connectivity."""

__version__ = "0.1.0"
