"""Tests for ganforge/models/dcgan.py: the lecture presets layer by layer and parameter by parameter, the derived
modern default, conditioning, spectral norm, PacGAN, minibatch std-dev and the config errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ganforge.config import resolve_config
from ganforge.data.base import DataSpec
from ganforge.models.base import count_parameters
from ganforge.models.dcgan import DCGANConfig
from ganforge.models.layers import Crop2d, MinibatchStdDev, TwoClassLogit, has_spectral_norm
from ganforge.options import ConfigError, build_options, options_dict
from ganforge.registry import MODELS
from helpers import layer_summary

MNIST = DataSpec((1, 28, 28))
MNIST_LABELLED = DataSpec((1, 28, 28), num_classes=10)
N = 4

# the lecture networks' model.options, read from their YAML presets (the single source of the architectures)
PRESETS: dict[str, dict] = {
    name: dataclasses.asdict(build_options(DCGANConfig, resolve_config(name).model.options, "model.options"))
    for name in ("dcgan-tf-mnist", "dcgan-keras-mnist", "dcgan-scinet-mnist", "dcgan-mnist")
}


def build(name_or_options: str | dict, spec: DataSpec = MNIST):
    """Build through build_options, as a YAML config would (tuples as lists)."""
    options = PRESETS[name_or_options] if isinstance(name_or_options, str) else name_or_options
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
    return tuple(build_options(DCGANConfig, plain, "model.options").build(spec).values())


def summary(net: nn.Module) -> list[tuple]:
    """The ordered layers with their key hyperparameters (padding/crop/reshape ops are checked separately)."""
    return layer_summary(net, bn_details=True)


def keras_param_count(net: nn.Module) -> int:
    """What Keras' summary() reports: trainable weights + BatchNormalization's moving mean and variance."""
    stats = sum(b.numel() for name, b in net.named_buffers() if name.endswith(("running_mean", "running_var")))
    return count_parameters(net) + stats


def activation_shapes(net: nn.Module, x: torch.Tensor, *args) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
        for m in net.modules()
        if isinstance(m, (nn.LeakyReLU, nn.ReLU))
    ]
    net(x, *args)
    for h in hooks:
        h.remove()
    return shapes


KERAS_BN = (1e-3, 0.01)  # Keras BatchNormalization(epsilon=1e-3, momentum=0.99): PyTorch momentum = 1 − 0.99
LRELU_03 = ("LeakyReLU", 0.3)  # Keras 2 LeakyReLU() default alpha


# --- TensorFlow tutorial DCGAN (lecture 001) ----------------------------------------------------------------------


def test_tf_tutorial_dcgan_layers():
    G, D = build("dcgan-tf-mnist")
    assert summary(G) == [
        ("Dense", 100, 7 * 7 * 256, False),  # Dense(7*7*256, use_bias=False, input_shape=(100,))
        ("BN", 12544, *KERAS_BN),  # BatchNormalization on the flat Dense output: one per unit
        LRELU_03,  # then Reshape((7, 7, 256))
        ("ConvT", 256, 128, 5, 1, False),  # Conv2DTranspose(128, (5, 5), (1, 1), 'same', use_bias=False)
        ("BN", 128, *KERAS_BN),
        LRELU_03,
        ("ConvT", 128, 64, 5, 2, False),  # Conv2DTranspose(64, (5, 5), (2, 2), 'same', use_bias=False)
        ("BN", 64, *KERAS_BN),
        LRELU_03,
        ("ConvT", 64, 1, 5, 2, False),  # Conv2DTranspose(1, (5, 5), (2, 2), 'same', use_bias=False, 'tanh')
        ("Tanh",),
    ]
    assert summary(D) == [
        ("Conv", 1, 64, 5, 2, True),  # Conv2D(64, (5, 5), (2, 2), 'same', input_shape=[28, 28, 1])
        LRELU_03,
        ("Dropout", 0.3),
        ("Conv", 64, 128, 5, 2, True),
        LRELU_03,
        ("Dropout", 0.3),
        ("Flatten",),
        ("Dense", 7 * 7 * 128, 1, True),  # Dense(1)
    ]


def test_tf_tutorial_dcgan_parameter_counts():
    G, D = build("dcgan-tf-mnist")
    # G: Dense 100·12544 = 1,254,400 (no bias); BN(12544) 4·12544 = 50,176 (Keras counts gamma, beta + 2 moving stats)
    #    ConvT 5·5·256·128 = 819,200; BN(128) 512; ConvT 5·5·128·64 = 204,800; BN(64) 256; ConvT 5·5·64·1 = 1,600
    #    total 2,330,944 = 2,305,472 trainable + 25,472 non-trainable (2·(12544 + 128 + 64)): the tutorial's summary.
    assert keras_param_count(G) == 2_330_944
    assert count_parameters(G) == 2_305_472
    # D: Conv 5·5·1·64 + 64 = 1,664; Conv 5·5·64·128 + 128 = 204,928; Dense 7·7·128 + 1 = 6,273 -> 212,865
    assert count_parameters(D) == keras_param_count(D) == 212_865


def test_tf_tutorial_dcgan_shapes_match_the_tutorial_asserts():
    G, D = build("dcgan-tf-mnist")
    z = G.sample_z(N)
    # model.output_shape asserts: (7, 7, 256) after Reshape, (7, 7, 128), (14, 14, 64), (28, 28, 1)
    assert activation_shapes(G.net, z) == [(12544,), (128, 7, 7), (64, 14, 14)]
    fake = G(z)
    assert fake.shape == (N, 1, 28, 28)
    assert G.output_range == (-1.0, 1.0)
    assert fake.abs().max() <= 1
    assert activation_shapes(D, fake) == [(64, 14, 14), (128, 7, 7)]
    assert D(fake).shape == (N, 1)
    assert (G.z_dim, G.c_dim, D.c_dim) == (100, 0, 0)


def test_tf_presets_use_tensorflow_same_alignment():
    G, D = build("dcgan-tf-mnist")
    # D: TF pads 28 -> 14 and 14 -> 7 (k=5, s=2) by 1 before and 2 after; PyTorch's padding=2 would be (2, 1)
    assert [m.padding for m in D.modules() if isinstance(m, nn.ZeroPad2d)] == [(1, 2, 1, 2), (1, 2, 1, 2)]
    # G: the stride-2 Conv2DTranspose crops (1, 2): padding=1 plus one extra row/column at the end
    convt = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.padding for m in convt] == [(2, 2), (1, 1), (1, 1)]
    assert [m.crop for m in G.modules() if isinstance(m, Crop2d)] == [(0, 1, 0, 1), (0, 1, 0, 1)]
    # the same network with PyTorch's symmetric padding has the same layers and sizes and no extra ops
    G_t, D_t = build({**PRESETS["dcgan-tf-mnist"], "same_padding": "torch"})
    assert summary(G_t) == summary(G)
    assert summary(D_t) == summary(D)
    assert not any(isinstance(m, (nn.ZeroPad2d, Crop2d)) for m in [*G_t.modules(), *D_t.modules()])
    assert [m.output_padding for m in G_t.modules() if isinstance(m, nn.ConvTranspose2d)] == [(0, 0), (1, 1), (1, 1)]
    assert G_t(G_t.sample_z(2)).shape == (2, 1, 28, 28)


# --- keras.io GAN overriding train_step (lecture 000) -------------------------------------------------------------


def test_keras_io_gan_layers():
    G, D = build("dcgan-keras-mnist")
    assert summary(G) == [
        ("Dense", 128, 7 * 7 * 128, True),  # Dense(7 * 7 * 128, input_dim=latent_dim=128, activation=lrelu)
        ("LeakyReLU", 0.2),  # then Reshape((7, 7, 128))
        ("ConvT", 128, 128, 4, 2, True),  # Conv2DTranspose(128, 4, strides=2, padding="same", activation=lrelu)
        ("LeakyReLU", 0.2),
        ("ConvT", 128, 128, 4, 2, True),
        ("LeakyReLU", 0.2),
        ("Conv", 128, 1, 7, 1, True),  # Conv2D(1, 7, padding="same", activation="sigmoid")
        ("Sigmoid",),
    ]
    assert summary(D) == [
        ("Conv", 1, 64, 3, 2, True),  # Conv2D(64, 3, strides=2, padding="same", activation=lrelu)
        ("LeakyReLU", 0.2),
        ("Conv", 64, 128, 3, 2, True),
        ("LeakyReLU", 0.2),
        ("AdaptiveMaxPool2d",),  # GlobalMaxPooling2D()
        ("Flatten",),
        ("Dense", 128, 1, True),  # Dense(1)
    ]
    # 3×3 stride-2 'same' on 28 and 14: TF pads (0, 1); 4×4 stride-2 transposed: crops (1, 1), plain padding=1
    assert [m.padding for m in D.modules() if isinstance(m, nn.ZeroPad2d)] == [(0, 1, 0, 1), (0, 1, 0, 1)]
    assert not any(isinstance(m, Crop2d) for m in G.modules())


def test_keras_io_gan_parameter_counts_and_shapes():
    G, D = build("dcgan-keras-mnist")
    # G: Dense 128·6272 + 6272 = 809,088; ConvT 4·4·128·128 + 128 = 262,272 (×2); Conv 7·7·128 + 1 = 6,273
    #    -> 1,339,905 (keras.io summary)
    assert count_parameters(G) == keras_param_count(G) == 1_339_905
    # D: Conv 3·3·64 + 64 = 640; Conv 3·3·64·128 + 128 = 73,856; Dense 128 + 1 = 129 -> 74,625
    assert count_parameters(D) == keras_param_count(D) == 74_625
    z = G.sample_z(N)
    assert activation_shapes(G.net, z) == [(6272,), (128, 14, 14), (128, 28, 28)]
    fake = G(z)
    assert fake.shape == (N, 1, 28, 28)
    assert G.output_range == (0.0, 1.0)
    assert fake.min() >= 0
    assert fake.max() <= 1
    assert D(fake).shape == (N, 1)
    assert G.z_dim == 128


# --- SciNet 4-conv DCGAN with a 2-way softmax (lecture 003) -------------------------------------------------------


def test_scinet_dcgan_layers():
    G, D = build("dcgan-scinet-mnist")
    block = lambda c_in, c_out, s: [("ConvT", c_in, c_out, 5, s, True), ("BN", c_out, *KERAS_BN), LRELU_03]
    assert summary(G) == [
        ("Dense", 100, 256 * 7 * 7, True),  # kl.Dense(256 * 7 * 7)(input_z)
        ("BN", 12544, *KERAS_BN),
        LRELU_03,  # then Reshape((7, 7, 256))
        *block(256, 256, 1),  # add_G_layers(x, 256, 1): Conv2DTranspose(5×5, same) -> BN -> LeakyReLU
        *block(256, 128, 1),
        *block(128, 64, 2),
        *block(64, 32, 2),
        ("ConvT", 32, 1, 5, 1, True),  # Conv2DTranspose(1, (5, 5), padding="same", activation="tanh")
        ("Tanh",),
    ]
    d_block = lambda c_in, c_out, s: [("Conv", c_in, c_out, 5, s, True), LRELU_03, ("Dropout", 0.3)]
    assert summary(D) == [
        *d_block(1, 32, 1),  # add_D_layers(input_image, 32, 1): Conv2D(5×5, same) -> LeakyReLU -> Dropout(0.3)
        *d_block(32, 64, 2),
        *d_block(64, 128, 2),
        *d_block(128, 256, 1),
        ("Flatten",),
        ("Dense", 7 * 7 * 256, 2, True),  # Dense(2, activation="softmax"), read as one logit
    ]
    assert isinstance(D.head, TwoClassLogit)


def test_scinet_dcgan_parameter_counts():
    G, D = build("dcgan-scinet-mnist")
    # G: Dense 100·12544 + 12544 = 1,266,944; BN(12544) 50,176; ConvT 25·256·256 + 256 = 1,638,656; BN 1,024;
    #    ConvT 25·256·128 + 128 = 819,328; BN 512; ConvT 25·128·64 + 64 = 204,864; BN 256;
    #    ConvT 25·64·32 + 32 = 51,232; BN 128; ConvT 25·32·1 + 1 = 801 -> 4,033,921 in Keras,
    #    of which 2·(12544 + 256 + 128 + 64 + 32) = 26,048 moving statistics -> 4,007,873 trainable
    assert keras_param_count(G) == 4_033_921
    assert count_parameters(G) == 4_007_873
    # D: 25·32 + 32 = 832; 25·32·64 + 64 = 51,264; 25·64·128 + 128 = 204,928; 25·128·256 + 256 = 819,456;
    #    Dense 12544·2 + 2 = 25,090 -> 1,101,570
    assert count_parameters(D) == keras_param_count(D) == 1_101_570


def test_scinet_dcgan_shapes_and_softmax_equivalence():
    G, D = build("dcgan-scinet-mnist")
    z = G.sample_z(N)
    assert activation_shapes(G.net, z) == [(12544,), (256, 7, 7), (128, 7, 7), (64, 14, 14), (32, 28, 28)]
    fake = G(z)
    assert fake.shape == (N, 1, 28, 28)
    D.eval()  # no dropout, so both paths see the same features
    assert activation_shapes(D, fake) == [(32, 28, 28), (64, 14, 14), (128, 7, 7), (256, 7, 7)]
    logits = D(fake)
    assert logits.shape == (N, 1)
    softmax = torch.softmax(D.head.linear(D.features(fake)), dim=1)  # the lecture's 2-neuron softmax output
    assert_close(torch.sigmoid(logits), softmax[:, 1:2])  # class 1 = real (to_categorical(ones) for real images)


def test_keras_presets_use_glorot_init_and_unit_batchnorm():
    G, _ = build("dcgan-tf-mnist")
    dense = G.net[0]
    bound = (6 / (dense.in_features + dense.out_features)) ** 0.5  # glorot_uniform limit
    assert dense.weight.abs().max() <= bound
    assert dense.weight.abs().max() > 0.9 * bound
    bn = G.net[1]
    assert torch.equal(bn.weight, torch.ones_like(bn.weight))
    assert torch.equal(bn.bias, torch.zeros_like(bn.bias))


# --- recommended / derived architecture ---------------------------------------------------------------------------


def test_derived_mnist_architecture_is_the_dataclass_default():
    G, D = DCGANConfig().build(MNIST).values()
    assert summary(G) == [
        ("Dense", 100, 128 * 7 * 7, False),
        ("BN", 128, 1e-5, 0.1),  # per channel, after the reshape (Radford et al. 2016)
        ("ReLU",),
        ("ConvT", 128, 64, 4, 2, False),
        ("BN", 64, 1e-5, 0.1),
        ("ReLU",),
        ("ConvT", 64, 1, 4, 2, True),
        ("Tanh",),
    ]
    assert summary(D) == [
        ("Conv", 1, 64, 4, 2, True),  # no norm on the first layer
        ("LeakyReLU", 0.2),
        ("Conv", 64, 128, 4, 2, True),
        ("BN", 128, 1e-5, 0.1),
        ("LeakyReLU", 0.2),
        ("Flatten",),
        ("Dense", 7 * 7 * 128, 1, True),
    ]
    # G: 100·6272 + 2·128 + 16·128·64 + 2·64 + 16·64 + 1 = 759,681; D: 16·64 + 64 + 16·64·128 + 128 + 256 + 6273
    assert (count_parameters(G), count_parameters(D)) == (759_681, 138_817)


def test_recommended_preset_is_the_default_with_a_deeper_generator():
    cfg = DCGANConfig(**PRESETS["dcgan-mnist"])
    deeper = {"g_dense_channels": 256, "g_channels": [128, 64], "g_strides": [1, 2]}
    assert options_dict(cfg) == options_dict(DCGANConfig().resolve(MNIST)) | {"depth": 0} | deeper
    G, D = build("dcgan-mnist")
    assert summary(G) == [
        ("Dense", 100, 256 * 7 * 7, False),
        ("BN", 256, 1e-5, 0.1),
        ("ReLU",),
        ("ConvT", 256, 128, 4, 1, False),  # stride 1 at 7×7 ('same': cropped back to 7×7)
        ("BN", 128, 1e-5, 0.1),
        ("ReLU",),
        ("ConvT", 128, 64, 4, 2, False),
        ("BN", 64, 1e-5, 0.1),
        ("ReLU",),
        ("ConvT", 64, 1, 4, 2, True),
        ("Tanh",),
    ]
    assert summary(D) == summary(DCGANConfig().build(MNIST)["D"])
    with torch.no_grad():
        assert G.eval()(torch.zeros(2, 100)).shape == (2, 1, 28, 28)
    # G: 100·12544 + 2·256 + 16·256·128 + 2·128 + 16·128·64 + 2·64 + 16·64 + 1 = 1,911,681
    assert (count_parameters(G), count_parameters(D)) == (1_911_681, 138_817)


@pytest.mark.parametrize(("res", "g_convt", "d_conv"), [
    (28, [(128, 64), (64, 3)], [(3, 64), (64, 128)]),
    (32, [(256, 128), (128, 64), (64, 3)], [(3, 64), (64, 128), (128, 256)]),
    (64, [(512, 256), (256, 128), (128, 64), (64, 3)], [(3, 64), (64, 128), (128, 256), (256, 512)]),
])  # fmt: skip
def test_derived_architecture_per_resolution(res, g_convt, d_conv):
    G, D = DCGANConfig().build(DataSpec((3, res, res))).values()
    assert [(r[1], r[2]) for r in summary(G) if r[0] == "ConvT"] == g_convt  # DCGAN paper: 512-256-128-64 at 64×64
    assert [(r[1], r[2]) for r in summary(D) if r[0] == "Conv"] == d_conv
    fake = G(G.sample_z(2))
    assert fake.shape == (2, 3, res, res)
    assert D(fake).shape == (2, 1)


def test_width_depth_and_non_square():
    G, D = DCGANConfig(width=8).build(DataSpec((3, 32, 48))).values()  # 32×48 -> 4×6 start, 3 stages
    assert G(G.sample_z(2)).shape == (2, 3, 32, 48)
    assert D(torch.randn(2, 3, 32, 48)).shape == (2, 1)
    G, D = DCGANConfig(width=8, depth=2).build(DataSpec((1, 32, 32))).values()  # 8×8 start
    assert G.net[1].unflattened_size == (16, 8, 8)
    assert G(G.sample_z(2)).shape == (2, 1, 32, 32)


def test_dcgan_init_std():
    G, _ = DCGANConfig(width=16).build(DataSpec((1, 64, 64))).values()
    w = G.net[0].weight
    assert w.std().item() == pytest.approx(0.02, rel=0.05)


# --- conditioning -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("embedding", ["onehot", "learned"])
def test_concat_conditioning(embedding):
    cfg = DCGANConfig(width=8, conditioning="concat", embedding=embedding, embed_dim=5)
    G, D = cfg.build(MNIST_LABELLED).values()
    e = 10 if embedding == "onehot" else 5
    assert G.c_dim == 10
    assert D.c_dim == 10
    assert G.net[0].in_features == 100 + e  # z ⊕ embed(c)
    assert next(m for m in D.modules() if isinstance(m, nn.Conv2d)).in_channels == 1 + e  # image ⊕ label maps
    c = torch.tensor([0, 3, 9, 3])
    fake = G(G.sample_z(N), c)
    assert fake.shape == (N, 1, 28, 28)
    assert D(fake, c).shape == (N, 1)
    with pytest.raises(ValueError, match="class labels"):
        G(G.sample_z(N))


def test_projection_conditioning_uses_labels():
    _G, D = DCGANConfig(width=8, conditioning="projection", d_norm="none").build(MNIST_LABELLED).values()
    x = torch.randn(N, 1, 28, 28)
    with torch.no_grad():
        D.head.embed.weight.normal_()
        a, b = D(x, torch.zeros(N, dtype=torch.long)), D(x, torch.ones(N, dtype=torch.long))
    assert a.shape == (N, 1)
    assert not torch.allclose(a, b)
    h = D.features(x)
    assert_close(a, D.head.psi(h) + (D.head.embed.weight[0] * h).sum(1, keepdim=True))


def test_acgan_outputs_adversarial_plus_class_logits():
    G, D = DCGANConfig(width=8, conditioning="acgan").build(MNIST_LABELLED).values()
    assert G.c_dim == 10
    assert D.c_dim == 0
    assert D.aux_classes == 10
    fake = G(G.sample_z(N), torch.arange(N))
    assert D(fake).shape == (N, 11)


@pytest.mark.parametrize(("conditioning", "d_head", "head_keys"), [
    ("none", "linear", {"head.weight", "head.bias"}),
    ("none", "softmax2", {"head.linear.weight", "head.linear.bias"}),
    ("concat", "linear", {"head.weight", "head.bias"}),
    ("projection", "linear", {"head.psi.weight", "head.psi.bias", "head.embed.weight"}),
    ("projection", "softmax2", {"head.psi.linear.weight", "head.psi.linear.bias", "head.embed.weight"}),
    ("acgan", "linear", {"head.weight", "head.bias", "classifier.weight", "classifier.bias"}),
])
def test_d_head_state_dict_keys_are_those_of_older_checkpoints(conditioning, d_head, head_keys):
    """The shared ConditionalHead keeps D's own key names: checkpoints written before it still load."""
    _G, D = DCGANConfig(width=8, conditioning=conditioning, d_head=d_head).build(MNIST_LABELLED).values()
    assert {k for k in D.state_dict() if not k.startswith(("features.", "embed."))} == head_keys
    D.load_state_dict(D.state_dict())


