"""The ADA pipeline (models/augment.py): identity at p = 0, exact flips / 90° rotations / integer shifts at p = 1,
shapes and gradients at p = 1, a fixed RNG budget whatever p (exact resume), and one-line errors."""

from __future__ import annotations

import pytest
import torch

from ganforge.models.augment import OPS, PIPELINES, augment, check_pipeline


def images(n: int = 6, c: int = 3, size: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_identity_at_p0() -> None:
    x = images()
    assert augment(x, 0.0, OPS, torch.Generator().manual_seed(0)) is x
    # a tensor p = 0 (ADA's adaptive p before it rises) runs the pipeline with every op gated off: identity
    out = augment(x, torch.tensor(0.0), OPS, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)  # bilinear sampling exactly at pixel centres


def test_shape_and_gradient_at_p1() -> None:
    x = images(c=1).requires_grad_(True)
    out = augment(x, 1.0, OPS, torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert not torch.allclose(out, x)
    (g,) = torch.autograd.grad(out.square().sum(), x)
    assert torch.isfinite(g).all()
    assert g.abs().sum() > 0


def test_pixel_blit_ops_are_exact_permutations() -> None:
    """xflip / rotate90 / integer translation at p = 1 move whole pixels: each output is the flipped, rotated image
    (or a reflection-padded shift of it), never a blend."""
    x = images(n=16)
    for op, candidates in (("xflip", lambda im: [im, im.flip(-1)]),
                           ("rotate90", lambda im: [torch.rot90(im, k, (1, 2)) for k in range(4)])):
        out = augment(x, 1.0, (op,), torch.Generator().manual_seed(2))
        for i in range(len(x)):
            assert min(float((c - out[i]).abs().max()) for c in candidates(x[i])) < 1e-5, (op, i)
    out = augment(x, 1.0, ("xint",), torch.Generator().manual_seed(3))
    # only original pixel values appear: each output is within float32 rounding of one of them (the sampling grid's
    # coordinates carry ~1e-7 errors that differ between CPU kernels, so no exact equality; a blend moves ~1e-2)
    dist = (out.flatten()[:, None] - torch.unique(x.flatten())[None, :]).abs().min(1).values
    assert float(dist.max()) < 1e-5


def test_same_rng_same_result_and_fixed_rng_budget() -> None:
    x = images()
    a = augment(x, 0.7, OPS, torch.Generator().manual_seed(5))
    b = augment(x, 0.7, OPS, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    g1, g2 = torch.Generator().manual_seed(6), torch.Generator().manual_seed(6)
    augment(x, torch.tensor(0.1), OPS, g1)
    augment(x, torch.tensor(0.9), OPS, g2)
    assert torch.equal(g1.get_state(), g2.get_state())  # p changes what is applied, not how much is drawn


def test_colour_ops_on_grey_keep_range_roughly_and_differ_per_image() -> None:
    x = torch.zeros(32, 1, 4, 4)
    out = augment(x, 1.0, ("brightness",), torch.Generator().manual_seed(7))
    per_image = out.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image))  # one offset per image
    assert 0.1 < float(per_image[:, 0].std()) < 0.3  # b ~ N(0, 0.2²)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="unknown augmentation pipeline"):
        check_pipeline("xyz")
    with pytest.raises(ValueError, match="unknown augmentation op"):
        augment(images(), 0.5, ("warp",))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        augment(images(c=2), 0.5, PIPELINES["bgc"])
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        augment(torch.zeros(3, 8), 0.5)
