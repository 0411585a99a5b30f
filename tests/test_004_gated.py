"""Unit tests of chapter 004 (GReLU surrogate networks): nbs_lib.gated and nbs_lib.sgemm against independent computations."""
import math

import numpy as np
import pytest
import torch

import nbs_lib as nl
from nbs_lib import gated as gt
from nbs_lib.gated import sgemm

torch.set_num_threads(1)


def _unit(n, d, seed=0):
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return X / X.norm(dim=1, keepdim=True)


def _pair(u, d):
    X = torch.zeros(2, d, dtype=torch.float64)
    X[0, 0] = 1.0
    X[1, 0], X[1, 1] = u, math.sqrt(1 - u * u)
    return X


# ---------------------------------------------------------------- gate tables
def test_pack_unpack_round_trip_and_bit_layout():
    M = torch.rand(3, 5, 77, generator=torch.Generator().manual_seed(1)) > 0.5
    bits = gt.pack_bits(M)
    assert bits.dtype == torch.int32 and bits.shape == (3, 5, 3)
    assert torch.equal(gt.unpack_bits(bits, 77), M)
    one = torch.zeros(40, dtype=torch.bool)
    one[33] = True
    assert gt.pack_bits(one).tolist() == [0, 2]
    top = torch.zeros(32, dtype=torch.bool)
    top[31] = True
    assert gt.pack_bits(top).tolist() == [-2 ** 31]


def test_gate_table_matches_gating_network_and_is_compact():
    cfg = gt.GatedConfig(d_x=6, d_y=1, m=50, L=3, seeds=(0, 1))
    net = gt.GReLUNet(cfg)
    X = _unit(9, 6)
    tab = net.build_gates(X)
    assert tab.bits.shape == (4, 2, 9, 2) and tab.nbytes() == 4 * 2 * 9 * 2 * 4
    # independent recomputation of the gating ReLU network for seed 1
    z = (X @ net.C[1].T).clamp_min(0)
    for k in range(3):
        a = z @ net.Psi[1, k].T
        assert torch.equal(tab.unpack(k + 1)[1], a > 0)
        z = a.clamp_min(0)


# ---------------------------------------------------------------- NTK
@pytest.mark.parametrize("kind", ["chain", "input", "relu", "relu_linear_last"])
def test_exact_ntk_matches_autograd(kind):
    mode = "input" if kind == "input" else "chain"
    cfg = gt.GatedConfig(d_x=5, d_y=2, m=12, L=3, gate_mode=mode, seeds=(3, 4))
    if kind.startswith("relu"):
        net = gt.ReLUNet(cfg, last_relu=(kind == "relu"))
    else:
        net = gt.GReLUNet(cfg)
    X = _unit(3, 5, 2)
    K = gt.ntk(net, X)[1].reshape(6, 6)
    Ka = gt.autograd_ntk(net, X, seed_index=1)
    assert torch.allclose(K, Ka, rtol=1e-10, atol=1e-10 * Ka.abs().max())


def test_kappas_agree_with_core_arccos_kernels():
    X = _unit(7, 4, 5)
    u = (X @ X.T).clamp(-1, 1)
    assert torch.allclose(gt.kappa1(u), 2 * nl.arccos_kernel(X, degree=1), atol=1e-12)
    assert torch.allclose(gt.kappa0(u), 2 * nl.arccos_kernel(X, degree=0), atol=1e-7)
    assert abs(float(gt.kappa1(0.0)) - 1 / math.pi) < 1e-15 and abs(float(gt.kappa0(0.0)) - 0.5) < 1e-15