def test_conditioning_needs_labels():
    with pytest.raises(ValueError, match="needs a labelled dataset"):
        DCGANConfig(conditioning="concat").build(MNIST).values()
    G, D = DCGANConfig(width=8).build(MNIST_LABELLED).values()  # labelled data, conditioning none: unconditional
    assert G.c_dim == 0
    assert D.c_dim == 0


# --- discrete latent code (z_code) ----------------------------------------------------------------------------------


def test_z_code_feeds_a_scaled_one_hot_of_the_argmax_to_the_dense_layer():
    torch.manual_seed(0)
    G, _ = DCGANConfig(width=8, z_dim=20, z_code=5, z_code_scale=2.5).build(MNIST).values()
    assert G.net[0].in_features == 20 + 5
    z = torch.randn(N, 20)
    k = z[:, :5].argmax(1)
    code = torch.zeros(N, 5)
    code[torch.arange(N), k] = 2.5  # z_code_scale · one-hot(k)
    G.eval()
    # same ops on the same inputs in the same order (the dense layer sees the identical [N, 25] tensor): exact
    assert torch.equal(G(z), G.net(torch.cat([z, code], 1)))


def test_z_code_is_uniform_and_the_dense_layer_sees_only_its_argmax():
    z = torch.randn(50_000, 100, generator=torch.Generator().manual_seed(1))
    freq = torch.bincount(z[:, :10].argmax(1), minlength=10).double() / len(z)
    # P(k) = 1/10 for iid dims; a binomial share's std is sqrt(0.1·0.9/50,000) = 0.0013, so 0.006 is > 4 std
    assert (freq - 0.1).abs().max().item() < 0.006
    G, _ = DCGANConfig(width=8, z_dim=20, z_code=4).build(MNIST).values()
    seen: list[torch.Tensor] = []
    G.net[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0][:, 20:]))  # the code part [N, 4]
    z = torch.zeros(3, 20)
    z[:, 4:] = torch.randn(3, 16)
    z[0, :4] = torch.tensor([3.0, 0.0, 0.0, 0.0])
    z[1, :4] = torch.tensor([2.0, 1.0, -1.0, 0.0])  # other values, same argmax 0
    z[2, :4] = torch.tensor([0.0, 3.0, 0.0, 0.0])  # argmax 1
    G(z)
    assert torch.equal(seen[0], torch.tensor([[1.0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]]))  # scale 1: the default


