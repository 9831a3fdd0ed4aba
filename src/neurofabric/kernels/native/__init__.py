"""Native CPU passes: C compiled on first use, called through ctypes.

The C sources beside this file (``gather.c``: the ``gather`` and ``csr`` kernels' passes;
``edges.c``: their transposed edge order, derived per backward; ``linear.c``: a layer's
forward or backward as one call that chains those passes; ``blocks.c``: block-diagonal
stages on one sample; ``threads.c``; ``nf.h``) have no
dependency but a C compiler and pthreads. They are compiled into one library the first time
a pass is needed — never at import —
with ``$CC`` (else ``cc``, ``gcc`` or ``clang``) and ``-O3 -march=native``, into a cache
directory (``$NEUROFABRIC_CACHE``, else ``~/.cache/neurofabric``) under a name that hashes the
sources, the flags, the compiler's version and the CPU, so a later process loads it in
milliseconds. The library file is written atomically (compiled to a temporary name, then
renamed), so concurrent first runs do not see half a file; a directory that another user owns
or can write to is refused (the per-user temporary fallback is created 0700), since a library
loaded from it runs with our rights.

The passes run on torch's own OpenMP threads: the loader finds the OpenMP runtime torch
loaded (libgomp, or Intel's or LLVM's, which export the same ``GOMP_parallel``) among the
process's mapped files and hands its entry points to the library; without one, or with
``NEUROFABRIC_NATIVE_OPENMP=0``, each pass starts pthreads.

The C is written for vectors of one register's width (``nf.h``: 16 floats with AVX-512, 8
with AVX/AVX2, 4 with SSE2 or NEON); :func:`status` names the width of the build.

Without a compiler, or with ``NEUROFABRIC_NATIVE=0``, :func:`library` returns ``None`` and the
kernels run their pure-torch passes instead (same results; :func:`status` says why).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

#: Bumped with every change of the C functions' signatures (``nf_abi_version`` in the source).
ABI_VERSION = 13

SOURCES = tuple(
    Path(__file__).with_name(name)
    for name in ("threads.c", "gather.c", "edges.c", "linear.c", "blocks.c")
)
HEADER = Path(__file__).with_name("nf.h")
FLAGS = ("-O3", "-march=native", "-std=gnu11", "-shared", "-fPIC", "-pthread")
_FALLBACK_FLAGS = ("-O3", "-std=gnu11", "-shared", "-fPIC", "-pthread")  # no -march=native

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_status: str | None = None  # None: not tried yet


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _cpu_signature() -> str:
    """The CPU model and feature flags (what ``-march=native`` compiles for)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() + platform.machine()
    keep = [line for line in text.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(sorted(set(keep))) or platform.machine()


def cache_dir() -> Path:
    """Where compiled libraries are kept: ``$NEUROFABRIC_CACHE`` or ``~/.cache/neurofabric``."""
    root = os.environ.get("NEUROFABRIC_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "neurofabric"


def _cache_dirs() -> list[Path]:
    """:func:`cache_dir`, then a per-user temporary directory if that one is not writable."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    fallback = Path(tempfile.gettempdir()) / f"neurofabric-{user}"
    try:
        return [cache_dir(), fallback]
    except (RuntimeError, KeyError):  # no home directory to be found
        return [fallback]


def _private_directory(directory: Path) -> None:
    """Create ``directory`` (mode 0700) if needed; refuse one that another user owns or can
    write to, since a library loaded from it runs with our rights."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        raise OSError(f"{directory} is not private to this user (owner or group/other write)")


def _build(compiler: str, flags: tuple[str, ...], target: Path) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".so.tmp")
    os.close(handle)
    try:
        subprocess.run(
            [compiler, *flags, *map(str, SOURCES), "-o", temporary],
            check=True,
            capture_output=True,
            timeout=120,
        )
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    if lib.nf_abi_version() != ABI_VERSION:
        raise OSError(f"{path} has ABI {lib.nf_abi_version()}, expected {ABI_VERSION}")
    i64, u64, ptr = ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p
    lib.nf_bag_sum.argtypes = [i64, i64, ptr, ptr, u64, ptr, ptr, i64, i64, ptr, i64, ptr, i64]
    lib.nf_edge_gradient.argtypes = [i64, i64, ptr, ptr, ptr, i64, ptr, i64, i64, ptr]
    lib.nf_take.argtypes = [i64, i64, ptr, ptr, ptr]
    lib.nf_use_openmp.argtypes = [ptr, ptr, ptr]
    lib.nf_transpose.argtypes = [i64, ptr, i64, i64, i64, ptr, i64]
    functions = (lib.nf_bag_sum, lib.nf_edge_gradient, lib.nf_take, lib.nf_transpose)
    for function in (*functions, lib.nf_use_openmp):
        function.restype = None
    lib.nf_block_product.argtypes = [i64] * 4 + [ptr, ptr, i64, i64, ptr, ptr, i64, i64]
    lib.nf_block_product.restype = ctypes.c_int
    lib.nf_block_chain.argtypes = [i64, i64, i64, ptr, ptr, ptr, ptr, ptr]
    lib.nf_block_chain.restype = ctypes.c_int
    lib.nf_transpose_edges.argtypes = [i64, i64, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr]
    lib.nf_transpose_edges.restype = None
    lib.nf_row_dots.argtypes = [i64, i64, ptr, ptr, ptr, ptr, ptr, ptr]
    lib.nf_row_dots.restype = None
    lib.nf_row_dots_backward.argtypes = [i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr]
    lib.nf_row_dots_backward.restype = None
    # one array of int64 words each (product.py): no per-argument conversion to set up
    lib.nf_linear_forward.restype = None
    lib.nf_linear_backward.restype = ctypes.c_int
    lib.nf_linear_backward_scratch.argtypes = [i64] * 8
    lib.nf_linear_backward_scratch.restype = i64
    lib.nf_lanes.restype = ctypes.c_int
    return lib


def _torch_openmp() -> tuple[int, int, int, str] | None:
    """Entry points of the OpenMP runtime already loaded with torch (``GOMP_parallel``,
    ``omp_get_thread_num``, ``omp_get_num_threads``) and its file name, or ``None``."""
    import torch  # the runtime is mapped once torch's CPU library is loaded

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = {line.split()[-1] for line in maps.splitlines() if "/" in line}
    names = ("libgomp", "libiomp5", "libomp")
    candidates = [p for p in paths if Path(p).name.startswith(names) and ".so" in p]
    torch_dir = str(Path(torch.__file__).parent)
    # torch's own copy first: another library may have mapped a second runtime of its own
    for path in sorted(candidates, key=lambda p: (not p.startswith(torch_dir), p)):
        try:
            runtime = ctypes.CDLL(path)  # already mapped: the same handle, nothing new loads
            entries = [
                runtime[name]
                for name in ("GOMP_parallel", "omp_get_thread_num", "omp_get_num_threads")
            ]
        except (OSError, AttributeError):
            continue
        return (*(ctypes.cast(entry, ctypes.c_void_p).value for entry in entries), Path(path).name)
    return None


def _compile_and_load() -> tuple[ctypes.CDLL | None, str]:
    if os.environ.get("NEUROFABRIC_NATIVE", "1") == "0":
        return None, "disabled by NEUROFABRIC_NATIVE=0"
    compiler = _compiler()
    if compiler is None:
        return None, "no C compiler found (set CC, or install cc/gcc/clang)"
    try:
        version = subprocess.run(
            [compiler, "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"{compiler} --version failed: {error}"
    errors = []
    for flags in (FLAGS, _FALLBACK_FLAGS):
        sources = [path.read_text() for path in (HEADER, *SOURCES)]
        key = "\n".join([*sources, " ".join(flags), version, _cpu_signature()])
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        for directory in _cache_dirs():
            target = directory / f"native-{digest}.so"
            try:
                _private_directory(directory)
                if not target.exists():
                    _build(compiler, flags, target)
                lib = _load(target)
            except (OSError, subprocess.SubprocessError) as error:
                stderr = (getattr(error, "stderr", b"") or b"").decode(errors="replace")
                errors.append(f"{' '.join(flags[:2])} in {directory}: {error} {stderr[:300]}")
                continue
            built = f"{Path(compiler).name} {' '.join(flags[:2])}"
            threads = "pthreads"
            openmp = None if os.environ.get("NEUROFABRIC_NATIVE_OPENMP") == "0" else _torch_openmp()
            if openmp is not None:
                lib.nf_use_openmp(*openmp[:3])
                threads = f"torch's OpenMP team ({openmp[3]})"
            lanes = lib.nf_lanes()
            return lib, f"compiled with {built} ({lanes}-float vectors); threads: {threads}"
    return None, "compiling the native passes failed: " + " | ".join(e.strip() for e in errors)


def library() -> ctypes.CDLL | None:
    """The loaded native library, compiling it on the first call; ``None`` if unavailable."""
    global _library, _status
    if _status is None:
        with _lock:
            if _status is None:
                try:
                    _library, _status = _compile_and_load()
                except Exception as error:  # any failure here means: run the torch passes
                    _library, _status = None, f"native passes unavailable: {error!r}"
    return _library


def status() -> str:
    """Why the native passes are (or are not) available, e.g. for a benchmark's report."""
    library()
    assert _status is not None
    return _status


def reset() -> None:
    """Forget the loaded library so the next :func:`library` call looks again (for tests)."""
    global _library, _status
    with _lock:
        _library, _status = None, None
