"""SAGAN: the self-attention block against its equations (Zhang et al. 2019, eq. 1–3), the networks (attention at a
middle resolution, spectral norm in G and D, conditional BN + projection), and the preset through the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import resolve_config
from ganforge.data.base import DataSpec
from ganforge.models.attention import SelfAttention, attention_blocks
from ganforge.models.layers import has_spectral_norm
from ganforge.models.sagan import ConditionalBatchNorm2d, SAGANConfig
from ganforge.options import ConfigError
from ganforge.training.run import Run
from helpers import label_and_z_variance, one_line_error

SPEC = DataSpec((1, 28, 28), num_classes=10)
SMALL = {"z_dim": 8, "g_channels": (8, 4), "d_channels": (4, 8)}
TINY = ["model.options={'z_dim': 8, 'g_channels': [8, 4], 'd_channels': [4, 8], 'attention_res': 14}",
        "data.options={'limit': 64}", "train.batch_size=8", "log.eval_samples=50", "log.sample_every=0",
        "log.tensorboard=False", "log.every=1"]


def _block(channels: int = 16, gamma: float = 0.0, seed: int = 0) -> SelfAttention:
    torch.manual_seed(seed)
    block = SelfAttention(channels).double()
    with torch.no_grad():
        block.gamma.fill_(gamma)
    return block


def test_gamma_zero_is_the_identity_and_gamma_starts_at_zero() -> None:
    assert SelfAttention(16).gamma.item() == 0.0  # §3: γ initialised to 0
    x = torch.randn(3, 16, 5, 6, dtype=torch.float64)
    assert torch.equal(_block()(x), x)  # y = 0·o + x
    y = _block(gamma=0.5)(x)
    assert y.shape == x.shape
    assert not torch.allclose(y, x)


def test_attention_rows_are_distributions_over_positions() -> None:
    block = _block()
    beta = block.attention(torch.randn(2, 16, 4, 7, dtype=torch.float64))
    assert beta.shape == (2, 28, 28)  # [N, P, P], P = H·W
    assert (beta >= 0).all()
    torch.testing.assert_close(beta.sum(-1), torch.ones(2, 28, dtype=torch.float64), rtol=0, atol=1e-12)


def test_forward_matches_an_explicit_numpy_computation() -> None:
    """eq. 1–3 written out with numpy, loop over query positions j; key/query C/8 = 2 channels, value C/8 too."""
    block = _block(channels=16, gamma=0.7, seed=3)
    x = torch.randn(2, 16, 3, 4, dtype=torch.float64)
    y = block(x).detach().numpy()
    Wf, Wg = block.key.weight[:, :, 0, 0].detach().numpy(), block.query.weight[:, :, 0, 0].detach().numpy()
    Wh, Wv = block.value.weight[:, :, 0, 0].detach().numpy(), block.out.weight[:, :, 0, 0].detach().numpy()
    assert Wf.shape == (2, 16)
    assert Wg.shape == (2, 16)
    assert Wh.shape == (2, 16)
    assert Wv.shape == (16, 2)
    for n in range(2):
        xs = x[n].reshape(16, 12).numpy()  # [C, P]
        f, g, h = Wf @ xs, Wg @ xs, Wh @ xs
        for j in range(12):
            s = np.array([f[:, i] @ g[:, j] for i in range(12)])  # s_ij = f(x_i)ᵀ g(x_j)
            beta = np.exp(s - s.max()) / np.exp(s - s.max()).sum()  # softmax over i
            o = Wv @ (h @ beta)  # o_j = v(Σ_i β_{j,i} h(x_i))
            np.testing.assert_allclose(y[n].reshape(16, 12)[:, j], 0.7 * o + xs[:, j], rtol=1e-10, atol=1e-12)


def test_pooled_attention_matches_an_explicit_numpy_computation() -> None:
    """``pool``: keys f(x) and values h(x) 2×2 max-pooled (BigGAN-PyTorch ``layers.Attention``), queries at every
    position: β [N, P, P/4]; eq. 1–3 with numpy over the pooled key grid. Float64, sums of ≤ 16 products: the two
    computations agree to ~1e-15; the tolerances of the unpooled test are kept."""
    torch.manual_seed(4)
    block = SelfAttention(16, pool=True).double()
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(2, 16, 4, 6, dtype=torch.float64)  # P = 24 queries, 2×3 = 6 pooled keys
    block.record_attention = True
    y = block(x).detach().numpy()
    assert block.last_attention.shape == (2, 24, 6)
    Wf, Wg = block.key.weight[:, :, 0, 0].detach().numpy(), block.query.weight[:, :, 0, 0].detach().numpy()
    Wh, Wv = block.value.weight[:, :, 0, 0].detach().numpy(), block.out.weight[:, :, 0, 0].detach().numpy()

    def pool(t: np.ndarray) -> np.ndarray:  # [c, 4, 6] -> [c, 6]: max over each 2×2 window
        return t.reshape(t.shape[0], 2, 2, 3, 2).max(axis=(2, 4)).reshape(t.shape[0], 6)

    for n in range(2):
        xs = x[n].numpy()  # [C, 4, 6]
        f = pool(np.einsum("kc,chw->khw", Wf, xs))
        h = pool(np.einsum("kc,chw->khw", Wh, xs))
        g = Wg @ xs.reshape(16, 24)
        for j in range(24):
            s = f.T @ g[:, j]  # s_ij over the 6 pooled keys
            beta = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
            o = Wv @ (h @ beta)
            np.testing.assert_allclose(y[n].reshape(16, 24)[:, j], 0.7 * o + xs.reshape(16, 24)[:, j], rtol=1e-10,
                                       atol=1e-12)
    maps = block.query_maps([(3, 5)])  # a query on the 4×6 grid, its map on the 2×3 key grid
    assert maps.shape == (2, 1, 2, 3)
    torch.testing.assert_close(maps[:, 0].reshape(2, 6), block.last_attention[:, 3 * 6 + 5])


def test_query_maps_are_rows_of_the_recorded_attention() -> None:
    block = _block()
    with pytest.raises(ValueError, match="no attention recorded"):
        block.query_maps([(0, 0)])
    block.record_attention = True
    x = torch.randn(2, 16, 4, 5, dtype=torch.float64)
    block(x)
    maps = block.query_maps([(1, 2), (3, 4)])
    assert maps.shape == (2, 2, 4, 5)
    beta = block.attention(x)
    torch.testing.assert_close(maps[:, 0].reshape(2, 20), beta[:, 1 * 5 + 2])
    torch.testing.assert_close(maps[:, 1].reshape(2, 20), beta[:, 3 * 5 + 4])
    with pytest.raises(ValueError, match=r"query pixel \(4, 0\) is outside the 4×5"):
        block.query_maps([(4, 0)])
    with pytest.raises(ValueError, match=r"expects \[N, 16, H, W\]"):
        block(torch.randn(2, 8, 4, 4, dtype=torch.float64))


def test_networks_shapes_attention_placement_and_spectral_norm() -> None:
    torch.manual_seed(0)
    nets = SAGANConfig(**SMALL).build(SPEC)
    G, D = nets["G"], nets["D"]
    assert G.c_dim == 10
    assert D.c_dim == 10
    assert G.z_dim == 8
    z, c = torch.randn(5, 8), torch.arange(5)
    x = G(z, c)
    assert x.shape == (5, 1, 28, 28)
    assert x.abs().max() <= 1
    assert D(x, c).shape == (5, 1)
    for net in (G, D):
        (attn,) = attention_blocks(net)
        attn.record_attention = True
    G(z, c)
    D(x, c)
    assert [tuple(attention_blocks(n)[0].last_attention.shape) for n in (G, D)] == [(5, 196, 196)] * 2  # 14×14
    # spectral norm on every conv / linear in G and D (§4.1), the attention's 1×1 convs included
    convs = [m for net in (G, D) for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d,
                                                                          torch.nn.Linear))]
    assert convs
    assert all(has_spectral_norm(m) for m in convs)
    # class-conditional BN: per-class tables start at gain 1 / bias 0 and stay unnormalised
    cbns = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(cbns) == 2
    assert all(torch.equal(m.gain.weight, torch.ones_like(m.gain.weight)) and not has_spectral_norm(m.gain)
               for m in cbns)


def test_conditional_bn_uses_the_label_row() -> None:
    bn = ConditionalBatchNorm2d(3, num_classes=4).eval()
    with torch.no_grad():
        bn.gain.weight[2] = torch.tensor([2.0, 3.0, 4.0])
        bn.bias.weight[2] = torch.tensor([1.0, 0.0, -1.0])
    x = torch.randn(2, 3, 2, 2)
    y = bn(x, torch.tensor([2, 0]))
    normed = bn.bn(x)
    torch.testing.assert_close(y[0], normed[0] * torch.tensor([2.0, 3.0, 4.0])[:, None, None]
                               + torch.tensor([1.0, 0.0, -1.0])[:, None, None])
    torch.testing.assert_close(y[1], normed[1])


def test_the_label_reaches_the_generator_at_init() -> None:
    """The bug: with the label only in 2 conditional-BN layers whose tables start at Γ = 1, B = 0, G's output does
    not depend on the label at all at init (and at the paper's lr barely after 1,000 steps: 12.9 % label accuracy).
    ``label_dim`` concatenates a N(0, I) class embedding to z at G's input, as large as z (128 = z_dim), so the
    label moves G's output about as much as z does from step 0."""
    torch.manual_seed(0)
    paper = SAGANConfig(**{**SMALL, "z_dim": 16}).build(SPEC)["G"]
    by_label, by_z = label_and_z_variance(paper, 16)
    assert by_label == 0.0  # identity tables: the label changes nothing
    assert by_z > 0.0
    # the preset uses it, 10-d since issue 24's fourth round (a z_dim-sized one made one image per label)
    assert resolve_config("sagan-mnist").model.options["label_dim"] == 10
    torch.manual_seed(0)
    G = SAGANConfig(**{**SMALL, "z_dim": 16, "label_dim": 16}).build(SPEC)["G"]
    assert not has_spectral_norm(G.label_embed)  # a class table, not a linear map of a feature
    rows = G.label_embed.weight.norm(dim=1)  # N(0, I) rows: norm ≈ √16 = 4 (chi with 16 d.o.f.: 2.5..5.5 w.p. ≈ 1)
    assert rows.min() > 2.0
    assert rows.max() < 6.0
    by_label, by_z = label_and_z_variance(G, 16)
    assert by_label > 0.25 * by_z  # same-size inputs: comparable variance (measured 1.0× at the preset's size)
    with pytest.raises(ValueError, match="pass class labels"):
        G(torch.randn(2, 16))


def test_unconditional_and_no_attention_variants() -> None:
    nets = SAGANConfig(**SMALL, conditioning="none", attention_res=-1).build(SPEC)
    assert nets["G"].c_dim == 0
    assert nets["D"].c_dim == 0
    assert attention_blocks(nets["G"]) == []
    assert attention_blocks(nets["D"]) == []
    assert nets["D"](nets["G"](torch.randn(3, 8))).shape == (3, 1)


def test_d_norm_batch_normalises_every_discriminator_conv_but_the_first() -> None:
    """``d_norm: batch`` (DCGAN's D, issue 24): BN after conv 2.. (not after the image conv); in training mode a
    sample's score then depends on the rest of its batch, with ``d_norm: none`` it does not."""
    torch.manual_seed(0)
    x = torch.randn(4, 1, 28, 28)
    c = torch.arange(4)
    x2 = x.clone()
    x2[1:] = torch.randn(3, 1, 28, 28)  # the other samples of the batch changed, sample 0 kept
    for d_norm, batch_dependent in (("none", False), ("batch", True)):
        D = SAGANConfig(**SMALL, d_norm=d_norm, spectral_norm=False).build(SPEC)["D"].train()
        kinds = [type(m).__name__ for m in D.norms]
        assert kinds == (["Identity", "BatchNorm2d"] if d_norm == "batch" else ["Identity", "Identity"])
        with torch.no_grad():
            same = torch.equal(D(x, c)[0], D(x2, c)[0])
        assert same != batch_dependent
    with pytest.raises(ValueError, match="unknown d_norm 'layer'"):
        SAGANConfig(d_norm="layer")


def test_g_strides_one_adds_a_same_size_layer_before_the_upsampling_ones() -> None:
    """``g_strides [1, 2, 2]`` with ``g_channels [16, 8, 4]``: dense -> [16, 7, 7] -> ConvT3 s1 [8, 7, 7] -> ConvT4 s2
    [4, 14, 14] (attention at 14×14) -> ConvT4 s2 [1, 28, 28] (the conditional DCGAN's G layout)."""
    torch.manual_seed(0)
    G = SAGANConfig(z_dim=8, g_channels=(16, 8, 4), g_strides=(1, 2, 2), d_channels=(4, 8),
                    attention_res=14).build(SPEC)["G"]
    assert G.start == (16, 7, 7)
    assert [(m.kernel_size, m.stride, m.out_channels) for m in G.convs] == [((3, 3), (1, 1), 8), ((4, 4), (2, 2), 4),
                                                                           ((4, 4), (2, 2), 1)]
    assert G.attention_at == 2
    assert G.attention.query.in_channels == 4
    assert G(torch.randn(3, 8), torch.arange(3)).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match=r"g_strides needs one stride \(1 or 2\) per g_channels entry \(2\)"):
        SAGANConfig(g_strides=(1, 2, 2))
    with pytest.raises(ValueError, match="g_strides needs one stride"):
        SAGANConfig(g_strides=(3, 2))