def test_closed_form_spec_values():
    # spec §1.7 table (derived independently there): normalised off-diagonal at u=0
    assert abs(gt.ntk_normalized_offdiag(0.0, 4, "grelu_chain") - 0.0666) < 5e-4
    assert abs(gt.ntk_normalized_offdiag(0.0, 4, "grelu_input") - 0.0199) < 5e-4
    assert abs(gt.ntk_normalized_offdiag(0.0, 4, "relu") - 0.264) < 1e-3
    # L = 1 by hand: ρ_0 = κ_1(0) = 1/π and K/K(x,x) = ρ_0 κ_0(ρ_0) = (1/π)(1 − arccos(1/π)/π)
    assert abs(gt.ntk_normalized_offdiag(0.0, 1, "relu") - (1 - math.acos(1 / math.pi) / math.pi) / math.pi) < 1e-12
    # relu L=1 equals grelu L=1 (one gate from C in both)
    assert abs(gt.ntk_normalized_offdiag(0.3, 1, "relu") - gt.ntk_normalized_offdiag(0.3, 1, "grelu_chain")) < 1e-12


@pytest.mark.parametrize("arch", ["grelu_chain", "grelu_input", "relu"])
def test_closed_form_ntk_against_finite_width(arch):
    m, d, L = 1024, 64, 4
    mode = "input" if arch == "grelu_input" else "chain"
    cfg = gt.GatedConfig(d_x=d, d_y=1, m=m, L=L, gate_mode=mode, seeds=(0, 1, 2, 3))
    net = gt.ReLUNet(cfg) if arch == "relu" else gt.GReLUNet(cfg)
    for u in (0.0, 0.5):
        X = _pair(u, d)
        K = gt.ntk_gram(net, X)
        off = float((K[:, 0, 1] / K[:, 0, 0]).mean())
        assert abs(off - gt.ntk_normalized_offdiag(u, L, arch)) < 0.03 + (0.03 if arch == "relu" else 0)
        diag = float((K[:, 0, 0] / gt.ntk_diag(m, d, 1, L)).mean())
        assert 0.85 <= diag <= 1.2


def test_ntk_diag_with_sigma_knobs_monte_carlo():
    cfg = gt.GatedConfig(d_x=8, d_y=1, m=512, L=3, sigma_c2=1.0, sigma_w2=3.0, sigma_b2=0.5, seeds=tuple(range(6)))
    net = gt.GReLUNet(cfg)
    K = gt.ntk_gram(net, _unit(1, 8))
    ratio = float(K[:, 0, 0].mean()) / gt.ntk_diag(512, 8, 1, 3, 1.0, 3.0, 0.5)
    assert 0.8 < ratio < 1.2


def test_gate_conditioned_expectation_monte_carlo():
    m, d, L, S = 256, 16, 3, 48
    cfg = gt.GatedConfig(d_x=d, d_y=1, m=m, L=L, seeds=tuple(range(S)))
    net = gt.GReLUNet(cfg)
    net.C = net.C[:1].expand_as(net.C).clone()
    net.Psi = net.Psi[:1].expand_as(net.Psi).clone()
    X = torch.cat([_pair(0.3, d), _unit(1, d, 9)])
    K = gt.ntk_gram(net, X).mean(0)
    E = gt.ntk_gate_expected(net, X)[0]
    # the expectation is over W and B given the fixed C and Ψ (48 draws: Monte Carlo error ≈ 1/√48 of the spread)
    assert float((K - E).abs().max()) < 0.08 * float(K.diagonal().max())
    assert torch.allclose(K.diagonal(), E.diagonal(), rtol=0.08)


def test_gate_overlaps_against_arccos_prediction():
    m, d, L = 1024, 32, 5
    net = gt.GReLUNet(gt.GatedConfig(d_x=d, d_y=1, m=m, L=L, seeds=(0, 1, 2, 3)))
    q = gt.gate_overlaps(net.gate_masks(_pair(0.0, d)))
    pred = gt.gate_overlap_theory(0.0, L, "chain")
    assert np.all(np.abs(q - pred) < 0.025)  # ≈ 3 binomial standard errors of 4·1024 rows
    assert np.all(pred[2:] > 1 / 3)  # Lemma 4's m/3 bound fails from layer 3 on (chain gates)
    assert np.all(gt.gate_overlap_theory(1 / 3, L, "input") <= 1 / 3)


