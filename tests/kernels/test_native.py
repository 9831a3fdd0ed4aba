"""The native ``gather`` passes against their torch twins, the layer with and without them,
and the loader's fallbacks (no compiler, disabled, failed compile)."""

from __future__ import annotations

import platform

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import neurofabric.kernels.native as native
from neurofabric.kernels._sparse import sort_order, transpose_offsets
from neurofabric.kernels.native import passes
from neurofabric.kernels.native import product as product_module
from neurofabric.kernels.native.product import NativePattern
from neurofabric.nn import SparseLinear
from neurofabric.topology import random_junction, regular_junction

needs_native = pytest.mark.skipif(
    native.library() is None, reason=f"native gather passes unavailable: {native.status()}"
)

# (out, in, fan_in, batch): batches below, at and across the 64-column chunk, odd and
# power-of-two fan-ins, fan-in 1, one output
PASS_CASES = {
    "64x32-k4-b2": (64, 32, 4, 2),
    "48x40-k5-b63": (48, 40, 5, 63),
    "40x48-k6-b64": (40, 48, 6, 64),
    "33x20-k3-b65": (33, 20, 3, 65),
    "16x128-k16-b200": (16, 128, 16, 200),
    "24x24-k1-b130": (24, 24, 1, 130),
    "1x10-k10-b17": (1, 10, 10, 17),
    # with AVX2's eight-vector chunks: a last chunk of four, five (partly padded) and seven
    "12x9-k3-b32": (12, 9, 3, 32),
    "20x30-k6-b100": (20, 30, 6, 100),
    "32x16-k8-b56": (32, 16, 8, 56),
}


def _table(case, seed=0):
    o, i, k, b = case
    junction = regular_junction(i, o, fan_in=k, seed=seed) if i * k % o == 0 else None
    if junction is None:  # fan-in only (fan-outs unequal): a random table with sorted rows
        rng = np.random.default_rng(seed)
        table = np.sort(np.stack([rng.choice(i, k, replace=False) for _ in range(o)]), axis=1)
    else:
        table = junction.fan_in_table()
    return torch.from_numpy(np.ascontiguousarray(table, dtype=np.int32)), b


def _rows(table: torch.Tensor) -> torch.Tensor:
    """Row pointers of a constant fan-in table: ``[0, k, 2k, …]``."""
    o, k = table.shape
    return torch.arange(o + 1, dtype=torch.int32) * k


@needs_native
@pytest.mark.parametrize("case", PASS_CASES.values(), ids=PASS_CASES.keys())
def test_passes_equal_their_torch_twins(case):
    table, b = _table(case)
    (o, k), i = table.shape, case[1]
    generator = torch.Generator().manual_seed(1)
    weight = torch.randn(o * k, generator=generator)
    x = torch.randn(b, i, generator=generator)
    g = torch.randn(b, o, generator=generator)
    x_rows, g_rows = passes.feature_major(x), passes.feature_major(g)
    assert torch.equal(x_rows, x.t()) and torch.equal(g_rows, g.t())

    forward = passes.bag_sum(x_rows, table, weight, o, offsets=_rows(table))
    twin = F.embedding_bag(table.long(), x.t(), mode="sum", per_sample_weights=weight.view(o, k))
    torch.testing.assert_close(forward, twin, rtol=1e-5, atol=1e-5)
    bias = torch.randn(o, generator=generator)
    with_bias = passes.bag_sum(x_rows, table, weight, o, offsets=_rows(table), bias=bias)
    torch.testing.assert_close(with_bias, twin + bias[:, None], rtol=1e-5, atol=1e-5)
    padding = with_bias.as_strided(
        (o, with_bias.stride(0) - b), (with_bias.stride(0), 1), b
    )  # never written: other passes read the padding as zeros
    assert torch.count_nonzero(padding) == 0
    batch_major = passes.bag_sum(
        x_rows, table, weight, o, offsets=_rows(table), bias=bias, batch_major=True
    )
    assert batch_major.shape == (b, o) and batch_major.is_contiguous()
    torch.testing.assert_close(batch_major, twin.t() + bias, rtol=1e-5, atol=1e-5)

    order = sort_order(table.view(-1).long()).to(torch.int32)
    counts = torch.bincount(table.view(-1).long(), minlength=i)
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)]).to(torch.int32)
    transposed = passes.take(weight, order)
    assert torch.equal(transposed, weight[order.long()])
    grad_x = passes.bag_sum(g_rows, order, transposed, i, offsets=offsets, divisor=k)
    torch.testing.assert_close(grad_x, (g @ _dense(table, weight, i)).t(), rtol=1e-5, atol=1e-5)
    grad_x = passes.bag_sum(
        g_rows, order, transposed, i, offsets=offsets, divisor=k, batch_major=True
    )
    torch.testing.assert_close(grad_x, g @ _dense(table, weight, i), rtol=1e-5, atol=1e-5)

    grad_weight = passes.edge_gradient(g_rows, x_rows, table, offsets=_rows(table))
    rows = torch.arange(o).repeat_interleave(k)
    twin = (g.t()[rows] * x.t()[table.view(-1).long()]).sum(1)
    torch.testing.assert_close(grad_weight, twin, rtol=1e-5, atol=1e-5)


