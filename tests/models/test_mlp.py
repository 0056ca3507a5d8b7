"""Tests for ganforge/models/mlp.py: vectors and flattened images, conditioning (concat / projection / acgan, one-hot
and learned embeddings), spectral norm, PacGAN, minibatch std-dev, maxout and the config errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.data.base import DataSpec
from ganforge.losses.gan_objectives import ACGANObjective, HingeObjective, WGANGPObjective
from ganforge.losses.objectives import Batch
from ganforge.models.layers import LabelEmbedding, Maxout, MinibatchStdDev, ProjectionHead, has_spectral_norm
from ganforge.models.mlp import MLPConfig, MLPDiscriminator, MLPGenerator
from ganforge.options import ConfigError, build_options
from ganforge.registry import MODELS

TOY = DataSpec((2,))
MNIST = DataSpec((1, 28, 28), num_classes=10)
SMALL = {"z_dim": 8, "g_hidden": [16], "d_hidden": [16, 8]}
N = 8


def build(spec: DataSpec = TOY, **options: object) -> tuple[MLPGenerator, MLPDiscriminator]:
    """Build through build_options, as a YAML config would."""
    return tuple(build_options(MLPConfig, {**SMALL, **options}, "model.options").build(spec).values())


def labels(n: int = N, k: int = 10) -> torch.Tensor:
    return torch.arange(n) % k


def test_registered_under_mlp() -> None:
    assert MODELS.get("mlp") is MLPConfig


def test_vectors_in_and_out() -> None:
    G, D = build(TOY)
    x = G(G.sample_z(N))
    assert x.shape == (N, 2)
    assert D(x).shape == (N, 1)
    assert G.c_dim == 0
    assert D.c_dim == 0


@pytest.mark.parametrize(("g_output", "lo", "hi"), [("tanh", -1.0, 1.0), ("sigmoid", 0.0, 1.0)])
def test_images_are_flattened_into_d_and_reshaped_out_of_g(g_output: str, lo: float, hi: float) -> None:
    G, D = build(DataSpec((1, 28, 28)), g_output=g_output)
    x = G(G.sample_z(N))
    assert x.shape == (N, 1, 28, 28)
    assert G.output_range == (lo, hi)
    assert lo <= float(x.detach().min())
    assert float(x.detach().max()) <= hi
    assert D.body[0].in_features == 784
    assert D(x).shape == (N, 1)


def test_unconditional_state_dict_keys_are_unchanged() -> None:
    """Checkpoints of the plain MLP written before the new options still load (same parameter names)."""
    G, D = build(TOY)
    assert set(G.state_dict()) == {"body.0.weight", "body.0.bias", "out.weight", "out.bias"}
    assert set(D.state_dict()) == {"body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias", "out.weight",
                                   "out.bias"}


@pytest.mark.parametrize(("conditioning", "head_keys"), [
    ("concat", {"out.weight", "out.bias"}),
    ("projection", {"out.psi.weight", "out.psi.bias", "out.embed.weight"}),
    ("acgan", {"out.weight", "out.bias", "classifier.weight", "classifier.bias"}),
])
def test_conditional_d_state_dict_keys_are_those_of_older_checkpoints(conditioning: str, head_keys: set[str]) -> None:
    """The shared ConditionalHead keeps the MLP's own key names (``out.*``, ``classifier.*``)."""
    _G, D = build(MNIST, conditioning=conditioning)
    assert {k for k in D.state_dict() if not k.startswith("body.")} == head_keys


@pytest.mark.parametrize("embedding", ["onehot", "learned"])
def test_concat_conditioning(embedding: str) -> None:
    G, D = build(MNIST, conditioning="concat", embedding=embedding, embed_dim=6)
    e = 10 if embedding == "onehot" else 6
    assert G.c_dim == 10
    assert D.c_dim == 10
    assert isinstance(G.embed, LabelEmbedding)
    assert G.embed.dim == e
    assert G.body[0].in_features == 8 + e
    assert D.body[0].in_features == 784 + e
    c = labels()
    x = G(G.sample_z(N), c)
    assert x.shape == (N, 1, 28, 28)
    out = D(x, c)
    assert out.shape == (N, 1)
    # the label changes the output of both networks
    other = (c + 1) % 10
    assert not torch.allclose(D(x, other), out)
    z = G.sample_z(N)
    G.eval()
    assert not torch.allclose(G(z, c), G(z, other))


def test_legacy_conditional_flag_is_an_unknown_key() -> None:
    """``conditional: true`` is gone: the unknown-key error lists ``conditioning`` (use ``conditioning: concat``)."""
    with pytest.raises(ConfigError, match=r"unknown config key 'model.options.conditional'.*'conditioning'"):
        build(MNIST, conditional=True)


