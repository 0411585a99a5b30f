"""Gated matrix products of paper 004 §4.4 (spec §6.5): Triton kernels and one C kernel, with PyTorch references.

* :func:`gated_matmul` ``Y = (X Wᵀ) ⊙ D`` with the gate ``D`` read from bit-packed ``int32`` words in the
  kernel's epilogue (FLOPs unchanged; it saves the mask's memory traffic and one elementwise pass).
* :func:`gated_gemv` ``y = W x`` for a gated input ``x`` (non-zero only at the open gates ``idx``) — the batch-1
  fast path of issue 16: it reads only the open rows of the stored transpose ``Wᵀ`` (contiguous rows, no copy),
  through the compiled CPU kernel ``gated_gemv.c`` (``nbs_lib.native``; it streams the rows at the bandwidth of
  the dense GEMV), a Triton kernel on CUDA, or the reference ``torch.nn.functional.embedding_bag``
  (``per_sample_weights = x[idx]``, ``mode="sum"``; on CPU its gathered rows are read at about half that
  bandwidth once ``Wᵀ`` leaves the cache). Bytes read: the gate density ρ times those of the dense GEMV.
* :func:`gather_gemv` ``y = W[idx] x`` — the open *output* rows only; its torch reference copies the rows
  (``index_select``) and is slower than the dense GEMV on CPU (kept as a reference for the Triton kernel).
* :func:`block_gated_matmul` ``Y[i, block j] = X[i] W_jᵀ`` if the block gate ``(i, j)`` is open, else 0 —
  the block-gated variant (OUR extension, not in the paper); the Triton kernel skips a tile's K loop when
  every gate of the tile is closed, so it saves work only when open gates are grouped (MoE-style).

Every entry point takes ``backend="auto" | "torch" | "triton"`` (``nbs_lib.gpu.choose_backend``): Triton on
CUDA or under ``TRITON_INTERPRET=1``, the reference otherwise. Shapes: ``X: (n, k)``, ``W: (m, k)``.
"""
from __future__ import annotations

import ctypes

import torch

from ..gpu import choose_backend


# ------------------------------------------------------------------ references
def gated_matmul_ref(X: torch.Tensor, W: torch.Tensor, mask_bits: torch.Tensor) -> torch.Tensor:
    """Return ``(X Wᵀ) ⊙ unpack(mask_bits)``, ``(n, m)`` (PyTorch reference; masked dense)."""
    from .model import unpack_bits

    return (X @ W.T) * unpack_bits(mask_bits, W.shape[0]).to(X.dtype)