def test_z_code_columns_learn_only_from_the_codes_drawn():
    G, _ = DCGANConfig(width=8, z_dim=20, z_code=6).build(MNIST).values()
    z = torch.randn(N, 20)
    z[:, :6] = 0.0
    z[:, 0], z[:, 4] = 1.0, torch.tensor([0.0, 0.0, 2.0, 2.0])  # codes 0, 0, 4, 4
    G(z).square().mean().backward()
    drawn = G.net[0].weight.grad[:, 20:].abs().sum(0) > 0  # [6]: which code columns got a gradient
    assert drawn.tolist() == [True, False, False, False, True, False]


def test_z_code_off_leaves_the_generator_unchanged():
    torch.manual_seed(0)
    a, _ = DCGANConfig(width=8).build(MNIST).values()
    torch.manual_seed(0)
    b, _ = DCGANConfig(width=8, z_code=0).build(MNIST).values()
    z = torch.randn(N, 100)
    assert a.net[0].in_features == 100
    assert torch.equal(a(z), b(z))  # same construction and forward path: bit-identical


def test_code_preset_is_dcgan_mnist_plus_the_code():
    code = dataclasses.asdict(build_options(DCGANConfig, resolve_config("dcgan-code-mnist").model.options,
                                            "model.options"))
    assert code == {**PRESETS["dcgan-mnist"], "z_code": 10, "z_code_scale": 3.0}
    a, b = resolve_config("dcgan-code-mnist"), resolve_config("dcgan-mnist")
    assert (a.objective, a.optim, a.train.batch_size, a.train.ema) == (b.objective, b.optim, b.train.batch_size,
                                                                       b.train.ema)


