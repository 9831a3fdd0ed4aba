"""Connection patterns as immutable numpy data (never imports torch)."""

from neurofabric.topology.junction import Junction
from neurofabric.topology.topology import Topology

__all__ = ["Junction", "Topology"]
