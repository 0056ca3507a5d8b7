"""SRGAN / SRResNet networks (Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", Figure 4), scaled for small images.

Generator (SRResNet): ``lr [N, C, h, w]`` → 9×9 conv (64) + PReLU → B residual blocks [3×3 conv, BN, PReLU, 3×3 conv,
BN, + skip] → 3×3 conv + BN + the long skip from before the blocks → log2(scale) up-sampling blocks [3×3 conv to 4·64,
PixelShuffle ×2 (Shi et al. 2016), PReLU] → 9×9 conv to C (tanh) → ``sr [N, C, h·s, w·s]``. The paper: 64 channels,
B = 16, scale 4. Defaults here: 32 channels, B = 4 (``channels`` / ``blocks`` restore the paper's).

Discriminator: 3×3 conv (64) + LeakyReLU(0.2), then conv blocks [3×3 conv, BN, LeakyReLU] alternating stride 2 / 1
with channels doubling every two blocks (64, 128, 128, 256, 256, 512, 512 in the paper: 8 convs in all, 4 of them
stride 2), Dense(1024) + LeakyReLU, Dense(1) → logit ``[N, 1]`` (the paper's sigmoid is inside the loss). Defaults:
``d_channels`` 32 and ``d_dense`` 256.

The family is a translation family: ``translate`` up-samples uint8 LR images (``ganforge translate RUN --input PATH
--out DIR`` is the upscale command; columns LR | bicubic | SR), and ``generate`` needs ``inputs`` (no latent z).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec, scale_images, to_uint8
from ganforge.models.base import Discriminator, Generator, ModelFamily, TranslateRequest, Translation
from ganforge.registry import MODELS


class ResidualBlock(nn.Module):
    """SRResNet block: x + BN(conv(PReLU(BN(conv(x))))) at constant shape ``[N, F, h, w]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels),
                                  nn.PReLU(channels), nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.BatchNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class UpsampleBlock(nn.Module):
    """conv to 4F channels → PixelShuffle(2) → PReLU: ``[N, F, h, w]`` → ``[N, F, 2h, 2w]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 4 * channels, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)  # [N, 4F, h, w] -> [N, F, 2h, 2w] (sub-pixel convolution)
        self.act = nn.PReLU(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.shuffle(self.conv(x)))


class SRResNet(Generator):
    """``lr [N, C, h, w]`` in [-1, 1] → ``sr [N, C, h·scale, w·scale]`` in [-1, 1]. No latent: ``z_dim = 0``."""

    def __init__(self, cfg: SRGANConfig, spec: DataSpec) -> None:
        super().__init__()
        self.z_dim, self.scale = 0, cfg.scale
        self.output_range = (-1.0, 1.0)
        c, f = spec.shape[0], cfg.channels
        self.lr_shape = (c, spec.shape[1] // cfg.scale, spec.shape[2] // cfg.scale)
        self.head = nn.Sequential(nn.Conv2d(c, f, 9, padding=4), nn.PReLU(f))
        self.blocks = nn.Sequential(*[ResidualBlock(f) for _ in range(cfg.blocks)])
        self.trunk = nn.Sequential(nn.Conv2d(f, f, 3, padding=1), nn.BatchNorm2d(f))
        self.upsample = nn.Sequential(*[UpsampleBlock(f) for _ in range(int(math.log2(cfg.scale)))])
        self.tail = nn.Conv2d(f, c, 9, padding=4)

    def forward(self, lr: Tensor) -> Tensor:
        h = self.head(lr)  # [N, F, h, w]
        h = h + self.trunk(self.blocks(h))  # the long skip connection (Figure 4)
        return torch.tanh(self.tail(self.upsample(h)))  # [N, C, h·s, w·s]


class SRDiscriminator(Discriminator):
    """``x [N, C, H, W]`` → logit ``[N, 1]``: the paper's VGG-style 8-conv discriminator, width ``d_channels``."""

    def __init__(self, cfg: SRGANConfig, spec: DataSpec) -> None:
        super().__init__()
        c, h, w = spec.shape
        f = cfg.d_channels
        layers: list[nn.Module] = [nn.Conv2d(c, f, 3, padding=1), nn.LeakyReLU(0.2)]
        ch = f
        for i in range(2 * cfg.d_stages - 1):  # (s2, f) (s1, 2f) (s2, 2f) (s1, 4f) (s2, 4f) (s1, 8f) (s2, 8f)
            stride = 2 if i % 2 == 0 else 1
            out = ch if stride == 2 else ch * 2
            layers += [nn.Conv2d(ch, out, 3, stride, 1), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
            ch = out
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(ch * h * w, cfg.d_dense), nn.LeakyReLU(0.2),
                                  nn.Linear(cfg.d_dense, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


@MODELS.register("srgan")
@dataclass
class SRGANConfig(ModelFamily):
    """Options of the SRGAN family (``model.options``). Networks: G (SRResNet), D. Data: a ``superres`` dataset."""

    networks: ClassVar[tuple[str, ...]] = ("G", "D")
    translates: ClassVar[bool] = True

    scale: int = 4  # up-sampling factor (one PixelShuffle ×2 per octave)
    channels: int = 32  # the paper: 64
    blocks: int = 4  # residual blocks; the paper: 16
    d_channels: int = 32  # first D conv width; the paper: 64
    d_stages: int = 4  # stride-2 convs in D; the paper: 4 (96 px → 6 px)
    d_dense: int = 256  # the paper: 1024

    def __post_init__(self) -> None:
        if self.scale not in (2, 4, 8):
            raise ValueError(f"scale must be 2, 4 or 8 (one PixelShuffle x2 per octave), got {self.scale}")
        for name in ("channels", "blocks", "d_channels", "d_stages", "d_dense"):
            if getattr(self, name) < (0 if name == "blocks" else 1):
                raise ValueError(f"{name} must be >= {0 if name == 'blocks' else 1}, got {getattr(self, name)}")

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        lr = spec.fields.get("lr")
        if len(spec.shape) != 3 or lr is None:
            raise ValueError("srgan needs paired low-res/high-res images (field 'lr'); use data.name=superres-mnist "
                             "or superres-photos")
        expect = (spec.shape[0], spec.shape[1] // self.scale, spec.shape[2] // self.scale)
        if tuple(lr) != expect or spec.shape[1] % self.scale or spec.shape[2] % self.scale:
            raise ValueError(f"model.options.scale={self.scale} does not match the data: HR {list(spec.shape)}, LR "
                             f"{list(lr)}; set model.options.scale to the dataset's scale")
        return {"G": SRResNet(self, spec), "D": SRDiscriminator(self, spec)}

    def generate(self, nets: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None,
                 inputs: Tensor | None = None, truncation: float | None = None) -> Tensor:
        if inputs is None:
            raise ValueError("SRGAN up-samples low-res images and draws nothing from z; use `ganforge translate RUN "
                             "--input PATH --out DIR`")
        return nets["G"](inputs)

    # ---- the translation contract: ``ganforge translate`` is the upscale command ----
    def translation_input(self, nets: dict[str, nn.Module], request: TranslateRequest) -> tuple[int, ...]:
        return tuple(nets["G"].lr_shape)

    def translate(self, nets: dict[str, nn.Module], inputs: Tensor, request: TranslateRequest) -> Translation:
        """uint8 LR ``[N, C, h, w]`` → ``outputs [N, 1, C, h·s, w·s]``; columns LR | bicubic | SR."""
        from ganforge.data.superres import bicubic_upsample

        for flag, value in (("--direction", request.direction), ("--domain", request.domain),
                            ("--reference", request.reference), ("--z-samples", request.z_samples)):
            if value is not None:
                raise ValueError(f"{flag}: SRGAN has one direction, no domains, references or latent codes; drop "
                                 f"{flag}")
        G = nets["G"]
        was = G.training
        G.eval()
        try:
            with torch.no_grad():
                sr = to_uint8(G(scale_images(inputs, G.output_range)).float(), G.output_range).cpu()
        finally:
            G.train(was)
        lr = inputs.cpu()
        return Translation(sr[:, None], [("LR", lr), ("bicubic", bicubic_upsample(lr, G.scale)), ("SR", sr)])