def _dense(table: torch.Tensor, weight: torch.Tensor, in_features: int) -> torch.Tensor:
    o, k = table.shape
    matrix = torch.zeros(o, in_features)
    matrix[torch.arange(o).repeat_interleave(k), table.view(-1).long()] = weight
    return matrix


@needs_native
@pytest.mark.parametrize("shape", [(16, 16), (64, 48), (33, 80), (5, 7), (256, 40), (17, 15)])
def test_native_transpose_into_padded_rows(shape):
    x = torch.randn(*shape)
    b, n = shape
    stride = passes.row_stride(b)
    torch.full((n, stride), float("nan"))  # freed at once: likely the memory the copy gets
    rows = passes.feature_major(x)  # batch-major float32: the native transpose
    assert torch.equal(rows, x.t()) and rows.stride(0) == stride
    padding = rows.as_strided((n, stride - b), (stride, 1), rows.storage_offset() + b)
    assert torch.count_nonzero(padding) == 0  # the transpose zeroes it: passes read it whole


@needs_native
@pytest.mark.parametrize(
    "make",
    [
        lambda b: torch.randn(b, 40),
        lambda b: torch.randn(40, b).t(),
        lambda b: torch.randn(b, 52)[:, 5:45],
        lambda b: passes.new_rows(40, b).normal_().t(),
    ],
    ids=["batch-major", "feature-major", "strided", "padded-view"],
)
@pytest.mark.parametrize("b", [2, 64, 70])
def test_feature_major_layout(make, b):
    x = make(b)
    rows = passes.feature_major(x)
    assert torch.equal(rows, x.t())
    assert rows.stride(1) == 1 and rows.stride(0) % 16 == 0 and (rows.stride(0) // 16) % 2 == 1
    if x.t().stride(0) == passes.row_stride(b) and x.t().stride(1) == 1 and b % 16 == 0:
        assert rows.data_ptr() == x.data_ptr()  # already suitable: no copy
    if rows.data_ptr() != x.data_ptr():  # a fresh copy: zeros after column b (read as vectors)
        padding = rows.as_strided((rows.shape[0], rows.stride(0) - b), (rows.stride(0), 1), b)
        assert torch.count_nonzero(padding) == 0


@pytest.mark.parametrize(("b", "stride"), [(1, 16), (16, 16), (17, 48), (64, 80), (256, 272)])
def test_row_stride_is_an_odd_number_of_lines(b, stride):
    assert passes.row_stride(b) == stride


LAYER_CASES = {
    "gather-regular": ("gather", lambda: regular_junction(96, 48, fan_in=12, seed=4)),
    "csr-regular": ("csr", lambda: regular_junction(96, 48, fan_in=12, seed=4)),
    "csr-random": ("csr", lambda: random_junction(96, 48, nnz=300, seed=2)),
    "csr-random-empty-rows": ("csr", lambda: random_junction(96, 48, nnz=40, seed=2)),
}


def _count_native_calls(monkeypatch) -> list[str]:
    """Record each direction of the native product the layers run."""
    calls: list[str] = []
    for name in ("forward", "backward"):
        original = getattr(NativePattern, name)
        monkeypatch.setattr(
            NativePattern, name, lambda *a, f=original, n=name: calls.append(n) or f(*a)
        )
    return calls


@needs_native
@pytest.mark.parametrize("case", LAYER_CASES.values(), ids=LAYER_CASES.keys())
@pytest.mark.parametrize("batch", [1, 2, 64, 97])
@pytest.mark.parametrize("input_grad", [True, False])
def test_layer_native_equals_torch_path_and_reference(case, batch, input_grad, monkeypatch):
    kernel_name, make = case
    junction = make()
    layer = SparseLinear(junction, kernel=kernel_name)
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(batch, 96, generator=generator, requires_grad=input_grad)
    upstream = torch.randn(batch, 48, generator=generator)
    calls = _count_native_calls(monkeypatch)

    def run(kernel: str, use_native: bool):
        monkeypatch.setattr(
            product_module, "usable", lambda *t: use_native and native.library() is not None
        )
        layer.set_kernel(kernel)  # binds the plan for the native product, or not
        calls.clear()
        layer.zero_grad(set_to_none=True)
        x.grad = None
        y = layer(x)
        y.backward(upstream)
        assert calls == (["forward", "backward"] if use_native else [])
        return y.detach(), layer.weight.grad, layer.bias.grad, x.grad

    fast, torch_path = run(kernel_name, True), run(kernel_name, False)
    reference = run("reference", False)
    for a, b, c in zip(fast, torch_path, reference, strict=True):
        if c is None:
            assert a is None and b is None
            continue
        torch.testing.assert_close(a, c, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(b, c, rtol=1e-5, atol=1e-5)


@needs_native
@pytest.mark.parametrize("case", LAYER_CASES.values(), ids=LAYER_CASES.keys())
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [1, 5])
def test_inference_runs_the_product_without_an_autograd_node(case, bias, batch, monkeypatch):
    kernel_name, make = case
    junction = make()
    layer = SparseLinear(junction, bias=bias, kernel=kernel_name)
    reference = SparseLinear(junction, bias=bias, kernel="reference")
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(batch + 2, 96)[1 : batch + 1]  # a view into a larger batch
    calls = _count_native_calls(monkeypatch)
    with torch.no_grad():
        y = layer(x)
    assert calls == ["forward"] and y.grad_fn is None and y.shape == (batch, 48)
    torch.testing.assert_close(y, reference(x).detach(), rtol=1e-5, atol=1e-5)
    with torch.inference_mode():
        torch.testing.assert_close(layer(x), y)
    with torch.no_grad():  # leading batch dimensions (and a bare vector) reach the same call
        for t in (x.unsqueeze(0), *([x[0]] if batch == 1 else [])):
            torch.testing.assert_close(layer(t), y.view(*t.shape[:-1], 48))
    assert calls == ["forward"] * (4 if batch == 1 else 3)


def _product_operands(name: str, b: int, layout: str, generator):
    crow, col, transpose_crow = _pattern(name)
    o, i = crow.numel() - 1, transpose_crow.numel() - 1
    x = torch.randn(b, i, generator=generator)
    if layout == "feature-major":  # a padded feature-major buffer: read in place
        x = passes.new_rows(i, b).copy_(x.t()).t()
    elif layout == "strided":
        x = torch.randn(b, i + 7, generator=generator)[:, 3 : 3 + i]
    elif layout == "column-major":
        x = x.t().contiguous().t()
    g = torch.randn(b, o, generator=generator)
    return crow, col, transpose_crow, x, g


@needs_native
@pytest.mark.parametrize("name", ["regular", "random", "empty rows and columns", "no edges"])
@pytest.mark.parametrize("b", [1, 2, 17, 64, 97])
@pytest.mark.parametrize("layout", ["batch-major", "feature-major", "strided", "column-major"])
@pytest.mark.parametrize("needs", [(1, 1, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1)])
def test_product_in_one_call_equals_the_passes_one_by_one(name, b, layout, needs, monkeypatch):
    monkeypatch.setattr(passes, "WORK_PER_THREAD", 64)  # several threads on small cases
    generator = torch.Generator().manual_seed(b)
    crow, col, transpose_crow, x, g = _product_operands(name, b, layout, generator)
    o, i, e = crow.numel() - 1, transpose_crow.numel() - 1, col.numel()
    weight, bias = torch.randn(e, generator=generator), torch.randn(o, generator=generator)
    rows = torch.arange(o).repeat_interleave(crow.diff().long())
    divisor = int(crow[1]) if name == "regular" else 0
    pattern = NativePattern(crow, col, transpose_crow, divisor)
    y, saved = pattern.forward(x, weight, bias)
    grads = pattern.backward(saved, weight, g, tuple(map(bool, needs)))
    if b == 1:  # the one-sample passes
        expected_y = passes.row_dots(x.contiguous(), col, weight, offsets=crow, bias=bias)
        expected = passes.row_dots_backward(g, x.contiguous(), col, weight, offsets=crow)
        expected = (*expected, g[0])
    else:
        x_rows, g_rows = passes.feature_major(x), passes.feature_major(g)
        expected_y = passes.bag_sum(x_rows, col, weight, o, offsets=crow, bias=bias).t()
        weight_t, source, order = passes.transpose_edges(crow, col, transpose_crow, weight)
        grad_x = passes.bag_sum(g_rows, source, weight_t, i, offsets=transpose_crow).t()
        grad_weight = passes.edge_gradient(g_rows, x_rows, col, offsets=crow)
        expected = (grad_x, grad_weight, g.sum(0))
    assert torch.equal(y, expected_y) and y.is_contiguous()
    dense = torch.zeros(o, i).index_put_((rows, col.long()), weight, accumulate=True)
    torch.testing.assert_close(y, x @ dense.t() + bias, rtol=1e-5, atol=1e-5)
    # ∂L/∂x and ∂L/∂w bit for bit; ∂L/∂bias is summed as vectors of lanes, not as torch sums
    for got, want, needed, exact in zip(grads, expected, needs, (True, True, False), strict=True):
        if not needed:
            assert got is None
        elif exact:
            assert torch.equal(got, want) and got.is_contiguous()
        else:
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    if needs[0]:
        torch.testing.assert_close(grads[0], g @ dense, rtol=1e-5, atol=1e-5)


@needs_native
def test_product_results_do_not_depend_on_the_thread_count(monkeypatch):
    monkeypatch.setattr(passes, "WORK_PER_THREAD", 1)
    crow, col, transpose_crow = _pattern("random")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(70, transpose_crow.numel() - 1, generator=generator)
    g = torch.randn(70, crow.numel() - 1, generator=generator)
    weight = torch.randn(col.numel(), generator=generator)
    pattern = NativePattern(crow, col, transpose_crow)
    results, threads = [], torch.get_num_threads()
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            y, saved = pattern.forward(x, weight, None)
            results.append((y, *pattern.backward(saved, weight, g, (True, True, True))))
    finally:
        torch.set_num_threads(threads)
    for result in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(result, results[0], strict=True))


