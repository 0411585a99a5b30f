"""Sketching the Jacobian of rank-one rows, and solving the Gram regression on the sketch (paper 003, §D).

Convention (generic, rows are samples): ``U: (n, m1)``, ``V: (n, m2)``; the matrix being sketched is
``J: (n, m1·m2)`` with row i equal to ``u_i ⊗ v_i = kron(u_i, v_i)`` (row-major ``vec(u vᵀ)``). ``J`` is never formed.

* :func:`fwht` — unnormalised fast Walsh–Hadamard transform in torch (``O(m log m)`` per row).
* :class:`TensorSketch` (Def. D.2) — ``S_{r,(i,j)} = σ1(i)σ2(j)·1[h1(i)+h2(j) ≡ r mod s]``, applied as the circular
  convolution of two CountSketches via the FFT (Remark D.3, Lemma D.5).
* :class:`TensorSRHT` (Def. D.6) — ``S = (1/√s)·P·(HD1 × HD2)`` (row-wise product), applied with two FWHTs and a
  sampled elementwise product (Lemma D.9).
* :func:`gram_hadamard` — the exact Gram ``J Jᵀ = (U Uᵀ) ⊙ (V Vᵀ)`` (Fact E.1), the reference.
* :func:`sketch_and_solve` — ``x̃ = (J̃J̃ᵀ)^{-1} c`` with ``J̃ = J Sᵀ`` (Theorem D.10).
* :func:`sketch_pcg` — conjugate gradients on ``Q x = c`` preconditioned by the sketched Gram ``Q̃ = J̃J̃ᵀ``.
* :func:`subspace_embedding_error` — ``‖Q^{−1/2} Q̃ Q^{−1/2} − I‖₂`` (Lemmas D.4, D.8).

Both sketch classes satisfy ``E[SᵀS] = I`` so ``E⟨S(u⊗v), S(u'⊗v')⟩ = ⟨u,u'⟩⟨v,v'⟩``. Hash tables are fully random
(stronger than the 3-/4-wise independence the paper needs), drawn from ``seed``.
"""
from __future__ import annotations

import math

import torch

from .. import validate

SKETCHES = ("tensorsketch", "srht")


