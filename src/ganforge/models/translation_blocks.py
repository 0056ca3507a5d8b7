"""Networks of image-to-image translation: pix2pix's U-Net and PatchGAN (Isola et al. 2017, App. 6.1), CycleGAN's
ResNet generator (Zhu et al. 2017, App. 7.2; Johnson et al. 2016) and SAGAN's self-attention (Zhang et al. 2019),
which DeOldify puts into its colourising U-Net.

Shapes: every network takes ``[N, C_in, H, W]`` in [−1, 1]. Generators return ``[N, C_out, H, W]`` (tanh); the
PatchGAN returns a map of patch logits ``[N, 1, H', W']`` (each judges one receptive field of the input).

Sizes are scaled for small images: the papers use ngf = ndf = 64 at 256×256 (U-Net depth 8, PatchGAN with 3
stride-2 layers = a 70×70 receptive field); the presets here use 16–32 channels at 28–32 px, depth 5 and one
stride-2 D layer, a 16×16 receptive field (``patch_receptive_field``), about the same fraction of the image as
70/256 of a facade.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

NORMS = ("batch", "instance", "none")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """pix2pix: batch norm (affine); CycleGAN: instance norm without affine parameters (its code's default)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose from: {', '.join(NORMS)}")


class SelfAttention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019, eqs. 1–3), as DeOldify's U-Net decoder uses it.

    f(x), g(x) = 1×1 convs to C/8 channels, h(x) = 1×1 conv to C; β_{j,i} = softmax_i(f(x_i)ᵀ g(x_j)) over the
    H·W positions; o_j = Σ_i β_{j,i} h(x_i); y = γ·o + x with γ initialised to 0 (the block starts as identity).
    ``[N, C, H, W]`` → ``[N, C, H, W]``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(1, channels // 8)
        self.f = nn.Conv2d(channels, inner, 1)
        self.g = nn.Conv2d(channels, inner, 1)
        self.h = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        n, c, hgt, wid = x.shape
        f = self.f(x).flatten(2)  # [N, C/8, HW]
        g = self.g(x).flatten(2)  # [N, C/8, HW]
        h = self.h(x).flatten(2)  # [N, C, HW]
        beta = torch.softmax(torch.bmm(g.transpose(1, 2), f), dim=-1)  # [N, HW_j, HW_i], rows sum to 1 over i
        o = torch.bmm(h, beta.transpose(1, 2))  # o_j = Σ_i β_{j,i} h_i : [N, C, HW]
        return x + self.gamma * o.view(n, c, hgt, wid)


def dropout_levels(depth: int) -> range:
    """U-Net levels whose decoder layer has dropout, as the reference: its ``num_downs − 5`` intermediate blocks
    sit at levels depth − 2 down to 4 (level 0 = outermost, depth − 1 = innermost, which has none)."""
    return range(4, depth - 1)


class UNetGenerator(nn.Module):
    """pix2pix's U-Net (Isola et al. 2017, §3.1.1 and App. 6.1.1).

    Encoder C64-C128-C256-C512-…: 4×4 stride-2 convs, LeakyReLU 0.2, batch norm except on the first layer (and the
    innermost, as the authors' code). Decoder: ReLU, 4×4 stride-2 transposed convs, norm, each concatenated with
    the mirrored encoder layer (the skip connections); the last layer maps to ``out_ch`` with tanh. Dropout 0.5
    ("CD512"; pix2pix's only noise, applied at test time too) sits where the authors' code puts it
    (junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py`` UnetGenerator: ``for i in range(num_downs - 5)``
    blocks with ``use_dropout`` wrapped around the innermost one): on the up-convolutions of levels
    4 … depth − 2 (``dropout_levels``), i.e. the three decoder layers after the innermost at depth 8, none on the
    innermost block and none at all for depth ≤ 5 (the presets' 32 px U-Nets). Widths are
    ``ngf·min(2^i, 8)``. ``depth`` stride-2 levels halve the image ``depth`` times, so the input is padded
    (replicate) to a multiple of 2^depth and the output cropped back: 28×28 MNIST runs at 32×32 with depth 5.
    ``attention``: a SAGAN block on the decoder's H/4 feature map (DeOldify's self-attention U-Net).
    """

    def __init__(self, in_ch: int, out_ch: int, ngf: int = 64, depth: int = 8, norm: str = "batch",
                 dropout: float = 0.5, attention: bool = False) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"U-Net depth must be >= 2, got {depth}")
        self.depth, self.dropout_p = depth, dropout
        widths = [ngf * min(2 ** i, 8) for i in range(depth)]
        self.down = nn.ModuleList()
        for i in range(depth):
            inner_or_outer = i == 0 or i == depth - 1
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(in_ch if i == 0 else widths[i - 1], widths[i], 4, 2, 1,
                                    bias=inner_or_outer or norm != "batch"))
            if not inner_or_outer:
                layers.append(norm_layer(norm, widths[i]))
            self.down.append(nn.Sequential(*layers))
        # up[i] maps the level-i features (resolution H/2^(i+1)) to level i−1's resolution; up[0] gives the output
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):
            c_in = widths[i] if i == depth - 1 else 2 * widths[i]  # innermost has no skip; others concatenate
            if i == 0:
                self.up.insert(0, nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(c_in, out_ch, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, widths[i - 1], 4, 2, 1, bias=norm != "batch"),
                      norm_layer(norm, widths[i - 1])]
            if i in dropout_levels(depth) and dropout > 0:  # CD: the reference's intermediate ngf·8 blocks
                layers.append(nn.Dropout(dropout))
            self.up.insert(0, nn.Sequential(*layers))
        self.attention = SelfAttention(widths[1]) if attention and depth >= 3 else None  # on up[2]'s H/4 output

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = 2 ** self.depth
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="replicate")
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        y = self.up[-1](skips[-1])
        for i in range(self.depth - 2, -1, -1):
            if i == 1 and self.attention is not None:
                y = self.attention(y)  # y is up[2]'s output: H/4, widths[1] channels
            y = self.up[i](torch.cat([y, skips[i]], 1))
        if ph or pw:
            y = y[..., ph // 2: ph // 2 + h, pw // 2: pw // 2 + w]
        return y


class ResidualBlock(nn.Module):
    """R256 of CycleGAN: reflection pad 1, 3×3 conv, instance norm, ReLU, reflection pad 1, 3×3 conv, norm, + x."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_layer(norm, channels), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_layer(norm, channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator (Zhu et al. 2017, App. 7.2): c7s1-64, d128, d256, R256 × n_blocks, u128, u64, c7s1-3.

    c7s1-k: reflection pad 3, 7×7 conv, instance norm, ReLU; dk: 3×3 stride-2 conv, norm, ReLU; uk: 3×3
    stride-½ (transposed) conv, norm, ReLU; the last c7s1 has tanh and no norm. 6 blocks at 128², 9 at 256²;
    ``n_down`` stride-2 levels (2 in the paper; H must be divisible by 2^n_down: 28 → 14 → 7 → 14 → 28).
    """

    def __init__(self, in_ch: int, out_ch: int, ngf: int = 64, n_blocks: int = 9, n_down: int = 2,
                 norm: str = "instance") -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7), norm_layer(norm, ngf), nn.ReLU()]
        c = ngf
        for _ in range(n_down):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), norm_layer(norm, 2 * c), nn.ReLU()]
            c *= 2
        layers += [ResidualBlock(c, norm) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), norm_layer(norm, c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_ch, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.n_down = n_down

    def forward(self, x: Tensor) -> Tensor:
        m = 2 ** self.n_down
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"the ResNet generator halves the image {self.n_down} times: height and width must be "
                             f"multiples of {m}, got {tuple(x.shape[-2:])}; resize the images or lower n_down")
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017, §3.2.2 and App. 6.1.2): C64-C128-C256-C512 then a 1-channel conv.

    4×4 convs, LeakyReLU 0.2, no norm on the first layer; ``n_layers`` stride-2 layers then one stride-1 layer of
    ``ndf·min(2^n_layers, 8)`` channels and the stride-1 output conv. Receptive field (``patch_receptive_field``):
    n_layers = 3 → 70×70 (the paper's), 2 → 34×34, 1 → 16×16. Logits ``[N, 1, H', W']``, one per patch.
    """

    def __init__(self, in_ch: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"PatchGAN needs n_layers >= 1, got {n_layers}")
        bias = norm != "batch"
        layers: list[nn.Module] = [nn.Conv2d(in_ch, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = ndf
        for n in range(1, n_layers):
            c_next = ndf * min(2 ** n, 8)
            layers += [nn.Conv2d(c, c_next, 4, 2, 1, bias=bias), norm_layer(norm, c_next), nn.LeakyReLU(0.2)]
            c = c_next
        c_next = ndf * min(2 ** n_layers, 8)
        layers += [nn.Conv2d(c, c_next, 4, 1, 1, bias=bias), norm_layer(norm, c_next), nn.LeakyReLU(0.2),
                   nn.Conv2d(c_next, 1, 4, 1, 1)]
        self.net = nn.Sequential(*layers)
        self.n_layers = n_layers

    def forward(self, x: Tensor) -> Tensor:
        if min(x.shape[-2:]) < 2 ** self.n_layers * 4:
            raise ValueError(f"a PatchGAN with {self.n_layers} stride-2 layers needs images of at least "
                             f"{2 ** self.n_layers * 4}px, got {tuple(x.shape[-2:])}; lower d_layers")
        return self.net(x)


def patch_receptive_field(n_layers: int) -> int:
    """Receptive field (pixels) of one PatchGAN logit: back from the output, r ← (r − 1)·stride + 4 per 4×4 conv."""
    r = 1
    for stride in [1, 1] + [2] * n_layers:  # output conv, the stride-1 conv, then the stride-2 convs
        r = (r - 1) * stride + 4
    return r