def test_native_pattern_refuses_other_indices():
    index = torch.zeros(3, dtype=torch.int64)
    with pytest.raises(ValueError, match="crow must be a contiguous int32 CPU tensor"):
        NativePattern(index, index.int(), index.int())


@needs_native
@pytest.mark.parametrize("name", ["regular", "random", "empty rows and columns", "no edges"])
@pytest.mark.parametrize(("input_gradient", "weight_gradient"), [(1, 1), (1, 0), (0, 1)])
def test_one_sample_passes_equal_their_torch_twins(name, input_gradient, weight_gradient):
    crow, col, transpose_crow = _pattern(name)
    o, i = crow.numel() - 1, transpose_crow.numel() - 1
    weight, bias = torch.randn(col.numel()), torch.randn(o)
    x, g = torch.randn(1, i), torch.randn(1, o)
    rows = torch.arange(o).repeat_interleave(crow.diff().long())
    dense = torch.zeros(o, i).index_put_((rows, col.long()), weight, accumulate=True)
    y = passes.row_dots(x, col, weight, offsets=crow, bias=bias)
    torch.testing.assert_close(y, x @ dense.t() + bias, rtol=1e-5, atol=1e-5)
    grad_x, grad_weight = passes.row_dots_backward(
        g,
        x,
        col,
        weight,
        offsets=crow,
        input_gradient=bool(input_gradient),
        weight_gradient=bool(weight_gradient),
    )
    if input_gradient:
        torch.testing.assert_close(grad_x, g @ dense, rtol=1e-5, atol=1e-5)
    else:
        assert grad_x is None
    if weight_gradient:
        torch.testing.assert_close(grad_weight, g[0, rows] * x[0, col.long()])
    else:
        assert grad_weight is None


