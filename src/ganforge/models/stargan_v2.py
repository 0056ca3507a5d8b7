"""StarGAN v2 networks (Choi et al. 2020, "StarGAN v2: Diverse Image Synthesis for Multiple Domains", §2 and App. C;
lecture 004's second half): a generator G(x, s), a mapping network F(z, y), a style encoder E(x, y) and a
multi-task discriminator D(x, y), over K domains.

Shapes (images ``[N, C, H, W]`` in [−1, 1], domains ``y`` int64 ``[N]`` in 0..K−1, style codes ``s [N, style_dim]``):

    G(x, s)  encoder: 3×3 conv → ``down`` pre-activation residual blocks with instance norm and 2× average
             pooling (channels doubling up to ``max_conv_dim``) → 2 residual blocks at the bottleneck; decoder: 2 AdaIN
             residual blocks → ``down`` AdaIN residual blocks with 2× nearest upsampling; IN → LeakyReLU → 1×1 conv.
             AdaIN(h, s) = (1 + γ(s)) · IN(h) + β(s) (Huang & Belongie 2017; the paper's App. C, Table 6).
             Output is linear (no tanh), as the official code's ``to_rgb``.
    F(z, y)  z ``[N, latent_dim]`` → shared trunk (Linear + ReLU ×``mapping_shared``) → one head per domain
             (Linear + ReLU ×``mapping_head``, Linear → style_dim); s = head_y(trunk(z)) (App. C, Table 8).
    E(x, y)  residual blocks without normalisation, 2× pooling each, down to ≤ 4×4 → LeakyReLU → conv over the
             remaining map → LeakyReLU → one linear head per domain → s ``[N, style_dim]`` (App. C, Table 7).
    D(x, y)  E's trunk with a 1×1 conv to K logits; D_y(x) = logit y ``[N, 1]`` (a multi-task D, Mescheder et al. 2018).

Sizes scale with the resolution as in the official code: ``down = log2(H) − 4`` resolution halvings in G (256² → a
16² bottleneck) and ``log2(H) − 2`` in D and E (256² → 4², then a 4×4 conv); widths start at ``dim_in`` (64 at 256²),
double per halving and stop at ``max_conv_dim`` (512). Sizes that do not halve evenly stop halving early (28² MNIST:
G 28 → 14 → 7, D/E 28 → 14 → 7, then a 7×7 conv).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as Fn
from torch import Tensor, nn

from ganforge.data.base import DataSpec, scale_images, to_uint8
from ganforge.models.base import Generator, ModelFamily, TranslateRequest, Translation, sample_latent
from ganforge.registry import MODELS

OUTPUT_RANGE = (-1.0, 1.0)  # data are scaled to [−1, 1]; G's output is linear and clamped only when saved as uint8


# ---- blocks ---------------------------------------------------------------------------------------------------------


class ResBlock(nn.Module):
    """Pre-activation residual block (App. C): [IN →] LReLU → conv3×3 → [pool →] [IN →] LReLU → conv3×3, added to the
    (1×1-projected, pooled) shortcut and scaled by 1/√2 (unit variance, as the official code)."""

    def __init__(self, c_in: int, c_out: int, normalize: bool = False, downsample: bool = False) -> None:
        super().__init__()
        self.normalize, self.downsample = normalize, downsample
        self.conv1 = nn.Conv2d(c_in, c_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        if normalize:
            self.norm1 = nn.InstanceNorm2d(c_in, affine=True)
            self.norm2 = nn.InstanceNorm2d(c_in, affine=True)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False) if c_in != c_out else None

    def _short(self, x: Tensor) -> Tensor:
        if self.shortcut is not None:
            x = self.shortcut(x)
        return Fn.avg_pool2d(x, 2) if self.downsample else x

    def _residual(self, x: Tensor) -> Tensor:
        if self.normalize:
            x = self.norm1(x)
        x = self.conv1(Fn.leaky_relu(x, 0.2))
        if self.downsample:
            x = Fn.avg_pool2d(x, 2)
        if self.normalize:
            x = self.norm2(x)
        return self.conv2(Fn.leaky_relu(x, 0.2))

    def forward(self, x: Tensor) -> Tensor:  # [N, c_in, H, W] -> [N, c_out, H', W'] (H' = H // 2 when downsampling)
        return (self._short(x) + self._residual(x)) / math.sqrt(2)


class AdaIN(nn.Module):
    """Adaptive instance norm (Huang & Belongie 2017): (1 + γ(s)) ⊙ IN(h) + β(s), with [γ, β] = Linear(s)."""

    def __init__(self, style_dim: int, channels: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.fc = nn.Linear(style_dim, 2 * channels)

    def forward(self, h: Tensor, s: Tensor) -> Tensor:  # h [N, C, H, W], s [N, style_dim]
        gamma, beta = self.fc(s)[:, :, None, None].chunk(2, dim=1)  # [N, C, 1, 1] each
        return (1 + gamma) * self.norm(h) + beta


class AdaINResBlock(nn.Module):
    """Decoder block: AdaIN → LReLU → [upsample ×2 →] conv3×3 → AdaIN → LReLU → conv3×3, plus the (upsampled,
    projected) shortcut, over √2."""

    def __init__(self, c_in: int, c_out: int, style_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.norm1, self.norm2 = AdaIN(style_dim, c_in), AdaIN(style_dim, c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False) if c_in != c_out else None

    def forward(self, x: Tensor, s: Tensor, size: tuple[int, int] | None = None) -> Tensor:
        """``size``: the spatial size to upsample to (the matching encoder resolution; 7 → 14 → 28 for MNIST)."""
        up = (lambda t: Fn.interpolate(t, size=size, mode="nearest")) if self.upsample else (lambda t: t)
        short = up(x)
        if self.shortcut is not None:
            short = self.shortcut(short)
        h = up(Fn.leaky_relu(self.norm1(x, s), 0.2))
        h = self.conv2(Fn.leaky_relu(self.norm2(self.conv1(h), s), 0.2))
        return (short + h) / math.sqrt(2)


def halvings(size: int, wanted: int) -> int:
    """How many 2× poolings of ``size`` to apply: ``wanted`` (clamped to >= 1), fewer when the size stops halving
    evenly or would drop below 2."""
    n, s = 0, size
    while n < max(1, wanted) and s % 2 == 0 and s // 2 >= 2:
        n, s = n + 1, s // 2
    return n


# ---- the four networks ----------------------------------------------------------------------------------------------


class StarGANv2Generator(Generator):
    """G(x ``[N, C, H, W]``, s ``[N, style_dim]``) → ``[N, C, H, W]`` (linear output, data range [−1, 1]).

    ``z_dim``/``c_dim`` are F's latent size and the number of domains: what a ``Sampler`` reports for this family."""

    output_range = OUTPUT_RANGE
    z_dist = "normal"

    def __init__(self, cfg: StarGANv2Config, spec: DataSpec) -> None:
        super().__init__()
        c, h, w = spec.shape
        self.z_dim, self.c_dim, self.style_dim = cfg.latent_dim, spec.num_classes, cfg.style_dim
        self.image_shape = (c, h, w)
        down = halvings(min(h, w), cfg.g_down if cfg.g_down > 0 else int(math.log2(min(h, w))) - 4)
        self.from_rgb = nn.Conv2d(c, cfg.dim_in, 3, 1, 1)
        self.encode, self.decode = nn.ModuleList(), nn.ModuleList()
        dim = cfg.dim_in
        for _ in range(down):
            dim_out = min(dim * 2, cfg.max_conv_dim)
            self.encode.append(ResBlock(dim, dim_out, normalize=True, downsample=True))
            self.decode.insert(0, AdaINResBlock(dim_out, dim, cfg.style_dim, upsample=True))
            dim = dim_out
        for _ in range(2):  # bottleneck
            self.encode.append(ResBlock(dim, dim, normalize=True))
            self.decode.insert(0, AdaINResBlock(dim, dim, cfg.style_dim))
        self.down = down
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(cfg.dim_in, affine=True), nn.LeakyReLU(0.2),
                                    nn.Conv2d(cfg.dim_in, c, 1, 1, 0))

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        h = self.from_rgb(x)
        sizes = []
        for block in self.encode:
            if block.downsample:
                sizes.append(tuple(h.shape[-2:]))
            h = block(h)
        for block in self.decode:
            h = block(h, s, sizes.pop() if block.upsample else None)
        return self.to_rgb(h)


