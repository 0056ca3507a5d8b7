"""Tests for ganforge/models/layers.py: spectral norm, minibatch std-dev, packing, label embeddings, heads and the
TensorFlow-exact 'same' padding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from ganforge.models.layers import (
    ConditionalHead,
    Crop2d,
    LabelEmbedding,
    MinibatchStdDev,
    ProjectionHead,
    TwoClassLogit,
    apply_spectral_norm,
    has_spectral_norm,
    pack,
    same_conv2d,
    same_conv_transpose2d,
    same_pads,
    same_transpose_crops,
)

# --- spectral norm ------------------------------------------------------------------------------------------------


def test_spectral_norm_makes_largest_singular_value_one():
    torch.manual_seed(0)
    layer = nn.Linear(16, 8)
    apply_spectral_norm(layer)
    assert has_spectral_norm(layer)
    x = torch.randn(4, 16)
    for _ in range(30):  # each training-mode forward runs one power iteration
        layer(x)
    sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=1e-3)


def test_apply_spectral_norm_wraps_every_weight_layer():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ConvTranspose2d(4, 2, 3), nn.Linear(8, 1))
    apply_spectral_norm(net)
    assert [has_spectral_norm(m) for m in net] == [True, False, True, True]


# --- minibatch std-dev --------------------------------------------------------------------------------------------


def _mbstd_reference(x: np.ndarray, group: int) -> np.ndarray:
    """Independent NumPy path: sample i is in group i mod (N / G); population std; mean over all features."""
    n = x.shape[0]
    m = n // group
    out = np.empty(n)
    for j in range(m):
        members = x[j::m]  # [G, ...]
        out[j::m] = np.sqrt(members.var(axis=0) + 1e-8).mean()
    return out


@pytest.mark.parametrize("shape", [(8, 3, 4, 5), (8, 5)])
@pytest.mark.parametrize("group", [1, 2, 4, 8])
def test_minibatch_std_matches_reference_and_adds_one_channel(shape, group):
    x = torch.randn(*shape, dtype=torch.float64)
    y = MinibatchStdDev(group)(x)
    assert y.shape == (shape[0], shape[1] + 1, *shape[2:])
    assert_close(y[:, : shape[1]], x)
    expected = _mbstd_reference(x.numpy(), group)
    stat = y[:, shape[1]]  # [N, H, W] or [N]: constant over positions
    for i in range(shape[0]):
        assert np.allclose(stat[i].numpy(), expected[i], rtol=1e-10)


def test_minibatch_std_uses_whole_batch_when_smaller_than_group_and_rejects_indivisible():
    assert MinibatchStdDev(4)(torch.randn(2, 3)).shape == (2, 4)
    with pytest.raises(ValueError, match="not divisible by group_size 4"):
        MinibatchStdDev(4)(torch.randn(6, 3))


# --- PacGAN packing -----------------------------------------------------------------------------------------------


def test_pack_concatenates_consecutive_samples_along_channels():
    x = torch.randn(6, 2, 3, 3)
    y = pack(x, 3)
    assert y.shape == (2, 6, 3, 3)
    for j in range(2):
        for i in range(3):
            assert torch.equal(y[j, 2 * i : 2 * i + 2], x[3 * j + i])
    assert pack(x, 1) is x
    assert pack(torch.randn(4, 5), 2).shape == (2, 10)  # vectors [N, F] -> [N/m, m·F]


def test_pack_rejects_batch_not_divisible():
    with pytest.raises(ValueError, match="batch size 7 is not divisible by 2"):
        pack(torch.randn(7, 3), 2)


# --- labels -------------------------------------------------------------------------------------------------------


def test_label_embedding_onehot_and_maps():
    emb = LabelEmbedding(4, "onehot")
    c = torch.tensor([0, 3, 1])
    assert emb.dim == 4
    assert torch.equal(emb(c), torch.eye(4)[c])
    maps = emb.maps(c, (2, 5))
    assert maps.shape == (3, 4, 2, 5)
    assert torch.equal(maps[:, :, 1, 4], torch.eye(4)[c])
    assert count(emb) == 0


def test_label_embedding_learned_and_errors():
    emb = LabelEmbedding(10, "learned", dim=7)
    assert emb(torch.tensor([1, 2])).shape == (2, 7)
    assert count(emb) == 70
    with pytest.raises(ValueError, match="choose from: onehot, learned"):
        LabelEmbedding(10, "sinusoid")
    with pytest.raises(ValueError, match="class labels"):
        emb(None)


def test_projection_head_is_psi_plus_inner_product():
    torch.manual_seed(0)
    head = ProjectionHead(5, 3)
    h, c = torch.randn(4, 5), torch.tensor([0, 2, 1, 2])
    expected = head.psi(h) + (head.embed.weight[c] * h).sum(1, keepdim=True)
    assert_close(head(h, c), expected)
    assert head(h, c).shape == (4, 1)


class _Head(ConditionalHead, nn.Module):
    def __init__(self, conditioning: str, psi: nn.Module | None = None) -> None:
        super().__init__()
        self.init_head("out", psi or nn.Linear(5, 1), 5, 3, conditioning)


@pytest.mark.parametrize(("conditioning", "c_dim", "aux", "keys"), [
    ("none", 0, 0, {"out.weight", "out.bias"}),
    ("concat", 3, 0, {"out.weight", "out.bias"}),
    ("projection", 3, 0, {"out.psi.weight", "out.psi.bias", "out.embed.weight"}),
    ("acgan", 0, 3, {"out.weight", "out.bias", "classifier.weight", "classifier.bias"}),
])
def test_conditional_head_outputs_and_keys(conditioning: str, c_dim: int, aux: int, keys: set[str]) -> None:
    """One head for every family: ψ(h); + ⟨V_c, h⟩ (projection); ⊕ K class logits (acgan). Keys are the owner's."""
    torch.manual_seed(0)
    d = _Head(conditioning)
    assert (d.conditioning, d.c_dim, d.aux_classes) == (conditioning, c_dim, aux)
    assert set(d.state_dict()) == keys
    h, c = torch.randn(4, 5), torch.tensor([0, 2, 1, 2])
    out = d.head_output(h, c)
    if conditioning == "projection":
        assert_close(out, d.out.psi(h) + (d.out.embed.weight[c] * h).sum(1, keepdim=True))
    elif conditioning == "acgan":
        assert_close(out, torch.cat([d.out(h), d.classifier(h)], 1))
        assert out.shape == (4, 4)
    else:
        assert_close(out, d.out(h))
    with pytest.raises(ValueError, match="choose from"):
        _Head("auxiliary")


