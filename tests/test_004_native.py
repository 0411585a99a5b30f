"""Chapter 004's compiled CPU kernel gated_gemv.c against independent dense products (float64) and its fallback."""
import math
import shutil

import pytest
import torch

from nbs_lib import native
from nbs_lib.gated import gemm as gk

pytestmark = pytest.mark.skipif(shutil.which("cc") is None or not native.enabled(), reason="no C compiler")


def _case(m, k, dtype, seed, p=0.5):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(m, k, generator=g, dtype=dtype)
    h = torch.randn(k, generator=g, dtype=dtype)
    D = torch.rand(k, generator=g) < p
    return W, h, D, torch.nonzero(D, as_tuple=True)[0]


@pytest.mark.parametrize("k", [1, 7, 8, 9, 17, 70, 301])   # open-row counts around the kernel's groups of eight
def test_c_kernel_equals_the_dense_product_of_the_gated_input(k):
    W, h, D, idx = _case(90, k, torch.float64, k, p=0.6)
    ref = W @ (h * D)
    out = gk.gated_gemv(W.T.contiguous(), h, idx, backend="c")
    # float64: error ≤ r·u·Σ|h_k||W_jk| with r ≤ k terms, u = 2⁻⁵³
    bound = k * 2.0 ** -53 * (W.abs() @ (h.abs() * D)) + 1e-300
    assert out.dtype == torch.float64 and bool(((out - ref).abs() <= bound).all())


def test_c_kernel_float32_within_its_round_off_bound():
    W, h, D, idx = _case(513, 1024, torch.float32, 1)
    ref = W.double() @ (h.double() * D.double())
    out = gk.gated_gemv(W.T.contiguous(), h, idx, backend="c")
    r = idx.numel()
    bound = 1.01 * r * 2.0 ** -24 * (W.double().abs() @ (h.double().abs() * D.double()))
    assert out.dtype == torch.float32 and bool(((out.double() - ref).abs() <= bound).all())
    # the typical error is far below the worst case: √r·u-sized, not r·u-sized
    assert float(((out.double() - ref).abs() / bound).median()) < 10 / math.sqrt(r)


def test_c_kernel_reads_only_open_rows_and_handles_strides_duplicates_and_int32():
    W, h, D, idx = _case(64, 200, torch.float64, 2)
    wide = torch.randn(200, 97, dtype=torch.float64)
    wide[:, :64] = W.T
    WT = wide[:, :64]                                    # row stride 97, unit column stride: no copy needed
    h2 = torch.where(D, h, torch.full_like(h, float("nan")))  # closed entries are never read
    out = gk.gated_gemv(WT, h2, idx.int(), backend="c")
    assert torch.allclose(out, W @ (h * D), rtol=1e-12, atol=1e-12)
    xs = torch.stack([h, h], 1)[:, 0]                    # a non-contiguous input vector
    assert torch.allclose(gk.gated_gemv(WT, xs, idx, backend="c"), W @ (h * D), rtol=1e-12, atol=1e-12)
    dup = torch.cat([idx, idx[:3]])                      # duplicated indices count twice (a sum over the list)
    assert torch.allclose(gk.gated_gemv(WT, h, dup, backend="c"), gk.gated_gemv(WT, h, dup, backend="torch"),
                          rtol=1e-12, atol=1e-12)
    assert torch.equal(gk.gated_gemv(WT, h, idx[:0], backend="c"), torch.zeros(64, dtype=torch.float64))


def test_bad_input_is_refused_before_the_kernel_runs():
    W, h, D, idx = _case(16, 20, torch.float32, 3)
    WT = W.T.contiguous()
    for bad in (torch.tensor([20]), torch.tensor([-1]), torch.tensor([0.0]), idx[None]):
        with pytest.raises(ValueError, match="idx"):
            gk.gated_gemv(WT, h, bad, backend="c")
    with pytest.raises(ValueError, match="backend='c'"):
        gk.gated_gemv(W.T, h, idx, backend="c")           # column stride ≠ 1
    with pytest.raises(ValueError, match="backend='c'"):
        gk.gated_gemv(WT, h.double(), idx, backend="c")   # mixed dtypes
    with pytest.raises(ValueError, match="backend"):
        gk.gated_gemv(WT, h, idx, backend="cuda")
    with pytest.raises(ValueError, match="one device"):
        gk.gated_gemv(WT, h.to("meta"), idx, backend="c")


def test_auto_uses_the_c_kernel_on_cpu_and_falls_back_without_a_compiler(monkeypatch, tmp_path):
    W, h, D, idx = _case(32, 40, torch.float32, 4)
    WT = W.T.contiguous()
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert gk.gated_gemv_backend(WT, h) == "c"
    assert gk.gated_gemv_backend(WT.to(torch.float16), h.to(torch.float16)) == "torch"  # no half kernel
    monkeypatch.setattr(gk, "_C", {})
    monkeypatch.setattr(native, "_LOADED", {})
    monkeypatch.setenv("NBS_NATIVE_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.warns(UserWarning, match="torch reference"):
        assert gk.gated_gemv_backend(WT, h) == "torch"
    out = gk.gated_gemv(WT, h, idx)
    assert torch.allclose(out.double(), W.double() @ (h.double() * D), atol=1e-5)
    with pytest.raises(ValueError, match="backend='c'"):
        gk.gated_gemv(WT, h, idx, backend="c")


def test_prepared_layer_equals_the_dense_product_and_checks_its_inputs():
    W, h, D, idx = _case(100, 203, torch.float64, 7)
    layer = gk.GatedLayer(W.T.contiguous(), backend="c")
    assert layer.backend == "c"
    out = layer(h, D)
    assert torch.allclose(out, W @ (h * D), rtol=1e-12, atol=1e-12)
    assert torch.allclose(layer(h, torch.ones_like(D)), W @ h, rtol=1e-12, atol=1e-12)
    assert torch.equal(layer(h, torch.zeros_like(D)), torch.zeros(100, dtype=torch.float64))
    # the mask and the index list give the same sum in the same order
    assert torch.equal(out, gk.gated_gemv(layer.WT, h, idx, backend="c"))
    for x, g in ((h[:-1], D), (h, D[:-1]), (h, D.int()), (h.float(), D), (h.to("meta"), D), (h, D.to("meta"))):
        with pytest.raises(ValueError, match="x and D"):
            layer(x, g)
    with pytest.raises(ValueError, match="WT"):
        gk.GatedLayer(W.T.contiguous()[0])
    torch_layer = gk.GatedLayer(W.T.contiguous(), backend="torch")
    assert torch_layer.backend == "torch" and torch.allclose(torch_layer(h, D), W @ (h * D), rtol=1e-12, atol=1e-12)
