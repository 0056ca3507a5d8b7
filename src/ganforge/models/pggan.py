"""Progressive growing of GANs (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability, and
Variation", ICLR; "ProGAN"/"PGGAN"): G and D start at 4x4 and grow by doubling the resolution, one block at a time,
up to the data's size (4 → 8 → 16 → 32 for ``mnist32``).

- **Fade-in** (§3, Fig. 2): while a new block is faded in, G's output is ``(1 − α)·up(toRGB_{k−1}(h_{k−1})) +
  α·toRGB_k(block_k(up(h_{k−1})))`` and D's features after the new block are ``(1 − α)·fromRGB_{k−1}(down(x)) +
  α·block_k(fromRGB_k(x))``, α rising linearly from 0 to 1 (``losses/pggan.py`` owns the schedule).
- **Pixel norm** (§4.2, eq. in text): ``b_{x,y} = a_{x,y} / sqrt(1/N Σ_j (a^j_{x,y})² + ε)``, ε = 1e-8, over the N
  feature maps, after every conv layer of G (and on the latent code, as the released code does).
- **Equalised learning rate** (§4.1): every layer is an ``EqualizedConv2d`` / ``EqualizedLinear`` (``equalized.py``):
  N(0, 1) weights scaled at run time by sqrt(2 / fan_in) (gain 1 for toRGB and D's output).
- **Minibatch standard deviation** (§3): before D's last block, the std of every feature at every position over a
  group of ``mbstd_group`` samples, averaged to one number per group and appended as one constant feature map.

Architecture (paper Table 2 with the released code's channel rule nf(s) = min(fmap_base / 2^s, fmap_max); a block at
resolution r = 2^k has nf(k − 1) channels; the paper used fmap_base 8192, fmap_max 512 (512 channels up to 64²)):

  G: z [N, z_dim] → PN → Dense(z_dim → 16·nf, gain √2/4) → [N, nf, 4, 4] → +b, LReLU, PN → Conv3x3, LReLU, PN
     then per resolution r = 8, 16, …: up2× (nearest) → Conv3x3, LReLU, PN → Conv3x3, LReLU, PN → [N, nf(r), r, r]
     toRGB_r: Conv1x1(nf(r) → C), linear (no tanh) → [N, C, r, r]
  D: fromRGB_r: Conv1x1(C → nf(r)), LReLU, then per r … 8: Conv3x3(nf(r) → nf(r)), LReLU, Conv3x3(nf(r) → nf(r/2)),
     LReLU, avg-pool 2× → at 4x4: minibatch-stddev (+1 map) → Conv3x3, LReLU → Dense(16·nf(4) → nf(0)), LReLU →
     Dense(nf(0) → 1, gain 1): a critic score [N, 1]

The current stage lives in two buffers of each network, ``level`` (0 = 4², 1 = 8², …) and ``alpha`` (the fade-in
weight), so they are saved with every checkpoint and copied into G's EMA; the objective sets them from the training
step (``set_progress``). ``G.synthesize(z)`` returns the image at the current resolution (what training uses);
``G(z)`` (the sampling contract: samples shaped like the data) upsamples it to the data's size by pixel replication
(nearest neighbour), as the released code's ``UpscaleLOD`` does, so the sample grids, ``ganforge sample`` and
evaluation see the current stage's image blown up to 32² (blocky before the last stage). ``D`` accepts images at the
current resolution or any larger one of the ladder (average-pooled down first), so D(G(z)) = D(G.synthesize(z)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Discriminator, Generator, ModelFamily
from ganforge.models.equalized import HE_GAIN, EqualizedConv2d, EqualizedLinear
from ganforge.registry import MODELS

START_RESOLUTION = 4  # the paper's first stage (4x4)
PIXEL_NORM_EPS = 1e-8  # ε of pixel norm (§4.2) and of the minibatch-stddev square root (released code)


def pixel_norm(x: Tensor, eps: float = PIXEL_NORM_EPS) -> Tensor:
    """ProGAN §4.2: b_{x,y} = a_{x,y} / sqrt((1/N) Σ_j (a^j_{x,y})² + ε), over the channel dim 1 of ``[N, C, ...]``."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: Tensor, group_size: int) -> Tensor:
    """ProGAN §3 (the released code's ``minibatch_stddev_layer``): ``[N, C, H, W]`` → ``[N, C + 1, H, W]``.

    The batch is split into M = N / G groups of G = min(group_size, N) samples, sample n in group n mod M (the
    code's reshape to [G, M, ...]). Per group: σ = sqrt(Var_g[x] + 1e-8) (population variance over the G samples, per
    channel and position), averaged over C, H, W to one number, replicated as an extra H×W feature map.
    """
    n, c, h, w = x.shape
    g = min(group_size, n)
    if n % g:
        raise ValueError(f"minibatch-stddev group size {g} must divide the batch size {n}; use batch sizes that are "
                         f"multiples of model.options.mbstd_group ({group_size}) or change mbstd_group")
    y = x.reshape(g, n // g, c, h, w)  # [G, M, C, H, W]
    y = y - y.mean(dim=0, keepdim=True)
    y = torch.sqrt(y.square().mean(dim=0) + PIXEL_NORM_EPS)  # [M, C, H, W]: σ per feature and position
    y = y.mean(dim=(1, 2, 3))  # [M]
    y = y.repeat(g).view(n, 1, 1, 1).expand(n, 1, h, w)  # sample n gets its group's value y[n mod M]
    return torch.cat([x, y], dim=1)


def upsample(x: Tensor, factor: int = 2) -> Tensor:
    """Nearest-neighbour upsampling (pixel replication) ``[N, C, H, W]`` → ``[N, C, fH, fW]``."""
    return x if factor == 1 else x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)