def test_conditional_head_creates_psi_then_embedding_then_classifier() -> None:
    """Parameter creation order is the RNG order of init: ψ (given), then V (projection) or the classifier (acgan)."""
    torch.manual_seed(0)
    psi, v = nn.Linear(5, 1), nn.Embedding(3, 5)
    torch.manual_seed(0)
    d = _Head("projection")
    assert torch.equal(d.out.psi.weight, psi.weight)
    assert torch.equal(d.out.embed.weight, v.weight)
    torch.manual_seed(0)
    psi, cls = nn.Linear(5, 1), nn.Linear(5, 3)
    torch.manual_seed(0)
    d = _Head("acgan")
    assert torch.equal(d.classifier.weight, cls.weight)
    assert isinstance(_Head("none", TwoClassLogit(5)).out, TwoClassLogit)


def test_two_class_logit_equals_softmax_probability_and_keeps_two_rows():
    torch.manual_seed(0)
    head = TwoClassLogit(6)
    h = torch.randn(5, 6)
    p_real = torch.softmax(head.linear(h), dim=1)[:, 1:2]  # Keras Dense(2, softmax), class 1 = real
    assert_close(torch.sigmoid(head(h)), p_real)
    assert count(head) == 2 * 6 + 2


# --- 'same' padding -----------------------------------------------------------------------------------------------


def test_same_pads_follow_tensorflow_formula():
    # TF: out = ceil(n/s); total = max((out-1)·s + k - n, 0); before = total // 2 (the odd pixel goes after)
    assert same_pads(28, 5, 2, "tf") == (1, 2)  # TF tutorial D, 28 -> 14
    assert same_pads(14, 5, 2, "tf") == (1, 2)  # 14 -> 7
    assert same_pads(28, 3, 2, "tf") == (0, 1)  # keras.io D
    assert same_pads(28, 5, 1, "tf") == (2, 2)
    assert same_pads(7, 5, 2, "tf") == (2, 2)  # odd input: out 4, total 4
    assert same_pads(28, 5, 2, "torch") == (2, 1)  # PyTorch padding=2: the odd pixel ends up first
    assert same_transpose_crops(5, 2, "tf") == (1, 2)
    assert same_transpose_crops(5, 2, "torch") == (2, 1)  # ConvTranspose2d(padding=2, output_padding=1)
    assert same_transpose_crops(4, 2, "tf") == (1, 1)


