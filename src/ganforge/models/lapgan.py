"""LAPGAN networks (Denton et al. 2015, "Deep Generative Image Models using a Laplacian Pyramid of Adversarial
Networks"): a small GAN at the coarsest level of a Laplacian pyramid, then per finer level a conditional GAN that
generates the band-pass residual given the up-sampled coarser image.

The pyramid (§3, eq. 3–4): d(·) halves the resolution (2×2 block mean), u(·) doubles it (bilinear). For an image
I_0 = I, I_{k+1} = d(I_k); the coefficients are h_k = I_k − u(I_{k+1}) for k < K and h_K = I_K, and
I_k = u(I_{k+1}) + h_k rebuilds the image exactly (eq. 4), whatever d and u are.

Here levels are numbered by *stage* s = 0..K from coarse to fine (the paper's k = K − s): stage 0 is the coarse GAN
G_0: z → Ĩ at ``base`` px (an MLP, as the paper's CIFAR/LSUN coarse models), stage s > 0 is a conditional G_s:
(z_s, l_s) → h̃_s with l_s = u(Ĩ_{s−1}) (a conv net that takes the noise as an extra colour plane, as in §4 of the
paper), so sampling chains the stages (eq. 5): Ĩ_s = l_s + G_s(z_s, l_s). D_s sees l_s + h (the paper adds the
low-pass image to the residual before D's first layer) and returns a logit.

Shapes (MNIST 32², 3 levels): z = [z_0 (z_dim) | z_1 plane 16·16 | z_2 plane 32·32] → Ĩ_0 [N, 1, 8, 8] →
Ĩ_1 [N, 1, 16, 16] → Ĩ_2 = x [N, 1, 32, 32]. One module G holds every stage's generator and one module D every
discriminator, so the whole pyramid is one sampling network (EMA, checkpoints and ``ganforge sample`` as usual).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Discriminator, Generator, ModelFamily, init_weights
from ganforge.registry import MODELS

# ---- the Laplacian pyramid ----------------------------------------------------------------------------------------


def down(x: Tensor) -> Tensor:
    """d(·): ``[N, C, H, W]`` → ``[N, C, H/2, W/2]``, the mean of each 2×2 block."""
    return F.avg_pool2d(x, 2)


def up(x: Tensor) -> Tensor:
    """u(·): ``[N, C, H, W]`` → ``[N, C, 2H, 2W]``, bilinear (half-pixel centres)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def laplacian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """Coefficients coarse to fine: ``[I_K, h_{K−1}, ..., h_0]`` (``levels`` = K + 1 entries); eq. 3."""
    images = [x]
    for _ in range(levels - 1):
        images.append(down(images[-1]))
    coarse = images[-1]
    return [coarse] + [images[k] - up(images[k + 1]) for k in range(levels - 2, -1, -1)]


def reconstruct(coefficients: list[Tensor]) -> Tensor:
    """Inverse of ``laplacian_pyramid``: I_k = u(I_{k+1}) + h_k from the coarsest image up (eq. 4)."""
    image = coefficients[0]
    for h in coefficients[1:]:
        image = up(image) + h
    return image


# ---- networks -----------------------------------------------------------------------------------------------------


class CoarseGenerator(nn.Module):
    """Stage 0: z ``[N, z_dim]`` → MLP (ReLU) → tanh image ``[N, C, base, base]``."""

    def __init__(self, z_dim: int, hidden: tuple[int, ...], shape: tuple[int, int, int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.body = nn.Sequential(*layers, nn.Linear(width, math.prod(shape)))
        self.shape = shape

    def forward(self, z: Tensor) -> Tensor:
        return torch.tanh(self.body(z)).view(-1, *self.shape)


class ConvCoarseGenerator(nn.Module):
    """Stage 0 as a small DCGAN (Radford et al. 2016) at ``base`` px (``coarse: conv``): z ``[N, z_dim]`` →
    Linear → BN → ReLU ``[N, 2c, base/2, base/2]`` → ConvT(4, s2) → BN → ReLU ``[N, c, base, base]`` → Conv3x3 → tanh
    ``[N, C, base, base]``. Convolutions share weights across positions, which the MLP must learn per pixel: the
    coarse MLP was the pyramid's bottleneck on MNIST (issue 24: coarse-only FID 136 vs blurred real digits 115)."""

    def __init__(self, z_dim: int, width: int, shape: tuple[int, int, int]) -> None:
        super().__init__()
        c, base = shape[0], shape[1]
        self.half = base // 2
        self.dense = nn.Sequential(nn.Linear(z_dim, 2 * width * self.half**2, bias=False),
                                   nn.BatchNorm1d(2 * width * self.half**2), nn.ReLU())
        self.body = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, c, 3, padding=1))
        self.width = width

    def forward(self, z: Tensor) -> Tensor:
        h = self.dense(z).view(-1, 2 * self.width, self.half, self.half)  # [N, 2c, base/2, base/2]
        return torch.tanh(self.body(h))  # [N, C, base, base]