def downsample(x: Tensor, factor: int = 2) -> Tensor:
    """Box filter: mean of each ``factor × factor`` block, ``[N, C, H, W]`` → ``[N, C, H/f, W/f]``."""
    return x if factor == 1 else F.avg_pool2d(x, factor)


class _Progress:
    """The ``level`` / ``alpha`` buffers shared by G and D (saved in state dicts; copied into EMA networks)."""

    level: Tensor
    alpha: Tensor
    resolutions: tuple[int, ...]

    def _init_progress(self, resolutions: tuple[int, ...]) -> None:
        self.resolutions = resolutions
        self.register_buffer("level", torch.tensor(len(resolutions) - 1, dtype=torch.int64))  # type: ignore[attr-defined]
        self.register_buffer("alpha", torch.tensor(1.0))  # type: ignore[attr-defined]

    def set_progress(self, level: int, alpha: float) -> None:
        """Grow to ``level`` (resolution ``resolutions[level]``) with fade-in weight ``alpha`` in [0, 1]."""
        if not 0 <= level < len(self.resolutions):
            raise ValueError(f"level {level} out of range 0..{len(self.resolutions) - 1}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.level.fill_(level)
        self.alpha.fill_(alpha)

    @property
    def current(self) -> tuple[int, float]:
        """(level, α) as Python numbers (one host read each)."""
        return int(self.level), float(self.alpha)


class PGGANGenerator(_Progress, Generator):
    """z ``[N, z_dim]`` → images ``[N, C, r, r]`` at the current resolution r (``synthesize``), or upsampled to the
    data's size (``forward``)."""

    def __init__(self, cfg: PGGANConfig, spec: DataSpec) -> None:
        super().__init__()
        channels, size = spec.shape[0], spec.shape[-1]
        self.z_dim, self.output_range, self.size = cfg.z_dim, (-1.0, 1.0), size
        self._init_progress(resolutions(size))
        self.slope, self.use_pixel_norm, self.normalize_latents = cfg.leaky_slope, cfg.pixel_norm, cfg.normalize_latents
        nf = [cfg.channels(r) for r in self.resolutions]
        self.nf0 = nf[0]
        # 4x4: Dense(z → 16·nf) with gain √2/4 (released code), per-channel bias after the reshape, then Conv3x3
        self.dense = EqualizedLinear(cfg.z_dim, 16 * nf[0], bias=False, gain=HE_GAIN / 4)
        self.dense_bias = nn.Parameter(torch.zeros(nf[0]))
        self.blocks = nn.ModuleList([nn.ModuleList([EqualizedConv2d(nf[0], nf[0], 3)])])
        for k in range(1, len(nf)):  # up2× → Conv3x3 → Conv3x3 at resolution 4·2^k
            self.blocks.append(nn.ModuleList([EqualizedConv2d(nf[k - 1], nf[k], 3), EqualizedConv2d(nf[k], nf[k], 3)]))
        self.to_rgb = nn.ModuleList([EqualizedConv2d(n, channels, 1, gain=1.0) for n in nf])  # linear outputs

    def _act(self, x: Tensor) -> Tensor:
        x = F.leaky_relu(x, self.slope)
        return pixel_norm(x) if self.use_pixel_norm else x

    def _block(self, k: int, h: Tensor) -> Tensor:
        for conv in self.blocks[k]:
            h = self._act(conv(h))
        return h

    def synthesize(self, z: Tensor) -> Tensor:
        """Images at the current resolution ``[N, C, r, r]``, blending in the newest block with α during a fade-in."""
        level, alpha = self.current
        x = pixel_norm(z) if self.normalize_latents else z  # [N, z_dim]
        h = self.dense(x).view(-1, self.nf0, 4, 4) + self.dense_bias.view(1, -1, 1, 1)  # [N, nf, 4, 4]
        h = self._block(0, self._act(h))
        prev = h
        for k in range(1, level + 1):
            prev, h = h, self._block(k, upsample(h))  # [N, nf(r), r, r]
        img = self.to_rgb[level](h)  # [N, C, r, r]
        if level > 0 and alpha < 1.0:  # fade-in: (1 − α)·up(toRGB_{k−1}(h_{k−1})) + α·toRGB_k(h_k)
            old = upsample(self.to_rgb[level - 1](prev))
            img = old + (img - old) * alpha
        return img

    def forward(self, z: Tensor) -> Tensor:
        """Samples shaped like the data ``[N, C, H, W]``: ``synthesize`` upsampled by pixel replication."""
        img = self.synthesize(z)
        return upsample(img, self.size // img.shape[-1])


class PGGANDiscriminator(_Progress, Discriminator):
    """Images ``[N, C, r', r']`` (r' = the current resolution or a larger rung of the ladder) → critic scores
    ``[N, 1]``."""

    def __init__(self, cfg: PGGANConfig, spec: DataSpec) -> None:
        super().__init__()
        channels, size = spec.shape[0], spec.shape[-1]
        self.channels, self.size, self.slope, self.mbstd_group = channels, size, cfg.leaky_slope, cfg.mbstd_group
        self._init_progress(resolutions(size))
        nf = [cfg.channels(r) for r in self.resolutions]
        self.from_rgb = nn.ModuleList([EqualizedConv2d(channels, n, 1) for n in nf])
        self.blocks = nn.ModuleList([nn.ModuleList()])  # level 0 has no downsampling block (the head follows)
        for k in range(1, len(nf)):  # Conv3x3(nf(r) → nf(r)) → Conv3x3(nf(r) → nf(r/2)) → avg-pool 2×
            self.blocks.append(nn.ModuleList([EqualizedConv2d(nf[k], nf[k], 3), EqualizedConv2d(nf[k], nf[k - 1], 3)]))
        extra = 1 if cfg.mbstd_group > 1 else 0
        self.head_conv = EqualizedConv2d(nf[0] + extra, nf[0], 3)
        self.head_dense = EqualizedLinear(16 * nf[0], cfg.channels(2))  # nf(0): the released code's last hidden width
        self.out = EqualizedLinear(cfg.channels(2), 1, gain=1.0)

    def _block(self, k: int, h: Tensor) -> Tensor:
        for conv in self.blocks[k]:
            h = F.leaky_relu(conv(h), self.slope)
        return downsample(h)

    def forward(self, x: Tensor) -> Tensor:
        level, alpha = self.current
        r = self.resolutions[level]
        if x.dim() != 4 or x.shape[1] != self.channels or x.shape[2] != x.shape[3] or x.shape[-1] % r \
                or x.shape[-1] > self.size:
            raise ValueError(f"PGGAN discriminator at {r}x{r} takes images [N, {self.channels}, r', r'] with r' a "
                             f"multiple of {r} up to {self.size}, got {tuple(x.shape)}")
        x = downsample(x, x.shape[-1] // r)  # [N, C, r, r]
        h = F.leaky_relu(self.from_rgb[level](x), self.slope)  # [N, nf(r), r, r]
        if level > 0:
            h = self._block(level, h)  # [N, nf(r/2), r/2, r/2]
            if alpha < 1.0:  # fade-in: (1 − α)·fromRGB_{k−1}(down(x)) + α·block_k(fromRGB_k(x))
                old = F.leaky_relu(self.from_rgb[level - 1](downsample(x)), self.slope)
                h = old + (h - old) * alpha
            for k in range(level - 1, 0, -1):
                h = self._block(k, h)
        if self.mbstd_group > 1:
            h = minibatch_stddev(h, self.mbstd_group)  # [N, nf + 1, 4, 4]
        h = F.leaky_relu(self.head_conv(h), self.slope)
        h = F.leaky_relu(self.head_dense(h.flatten(1)), self.slope)
        return self.out(h)  # [N, 1]


def resolutions(size: int) -> tuple[int, ...]:
    """The growing ladder 4, 8, …, ``size``."""
    return tuple(START_RESOLUTION * 2**k for k in range(int(math.log2(size // START_RESOLUTION)) + 1))


@MODELS.register("pggan")
@dataclass
class PGGANConfig(ModelFamily):
    """Options of the progressive-growing family (``model.options``). Networks: G, D (unconditional, as the paper).

    Channels per resolution r follow the released code: nf(r) = min(fmap_base · 2 / r, fmap_max) (and the last
    hidden Dense of D has min(fmap_base, fmap_max) units). Paper: z_dim 512, fmap_base 8192, fmap_max 512.
    """

    z_dim: int = 128
    fmap_base: int = 512
    fmap_max: int = 128
    mbstd_group: int = 4  # samples per minibatch-stddev group (released code: 4); 1 = no minibatch-stddev layer
    leaky_slope: float = 0.2
    pixel_norm: bool = True
    normalize_latents: bool = True  # pixel norm on z (released code: normalize_latents=True)

    sampling_networks: ClassVar[tuple[str, ...]] = ("G",)

    def __post_init__(self) -> None:
        for name in ("z_dim", "fmap_base", "fmap_max", "mbstd_group"):
            if getattr(self, name) < 1:
                raise ValueError(f"model.options.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.leaky_slope < 1.0:
            raise ValueError(f"leaky_slope must be in [0, 1), got {self.leaky_slope}")

    def channels(self, resolution: int) -> int:
        """nf at ``resolution`` = min(fmap_base / 2^(log2(r) − 1), fmap_max), at least 1."""
        return max(1, min(self.fmap_base * 2 // resolution, self.fmap_max))

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        if len(spec.shape) != 3:
            raise ValueError(f"model pggan generates images [C, H, W]; this data has samples of shape {spec.shape}")
        _, h, w = spec.shape
        if h != w or h < 2 * START_RESOLUTION or h & (h - 1):
            raise ValueError(f"model pggan grows 4x4 -> 8x8 -> ... and needs square images with a power-of-two side "
                             f">= 8, got {h}x{w}; use data mnist32 (MNIST padded to 32x32) or resize the images "
                             "(e.g. image-folder's data.options.size)")
        return {"G": PGGANGenerator(self, spec), "D": PGGANDiscriminator(self, spec)}