# --- spectral norm, PacGAN, minibatch std -------------------------------------------------------------------------


def test_spectral_norm_applied_to_every_d_weight_layer():
    cfg = DCGANConfig(width=8, spectral_norm=True, d_norm="none", conditioning="projection")
    G, D = cfg.build(MNIST_LABELLED).values()
    weighted = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert len(weighted) == 4
    assert all(has_spectral_norm(m) for m in weighted)
    assert not any(has_spectral_norm(m) for m in G.modules())
    for _ in range(20):
        D(torch.randn(N, 1, 28, 28), torch.arange(N))
    for m in weighted[:2]:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=0.05)
    G, _ = DCGANConfig(width=8, g_spectral_norm=True).build(MNIST).values()
    assert all(has_spectral_norm(m) for m in G.modules() if isinstance(m, (nn.ConvTranspose2d, nn.Linear)))


def test_pack_divides_batch():
    _, D = DCGANConfig(width=8, pack=2).build(MNIST).values()
    assert next(m for m in D.modules() if isinstance(m, nn.Conv2d)).in_channels == 2
    assert D(torch.randn(8, 1, 28, 28)).shape == (4, 1)
    with pytest.raises(ValueError, match="not divisible by 2"):
        D(torch.randn(7, 1, 28, 28))
    _, D = DCGANConfig(width=8, pack=3, conditioning="concat").build(MNIST_LABELLED).values()
    assert D(torch.randn(6, 1, 28, 28), torch.arange(6)).shape == (2, 1)


