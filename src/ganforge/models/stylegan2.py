"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), clean-room, pure PyTorch:
no custom CUDA/C++ ops (upfirdn2d, bias_act, fused modconv are written with ``F.conv2d`` / ``F.pad``).

Generator ("skip" architecture, Fig. 7 config E/F):
    mapping    z [N, z_dim] → normalise 2nd moment → 8 × (FC w_dim, lrelu) with lr multiplier 0.01 → w [N, w_dim];
               the running mean w̄ (``w_avg``, decay 0.995) is tracked during training for the truncation trick
               w' = w̄ + ψ (w − w̄) (StyleGAN, Karras et al. 2019, §5 / App. B).
    synthesis  learned constant [C₄, 4, 4] → per resolution r = 4, 8, …, R: (r > 4: modulated 3×3 conv with 2×
               upsampling) → modulated 3×3 conv; each conv adds per-pixel noise · learned strength, bias and lrelu;
               a modulated 1×1 tRGB (no demodulation) per block, summed over the upsampled RGB skip path.
    ws         one w per layer: ``ws [N, num_ws, w_dim]`` (num_ws = 2 log₂ R − 2); style mixing and the
               path-length penalty act on ws.
Modulation / demodulation (§2.2, eq. 1–3), with s = A(w) (an affine layer, bias initialised to 1):
    w'_ijk = s_i · w_ijk                                   (1)  modulate input channel i
    σ_j = sqrt(Σ_{i,k} (w'_ijk)² + ε)                      (2)  expected output std for unit-variance input
    w''_ijk = w'_ijk / σ_j                                 (3)  demodulate output channel j
  computed as the official code does in training ("non-fused"): x·s → conv with the shared weight → ·1/σ_j, which
  equals a per-sample convolution with w'' (checked in tests/models/test_stylegan2.py).
Discriminator ("resnet", Fig. 7): fromRGB at R, then per resolution a residual block [3×3 conv, 3×3 conv ↓2] + [1×1
    conv ↓2] skip, summed and scaled by 1/√2; at 4×4: minibatch stddev (group 4, Karras et al. 2018 §3), 3×3 conv,
    FC, FC → logit [N, 1].
All weights use the equalised learning rate (``ganforge.models.equalized``: stored N(0, 1), scaled by 1/√fan_in at run
time) and leaky ReLU(0.2) · √2 (the official ``bias_act`` gain). Resampling uses the [1, 3, 3, 1] binomial FIR
filter (zero-insertion + filter for 2× up, filter + stride 2 for ↓2); an up-conv is "upsample, then 3×3 conv", which
equals the official transposed conv + filter up to the border pixels.

Conditioning (off by default; NVlabs stylegan2-ada-pytorch ``networks.py``): ``conditional`` embeds the one-hot class
    c into the mapping, w = f([norm(z), norm(FC(c))]), and D scores (φ(x) · cmap(c)) / √cmap_dim with cmap from a
    mapping network of c; ``self_conditioning`` uses the same networks on the data's k-means cluster ids, and G draws
    its cluster from one extra latent coordinate (Liu et al. 2020; ``models.selfcond.cluster_of``), so it stays
    unconditional outside (c_dim 0) and ``latent_labels(z)`` tells the objective which cluster D should judge.

Shapes: images ``[N, C, R, R]`` in [−1, 1] (linear output, as the paper; no tanh), R a power of two ≥ 4.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Discriminator, Generator, ModelFamily
from ganforge.models.equalized import EqualizedConv2d, EqualizedLinear
from ganforge.models.selfcond import cluster_of, prior_cdf
from ganforge.registry import MODELS

SQRT2 = math.sqrt(2.0)
NOISE_MODES = ("const", "random", "none")
D_ARCHITECTURES = ("resnet", "orig")


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU(0.2) · √2: the official ``bias_act`` "lrelu" with its default gain (keeps unit variance)."""
    return F.leaky_relu(x, 0.2) * SQRT2


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    """x / sqrt(mean(x²) + ε) over the feature dimension (StyleGAN's pixel norm on z)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


# ---- resampling with the [1, 3, 3, 1] FIR filter (pure-torch upfirdn2d) ------------------------------------------


def _fir_kernel(channels: int, gain: float, like: Tensor) -> Tensor:
    """Depthwise ``[C, 1, 4, 4]`` separable binomial filter [1, 3, 3, 1]ᵀ[1, 3, 3, 1], normalised to sum ``gain``."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=like.dtype, device=like.device)
    k = torch.outer(f, f)
    k = k / k.sum() * gain
    return k.expand(channels, 1, 4, 4)


def blur(x: Tensor, pad: tuple[int, int], gain: float = 1.0) -> Tensor:
    """FIR filter ``[N, C, H, W]`` → ``[N, C, H + pad₀ + pad₁ − 3, …]`` (zero padding)."""
    c = x.shape[1]
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    return F.conv2d(x, _fir_kernel(c, gain, x), groups=c)


def upsample2d(x: Tensor) -> Tensor:
    """2× upsampling ``[N, C, H, W]`` → ``[N, C, 2H, 2W]``: zero insertion, then the FIR filter with gain 4 (so a
    constant image stays constant); padding (2, 1) as upfirdn2d's for up = 2, a 4-tap filter."""
    n, c, h, w = x.shape
    z = x.new_zeros(n, c, 2 * h, 2 * w)
    z[:, :, ::2, ::2] = x
    return blur(z, (2, 1), gain=4.0)


def downsample2d(x: Tensor) -> Tensor:
    """FIR filter then keep every second pixel: ``[N, C, H, W]`` → ``[N, C, H/2, W/2]``."""
    return blur(x, (1, 1))[:, :, ::2, ::2]


def conv_down(conv: EqualizedConv2d, x: Tensor) -> Tensor:
    """An equalised k×k convolution with 2× downsampling: FIR filter (padded so the output is H/2), stride 2."""
    k = conv.kernel_size
    pad = (k - 1 + 2) // 2 if k > 1 else 1  # 3×3: (2, 2) → H + 1 → stride 2 → H/2; 1×1: (1, 1) → H − 1 → H/2
    x = blur(x, (pad, pad))
    bias = conv.bias * conv.lr_multiplier if conv.bias is not None else None
    return F.conv2d(x, conv.weight * conv.scale, bias, stride=2)


# ---- modulated convolution (§2.2, eq. 1–3) ------------------------------------------------------------------------


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True, up: bool = False,
                     eps: float = 1e-8) -> Tensor:
    """Modulated (and demodulated) convolution, "non-fused" form.

    x ``[N, I, H, W]``, weight ``[O, I, k, k]``, styles s ``[N, I]`` → ``[N, O, H', W']`` (H' = 2H with ``up``).
    conv(x · s, w) equals conv(x, w') with w'_ijk = s_i w_ijk (eq. 1) for each sample; demodulation multiplies output
    channel j by 1/σ_j, σ_j = sqrt(Σ_{i,k} (s_i w_ijk)² + ε) (eq. 2–3) = sqrt(Σ_i s_i² Σ_k w_ijk² + ε).
    """
    x = x * styles[:, :, None, None]
    if up:
        x = upsample2d(x)
    out = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
    if demodulate:
        dcoefs = (styles.square() @ weight.square().sum(dim=(2, 3)).t() + eps).rsqrt()  # [N, O] = 1/σ_j
        out = out * dcoefs[:, :, None, None]
    return out


class SynthesisLayer(nn.Module):
    """Modulated 3×3 conv (optionally 2× up) + noise · strength + bias → lrelu·√2. ``[N, I, r/2 or r, …]`` →
    ``[N, O, r, r]``; one w ``[N, w_dim]``."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, up: bool, use_noise: bool = True) -> None:
        super().__init__()
        self.up, self.resolution, self.use_noise = up, resolution, use_noise
        self.affine = EqualizedLinear(w_dim, in_ch, gain=1.0, bias_init=1.0)  # s = A(w), initialised around 1
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))  # demodulation makes its scale irrelevant
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))  # the fixed noise of "const"

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random", rng: torch.Generator | None = None) -> Tensor:
        styles = self.affine(w)  # [N, I]
        x = modulated_conv2d(x, self.weight, styles, demodulate=True, up=self.up)  # [N, O, r, r]
        if not self.use_noise:  # NVlabs' SynthesisLayer(use_noise=False): no noise input in training or sampling
            pass
        elif noise_mode == "random":
            device = rng.device if rng is not None else x.device
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, generator=rng, device=device)
            x = x + noise.to(x.device, x.dtype) * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        return lrelu(x + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    """Modulated 1×1 conv without demodulation (styles scaled by 1/√I, the equalised-lr gain) + bias, linear."""

    def __init__(self, in_ch: int, img_ch: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_ch, gain=1.0, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_ch, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_ch))
        self.gain = 1.0 / math.sqrt(in_ch)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w) * self.gain
        return modulated_conv2d(x, self.weight, styles, demodulate=False) + self.bias[None, :, None, None]


class MappingNetwork(nn.Module):
    """z ``[N, z_dim]`` (and class c ``int64 [N]`` when ``c_dim`` > 0) → w ``[N, w_dim]``: 2nd-moment normalisation
    and ``layers`` FC + lrelu with lr multiplier ``lr_multiplier`` (0.01 in the paper, StyleGAN App. C). ``w_avg``
    ``[w_dim]`` tracks E[w] (decay ``w_avg_beta``).

    Conditional (NVlabs stylegan2-ada-pytorch ``MappingNetwork`` with ``c_dim``): ``embed = FC(c_dim, w_dim)`` (lr
    multiplier 1) of the one-hot c, x = [norm(z), norm(embed(c))] ``[N, z_dim + w_dim]`` into the first FC. With
    ``z_dim`` 0 it maps c alone (the D's ``cmap``)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_multiplier: float, w_avg_beta: float,
                 c_dim: int = 0) -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, c_dim
        self.embed = EqualizedLinear(c_dim, w_dim, gain=1.0) if c_dim else None
        dims = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * layers
        self.fcs = nn.ModuleList(EqualizedLinear(a, b, gain=1.0, lr_multiplier=lr_multiplier)
                                 for a, b in itertools.pairwise(dims))
        self.w_avg_beta = w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor, update_w_avg: bool = False, c: Tensor | None = None) -> Tensor:
        parts = [normalize_2nd_moment(z)] if self.z_dim else []
        if self.embed is not None:
            if c is None:
                raise ValueError("this mapping network is conditional: it needs the class c")
            onehot = F.one_hot(c, self.c_dim).to(self.embed.weight.dtype)  # [N, c_dim]
            parts.append(normalize_2nd_moment(self.embed(onehot)))  # [N, w_dim]
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for fc in self.fcs:
            x = lrelu(fc(x))
        if update_w_avg:  # only the objective asks (training G calls): sampling never moves it
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        return x


def channels_at(res: int, base: int, cap: int) -> int:
    """Feature maps at resolution ``res``: min(base / res, cap) (the official ``channel_base`` / ``channel_max``)."""
    return max(1, min(base // res, cap))


class StyleGAN2Generator(Generator):
    """z ``[N, z_dim]`` → images ``[N, C, R, R]``. ``mapping`` / ``synthesis`` are exposed for the objective (style
    mixing, path length), the truncation trick and the style-grid command; ``forward`` is what sampling calls."""

    def __init__(self, cfg: StyleGAN2Config, spec: DataSpec) -> None:
        super().__init__()
        img_ch, res = spec.shape[0], spec.shape[-1]
        self.z_dim, self.w_dim, self.resolution, self.output_range = cfg.z_dim, cfg.w_dim, res, (-1.0, 1.0)
        K = cfg.classes(spec)  # 0: unconditional
        self.num_classes, self.self_conditioned = K, cfg.self_conditioning
        self.c_dim = 0 if cfg.self_conditioning else K  # what samplers see: a self-conditioned G is unconditional
        if cfg.self_conditioning:  # one extra latent coordinate u picks the cluster: z = [z_map, u]
            self.z_dim = cfg.z_dim + 1
            self.register_buffer("cdf", prior_cdf(spec, K))
        self.mapping = MappingNetwork(cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr, cfg.w_avg_beta,
                                      c_dim=K)
        self.resolutions = [2 ** i for i in range(2, int(math.log2(res)) + 1)]  # 4, 8, …, R
        ch = {r: channels_at(r, cfg.channel_base, cfg.channel_max) for r in self.resolutions}
        self.const = nn.Parameter(torch.randn(ch[4], 4, 4))
        self.convs = nn.ModuleList()
        self.torgbs = nn.ModuleList()
        self.layer_res: list[int] = []  # the resolution each w index drives (style ranges of the mixing grid)
        for r in self.resolutions:
            if r > 4:
                self.convs.append(SynthesisLayer(ch[r // 2], ch[r], cfg.w_dim, r, up=True, use_noise=cfg.use_noise))
                self.layer_res.append(r)
            self.convs.append(SynthesisLayer(ch[r], ch[r], cfg.w_dim, r, up=False, use_noise=cfg.use_noise))
            self.layer_res.append(r)
            self.torgbs.append(ToRGB(ch[r], img_ch, cfg.w_dim))
        self.layer_res.append(res)  # the last tRGB's own w
        self.num_ws = len(self.layer_res)  # convs + 1: each block's tRGB shares its w with the next block's first conv

    def latent_labels(self, z: Tensor) -> Tensor | None:
        """Self-conditioned: the cluster ``int64 [N]`` that z ``[N, z_dim]`` generates, k(u) of its last coordinate by
        the stored prior's inverse CDF (``models.selfcond.cluster_of``, Liu et al. 2020 §3.1). Otherwise None."""
        return cluster_of(z[:, -1], self.cdf) if self.self_conditioned else None

    def styles(self, z: Tensor, truncation: float | None = None, update_w_avg: bool = False,
               c: Tensor | None = None) -> Tensor:
        """ws ``[N, num_ws, w_dim]``: w = mapping(z, c) broadcast to every layer, truncated towards w̄ by ψ.

        Self-conditioned: z = [z_map, u] ``[N, z_dim + 1]`` and c = k(u) unless given (style mixing keeps the first
        source's cluster); so every caller of ``styles`` (generate, truncation, interpolation, the style grid, EMA)
        works on the plain latent. Class-conditional (``conditional``): c ``int64 [N]`` is required."""
        if self.self_conditioned:
            c = self.latent_labels(z) if c is None else c
            z = z[:, :-1]
        elif self.c_dim and c is None:  # style-grid / interpolate walk and mix label-free styles
            raise ValueError("this StyleGAN2 is class-conditional (model.options.conditional): its styles need a "
                             "class; sample it per class with `ganforge sample --label K`, or train it "
                             "self-conditioned (model.options.self_conditioning=true) to mix or interpolate styles")
        w = self.mapping(z, update_w_avg=update_w_avg, c=c)
        if truncation is not None and truncation != 1:
            w = self.mapping.w_avg.lerp(w, truncation)  # w̄ + ψ (w − w̄)
        return w[:, None, :].expand(-1, self.num_ws, -1)

    def synthesis(self, ws: Tensor, noise_mode: str = "random", rng: torch.Generator | None = None) -> Tensor:
        """ws ``[N, num_ws, w_dim]`` → images ``[N, C, R, R]`` (skip architecture)."""
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        img = None
        i, conv = 0, iter(self.convs)
        for r, torgb in zip(self.resolutions, self.torgbs, strict=True):
            for _ in range(1 if r == 4 else 2):
                x = next(conv)(x, ws[:, i], noise_mode, rng)
                i += 1
            y = torgb(x, ws[:, i])  # shares w index i with the next block's up-conv
            img = y if img is None else upsample2d(img) + y
        return img

    def forward(self, z: Tensor, c: Tensor | None = None, truncation: float | None = None,
                noise_mode: str = "const") -> Tensor:
        return self.synthesis(self.styles(z, truncation, c=c), noise_mode)


class DiscriminatorBlock(nn.Module):
    """``[N, C_r, r, r]`` → ``[N, C_{r/2}, r/2, r/2]``. ``resnet`` (StyleGAN2 Fig. 7, FFHQ): (conv3 → conv3↓ + conv1↓
    skip) / √2; ``orig`` (the plain D of NVlabs' ``cifar`` config): conv3 → conv3↓, no skip."""

    def __init__(self, in_ch: int, out_ch: int, architecture: str = "resnet") -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_ch, in_ch, 3, gain=1.0)
        self.conv1 = EqualizedConv2d(in_ch, out_ch, 3, gain=1.0)
        self.skip = EqualizedConv2d(in_ch, out_ch, 1, bias=False, gain=1.0) if architecture == "resnet" else None

    def forward(self, x: Tensor) -> Tensor:
        y = conv_down(self.skip, x) if self.skip is not None else None
        x = lrelu(conv_down(self.conv1, lrelu(self.conv0(x))))
        return x if y is None else (x + y) * math.sqrt(0.5)


def minibatch_stddev(x: Tensor, group: int, channels: int = 1) -> Tensor:
    """Append the minibatch standard deviation (Karras et al. 2018, §3): ``[N, C, H, W]`` → ``[N, C + channels, H, W]``.

    Samples i, i + N/G, i + 2N/G, … form a group (the official reshape(G, −1, …)); G = the largest divisor of N not
    above ``group``. Per group: std over its members of each feature, averaged over the C/channels features and
    pixels of each of ``channels`` slices, broadcast back to every member and pixel."""
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(group, n) + 1) if n % d == 0)
    y = x.reshape(g, -1, channels, c // channels, h, w)  # [G, M, F, c, H, W]
    y = (y - y.mean(dim=0)).square().mean(dim=0)  # variance over the group
    y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4))  # [M, F]
    y = y.reshape(-1, channels, 1, 1).repeat(g, 1, h, w)  # [N, F, H, W]
    return torch.cat([x, y], dim=1)


class StyleGAN2Discriminator(Discriminator):
    """images ``[N, C, R, R]`` → logits ``[N, 1]`` (residual or plain D, ``d_architecture``)."""

    def __init__(self, cfg: StyleGAN2Config, spec: DataSpec) -> None:
        super().__init__()
        img_ch, res = spec.shape[0], spec.shape[-1]
        ch = {r: channels_at(r, cfg.d_channel_base or cfg.channel_base, cfg.d_channel_max or cfg.channel_max)
              for r in [2 ** i for i in range(2, int(math.log2(res)) + 1)]}
        self.mbstd_group, self.mbstd_channels = cfg.mbstd_group, cfg.mbstd_channels
        self.fromrgb = EqualizedConv2d(img_ch, ch[res], 1, gain=1.0)
        self.blocks = nn.Sequential(*[DiscriminatorBlock(ch[r], ch[r // 2], cfg.d_architecture)
                                      for r in sorted(ch, reverse=True) if r > 4])
        self.conv = EqualizedConv2d(ch[4] + cfg.mbstd_channels, ch[4], 3, gain=1.0)
        self.fc = EqualizedLinear(ch[4] * 16, ch[4], gain=1.0)
        # conditional (NVlabs' DiscriminatorEpilogue with cmap_dim = C₄): out gives cmap_dim features, and c is
        # mapped to cmap [N, cmap_dim] by a mapping network of c alone (embed → norm → mapping layers, lr mult.)
        self.c_dim = cfg.classes(spec)
        self.cmap_dim = ch[4] if self.c_dim else 1
        self.out = EqualizedLinear(ch[4], self.cmap_dim, gain=1.0)
        self.mapping = (MappingNetwork(0, self.cmap_dim, cfg.mapping_layers, cfg.mapping_lr, cfg.w_avg_beta,
                                       c_dim=self.c_dim) if self.c_dim else None)

    def forward(self, img: Tensor, c: Tensor | None = None) -> Tensor:
        x = self.blocks(lrelu(self.fromrgb(img)))  # [N, C₄, 4, 4]
        x = lrelu(self.conv(minibatch_stddev(x, self.mbstd_group, self.mbstd_channels)))
        x = self.out(lrelu(self.fc(x.flatten(1))))  # [N, cmap_dim]
        if self.mapping is None:
            return x  # [N, 1]
        if c is None:
            raise ValueError("this discriminator is conditional: it needs the class c of each image")
        cmap = self.mapping(torch.zeros(x.shape[0], 0, device=x.device, dtype=x.dtype), c=c)  # [N, cmap_dim]
        return (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)  # NVlabs: (x · cmap) / √cmap_dim


@MODELS.register("stylegan2")
@dataclass
class StyleGAN2Config(ModelFamily):
    """Options of the StyleGAN2 family (``model.options``); defaults are the paper's config F (FFHQ) widths, the
    presets shrink them. Unconditional (labels of the data are ignored) unless ``conditional`` or ``self_conditioning``.

    ``generate`` applies ψ (``ganforge sample --truncation ψ``) to w around the tracked mean w̄, not to z
    (``truncation_space = "w"``: the ``Sampler`` then draws plain N(0, I) z), and uses the fixed per-layer noise
    (``sample_noise: const``) so that a seed always gives the same image; interpolation happens in W."""

    truncation_space: ClassVar[str] = "w"
    interpolation_space: ClassVar[str] = "w"
    style_mixing: ClassVar[bool] = True

    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_lr: float = 0.01  # lr multiplier of the mapping network (StyleGAN App. C)
    channel_base: int = 32768  # feature maps at resolution r: min(channel_base / r, channel_max)
    channel_max: int = 512
    w_avg_beta: float = 0.995  # decay of the tracked mean w̄
    mbstd_group: int = 4
    mbstd_channels: int = 1
    sample_noise: str = "const"  # noise when sampling: const (fixed buffers) | random | none
    use_noise: bool = True  # per-pixel noise inputs at all (NVlabs' use_noise); false: w alone makes the image
    d_architecture: str = "resnet"  # resnet (FFHQ configs) | orig (plain conv blocks: NVlabs' cifar config)
    d_channel_base: int = 0  # D's own feature maps min(d_channel_base / r, d_channel_max); 0 = G's values
    d_channel_max: int = 0
    # class-conditional G and D the NVlabs way (c embedded into the mapping network; D's projection onto a cmap of
    # c): on the data's labels. G then takes labels (c_dim = the classes), sampling asks for them
    conditional: bool = False
    # self-conditioned (Liu et al. 2020; models.selfcond): the conditional networks on the data's cluster ids
    # (data.options.clusters), G draws its cluster from one extra latent coordinate and is unconditional outside
    self_conditioning: bool = False

    def classes(self, spec: DataSpec) -> int:
        """The classes c takes (0: unconditional): the data's, when ``conditional`` or ``self_conditioning``."""
        if not (self.conditional or self.self_conditioning):
            return 0
        if spec.num_classes < 2:
            what = "cluster ids (data.options.clusters=50)" if self.self_conditioning else "labels"
            raise ValueError(f"a conditional StyleGAN2 needs data with at least 2 classes, got "
                             f"{spec.num_classes}; use data with {what}")
        return spec.num_classes

    def __post_init__(self) -> None:
        for name in ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max", "mbstd_group",
                     "mbstd_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (math.isfinite(self.mapping_lr) and self.mapping_lr > 0):
            raise ValueError(f"mapping_lr must be a finite number > 0, got {self.mapping_lr}")
        if not 0.0 <= self.w_avg_beta < 1.0:
            raise ValueError(f"w_avg_beta must be in [0, 1), got {self.w_avg_beta}")
        for name in ("d_channel_base", "d_channel_max"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 = the generator's value), got {getattr(self, name)}")
        if self.d_architecture not in D_ARCHITECTURES:
            raise ValueError(f"unknown d_architecture {self.d_architecture!r}; choose from: "
                             f"{', '.join(D_ARCHITECTURES)}")
        if self.sample_noise not in NOISE_MODES:
            raise ValueError(f"unknown sample_noise {self.sample_noise!r}; choose from: {', '.join(NOISE_MODES)}")
        if self.conditional and self.self_conditioning:
            raise ValueError("conditional (on the data's labels) and self_conditioning (G draws its own cluster) "
                             "exclude each other; set one of them")

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        if len(spec.shape) != 3:
            raise ValueError(f"StyleGAN2 needs image data [C, H, W], got sample shape {list(spec.shape)}")
        _c, h, w = spec.shape
        if h != w or h < 4 or h & (h - 1):
            raise ValueError(f"StyleGAN2 needs square images with a power-of-two side >= 4, got {h}x{w}; use "
                             "mnist32 / animal-mnist / lfw, or resize an image folder (data.options.size=32)")
        ch4 = channels_at(4, self.d_channel_base or self.channel_base, self.d_channel_max or self.channel_max)
        if ch4 % self.mbstd_channels:
            raise ValueError(f"mbstd_channels={self.mbstd_channels} must divide the 4x4 feature maps ({ch4})")
        return {"G": StyleGAN2Generator(self, spec), "D": StyleGAN2Discriminator(self, spec)}

    # ---- the sampling contract and the style-based extras ------------------------------------------------------
    @staticmethod
    def check_truncation(truncation: float | None) -> None:
        if truncation is not None and not math.isfinite(truncation):
            raise ValueError(f"truncation ψ must be a finite number (1 = none, 0.7 typical, 0 = the mean image), "
                             f"got {truncation}")

    def generate(self, nets: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None,
                 inputs: Tensor | None = None, truncation: float | None = None) -> Tensor:
        if inputs is not None:
            raise ValueError("StyleGAN2 generates from z, not from input samples; drop the inputs")
        self.check_truncation(truncation)
        G = nets["G"]
        return G.synthesis(G.styles(z, truncation, c=labels if G.c_dim else None), self.sample_noise)

    def encode_latent(self, nets: dict[str, nn.Module], z: Tensor, truncation: float | None = None) -> Tensor:
        """z ``[N, z_dim]`` → w ``[N, w_dim]`` (the space ``ganforge interpolate`` walks in; truncated by ψ)."""
        self.check_truncation(truncation)
        return nets["G"].styles(z, truncation)[:, 0]

    def decode_latent(self, nets: dict[str, nn.Module], w: Tensor) -> Tensor:
        """w ``[N, w_dim]`` → images, the same w for every layer."""
        G = nets["G"]
        return G.synthesis(w[:, None, :].expand(-1, G.num_ws, -1), self.sample_noise)

    def synthesize(self, nets: dict[str, nn.Module], ws: Tensor) -> Tensor:
        """Per-layer styles ws ``[N, num_ws, w_dim]`` → images (style mixing)."""
        return nets["G"].synthesis(ws, self.sample_noise)

    @staticmethod
    def style_ranges(G: StyleGAN2Generator) -> dict[str, list[int]]:
        """The w indices of the coarse (4²–8²), middle (16²–32², the top resolution excluded below 64²) and fine
        (64² and up, or the top resolution) layers — StyleGAN's Fig. 3 split, adapted to small images."""
        top = G.resolution
        out: dict[str, list[int]] = {"coarse": [], "middle": [], "fine": []}
        for i, r in enumerate(G.layer_res):
            key = "coarse" if r <= 8 else ("fine" if r >= 64 or r == top else "middle")
            out[key].append(i)
        return out
