"""Triton kernels of chapter 004 against their PyTorch references, on CPU through TRITON_INTERPRET=1 (small sizes)."""
import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("triton")
from nbs_lib.gated import pack_bits  # noqa: E402
from nbs_lib.gated import gemm as gk  # noqa: E402

pytestmark = pytest.mark.triton
torch.set_num_threads(1)


def _data(n, k, m, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, k, generator=g, dtype=torch.float32), torch.randn(m, k, generator=g, dtype=torch.float32),
            torch.rand(n, m, generator=g) > 0.5)


def test_gated_matmul_matches_reference_with_ragged_sizes():
    X, W, M = _data(37, 40, 70)
    bits = pack_bits(M)
    ref = (X.double() @ W.double().T) * M.double()
    out = gk.gated_matmul(X, W, bits, backend="triton")
    assert torch.allclose(out.double(), ref, atol=1e-4, rtol=1e-4)
    assert torch.equal(out == 0, ~M | (ref == 0))  # closed gates give exact zeros
    assert torch.allclose(gk.gated_matmul(X, W, bits, backend="torch").double(), ref, atol=1e-4)


def test_gather_gemv_matches_reference():
    _, W, _ = _data(1, 70, 50)
    x = torch.randn(70)
    idx = torch.tensor([3, 0, 49, 17, 17, 22], dtype=torch.int64)
    ref = torch.stack([W.double()[int(i)] @ x.double() for i in idx])  # one dot product per index, duplicates too
    for backend in ("triton", "torch"):
        out = gk.gather_gemv(W, x, idx, backend=backend)
        assert out.shape == (6,) and torch.allclose(out.double(), ref, atol=1e-4)


def test_block_gated_matmul_matches_reference_and_dense_blocks():
    X, W, _ = _data(40, 24, 64)
    bm = torch.rand(40, 4, generator=torch.Generator().manual_seed(3)) > 0.5
    bm[:32, 1] = False  # a whole tile closed: exercises the tile skip
    out = gk.block_gated_matmul(X, W, bm, 16, backend="triton")
    dense = (X.double() @ W.double().T) * bm.repeat_interleave(16, dim=1).double()
    assert torch.allclose(out.double(), dense, atol=1e-4)
    assert torch.allclose(gk.block_gated_matmul(X, W, bm, 16, backend="torch").double(), dense, atol=1e-4)


def test_bad_shapes_raise():
    X, W, M = _data(4, 8, 40)
    with pytest.raises(ValueError, match="mask_bits"):
        gk.gated_matmul(X, W, pack_bits(M)[:, :1])
    with pytest.raises(ValueError, match="block"):
        gk.block_gated_matmul(X, W, torch.ones(4, 3, dtype=torch.bool), 3)


def test_gated_gemv_matches_dense_product_of_the_gated_input():
    """The fast path W (D ⊙ h) through the open rows of Wᵀ equals the dense product (float64 reference)."""
    g = torch.Generator().manual_seed(5)
    W = torch.randn(90, 70, generator=g)                 # (m, k): ragged against BR, BN
    h = torch.randn(70, generator=g)
    D = torch.rand(70, generator=g) > 0.5
    idx = torch.nonzero(D, as_tuple=True)[0]
    WT = W.T.contiguous()
    ref = W.double() @ (h.double() * D.double())
    for backend in ("triton", "torch"):
        out = gk.gated_gemv(WT, h, idx, backend=backend)
        assert out.shape == (90,) and torch.allclose(out.double(), ref, atol=1e-4)
    # entries of h outside idx are ignored (the closed gates are never read)
    h2 = torch.where(D, h, torch.full_like(h, 1e6))
    assert torch.allclose(gk.gated_gemv(WT, h2, idx, backend="triton").double(), ref, atol=1e-4)
    # no open gate: the zero vector; every gate open: the dense product
    assert torch.equal(gk.gated_gemv(WT, h, idx[:0], backend="triton"), torch.zeros(90))
    full = torch.arange(70)
    assert torch.allclose(gk.gated_gemv(WT, h, full, backend="triton").double(), W.double() @ h.double(), atol=1e-4)


def test_gated_gemv_float64_torch_path_is_exact_to_round_off():
    g = torch.Generator().manual_seed(6)
    W = torch.randn(257, 300, generator=g, dtype=torch.float64)
    h = torch.randn(300, generator=g, dtype=torch.float64)
    D = torch.rand(300, generator=g) > 0.5
    idx = torch.nonzero(D, as_tuple=True)[0]
    out = gk.gated_gemv(W.T.contiguous(), h, idx, backend="torch")
    assert torch.allclose(out, W @ (h * D), atol=1e-12, rtol=1e-12)
    with pytest.raises(ValueError, match="idx"):
        gk.gated_gemv(W.T.contiguous(), h, torch.tensor([300]))
    with pytest.raises(ValueError, match="WT and x"):
        gk.gated_gemv(W.T.contiguous(), h[:5], idx)
