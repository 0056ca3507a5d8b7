"""Equalised learning rate (Karras et al. 2018, §4.1): runtime He scale c = gain / sqrt(fan_in), weights N(0, 1)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganforge.models.equalized import EqualizedConv2d, EqualizedLinear, he_scale


def test_scale_is_sqrt_2_over_fan_in() -> None:
    assert EqualizedLinear(50, 7).scale == pytest.approx(math.sqrt(2 / 50), rel=1e-15)
    assert EqualizedConv2d(6, 4, 3).scale == pytest.approx(math.sqrt(2 / (6 * 3 * 3)), rel=1e-15)  # fan_in = C·k·k
    assert EqualizedConv2d(6, 4, 1, gain=1.0).scale == pytest.approx(1 / math.sqrt(6), rel=1e-15)  # toRGB: gain 1
    assert he_scale(8) == pytest.approx(0.5, rel=1e-15)
    with pytest.raises(ValueError, match="fan_in must be >= 1"):
        he_scale(0)


def test_forward_uses_the_runtime_scaled_weight() -> None:
    torch.manual_seed(0)
    lin = EqualizedLinear(5, 3).double()
    conv = EqualizedConv2d(2, 3, 3).double()
    with torch.no_grad():
        lin.bias.normal_()
        conv.bias.normal_()
    x, img = torch.randn(4, 5, dtype=torch.float64), torch.randn(2, 2, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(lin(x), x @ (lin.weight * math.sqrt(2 / 5)).T + lin.bias, rtol=1e-12, atol=1e-12)
    want = F.conv2d(img, conv.weight * math.sqrt(2 / 18), conv.bias, padding=1)
    torch.testing.assert_close(conv(img), want, rtol=1e-12, atol=1e-12)
    assert set(dict(lin.named_parameters())) == {"weight", "bias"}
    assert not list(lin.buffers())


def test_weights_are_unit_normal_and_gradients_scaled_by_c() -> None:
    torch.manual_seed(0)
    lin = EqualizedLinear(400, 300, bias=False)
    std = float(lin.weight.detach().std())
    assert abs(std - 1) < 5 / math.sqrt(2 * lin.weight.numel())  # N(0, 1): 5 standard errors of the sample std
    x = torch.randn(8, 400)
    lin(x).sum().backward()
    # d/dw Σ x ŵᵀ = c · Σ_n x_n: every stored weight's gradient carries the same factor c (what Adam normalises away)
    want = lin.scale * x.sum(0).expand(300, 400)
    torch.testing.assert_close(lin.weight.grad, want, rtol=1e-5, atol=1e-5)


def test_lr_multiplier_keeps_the_initial_layer_and_slows_its_updates() -> None:
    torch.manual_seed(0)
    slow = EqualizedLinear(16, 4, gain=1.0, lr_multiplier=0.01, bias_init=1.0)
    assert slow.scale == pytest.approx(0.01 / 4, rel=1e-15)
    w_hat = slow.weight.detach() * slow.scale
    assert float(w_hat.std() * 4) == pytest.approx(1.0, abs=0.35)  # ŵ still ~ N(0, 1/fan_in)
    x = torch.zeros(3, 16)
    torch.testing.assert_close(slow(x), torch.ones(3, 4))  # the bias starts at bias_init
    with pytest.raises(ValueError, match="lr_multiplier must be a finite number > 0"):
        EqualizedConv2d(1, 1, 3, lr_multiplier=0.0)
