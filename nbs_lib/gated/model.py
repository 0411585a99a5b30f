"""The GReLU (gated) and ReLU networks of paper 004 (Noy et al.), their bit-packed gate tables and losses.

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
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .. import validate

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
        g = torch.Generator(device="cpu").manual_seed(int(s))
        C = torch.randn(cfg.m, cfg.d_x, generator=g, dtype=torch.float64, device="cpu") * math.sqrt(cfg.sigma_c2 / cfg.d_x)
        W = torch.randn(cfg.L, cfg.m, cfg.m, generator=g, dtype=torch.float64, device="cpu") * math.sqrt(cfg.sigma_w2 / cfg.m)
        B = torch.randn(cfg.d_y, cfg.m, generator=g, dtype=torch.float64, device="cpu") * math.sqrt(cfg.sigma_b2 / cfg.d_y)
        gp = torch.Generator(device="cpu").manual_seed(int(s) + 10_000)
        cols = cfg.m if cfg.gate_mode == "chain" else cfg.d_x
        P = torch.randn(cfg.L, mb, cols, generator=gp, dtype=torch.float64, device="cpu") * math.sqrt(2.0 / cols)
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
        self.center = None  # a frozen copy of the initial net whose output is subtracted (see `centered`)

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
        out = G[-1] @ self.B.transpose(-1, -2)
        return out if self.center is None else out - self.center.forward(X, masks)

    __call__ = forward

    def centered(self):
        """Return a copy whose output is ``f_W(x) − f_{W(0)}(x)`` (the initial function subtracted; OUR CHOICE).

        The random initial function of the paper's parameterisation has an amplitude ∝ √m that training in
        the lazy regime never removes on unseen inputs; subtracting the frozen initial net (Chizat et al.'s
        centring) leaves the gradients and the NTK unchanged and makes the net start from f ≡ 0.
        """
        new = self.clone()
        new.center = self.clone()
        new.center.center = None
        return new

    def clone(self):
        """Return a deep copy (weights copied)."""
        new = object.__new__(type(self))
        new.__dict__.update({k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()})
        new.center = self.__dict__.get("center")  # the frozen initial net is shared, not copied
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
        g = torch.Generator(device="cpu").manual_seed(int(s))
        Cs.append(torch.randn(cfg.m, cfg.d_x, generator=g, dtype=torch.float64, device="cpu") * math.sqrt(cfg.sigma_c2 / cfg.d_x))
        gp = torch.Generator(device="cpu").manual_seed(int(s) + 10_000)
        Ps.append(torch.randn(cfg.L, mb, cols, generator=gp, dtype=torch.float64, device="cpu") * math.sqrt(2.0 / cols))
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