def test_projection_discriminator_is_psi_plus_inner_product() -> None:
    """D(x, y) = ψ(h) + ⟨V_y, h⟩ (Miyato & Koyama 2018, eq. 3)."""
    _G, D = build(MNIST, conditioning="projection")
    assert D.c_dim == 10
    assert isinstance(D.out, ProjectionHead)
    assert D.body[0].in_features == 784  # no label at the input
    x, c = torch.randn(N, 1, 28, 28), labels()
    h = D.body(x.flatten(1))
    expected = D.out.psi(h) + (D.out.embed.weight[c] * h).sum(1, keepdim=True)
    assert torch.allclose(D(x, c), expected, atol=1e-6)
    with pytest.raises(ValueError, match="labels"):
        D(x)


def test_acgan_discriminator_returns_adversarial_and_class_logits() -> None:
    G, D = build(MNIST, conditioning="acgan")
    assert G.c_dim == 10
    assert D.c_dim == 0
    assert D.aux_classes == 10
    x = G(G.sample_z(N), labels())
    assert D(x).shape == (N, 11)


@pytest.mark.parametrize("conditioning", ["concat", "projection", "acgan"])
def test_conditioning_needs_labels(conditioning: str) -> None:
    with pytest.raises(ValueError, match="labelled dataset"):
        build(TOY, conditioning=conditioning)


def test_spectral_norm_on_every_d_layer_only() -> None:
    G, D = build(MNIST, conditioning="projection", spectral_norm=True)
    d_layers = [m for m in D.modules() if isinstance(m, (nn.Linear, nn.Embedding))]
    assert len(d_layers) == 4  # two hidden, ψ and the class embedding V
    assert all(has_spectral_norm(m) for m in d_layers)
    assert not any(has_spectral_norm(m) for m in G.modules() if isinstance(m, nn.Linear))
    G2, _ = build(TOY, g_spectral_norm=True)
    assert all(has_spectral_norm(m) for m in G2.modules() if isinstance(m, nn.Linear))


def test_spectral_norm_bounds_the_largest_singular_value() -> None:
    _, D = build(TOY, spectral_norm=True)
    D.train()
    for _ in range(30):  # power iteration converges over forward passes
        D(torch.randn(N, 2))
    for m in D.modules():
        if isinstance(m, nn.Linear):
            assert float(torch.linalg.matrix_norm(m.weight.detach(), ord=2)) == pytest.approx(1.0, abs=0.05)


