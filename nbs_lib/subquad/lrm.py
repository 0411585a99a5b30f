"""The low-rank maintenance data structure of paper 003 (Algorithms 3–4, Lemma C.2, Remark C.3).

``LowRankMaintenance`` keeps ``W_ℓ = W_ℓ^{base} + Σ_b U_b V_bᵀ`` without forming the sum (Update appends factors,
erratum E4's sign is the caller's), answers ``Query(ℓ, Y) = (W_ℓ + ΔW_ℓ) Y`` (erratum E7: the full product) for a dense
``Y`` or a sparse one (:class:`SparseCols`, through ``embedding_bag`` on the stored transpose), and restarts —
``W^{base} ← W^{base} + ΔW``, rank back to 0 — when the accumulated rank reaches ``r_max``:

* ``restart='paper'``: ``r_max = ⌈m^a⌉`` with ``a = min(alpha_mm, 1/3)`` (Thm B.1; erratum E6);
* ``restart='never'`` or an integer ``r_max``.

``merge_same_V=True`` adds a new ``U`` into an existing block with the same ``v_key`` (the frozen-feature case of the
last layer, where every update has right factor ``H_{L−1}``): the rank then stays ``n`` forever (the chapter's
Finding 4). ``counters`` counts floating-point operations (``flops``: multiply-adds × 2) and weight entries read.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class SparseCols:
    """Per-column CSR of an ``(n_rows, n)`` matrix: ``idx``, ``val`` (concatenated) and ``offsets: (n,)``."""

    idx: torch.Tensor
    val: torch.Tensor
    offsets: torch.Tensor
    n_rows: int
    n_cols: int

    @property
    def nnz(self) -> int:
        return int(self.idx.numel())


def to_sparse_cols(H: torch.Tensor) -> SparseCols:
    """Return the per-column CSR of ``H: (m, n)`` (the non-zeros of each column, in row order)."""
    Ht = H.T
    nz = Ht != 0
    counts = nz.sum(1)
    cols, rows = nz.nonzero(as_tuple=True)
    offsets = torch.zeros(H.shape[1], dtype=torch.long, device=H.device)
    offsets[1:] = torch.cumsum(counts, 0)[:-1]
    return SparseCols(rows, Ht[cols, rows], offsets, H.shape[0], H.shape[1])


def sparse_left_product(WT: torch.Tensor, Y: SparseCols) -> torch.Tensor:
    """Return ``W Y: (m, n)`` from ``WT = Wᵀ: (m', m)`` and sparse columns ``Y`` (sum of ``nnz`` rows of ``WT``)."""
    out = torch.nn.functional.embedding_bag(Y.idx, WT, Y.offsets, mode="sum", per_sample_weights=Y.val.to(WT.dtype))
    return out.T


class LowRankMaintenance:
    """Algorithms 3–4: implicit ``W_ℓ + ΔW_ℓ`` with ``ΔW_ℓ = Σ U_b V_bᵀ`` (see the module docstring)."""

    def __init__(self, W0: list, *, restart="never", alpha_mm: float = 0.32, merge_same_V: bool = False,
                 store_transpose: bool = True):
        if not W0:
            raise ValueError("W0 must be a non-empty list of matrices")
        self.base = [w.clone() for w in W0]
        self.baseT = [w.T.contiguous() for w in self.base] if store_transpose else None
        self.blocks = [[] for _ in W0]
        self.rank = [0 for _ in W0]
        self.merge_same_V = merge_same_V
        self.r_max = []
        for w in W0:
            if restart == "never":
                self.r_max.append(math.inf)
            elif restart == "paper":
                self.r_max.append(math.ceil(w.shape[0] ** min(alpha_mm, 1 / 3)))
            elif isinstance(restart, int) and restart >= 1:
                self.r_max.append(restart)
            else:
                raise ValueError(f"restart must be 'never', 'paper' or an integer ≥ 1, got {restart!r}")
        self.counters = {"flops": 0, "weight_reads": 0, "restarts": 0, "restart_flops": 0}

    def _layer(self, layer):
        if not isinstance(layer, int) or not 0 <= layer < len(self.base):
            raise ValueError(f"layer must be an integer in [0, {len(self.base) - 1}], got {layer!r}")
        return layer

    def update(self, layer: int, U: torch.Tensor, V: torch.Tensor, v_key=None) -> None:
        """Add ``U Vᵀ`` to ``ΔW_layer`` (``U: (m, k)``, ``V: (m', k)``) without forming it; restart when due."""
        l = self._layer(layer)
        if U.shape[1] != V.shape[1] or U.shape[0] != self.base[l].shape[0] or V.shape[0] != self.base[l].shape[1]:
            raise ValueError(f"U, V must be (m, k), (m', k) for a {tuple(self.base[l].shape)} layer, "
                             f"got {tuple(U.shape)}, {tuple(V.shape)}")
        if self.merge_same_V and v_key is not None:
            for blk in self.blocks[l]:
                if blk[2] == v_key:
                    blk[0].add_(U)
                    self.counters["flops"] += U.numel()
                    return
        self.blocks[l].append([U.clone(), V, v_key])
        self.rank[l] += U.shape[1]
        if self.rank[l] >= self.r_max[l]:
            self.restart(l)

    def restart(self, layer: int) -> None:
        """Fold ``ΔW`` into the base matrix (``2·m·m'·r`` flops with classical GEMM) and reset the rank to 0."""
        l = self._layer(layer)
        if not self.blocks[l]:
            return
        Uc = torch.cat([b[0] for b in self.blocks[l]], 1)
        Vc = torch.cat([b[1] for b in self.blocks[l]], 1)
        self.base[l] += Uc @ Vc.T
        if self.baseT is not None:
            self.baseT[l] = self.base[l].T.contiguous()
        self.counters["flops"] += 2 * self.base[l].numel() * Uc.shape[1]
        self.counters["restart_flops"] += 2 * self.base[l].numel() * Uc.shape[1]
        self.counters["weight_reads"] += self.base[l].numel()
        self.counters["restarts"] += 1
        self.blocks[l] = []
        self.rank[l] = 0

    def query(self, layer: int, Y) -> torch.Tensor:
        """Return ``(W_layer + ΔW_layer) Y`` for ``Y: (m', B)`` dense or :class:`SparseCols` (Alg. 4 Query)."""
        l = self._layer(layer)
        m, mp = self.base[l].shape
        if isinstance(Y, SparseCols):
            if self.baseT is None:
                raise ValueError("sparse queries need store_transpose=True")
            Z = sparse_left_product(self.baseT[l], Y)
            self.counters["flops"] += 2 * m * Y.nnz
            self.counters["weight_reads"] += m * Y.nnz
            for U, V, _ in self.blocks[l]:
                VtY = sparse_left_product(V.contiguous(), Y)               # Vᵀ Y: (k, B)
                Z = Z + U @ VtY
                self.counters["flops"] += 2 * U.shape[1] * Y.nnz + 2 * m * U.shape[1] * Y.n_cols
        else:
            Z = self.base[l] @ Y
            self.counters["flops"] += 2 * m * mp * Y.shape[1]
            self.counters["weight_reads"] += m * mp
            for U, V, _ in self.blocks[l]:
                Z = Z + U @ (V.T @ Y)
                self.counters["flops"] += 2 * U.shape[1] * Y.shape[1] * (m + mp)
        return Z

    def query_T(self, layer: int, Y: torch.Tensor) -> torch.Tensor:
        """Return ``(W_layer + ΔW_layer)ᵀ Y`` for dense ``Y: (m, B)`` (backpropagation, Lemma C.4)."""
        l = self._layer(layer)
        Z = self.base[l].T @ Y
        for U, V, _ in self.blocks[l]:
            Z = Z + V @ (U.T @ Y)
        return Z

    def materialize(self, layer: int) -> torch.Tensor:
        """Return the dense ``W_layer + ΔW_layer`` (tests only)."""
        l = self._layer(layer)
        W = self.base[l].clone()
        for U, V, _ in self.blocks[l]:
            W += U @ V.T
        return W
