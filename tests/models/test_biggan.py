"""BigGAN (scaled down): the hierarchical latent, the shared class embedding, orthogonal init and regularisation against
their formulas (Brock et al. 2019 §3), the truncation trick through ``Sampler`` / ``ganforge sample``, and the preset
through the trainer (EMA, 2 D steps, exact resume)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.cli import main
from ganforge.config import resolve_config
from ganforge.data.base import DataSpec
from ganforge.losses.adversarial import g_hinge
from ganforge.losses.biggan import BigGANObjective, orthogonal_penalty, orthogonal_regularisation, regularised_weights
from ganforge.losses.objectives import Batch
from ganforge.models.attention import attention_blocks
from ganforge.models.base import Sampler
from ganforge.models.biggan import BigGANConfig, GBlock
from ganforge.models.layers import has_spectral_norm
from ganforge.models.sagan import ConditionalBatchNorm2d
from helpers import assert_same_models, label_and_z_variance, one_line_error, train_straight_and_resumed

SPEC = DataSpec((1, 28, 28), num_classes=10)
SMALL = {"z_dim": 6, "shared_dim": 4, "g_channels": (8, 4, 4), "d_channels": (4, 4, 4)}
TINY = ["model.options={'z_dim': 6, 'shared_dim': 4, 'g_channels': [8, 4, 4], 'd_channels': [4, 4, 4]}",
        "data.options={'limit': 64}", "train.batch_size=8", "train.ema_start=1", "log.eval_samples=50",
        "log.sample_every=0", "log.tensorboard=False", "log.every=1"]


def _nets(**options: object) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return BigGANConfig(**{**SMALL, **options}).build(SPEC)


def test_shapes_attention_and_spectral_norm() -> None:
    G, D = _nets().values()
    z, c = torch.randn(3, 6), torch.tensor([0, 4, 9])
    x = G(z, c)
    assert x.shape == (3, 1, 28, 28)
    assert x.abs().max() <= 1
    assert D(x, c).shape == (3, 1)
    for net in (G, D):
        (attn,) = attention_blocks(net)
        attn.record_attention = True
    G(z, c)
    D(x, c)
    assert [attention_blocks(n)[0].last_size for n in (G, D)] == [(14, 14), (14, 14)]  # middle resolution
    assert not has_spectral_norm(G.shared)  # the shared embedding stays plain, as BigGAN's code
    assert has_spectral_norm(G.dense)
    assert has_spectral_norm(G.blocks[0].bn1.gain)
    assert all(has_spectral_norm(m) for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)))


def test_hierarchical_latent_split_and_shared_embedding() -> None:
    G = _nets()["G"]
    z, c = torch.randn(4, 6), torch.tensor([1, 2, 3, 1])
    chunks = G.split_latent(z)
    assert [t.shape for t in chunks] == [(4, 2)] * 3  # dense + 2 blocks, z_dim / 3 each
    assert torch.equal(torch.cat(chunks, 1), z)
    z0, conds = G.conditions(z, c)
    assert torch.equal(z0, z[:, :2])
    e = G.shared(c)  # [4, 4]: ONE embedding, reused by every block
    for i, cond in enumerate(conds):
        assert torch.equal(cond, torch.cat([e, z[:, 2 * (i + 1): 2 * (i + 2)]], 1))  # [shared(y), z_{i+1}]
    # every conditional BN is a linear map of that 6-d condition; only one embedding table exists in G
    cbns = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(cbns) == 4
    assert all(m.gain.in_features == 6 and not m.per_class for m in cbns)
    assert [type(m) for m in G.modules() if isinstance(m, nn.Embedding)] == [nn.Embedding]
    # block i sees z_{i+1}: changing the last chunk leaves the first block's output unchanged
    G.eval()
    z2 = z.clone()
    z2[:, 4:] += 1.0
    h = G.dense(z0).view(-1, *G.start)
    torch.testing.assert_close(G.blocks[0](h, G.conditions(z2, c)[1][0]), G.blocks[0](h, conds[0]))
    assert not torch.allclose(G(z2, c), G(z, c))
    # the shared embedding gets gradients from every block's BN
    G.zero_grad()
    G(z, c).sum().backward()
    assert G.shared.weight.grad is not None
    assert G.shared.weight.grad[c].abs().sum() > 0


def test_non_hierarchical_and_unconditional_variants() -> None:
    G = _nets(hierarchical=False)["G"]
    z0, conds = G.conditions(torch.randn(2, 6), torch.tensor([0, 1]))
    assert z0.shape == (2, 6)
    assert all(cond.shape == (2, 4) for cond in conds)
    G, D = _nets(conditioning="none", hierarchical=False).values()
    assert G.shared is None
    assert G.c_dim == 0
    assert D.c_dim == 0
    assert all(isinstance(b.bn1, nn.BatchNorm2d) for b in G.blocks if isinstance(b, GBlock))
    assert D(G(torch.randn(2, 6))).shape == (2, 1)


def test_label_input_feeds_the_shared_embedding_to_the_dense_layer() -> None:
    """``label_input``: the dense layer gets ``[shared(y), z_0]`` (BigGAN-deep's G input), the blocks' conditions are
    unchanged; default off keeps the BigGAN layout (dense layer of z_0 only)."""
    assert _nets()["G"].dense.in_features == 2
    G = _nets(label_input=True)["G"]
    assert G.dense.in_features == 2 + 4  # chunk + shared_dim
    z, c = torch.randn(4, 6), torch.tensor([1, 2, 3, 1])
    dense_in, conds = G.conditions(z, c)
    assert torch.equal(dense_in, torch.cat([G.shared(c), z[:, :2]], 1))
    for i, cond in enumerate(conds):
        assert torch.equal(cond, torch.cat([G.shared(c), z[:, 2 * (i + 1): 2 * (i + 2)]], 1))
    G.eval()
    h = G.dense(dense_in).view(-1, *G.start)  # the label already moves the first feature map
    h_other = G.dense(G.conditions(z, (c + 1) % 10)[0]).view(-1, *G.start)
    assert not torch.allclose(h, h_other)
    # unconditional: nothing to feed, the option is inert
    assert _nets(label_input=True, conditioning="none")["G"].dense.in_features == 2


def test_label_input_makes_the_preset_generator_follow_the_label_more_at_init() -> None:
    """The preset's G with and without ``label_input`` (same seed): feeding shared(y) to the dense layer as well
    raises the label's share of G's output variance at init (label/z variance ratio 1.39× the one without it
    at seed 0; 1.4–1.7× over seeds 0–2)."""
    # the second round's preset networks (32-d shared embedding, orthogonal init, SN; the fourth round's preset has a
    # 10-d embedding and N(0, 0.02) init, whose G follows the label through BN in D instead)
    opts = {**resolve_config("biggan-mnist").model.options, "shared_dim": 32, "init": "orthogonal",
            "g_spectral_norm": True, "spectral_norm": True, "d_norm": "none", "d_channels": (16, 32, 32)}
    ratios = []
    for on in (False, True):
        torch.manual_seed(0)
        G = BigGANConfig(**{**opts, "label_input": on}).build(SPEC)["G"]
        by_label, by_z = label_and_z_variance(G, G.z_dim)
        ratios.append(by_label / by_z)
    assert ratios[1] > 1.2 * ratios[0]


def test_d_norm_batch_adds_batch_norm_to_every_residual_branch_but_the_first() -> None:
    """``d_norm: batch`` (issue 24, not the paper): BN before each ReLU of D's residual branches except in the first
    block; in training mode a sample's score then depends on its batch (``d_norm: none``: it does not)."""
    x = torch.randn(4, 1, 28, 28)
    c = torch.arange(4)
    x2 = x.clone()
    x2[1:] = torch.randn(3, 1, 28, 28)
    for d_norm in ("none", "batch"):
        D = _nets(d_norm=d_norm, spectral_norm=False)["D"].train()  # SN would power-iterate per call
        bns = [[type(b.bn1).__name__, type(b.bn2).__name__] for b in D.blocks]
        if d_norm == "batch":
            assert bns == [["Identity", "Identity"]] + [["BatchNorm2d", "BatchNorm2d"]] * 2
        else:
            assert bns == [["Identity", "Identity"]] * 3
        with torch.no_grad():
            assert torch.equal(D(x, c)[0], D(x2, c)[0]) == (d_norm == "none")


def test_projection_discriminator_is_miyato_koyama_eq3() -> None:
    """Miyato & Koyama 2018, eq. 3: f(x, y) = yᵀ V φ(x) + ψ(φ(x)), y one-hot, φ(x) D's pooled features, ψ linear.
    Rebuilt here from D's own (spectrally normalised) head weights with a one-hot matrix product instead of the
    embedding lookup, and the class difference f(x, a) − f(x, b) = (V_a − V_b)ᵀ φ(x) — ψ cancels. Tolerance:
    float32 sums of 4 products each differ between the two orders by a few ulp of |f| ≲ 10 (1e-5 absolute)."""
    D = _nets()["D"].eval()
    x, y = torch.randn(5, 1, 28, 28), torch.tensor([0, 3, 9, 3, 7])
    with torch.no_grad():
        h = x
        for i, block in enumerate(D.blocks):
            h = block(h)
            if i == D.attention_at:
                h = D.attention(h)
        phi = torch.relu(h).sum(dim=(2, 3))  # [5, 4]: global sum pooling
        V = D.head.embed.weight  # [10, 4] (computed through spectral norm)
        w, b = D.head.psi.weight, D.head.psi.bias  # [1, 4], [1]
        onehot = torch.nn.functional.one_hot(y, 10).float()  # [5, 10]
        expect = (onehot @ V * phi).sum(1, keepdim=True) + phi @ w.T + b  # yᵀVφ(x) + ψ(φ(x))
        torch.testing.assert_close(D(x, y), expect, rtol=0, atol=1e-5)
        diff = D(x, y) - D(x, (y + 1) % 10)
        torch.testing.assert_close(diff, ((V[y] - V[(y + 1) % 10]) * phi).sum(1, keepdim=True), rtol=0, atol=1e-5)
    assert has_spectral_norm(D.head.embed)  # V spectrally normalised, as BigGAN-PyTorch's SNEmbedding


def test_shared_embedding_is_as_strong_as_a_z_chunk() -> None:
    """The bug: an orthogonally initialised [10, 32] shared embedding has rows of norm 1, next to z chunks of norm
    √20, so each CBN's class part was ~4× weaker than its z part and G's output varied 15.6× more with z than with
    the label at init (the preset's networks). Rows ~ N(0, I) (norm ≈ √32) bring that to ~1.4×."""
    torch.manual_seed(0)
    cfg = resolve_config("biggan-mnist")
    # the round-1 preset's networks: 32-d shared embedding, orthogonal init, spectral norm (the fourth round's preset
    # has a 10-d embedding and N(0, 0.02) init)
    old = {"shared_dim": 32, "init": "orthogonal", "g_spectral_norm": True, "spectral_norm": True, "d_norm": "none"}
    G = BigGANConfig(**{**cfg.model.options, **old}).build(SPEC)["G"]
    rows = G.shared.weight.norm(dim=1)  # chi with 32 d.o.f.: 3.5..8 with probability ≈ 1
    assert rows.min() > 3.5
    assert rows.max() < 8.0
    by_label, by_z = label_and_z_variance(G, G.z_dim)
    assert by_z < 3.0 * by_label  # measured 1.4× (orthogonal rows: 15.6×)


def test_orthogonal_init() -> None:
    """Orthogonal rows (filters) for every weight whose rows fit (out <= in·k·k), before spectral norm rescales."""
    G = _nets(g_spectral_norm=False, spectral_norm=False)["G"]
    w = G.blocks[0].conv1.weight.flatten(1)  # [4, 8·9]
    torch.testing.assert_close(w @ w.T, torch.eye(4), rtol=0, atol=1e-5)


def test_orthogonal_penalty_matches_its_formula_and_gradient() -> None:
    """R(W) = ‖W Wᵀ ⊙ (1 − I)‖²_F = Σ_{i≠j} (w_i · w_j)², rows w_i = filters; ∇R = 4 (W Wᵀ ⊙ (1 − I)) W."""
    torch.manual_seed(1)
    w = torch.randn(5, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    rows = w.detach().reshape(5, 12).numpy()
    expected = sum(float(rows[i] @ rows[j]) ** 2 for i in range(5) for j in range(5) if i != j)
    value = orthogonal_penalty(w)
    np.testing.assert_allclose(value.item(), expected, rtol=1e-12)
    value.backward()
    W = w.detach().reshape(5, 12)
    off = (W @ W.T) * (1 - torch.eye(5, dtype=torch.float64))
    torch.testing.assert_close(w.grad.reshape(5, 12), 4 * off @ W)
    q, _ = torch.linalg.qr(torch.randn(12, 5, dtype=torch.float64))  # orthonormal filters: no penalty
    assert orthogonal_penalty(3.0 * q.T).item() < 1e-20  # norms are free (BigGAN's variant), only angles count


def test_orthogonal_penalty_of_a_tall_weight_uses_the_small_gram_with_the_same_value_and_gradient() -> None:
    """A tall W [out > rest] (BigGAN's dense layer) is computed as ‖Wᵀ W‖²_F − Σ_i ‖w_i‖⁴ (the [rest, rest] Gram):
    value and gradient must equal the [out, out] formula. Float64, O(1) entries, 40² products: the two paths agree
    to ~1e-13 relative (a few hundred roundings of 1.1e-16 each, plus the subtraction's cancellation of at most
    ‖WᵀW‖² / R ≈ 10×); rtol 1e-10 is far above that and far below any real difference."""
    torch.manual_seed(2)
    w = torch.randn(40, 6, dtype=torch.float64, requires_grad=True)  # out 40 > rest 6: the small-Gram path
    value = orthogonal_penalty(w)
    value.backward()
    W = w.detach()
    off = (W @ W.T) * (1 - torch.eye(40, dtype=torch.float64))  # the [out, out] formula
    np.testing.assert_allclose(value.item(), off.square().sum().item(), rtol=1e-10)
    torch.testing.assert_close(w.grad, 4 * off @ W, rtol=1e-10, atol=1e-10)
    q, _ = torch.linalg.qr(torch.randn(40, 6, dtype=torch.float64))  # orthonormal columns: rows not orthogonal
    assert orthogonal_penalty(q).item() > 0.1


def test_objective_adds_half_beta_times_the_regulariser_to_the_hinge_generator_loss() -> None:
    G, D = _nets().values()
    weights = regularised_weights(G)
    assert all(w.dim() >= 2 for w in weights)
    assert all(w is not G.shared.weight for w in weights)
    assert any(w is G.dense.parametrizations.weight.original for w in weights)  # the raw weight under SN
    G.eval()
    D.eval()
    batch = Batch(real=None, z=torch.randn(4, 6), fake_labels=torch.tensor([0, 1, 2, 3]))
    terms = BigGANObjective(ortho_weight=1e-4).g_loss(G, D, batch)
    adv = g_hinge(D(G(batch.z, batch.fake_labels), batch.fake_labels))
    reg = sum(orthogonal_penalty(w) for w in weights)
    torch.testing.assert_close(terms.total, adv + 0.5e-4 * reg)
    torch.testing.assert_close(terms.logs["reg/ortho"], orthogonal_regularisation(G).detach())
    torch.testing.assert_close(terms.logs["loss/g"], adv.detach())
    assert "reg/ortho" not in BigGANObjective(ortho_weight=0.0).g_loss(G, D, batch).logs
    with pytest.raises(ValueError, match="ortho_weight must be a finite number >= 0"):
        BigGANObjective(ortho_weight=-1.0)


def test_nonsaturating_loss_option_is_the_logistic_gan_with_the_same_regulariser() -> None:
    """``loss: nonsaturating`` (issue 24): D minimises E softplus(−D(x)) + E softplus(D(G(z))), G minimises
    E softplus(−D(G(z))) (= −E log σ(D(G(z))), Goodfellow et al. 2014) + the same (β/2)·Σ‖…‖². The reference values
    are written out with F.softplus on the same logits: float32 sums of 4 terms, so the default float32 tolerance
    of assert_close (rtol 1.3e-6) covers any reordering."""
    G, D = _nets().values()
    G.eval()
    D.eval()
    torch.manual_seed(1)
    batch = Batch(real=torch.rand(4, 1, 28, 28) * 2 - 1, z=torch.randn(4, 6), labels=torch.tensor([3, 2, 1, 0]),
                  fake_labels=torch.tensor([0, 1, 2, 3]))
    objective = BigGANObjective(ortho_weight=1e-4, loss="nonsaturating")
    with torch.no_grad():
        fake_logits = D(G(batch.z, batch.fake_labels), batch.fake_labels)
        real_logits = D(batch.real, batch.labels)
        reg = orthogonal_regularisation(G)
    g_terms = objective.g_loss(G, D, batch)
    torch.testing.assert_close(g_terms.total.detach(), F.softplus(-fake_logits).mean() + 0.5e-4 * reg)
    torch.testing.assert_close(g_terms.logs["loss/g"], F.softplus(-fake_logits).mean())
    d_terms = objective.d_loss(G, D, batch)
    torch.testing.assert_close(d_terms.total.detach(),
                               F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())
    # the default stays the paper's hinge loss
    hinge = BigGANObjective(ortho_weight=0.0).g_loss(G, D, batch)
    torch.testing.assert_close(hinge.total.detach(), g_hinge(fake_logits))
    with pytest.raises(ValueError, match="unknown loss 'wgan'"):
        BigGANObjective(loss="wgan")


class ZeroD(nn.Module):
    """A critic whose output does not depend on its input: the hinge term then adds no gradient to G."""

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros(x.shape[0], 1, dtype=x.dtype)


def test_regulariser_gradient_is_biggan_pytorchs() -> None:
    """The bug: autograd of β‖W Wᵀ ⊙ (1 − I)‖² is 4β (W Wᵀ ⊙ (1 − I)) W, twice BigGAN-PyTorch's utils.ortho update
    2β (W Wᵀ ⊙ (1 − I)) W. With a critic that ignores G, G's gradient is the regulariser's alone and must equal the
    reference's update for every regularised weight. Float64 throughout: both sides are a few matrix products of
    O(1) numbers, equal up to ~1e-15 relative; assert_close's float64 default (rtol 1e-7) is far above that."""
    G = _nets()["G"].double()
    beta = 1e-4
    batch = Batch(real=None, z=torch.randn(4, 6, dtype=torch.float64), fake_labels=torch.tensor([0, 1, 2, 3]))
    BigGANObjective(ortho_weight=beta).g_loss(G, ZeroD(), batch).total.backward()
    for w in regularised_weights(G):
        W = w.detach().flatten(1)  # [out, rest]
        off = (W @ W.T) * (1 - torch.eye(W.shape[0], dtype=W.dtype))
        torch.testing.assert_close(w.grad.flatten(1), 2 * beta * off @ W)


def test_truncation_trick_through_the_sampler() -> None:
    G = _nets()["G"].eval()
    sampler = Sampler(BigGANConfig(**SMALL), {"G": G}, truncation=0.5)
    z = sampler.sample_z(500, torch.Generator().manual_seed(0))
    assert z.abs().max() <= 0.5
    assert z.std() > 0.2
    x = sampler(z[:4], torch.tensor([0, 1, 2, 3]))
    assert x.shape == (4, 1, 28, 28)


def test_bad_options_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="z_dim 7 must split into 3 equal chunks"):
        BigGANConfig(z_dim=7)
    with pytest.raises(ValueError, match="upsample by 8, but the data is 28×28"):
        BigGANConfig(z_dim=8, g_channels=(4, 4, 4, 4)).build(SPEC)
    rc = main(["train", "biggan-mnist", *[a for o in TINY for a in ("--set", o)], "--set",
               "model.options.z_dim=7", "--run-dir", str(tmp_path / "bad")])
    one_line_error(capsys, rc, "z_dim 7 must split into 3 equal chunks")


def test_preset_trains_with_ema_resumes_exactly_and_samples_truncated(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    cfg = resolve_config("biggan-mnist")
    assert cfg.objective.name == "biggan"
    assert cfg.objective.options["loss"] == "hinge"
    assert cfg.train.d_steps == 1  # issue 24, fourth round (paper: 2)
    assert cfg.model.options["d_norm"] == "batch"
    assert cfg.train.ema > 0
    sets = [a for o in [*TINY, "train.checkpoint_every=2"] for a in ("--set", o)]
    straight = tmp_path / "straight"
    a, b = train_straight_and_resumed("biggan-mnist", sets, 3, 2, tmp_path)
    assert sorted(a["models"]) == ["D", "G", "G_ema"]
    assert_same_models(a, b)
    out = tmp_path / "t.npz"
    assert main(["sample", str(straight), "--n", "5", "--truncation", "0.5", "--format", "npz", "--out",
                 str(out)]) == 0
    assert np.load(out)["images"].shape == (5, 1, 28, 28)
    capsys.readouterr()
