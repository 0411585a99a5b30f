"""The empirical neural tangent kernel by automatic differentiation (``torch.func``).

This is the reference every closed-form NTK in the book is tested against. For a network
``fn(params, x) -> (n_out,)`` (or a scalar) evaluated on ``X: (N, ...)``::

    Θ[(i, a), (j, b)] = Σ_p  ∂f_a(x_i)/∂p · ∂f_b(x_j)/∂p

returned as an ``(N·n_out, N·n_out)`` matrix with the output index fastest (the column-first ``vec`` of an
``n_out × N`` output matrix), or as ``(N, n_out, N, n_out)`` with ``flatten=False``.
"""
from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch.func import jacrev, vmap


def jacobian(fn: Callable, params: Mapping[str, torch.Tensor], X: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return the per-sample Jacobians ``{name: (N, n_out, *param.shape)}`` of ``fn(params, x)``."""
    def f(p, x):
        out = fn(p, x)
        return out.reshape(-1)

    return vmap(jacrev(f), in_dims=(None, 0))(dict(params), X)


def empirical_ntk(
    fn: Callable, params: Mapping[str, torch.Tensor], X: torch.Tensor, *, flatten: bool = True,
    chunk: int | None = None,
) -> torch.Tensor:
    """Return the empirical NTK of ``fn`` at ``params`` on ``X`` (see the module docstring for the layout).

    ``chunk`` bounds the number of samples whose Jacobians are held at once (memory), at no cost in
    accuracy.
    """
    N = X.shape[0]
    chunk = chunk or N
    jac = []
    for s in range(0, N, chunk):
        J = jacobian(fn, params, X[s : s + chunk])
        jac.append(torch.cat([j.reshape(j.shape[0], j.shape[1], -1) for j in J.values()], dim=2))
    J = torch.cat(jac, dim=0)  # (N, n_out, P)
    n_out = J.shape[1]
    flat = J.reshape(N * n_out, -1)
    theta = flat @ flat.T
    return theta if flatten else theta.reshape(N, n_out, N, n_out)
