"""Gate statistics of paper 004: bias shift and born-dead neurons (Remark 3), gate overlaps (Lemma 4), FLOP
fractions and the low-rank gate approximation (§4.4)."""
from __future__ import annotations

import numpy as np
import torch

from .. import validate

def gate_overlaps(masks: list[torch.Tensor], i=0, j=1) -> np.ndarray:
    """Return the measured overlap fractions ``|I_l^i ∩ I_l^j|/m``, layers ``l = 1..L``, averaged over seeds (and pairs).

    ``i, j``: example indices, or equal-length index lists of several pairs to average over.
    """
    return np.array([float((M[:, i].bool() & M[:, j].bool()).double().mean()) for M in masks[1:]])



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


