"""Progressive-growing networks (Karras et al. 2018): pixel norm, minibatch stddev, the fade-in of G and D at α = 0 / 1
against the old / new path, equalised layers, the sampling contract at the current resolution, and bad inputs."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Sampler
from ganforge.models.equalized import EqualizedConv2d, EqualizedLinear
from ganforge.models.pggan import (
    PGGANConfig,
    minibatch_stddev,
    pixel_norm,
    resolutions,
    upsample,
)
from ganforge.training.ema import make_ema, update_ema

SPEC = DataSpec((1, 16, 16))
TINY = PGGANConfig(z_dim=8, fmap_base=16, fmap_max=8, mbstd_group=2)  # 8 / 4 / 2 channels at 4 / 8 / 16


def tiny_nets(seed: int = 0) -> dict[str, nn.Module]:
    torch.manual_seed(seed)
    return {name: net.double() for name, net in TINY.build(SPEC).items()}


def z_batch(n: int = 4) -> torch.Tensor:
    return torch.randn(n, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


# ---- the paper's building blocks ------------------------------------------------------------------------------------


def test_pixel_norm_equation() -> None:
    a = torch.randn(3, 5, 4, 4, dtype=torch.float64)
    want = a / torch.sqrt((a**2).sum(1, keepdim=True) / 5 + 1e-8)  # b = a / sqrt(1/N Σ_j (a^j)² + ε), N = 5 maps
    torch.testing.assert_close(pixel_norm(a), want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(pixel_norm(a).square().mean(1), torch.ones(3, 4, 4, dtype=torch.float64), rtol=1e-6,
                               atol=1e-6)  # unit mean square per pixel
    torch.testing.assert_close(pixel_norm(7.0 * a), pixel_norm(a), rtol=1e-6, atol=1e-6)  # scale invariant


def test_minibatch_stddev_against_a_loop_over_groups() -> None:
    x = torch.randn(8, 3, 4, 4, dtype=torch.float64)
    out = minibatch_stddev(x, group_size=4)  # G = 4, M = 2 groups: sample n in group n mod 2
    assert out.shape == (8, 4, 4, 4)
    torch.testing.assert_close(out[:, :3], x, rtol=0, atol=0)
    for m in range(2):
        members = x[m::2]  # [4, 3, 4, 4]
        sigma = torch.sqrt(members.var(dim=0, unbiased=False) + 1e-8).mean()  # population std per feature, averaged
        for n in range(m, 8, 2):
            torch.testing.assert_close(out[n, 3], torch.full((4, 4), float(sigma), dtype=torch.float64), rtol=1e-12,
                                       atol=1e-12)
    same = minibatch_stddev(torch.ones(2, 1, 4, 4, dtype=torch.float64), 4)[:, 1]  # G = min(4, N); identical samples
    torch.testing.assert_close(same, torch.full((2, 4, 4), 1e-4, dtype=torch.float64), rtol=1e-9, atol=0)
    with pytest.raises(ValueError, match="group size 4 must divide the batch size 6"):
        minibatch_stddev(torch.zeros(6, 1, 4, 4), 4)


def test_every_layer_is_equalised_and_channels_follow_the_released_rule() -> None:
    nets = tiny_nets()
    for net in nets.values():
        layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear, EqualizedConv2d, EqualizedLinear))]
        assert layers
        assert all(isinstance(m, (EqualizedConv2d, EqualizedLinear)) for m in layers)
    G = nets["G"]
    assert G.resolutions == resolutions(16) == (4, 8, 16)
    assert [TINY.channels(r) for r in (4, 8, 16)] == [8, 4, 2]  # min(fmap_base·2 / r, fmap_max)
    assert G.dense.scale == pytest.approx(math.sqrt(2) / 4 / math.sqrt(8))  # released code: gain √2/4 on the Dense
    assert all(m.scale == pytest.approx(1 / math.sqrt(m.in_channels)) for m in G.to_rgb)  # toRGB: gain 1
    assert nets["D"].out.scale == pytest.approx(1 / math.sqrt(TINY.channels(2)))  # linear critic output: gain 1
    paper = PGGANConfig(z_dim=512, fmap_base=8192, fmap_max=512)
    assert [paper.channels(r) for r in (4, 8, 16, 32, 64, 128, 1024)] == [512, 512, 512, 512, 256, 128, 16]


# ---- G: growth, fade-in, sampling contract ---------------------------------------------------------------------------


def test_generator_output_shapes_per_stage() -> None:
    G, z = tiny_nets()["G"], z_batch()
    for level, r in enumerate((4, 8, 16)):
        G.set_progress(level, 1.0)
        img = G.synthesize(z)
        assert img.shape == (4, 1, r, r)
        out = G(z)  # the sampling contract: shaped like the data, pixel-replicated from the current stage
        assert out.shape == (4, 1, 16, 16)
        assert torch.equal(out, upsample(img, 16 // r))


def test_generator_fade_in_alpha_0_is_the_old_path_and_alpha_1_the_new() -> None:
    G, z = tiny_nets()["G"], z_batch()
    for level in (1, 2):
        G.set_progress(level - 1, 1.0)
        old = upsample(G.synthesize(z))  # the previous stage, pixel-replicated to this resolution
        G.set_progress(level, 1.0)
        new = G.synthesize(z)
        G.set_progress(level, 0.0)
        assert torch.equal(G.synthesize(z), old)  # α = 0: the new block contributes nothing
        G.set_progress(level, 0.3)
        torch.testing.assert_close(G.synthesize(z), 0.7 * old + 0.3 * new, rtol=1e-12, atol=1e-12)
        with torch.no_grad():  # α = 1: the old toRGB is out of the picture
            G.to_rgb[level - 1].weight.add_(1.0)
        G.set_progress(level, 1.0)
        assert torch.equal(G.synthesize(z), new)


def test_sampler_draws_the_current_stage_from_the_ema_copy() -> None:
    nets = tiny_nets()
    G = nets["G"]
    G_ema = make_ema(G)
    G.set_progress(1, 1.0)  # 8x8, what the objective sets at a step of stage 1
    update_ema(G_ema, G, 0.999)
    assert int(G_ema.level) == 1
    assert float(G_ema.alpha) == 1.0
    sampler = Sampler(TINY, {"G": G_ema})
    assert (sampler.z_dim, sampler.output_range) == (8, (-1.0, 1.0))
    x = sampler(z_batch())  # [4, 1, 16, 16] made of 2x2 blocks: the 8x8 image blown up for grids and evaluation
    assert x.shape == (4, 1, 16, 16)
    assert torch.equal(x, upsample(x[:, :, ::2, ::2]))
    state = G.state_dict()
    assert int(state["level"]) == 1
    assert float(state["alpha"]) == 1.0


# ---- D: growth and fade-in ------------------------------------------------------------------------------------------


def test_discriminator_fade_in_and_full_resolution_inputs() -> None:
    D = tiny_nets()["D"]
    x = torch.randn(4, 1, 16, 16, dtype=torch.float64)
    for level in (1, 2):
        r = 4 * 2**level
        x_r = torch.nn.functional.avg_pool2d(x, 16 // r)
        D.set_progress(level - 1, 1.0)
        old = D(torch.nn.functional.avg_pool2d(x_r, 2))  # the previous stage on the box-filtered image
        D.set_progress(level, 0.0)
        assert torch.equal(D(x_r), old)  # α = 0: fromRGB_{k−1}(down(x)) only
        D.set_progress(level, 1.0)
        new = D(x_r)
        D.set_progress(level, 0.25)
        mixed = D(x_r)
        assert mixed.shape == (4, 1)
        with torch.no_grad():  # α = 1: the old fromRGB is unused
            D.from_rgb[level - 1].weight.add_(1.0)
        D.set_progress(level, 1.0)
        assert torch.equal(D(x_r), new)
        torch.testing.assert_close(D(x), new, rtol=1e-9, atol=1e-9)  # a 16x16 input is box-filtered to r first
    G = tiny_nets()["G"]
    G.set_progress(1, 0.5)
    D.set_progress(1, 0.5)
    z = z_batch()
    torch.testing.assert_close(D(G(z)), D(G.synthesize(z)), rtol=1e-9, atol=1e-9)  # up then down = identity


def test_discriminator_rejects_images_of_the_wrong_size() -> None:
    D = tiny_nets()["D"]
    D.set_progress(1, 1.0)
    with pytest.raises(ValueError, match=r"at 8x8 takes images \[N, 1, r', r'\]"):
        D(torch.zeros(4, 1, 4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="got \\(4, 3, 8, 8\\)"):
        D(torch.zeros(4, 3, 8, 8, dtype=torch.float64))


# ---- options and data checks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "message"), [
    ((1, 28, 28), "power-of-two side >= 8, got 28x28; use data mnist32"),
    ((1, 4, 4), "got 4x4"),
    ((3, 16, 8), "got 16x8"),
    ((10,), "model pggan generates images"),
])
def test_build_rejects_data_it_cannot_grow_to(shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TINY.build(DataSpec(shape))


def test_bad_options() -> None:
    with pytest.raises(ValueError, match=r"model\.options\.fmap_max must be >= 1"):
        PGGANConfig(fmap_max=0)
    with pytest.raises(ValueError, match="leaky_slope must be in"):
        PGGANConfig(leaky_slope=1.5)
    G = tiny_nets()["G"]
    with pytest.raises(ValueError, match="alpha must be in"):
        G.set_progress(1, 1.5)
    with pytest.raises(ValueError, match=r"level 3 out of range 0\.\.2"):
        copy.deepcopy(G).set_progress(3, 1.0)
