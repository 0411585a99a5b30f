"""The GReLU→ReLU conversion of paper 004 (Theorem 2 as corrected in spec §6.3): layer-wise least squares."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .. import validate
from .model import GReLUNet, ReLUNet

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
                Wk_T = A.transpose(-1, -2) @ torch.linalg.solve(A @ A.transpose(-1, -2) + lam * torch.eye(n, dtype=dt, device=A.device), T)
            else:
                Wk_T = torch.linalg.solve(A.transpose(-1, -2) @ A + lam * torch.eye(m, dtype=dt, device=A.device), A.transpose(-1, -2) @ T)
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
    relu.center = net.center  # a centred net keeps subtracting the same initial function
    f_g = net.forward(X, M).to(dt)
    f_r = relu.forward(X)
    scale = f_g.flatten(1).abs().max(1).values
    report = dict(rel_residual=np.array(resid).T, weight_ratio=np.array(ratio).T, feature_cond=np.array(conds).T,
                  out_rel_maxdiff=((f_r - f_g).flatten(1).abs().max(1).values / scale).cpu().numpy())
    return relu, report


