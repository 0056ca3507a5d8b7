"""Colourisation (lecture 000's DeOldify example): grey → colour as a pix2pix-style conditional GAN with an L1 term
(``objective.name=colorize``), optionally with SAGAN self-attention in the U-Net decoder as DeOldify uses.

Data: ``x_a`` = the grey image, taken as CIE L* (uint8 g ↔ L* = 100·g/255), ``x`` = the colour photo (RGB).
``color_space``:
  "lab": G predicts the two chroma channels ab from L (Zhang et al. 2016; Isola et al. 2017 §4.7): the L1 term and
         D work on (L, ab), and the output photo is Lab(L of the input, predicted ab) → sRGB, so lightness is
         exactly the input's;
  "rgb": G predicts RGB directly from the grey image (D on cat(grey, RGB)).
Shapes: x_a ``[N, 1, H, W]``, x ``[N, 3, H, W]``, G's output ``[N, 2, H, W]`` (ab / 110) or ``[N, 3, H, W]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ganforge.data.colour import lab_to_rgb, rgb_to_lab
from ganforge.models.pix2pix import Pix2PixConfig, Pix2PixGenerator
from ganforge.registry import MODELS

AB_SCALE = 110.0  # |a|, |b| < 110 for sRGB colours: ab / 110 fits tanh's range


class ColorizeGenerator(Pix2PixGenerator):
    """The U-Net on L (grey in [−1, 1], = L*/50 − 1) with RGB output in [−1, 1] either way (``to_image``)."""

    def __init__(self, color_space: str, ngf: int, depth: int, norm: str, dropout: float, attention: bool) -> None:
        super().__init__(1, 2 if color_space == "lab" else 3, ngf, depth, norm, dropout, attention)
        self.color_space = color_space

    def target(self, y: Tensor) -> Tensor:
        """RGB in [−1, 1] → what G predicts: ab / 110 (lab) or the RGB itself."""
        if self.color_space == "rgb":
            return y
        return rgb_to_lab((y.float() + 1) / 2)[:, 1:] / AB_SCALE

    def to_image(self, x_a: Tensor, out: Tensor) -> Tensor:
        """G's output → RGB in [−1, 1]: Lab(L of the input, ab) → sRGB for lab."""
        if self.color_space == "rgb":
            return out
        lab = torch.cat([(x_a.float() + 1) * 50, out.float() * AB_SCALE], 1)
        return lab_to_rgb(lab) * 2 - 1


@MODELS.register("colorize")
@dataclass
class ColorizeConfig(Pix2PixConfig):
    """Options of the colouriser (``model.options``): pix2pix's, plus the colour space and self-attention."""

    networks: ClassVar[tuple[str, ...]] = ("G", "D")

    color_space: str = "lab"  # lab (predict ab from L) | rgb
    # deterministic colourisation by default: test-time dropout costs ~0.5 dB PSNR here and colour has no use for
    # pix2pix's sample diversity (true restores the paper's behaviour; only U-Nets of depth > 5 have dropout)
    test_dropout: bool = False
    attention: bool = True  # SAGAN self-attention in the decoder (DeOldify)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.color_space not in ("lab", "rgb"):
            raise ValueError(f"unknown color_space {self.color_space!r}; choose from: lab, rgb")

    def make_generator(self, c_a: int, c_b: int) -> ColorizeGenerator:
        if c_a != 1 or c_b != 3:
            raise ValueError(f"colorize maps grey (1 channel) to colour (3 channels); this data has {c_a} → {c_b} "
                             "channels: use model.name=pix2pix, or grey inputs and RGB targets")
        return ColorizeGenerator(self.color_space, self.ngf, self.depth, self.g_norm, self.dropout, self.attention)
