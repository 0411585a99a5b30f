"""GReLU (gated) and ReLU networks of paper 004 (Noy et al.), their NTKs, the GReLU→ReLU conversion and theory helpers.

Architecture (paper §2.1, Fig. 1; spec §1.2). Only the hidden ``m×m`` matrices ``W_1..W_L`` are trained; the
input layer ``C: (m, d_x)``, the output layer ``B: (d_y, m)`` and the gate matrices ``Ψ_k`` are fixed. The
gates come from a separate *gating ReLU network* started from the same ``C``::

    z_0 = relu(C x),  z_k = relu(Ψ_k z_{k-1}),  D_k = diag(1[z_k > 0])        (gate_mode="chain", the paper)
    D_k = diag(1[Ψ_k x > 0]),  Ψ_k: (m, d_x)                                   (gate_mode="input", Lemma 4)
    g_0 = D_0 C x = relu(C x),  g_k = D_k W_k g_{k-1},  f(x) = B g_L              (eq. (1))

Initialisation: ``C ~ N(0, σ_C²/d_x)``, ``W_k ~ N(0, σ_W²/m)``, ``B ~ N(0, σ_B²/d_y)`` (paper: σ² = 2), no
biases, no ``1/√m`` factors. The ReLU baseline uses the same ``C, W, B`` with ``h_k = relu(W_k h_{k-1})``.

Shapes: rows are examples. A network holds ``S`` independent draws (seeds) along a leading axis:
``C: (S, m, d_x)``, ``W: (S, L, m, m)``, ``B: (S, d_y, m)``; inputs ``X: (n, d_x)`` are shared by the seeds,
outputs are ``(S, n, d_y)``. Gate tables are bit-packed ``int32`` words along ``m`` (:class:`GateTable`).

Loss (eq. (2)): ``ℓ = ½ Σ_i ‖f(x_i) − y_i‖²`` (a sum). Training is GD/mini-batch GD with a constant step and
manual, in-place back-propagation (spec §6.2). The exact finite-width NTK is spec §1.7(a); the closed forms
§1.7(c); the conversion (Theorem 2 as corrected) §6.3.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from . import kernels as _kernels
from . import validate

GATE_MODES = ("chain", "input")


# ============================================================================ bit packing
def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """Return ``mask: (..., m)`` (bool) packed into ``int32`` words ``(..., ceil(m/32))``; bit j of word w is ``mask[32w+j]``."""
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
    m = mask.shape[-1]
    nw = (m + 31) // 32
    pad = nw * 32 - m
    if pad:
        mask = torch.nn.functional.pad(mask, (0, pad))
    words = mask.reshape(*mask.shape[:-1], nw, 32).to(torch.int64)
    shifts = torch.arange(32, device=mask.device, dtype=torch.int64)
    packed = (words << shifts).sum(-1)
    packed = torch.where(packed >= 2 ** 31, packed - 2 ** 32, packed)
    return packed.to(torch.int32)


def unpack_bits(bits: torch.Tensor, m: int) -> torch.Tensor:
    """Return the bool mask ``(..., m)`` stored in the ``int32`` words ``bits: (..., ceil(m/32))`` (inverse of :func:`pack_bits`)."""
    if bits.dtype != torch.int32:
        raise ValueError(f"bits must be an int32 tensor, got {bits.dtype}")
    if bits.shape[-1] != (m + 31) // 32:
        raise ValueError(f"bits must have ceil(m/32) = {(m + 31) // 32} words for m = {m}, got {bits.shape[-1]}")
    shifts = torch.arange(32, device=bits.device, dtype=torch.int32)
    out = ((bits.unsqueeze(-1) >> shifts) & 1).bool()
    return out.reshape(*bits.shape[:-1], -1)[..., :m]


@dataclass
class GateTable:
    """The binary gate look-up table ``D_0..D_L`` of ``n`` examples, bit-packed.

    ``bits: (L+1, S, n, ceil(m/32))`` int32; ``m``: width. ``unpack(k)`` returns layer ``k``'s bool mask ``(S, n, m)``.
    Storage is ``n·m·(L+1)`` bits per seed, 32× less than float32 masks.
    """

    bits: torch.Tensor
    m: int

    @classmethod
    def from_masks(cls, masks: list[torch.Tensor]) -> "GateTable":
        """Return the packed table of a list of ``L+1`` bool masks ``(S, n, m)``."""
        return cls(torch.stack([pack_bits(M) for M in masks]), int(masks[0].shape[-1]))

    @property
    def L(self) -> int:
        return self.bits.shape[0] - 1

    @property
    def n(self) -> int:
        return self.bits.shape[2]

    def unpack(self, k: int, rows=None) -> torch.Tensor:
        """Return the bool mask of layer ``k`` (0..L), ``(S, n, m)`` (or only ``rows``)."""
        b = self.bits[k]
        if rows is not None:
            b = b[:, rows]
        return unpack_bits(b, self.m)

    def dense(self, dtype=torch.float64, rows=None) -> list[torch.Tensor]:
        """Return every layer's mask as a ``dtype`` tensor ``(S, n, m)`` (list of ``L+1``)."""
        return [self.unpack(k, rows).to(dtype) for k in range(self.L + 1)]

    def nbytes(self) -> int:
        """Return the table's storage in bytes."""
        return self.bits.numel() * 4


# ============================================================================ networks
@dataclass
class GatedConfig:
    """Sizes and initialisation of a GReLU/ReLU network (spec §1.2). ``seeds``: one network per seed."""

    d_x: int
    d_y: int
    m: int
    L: int
    gate_mode: str = "chain"
    block_size: int = 1
    sigma_c2: float = 2.0
    sigma_w2: float = 2.0
    sigma_b2: float = 2.0
    seeds: tuple = (0,)
    dtype: torch.dtype = torch.float64
    device: str = "cpu"

    def __post_init__(self):
        validate.positive_int("d_x", self.d_x)
        validate.positive_int("d_y", self.d_y)
        validate.positive_int("m", self.m)
        validate.positive_int("L", self.L)
        validate.one_of("gate_mode", self.gate_mode, GATE_MODES)
        validate.positive_int("block_size", self.block_size)
        if self.m % self.block_size:
            raise ValueError(f"block_size must divide m = {self.m}, got {self.block_size}")
        for name in ("sigma_c2", "sigma_w2", "sigma_b2"):
            validate.positive(name, getattr(self, name))
        if isinstance(self.seeds, int):
            self.seeds = (self.seeds,)
        self.seeds = tuple(validate.nonnegative_int("seeds", int(s)) for s in self.seeds)
        if not self.seeds:
            raise ValueError("seeds must hold at least one seed")