def test_gate_density_is_one_half():
    # per-seed densities fluctuate by ≈ 0.5/√m·(example correlation inflates it ≈ 2×); mean of 4 seeds, m=1024
    net = gt.GReLUNet(gt.GatedConfig(d_x=16, d_y=1, m=1024, L=4, seeds=(0, 1, 2, 3)))
    dens = [float(M.double().mean()) for M in net.gate_masks(_unit(64, 16))]
    assert all(abs(x - 0.5) < 0.03 for x in dens)


# ---------------------------------------------------------------- theory helpers
def test_theorem1_step_is_inverse_ntk_diagonal():
    for n, L, d, dy in [(100, 4, 200, 1), (16, 7, 32, 3)]:
        th = gt.theorem1(n, L, d, dy)
        assert th["m"] == n * n * L * dy and math.isclose(th["eta_times_Kxx"], 1.0, rel_tol=1e-12)


def test_table1_imagenet_numbers():
    df = gt.table1(1_281_167, 1001).set_index("work")
    assert abs(df.loc["Zou & Gu [2019]", "params m²L (log10)"] - 172.7) < 0.1
    assert abs(df.loc["Noy et al. (GReLU)", "params m²L (log10)"] - 33.4) < 0.1


# ---------------------------------------------------------------- training
def test_linear_rate_matches_ntk_prediction():
    X, y = gt.ackley_like(16, 32, seed=7)
    net = gt.GReLUNet(gt.GatedConfig(d_x=32, d_y=1, m=256, L=4, seeds=(7,)))
    K0 = gt.ntk_gram(net, X)[0]
    ev = torch.linalg.eigvalsh(K0)
    eta = 1.0 / float(ev[-1])
    res = gt.train(net, X, y, eta=eta, steps=400, tol_rel=1e-13)
    fit = nl.fit_linear_rate(res.loss[:, 0] / res.loss[0, 0], lo=1e-12, hi=1e-4)
    pred = 2 * math.log(1 - eta * float(ev[0]))
    assert abs(math.log(fit.rate) - pred) <= 0.2 * abs(pred)
    assert math.log(fit.rate) < math.log(1 - gt.lemma3_rate(eta, 256, 32, 1, 4))


def test_train_matches_autograd_gradient_step():
    X, y = gt.ackley_like(6, 5, seed=1)
    cfg = gt.GatedConfig(d_x=5, d_y=1, m=9, L=3, seeds=(2,))
    for net in (gt.GReLUNet(cfg), gt.ReLUNet(cfg)):
        masks = net.gate_masks(X) if isinstance(net, gt.GReLUNet) else None
        W = net.W.clone().requires_grad_(True)
        net2 = net.clone()
        net2.W = W
        loss = gt.sum_loss(net2, X, y, masks).sum()
        (g,) = torch.autograd.grad(loss, W)
        gt.train(net, X, y, eta=0.01, steps=1, masks=masks, tol_rel=None)
        assert torch.allclose(net.W, W.detach() - 0.01 * g, atol=1e-13)


def test_divergence_is_detected_per_seed():
    X, y = gt.ackley_like(8, 8, seed=0)
    net = gt.GReLUNet(gt.GatedConfig(d_x=8, d_y=1, m=32, L=2, seeds=(0, 1)))
    lam = gt.lambda_max(net, X)
    res = gt.train(net, X, y, eta=torch.stack([0.5 / lam[0], 50.0 / lam[1]]), steps=300, tol_rel=None)
    assert not res.diverged[0] and res.diverged[1]
    assert np.isfinite(res.loss[-1, 0]) and np.isnan(res.loss[-1, 1])


def test_grelu_gates_never_change_and_relu_patterns_do():
    X, y = gt.ackley_like(16, 16, seed=3)
    g, r = gt.make_pair(gt.GatedConfig(d_x=16, d_y=1, m=64, L=3, seeds=(0,)))
    before_g, before_r = g.build_gates(X).bits.clone(), r.masks(X)
    gt.train(g, X, y, eta=gt.eta_ntk(g, X), steps=50)
    gt.train(r, X, y, eta=gt.eta_ntk(r, X), steps=50)
    assert torch.equal(g.build_gates(X).bits, before_g)
    assert any(not torch.equal(a, b) for a, b in zip(r.masks(X), before_r))


