"""Two builds of the native library timed against each other in one process.

Build A compiles the C sources of a git revision (``--against``, default ``HEAD``; ``tree``:
the working tree's); build B those of the working tree. Either gets extra compiler
definitions (``--define-a``, ``--define-b``: ``CHUNK_VECTORS=4``, ``PREFETCH=8``, …), so with
``--against tree`` one source is timed against itself with another constant. For N × N at
density 1/16 and the batch given, prints the medians (repeats interleaved A, B, A, B, …, so a
drift of the machine's speed hits both alike) of the three passes of a ``gather`` training
step — forward bag sum, transposed bag sum (∂L/∂x), edge gradient (∂L/∂w) — and of a whole
step of a ``SparseLinear`` (forward and backward through one native call per direction),
with B's time over A's:

    .venv/bin/python benchmarks/native_builds.py [--against HEAD] [--define-a CHUNK_VECTORS=4]
        [--define-b …] [--features 4096] [--batch 256] [--repeats 20]

Both builds must have the loader's ABI (``ABI_VERSION``): a revision whose C functions take
other arguments cannot be loaded by this tree's Python and is refused.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch
from native_passes import step_operands, step_passes

from neurofabric.bench import machine_name
from neurofabric.kernels import native
from neurofabric.nn import SparseLinear


def _sources_at(revision: str, directory: Path) -> None:
    """Write the native sources of ``revision`` into ``directory`` (``git show``)."""
    root = Path(native.__file__).resolve().parents[4]
    for path in (native.HEADER, *native.SOURCES):
        relative = path.resolve().relative_to(root).as_posix()
        shown = subprocess.run(
            ["git", "-C", str(root), "show", f"{revision}:{relative}"],
            capture_output=True,
            text=True,
        )
        if shown.returncode:
            raise SystemExit(f"error: {revision}:{relative}: {shown.stderr.strip()}")
        (directory / path.name).write_text(shown.stdout)


def _load(directory: Path | None, defines: list[str]):
    """Compile and load the sources in ``directory`` (None: this tree) with ``-D`` defines;
    no fallback build, which would drop them."""
    saved = native.SOURCES, native.HEADER, native.FLAGS, native._FALLBACK_FLAGS
    try:
        if directory is not None:
            native.SOURCES = tuple(directory / path.name for path in native.SOURCES)
            native.HEADER = directory / native.HEADER.name
        native.FLAGS = native._FALLBACK_FLAGS = (*native.FLAGS, *(f"-D{d}" for d in defines))
        native.reset()
        lib = native.library()
        if lib is None:
            raise SystemExit(f"error: {native.status()}")
        return lib
    finally:
        native.SOURCES, native.HEADER, native.FLAGS, native._FALLBACK_FLAGS = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git revision of build A, or tree")
    parser.add_argument("--define-a", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--define-b", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--features", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as temporary:
        if args.against != "tree":
            _sources_at(args.against, Path(temporary))
        libraries = {
            "A": _load(Path(temporary) if args.against != "tree" else None, args.define_a),
            "B": _load(None, args.define_b),
        }
    n, b = args.features, args.batch
    print(f"machine: {machine_name('cpu')}; {n}x{n}, density 1/16, batch {b}")
    print(f"A: {args.against} {' '.join(args.define_a)}; B: working tree {' '.join(args.define_b)}")

    operands = step_operands(n, b)
    upstream = torch.randn(b, n, generator=operands.generator)
    layers = {}
    for name, lib in libraries.items():  # a layer binds the library it was built with
        native._library = lib
        layers[name] = SparseLinear(operands.junction, kernel="gather")
    inputs = operands.x.clone().requires_grad_()

    def step(layer):
        layer(inputs).backward(upstream)

    cases = step_passes(operands)
    times = {(case, name): [] for case in [*cases, "SparseLinear step"] for name in libraries}
    for _ in range(args.repeats):
        for case, statement in cases.items():
            for name, lib in libraries.items():
                native._library = lib
                start = time.perf_counter()
                statement()
                times[case, name].append(time.perf_counter() - start)
        for name, layer in layers.items():
            start = time.perf_counter()
            step(layer)
            times["SparseLinear step", name].append(time.perf_counter() - start)
    native.reset()
    print(f"{'':28s} {'A ms':>8s} {'B ms':>8s}  B/A")
    for case in [*cases, "SparseLinear step"]:
        a, b_ = (statistics.median(times[case, name]) * 1e3 for name in libraries)
        print(f"{case:28s} {a:8.2f} {b_:8.2f}  {b_ / a:.3f}")


if __name__ == "__main__":
    main()
