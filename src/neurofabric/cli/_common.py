"""What every subcommand shares: a one-line-error parser, list parsing and JSON output."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable
from typing import NoReturn


class UsageError(Exception):
    """A mistake in what the user asked for; reported as one ``error:`` line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``error: …`` line (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def int_list(text: str) -> list[int]:
    """Parse ``800,100,10`` into integers."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def float_list(text: str) -> list[float]:
    """Parse ``0.5,1`` into floats."""
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def emit_json(payload: object) -> None:
    """Print ``payload`` as indented JSON on standard output."""
    json.dump(payload, sys.stdout, indent=2, sort_keys=False, default=_default)
    sys.stdout.write("\n")


def _default(value: object) -> object:
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def run_guarded(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand, turning user mistakes into one ``error:`` line and exit status 2."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = handler(args)
        except (UsageError, ValueError, OSError) as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            print(f"error: {message}", file=sys.stderr)
            return 2
    # Library warnings (e.g. fractional scatter ideals) become one line each, never a traceback.
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"warning: {message}", file=sys.stderr)
    return status