def test_bias_shift_statistics():
    g, r = gt.make_pair(gt.GatedConfig(d_x=32, d_y=1, m=1024, L=4, seeds=(0,)))
    X = _unit(128, 32)
    assert np.all(gt.unit_stats(g.features(X)[0]) < 0.05)
    assert np.all(np.abs(gt.unit_stats(r.features(X)[0]) - 1 / math.sqrt(math.pi)) < 0.05)


# ---------------------------------------------------------------- conversion (Theorem 2)
def test_conversion_exact_when_n_below_m_and_erratum_cases():
    X, y = gt.ackley_like(24, 16, seed=1)
    net = gt.GReLUNet(gt.GatedConfig(d_x=16, d_y=1, m=128, L=3, seeds=(0, 1)))
    gt.train(net, X, y, eta=gt.eta_ntk(net, X), steps=40)
    relu, rep = gt.grelu_to_relu(net, X)
    assert np.all(rep["out_rel_maxdiff"] < 1e-9) and np.all(rep["rel_residual"] < 1e-9)
    f_g, f_r = net.forward(X), relu.forward(X)
    assert torch.allclose(f_g, f_r, atol=1e-9 * float(f_g.abs().max()))
    _, rep2 = gt.grelu_to_relu(net, X, last_relu=True)
    assert np.all(rep2["out_rel_maxdiff"] > 0.1)  # a final ReLU cannot reproduce negative outputs


def test_conversion_not_exact_when_n_above_m():
    X, y = gt.ackley_like(200, 16, seed=2)
    net = gt.GReLUNet(gt.GatedConfig(d_x=16, d_y=1, m=32, L=3, seeds=(0,)))
    _, rep = gt.grelu_to_relu(net, X, lam=1e-6)
    assert rep["rel_residual"][0, -1] > 0.1


def test_conversion_ridge_n_above_m_matches_independent_per_layer_least_squares():
    # n > m: each layer is a ridge fit of the GReLU post-gate outputs T_k on the converted net's OWN post-ReLU
    # features A_{k-1} (not on the GReLU's features); reference: numpy lstsq of the stacked system [A; √λ I].
    X, y = gt.ackley_like(60, 8, seed=5)
    net = gt.GReLUNet(gt.GatedConfig(d_x=8, d_y=1, m=16, L=3, seeds=(1,)))
    gt.train(net, X, y, eta=gt.eta_ntk(net, X), steps=20)
    lam = 0.3
    relu, _ = gt.grelu_to_relu(net, X, lam=lam)
    Gs, _ = net.features(X)
    A = np.maximum(X.numpy() @ net.C[0].numpy().T, 0)
    for k in range(3):
        T = Gs[k + 1][0].numpy()
        Aaug = np.vstack([A, math.sqrt(lam) * np.eye(16)])
        Wt = np.linalg.lstsq(Aaug, np.vstack([T, np.zeros((16, 16))]), rcond=None)[0].T
        assert np.allclose(relu.W[0, k].numpy(), Wt, atol=1e-9 * np.abs(Wt).max())
        pre = A @ Wt.T
        A = pre if k == 2 else np.maximum(pre, 0)
    assert np.allclose(relu.forward(X)[0].numpy(), A @ net.B[0].numpy().T, atol=1e-9)