def gather_gemv_ref(W: torch.Tensor, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Return ``W[idx] @ x``, ``(len(idx),)`` (PyTorch reference)."""
    return W.index_select(0, idx) @ x


def gated_gemv_ref(WT: torch.Tensor, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Return ``Σ_{k∈idx} x_k Wᵀ[k]`` = ``W[:, idx] x[idx]``, ``(m,)``, reading only the rows ``idx`` of ``WT``.

    ``torch.nn.functional.embedding_bag`` over the rows of ``WT`` (one bag, weights ``x[idx]``): no copy of the
    open rows, unlike ``WT[idx]``. Duplicated indices count twice (a sum over the index list).
    """
    off = torch.zeros(1, dtype=torch.long, device=WT.device)
    return torch.nn.functional.embedding_bag(idx, WT, off, mode="sum", per_sample_weights=x.index_select(0, idx))[0]


def block_gated_matmul_ref(X: torch.Tensor, W: torch.Tensor, block_mask: torch.Tensor, block: int) -> torch.Tensor:
    """Return ``Y`` with ``Y[i, jb:(j+1)b] = X[i] W[jb:(j+1)b]ᵀ`` where ``block_mask[i, j]``, else 0 (grouped GEMM over blocks)."""
    n, m = X.shape[0], W.shape[0]
    Y = torch.zeros(n, m, dtype=X.dtype, device=X.device)
    for j in range(m // block):  # loop over neuron *blocks* (experts), each a gathered GEMM
        rows = torch.nonzero(block_mask[:, j], as_tuple=True)[0]
        if rows.numel():
            Y[rows, j * block:(j + 1) * block] = X.index_select(0, rows) @ W[j * block:(j + 1) * block].T
    return Y


def _check(X, W):
    if X.ndim != 2 or W.ndim != 2 or X.shape[1] != W.shape[1]:
        raise ValueError(f"X and W must be (n, k) and (m, k), got {tuple(X.shape)} and {tuple(W.shape)}")


# ------------------------------------------------------------------ Triton kernels (defined lazily)
_K = {}


def _kernels():
    global _tile_dot, tl  # jit functions resolve the names they call through the module's globals
    if _K:
        return _K
    import triton
    import triton.language as tl

    @triton.jit
    def _tile_dot(X, W, rows, cols, n, m, k, sxn, sxk, swm, swk, BM: tl.constexpr, BN: tl.constexpr,
                  BK: tl.constexpr):
        # the (BM, BN) tile X[rows] W[cols]ᵀ in float32, the K loop shared by both GEMM kernels
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        for k0 in range(0, k, BK):
            kk = k0 + tl.arange(0, BK)
            a = tl.load(X + rows[:, None] * sxn + kk[None, :] * sxk, mask=(rows[:, None] < n) & (kk[None, :] < k),
                        other=0.0)
            b = tl.load(W + cols[None, :] * swm + kk[:, None] * swk, mask=(cols[None, :] < m) & (kk[:, None] < k),
                        other=0.0)
            acc += tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
        return acc

    @triton.jit
    def _gated_mm(X, W, Mb, Y, n, m, k, sxn, sxk, swm, swk, smn, syn, sym,
                  BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
        pid_m = tl.program_id(0)
        pid_n = tl.program_id(1)
        rows = pid_m * BM + tl.arange(0, BM)
        cols = pid_n * BN + tl.arange(0, BN)
        acc = _tile_dot(X, W, rows, cols, n, m, k, sxn, sxk, swm, swk, BM, BN, BK)
        inb = (rows[:, None] < n) & (cols[None, :] < m)
        words = tl.load(Mb + rows[:, None] * smn + (cols[None, :] // 32), mask=inb, other=0)
        bit = (words >> (cols[None, :] % 32)) & 1
        out = tl.where(bit != 0, acc, 0.0)
        tl.store(Y + rows[:, None] * syn + cols[None, :] * sym, out.to(Y.dtype.element_ty), mask=inb)

    @triton.jit
    def _gather_gemv(W, x, idx, y, r, k, swm, swk, BR: tl.constexpr, BK: tl.constexpr):
        pid = tl.program_id(0)
        o = pid * BR + tl.arange(0, BR)
        rr = tl.load(idx + o, mask=o < r, other=0)
        acc = tl.zeros((BR,), dtype=tl.float32)
        for k0 in range(0, k, BK):
            kk = k0 + tl.arange(0, BK)
            w = tl.load(W + rr[:, None] * swm + kk[None, :] * swk, mask=(o[:, None] < r) & (kk[None, :] < k), other=0.0)
            xv = tl.load(x + kk, mask=kk < k, other=0.0)
            acc += tl.sum(w.to(tl.float32) * xv.to(tl.float32)[None, :], axis=1)
        tl.store(y + o, acc.to(y.dtype.element_ty), mask=o < r)

    @triton.jit
    def _block_mm(X, W, Bm, Y, n, m, k, nb, sxn, sxk, swm, swk, syn, sym,
                  BM: tl.constexpr, BLK: tl.constexpr, BK: tl.constexpr):
        pid_m = tl.program_id(0)
        j = tl.program_id(1)
        rows = pid_m * BM + tl.arange(0, BM)
        cols = j * BLK + tl.arange(0, BLK)
        g = tl.load(Bm + rows * nb + j, mask=rows < n, other=0)
        acc = tl.zeros((BM, BLK), dtype=tl.float32)
        if tl.max(g, axis=0) > 0:  # tile skip: no K loop when every gate of the tile is closed
            acc = _tile_dot(X, W, rows, cols, n, m, k, sxn, sxk, swm, swk, BM, BLK, BK)
        out = tl.where(g[:, None] > 0, acc, 0.0)
        tl.store(Y + rows[:, None] * syn + cols[None, :] * sym, out.to(Y.dtype.element_ty),
                 mask=(rows[:, None] < n) & (cols[None, :] < m))

    @triton.jit
    def _open_rows_gemv(WT, x, idx, y, r, m, swk, swm, BR: tl.constexpr, BN: tl.constexpr):
        # y[cols] = Σ_{o<r} x[idx[o]] WT[idx[o], cols]: each program reads only the open rows, coalesced in cols
        cols = tl.program_id(0) * BN + tl.arange(0, BN)
        acc = tl.zeros((BN,), dtype=tl.float32)
        for o0 in range(0, r, BR):
            o = o0 + tl.arange(0, BR)
            rr = tl.load(idx + o, mask=o < r, other=0)
            xv = tl.load(x + rr, mask=o < r, other=0.0)
            w = tl.load(WT + rr[:, None] * swk + cols[None, :] * swm, mask=(o[:, None] < r) & (cols[None, :] < m),
                        other=0.0)
            acc += tl.sum(w.to(tl.float32) * xv.to(tl.float32)[:, None], axis=0)
        tl.store(y + cols, acc.to(y.dtype.element_ty), mask=cols < m)

    _K.update(gated=_gated_mm, gemv=_gather_gemv, block=_block_mm, open_rows=_open_rows_gemv)
    return _K


# ------------------------------------------------------------------ public entry points
def gated_matmul(X: torch.Tensor, W: torch.Tensor, mask_bits: torch.Tensor, *, backend: str = "auto",
                 BM: int = 32, BN: int = 32, BK: int = 32) -> torch.Tensor:
    """Return ``(X Wᵀ) ⊙ D``, ``(n, m)``, with ``D`` bit-packed in ``mask_bits: (n, ceil(m/32))`` int32."""
    _check(X, W)
    n, m = X.shape[0], W.shape[0]
    if mask_bits.dtype != torch.int32 or tuple(mask_bits.shape) != (n, (m + 31) // 32):
        raise ValueError(f"mask_bits must be int32 of shape ({n}, {(m + 31) // 32}), got {mask_bits.dtype} {tuple(mask_bits.shape)}")
    if choose_backend(backend, X.device) == "torch":
        return gated_matmul_ref(X, W, mask_bits)
    import triton

    Y = torch.empty(n, m, dtype=X.dtype, device=X.device)
    grid = (triton.cdiv(n, BM), triton.cdiv(m, BN))
    _kernels()["gated"][grid](X, W, mask_bits, Y, n, m, X.shape[1], X.stride(0), X.stride(1), W.stride(0), W.stride(1),
                              mask_bits.stride(0), Y.stride(0), Y.stride(1), BM=BM, BN=BN, BK=BK)
    return Y


def _check_rows(idx: torch.Tensor, rows: int) -> None:
    if idx.ndim != 1 or idx.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"idx must be a 1-D int32 or int64 tensor of row indices in [0, {rows}), got {idx.dtype} "
                         f"of shape {tuple(idx.shape)}")
    if idx.numel():
        lo, hi = torch.aminmax(idx)
        if int(lo) < 0 or int(hi) >= rows:
            raise ValueError(f"idx must hold row indices in [0, {rows}), got values in [{int(lo)}, {int(hi)}]")


def gather_gemv(W: torch.Tensor, x: torch.Tensor, idx: torch.Tensor, *, backend: str = "auto", BR: int = 32,
                BK: int = 64) -> torch.Tensor:
    """Return ``W[idx] @ x`` (only the open-gate rows), ``(len(idx),)``; ``idx`` int64 or int32 row indices."""
    if W.ndim != 2 or x.ndim != 1 or x.shape[0] != W.shape[1]:
        raise ValueError(f"W and x must be (m, k) and (k,), got {tuple(W.shape)} and {tuple(x.shape)}")
    _check_rows(idx, W.shape[0])
    if choose_backend(backend, W.device) == "torch":
        return gather_gemv_ref(W, x, idx.long())
    import triton

    r = idx.numel()
    y = torch.empty(r, dtype=W.dtype, device=W.device)
    if r:
        _kernels()["gemv"][(triton.cdiv(r, BR),)](W, x, idx, y, r, W.shape[1], W.stride(0), W.stride(1), BR=BR, BK=BK)
    return y


_C = {}  # the compiled CPU kernel (separate from the Triton cache _K)


def _c_gemv():
    """Return the compiled ``gated_gemv.c`` as ``{(dtype, "idx" | "mask"): ctypes function}``, or ``None`` (no
    compiler; see ``nbs_lib.native``)."""
    if "c" not in _C:
        from pathlib import Path

        from .. import native

        lib = native.load(Path(__file__).with_name("gated_gemv.c"))
        fns = None
        if lib is not None:
            fns = {}
            for dt, tag in ((torch.float32, "f32"), (torch.float64, "f64")):
                for kind, res in (("idx", None), ("mask", ctypes.c_int)):
                    f = getattr(lib, f"gated_gemv_{'mask_' if kind == 'mask' else ''}{tag}")
                    f.restype = res
                    f.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                  ctypes.c_int64, ctypes.c_void_p]
                    fns[dt, kind] = f
        _C["c"] = fns
    return _C["c"]


def _c_usable(WT: torch.Tensor, x: torch.Tensor) -> bool:
    return (WT.device.type == "cpu" and WT.dtype in (torch.float32, torch.float64) and x.dtype == WT.dtype
            and WT.stride(1) == 1 and _c_gemv() is not None)


def _c_mask(fn, WT: torch.Tensor, ld: int, x: torch.Tensor, D: torch.Tensor) -> torch.Tensor:
    """Run the C kernel ``fn`` (a ``gated_gemv_mask_*`` entry point) on checked CPU tensors; return ``y: (m,)``."""
    x, D = x.contiguous(), D.contiguous()
    y = torch.empty(WT.shape[1], dtype=WT.dtype, device=WT.device)
    if fn(WT.data_ptr(), ld, x.data_ptr(), D.data_ptr(), D.numel(), WT.shape[1], y.data_ptr()):
        raise MemoryError("gated_gemv.c could not allocate its index list")
    return y


#: what each backend of :func:`gated_gemv` is, for tables and prose
BACKEND_NAMES = {"c": "compiled C kernel gated_gemv.c, one thread", "torch": "torch embedding_bag",
                 "triton": "Triton kernel"}


def gated_gemv_backend(WT: torch.Tensor, x: torch.Tensor, backend: str = "auto") -> str:
    """Return the backend :func:`gated_gemv` runs for these tensors: ``"triton"``, ``"c"`` or ``"torch"``."""
    if backend not in ("auto", "torch", "triton", "c"):
        raise ValueError(f"backend must be 'auto', 'torch', 'triton' or 'c', got {backend!r}")
    if backend == "c":
        if not _c_usable(WT, x):
            raise ValueError("backend='c' needs CPU float32/float64 tensors of one dtype, WT with unit column "
                             "stride, and a C compiler (CC; NBS_NATIVE=1)")
        return "c"
    b = choose_backend(backend, WT.device)
    return "c" if b == "torch" and backend == "auto" and _c_usable(WT, x) else b


def gated_gemv(WT: torch.Tensor, x: torch.Tensor, gates: torch.Tensor, *, backend: str = "auto", BR: int = 32,
               BN: int = 64) -> torch.Tensor:
    """Return ``W x`` for a gated input, ``(m,)``: ``Σ_{k open} x_k Wᵀ[k]`` reading only the open rows of ``WT``.

    ``WT: (k, m)`` is the stored transpose of the layer's ``W: (m, k)``, ``x: (k,)`` the layer input, and
    ``gates`` its open gates: a bool mask ``(k,)`` or a 1-D tensor of int32/int64 indices (``x`` is zero at the
    closed gates; entries of ``x`` there are never read; a repeated index counts twice). Backends: ``"torch"``:
    ``embedding_bag`` (:func:`gated_gemv_ref`); ``"c"``: the compiled CPU kernel ``gated_gemv.c``
    (float32/float64, ``WT`` with unit column stride; ``nbs_lib.native``; a mask is one call, no index list in
    torch); ``"triton"``: the Triton kernel. ``"auto"``: Triton where usable, else the C kernel on CPU where it
    builds, else torch.
    """
    if WT.ndim != 2 or x.ndim != 1 or x.shape[0] != WT.shape[0]:
        raise ValueError(f"WT and x must be (k, m) and (k,), got {tuple(WT.shape)} and {tuple(x.shape)}")
    if x.device != WT.device or gates.device != WT.device:
        raise ValueError(f"WT, x and gates must be on one device, got {WT.device}, {x.device} and {gates.device}")
    b = gated_gemv_backend(WT, x, backend)
    m = WT.shape[1]
    if gates.dtype == torch.bool:
        if tuple(gates.shape) != (WT.shape[0],):
            raise ValueError(f"a gate mask must have shape ({WT.shape[0]},), got {tuple(gates.shape)}")
        if b == "c":
            return _c_mask(_c_gemv()[WT.dtype, "mask"], WT, WT.stride(0), x, gates)
        idx = torch.nonzero(gates, as_tuple=True)[0]
    else:
        idx = gates
        _check_rows(idx, WT.shape[0])
    if b == "torch":
        return gated_gemv_ref(WT, x, idx.long())
    y = torch.empty(m, dtype=WT.dtype, device=WT.device)
    if b == "c":
        i, xc = idx.long().contiguous(), x.contiguous()
        _c_gemv()[WT.dtype, "idx"](WT.data_ptr(), WT.stride(0), xc.data_ptr(), i.data_ptr(), i.numel(), m,
                                   y.data_ptr())
        return y
    import triton

    _kernels()["open_rows"][(triton.cdiv(m, BN),)](WT, x, idx, y, idx.numel(), m, WT.stride(0), WT.stride(1),
                                                    BR=BR, BN=BN)
    return y


class GatedLayer:
    """A prepared batch-1 gated layer ``x, D ↦ W (D ⊙ x)`` over the stored transpose ``WT: (k, m)``.

    The weights are checked and the backend chosen once (as :func:`gated_gemv_backend`); a call checks only the
    shapes of ``x: (k,)`` and of the bool gate mask ``D: (k,)`` and runs one kernel. On the C backend that is a
    single foreign call that lists the open gates itself, so the layer costs about one operator dispatch, as the
    dense GEMV ``W @ x`` does; other backends go through :func:`gated_gemv`.
    """

    def __init__(self, WT: torch.Tensor, *, backend: str = "auto"):
        if WT.ndim != 2:
            raise ValueError(f"WT must be a 2-D (k, m) tensor, got shape {tuple(WT.shape)}")
        self.WT, self.backend = WT, gated_gemv_backend(WT, WT, backend)
        self._k, self._ld = WT.shape[0], WT.stride(0)
        self._fn = _c_gemv()[WT.dtype, "mask"] if self.backend == "c" else None

    def __call__(self, x: torch.Tensor, D: torch.Tensor) -> torch.Tensor:
        """Return ``W (D ⊙ x)``, ``(m,)``; ``x`` of the weights' dtype, ``D`` bool, both ``(k,)``."""
        if self._fn is None:
            return gated_gemv(self.WT, x, D, backend=self.backend)
        if (x.shape != (self._k,) or D.shape != (self._k,) or D.dtype != torch.bool or x.dtype != self.WT.dtype
                or x.device.type != "cpu" or D.device.type != "cpu"):
            raise ValueError(f"x and D must be ({self._k},) CPU tensors of dtype {self.WT.dtype} and bool, got "
                             f"{x.dtype} {tuple(x.shape)} on {x.device} and {D.dtype} {tuple(D.shape)} on {D.device}")
        return _c_mask(self._fn, self.WT, self._ld, x, D)


def block_gated_matmul(X: torch.Tensor, W: torch.Tensor, block_mask: torch.Tensor, block: int, *, backend: str = "auto",
                       BM: int = 32, BK: int = 32) -> torch.Tensor:
    """Return the block-gated product (module docstring), ``(n, m)``; ``block_mask: (n, m/block)`` bool."""
    _check(X, W)
    n, m = X.shape[0], W.shape[0]
    if block < 1 or m % block:
        raise ValueError(f"block must be a positive divisor of m = {m}, got {block}")
    if tuple(block_mask.shape) != (n, m // block):
        raise ValueError(f"block_mask must have shape ({n}, {m // block}), got {tuple(block_mask.shape)}")
    if choose_backend(backend, X.device) == "torch":
        return block_gated_matmul_ref(X, W, block_mask.bool(), block)
    import triton

    if block < 16 or block & (block - 1):
        raise ValueError(f"the Triton block-gated kernel needs block to be a power of two ≥ 16, got {block}")
    Y = torch.empty(n, m, dtype=X.dtype, device=X.device)
    bm = block_mask.to(torch.int32).contiguous()
    _kernels()["block"][(triton.cdiv(n, BM), m // block)](X, W, bm, Y, n, m, X.shape[1], m // block, X.stride(0), X.stride(1),
                                                           W.stride(0), W.stride(1), Y.stride(0), Y.stride(1),
                                                           BM=BM, BLK=block, BK=BK)
    return Y
