"""Triton kernels for chapter 003 (sketching the rank-one Jacobian rows; sparse shifted-ReLU forward).

Each public function takes ``backend="auto" | "torch" | "triton"`` (:func:`nbs_lib.gpu.choose_backend`) and has a
PyTorch reference with the same signature (``*_torch``), used on CPU and whenever Triton cannot run:

* :func:`fwht` — batched unnormalised fast Walsh–Hadamard transform along the last axis (one launch per butterfly
  stage, ``log2 m`` stages, in place on a copy);
* :func:`srht_rows` — the TensorSRHT application to rank-one rows: ``out[i, r] = A[i, p_r]·B[i, q_r]/√s`` with
  ``A = H D1 u_i``, ``B = H D2 v_i`` (the FWHTs from :func:`fwht`);
* :func:`countsketch` — the CountSketch scatter ``out[i, h(j)] += σ(j)·A[i, j]`` of a TensorSketch (atomic adds);
  the FFT convolution stays in torch (cuFFT);
* :func:`sparse_shifted_relu_forward` — ``P[:, i] = Σ_{j ∈ supp(h_i)} h_{ji}·Wᵀ[j, :]`` (a gather of the rows of
  ``Wᵀ`` indexed by the active units of ``h_i``) fused with the shifted ReLU ``√c·max(P − τ, 0)``.

Kernels are built on first use (so that ``TRITON_INTERPRET=1`` set by a test before the first call takes effect).
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from ..gpu import choose_backend


# ------------------------------------------------------------------------------------------ references
def fwht_torch(A: torch.Tensor) -> torch.Tensor:
    """Return the unnormalised FWHT of ``A: (n, m)`` along the last axis (``m`` a power of two)."""
    from .sketch import fwht as _f

    return _f(A, dim=-1)


def srht_rows_torch(A: torch.Tensor, B: torch.Tensor, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Return ``A[:, p] * B[:, q] / √s`` (``A, B: (n, m')``, ``p, q: (s,)``), shape (n, s)."""
    return A[:, p] * B[:, q] / math.sqrt(p.numel())


def countsketch_torch(A: torch.Tensor, h: torch.Tensor, sign: torch.Tensor, s: int) -> torch.Tensor:
    """Return the CountSketch of the rows of ``A: (n, m)``: ``out[i, h(j)] += sign(j)·A[i, j]``, shape (n, s)."""
    out = torch.zeros(A.shape[0], s, dtype=A.dtype, device=A.device)
    return out.index_add_(1, h, A * sign.to(A.dtype))