def test_minibatch_std_adds_a_channel_before_last_conv():
    _, D = DCGANConfig(width=8, minibatch_std=True, minibatch_std_group=2).build(MNIST).values()
    layers = list(D.features)
    i = next(i for i, m in enumerate(layers) if isinstance(m, MinibatchStdDev))
    last_conv = [m for m in layers if isinstance(m, nn.Conv2d)][-1]
    assert layers[i + 1] is last_conv
    assert last_conv.in_channels == 8 + 1
    assert D(torch.randn(N, 1, 28, 28)).shape == (N, 1)


# --- config contract ----------------------------------------------------------------------------------------------


def test_registered_and_presets_round_trip():
    assert MODELS.get("dcgan") is DCGANConfig
    for name in PRESETS:
        cfg = build_options(DCGANConfig, options_dict(DCGANConfig(**PRESETS[name])), "model.options")
        assert cfg == DCGANConfig(**PRESETS[name])


def test_strides_that_do_not_reach_the_resolution_explain_the_fix():
    with pytest.raises(ValueError, match=r"upsample by 8 .* 28×28, not a multiple of 8"):
        DCGANConfig(g_channels=(64, 32), g_strides=(2, 2), g_out_stride=2).build(MNIST).values()


@pytest.mark.parametrize(("options", "message"), [
    ({"g_norm": "group"}, "unknown g_norm 'group'; choose from: none, batch, instance, layer"),
    ({"d_channels": [64, 128], "d_strides": [2]}, "one stride per layer"),
    ({"g_out": "conv", "g_out_stride": 2}, "set g_out_stride=1"),
    ({"d_dropout": 1.0}, r"d_dropout must be in \[0, 1\)"),
    ({"pack": 2, "conditioning": "acgan"}, "pack > 1"),
    ({"z_code": 101}, r"z_code must be 0 \(off\) or in \[2, z_dim=100\], got 101"),
    ({"z_code": 1}, "z_code must be 0"),
    ({"z_code": 10, "z_code_scale": 0.0}, "z_code_scale must be > 0"),
    ({"kernel": 3}, "unknown config key 'model.options.kernel'"),
])  # fmt: skip
def test_bad_options_raise_one_line_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        build_options(DCGANConfig, options, "model.options")


def test_vector_data_is_rejected():
    with pytest.raises(ValueError, match="use mlp for vectors"):
        DCGANConfig().build(DataSpec((2,)))