@needs_native
def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    monkeypatch.setattr(passes, "WORK_PER_THREAD", 1)  # several threads even on a tiny case
    table, _ = _table((64, 64, 8, 80))
    x_rows = passes.feature_major(torch.randn(80, 64))
    weight = torch.randn(table.numel())
    results, threads = [], torch.get_num_threads()
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            results.append(
                (
                    passes.bag_sum(x_rows, table, weight, 64, offsets=_rows(table)),
                    passes.bag_sum(
                        x_rows, table, weight, 64, offsets=_rows(table), batch_major=True
                    ),
                    passes.edge_gradient(x_rows, x_rows, table, offsets=_rows(table)),
                )
            )
    finally:
        torch.set_num_threads(threads)
    for result in results[1:]:  # 3 threads: ranges that end inside a group of 16 bags
        assert all(torch.equal(a, b) for a, b in zip(result, results[0], strict=True))
    assert torch.equal(results[0][1], results[0][0].t())


@needs_native
def test_transposed_pass_uses_the_layers_own_offsets():
    junction = regular_junction(30, 20, fan_out=4, seed=1)
    table = torch.from_numpy(np.ascontiguousarray(junction.fan_in_table(), dtype=np.int32))
    k = table.shape[1]
    offsets = torch.from_numpy(transpose_offsets(junction).astype(np.int32))
    order = sort_order(table.view(-1)).to(torch.int32)
    weight = torch.randn(junction.nnz)
    g = torch.randn(5, 20)
    grad_x = passes.bag_sum(
        passes.feature_major(g), order, passes.take(weight, order), 30, offsets=offsets, divisor=k
    )
    dense = torch.from_numpy(junction.to_mask()).float()  # (o, i) 0/1
    dense[dense.bool()] = weight  # canonical order is row-major over the mask
    torch.testing.assert_close(grad_x, (g @ dense).t(), rtol=1e-5, atol=1e-5)