def _draw(cfg: GatedConfig):
    """Return ``C, W, B, Psi`` stacked over seeds; ``W, C, B`` from ``seed``, ``Ψ`` from ``seed + 10000``."""
    Cs, Ws, Bs, Ps = [], [], [], []
    mb = cfg.m // cfg.block_size
    for s in cfg.seeds:
        g = torch.Generator().manual_seed(int(s))
        C = torch.randn(cfg.m, cfg.d_x, generator=g, dtype=torch.float64) * math.sqrt(cfg.sigma_c2 / cfg.d_x)
        W = torch.randn(cfg.L, cfg.m, cfg.m, generator=g, dtype=torch.float64) * math.sqrt(cfg.sigma_w2 / cfg.m)
        B = torch.randn(cfg.d_y, cfg.m, generator=g, dtype=torch.float64) * math.sqrt(cfg.sigma_b2 / cfg.d_y)
        gp = torch.Generator().manual_seed(int(s) + 10_000)
        cols = cfg.m if cfg.gate_mode == "chain" else cfg.d_x
        P = torch.randn(cfg.L, mb, cols, generator=gp, dtype=torch.float64) * math.sqrt(2.0 / cols)
        Cs.append(C), Ws.append(W), Bs.append(B), Ps.append(P)
    to = dict(dtype=cfg.dtype, device=cfg.device)
    return (torch.stack(Cs).to(**to), torch.stack(Ws).to(**to), torch.stack(Bs).to(**to), torch.stack(Ps).to(**to))


def _check_X(X: torch.Tensor, d_x: int, name="X"):
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[1] != d_x:
        raise ValueError(f"{name} must be a (n, d_x={d_x}) tensor, got {getattr(X, 'shape', type(X))}")