def _tf_conv(x, weight, stride, mode):
    """Reference 'same' conv: explicit (before, after) zero padding per dim, then a valid convolution."""
    k = weight.shape[-1]
    (t, b), (le, r) = (same_pads(n, k, stride, mode) for n in x.shape[2:])
    return F.conv2d(F.pad(x, (le, r, t, b)), weight, stride=stride)


SIZES = [(28, 5, 2), (14, 5, 2), (28, 3, 2), (7, 5, 2), (9, 4, 1), (8, 5, 1), (9, 4, 2)]


@pytest.mark.parametrize("mode", ["tf", "torch"])
@pytest.mark.parametrize(("n", "k", "s"), SIZES)
def test_same_conv2d_matches_explicit_padding(mode, n, k, s):
    torch.manual_seed(0)
    layers = same_conv2d(2, 3, k, s, (n, n + 1), bias=False, mode=mode)
    net = nn.Sequential(*layers).double()
    conv = layers[-1]
    x = torch.randn(2, 2, n, n + 1, dtype=torch.float64)
    y = net(x)
    assert y.shape[2:] == (math.ceil(n / s), math.ceil((n + 1) / s))
    assert_close(y, _tf_conv(x, conv.weight, s, mode))


@pytest.mark.parametrize("mode", ["tf", "torch"])
@pytest.mark.parametrize(("k", "s"), [(5, 2), (4, 2), (3, 2), (5, 1), (4, 1), (7, 1), (2, 2)])
def test_same_conv_transpose_is_adjoint_of_same_conv(mode, k, s):
    """TF's Conv2DTranspose('same') is conv2d_backprop_input of the 'same' conv from n·s to n: check exactly that."""
    torch.manual_seed(0)
    layers = same_conv_transpose2d(3, 2, k, s, bias=False, mode=mode)
    net = nn.Sequential(*layers).double()
    weight = layers[0].weight  # [in=3, out=2, k, k] == the forward conv's [out=3, in=2, k, k]
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    y = net(x)
    assert y.shape == (2, 2, 5 * s, 6 * s)
    u = torch.zeros(2, 2, 5 * s, 6 * s, dtype=torch.float64, requires_grad=True)
    (adjoint,) = torch.autograd.grad(_tf_conv(u, weight, s, mode), u, grad_outputs=x)
    assert_close(y, adjoint)


def test_tf_and_torch_alignment_differ_by_one_pixel():
    torch.manual_seed(0)
    tf_layers = same_conv2d(1, 1, 5, 2, (28, 28), bias=False, mode="tf")
    torch_layers = same_conv2d(1, 1, 5, 2, (28, 28), bias=False, mode="torch")
    assert isinstance(tf_layers[0], nn.ZeroPad2d)
    assert tf_layers[0].padding == (1, 2, 1, 2)
    assert len(torch_layers) == 1
    assert torch_layers[0].padding == (2, 2)
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 0, 0] = 1.0  # top-left pixel: TF windows start at row -1, PyTorch's at row -2
    with torch.no_grad():
        torch_layers[0].weight.fill_(1.0)
        tf_layers[1].weight.fill_(1.0)
        y_tf, y_torch = nn.Sequential(*tf_layers)(x), torch_layers[0](x)
    assert (y_tf[0, 0] != 0).nonzero().tolist() == [[0, 0]]
    assert (y_torch[0, 0] != 0).nonzero().tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]


def test_crop2d_inverts_zero_pad():
    x = torch.randn(1, 2, 4, 5)
    assert torch.equal(Crop2d((1, 2, 0, 3))(nn.ZeroPad2d((1, 2, 0, 3))(x)), x)


def test_transpose_needs_kernel_at_least_stride():
    with pytest.raises(ValueError, match="kernel >= stride"):
        same_conv_transpose2d(1, 1, 1, 2, bias=True, mode="tf")


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