def test_pack_concatenates_consecutive_samples() -> None:
    _, D = build(TOY, pack=4)
    assert D.body[0].in_features == 8
    x = torch.randn(N, 2)
    out = D(x)
    assert out.shape == (N // 4, 1)
    assert torch.allclose(out[1], D(x[4:8])[0], atol=1e-6)  # packed sample j = samples 4j .. 4j+3
    with pytest.raises(ValueError, match="divisible"):
        D(torch.randn(6, 2))


def test_pack_with_concat_labels_and_invalid_combinations() -> None:
    _, D = build(MNIST, conditioning="concat", pack=2)
    assert D.body[0].in_features == 2 * (784 + 10)
    assert D(torch.randn(N, 1, 28, 28), labels()).shape == (N // 2, 1)
    for conditioning in ("projection", "acgan"):
        with pytest.raises(ConfigError, match="pack"):
            build(MNIST, conditioning=conditioning, pack=2)


def test_minibatch_std_feature_before_last_hidden_layer() -> None:
    _, D = build(TOY, minibatch_std=True, minibatch_std_group=4)
    stds = [i for i, m in enumerate(D.body) if isinstance(m, MinibatchStdDev)]
    assert len(stds) == 1
    following = D.body[stds[0] + 1]
    assert isinstance(following, nn.Linear)
    assert following.in_features == 16 + 1
    assert following.out_features == 8
    # D now sees batch statistics: the score of sample 0 depends on the other samples in its group
    x = torch.randn(N, 2)
    y = x.clone()
    y[4] += 3.0  # same group as sample 0 (i mod N/G)
    assert not torch.allclose(D(x)[0], D(y)[0])


def test_minibatch_std_without_hidden_layers_and_with_pack() -> None:
    _, D = build(TOY, d_hidden=[], minibatch_std=True)
    assert D.out.in_features == 2 + 1
    assert D(torch.randn(N, 2)).shape == (N, 1)
    _, D = build(TOY, pack=2, minibatch_std=True, minibatch_std_group=2)
    assert D(torch.randn(N, 2)).shape == (N // 2, 1)


@pytest.mark.parametrize(("key", "value"), [
    ("conditioning", "film"), ("embedding", "random"), ("pack", 0), ("minibatch_std_group", 0), ("embed_dim", 0),
    ("g_hidden", [0]), ("z_dim", 0), ("g_activation", "swish"), ("g_output", "relu"), ("maxout_pieces", 0),
    ("d_activation", "max_out"),
])
def test_bad_options_are_one_line_errors(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key if key != "g_hidden" else "width"):
        build(MNIST, **{key: value})


@pytest.mark.parametrize("init", ["dcgan", "xavier"])
def test_init_runs_before_spectral_norm(init: str) -> None:
    _G, D = build(MNIST, conditioning="projection", spectral_norm=True, init=init)
    assert D(torch.randn(N, 1, 28, 28), labels()).shape == (N, 1)


def _batch(G: MLPGenerator, spec: DataSpec) -> Batch:
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(N, *spec.shape) * 2 - 1
    return Batch(real=real, z=G.sample_z(N, gen), labels=labels(), fake_labels=labels().flip(0), generator=gen)


@pytest.mark.parametrize(("conditioning", "objective"), [
    ("concat", WGANGPObjective()),  # conditional critic inside the gradient penalty (double backward)
    ("projection", HingeObjective(r1_weight=1.0)),
    ("acgan", ACGANObjective()),
])
def test_objectives_backprop_through_conditional_mlps(conditioning: str, objective: object) -> None:
    spec = DataSpec((1, 4, 4), num_classes=10)
    G, D = build(spec, conditioning=conditioning, spectral_norm=conditioning == "projection", g_output="tanh")
    batch = _batch(G, spec)
    objective.d_loss(G, D, batch).total.backward()
    assert all(p.grad is not None for p in D.parameters())
    G.zero_grad()
    objective.g_loss(G, D, batch).total.backward()
    assert all(p.grad is not None for p in G.parameters())


# ---- maxout (Goodfellow et al. 2013; PacGAN's 2-D discriminator) ---------------------------------------------------


def test_maxout_layer_is_the_max_over_consecutive_pieces() -> None:
    x = torch.randn(5, 12)
    out = Maxout(3)(x)
    assert out.shape == (5, 4)
    for j in range(4):  # unit j = max of features 3j, 3j+1, 3j+2 (Blocks' LinearMaxout layout)
        assert torch.equal(out[:, j], torch.maximum(torch.maximum(x[:, 3 * j], x[:, 3 * j + 1]), x[:, 3 * j + 2]))
    assert Maxout(2)(torch.randn(2, 6, 3, 3)).shape == (2, 3, 3, 3)  # channels of images too
    assert torch.equal(Maxout(1)(x), x)
    with pytest.raises(ValueError, match="divisible"):
        Maxout(5)(x)
    with pytest.raises(ValueError, match="pieces >= 1"):
        Maxout(0)


def test_maxout_discriminator_has_pacgan_shapes_and_parameter_count() -> None:
    """PacGAN's 2-D D: 3 x 200 maxout units of 5 pieces on 2·K inputs; parameters (2K+1)·1000 + 2·201,000 + 201."""
    for k in (1, 2, 4):
        _, D = build(TOY, d_hidden=[200, 200, 200], d_activation="maxout", maxout_pieces=5, pack=k)
        linears = [m for m in D.body if isinstance(m, nn.Linear)]
        assert [(m.in_features, m.out_features) for m in linears] == [(2 * k, 1000), (200, 1000), (200, 1000)]
        assert [m.pieces for m in D.body if isinstance(m, Maxout)] == [5, 5, 5]
        assert not any(isinstance(m, (nn.LeakyReLU, nn.BatchNorm1d)) for m in D.body)
        assert sum(p.numel() for p in D.parameters()) == (2 * k + 1) * 1000 + 2 * 201_000 + 201
        assert D(torch.randn(4 * k, 2)).shape == (4, 1)


def test_maxout_discriminator_matches_a_hand_written_forward() -> None:
    _, D = build(TOY, d_hidden=[3, 2], d_activation="maxout", maxout_pieces=2)
    x = torch.randn(N, 2)
    h = x
    for lin in [m for m in D.body if isinstance(m, nn.Linear)]:
        y = h @ lin.weight.T + lin.bias
        h = y.view(N, -1, 2).max(dim=2).values
    assert torch.allclose(D(x), D.out(h), atol=1e-6)


def test_maxout_generator_with_batchnorm_and_dropout_in_d() -> None:
    G, D = build(TOY, g_activation="maxout", g_batchnorm=True, maxout_pieces=3, d_activation="maxout", d_dropout=0.5)
    assert isinstance(G.body[1], nn.BatchNorm1d)
    assert G.body[1].num_features == 16 * 3  # normalised before the max
    assert isinstance(G.body[2], Maxout)
    assert [type(m) for m in D.body[:3]] == [nn.Linear, Maxout, nn.Dropout]
    assert G(G.sample_z(N)).shape == (N, 2)
    _, D = build(TOY, d_activation="maxout", minibatch_std=True)
    assert D(torch.randn(N, 2)).shape == (N, 1)


def test_maxout_pieces_leave_other_activations_alone() -> None:
    """``maxout_pieces`` only shapes maxout layers: the default D is unchanged, parameter for parameter."""
    torch.manual_seed(0)
    _, plain = build(TOY)
    torch.manual_seed(0)
    _, with_pieces = build(TOY, maxout_pieces=7)
    assert [type(m) for m in plain.body] == [type(m) for m in with_pieces.body]
    for a, b in zip(plain.state_dict().values(), with_pieces.state_dict().values(), strict=True):
        assert torch.equal(a, b)