def _pattern(name: str):
    """(crow, col, transpose_crow) int32 of a named CSR pattern, and its in_features."""
    if name == "regular":
        junction = regular_junction(48, 40, fan_in=6, seed=2)
        crow, col, i = junction.indptr, junction.src, 48
    elif name == "random":
        junction = random_junction(37, 29, nnz=300, seed=3)
        crow, col, i = junction.indptr, junction.src, 37
    elif name == "many rows":  # more rows than the library's 64 threads
        junction = random_junction(50, 150, nnz=600, seed=5)
        crow, col, i = junction.indptr, junction.src, 50
    elif name == "empty rows and columns":  # rows 0, 2, 5 and every odd input have no edge
        rows = [[], [4, 8], [], [0, 2, 6], [8], [], [2]]
        crow = np.cumsum([0] + [len(r) for r in rows])
        col, i = np.array([c for r in rows for c in r]), 10
    elif name == "one input":  # every edge into input 3: a single transposed row
        crow, col, i = np.arange(0, 41, 4), np.full(40, 3), 5
    else:  # "no edges"
        crow, col, i = np.zeros(4), np.zeros(0), 6
    counts = np.bincount(np.asarray(col, dtype=np.int64), minlength=i)
    transpose_crow = np.concatenate([[0], np.cumsum(counts)])
    return [torch.from_numpy(np.asarray(a, dtype=np.int32)) for a in (crow, col, transpose_crow)]