def test_block_gates_are_constant_within_a_block_and_follow_the_block_rows_of_psi():
    b, m = 4, 32
    for mode in gt.GATE_MODES:
        net = gt.GReLUNet(gt.GatedConfig(d_x=6, d_y=1, m=m, L=3, gate_mode=mode, block_size=b, seeds=(0,)))
        X = _unit(10, 6, 4)
        masks = net.gate_masks(X)
        z = (X @ net.C[0].T).clamp_min(0)
        for k in range(3):
            Mk = masks[k + 1][0]
            blocks = Mk.reshape(10, m // b, b)
            assert torch.equal(blocks, blocks[..., :1].expand_as(blocks))  # constant within each block
            a = (z if mode == "chain" else X) @ net.Psi[0, k].T  # (n, m/b): one gate per block
            assert torch.equal(blocks[..., 0], a > 0)
            z = torch.repeat_interleave(a.clamp_min(0), b, dim=-1)


def test_relu_to_grelu_switch_preserves_outputs():
    X, y = gt.ackley_like(16, 16, seed=4)
    _, r = gt.make_pair(gt.GatedConfig(d_x=16, d_y=1, m=64, L=3, seeds=(0,)))
    gt.train(r, X, y, eta=gt.eta_ntk(r, X), steps=20)
    g = gt.GReLUNet.from_relu(r)
    assert torch.allclose(g.forward(X), r.forward(X), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- FLOPs, low rank
def test_flop_fractions_and_lowrank_agreement():
    net = gt.GReLUNet(gt.GatedConfig(d_x=16, d_y=1, m=512, L=3, seeds=(0,)))
    masks = net.gate_masks(_unit(64, 16))
    fr = gt.flop_fractions(masks)
    assert abs(fr["output"] - 0.5) < 0.01 and abs(fr["both"] - 0.25) < 0.01
    Z = (_unit(256, 512, 3) @ torch.eye(512, dtype=torch.float64)).abs()
    Psi = net.Psi[0, 0]
    assert gt.gate_agreement_lowrank(Psi, Z, 512) == 1.0
    assert gt.gate_agreement_lowrank(Psi, Z, int(math.sqrt(512) / 2)) < 0.65


# ---------------------------------------------------------------- data
def test_sgemm_grid_is_exact_and_loader_reads_csv(tmp_path):
    G = sgemm.sgemm_grid()
    assert G.shape == (241_600, 14)
    c = {p: G[:, i] for i, p in enumerate(sgemm.PARAMS)}
    assert np.all(c["KWG"] % c["KWI"] == 0) and np.all(c["MWG"] % (c["MDIMC"] * c["VWM"]) == 0)
    rows = G[:5]
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(sgemm.PARAMS))
    for i, r in enumerate(sgemm.RUNS):
        df[r] = 10.0 + i + np.arange(5)
    f = tmp_path / "sgemm_product.csv"
    df.to_csv(f, index=False)
    d = sgemm.load_sgemm(str(f))
    assert d.F.shape == (5, 14) and np.allclose(d.runs[:, 2], 12.0 + np.arange(5)) and "UCI" in d.source
    X, y, _ = sgemm.preprocess(d)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0) and abs(y.mean()) < 1e-12
    bad = tmp_path / "bad.csv"
    df.drop(columns=["Run4 (ms)"]).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="columns missing"):
        sgemm.read_sgemm_csv(bad)


def test_sgemm_standin_deterministic_and_ackley_deterministic():
    a, b = sgemm.sgemm_synthetic(seed=1), sgemm.sgemm_synthetic(seed=1)
    assert np.array_equal(a.runs, b.runs) and "stand-in" in a.source
    X1, y1 = gt.ackley_like(10, 6, seed=3)
    X2, y2 = gt.ackley_like(10, 6, seed=3)
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    assert torch.allclose(X1.norm(dim=1), torch.ones(10, dtype=torch.float64))
    # independent evaluation of the §4.1 formula for one row
    xr = np.random.default_rng(3).standard_normal((10, 6))
    raw = sum(xr[0, 5 - j] * (np.log(abs(xr[0, j])) * (np.cos(xr[0, j]) + xr[0, j] ** 3 * np.sin(xr[0, j]))
                              + np.sqrt(abs(xr[0, j]))) for j in range(6))
    yy = np.array([sum(xr[i, 5 - j] * (np.log(abs(xr[i, j])) * (np.cos(xr[i, j]) + xr[i, j] ** 3 * np.sin(xr[i, j]))
                                      + np.sqrt(abs(xr[i, j]))) for j in range(6)) for i in range(10)])
    assert abs(float(y1[0, 0]) - (raw - yy.mean()) / yy.std()) < 1e-12