class MappingNetwork(nn.Module):
    """F(z ``[N, latent_dim]``, y ``[N]``) → s ``[N, style_dim]``: a shared MLP trunk, then domain y's head."""

    def __init__(self, cfg: StarGANv2Config, num_domains: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = cfg.latent_dim
        for _ in range(cfg.mapping_shared):
            layers += [nn.Linear(width, cfg.mapping_hidden), nn.ReLU()]
            width = cfg.mapping_hidden
        self.shared = nn.Sequential(*layers)
        self.heads = nn.ModuleList()
        for _ in range(num_domains):
            head: list[nn.Module] = []
            for _ in range(cfg.mapping_head):
                head += [nn.Linear(cfg.mapping_hidden, cfg.mapping_hidden), nn.ReLU()]
            self.heads.append(nn.Sequential(*head, nn.Linear(cfg.mapping_hidden, cfg.style_dim)))

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        h = self.shared(z)
        out = torch.stack([head(h) for head in self.heads], dim=1)  # [N, K, style_dim]
        return out[torch.arange(len(y), device=y.device), y]


class _Trunk(nn.Module):
    """E's and D's shared body: conv3×3 → residual blocks with 2× pooling → LReLU → conv over the last map → LReLU."""

    def __init__(self, cfg: StarGANv2Config, spec: DataSpec, dim_in: int) -> None:
        super().__init__()
        c, h, w = spec.shape
        side = min(h, w)
        down = halvings(side, cfg.d_down if cfg.d_down > 0 else int(math.log2(side)) - 2)
        blocks: list[nn.Module] = [nn.Conv2d(c, dim_in, 3, 1, 1)]
        dim = dim_in
        for _ in range(down):
            dim_out = min(dim * 2, cfg.max_conv_dim)
            blocks.append(ResBlock(dim, dim_out, downsample=True))
            dim, h, w = dim_out, h // 2, w // 2
        blocks += [nn.LeakyReLU(0.2), nn.Conv2d(dim, dim, (h, w), 1, 0), nn.LeakyReLU(0.2)]  # -> [N, dim, 1, 1]
        self.body = nn.Sequential(*blocks)
        self.out_dim = dim

    def forward(self, x: Tensor) -> Tensor:  # [N, C, H, W] -> [N, out_dim]
        return self.body(x).flatten(1)


class StyleEncoder(nn.Module):
    """E(x ``[N, C, H, W]``, y ``[N]``) → s ``[N, style_dim]``: the trunk, then domain y's linear head."""

    def __init__(self, cfg: StarGANv2Config, spec: DataSpec) -> None:
        super().__init__()
        self.trunk = _Trunk(cfg, spec, cfg.dim_in)
        self.heads = nn.ModuleList(nn.Linear(self.trunk.out_dim, cfg.style_dim) for _ in range(spec.num_classes))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.trunk(x)
        out = torch.stack([head(h) for head in self.heads], dim=1)  # [N, K, style_dim]
        return out[torch.arange(len(y), device=y.device), y]


class MultiTaskDiscriminator(nn.Module):
    """D(x ``[N, C, H, W]``, y ``[N]``) → D_y(x) ``[N, 1]``: K real/fake logits, the one of domain y returned."""

    def __init__(self, cfg: StarGANv2Config, spec: DataSpec) -> None:
        super().__init__()
        self.trunk = _Trunk(cfg, spec, cfg.dim_in)
        self.out = nn.Linear(self.trunk.out_dim, spec.num_classes)  # = the official 1×1 conv on a 1×1 map

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        logits = self.out(self.trunk(x))  # [N, K]
        return logits.gather(1, y.view(-1, 1))


def he_init(module: nn.Module) -> None:
    """The official code's initialisation: Kaiming normal (fan_in, ReLU gain) for conv and linear weights, zero bias."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# ---- the family -----------------------------------------------------------------------------------------------------


@MODELS.register("stargan-v2")
@dataclass
class StarGANv2Config(ModelFamily):
    """Options (``model.options``). Paper / official code at 256²: style_dim 64, latent_dim 16, dim_in 64,
    max_conv_dim 512, mapping_hidden 512, 4 shared + 4 per-domain mapping layers (mapping_shared 4, mapping_head 3
    plus the output layer). Networks: G, F, E, D; sampling uses G, F, E (their EMA copies when trained with EMA)."""

    networks: ClassVar[tuple[str, ...]] = ("G", "F", "E", "D")
    sampling_networks: ClassVar[tuple[str, ...]] = ("G", "F", "E")
    translates: ClassVar[bool] = True

    style_dim: int = 64
    latent_dim: int = 16
    dim_in: int = 64  # first conv width of G, E and D
    max_conv_dim: int = 512
    mapping_hidden: int = 512
    mapping_shared: int = 4  # shared Linear+ReLU layers of F
    mapping_head: int = 3  # Linear+ReLU layers per domain head before its output layer
    g_down: int = 0  # resolution halvings in G; 0 = log2(H) − 4 (at least 1)
    d_down: int = 0  # halvings in D and E; 0 = log2(H) − 2 (at least 1)

    def __post_init__(self) -> None:
        for name in ("style_dim", "latent_dim", "dim_in", "max_conv_dim", "mapping_hidden", "mapping_shared"):
            if getattr(self, name) < 1:
                raise ValueError(f"model.options.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("mapping_head", "g_down", "d_down"):
            if getattr(self, name) < 0:
                raise ValueError(f"model.options.{name} must be >= 0, got {getattr(self, name)}")

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        if len(spec.shape) != 3:
            raise ValueError(f"StarGAN v2 translates images [C, H, W]; this dataset has samples of shape "
                             f"{list(spec.shape)}; use an image dataset with one class per domain")
        if spec.num_classes < 2:
            raise ValueError(f"StarGAN v2 needs >= 2 domains (labelled images, one class per domain); this dataset has "
                             f"{spec.num_classes}; use data.name=mnist-domains or image-domains")
        nets: dict[str, nn.Module] = {"G": StarGANv2Generator(self, spec), "F": MappingNetwork(self, spec.num_classes),
                                      "E": StyleEncoder(self, spec), "D": MultiTaskDiscriminator(self, spec)}
        for net in nets.values():
            he_init(net)
        return nets

    # ---- sampling: G(x, F(z, y)) ---------------------------------------------------------------------------------
    def generate(self, nets: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None,
                 inputs: Tensor | None = None, truncation: float | None = None) -> Tensor:
        """Latent-guided synthesis G(x, F(z, y)): ``inputs`` are source images in [−1, 1], ``labels`` the target
        domains; StarGAN v2 translates, so both are required."""
        if inputs is None or labels is None:
            raise ValueError("StarGAN v2 translates source images to target domains; it needs inputs and labels "
                             "(use `ganforge translate RUN --input IMAGES`)")
        return nets["G"](inputs, nets["F"](z, labels))

    # ---- the translate contract ----------------------------------------------------------------------------------
    def translation_input(self, nets: dict[str, nn.Module], request: TranslateRequest) -> tuple[int, ...]:
        G = nets["G"]
        if request.direction is not None:
            raise ValueError("StarGAN v2 is multi-domain: choose the target with --domain K, not --direction; "
                             "drop --direction")
        check_domain(request.domain, G.c_dim)
        return tuple(G.image_shape)

    def translate(self, nets: dict[str, nn.Module], inputs: Tensor, request: TranslateRequest) -> Translation:
        """Latent-guided (s = F(z, ỹ), ``z_samples`` codes) or reference-guided (s = E(x_ref, ỹ), ``reference``)
        synthesis to ``request.domain`` ỹ, or to every domain when it is None (the paper's Fig. 1 / Fig. 4 grids).

        outputs ``[N, K, C, H, W]``, target-domain-major: latent-guided K = domains × z_samples (the same z codes for
        every source and domain, drawn from ``request.seed``); reference-guided K = domains × R references."""
        G, F, E = nets["G"], nets["F"], nets["E"]
        check_domain(request.domain, G.c_dim)
        if request.reference is not None and request.z_samples is not None:
            raise ValueError("--reference (styles of reference images) and --z-samples (styles from random z) are "
                             "two modes of StarGAN v2; pass one of them")
        domains = [request.domain] if request.domain is not None else list(range(G.c_dim))
        device = inputs.device
        x = scale_images(inputs, OUTPUT_RANGE)  # [N, C, H, W] in [−1, 1]
        n = len(x)
        outputs: list[Tensor] = []
        columns: list[tuple[str, Tensor]] = [("source", inputs.cpu())]
        if request.reference is not None:
            x_ref = scale_images(request.reference.to(device), OUTPUT_RANGE)  # [R, C, H, W]
            for d in domains:
                styles = E(x_ref, torch.full((len(x_ref),), d, dtype=torch.long, device=device))  # [R, style_dim]
                for r in range(len(x_ref)):
                    out = to_uint8(G(x, styles[r : r + 1].expand(n, -1)), OUTPUT_RANGE).cpu()
                    outputs.append(out)
                    columns.append((f"domain {d} ref {r}", out))
        else:
            k = request.z_samples or 1
            gen = torch.Generator(device=device).manual_seed(request.seed)
            z = sample_latent(k, G.z_dim, "normal", gen, device)  # [k, latent_dim]
            for d in domains:
                y = torch.full((n,), d, dtype=torch.long, device=device)
                for j in range(k):
                    out = to_uint8(G(x, F(z[j : j + 1].expand(n, -1), y)), OUTPUT_RANGE).cpu()
                    outputs.append(out)
                    columns.append((f"domain {d}" + (f" z{j}" if k > 1 else ""), out))
        return Translation(torch.stack(outputs, dim=1), columns)


def check_domain(domain: int | None, num_domains: int, flag: str = "--domain") -> None:
    """One-line error for a target domain outside 0..K−1."""
    if domain is not None and not 0 <= domain < num_domains:
        raise ValueError(f"{flag} {domain} is out of range: this model has domains 0..{num_domains - 1}")
