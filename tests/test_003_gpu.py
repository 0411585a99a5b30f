"""Chapter 003: Triton kernels against their torch references under TRITON_INTERPRET=1 (small sizes)."""
import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from nbs_lib import gpu  # noqa: E402
from nbs_lib.subquad import triton_sketch as gs  # noqa: E402
from nbs_lib.subquad.lrm import to_sparse_cols  # noqa: E402

pytestmark = pytest.mark.triton
needs_triton = pytest.mark.skipif(not gpu.has_triton(), reason="triton is not installed")


@needs_triton
def test_fwht_kernel_matches_reference():
    A = torch.randn(3, 64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(gs.fwht(A, backend="triton"), gs.fwht_torch(A), atol=1e-4)


@needs_triton
def test_srht_and_countsketch_kernels_match_reference():
    g = torch.Generator().manual_seed(1)
    A, B = torch.randn(3, 32, generator=g), torch.randn(3, 32, generator=g)
    p, q = torch.randint(0, 32, (40,), generator=g), torch.randint(0, 32, (40,), generator=g)
    assert torch.allclose(gs.srht_rows(A, B, p, q, backend="triton"), gs.srht_rows_torch(A, B, p, q), atol=1e-6)
    h = torch.randint(0, 16, (32,), generator=g)
    sign = (2 * torch.randint(0, 2, (32,), generator=g) - 1).float()
    assert torch.allclose(gs.countsketch(A, h, sign, 16, backend="triton"), gs.countsketch_torch(A, h, sign, 16),
                          atol=1e-5)


@needs_triton
def test_sparse_shifted_relu_kernel_matches_reference_and_dense():
    g = torch.Generator().manual_seed(2)
    W = torch.randn(80, 48, generator=g)
    H = torch.relu(torch.randn(48, 4, generator=g) - 1.0)
    sc = to_sparse_cols(H)
    P, Hn = gs.sparse_shifted_relu_forward(W.T.contiguous(), sc.idx, sc.val, sc.offsets, 0.2, 1.3, backend="triton")
    P0, H0 = gs.sparse_shifted_relu_forward_torch(W.T.contiguous(), sc.idx, sc.val, sc.offsets, 0.2, 1.3)
    assert torch.allclose(P, W @ H, atol=1e-4) and torch.allclose(Hn, H0, atol=1e-4) and torch.allclose(P0, W @ H, atol=1e-4)


def test_fallback_without_triton_or_cuda():
    # backend='torch' always works; 'auto' on CPU without the interpreter picks the reference
    A = torch.randn(2, 16)
    assert torch.allclose(gs.fwht(A, backend="torch"), gs.fwht_torch(A))
    old = os.environ.pop("TRITON_INTERPRET", None)
    try:
        assert gpu.choose_backend("auto", "cpu") == "torch"
        with pytest.raises(ValueError, match="cannot run here"):
            gs.fwht(A, backend="triton")
    finally:
        if old is not None:
            os.environ["TRITON_INTERPRET"] = old
    with pytest.raises(ValueError, match="power of two"):
        gs.fwht(torch.zeros(2, 12), backend="torch")
