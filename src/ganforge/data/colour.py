"""Colour conversions between sRGB and CIE L*a*b* (D65), in torch, shared by the colorize pairs (``data``), the
colorize model (``models.colorize``) and its evaluation (``kinds.translation``).

Formulas: IEC 61966-2-1 (sRGB transfer curve), CIE 1976 L*a*b* with the D65 white; the sRGB→XYZ matrix is the one
``skimage.color`` uses. Shapes: ``[N, 3, H, W]`` in, ``[N, 3, H, W]`` out.
"""

from __future__ import annotations

import torch
from torch import Tensor

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