def fwht(A: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Return the unnormalised Walsh–Hadamard transform of ``A`` along ``dim`` (length a power of two).

    Equals ``A @ H`` with ``H = scipy.linalg.hadamard(m)`` (Sylvester order); ``O(m log m)`` per row, ``log2 m``
    reshape-butterfly passes, no m×m matrix.
    """
    A = A.movedim(dim, -1)
    m = A.shape[-1]
    if m < 1 or m & (m - 1):
        raise ValueError(f"the transformed dimension must have a power-of-two length, got {m}")
    lead = A.shape[:-1]
    X = A.reshape(-1, m)
    h = 1
    while h < m:
        X = X.reshape(-1, m // (2 * h), 2, h)
        x, y = X[:, :, 0, :], X[:, :, 1, :]
        X = torch.stack((x + y, x - y), dim=2)
        h *= 2
    return X.reshape(*lead, m).movedim(-1, dim)


def hadamard_matrix(m: int, dtype=torch.float64) -> torch.Tensor:
    """Return the m×m Sylvester Hadamard matrix (entries ±1; for tests and explicit sketches only)."""
    return fwht(torch.eye(m, dtype=dtype, device="cpu"))


def _next_pow2(m: int) -> int:
    return 1 << (m - 1).bit_length()


class CountSketch:
    """CountSketch ``C: R^m → R^s``, ``(C x)_r = Σ_{i: h(i)=r} σ(i) x_i``; applied to rows of ``A: (n, m)``."""

    def __init__(self, m: int, s: int, *, seed: int, device=None):
        validate.positive_int("m", m)
        validate.positive_int("s", s)
        g = torch.Generator(device="cpu").manual_seed(int(seed))
        self.m, self.s = m, s
        self.h = torch.randint(0, s, (m,), generator=g, device="cpu").to(device)
        self.sign = (2 * torch.randint(0, 2, (m,), generator=g, device="cpu") - 1).to(device)

    def apply(self, A: torch.Tensor) -> torch.Tensor:
        """Return ``A Cᵀ: (n, s)`` in ``O(nnz(A))`` (``index_add``)."""
        out = torch.zeros(*A.shape[:-1], self.s, dtype=A.dtype, device=A.device)
        return out.index_add_(-1, self.h.to(A.device), A * self.sign.to(A.device, A.dtype))


def _check_dims(m1: int, m2: int, s: int) -> tuple[int, int, int]:
    """Return ``(m1, m2, s)`` of a tensor sketch after checking that each is a positive integer."""
    for name, v in (("m1", m1), ("m2", m2), ("s", s)):
        validate.positive_int(name, v)
    return m1, m2, s


class TensorSketch:
    """TensorSketch ``S ∈ R^{s × m1·m2}`` of Def. D.2, applied to rank-one rows through the FFT."""

    def __init__(self, m1: int, m2: int, s: int, *, seed: int, device=None):
        self.m1, self.m2, self.s = _check_dims(m1, m2, s)
        self.c1 = CountSketch(m1, s, seed=seed, device=device)
        self.c2 = CountSketch(m2, s, seed=seed + 7919, device=device)

    def apply(self, U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        """Return ``J̃ = J Sᵀ: (n, s)`` for ``J`` with rows ``u_i ⊗ v_i``, in ``O(n s log s + nnz(U) + nnz(V))``."""
        _check_rows(U, V, self.m1, self.m2)
        A = torch.fft.rfft(self.c1.apply(U), n=self.s, dim=-1)
        B = torch.fft.rfft(self.c2.apply(V), n=self.s, dim=-1)
        return torch.fft.irfft(A * B, n=self.s, dim=-1)

    def explicit_matrix(self, dtype=torch.float64) -> torch.Tensor:
        """Return ``S: (s, m1·m2)`` entry by entry from Def. D.2 (tests only; small m)."""
        i = torch.arange(self.m1, device="cpu").repeat_interleave(self.m2)
        j = torch.arange(self.m2, device="cpu").repeat(self.m1)
        rows = (self.c1.h.cpu()[i] + self.c2.h.cpu()[j]) % self.s
        S = torch.zeros(self.s, self.m1 * self.m2, dtype=dtype, device="cpu")
        S[rows, torch.arange(self.m1 * self.m2, device="cpu")] = (self.c1.sign.cpu()[i] * self.c2.sign.cpu()[j]).to(dtype)
        return S


class TensorSRHT:
    """TensorSRHT ``S = (1/√s)·P·(H D1 × H D2)`` of Def. D.6; inputs are zero-padded to a power of two ``m'``."""

    def __init__(self, m1: int, m2: int, s: int, *, seed: int, device=None):
        self.m1, self.m2, self.s = _check_dims(m1, m2, s)
        self.mp = _next_pow2(max(m1, m2))
        g = torch.Generator(device="cpu").manual_seed(int(seed))
        self.d1 = (2 * torch.randint(0, 2, (self.mp,), generator=g, device="cpu") - 1).to(device)
        self.d2 = (2 * torch.randint(0, 2, (self.mp,), generator=g, device="cpu") - 1).to(device)
        self.p = torch.randint(0, self.mp, (s,), generator=g, device="cpu").to(device)
        self.q = torch.randint(0, self.mp, (s,), generator=g, device="cpu").to(device)

    def _pad(self, A, m):
        if m == self.mp:
            return A
        return torch.nn.functional.pad(A, (0, self.mp - m))

    def transforms(self, U: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(H D1 u_i, H D2 v_i)`` row-wise: two ``(n, m')`` FWHTs."""
        A = fwht(self._pad(U, self.m1) * self.d1.to(U.device, U.dtype))
        B = fwht(self._pad(V, self.m2) * self.d2.to(V.device, V.dtype))
        return A, B

    def apply(self, U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        """Return ``J̃ = J Sᵀ: (n, s)`` in ``O(n (m' log m' + s))``."""
        _check_rows(U, V, self.m1, self.m2)
        A, B = self.transforms(U, V)
        return A[..., self.p.to(A.device)] * B[..., self.q.to(B.device)] / math.sqrt(self.s)

    def explicit_matrix(self, dtype=torch.float64) -> torch.Tensor:
        """Return ``S: (s, m1·m2)`` from Def. D.6 (tests only; small m)."""
        Hd = hadamard_matrix(self.mp, dtype)
        A = Hd[self.p.cpu()][:, : self.m1] * self.d1.cpu()[: self.m1].to(dtype)   # (s, m1)
        B = Hd[self.q.cpu()][:, : self.m2] * self.d2.cpu()[: self.m2].to(dtype)   # (s, m2)
        return (A.unsqueeze(2) * B.unsqueeze(1)).reshape(self.s, -1) / math.sqrt(self.s)


def _check_rows(U, V, m1, m2):
    if U.shape[-1] != m1 or V.shape[-1] != m2 or U.shape[:-1] != V.shape[:-1]:
        raise ValueError(f"U and V must be (n, {m1}) and (n, {m2}), got {tuple(U.shape)} and {tuple(V.shape)}")


def make_sketch(kind: str, m1: int, m2: int, s: int, *, seed: int, device=None):
    """Return a :class:`TensorSketch` (``kind='tensorsketch'``) or :class:`TensorSRHT` (``'srht'``)."""
    if kind == "tensorsketch":
        return TensorSketch(m1, m2, s, seed=seed, device=device)
    if kind == "srht":
        return TensorSRHT(m1, m2, s, seed=seed, device=device)
    raise ValueError(f"sketch must be one of {SKETCHES}, got {kind!r}")


def gram_hadamard(U: torch.Tensor, V: torch.Tensor | None = None, *, K_V: torch.Tensor | None = None) -> torch.Tensor:
    """Return the exact Gram ``J Jᵀ = (U Uᵀ) ⊙ (V Vᵀ)`` (Fact E.1), ``(n, n)``; pass ``K_V = V Vᵀ`` to reuse it."""
    if K_V is None:
        if V is None:
            raise ValueError("give V or K_V")
        K_V = V @ V.T
    return (U @ U.T) * K_V


def solve_gram(Q: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Return ``(x, info)`` solving ``Q x = c`` for a PSD Gram in float64 (Cholesky, else least squares).

    Samples with ``Q_ii = 0`` (a zero Jacobian row: a "dead sample") cannot be fitted; they are reported in
    ``info['n_dead']`` and solved for in the least-squares sense on the others (their ``x_i = 0``).
    """
    Q64, c64 = Q.to(torch.float64), c.to(torch.float64)
    diag = torch.diagonal(Q64)
    alive = diag > 1e-14 * diag.abs().max().clamp_min(1e-300)
    n_dead = int((~alive).sum())
    Qa, ca = (Q64, c64) if n_dead == 0 else (Q64[alive][:, alive], c64[alive])   # no copies when all are alive
    L, bad = torch.linalg.cholesky_ex(Qa)
    if int(bad) == 0:
        xa = torch.cholesky_solve(ca.unsqueeze(1), L).squeeze(1)
        method = "cholesky"
    else:
        xa = torch.linalg.lstsq(Qa, ca.unsqueeze(1)).solution.squeeze(1)
        method = "lstsq"
    if n_dead:
        x = torch.zeros_like(c64)
        x[alive] = xa
        xa = x
    return xa.to(c.dtype), {"n_dead": n_dead, "method": method}


def sketched_gram(U: torch.Tensor, V: torch.Tensor, *, sketch: str = "srht", s: int, seed: int = 0) -> torch.Tensor:
    """Return ``Q̃ = J̃ J̃ᵀ`` with ``J̃ = J Sᵀ`` (``n × n``, float64)."""
    validate.positive_int("s", s)
    S = make_sketch(sketch, U.shape[-1], V.shape[-1], s, seed=seed, device=U.device)
    Jt = S.apply(U, V).to(torch.float64)
    return Jt @ Jt.T


def sketch_and_solve(U: torch.Tensor, V: torch.Tensor, c: torch.Tensor, *, sketch: str = "srht", s: int,
                     seed: int = 0) -> tuple[torch.Tensor, dict]:
    """Return ``(x̃, info)`` with ``x̃ = Q̃^{-1} c`` (Theorem D.10: ``‖Q x̃ − c‖ ≤ O(ε)‖c‖`` when S is an ε-embedding)."""
    n = U.shape[0]
    Qt = sketched_gram(U, V, sketch=sketch, s=s, seed=seed)
    x, info = solve_gram(Qt + 1e-12 * torch.trace(Qt) / n * torch.eye(n, dtype=Qt.dtype, device=Qt.device), c)
    info.update(s=s, sketch=sketch, rank_deficient=s < n)
    return x, info


def sketch_pcg(Q: torch.Tensor, U: torch.Tensor, V: torch.Tensor, c: torch.Tensor, *, s: int, sketch: str = "srht",
               tol: float = 1e-8, maxit: int = 200, seed: int = 0) -> tuple[torch.Tensor, dict]:
    """Return ``(x, info)``: preconditioned CG on ``Q x = c`` with preconditioner ``Q̃ = J̃J̃ᵀ`` (Cholesky-applied).

    ``info = {'iters', 'converged', 'rel_res', 'kappa_pre': κ(Q̃^{-1}Q)}``; theory: ``κ(Q̃^{-1}Q) ≤ (1+ε)/(1−ε)`` so
    the iteration count does not depend on ``κ(Q)``.
    """
    n = Q.shape[0]
    Q64, c64 = Q.to(torch.float64), c.to(torch.float64)
    Qt = sketched_gram(U, V, sketch=sketch, s=s, seed=seed)
    Qt = Qt + 1e-12 * torch.trace(Qt) / n * torch.eye(n, dtype=Qt.dtype, device=Qt.device)
    R, bad = torch.linalg.cholesky_ex(Qt)
    if int(bad) != 0:
        raise ValueError(f"the sketched Gram is singular at s={s} (need s ≥ n = {n} and a full-rank sketch)")
    prec = lambda r: torch.cholesky_solve(r.unsqueeze(1), R).squeeze(1)
    x, it, conv, r = _pcg(Q64, c64, prec, tol, maxit)
    cn = float(c64.norm())
    ev = torch.linalg.eigvals(torch.linalg.solve(Qt, Q64)).real
    return x.to(c.dtype), {"iters": it, "converged": conv, "rel_res": float(r.norm()) / cn,
                           "kappa_pre": float(ev.max() / ev.min())}


def _pcg(Q64: torch.Tensor, c64: torch.Tensor, prec, tol: float, maxit: int):
    """Run (preconditioned) CG on ``Q x = c`` with ``prec: r ↦ M⁻¹r``; return ``(x, iterations, converged, r)``
    where ``r`` is the last residual (the loop stops once ``‖r‖ ≤ tol‖c‖``)."""
    x = torch.zeros_like(c64)
    r = c64.clone()
    z = prec(r)
    p = z.clone()
    cn = float(c64.norm())
    it = 0
    for it in range(1, maxit + 1):
        Ap = Q64 @ p
        alpha = (r @ z) / (p @ Ap)
        x = x + alpha * p
        r_new = r - alpha * Ap
        if float(r_new.norm()) <= tol * cn:
            return x, it, True, r_new
        z_new = prec(r_new)
        beta = (r_new @ z_new) / (r @ z)
        p = z_new + beta * p
        r, z = r_new, z_new
    return x, it, False, r


def cg_iterations(Q: torch.Tensor, c: torch.Tensor, *, tol: float = 1e-8, maxit: int = 2000) -> int:
    """Return the number of plain (unpreconditioned) CG iterations to reach ``‖Qx − c‖ ≤ tol‖c‖`` (maxit if never)."""
    return _pcg(Q.to(torch.float64), c.to(torch.float64), lambda r: r, tol, maxit)[1]


def subspace_embedding_error(Q: torch.Tensor, Qt: torch.Tensor) -> float:
    """Return ``ε̂ = ‖Q^{−1/2} Q̃ Q^{−1/2} − I‖₂`` (the smallest ε with ``(1−ε)Q ⪯ Q̃ ⪯ (1+ε)Q``)."""
    w, Vv = torch.linalg.eigh(Q.to(torch.float64))
    Qmh = (Vv / torch.sqrt(w.clamp_min(1e-300))) @ Vv.T
    M = Qmh @ Qt.to(torch.float64) @ Qmh
    ev = torch.linalg.eigvalsh((M + M.T) / 2)
    return float((ev - 1).abs().max())