@needs_native
@pytest.mark.parametrize(
    ("name", "threads"),
    [
        (name, threads)
        for name in ("regular", "random", "empty rows and columns", "one input", "no edges")
        for threads in (1, 2, 3)
    ]
    + [("many rows", 3), ("many rows", 70)],  # 70: more than MAX_THREADS, clamped to 64
)
def test_transpose_edges_is_the_stable_sort(name, threads, monkeypatch):
    crow, col, transpose_crow = _pattern(name)
    monkeypatch.setattr(passes, "WORK_PER_THREAD", 1)  # several parts even on a tiny case
    weight = torch.randn(col.numel())
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        transposed, rows, order = passes.transpose_edges(
            crow, col, transpose_crow, weight, rows=True, order=True
        )
        only_order = passes.transpose_edges(crow, col, transpose_crow, rows=False, order=True)
    finally:
        torch.set_num_threads(saved)
    expected = np.argsort(col.numpy(), kind="stable")  # by input, rows ascending within one
    edge_rows = np.repeat(np.arange(crow.numel() - 1), np.diff(crow.numpy()))
    assert order.dtype == rows.dtype == torch.int32 and transposed.dtype == torch.float32
    assert np.array_equal(order.numpy(), expected)
    assert np.array_equal(rows.numpy(), edge_rows[expected])
    assert torch.equal(transposed, weight[expected])
    assert only_order[0] is None and only_order[1] is None
    assert torch.equal(only_order[2], order)
    assert passes.transpose_edges(crow, col, transpose_crow, rows=False) == (None, None, None)


@pytest.fixture
def fresh_loader(tmp_path, monkeypatch):
    """A loader that has not looked yet, with its own cache directory; reset afterwards."""
    monkeypatch.setenv("NEUROFABRIC_CACHE", str(tmp_path))
    native.reset()
    yield tmp_path
    native.reset()


def test_disabled_by_environment(fresh_loader, monkeypatch):
    monkeypatch.setenv("NEUROFABRIC_NATIVE", "0")
    assert native.library() is None
    assert "NEUROFABRIC_NATIVE=0" in native.status()
    assert not passes.usable(torch.zeros(2))
    layer = SparseLinear(regular_junction(8, 4, fan_in=2, seed=0), kernel="gather")
    x = torch.randn(3, 8, requires_grad=True)
    layer(x).sum().backward()  # the torch passes run instead
    assert x.grad.shape == (3, 8)


def test_no_compiler(fresh_loader, monkeypatch):
    monkeypatch.setattr(native, "_compiler", lambda: None)
    assert native.library() is None
    assert "no C compiler" in native.status()


def test_failed_compile_falls_back(fresh_loader, monkeypatch):
    monkeypatch.setattr(native, "_compiler", lambda: "/bin/false")
    assert native.library() is None
    assert native.status().startswith("compiling the native passes failed")
    assert not list(fresh_loader.glob("*.so*"))  # no half-written library left behind


@needs_native
def test_compiles_once_into_the_cache(fresh_loader):
    assert native.library() is not None
    (built,) = fresh_loader.glob("native-*.so")
    stamp = built.stat().st_mtime_ns
    native.reset()
    assert native.library() is not None  # loaded from the cache, not rebuilt
    assert built.stat().st_mtime_ns == stamp
    assert native.library().nf_abi_version() == native.ABI_VERSION