def test_bad_parameters_raise_naming_them():
    with pytest.raises(ValueError, match="gate_mode"):
        gt.GatedConfig(d_x=2, d_y=1, m=4, L=1, gate_mode="foo")
    with pytest.raises(ValueError, match="block_size"):
        gt.GatedConfig(d_x=2, d_y=1, m=6, L=1, block_size=4)
    with pytest.raises(ValueError, match="m must"):
        gt.GatedConfig(d_x=2, d_y=1, m=0, L=1)
    net = gt.GReLUNet(gt.GatedConfig(d_x=3, d_y=1, m=4, L=1))
    with pytest.raises(ValueError, match="X must"):
        net.forward(torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="eta"):
        gt.train(net, _unit(2, 3), torch.zeros(2, 1), eta=-1.0, steps=1)


# ---------------------------------------------------------------- centring, baselines, experiments
def test_centered_net_starts_at_zero_and_trains_like_a_shifted_target():
    X, y = gt.ackley_like(10, 6, seed=2)
    for net in gt.make_pair(gt.GatedConfig(d_x=6, d_y=1, m=16, L=2, seeds=(3,))):
        c = net.centered()
        assert float(c.forward(X).abs().max()) < 1e-12
        f0 = net.forward(X)
        raw = net.clone()
        eta = gt.eta_ntk(net, X, 0.5)
        gt.train(c, X, y, eta=eta, steps=3, tol_rel=None)
        gt.train(raw, X, y + f0[0], eta=eta, steps=3, tol_rel=None)  # same residuals, same gradients
        assert torch.allclose(c.W, raw.W, atol=1e-12)
        assert torch.allclose(c.forward(X), raw.forward(X) - f0, atol=1e-10)


def test_baselines_against_closed_forms():
    rng = np.random.default_rng(0)
    X, Xt = torch.from_numpy(rng.standard_normal((40, 3))), torch.from_numpy(rng.standard_normal((20, 3)))
    w = np.array([1.0, -2.0, 0.5])
    Y, Yt = torch.from_numpy(X.numpy() @ w + 3)[:, None], torch.from_numpy(Xt.numpy() @ w + 3)[:, None]
    b = gt.experiments.baselines(X, Y, Xt, Yt)
    assert b["linear"] < 1e-20  # a noiseless affine target is fitted exactly
    assert abs(b["mean"] - float(((Yt - Y.mean()) ** 2).mean())) < 1e-12
    assert abs(b["zero"] - float((Yt ** 2).mean())) < 1e-12


def test_image_configs_check_the_data_before_any_work(monkeypatch):
    monkeypatch.delenv("NBS_CIFAR10_DIR", raising=False)
    with pytest.raises(ValueError, match="NBS_CIFAR10_DIR"):
        gt.experiments.Table2Config.for_profile("paper")
    with pytest.raises(ValueError, match="cifar10_root"):
        gt.experiments.AugConfig.for_profile("smoke", cifar10_root="/nonexistent/dir")
    with pytest.raises(ValueError, match="NBS_SGEMM_CSV"):
        sgemm.check_source("/nonexistent/sgemm_product.csv")


def test_thm1_experiment_step_is_the_theorem_and_masks_divergence():
    ctx = nl.run_context("smoke", "cpu", 0, announce=False)
    cfg = gt.experiments.Thm1Config.for_profile("smoke")
    res = gt.experiments.thm1(cfg, ctx)
    assert math.isclose(res.eta_thm, cfg.d / (cfg.n ** 4 * cfg.L ** 3), rel_tol=1e-12)
    assert res.m == cfg.n ** 2 * cfg.L
    # a seed converges iff its η·λ_max < 2 (linearised GD at these widths)
    conv = res.loss_thm[-1] < 1e-8
    assert np.array_equal(conv, res.eta_lmax < 2) or res.metrics["thm"]["frac_converged"] == conv.mean()
