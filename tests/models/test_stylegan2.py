"""StyleGAN2 networks against their equations: modulation/demodulation (eq. 1–3) vs an explicit per-sample
convolution, unit output std, the equalised-lr scale of the mapping network (lr multiplier 0.01), w-truncation,
minibatch stddev, the style ranges, and bad options / shapes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganforge.data.base import DataSpec
from ganforge.models.base import Sampler
from ganforge.models.stylegan2 import (
    StyleGAN2Config,
    conv_down,
    downsample2d,
    lrelu,
    minibatch_stddev,
    modulated_conv2d,
    upsample2d,
)

TINY = dict(z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8)


def tiny(res: int = 16, ch: int = 1) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return StyleGAN2Config(**TINY).build(DataSpec((ch, res, res)))


def explicit_modconv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool) -> torch.Tensor:
    """Eq. 1–3 literally: for each sample n, w'_ijk = s_i w_ijk, w''_ijk = w'_ijk / sqrt(Σ_ik w'_ijk² + ε), then
    an ordinary convolution of that sample with its own weights."""
    outs = []
    for n in range(x.shape[0]):
        w = weight * styles[n][None, :, None, None]  # (1)
        if demodulate:
            w = w / torch.sqrt(w.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8)  # (2), (3)
        outs.append(F.conv2d(x[n : n + 1], w, padding=weight.shape[-1] // 2))
    return torch.cat(outs)


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_equals_per_sample_conv(demodulate: bool) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, 6, 6, generator=g, dtype=torch.float64)
    weight = torch.randn(4, 5, 3, 3, generator=g, dtype=torch.float64)
    styles = torch.rand(3, 5, generator=g, dtype=torch.float64) * 2 + 0.1
    got = modulated_conv2d(x, weight, styles, demodulate=demodulate)
    want = explicit_modconv(x, weight, styles, demodulate)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)  # same maths, float64: only summation order differs


def test_demodulation_gives_unit_output_std() -> None:
    """§2.2: with demodulation, unit-variance i.i.d. input gives unit-variance output whatever the styles."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(64, 16, 16, 16, generator=g)
    weight = torch.randn(8, 16, 3, 3, generator=g)
    styles = torch.rand(64, 16, generator=g) * 5  # wildly scaled styles
    out = modulated_conv2d(x, weight, styles, demodulate=True)[:, :, 1:-1, 1:-1]  # interior (no zero padding)
    std = out.std(dim=(0, 2, 3))  # per output channel, 64·14·14 = 12,544 values each
    # std of a sample std of m Gaussian values ≈ 1/sqrt(2m) ≈ 0.006; allow 5 sigma
    assert torch.allclose(std, torch.ones_like(std), atol=0.04), std
    raw = modulated_conv2d(x, weight, styles, demodulate=False)[:, :, 1:-1, 1:-1].std()
    assert raw > 3  # without demodulation the scale of the styles passes through


def test_mapping_equalised_lr_scale() -> None:
    """Each mapping FC: stored weight N(0, 1/λ²) with λ = 0.01, runtime scale λ/sqrt(fan_in) (gain 1, the lrelu·√2
    gain follows the activation), so the effective weight starts N(0, 1/fan_in)."""
    G = tiny()["G"]
    for fc in G.mapping.fcs:
        assert fc.lr_multiplier == 0.01
        assert math.isclose(fc.scale, 0.01 / math.sqrt(fc.in_features))
    big = StyleGAN2Config(z_dim=256, w_dim=256, mapping_layers=1, channel_base=64, channel_max=8)
    torch.manual_seed(0)
    fc = big.build(DataSpec((1, 8, 8)))["G"].mapping.fcs[0]
    eff = fc.weight.detach() * fc.scale  # 65,536 values: std of the estimate ≈ 0.3 %
    assert abs(float(fc.weight.detach().std()) * 0.01 - 1.0) < 0.02
    assert abs(float(eff.std()) * math.sqrt(256) - 1.0) < 0.02


def test_shapes_ws_and_style_ranges() -> None:
    nets = tiny(16)
    G, D = nets["G"], nets["D"]
    assert G.num_ws == 6
    assert G.layer_res == [4, 8, 8, 16, 16, 16]
    z = torch.randn(4, 8)
    ws = G.styles(z)
    assert ws.shape == (4, 6, 8)
    img = G.synthesis(ws, "const")
    assert img.shape == (4, 1, 16, 16)
    assert D(img).shape == (4, 1)
    assert StyleGAN2Config.style_ranges(G) == {"coarse": [0, 1, 2], "middle": [], "fine": [3, 4, 5]}


def test_truncation_in_w_space_and_sampler_draws_plain_z() -> None:
    family = StyleGAN2Config(**TINY)
    torch.manual_seed(0)
    nets = family.build(DataSpec((1, 8, 8)))
    G = nets["G"]
    G.mapping.w_avg.copy_(torch.randn(8))
    z = torch.randn(5, 8)
    w = G.styles(z)[:, 0]
    torch.testing.assert_close(G.styles(z, 0.5)[:, 0], G.mapping.w_avg + 0.5 * (w - G.mapping.w_avg))
    mean_img = family.generate(nets, z, truncation=0.0)  # ψ = 0: every sample is the image of w̄
    torch.testing.assert_close(mean_img, mean_img[:1].expand_as(mean_img))
    sampler = Sampler(family, {"G": G}, truncation=0.5)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(sampler.sample_z(200, g1), torch.randn(200, 8, generator=g2))  # no z redraw
    with pytest.raises(ValueError, match="finite"):
        family.generate(nets, z, truncation=float("nan"))


def test_w_avg_moves_only_when_asked() -> None:
    G = tiny()["G"]
    before = G.mapping.w_avg.clone()
    G(torch.randn(4, 8))  # sampling
    assert torch.equal(G.mapping.w_avg, before)
    G.styles(torch.randn(4, 8), update_w_avg=True)
    assert not torch.equal(G.mapping.w_avg, before)


def test_const_noise_makes_generation_deterministic() -> None:
    G = tiny()["G"]
    for layer in G.convs:
        layer.noise_strength.data.fill_(0.5)
    z = torch.randn(2, 8)
    torch.testing.assert_close(G(z), G(z))
    ws = G.styles(z)
    a = G.synthesis(ws, "random", torch.Generator().manual_seed(0))
    b = G.synthesis(ws, "random", torch.Generator().manual_seed(0))
    c = G.synthesis(ws, "random", torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_use_noise_false_ignores_noise_inputs() -> None:
    """``use_noise: false`` (NVlabs' ``SynthesisLayer(use_noise=False)``): the image is a function of w alone, whatever
    the noise mode, RNG or a nonzero noise strength (same code path twice: exact)."""
    torch.manual_seed(0)
    G = StyleGAN2Config(**TINY, use_noise=False).build(DataSpec((1, 16, 16)))["G"]
    for layer in G.convs:
        layer.noise_strength.data.fill_(0.5)
    ws = G.styles(torch.randn(2, 8))
    a = G.synthesis(ws, "random", torch.Generator().manual_seed(0))
    for mode, seed in (("random", 1), ("const", 0), ("none", 0)):
        assert torch.equal(a, G.synthesis(ws, mode, torch.Generator().manual_seed(seed)))


def test_resampling_filters_keep_constants_and_sizes() -> None:
    x = torch.full((1, 2, 8, 8), 3.0)
    up, down = upsample2d(x), downsample2d(x)
    assert up.shape == (1, 2, 16, 16)
    assert down.shape == (1, 2, 4, 4)
    torch.testing.assert_close(up[:, :, 2:-2, 2:-2], torch.full_like(up[:, :, 2:-2, 2:-2], 3.0))
    torch.testing.assert_close(down[:, :, 1:-1, 1:-1], torch.full_like(down[:, :, 1:-1, 1:-1], 3.0))


def nvlabs_up_conv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """NVlabs' ``conv2d_resample(up=2, padding=1)`` for a 3×3 kernel, written out: a stride-2 transposed conv (no
    padding, [N, O, 2H + 1, 2W + 1]; ``SynthesisLayer`` passes flip_weight = False for up = 2, so the kernel is
    used unflipped by ``conv_transpose2d``), then the [1, 3, 3, 1] filter with gain 4 and padding (1, 1) → 2H."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=x.dtype)
    k = torch.outer(f, f) / f.sum() ** 2 * 4  # sums to 4 = up²: a constant stays constant
    y = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
    y = F.pad(y, (1, 1, 1, 1))
    c = y.shape[1]
    return F.conv2d(y, k.expand(c, 1, 4, 4), groups=c)


def test_up_conv_equals_transposed_conv_and_filter_inside_the_border() -> None:
    """Our up-conv (zero insertion, FIR, zero-padded 3×3 correlation) against NVlabs' transposed conv + FIR: both are
    the same chain of linear shift-invariant maps (zero insertion, [1,3,3,1]² filter, 3×3 kernel), so they agree
    everywhere except where our zero padding cuts the filtered image: the outer pixel ring. NVlabs' transposed conv
    convolves with the kernel, ours correlates, so the same function needs the kernel flipped — a re-labelling of
    weights drawn from a symmetric N(0, 1), irrelevant when training from scratch. float64: only summation order
    differs, so 1e-12."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64)
    ours = modulated_conv2d(x, weight.flip([2, 3]), torch.ones(2, 3, dtype=torch.float64), demodulate=False,
                            up=True)
    ref = nvlabs_up_conv(x, weight)
    assert ours.shape == ref.shape == (2, 4, 12, 12)
    torch.testing.assert_close(ours[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], rtol=1e-12, atol=1e-12)
    ring = (ours - ref).abs()
    ring[..., 1:-1, 1:-1] = 0
    assert ring.max() > 1e-3  # the outer ring does differ (the documented difference)


def test_plain_d_block_has_no_skip_and_d_widths_are_its_own() -> None:
    """``d_architecture: orig`` (NVlabs' cifar D): a block is conv3 → lrelu → conv3↓2 → lrelu, no 1×1 skip and no
    1/√2; ``d_channel_base`` / ``d_channel_max`` size D alone (G keeps ``channel_base`` / ``channel_max``)."""
    torch.manual_seed(0)
    nets = StyleGAN2Config(**{**TINY, "d_architecture": "orig", "d_channel_base": 128, "d_channel_max": 16}).build(
        DataSpec((1, 16, 16)))
    G, D = nets["G"], nets["D"]
    block = D.blocks[0]  # 16² → 8²: min(128 / 16, 16) = 8 → min(128 / 8, 16) = 16 channels
    assert block.skip is None
    assert (block.conv0.in_channels, block.conv1.out_channels) == (8, 16)
    assert G.convs[-1].weight.shape[0] == 4  # G: min(64 / 16, 8) = 4, unchanged
    x = torch.randn(2, 8, 16, 16)
    torch.testing.assert_close(block(x), lrelu(conv_down(block.conv1, lrelu(block.conv0(x)))), rtol=0, atol=0)
    resnet = StyleGAN2Config(**TINY).build(DataSpec((1, 16, 16)))["D"]
    assert resnet.blocks[0].skip is not None


def test_minibatch_stddev_matches_definition() -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(8, 3, 4, 4, generator=g, dtype=torch.float64)
    out = minibatch_stddev(x, group=4)
    assert out.shape == (8, 4, 4, 4)
    members = x[[1, 3, 5, 7]]  # group of sample 1: samples 1, 3, 5, 7 (rows i, i + N/G, ... as reshape(G, -1))
    want = (members.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
    torch.testing.assert_close(out[1, 3], torch.full((4, 4), float(want), dtype=torch.float64))
    assert minibatch_stddev(x[:6], group=4).shape == (6, 4, 4, 4)  # 6 % 4 != 0: groups of 3


@pytest.mark.parametrize(("opts", "shape", "msg"), [
    ({}, (1, 24, 24), "power-of-two"),
    ({}, (2,), "image data"),
    ({"channel_max": 0}, (1, 8, 8), "channel_max must be >= 1"),
    ({"sample_noise": "loud"}, (1, 8, 8), "unknown sample_noise"),
    ({"mapping_lr": 0.0}, (1, 8, 8), "mapping_lr"),
    ({"d_architecture": "skip"}, (1, 8, 8), "unknown d_architecture"),
    ({"d_channel_base": -1}, (1, 8, 8), "d_channel_base must be >= 0"),
])
def test_bad_options_one_line(opts: dict, shape: tuple, msg: str) -> None:
    with pytest.raises(ValueError, match=msg) as exc:
        StyleGAN2Config(**{**TINY, **opts}).build(DataSpec(shape))
    assert "\n" not in str(exc.value)


# ---- the commands: style-grid, sample --truncation ψ, interpolate in W ----------------------------------------------

RUN_SETS = ["model.name=stylegan2", "model.options={'z_dim': 4, 'w_dim': 4, 'mapping_layers': 2, 'channel_base': 32, "
            "'channel_max': 4}", "objective.name=stylegan2", "objective.options={'r1_every': 2, 'pl_every': 2}",
            "data.name=lfw", "data.options={'limit': 8}", "train.batch_size=4", "train.steps=2", "train.ema=0.9"]


@pytest.fixture(scope="module")
def style_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers import make_run

    return make_run(RUN_SETS, tmp_path_factory.mktemp("sg") / "run")


def test_style_grid_writes_both_grids(style_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    from ganforge.cli import main

    assert main(["style-grid", str(style_run), "--rows", "2", "--cols", "3", "--psi", "1,0.5,0", "--sweep-rows", "2",
                 "--scale", "1", "--out-dir", str(tmp_path), "--device", "cpu"]) == 0
    mix = Image.open(tmp_path / "style-mixing-seed0.png")
    trunc = Image.open(tmp_path / "truncation-seed0.png")
    assert main(["style-grid", str(style_run), "--rows", "2", "--cols", "3", "--psi", "1,0.5,0", "--sweep-rows", "2",
                 "--scale", "2", "--out-dir", str(tmp_path / "x2"), "--device", "cpu"]) == 0
    mix2 = Image.open(tmp_path / "x2" / "style-mixing-seed0.png")
    trunc2 = Image.open(tmp_path / "x2" / "truncation-seed0.png")
    # 32×32 cells with 2 px padding: 4 columns (A + 3 B); rows: B + 3 ranges (coarse, middle, fine) × 2 A rows = 7;
    # the labels (a header row, a strip of range names left of the mixing grid) keep their size at any --scale
    body = (4 * 34 + 2, 7 * 34 + 2)
    assert mix.width > body[0]  # the row-title strip
    assert mix.height > body[1]  # the header
    assert (mix2.width - mix.width, mix2.height - mix.height) == body  # only the images double
    assert trunc.width == 3 * 34 + 2  # no row titles
    assert trunc.height > 2 * 34 + 2
    assert (trunc2.width, trunc2.height - trunc.height) == (2 * trunc.width, 2 * 34 + 2)
    strip = np.asarray(mix.convert("L"))[:, : mix.width - body[0]]
    assert (strip < 128).any()  # the range names are drawn
    header = np.asarray(trunc.convert("L"))[: trunc.height - (2 * 34 + 2)]
    assert (header < 128).any()  # the psi values are drawn


def test_sample_truncation_and_interpolate_in_w(style_run: Path, tmp_path: Path) -> None:
    from ganforge.cli import main

    assert main(["sample", str(style_run), "--n", "4", "--truncation", "0.7", "--out", str(tmp_path / "s.png"),
                 "--device", "cpu"]) == 0
    assert main(["interpolate", str(style_run), "--pairs", "2", "--steps", "3", "--out", str(tmp_path / "i.png"),
                 "--device", "cpu"]) == 0
    assert (tmp_path / "s.png").is_file()
    assert (tmp_path / "i.png").is_file()


def test_style_grid_refuses_other_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge.cli import main
    from helpers import make_run, one_line_error

    run = make_run([], tmp_path / "mlp")
    one_line_error(capsys, main(["style-grid", str(run), "--device", "cpu"]), "style-based run", "stylegan2")
    one_line_error(capsys, main(["style-grid", str(run), "--psi", "a,b"]), "--psi")
