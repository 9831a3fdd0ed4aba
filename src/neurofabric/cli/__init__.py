"""The ``neurofabric`` command: parses arguments and calls library functions, nothing more."""

from neurofabric.cli.main import main

__all__ = ["main"]