def sparse_shifted_relu_forward_torch(WT: torch.Tensor, idx: torch.Tensor, val: torch.Tensor, offsets: torch.Tensor,
                                      tau: float, sqrt_c: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(P, φ(P))``, both ``(m, n)``: ``P = W H`` from ``WT = Wᵀ: (m', m)`` and the CSR columns of ``H``."""
    P = torch.nn.functional.embedding_bag(idx, WT, offsets, mode="sum", per_sample_weights=val.to(WT.dtype)).T
    return P, sqrt_c * (P - tau).clamp_min(0)


# ------------------------------------------------------------------------------------------ Triton kernels
@lru_cache(maxsize=None)
def _kernels():
    import triton
    import triton.language as tl

    @triton.jit
    def fwht_stage(x_ptr, n_pairs_per_row, m, h, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        j = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        ok = j < n_pairs_per_row
        blk = j // h
        off = j - blk * h
        i0 = row * m + blk * 2 * h + off
        x = tl.load(x_ptr + i0, mask=ok)
        y = tl.load(x_ptr + i0 + h, mask=ok)
        tl.store(x_ptr + i0, x + y, mask=ok)
        tl.store(x_ptr + i0 + h, x - y, mask=ok)

    @triton.jit
    def srht_gather(a_ptr, b_ptr, p_ptr, q_ptr, out_ptr, m, s, scale, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        r = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        ok = r < s
        p = tl.load(p_ptr + r, mask=ok, other=0)
        q = tl.load(q_ptr + r, mask=ok, other=0)
        a = tl.load(a_ptr + row * m + p, mask=ok)
        b = tl.load(b_ptr + row * m + q, mask=ok)
        tl.store(out_ptr + row * s + r, a * b * scale, mask=ok)

    @triton.jit
    def countsketch_scatter(a_ptr, h_ptr, sg_ptr, out_ptr, m, s, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        j = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        ok = j < m
        hj = tl.load(h_ptr + j, mask=ok, other=0)
        sg = tl.load(sg_ptr + j, mask=ok, other=0.0)
        a = tl.load(a_ptr + row * m + j, mask=ok, other=0.0)
        tl.atomic_add(out_ptr + row * s + hj, a * sg, mask=ok)

    @triton.jit
    def gather_act(wt_ptr, idx_ptr, val_ptr, start_ptr, end_ptr, p_ptr, h_ptr, m, n, tau, sqrt_c, BLOCK: tl.constexpr):
        col = tl.program_id(0)                      # sample i
        c = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)   # output units
        ok = c < m
        start = tl.load(start_ptr + col)
        end = tl.load(end_ptr + col)
        acc = tl.zeros([BLOCK], dtype=tl.float32)
        for e in range(start, end):
            j = tl.load(idx_ptr + e)
            v = tl.load(val_ptr + e)
            w = tl.load(wt_ptr + j * m + c, mask=ok, other=0.0)
            acc += v * w.to(tl.float32)
        out = acc.to(p_ptr.dtype.element_ty)
        tl.store(p_ptr + c * n + col, out, mask=ok)
        act = sqrt_c * tl.maximum(acc - tau, 0.0)
        tl.store(h_ptr + c * n + col, act.to(h_ptr.dtype.element_ty), mask=ok)

    return {"fwht_stage": fwht_stage, "srht_gather": srht_gather, "countsketch": countsketch_scatter,
            "gather_act": gather_act}


def _grid(a, b):
    return (a, b)


def fwht_triton(A: torch.Tensor, block: int = 256) -> torch.Tensor:
    """Return the FWHT of ``A: (n, m)`` by ``log2 m`` Triton butterfly launches (float32/float64)."""
    n, m = A.shape
    X = A.contiguous().clone()
    k = _kernels()["fwht_stage"]
    h = 1
    while h < m:
        k[_grid(n, triton_cdiv(m // 2, block))](X, m // 2, m, h, BLOCK=block)
        h *= 2
    return X


def triton_cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b


def _check_pow2(A):
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D tensor (n, m), got shape {tuple(A.shape)}")
    m = A.shape[1]
    if m < 1 or m & (m - 1):
        raise ValueError(f"the last dimension must be a power of two, got {m}")


def fwht(A: torch.Tensor, *, backend: str = "auto") -> torch.Tensor:
    """Return the unnormalised FWHT of the rows of ``A: (n, m)`` (m a power of two)."""
    _check_pow2(A)
    if choose_backend(backend, A.device) == "torch":
        return fwht_torch(A)
    return fwht_triton(A)


def srht_rows(A: torch.Tensor, B: torch.Tensor, p: torch.Tensor, q: torch.Tensor, *, backend: str = "auto",
              block: int = 128) -> torch.Tensor:
    """Return the TensorSRHT sample ``A[:, p]·B[:, q]/√s`` (``A, B: (n, m')``), shape (n, s)."""
    if A.shape != B.shape or A.ndim != 2 or p.shape != q.shape:
        raise ValueError(f"A and B must be equal (n, m') and p, q equal (s,); got {tuple(A.shape)}, {tuple(B.shape)}, "
                         f"{tuple(p.shape)}, {tuple(q.shape)}")
    if choose_backend(backend, A.device) == "torch":
        return srht_rows_torch(A, B, p, q)
    n, m = A.shape
    s = p.numel()
    out = torch.empty(n, s, dtype=A.dtype, device=A.device)
    _kernels()["srht_gather"][_grid(n, triton_cdiv(s, block))](
        A.contiguous(), B.contiguous(), p.contiguous(), q.contiguous(), out, m, s, 1.0 / math.sqrt(s), BLOCK=block)
    return out


def countsketch(A: torch.Tensor, h: torch.Tensor, sign: torch.Tensor, s: int, *, backend: str = "auto",
                block: int = 128) -> torch.Tensor:
    """Return the CountSketch ``(n, s)`` of the rows of ``A: (n, m)`` with hash ``h`` and signs ``sign``."""
    if A.ndim != 2 or h.shape != (A.shape[1],) or sign.shape != (A.shape[1],):
        raise ValueError(f"A must be (n, m) and h, sign (m,); got {tuple(A.shape)}, {tuple(h.shape)}, {tuple(sign.shape)}")
    if not isinstance(s, int) or s < 1:
        raise ValueError(f"s must be a positive integer, got {s!r}")
    if choose_backend(backend, A.device) == "torch":
        return countsketch_torch(A, h, sign, s)
    n, m = A.shape
    out = torch.zeros(n, s, dtype=A.dtype, device=A.device)
    _kernels()["countsketch"][_grid(n, triton_cdiv(m, block))](
        A.contiguous(), h.contiguous(), sign.to(A.dtype).contiguous(), out, m, s, BLOCK=block)
    return out


def sparse_shifted_relu_forward(WT: torch.Tensor, idx: torch.Tensor, val: torch.Tensor, offsets: torch.Tensor,
                                tau: float, sqrt_c: float, *, backend: str = "auto",
                                block: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(P, φ(P))`` for ``P = W H`` with ``H`` given by its CSR columns (``idx``, ``val``, ``offsets``)."""
    if WT.ndim != 2 or idx.shape != val.shape or offsets.ndim != 1:
        raise ValueError("WT must be (m', m), idx and val equal 1-D, offsets 1-D")
    if choose_backend(backend, WT.device) == "torch":
        return sparse_shifted_relu_forward_torch(WT, idx, val, offsets, tau, sqrt_c)
    m = WT.shape[1]
    n = offsets.numel()
    ends = torch.cat([offsets[1:], torch.tensor([idx.numel()], device=offsets.device, dtype=offsets.dtype)])
    P = torch.empty(m, n, dtype=WT.dtype, device=WT.device)
    Hn = torch.empty(m, n, dtype=WT.dtype, device=WT.device)
    _kernels()["gather_act"][_grid(n, triton_cdiv(m, block))](
        WT.contiguous(), idx.contiguous(), val.to(WT.dtype).contiguous(), offsets.contiguous(), ends.contiguous(),
        P, Hn, m, n, float(tau), float(sqrt_c), BLOCK=block)
    return P, Hn