def test_bad_options_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="attention_res 9 is not a feature-map size of the generator"):
        Run(resolve_config("sagan-mnist", [*TINY, "model.options.attention_res=9"]), Path("/nonexistent/never"))
    with pytest.raises(ValueError, match="upsample by 8, but the data is 28×28"):
        SAGANConfig(z_dim=4, g_channels=(4, 4, 4)).build(SPEC)
    with pytest.raises(ValueError, match="needs a labelled dataset"):
        SAGANConfig(**SMALL).build(DataSpec((1, 28, 28)))
    with pytest.raises(ValueError, match="unknown d_pool 'max'"):
        SAGANConfig(d_pool="max")


def test_preset_trains_samples_and_evaluates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = resolve_config("sagan-mnist")
    # issue 24, fourth round: the conditional DCGAN's optimiser and D (paper: TTUR 1e-4 / 4e-4, β (0, 0.9), SN D)
    assert (cfg.optim.d.lr, cfg.optim.g.lr, tuple(cfg.optim.d.betas)) == (2e-4, 2e-4, (0.5, 0.999))
    opts = cfg.model.options
    assert (opts["d_norm"], opts["spectral_norm"], opts["g_spectral_norm"], opts["label_dim"]) == ("batch", False,
                                                                                                  False, 10)
    assert cfg.objective.name == "hinge"
    assert cfg.train.d_steps == 1
    sets = [a for o in [*TINY, "train.steps=3"] for a in ("--set", o)]
    run = tmp_path / "run"
    assert main(["train", "sagan-mnist", *sets, "--run-dir", str(run), "--no-progress"]) == 0
    final = (run / "eval" / "final.json").read_text()
    assert "confident_percent" in final
    assert "fid" in final
    assert main(["sample", str(run), "--n", "6", "--format", "npz", "--out", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["images"].shape == (6, 1, 28, 28)
    capsys.readouterr()
    rc = main(["train", "sagan-mnist", *sets, "--set", "model.options.d_pool=max", "--run-dir", str(tmp_path / "b")])
    one_line_error(capsys, rc, "unknown d_pool 'max'")
