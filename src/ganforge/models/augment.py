"""Adaptive discriminator augmentation's pipeline in plain torch (Karras et al. 2020b, "Training Generative
Adversarial Networks with Limited Data", §2–3 and App. B): every image D sees — real or generated, in every phase —
goes through the same stochastic, differentiable transformations, each applied with probability p.

Geometric ("blit" + "geom"), composed into one 3×3 matrix per image and applied with one ``grid_sample``:
    xflip        x ↦ −x                                        (i ~ U{0, 1})
    rotate90     rotation by i·90°                             (i ~ U{0..3})
    xint         integer translation round(t·W), round(t·H)   (t ~ U(−0.125, 0.125)²)
    scale        isotropic scaling s                           (log₂ s ~ N(0, 0.2²))
    rotate       rotation θ before and after aniso            (θ ~ U(−π, π); each with p_rot = 1 − √(1 − p), so
                                                               that P(some rotation) = p)
    aniso        anisotropic scaling (s, 1/s)                  (log₂ s ~ N(0, 0.2²))
    xfrac        fractional translation t·(W, H)               (t ~ N(0, 0.125²)²)
Colour ("color"), one 4×4 matrix per image acting on (r, g, b, 1), luma axis v = (1, 1, 1, 0)/√3:
    brightness   + b                                           (b ~ N(0, 0.2²))
    contrast     × c                                           (log₂ c ~ N(0, 0.5²))
    lumaflip     I − 2 v vᵀ                                    (i ~ U{0, 1})
    hue          rotation by θ around v                        (θ ~ U(−π, π))
    saturation   v vᵀ + (I − v vᵀ) s                           (log₂ s ~ N(0, 1))
Greyscale images use the mean over the three colour rows of the matrix (as the official pipeline does).

Differences from the official pipeline (which needs custom CUDA ops for its upfirdn2d / grid-sample gradients):
the geometric warp is one bilinear ``grid_sample`` with reflection padding instead of 2× wavelet-filtered
supersampling, so large rotations/scalings alias slightly more; everything else (distributions, probabilities, order)
follows App. B. Differentiable w.r.t. the images (the gradient reaches G through D); deterministic given the RNG:
every random number is drawn for every image whatever p is (a fixed count per call), so the RNG stream, and hence
exact resume, do not depend on p. At p = 0 the images are returned unchanged (the same tensor).

Shapes: images ``[N, C, H, W]`` in [−1, 1] (any C; colour ops need C ∈ {1, 3}).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
OPS = GEOMETRIC + COLOUR
# the paper's named pipelines (App. B, Fig. 4): blit, geom, color and their unions
PIPELINES: dict[str, tuple[str, ...]] = {
    "b": ("xflip", "rotate90", "xint"),
    "bg": ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac"),
    "bgc": OPS,
}
# App. B's parameters
XINT_MAX, SCALE_STD, ROTATE_MAX, ANISO_STD, XFRAC_STD = 0.125, 0.2, 1.0, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, HUE_MAX, SATURATION_STD = 0.2, 0.5, 1.0, 1.0


def check_pipeline(name: str) -> tuple[str, ...]:
    """The ops of a named pipeline ("b", "bg", "bgc"); one-line error otherwise."""
    if name not in PIPELINES:
        raise ValueError(f"unknown augmentation pipeline {name!r}; choose from: {', '.join(PIPELINES)}")
    return PIPELINES[name]


def _eye(n: int, k: int, like: Tensor) -> Tensor:
    return torch.eye(k, dtype=like.dtype, device=like.device).expand(n, k, k).clone()


def _mat3(rows: list[list[Tensor | float]], like: Tensor) -> Tensor:
    """``[N, 3, 3]`` from a 3×3 nested list of ``[N]`` tensors or numbers."""
    n = like.shape[0]
    out = [torch.as_tensor(v, dtype=like.dtype, device=like.device).expand(n) for row in rows for v in row]
    return torch.stack(out, 1).view(n, 3, 3)


def _translate(tx: Tensor, ty: Tensor) -> Tensor:
    return _mat3([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def _scale(sx: Tensor, sy: Tensor) -> Tensor:
    return _mat3([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def _rotate(theta: Tensor) -> Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _mat3([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta)


def _gate(value: Tensor, neutral: float, draw: Tensor, prob: Tensor | float) -> Tensor:
    """``value`` where ``draw < prob`` (the op is applied), else the neutral parameter (identity op)."""
    while draw.dim() < value.dim():
        draw = draw.unsqueeze(-1)
    return torch.where(draw < prob, value, torch.full_like(value, neutral))


def geometric_matrix(n: int, width: int, height: int, p: Tensor, ops: tuple[str, ...], rng: torch.Generator | None,
                     device: torch.device) -> Tensor:
    """``[N, 3, 3]`` inverse transforms G⁻¹ in pixel coordinates centred on the image (output pixel → input pixel),
    composed left to right in the order of App. B. Each op draws its parameters and its gate for every image."""

    def rand(*shape: int) -> Tensor:
        return torch.rand(shape, generator=rng, device=device)

    def randn(*shape: int) -> Tensor:
        return torch.randn(shape, generator=rng, device=device)

    z = torch.zeros(n, device=device)
    G = _eye(n, 3, z)
    if "xflip" in ops:
        i = _gate(torch.floor(rand(n) * 2), 0.0, rand(n), p)
        G = G @ _scale(1 - 2 * i, torch.ones_like(i))
    if "rotate90" in ops:
        i = _gate(torch.floor(rand(n) * 4), 0.0, rand(n), p)
        G = G @ _rotate(-math.pi / 2 * i)
    if "xint" in ops:
        t = _gate((rand(n, 2) * 2 - 1) * XINT_MAX, 0.0, rand(n), p)
        G = G @ _translate(torch.round(t[:, 0] * width), torch.round(t[:, 1] * height))
    if "scale" in ops:
        s = _gate(torch.exp2(randn(n) * SCALE_STD), 1.0, rand(n), p)
        G = G @ _scale(s, s)
    p_rot = 1 - torch.sqrt((1 - p).clamp(0, 1)) if isinstance(p, Tensor) else 1 - math.sqrt(max(0.0, 1 - p))
    if "rotate" in ops:
        theta = _gate((rand(n) * 2 - 1) * math.pi * ROTATE_MAX, 0.0, rand(n), p_rot)
        G = G @ _rotate(-theta)  # before anisotropic scaling
    if "aniso" in ops:
        s = _gate(torch.exp2(randn(n) * ANISO_STD), 1.0, rand(n), p)
        G = G @ _scale(s, 1 / s)
    if "rotate" in ops:
        theta = _gate((rand(n) * 2 - 1) * math.pi * ROTATE_MAX, 0.0, rand(n), p_rot)
        G = G @ _rotate(-theta)  # after anisotropic scaling
    if "xfrac" in ops:
        t = _gate(randn(n, 2) * XFRAC_STD, 0.0, rand(n), p)
        G = G @ _translate(t[:, 0] * width, t[:, 1] * height)
    return G


def colour_matrix(n: int, p: Tensor, ops: tuple[str, ...], rng: torch.Generator | None,
                  device: torch.device) -> Tensor:
    """``[N, 4, 4]`` colour transform acting on homogeneous (r, g, b, 1), composed as in App. B."""

    def rand(*shape: int) -> Tensor:
        return torch.rand(shape, generator=rng, device=device)

    def randn(*shape: int) -> Tensor:
        return torch.randn(shape, generator=rng, device=device)

    C = _eye(n, 4, torch.zeros(n, device=device))
    v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=device) / math.sqrt(3)  # luma axis
    vv = torch.outer(v, v)  # [4, 4]
    eye = torch.eye(4, device=device)
    if "brightness" in ops:
        b = _gate(randn(n) * BRIGHTNESS_STD, 0.0, rand(n), p)
        T = _eye(n, 4, b)
        T[:, :3, 3] = b[:, None]
        C = T @ C
    if "contrast" in ops:
        c = _gate(torch.exp2(randn(n) * CONTRAST_STD), 1.0, rand(n), p)
        S = _eye(n, 4, c)
        S[:, :3, :3] *= c[:, None, None]
        C = S @ C
    if "lumaflip" in ops:
        i = _gate(torch.floor(rand(n) * 2), 0.0, rand(n), p)
        C = (eye - 2 * vv * i[:, None, None]) @ C
    if "hue" in ops:
        theta = _gate((rand(n) * 2 - 1) * math.pi * HUE_MAX, 0.0, rand(n), p)
        C = _rotate_about(v[:3], theta) @ C
    if "saturation" in ops:
        s = _gate(torch.exp2(randn(n) * SATURATION_STD), 1.0, rand(n), p)
        C = (vv + (eye - vv) * s[:, None, None]) @ C
    return C


def _rotate_about(axis: Tensor, theta: Tensor) -> Tensor:
    """``[N, 4, 4]`` homogeneous rotation by ``theta [N]`` about the unit 3-vector ``axis`` (Rodrigues' formula)."""
    x, y, z = axis.tolist()
    K = torch.tensor([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], device=theta.device)
    c, s = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    R3 = torch.eye(3, device=theta.device) + s * K + (1 - c) * (K @ K)
    R = _eye(theta.shape[0], 4, theta)
    R[:, :3, :3] = R3
    return R


def augment(images: Tensor, p: Tensor | float, ops: tuple[str, ...] = OPS,
            rng: torch.Generator | None = None) -> Tensor:
    """The ADA pipeline on ``images [N, C, H, W]`` (values in [−1, 1]) with probability ``p`` per op.

    ``p`` is a float or a 0-d tensor (the objective's adaptive p; no host sync). Returns ``images`` itself when p is
    a number ≤ 0; otherwise the transformed ``[N, C, H, W]``, differentiable w.r.t. ``images``.
    """
    if images.dim() != 4:
        raise ValueError(f"augment expects images [N, C, H, W], got shape {tuple(images.shape)}")
    unknown = [op for op in ops if op not in OPS]
    if unknown:
        raise ValueError(f"unknown augmentation op(s) {unknown}; choose from: {', '.join(OPS)}")
    if not isinstance(p, Tensor) and p <= 0:
        return images
    n, ch, h, w = images.shape
    device = rng.device if rng is not None else images.device
    p_t = torch.as_tensor(p, dtype=torch.float32, device=device)
    x = images
    geo = tuple(op for op in ops if op in GEOMETRIC)
    if geo:
        G = geometric_matrix(n, w, h, p_t, geo, rng, device).to(images.device, images.dtype)  # [N, 3, 3] pixels
        # pixel coordinates (centred) → grid_sample's normalised ones (align_corners=False): u = x / (W/2)
        S = torch.diag(torch.tensor([w / 2, h / 2, 1.0], dtype=images.dtype, device=images.device))
        theta = (torch.linalg.inv(S) @ G @ S)[:, :2, :]  # [N, 2, 3]: output normalised → input normalised
        grid = F.affine_grid(theta, [n, ch, h, w], align_corners=False)  # [N, H, W, 2]
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    col = tuple(op for op in ops if op in COLOUR)
    if col:
        if ch not in (1, 3):
            raise ValueError(f"colour augmentation needs 1 or 3 channels, got {ch}; use the 'bg' pipeline")
        C = colour_matrix(n, p_t, col, rng, device).to(images.device, images.dtype)  # [N, 4, 4]
        flat = x.reshape(n, ch, h * w)
        if ch == 3:
            x = (C[:, :3, :3] @ flat + C[:, :3, 3:]).reshape(n, ch, h, w)
        else:  # greyscale: the mean of the colour rows, acting on the grey value replicated to r = g = b
            Cm = C[:, :3, :].mean(dim=1, keepdim=True)  # [N, 1, 4]
            x = (flat * Cm[:, :, :3].sum(dim=2, keepdim=True) + Cm[:, :, 3:]).reshape(n, ch, h, w)
    return x