class RefineGenerator(nn.Module):
    """Stage s > 0: [l ``[N, C, H, W]``, z plane ``[N, 1, H, W]``] → conv (ReLU) ×(layers−1) → conv → h̃ ``[N, C, H,
    W]`` (linear output: residuals are signed)."""

    def __init__(self, channels: int, width: int, layers: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        mods: list[nn.Module] = []
        c = channels + 1
        for _ in range(layers - 1):
            mods += [nn.Conv2d(c, width, kernel, padding=pad), nn.BatchNorm2d(width), nn.ReLU()]
            c = width
        mods.append(nn.Conv2d(c, channels, kernel, padding=pad))
        self.body = nn.Sequential(*mods)

    def forward(self, z_plane: Tensor, low: Tensor) -> Tensor:
        return self.body(torch.cat([low, z_plane], 1))


class CoarseDiscriminator(nn.Module):
    """Stage 0: image ``[N, C, base, base]`` → MLP (ReLU, dropout) → logit ``[N, 1]``."""

    def __init__(self, numel: int, hidden: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = numel
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class ConvCoarseDiscriminator(nn.Module):
    """Stage 0 as a small DCGAN D (``coarse: conv``): image ``[N, C, base, base]`` → Conv(4, s2) → LReLU(0.2)
    ``[N, c, base/2, base/2]`` → Conv(4, s2) → LReLU(0.2) ``[N, 2c, base/4, base/4]`` → Linear → logit ``[N, 1]``."""

    def __init__(self, channels: int, width: int, base: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * (base // 4) ** 2, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class RefineDiscriminator(nn.Module):
    """Stage s > 0: l + h ``[N, C, H, W]`` → conv (ReLU) → conv stride 2 (ReLU) → dropout → linear → logit."""

    def __init__(self, channels: int, width: int, size: int, kernel: int, dropout: float) -> None:
        super().__init__()
        pad = kernel // 2
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, kernel, padding=pad), nn.ReLU(),
            nn.Conv2d(width, width, kernel, stride=2, padding=pad), nn.ReLU(),
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(width * ((size + 1) // 2) ** 2, 1))

    def forward(self, h: Tensor, low: Tensor) -> Tensor:
        return self.body(low + h)  # the paper: the low-pass image is added to the residual before D's first layer


class LaplacianGenerator(Generator):
    """All stages: ``forward(z) → x [N, C, H, W]``; ``stages(z)`` gives each stage's (l_s, h̃_s, Ĩ_s) for grids."""

    def __init__(self, cfg: LAPGANConfig, spec: DataSpec) -> None:
        super().__init__()
        c, size = spec.shape[0], spec.shape[1]
        self.levels, self.channels = cfg.levels, c
        self.sizes = [size >> (cfg.levels - 1 - s) for s in range(cfg.levels)]  # e.g. [8, 16, 32]
        self.z_coarse = cfg.z_dim
        self.z_dim = cfg.z_dim + sum(n * n for n in self.sizes[1:])  # [z_0 | one noise plane per finer stage]
        self.z_dist = cfg.z_dist
        self.output_range = (-1.0, 1.0)
        shape = (c, self.sizes[0], self.sizes[0])
        self.coarse = (ConvCoarseGenerator(cfg.z_dim, cfg.coarse_channels, shape) if cfg.coarse == "conv"
                       else CoarseGenerator(cfg.z_dim, cfg.g_hidden, shape))
        self.refine = nn.ModuleList(RefineGenerator(c, cfg.g_channels, cfg.g_layers, cfg.kernel)
                                    for _ in self.sizes[1:])

    def split_z(self, z: Tensor) -> list[Tensor]:
        """z ``[N, z_dim]`` → [z_0 ``[N, z_dim_0]``, z_1 plane ``[N, 1, H_1, W_1]``, ...]."""
        parts = [z[:, : self.z_coarse]]
        start = self.z_coarse
        for n in self.sizes[1:]:
            parts.append(z[:, start : start + n * n].reshape(-1, 1, n, n))
            start += n * n
        return parts

    def residual(self, s: int, z_plane: Tensor, low: Tensor) -> Tensor:
        """h̃_s = G_s(z_s, l_s) for stage s >= 1."""
        return self.refine[s - 1](z_plane, low)

    def stages(self, z: Tensor) -> list[tuple[Tensor | None, Tensor | None, Tensor]]:
        """Per stage (l_s, h̃_s, Ĩ_s): stage 0 is (None, None, Ĩ_0); Ĩ_s = l_s + h̃_s with l_s = u(Ĩ_{s−1})."""
        zs = self.split_z(z)
        image = self.coarse(zs[0])
        out: list[tuple[Tensor | None, Tensor | None, Tensor]] = [(None, None, image)]
        for s in range(1, self.levels):
            low = up(image)
            h = self.residual(s, zs[s], low)
            image = low + h
            out.append((low, h, image))
        return out

    def forward(self, z: Tensor) -> Tensor:
        return self.stages(z)[-1][2]


class LaplacianDiscriminator(Discriminator):
    """All stages' discriminators: ``level(s, h, low)`` → logit ``[N, 1]`` (stage 0: ``h`` is the coarse image)."""

    def __init__(self, cfg: LAPGANConfig, spec: DataSpec) -> None:
        super().__init__()
        c, size = spec.shape[0], spec.shape[1]
        sizes = [size >> (cfg.levels - 1 - s) for s in range(cfg.levels)]
        self.coarse = (ConvCoarseDiscriminator(c, cfg.coarse_channels, sizes[0]) if cfg.coarse == "conv"
                       else CoarseDiscriminator(c * sizes[0] ** 2, cfg.d_hidden, cfg.d_dropout))
        self.refine = nn.ModuleList(RefineDiscriminator(c, cfg.d_channels, n, cfg.kernel, cfg.d_dropout)
                                    for n in sizes[1:])

    def level(self, s: int, h: Tensor, low: Tensor | None = None) -> Tensor:
        return self.coarse(h) if s == 0 else self.refine[s - 1](h, low)

    def forward(self, x: Tensor) -> Tensor:
        """The finest stage's logit for a whole image x (its own pyramid's low-pass and residual)."""
        low = up(down(x))
        return self.level(len(self.refine), x - low, low) if len(self.refine) else self.coarse(x)


@MODELS.register("lapgan")
@dataclass
class LAPGANConfig(ModelFamily):
    """Options of the LAPGAN family (``model.options``). Networks: G (every stage's generator), D (every stage's
    discriminator). The paper's CIFAR-10 model: 3 levels (8 → 16 → 32), coarse MLPs of 1200/600 units, refinement
    convnets of 128 channels; narrower defaults here."""

    networks: ClassVar[tuple[str, ...]] = ("G", "D")

    levels: int = 3  # pyramid levels K + 1 (32 px: 8 → 16 → 32)
    z_dim: int = 100  # the coarse stage's latent (the finer stages draw one noise plane each)
    z_dist: str = "normal"  # normal | uniform (the paper: uniform)
    coarse: str = "mlp"  # stage 0: mlp (the paper's CIFAR/LSUN coarse model) | conv (a small DCGAN at base px)
    coarse_channels: int = 64  # coarse: conv: c of ConvCoarseGenerator / ConvCoarseDiscriminator
    g_hidden: tuple[int, ...] = (256, 256)  # coarse G MLP (the paper: 1200, 1200)
    d_hidden: tuple[int, ...] = (256,)  # coarse D MLP (the paper: 600)
    g_channels: int = 32  # refinement G width (the paper: 128)
    g_layers: int = 3  # refinement G conv layers
    d_channels: int = 32  # refinement D width (the paper: 128)
    kernel: int = 5
    d_dropout: float = 0.5
    init: str = "default"  # default | dcgan | xavier

    def __post_init__(self) -> None:
        if self.levels < 1:
            raise ValueError(f"levels must be >= 1, got {self.levels}")
        if self.coarse not in ("mlp", "conv"):
            raise ValueError(f"unknown coarse {self.coarse!r}; choose from: mlp, conv")
        for name in ("z_dim", "g_channels", "g_layers", "d_channels", "coarse_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (same padding), got {self.kernel}")
        if not 0.0 <= self.d_dropout < 1.0:
            raise ValueError(f"d_dropout must be in [0, 1), got {self.d_dropout}")
        if self.z_dist not in ("normal", "uniform"):
            raise ValueError(f"unknown z_dist {self.z_dist!r}; choose from: normal, uniform")
        for name in ("g_hidden", "d_hidden"):
            if any(w < 1 for w in getattr(self, name)):
                raise ValueError(f"{name} widths must be >= 1, got {list(getattr(self, name))}")

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        if len(spec.shape) != 3 or spec.shape[1] != spec.shape[2]:
            raise ValueError(f"lapgan needs square images [C, H, H], got data of shape {list(spec.shape)}")
        size = spec.shape[1]
        if size % (1 << (self.levels - 1)) or size >> (self.levels - 1) < 2:
            raise ValueError(f"{size}x{size} images do not halve {self.levels - 1} times to >= 2 px; lower "
                             "model.options.levels or use images of a power-of-two size (e.g. data.name=mnist32)")
        if self.coarse == "conv" and (size >> (self.levels - 1)) % 4:
            raise ValueError(f"coarse: conv halves the {size >> (self.levels - 1)} px coarse image twice and needs a "
                             "multiple of 4; lower model.options.levels or use model.options.coarse=mlp")
        nets: dict[str, nn.Module] = {"G": LaplacianGenerator(self, spec), "D": LaplacianDiscriminator(self, spec)}
        for net in nets.values():
            init_weights(net, self.init)
        return nets