@needs_native
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 flags")
@pytest.mark.parametrize(("march", "lanes"), [("haswell", 8), ("x86-64", 4)])
def test_narrower_vector_builds_agree(fresh_loader, monkeypatch, march, lanes):
    """Builds for AVX2 (8-float vectors) and plain SSE2 (4) compute what the torch twins do
    (the widths a CPU without AVX-512, or NEON, compiles for)."""
    if march == "haswell" and " avx2" not in native._cpu_signature():
        pytest.skip("this CPU cannot run an AVX2 build")
    flags = ("-O3", f"-march={march}", "-std=gnu11", "-shared", "-fPIC", "-pthread")
    monkeypatch.setattr(native, "FLAGS", flags)
    monkeypatch.setattr(native, "_FALLBACK_FLAGS", flags)
    assert native.library() is not None and native.library().nf_lanes() == lanes
    assert f"({lanes}-float vectors)" in native.status()
    table, b = _table((48, 40, 5, 63))
    (o, k), i = table.shape, 40
    generator = torch.Generator().manual_seed(2)
    weight = torch.randn(o * k, generator=generator)
    x = torch.randn(b, i, generator=generator)
    g = torch.randn(b, o, generator=generator)
    x_rows, g_rows = passes.feature_major(x), passes.feature_major(g)
    assert torch.equal(x_rows, x.t())  # the native transpose, lanes × lanes blocks
    twin = F.embedding_bag(table.long(), x.t(), mode="sum", per_sample_weights=weight.view(o, k))
    forward = passes.bag_sum(x_rows, table, weight, o, offsets=_rows(table), batch_major=True)
    torch.testing.assert_close(forward, twin.t(), rtol=1e-5, atol=1e-5)
    expected_dw = (g.t()[:, None, :] * x.t()[table.long()]).sum(-1).view(-1)
    got_dw = passes.edge_gradient(g_rows, x_rows, table, offsets=_rows(table))
    torch.testing.assert_close(got_dw, expected_dw, rtol=1e-4, atol=1e-4)
    blocks, sample = torch.randn(3, 21, 37), torch.randn(3, 37, 1)
    torch.testing.assert_close(
        passes.block_product(blocks, sample), torch.bmm(blocks, sample), rtol=1e-5, atol=1e-5
    )


def test_float64_and_compiled_graphs_use_the_torch_passes():
    assert not passes.usable(torch.zeros(2, dtype=torch.float64))
    assert not passes.usable(torch.zeros(2, dtype=torch.int64))


@needs_native
def test_pthreads_and_torchs_openmp_team_agree(fresh_loader, monkeypatch):
    monkeypatch.setattr(passes, "WORK_PER_THREAD", 1)
    table, _ = _table((64, 64, 8, 80))
    x_rows = passes.feature_major(torch.randn(80, 64))
    weight = torch.randn(table.numel())
    threads = torch.get_num_threads()
    results, statuses = [], []
    try:
        torch.set_num_threads(2)
        for openmp in ("1", "0"):
            monkeypatch.setenv("NEUROFABRIC_NATIVE_OPENMP", openmp)
            native.reset()
            statuses.append(native.status())
            results.append(
                (
                    passes.bag_sum(x_rows, table, weight, 64, offsets=_rows(table)),
                    passes.edge_gradient(x_rows, x_rows, table, offsets=_rows(table)),
                )
            )
    finally:
        torch.set_num_threads(threads)
    assert statuses[1].endswith("threads: pthreads")
    assert "OpenMP" in statuses[0] or statuses[0].endswith("pthreads")  # a runtime, if found
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


def test_a_cache_directory_others_can_write_is_refused(fresh_loader, monkeypatch, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("NEUROFABRIC_CACHE", str(shared))
    monkeypatch.setattr(native, "_cache_dirs", lambda: [shared])
    assert native.library() is None
    assert "not private" in native.status()
    assert not list(shared.iterdir())  # nothing compiled into it


def test_an_unexpected_loader_error_falls_back(fresh_loader, monkeypatch):
    def broken():
        raise RuntimeError("no home directory")

    monkeypatch.setattr(native, "cache_dir", broken)
    monkeypatch.setattr(native, "_compiler", lambda: "/bin/false")
    assert native.library() is None  # never raises into a forward pass
    assert native.status().startswith("compiling the native passes failed")