class _Net:
    """Common part of :class:`GReLUNet` and :class:`ReLUNet`: fixed ``C, B``, trained ``W`` (stacked over seeds)."""

    kind = "net"

    def __init__(self, cfg: GatedConfig, C, W, B):
        self.cfg, self.C, self.W, self.B = cfg, C, W, B

    @property
    def S(self) -> int:
        return self.W.shape[0]

    @property
    def L(self) -> int:
        return self.W.shape[1]

    @property
    def m(self) -> int:
        return self.C.shape[-2]

    def masks(self, X: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def features(self, X: torch.Tensor, masks=None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Return ``(G, M)``: post-activation features ``g_0..g_L`` and float masks ``D_0..D_L``, each ``(S, n, m)``."""
        raise NotImplementedError  # pragma: no cover

    def forward(self, X: torch.Tensor, masks=None) -> torch.Tensor:
        """Return the outputs ``f(X): (S, n, d_y)``."""
        G, _ = self.features(X, masks)
        return G[-1] @ self.B.transpose(-1, -2)

    __call__ = forward

    def clone(self):
        """Return a deep copy (weights copied)."""
        new = object.__new__(type(self))
        new.__dict__.update({k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()})
        return new


class GReLUNet(_Net):
    """The GReLU network of the paper: fixed random gates from a gating ReLU network (module docstring)."""

    kind = "grelu"

    def __init__(self, cfg: GatedConfig, *, C=None, W=None, B=None, Psi=None):
        if C is None or W is None or B is None or Psi is None:
            C0, W0, B0, P0 = _draw(cfg)
            C, W, B, Psi = (C0 if C is None else C), (W0 if W is None else W), (B0 if B is None else B), (P0 if Psi is None else Psi)
        super().__init__(cfg, C, W, B)
        self.Psi = Psi

    def gate_masks(self, X: torch.Tensor) -> list[torch.Tensor]:
        """Return the bool gates ``D_0..D_L`` of ``X`` as a list of ``(S, n, m)`` tensors (gating network, spec §6.1)."""
        _check_X(X, self.cfg.d_x)
        X = X.to(self.C.dtype)
        pre = X @ self.C.transpose(-1, -2)
        out = [pre > 0]
        z = pre.clamp_min(0)
        b = self.cfg.block_size
        for k in range(self.L):
            src = z if self.cfg.gate_mode == "chain" else X
            a = src @ self.Psi[:, k].transpose(-1, -2)
            if b > 1:
                a = a.repeat_interleave(b, dim=-1)
            out.append(a > 0)
            if self.cfg.gate_mode == "chain":
                z = a.clamp_min(0)  # block mode: the gating feature is the block value repeated b times
        return out

    def build_gates(self, X: torch.Tensor) -> GateTable:
        """Return the bit-packed gate table of ``X`` (computed once, spec §6.1)."""
        return GateTable.from_masks(self.gate_masks(X))

    def _float_masks(self, X, masks):
        if masks is None:
            return [M.to(self.C.dtype) for M in self.gate_masks(X)]
        if isinstance(masks, GateTable):
            return masks.dense(self.C.dtype)
        return [M.to(self.C.dtype) for M in masks]

    def features(self, X, masks=None):
        _check_X(X, self.cfg.d_x)
        M = self._float_masks(X, masks)
        G = [(X.to(self.C.dtype) @ self.C.transpose(-1, -2)).clamp_min(0)]
        for k in range(self.L):
            G.append((G[-1] @ self.W[:, k].transpose(-1, -2)) * M[k + 1])
        return G, M

    @classmethod
    def from_relu(cls, relu: "ReLUNet") -> "GReLUNet":
        """Return the GReLU net that freezes ``relu``'s current patterns: ``Ψ_k ← W_k`` (paper §4.1), same ``C, W, B``."""
        if not relu.last_relu:
            raise ValueError("relu.last_relu must be True to freeze its patterns as gates (D_L comes from the last ReLU)")
        cfg = replace(relu.cfg, gate_mode="chain", block_size=1)
        return cls(cfg, C=relu.C.clone(), W=relu.W.clone(), B=relu.B.clone(), Psi=relu.W.clone())


class ReLUNet(_Net):
    """The ReLU baseline with the same parameterisation: ``h_k = relu(W_k h_{k-1})``, ``f = B h_L``.

    ``last_relu=False`` drops the ReLU after the last hidden layer (``f = B W_L h_{L-1}``), which the
    GReLU→ReLU conversion needs (spec §1.8 item 4).
    """

    kind = "relu"

    def __init__(self, cfg: GatedConfig, *, C=None, W=None, B=None, last_relu: bool = True):
        if C is None or W is None or B is None:
            C0, W0, B0, _ = _draw(cfg)
            C, W, B = (C0 if C is None else C), (W0 if W is None else W), (B0 if B is None else B)
        super().__init__(cfg, C, W, B)
        self.last_relu = bool(last_relu)

    def features(self, X, masks=None):
        _check_X(X, self.cfg.d_x)
        pre = X.to(self.C.dtype) @ self.C.transpose(-1, -2)
        G, M = [pre.clamp_min(0)], [(pre > 0).to(pre.dtype)]
        for k in range(self.L):
            pre = G[-1] @ self.W[:, k].transpose(-1, -2)
            if k == self.L - 1 and not self.last_relu:
                M.append(torch.ones_like(pre))
                G.append(pre)
            else:
                Mk = (pre > 0).to(pre.dtype)
                M.append(Mk)
                G.append(pre * Mk)
        return G, M

    def masks(self, X) -> list[torch.Tensor]:
        """Return the activation patterns ``1[W_k h_{k-1} > 0]`` (bool), ``D_0..D_L``."""
        return [M.bool() for M in self.features(X)[1]]


def gating_net(cfg: GatedConfig) -> GReLUNet:
    """Return a GReLU net whose trained ``W`` is not drawn (a placeholder): for gate statistics only (fast).

    ``C`` and ``Ψ`` are the same as those of ``GReLUNet(cfg)``; ``forward``/training must not be used.
    """
    Cs, Ps = [], []
    mb = cfg.m // cfg.block_size
    cols = cfg.m if cfg.gate_mode == "chain" else cfg.d_x
    for s in cfg.seeds:
        g = torch.Generator().manual_seed(int(s))
        Cs.append(torch.randn(cfg.m, cfg.d_x, generator=g, dtype=torch.float64) * math.sqrt(cfg.sigma_c2 / cfg.d_x))
        gp = torch.Generator().manual_seed(int(s) + 10_000)
        Ps.append(torch.randn(cfg.L, mb, cols, generator=gp, dtype=torch.float64) * math.sqrt(2.0 / cols))
    to = dict(dtype=cfg.dtype, device=cfg.device)
    W = torch.zeros(len(cfg.seeds), cfg.L, 1, 1, **to)
    B = torch.zeros(len(cfg.seeds), cfg.d_y, cfg.m, **to)
    return GReLUNet(cfg, C=torch.stack(Cs).to(**to), W=W, B=B, Psi=torch.stack(Ps).to(**to))


def make_pair(cfg: GatedConfig) -> tuple[GReLUNet, ReLUNet]:
    """Return a GReLU net and a ReLU net sharing ``C, W(0), B`` (paper §6: "initialise both with the same W̄_0")."""
    g = GReLUNet(cfg)
    r = ReLUNet(cfg, C=g.C.clone(), W=g.W.clone(), B=g.B.clone())
    return g, r


# ============================================================================ loss, NTK
def sum_loss(net: _Net, X, Y, masks=None) -> torch.Tensor:
    """Return ``ℓ = ½ Σ_i ‖f(x_i) − y_i‖²`` per seed, ``(S,)`` (eq. (2))."""
    R = net.forward(X, masks) - _as_Y(Y, net)
    return 0.5 * R.square().sum((1, 2))


def mse(net: _Net, X, Y, masks=None) -> torch.Tensor:
    """Return the per-example ``(1/n) Σ_i ‖f(x_i) − y_i‖²`` per seed, ``(S,)`` (our reading of Table 2, spec §1.8 item 5)."""
    R = net.forward(X, masks) - _as_Y(Y, net)
    return R.square().sum((1, 2)) / X.shape[0]


def _as_Y(Y, net):
    Y = Y.to(net.C.dtype)
    if Y.ndim == 1:
        Y = Y[:, None]
    return Y


def ntk(net: _Net, X: torch.Tensor, masks=None) -> torch.Tensor:
    """Return the exact finite-width NTK w.r.t. the trained ``W``: ``(S, n, d_y, n, d_y)`` (spec §1.7(a), eq. (24)).

    ``K_pq(x_i, x_j) = Σ_k ⟨b_k^{i,p}, b_k^{j,q}⟩ ⟨g_{k-1}^i, g_{k-1}^j⟩`` with ``b_L = D_L Bᵀ e_p`` and
    ``b_{k-1} = D_{k-1} W_kᵀ b_k``; the same formula holds for ReLU nets with their own patterns.
    """
    G, M = net.features(X, masks)
    S, n, dy = net.S, X.shape[0], net.B.shape[1]
    b = net.B[:, :, None, :] * M[-1][:, None]  # (S, dy, n, m)
    K = torch.zeros(S, dy, n, dy, n, dtype=G[0].dtype, device=G[0].device)
    for k in range(net.L, 0, -1):
        gram = G[k - 1] @ G[k - 1].transpose(-1, -2)  # (S, n, n)
        bb = torch.einsum("spig,sqjg->spiqj", b, b)
        K += bb * gram[:, None, :, None, :]
        if k > 1:
            b = (b @ net.W[:, k - 1][:, None]) * M[k - 1][:, None]
    return K.permute(0, 2, 1, 4, 3)


def ntk_gram(net: _Net, X, masks=None, p: int = 0) -> torch.Tensor:
    """Return the NTK Gram of output ``p``, ``(S, n, n)``."""
    return ntk(net, X, masks)[:, :, p, :, p]


def ntk_gate_expected(net: GReLUNet, X, masks=None) -> torch.Tensor:
    """Return ``E_{W,B}[K(x_i,x_j) | C, Ψ] = L (m/d_y) ⟨relu(Cx_i), relu(Cx_j)⟩ Π_l 2 o_l(i,j)/m``, ``(S, n, n)`` (spec §1.7(b)).

    Valid for σ² = 2 (paper init); ``o_l`` is the gate overlap of layer ``l``; exact in expectation over ``W, B``.
    """
    if masks is None:
        masks = net.gate_masks(X)
    M = [mm.to(net.C.dtype) for mm in (masks.dense(net.C.dtype) if isinstance(masks, GateTable) else masks)]
    A = (X.to(net.C.dtype) @ net.C.transpose(-1, -2)).clamp_min(0)
    K = net.L * net.m / net.cfg.d_y * (A @ A.transpose(-1, -2))
    for l in range(1, net.L + 1):
        K = K * (2 * (M[l] @ M[l].transpose(-1, -2)) / net.m)
    return K


def autograd_ntk(net: _Net, X: torch.Tensor, seed_index: int = 0, masks=None) -> torch.Tensor:
    """Return the NTK of seed ``seed_index`` by ``nbs_lib.ntk.empirical_ntk`` (autograd reference), ``(n·d_y, n·d_y)``."""
    from .ntk import empirical_ntk

    s = seed_index
    C, B = net.C[s], net.B[s]
    if isinstance(net, GReLUNet):
        Ms = net._float_masks(X, masks)
        Mi = torch.stack([mm[s] for mm in Ms], dim=1)  # (n, L+1, m)
        Xa = torch.cat([X.to(C.dtype), Mi.reshape(X.shape[0], -1)], dim=1)

        def fn(p, xa):
            x, mk = xa[: net.cfg.d_x], xa[net.cfg.d_x:].reshape(net.L + 1, net.m)
            g = (C @ x).clamp_min(0)
            for k in range(net.L):
                g = (p["W"][k] @ g) * mk[k + 1]
            return B @ g
    else:
        Xa = X.to(C.dtype)

        def fn(p, x):
            h = (C @ x).clamp_min(0)
            for k in range(net.L):
                h = p["W"][k] @ h
                if k < net.L - 1 or net.last_relu:
                    h = h.clamp_min(0)
            return B @ h
    return empirical_ntk(fn, {"W": net.W[s]}, Xa)


def layer_spectra(net: _Net, X, masks=None) -> tuple[np.ndarray, np.ndarray]:
    """Return the eigenvalues of ``G_kᵀG_k`` (units ``m/d_x``) and ``F_{k+1}F_{k+1}ᵀ`` (units ``m/d_y``) over examples and layers.

    ``G_k = D_k W_k ⋯ D_1 W_1 D_0 C`` (``m×d_x``) and ``F_{k+1} = B D_L W_L ⋯ W_{k+1} D_k`` (``d_y×m``) per
    example (Theorem 5 / eqs. (14)–(15)); returns flat arrays ``(S·n·L·d_x,)`` and ``(S·n·L·d_y,)``.
    """
    _, M = net.features(X, masks)
    Gm = M[0][..., None] * net.C[:, None]  # (S, n, m, d_x)
    ev_g = []
    for k in range(net.L):
        ev_g.append(torch.linalg.eigvalsh(Gm.transpose(-1, -2) @ Gm))
        Gm = M[k + 1][..., None] * (net.W[:, k][:, None] @ Gm)
    Fm = net.B[:, None] * M[-1][:, :, None, :]  # (S, n, d_y, m)
    ev_f = []
    for k in range(net.L, 0, -1):
        ev_f.append(torch.linalg.eigvalsh(Fm @ Fm.transpose(-1, -2)))
        Fm = (Fm @ net.W[:, k - 1][:, None]) * M[k - 1][:, :, None, :]
    ux, uy = net.m / net.cfg.d_x, net.m / net.cfg.d_y
    return (torch.cat([e.flatten() for e in ev_g]).cpu().numpy() / ux, torch.cat([e.flatten() for e in ev_f]).cpu().numpy() / uy)


def thm5_bounds() -> tuple[float, float]:
    """Return Theorem 5's eigenvalue band ``[1/12, 27/4]`` in units of ``m/d_x`` (or ``m/d_y``)."""
    return 1 / 12, 27 / 4


# ============================================================================ closed forms (spec §1.7)
def kappa0(u):
    """Return ``κ_0(u) = 1 − arccos(u)/π`` (arc-cosine kernel of degree 0, normalised so κ_0(1) = 1)."""
    return _kernels.arccos_of_cosine(torch.as_tensor(u, dtype=torch.float64), 0)


def kappa1(u):
    """Return ``κ_1(u) = (√(1−u²) + (π − arccos u) u)/π`` (degree 1, κ_1(1) = 1, κ_1(0) = 1/π)."""
    return _kernels.arccos_of_cosine(torch.as_tensor(u, dtype=torch.float64), 1)


def ntk_closed_form(X1, X2=None, L: int = 1, *, arch: str = "grelu_chain", normalized: bool = True, m=None,
                    d_x=None, d_y: int = 1) -> torch.Tensor:
    """Return the infinite-width NTK between unit rows of ``X1`` and ``X2``, ``(n1, n2)`` (spec §1.7(c), DERIVED).

    ``arch``: ``grelu_chain`` ``K = κ_1(u) Π_{l=1}^L κ_0(ρ_{l-1})``, ``grelu_input`` ``κ_1(u) κ_0(u)^L``,
    ``relu`` ``(1/L) Σ_k ρ_{k-1} Π_{l=k}^L κ_0(ρ_{l-1})`` with ``ρ_0 = κ_1(u)``, ``ρ_l = κ_1(ρ_{l-1})``;
    normalised so ``K(x,x) = 1``; with ``normalized=False`` multiplied by ``L m²/(d_x d_y)`` (needs ``m, d_x``).
    """
    validate.positive_int("L", L)
    validate.one_of("arch", arch, ("grelu_chain", "grelu_input", "relu"))
    X1 = X1.to(torch.float64)
    X2 = X1 if X2 is None else X2.to(torch.float64)
    u = ((X1 / X1.norm(dim=1, keepdim=True)) @ (X2 / X2.norm(dim=1, keepdim=True)).T).clamp(-1, 1)
    rho = kappa1(u)
    if arch == "grelu_input":
        K = rho * kappa0(u) ** L
    elif arch == "grelu_chain":
        K = rho.clone()
        r = rho
        for _ in range(L):
            K = K * kappa0(r)
            r = kappa1(r)
    else:
        rhos = [rho]
        for _ in range(L - 1):
            rhos.append(kappa1(rhos[-1]))
        K = torch.zeros_like(rho)
        for k in range(L):
            prod = torch.ones_like(rho)
            for l in range(k, L):
                prod = prod * kappa0(rhos[l])
            K = K + rhos[k] * prod
        K = K / L
    if not normalized:
        if m is None or d_x is None:
            raise ValueError("m and d_x must be given when normalized=False")
        K = K * L * m * m / (d_x * d_y)
    return K


def ntk_normalized_offdiag(u: float, L: int, arch: str = "grelu_chain") -> float:
    """Return ``K(x,x')/K(x,x)`` at cosine ``u`` (closed form)."""
    x1 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    x2 = torch.tensor([[u, math.sqrt(max(0.0, 1 - u * u))]], dtype=torch.float64)
    return float(ntk_closed_form(x1, x2, L, arch=arch)[0, 0])


def ntk_diag(m: int, d_x: int, d_y: int, L: int, sigma_c2=2.0, sigma_w2=2.0, sigma_b2=2.0) -> float:
    """Return the GReLU NTK diagonal ``L (σ_C²/2)(σ_B²/2)(σ_W²/2)^{L-1} m²/(d_x d_y)`` (spec §1.2, DERIVED)."""
    return L * (sigma_c2 / 2) * (sigma_b2 / 2) * (sigma_w2 / 2) ** (L - 1) * m * m / (d_x * d_y)


def gate_overlap_theory(u: float, L: int, gate_mode: str = "chain") -> np.ndarray:
    """Return the predicted gate-overlap fractions ``q_l = κ_0(ρ_{l-1})/2``, ``l = 1..L`` (chain) or ``κ_0(u)/2`` (input)."""
    validate.one_of("gate_mode", gate_mode, GATE_MODES)
    if gate_mode == "input":
        return np.full(L, float(kappa0(u)) / 2)
    r, out = float(kappa1(u)), []
    for _ in range(L):
        out.append(float(kappa0(r)) / 2)
        r = float(kappa1(r))
    return np.array(out)


def forward_corr_theory(u: float, L: int, gate_mode: str = "chain", arch: str = "grelu") -> np.ndarray:
    """Return the normalised forward kernel ``⟨g_k(x), g_k(x')⟩/(m/d_x)``, ``k = 0..L`` (spec §1.7(c)); ReLU: ``ρ_k``."""
    r = float(kappa1(u))
    out = [r]
    if arch == "relu":
        for _ in range(L):
            r = float(kappa1(r))
            out.append(r)
        return np.array(out)
    c = r
    for _ in range(L):
        c *= float(kappa0(r if gate_mode == "chain" else u))
        r = float(kappa1(r))
        out.append(c)
    return np.array(out)


def gate_overlaps(masks: list[torch.Tensor], i=0, j=1) -> np.ndarray:
    """Return the measured overlap fractions ``|I_l^i ∩ I_l^j|/m``, layers ``l = 1..L``, averaged over seeds (and pairs).

    ``i, j``: example indices, or equal-length index lists of several pairs to average over.
    """
    return np.array([float((M[:, i].bool() & M[:, j].bool()).double().mean()) for M in masks[1:]])


# ============================================================================ training
@dataclass
class TrainResult:
    """History of a training run: ``loss`` (T+1, S) full-set sum losses (eq. 2); other records when asked."""

    loss: np.ndarray
    steps: int
    diverged: np.ndarray
    records: dict = field(default_factory=dict)
    wall_time: float = 0.0


def _backward_step(net: _Net, G, M, R, eta, grads_out=None):
    """Update ``net.W`` in place by ``W_k ← W_k − η Δ_kᵀ G_{k-1}`` (spec §6.2); optionally store the gradients."""
    delta = (R @ net.B) * M[-1]
    for k in range(net.L, 0, -1):
        prev = (delta @ net.W[:, k - 1]) * M[k - 1] if k > 1 else None
        grad = delta.transpose(-1, -2) @ G[k - 1]
        if grads_out is not None:
            grads_out[:, k - 1] = grad
        net.W[:, k - 1] -= eta[:, None, None] * grad
        delta = prev


def train(net: _Net, X, Y, *, eta, steps: int | None = None, epochs: int | None = None, batch_size: int | None = None,
          masks=None, tol_rel: float | None = 1e-14, X_val=None, Y_val=None, record=("loss",), augment=None,
          seed: int = 0, eval_every: int = 1) -> TrainResult:
    """Train ``net.W`` in place by (mini-batch) GD with constant ``eta`` on the sum loss; return a :class:`TrainResult`.

    ``eta``: float or ``(S,)`` (one per seed). Full batch with ``steps`` (``batch_size=None``) or ``epochs`` of
    shuffled mini-batches. GReLU gates come from ``masks`` (table or list; computed once if None) unless
    ``augment(rows, generator)`` is given (it returns the augmented unit inputs of those train rows), when they are recomputed for each augmented batch (one extra Ψ
    forward). ``record`` ⊂ {"loss", "val_loss", "grad_diff", "hamming", "tau", "ntk_change"}: loss is the
    full clean-train sum loss (per step full batch, per epoch otherwise); ``grad_diff`` ‖g_t − g_{t−1}‖;
    ``hamming`` ReLU pattern churn on ``X_val`` between evaluations (layers 1..L); ``tau`` max_k ‖W_k − W_k(0)‖
    (Frobenius and spectral); ``ntk_change`` ‖K_T − K_0‖_F/‖K_0‖_F. A seed whose loss turns non-finite is
    marked diverged, frozen, and its later losses are NaN. ``tol_rel`` stops when every seed has ℓ/ℓ_0 below it.
    """
    S, n = net.S, X.shape[0]
    Y = _as_Y(Y, net)
    eta = torch.as_tensor(eta, dtype=net.W.dtype, device=net.W.device).reshape(-1)
    if eta.numel() == 1:
        eta = eta.expand(S).clone()
    if eta.numel() != S or not bool(torch.isfinite(eta).all()) or bool((eta <= 0).any()):
        raise ValueError(f"eta must be a finite positive number or one per seed ({S}), got {eta.tolist()}")
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps (full batch) or epochs (mini-batch)")
    if batch_size is not None:
        validate.positive_int("batch_size", batch_size, maximum=n)
    is_g = isinstance(net, GReLUNet)
    Mfull = net._float_masks(X, masks) if (is_g and augment is None) else None
    rec = {k: [] for k in record if k != "loss"}
    W0 = net.W.clone() if ("tau" in record) else None
    K0 = ntk_gram(net, X, Mfull) if "ntk_change" in record else None
    prev_grad = torch.zeros_like(net.W) if "grad_diff" in record else None
    gbuf = torch.zeros_like(net.W) if "grad_diff" in record else None
    val_masks_prev = [M.bool() for M in net.features(X_val)[1][1:]] if ("hamming" in record and not is_g) else None
    dead = torch.zeros(S, dtype=torch.bool, device=net.W.device)
    gen = torch.Generator().manual_seed(int(seed))

    def full_loss():
        with torch.no_grad():
            return sum_loss(net, X, Y, Mfull if Mfull is not None else None)

    fullbatch = steps is not None and augment is None
    losses = [] if fullbatch else [full_loss()]
    l0 = None if fullbatch else losses[0].clone()
    t_start = time.perf_counter()
    n_iter = steps if steps is not None else epochs
    done, stop = 0, False
    for it in range(n_iter):
        if batch_size is None or steps is not None:
            batches = [None]
        else:
            perm = torch.randperm(n, generator=gen)
            batches = [perm[s:s + batch_size] for s in range(0, n, batch_size)]
        gd_sq = []
        for idx in batches:
            Xb, Yb = (X, Y) if idx is None else (X[idx], Y[idx])
            if augment is not None:
                Xb = augment(torch.arange(n) if idx is None else idx, gen)
                Mb = None
            elif Mfull is not None:
                Mb = Mfull if idx is None else [mm[:, idx] for mm in Mfull]
            else:
                Mb = None
            G, M = net.features(Xb, Mb)
            R = G[-1] @ net.B.transpose(-1, -2) - Yb
            if fullbatch:  # the loss of W_t is read off the step's own forward pass
                lt = 0.5 * R.square().sum((1, 2))
                dead |= ~torch.isfinite(lt) | (lt > 1e30)
                losses.append(torch.where(dead, torch.full_like(lt, float("nan")), lt))
                l0 = lt.clone() if l0 is None else l0
                if tol_rel is not None and bool(((lt / l0 < tol_rel) | dead).all()):
                    stop = True
                    break
            bad = ~torch.isfinite(R).flatten(1).all(1)
            dead |= bad
            R = torch.where(dead[:, None, None], torch.zeros_like(R), R)
            e = torch.where(dead, torch.zeros_like(eta), eta)
            _backward_step(net, G, M, R, e, gbuf)
            if gbuf is not None:
                gd_sq.append((gbuf - prev_grad).flatten(1).norm(dim=1))
                prev_grad.copy_(gbuf)
        if stop:
            break
        done = it + 1
        if gbuf is not None:
            rec["grad_diff"].append(torch.stack(gd_sq).mean(0).cpu().numpy())
        if done % eval_every == 0 or done == n_iter:
            if not fullbatch:
                lt = full_loss()
                dead |= ~torch.isfinite(lt) | (lt > 1e30)
                lt = torch.where(dead, torch.full_like(lt, float("nan")), lt)
                losses.append(lt)
            if "val_loss" in rec:
                with torch.no_grad():
                    rec["val_loss"].append(mse(net, X_val, Y_val).cpu().numpy())
            if val_masks_prev is not None:
                cur = [mm.bool() for mm in net.features(X_val)[1][1:]]
                ham = torch.stack([(a != b).double().mean((1, 2)) for a, b in zip(cur, val_masks_prev)]).mean(0)
                rec["hamming"].append(ham.cpu().numpy())
                val_masks_prev = cur
            if not fullbatch and tol_rel is not None and bool(((lt / l0 < tol_rel) | dead).all()):
                break
    if fullbatch and not stop:
        lt = full_loss()
        dead |= ~torch.isfinite(lt) | (lt > 1e30)
        losses.append(torch.where(dead, torch.full_like(lt, float("nan")), lt))
    wall = time.perf_counter() - t_start
    if W0 is not None:
        dW = net.W - W0
        rec["tau_F"] = dW.flatten(2).norm(dim=2).max(1).values.cpu().numpy()
        rec["tau_2"] = torch.linalg.matrix_norm(dW, ord=2).max(1).values.cpu().numpy()
        rec.pop("tau", None)
    if K0 is not None:
        KT = ntk_gram(net, X, Mfull)
        rec["ntk_change"] = ((KT - K0).flatten(1).norm(dim=1) / K0.flatten(1).norm(dim=1)).cpu().numpy()
    out = {k: (np.array(v) if isinstance(v, list) else v) for k, v in rec.items()}
    return TrainResult(torch.stack(losses).cpu().numpy(), done, dead.cpu().numpy(), out, wall)


def lambda_max(net: _Net, X, masks=None) -> torch.Tensor:
    """Return ``λ_max`` of the output-0 NTK Gram per seed, ``(S,)``."""
    return torch.linalg.eigvalsh(ntk_gram(net, X, masks))[:, -1]


def eta_ntk(net: _Net, X, c: float = 1.0, masks=None) -> torch.Tensor:
    """Return the step ``c / λ_max(K_0)`` per seed, ``(S,)`` (GD on the sum loss is stable for ``c < 2``)."""
    validate.positive("c", c)
    return c / lambda_max(net, X, masks)


def gram_condition(K: torch.Tensor) -> torch.Tensor:
    """Return ``λ_max/λ_min`` of symmetric ``K: (..., n, n)``."""
    ev = torch.linalg.eigvalsh(K)
    return ev[..., -1] / ev[..., 0]


def kernel_gd_steps(K: torch.Tensor, eps: float = 1e-6, c: float = 1.0, max_steps: int = 10 ** 7) -> int:
    """Return the steps that linearised GD ``r ← (I − ηK) r``, ``η = c/λ_max``, needs to reduce ``‖r‖²`` by ``eps`` (worst eigen-direction).

    Exact for the worst case: ``T = ⌈log(eps) / (2 log(1 − η λ_min))⌉``.
    """
    ev = torch.linalg.eigvalsh(K.to(torch.float64))
    rate = abs(1 - c * float(ev[0] / ev[-1]))
    rate = max(rate, abs(1 - c))
    if rate >= 1:
        return max_steps
    return int(math.ceil(math.log(eps) / (2 * math.log(rate))))


# ============================================================================ conversion (Theorem 2, spec §6.3)
def grelu_to_relu(net: GReLUNet, X, *, lam: float = 0.0, rcond: float = 1e-12, last_relu: bool = False,
                  masks=None) -> tuple[ReLUNet, dict]:
    """Return the ReLU net whose train outputs match ``net`` (layer-wise minimum-norm least squares) and a report.

    For each layer ``W̃_kᵀ = A_{k-1}^† T_k``, where ``T_k`` are the GReLU post-gate outputs on the train set and
    ``A_{k-1}`` the converted net's own post-ReLU features (``A_0 = relu(X Cᵀ)``). ``lam > 0`` gives ridge.
    Exact (round-off) when every ``A_{k-1}`` has rank ``n`` (needs ``n ≤ m``) and the converted net has no ReLU
    after its last hidden layer (``last_relu=False``). Solved in float64. Report: per-layer relative residual,
    ``‖W̃_k‖_F/‖W_k‖_F``, the train outputs' relative max difference, and the feature condition numbers.
    """
    validate.nonnegative("lam", lam)
    dt = torch.float64
    X = X.to(dt)
    M = [mm.to(dt) for mm in net._float_masks(X, masks)]
    C, W, B = net.C.to(dt), net.W.to(dt), net.B.to(dt)
    A = (X @ C.transpose(-1, -2)).clamp_min(0)
    Gp = A
    Wt, resid, ratio, conds = [], [], [], []
    n, m = X.shape[0], net.m
    for k in range(net.L):
        T = (Gp @ W[:, k].transpose(-1, -2)) * M[k + 1]
        if lam > 0:
            if n <= m:
                Wk_T = A.transpose(-1, -2) @ torch.linalg.solve(A @ A.transpose(-1, -2) + lam * torch.eye(n, dtype=dt), T)
            else:
                Wk_T = torch.linalg.solve(A.transpose(-1, -2) @ A + lam * torch.eye(m, dtype=dt), A.transpose(-1, -2) @ T)
        else:
            Wk_T = torch.linalg.pinv(A, rtol=rcond) @ T
        sv = torch.linalg.svdvals(A)
        conds.append((sv[:, 0] / sv[:, -1]).cpu().numpy())
        U = A @ Wk_T
        resid.append(((U - T).flatten(1).norm(dim=1) / T.flatten(1).norm(dim=1)).cpu().numpy())
        Wt.append(Wk_T.transpose(-1, -2))
        ratio.append((Wt[-1].flatten(1).norm(dim=1) / W[:, k].flatten(1).norm(dim=1)).cpu().numpy())
        A = U.clamp_min(0)
        Gp = T
    relu = ReLUNet(replace(net.cfg, dtype=dt), C=C.clone(), W=torch.stack(Wt, 1), B=B.clone(), last_relu=last_relu)
    f_g = net.forward(X, M).to(dt)
    f_r = relu.forward(X)
    scale = f_g.flatten(1).abs().max(1).values
    report = dict(rel_residual=np.array(resid).T, weight_ratio=np.array(ratio).T, feature_cond=np.array(conds).T,
                  out_rel_maxdiff=((f_r - f_g).flatten(1).abs().max(1).values / scale).cpu().numpy())
    return relu, report


# ============================================================================ statistics (Remark 3, §4.4)
def unit_stats(G: list[torch.Tensor]) -> np.ndarray:
    """Return ``|mean|/rms`` of the hidden units per layer ``k = 1..L`` (bias-shift statistic of Remark 3)."""
    return np.array([float(g.mean().abs() / g.square().mean().sqrt()) for g in G[1:]])


def born_dead(masks: list[torch.Tensor]) -> np.ndarray:
    """Return the fraction of neurons whose gate is off for every example, per layer ``1..L`` (mean over seeds)."""
    return np.array([float((~M.bool().any(1)).double().mean()) for M in masks[1:]])


def flop_fractions(masks: list[torch.Tensor]) -> dict:
    """Return the FLOP fractions of a gated layer relative to dense (spec §6.5), averaged over layers 1..L.

    ``output``: only rows with an open gate computed (≈ 1/2); ``both``: also skipping inputs that are zero
    (gate of the previous layer closed, ≈ 1/4); ``weight_grad``: outer products over active rows × cols (≈ 1/4).
    """
    Mf = [mm.double() for mm in masks]
    out = np.mean([float(Mf[k].mean()) for k in range(1, len(Mf))])
    both = np.mean([float((Mf[k].mean(-1) * Mf[k - 1].mean(-1)).mean()) for k in range(1, len(Mf))])
    return dict(output=float(out), both=float(both), weight_grad=float(both))


def gate_agreement_lowrank(Psi: torch.Tensor, Z: torch.Tensor, r):
    """Return the fraction of gates ``1[Ψ_r z > 0] == 1[Ψ z > 0]``, ``Ψ_r`` the rank-``r`` truncated SVD (§4.4 "NMA").

    ``r``: an int (returns a float) or a list of ranks (returns a list; one SVD for all).
    """
    ranks = [r] if isinstance(r, int) else list(r)
    for rk in ranks:
        validate.positive_int("r", rk, maximum=min(Psi.shape))
    U, s, Vh = torch.linalg.svd(Psi.to(torch.float64), full_matrices=False)
    Zd = Z.to(torch.float64)
    full = Zd @ Psi.T.to(torch.float64) > 0
    ZV = Zd @ Vh.T  # (n, min) projections on the right singular vectors
    out = []
    for rk in ranks:
        approx = (ZV[:, :rk] * s[:rk]) @ U[:, :rk].T > 0
        out.append(float((approx == full).double().mean()))
    return out[0] if isinstance(r, int) else out


# ============================================================================ theory helpers (Table 1, Theorem 1, Lemma 3)
TABLE1 = [
    # work, log10 neurons(n, L), iterations (text), probability, GD step (text), remarks
    ("Du et al. [2019]", None, "1/(ηλ₀) log 1/ε", "p", "λ₀/n²", "λ₀⁻¹ = poly(e^L, n); smooth activation"),
    ("Zou et al. [2018]", lambda n, L: 26 * np.log10(n) + 38 * np.log10(L), "n⁸L⁹", "–", "1/(n²⁹L⁴⁷)", "binary classification"),
    ("Allen-Zhu et al. [2019]", lambda n, L: 24 * np.log10(n) + 12 * np.log10(L), "n⁶L² log 1/ε", "e^(−log² m)",
     "1/(n²⁸ log⁵m L¹⁴)", "∝ Poly(max y)"),
    ("Zou & Gu [2019]", lambda n, L: 8 * np.log10(n) + 12 * np.log10(L), "n²L² log 1/ε", "1/n", "1/(n⁸L¹⁴)", "–"),
    ("Noy et al. (GReLU)", lambda n, L: 2 * np.log10(n) + np.log10(L), "log(n³L/(d_x ε))", "e^(−√m)", "d_x/(n⁴L³d_y)",
     "L = Ω(log n)"),
]


def table1(n: float, L: float):
    """Return Table 1 of the paper as a DataFrame, with ``log10`` width and parameters ``m²L`` at ``(n, L)``."""
    import pandas as pd

    validate.positive("n", n)
    validate.positive("L", L)
    rows = []
    for work, f, iters, prob, step, rem in TABLE1:
        lm = f(n, L) if f is not None else float("nan")
        rows.append({"work": work, "#neurons (log10 m)": lm, "params m²L (log10)": 2 * lm + np.log10(L) if f else float("nan"),
                     "#iterations": iters, "probability": prob, "GD step": step, "remarks": rem})
    return pd.DataFrame(rows)


def theorem1(n: int, L: int, d_x: int, d_y: int = 1, eps: float = 1e-6) -> dict:
    """Return Theorem 1's width ``m = n²L d_y``, step ``η = d_x/(n⁴L³d_y)``, and iteration bound ``T = c_T log(n³L/(d_x ε))``.

    Also ``eta_times_Kxx`` = η·K(x,x) at that width (exactly 1, spec §1.5) and ``c_T = 2·81²``.
    """
    m = n * n * L * d_y
    eta = d_x / (n ** 4 * L ** 3 * d_y)
    c_T = 2 * 81 ** 2
    return dict(m=m, eta=eta, eta_times_Kxx=eta * ntk_diag(m, d_x, d_y, L), c_T=c_T,
                T_bound=c_T * math.log(n ** 3 * L / (d_x * eps)))


def lemma3_rate(eta: float, m: int, d_x: int, d_y: int, L: int) -> float:
    """Return Lemma 3's per-step contraction ``η α² L / 2`` with Theorem 5's ``α = m/(12√(d_x d_y))``."""
    alpha = m / (12 * math.sqrt(d_x * d_y))
    return eta * alpha * alpha * L / 2


# ============================================================================ data
def ackley_like(n: int, d: int, seed: int = 0, partner: str = "reverse") -> tuple[torch.Tensor, torch.Tensor]:
    """Return the "complex Ackley" regression of paper §4.1 (spec §4.1): unit inputs ``X: (n, d)``, standardised ``y: (n, 1)``.

    ``y = Σ_j x_{p(j)} (log|x_j| (cos x_j + x_j³ sin x_j) + √|x_j|)`` on raw Gaussian ``x``; partner
    ``p(j) = d−1−j`` (``reverse``) or ``(d−j) mod d`` (``cyclic``).
    """
    validate.positive_int("n", n)
    validate.int_in("d", d, 2, 10 ** 6)
    validate.one_of("partner", partner, ("reverse", "cyclic"))
    xr = np.random.default_rng(seed).standard_normal((n, d))
    part = xr[:, ::-1] if partner == "reverse" else xr[:, (d - np.arange(d)) % d]
    a = np.abs(xr)
    y = (part * (np.log(a) * (np.cos(xr) + xr ** 3 * np.sin(xr)) + np.sqrt(a))).sum(1)
    y = (y - y.mean()) / y.std()
    X = xr / np.linalg.norm(xr, axis=1, keepdims=True)
    return torch.from_numpy(X), torch.from_numpy(y[:, None])


def unit_rows(X: np.ndarray, mean=None, std=None):
    """Return ``(X_unit, mean, std)``: per-feature standardisation, then per-example ℓ2 normalisation (spec §4.3)."""
    mean = X.mean(0) if mean is None else mean
    std = X.std(0) if std is None else std
    Z = (X - mean) / np.where(std > 0, std, 1.0)
    nr = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.where(nr > 0, nr, 1.0), mean, std


def image_regression(n_train: int, n_test: int, seed: int = 0, root=None):
    """Return ``(X, Y, X_te, Y_te, raw_train, stats, source)`` for the CIFAR-10 experiment (one-hot targets in R^10).

    Uses CIFAR-10 from ``root``/``$NBS_CIFAR10_DIR`` when given (``nbs_lib.data``), else scikit-learn's digits.
    ``raw_train`` (unstandardised, for augmentation) and ``stats = (mean, std)``.
    """
    from . import data

    validate.positive_int("n_train", n_train)
    validate.positive_int("n_test", n_test)
    ds = data.image_dataset(root, seed=seed)
    if len(ds.y) < n_train + n_test:
        raise ValueError(f"n_train + n_test must be at most {len(ds.y)} for {ds.source}, got {n_train + n_test}")
    idx = np.random.default_rng(seed).permutation(len(ds.y))
    tr, te = idx[:n_train], idx[n_train:n_train + n_test]
    Xtr, mu, sd = unit_rows(ds.X[tr])
    Xte, _, _ = unit_rows(ds.X[te], mu, sd)
    eye = np.eye(10)
    return (torch.from_numpy(Xtr), torch.from_numpy(eye[ds.y[tr]]), torch.from_numpy(Xte), torch.from_numpy(eye[ds.y[te]]),
            ds.X[tr], (mu, sd), ds.source)


def augment_images(Xraw: torch.Tensor, gen: torch.Generator, stats, side: int, noise: float = 0.05) -> torch.Tensor:
    """Return unit rows of randomly shifted (±1 pixel, circular) raw images ``Xraw: (b, c·side²)`` with Gaussian noise.

    A stand-in for RandAugment (spec §4.3): one random shift per batch, then per-feature standardisation with
    ``stats = (mean, std)`` of the clean training set, then ``noise``·N(0, 1) in standardised units, then ℓ2
    normalisation.
    """
    b = Xraw.shape[0]
    c = Xraw.shape[1] // (side * side)
    imgs = Xraw.reshape(b, c, side, side)
    sh = torch.randint(-1, 2, (2,), generator=gen)
    imgs = torch.roll(imgs, shifts=(int(sh[0]), int(sh[1])), dims=(2, 3)).reshape(b, -1).numpy()
    mean, std = stats
    Z = (imgs - mean) / np.where(std > 0, std, 1.0)
    Z = Z + noise * torch.randn(Z.shape, generator=gen, dtype=torch.float64).numpy()
    Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    return torch.from_numpy(Z)
