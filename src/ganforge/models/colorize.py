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

from ganforge.models.pix2pix import Pix2PixConfig, Pix2PixGenerator
from ganforge.registry import MODELS

AB_SCALE = 110.0  # |a|, |b| < 110 for sRGB colours: ab / 110 fits tanh's range
_M_RGB2XYZ = torch.tensor([[0.412453, 0.357580, 0.180423],
                           [0.212671, 0.715160, 0.072169],
                           [0.019334, 0.119193, 0.950227]], dtype=torch.float64)  # sRGB (D65), as skimage.color
_WHITE = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)  # D65 reference white
_EPS, _KAPPA = (6 / 29) ** 3, 3 * (6 / 29) ** 2


def _mix(m: Tensor, x: Tensor) -> Tensor:
    """Per-pixel 3×3 matrix product: ``[N, 3, H, W]``."""
    return torch.einsum("ij,njhw->nihw", m.to(x), x)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1] ``[N, 3, H, W]`` → CIE Lab (D65): L in [0, 100], a, b ≈ [−110, 110] (CIE 1976 formulas)."""
    lin = torch.where(rgb > 0.04045, ((rgb.clamp(min=0) + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _mix(_M_RGB2XYZ, lin) / _WHITE.to(rgb).view(1, 3, 1, 1)
    f = torch.where(xyz > _EPS, xyz.clamp(min=_EPS) ** (1 / 3), xyz / _KAPPA + 4 / 29)
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], 1)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """CIE Lab ``[N, 3, H, W]`` → sRGB in [0, 1] (out-of-gamut colours clipped), the inverse of ``rgb_to_lab``."""
    fy = (lab[:, 0:1] + 16) / 116
    f = torch.cat([fy + lab[:, 1:2] / 500, fy, fy - lab[:, 2:3] / 200], 1)
    xyz = torch.where(f > 6 / 29, f ** 3, (f - 4 / 29) * _KAPPA) * _WHITE.to(lab).view(1, 3, 1, 1)
    lin = _mix(torch.linalg.inv(_M_RGB2XYZ), xyz).clamp(0, 1)
    return torch.where(lin > 0.0031308, 1.055 * lin.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, 12.92 * lin).clamp(0, 1)


def grey_l_star(rgb_uint8: Tensor) -> Tensor:
    """The grey input of a colour photo: its L* as uint8 ``[N, 1, H, W]`` (g = round(2.55·L*))."""
    lab = rgb_to_lab(rgb_uint8.double() / 255.0)
    return (lab[:, :1] * 2.55).round().clamp(0, 255).to(torch.uint8)


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
