"""Class-conditional and self-conditioned StyleGAN2 (models/stylegan2.py): the mapping network's c embedding and the
D's projection onto cmap against NVlabs' formulas, the self-conditioned G's cluster drawn from its latent (the code
of models/selfcond.py), unconditional to every sampler, D given the fake's cluster and the real's cluster id in
training, exact resume, and the options off = the unconditional networks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import resolve_config
from ganforge.data.base import DataSpec
from ganforge.data.images import MNIST
from ganforge.data.mnist32 import MNIST32
from ganforge.models.base import Sampler, conditioning_dim
from ganforge.models.selfcond import cluster_of
from ganforge.models.stylegan2 import StyleGAN2Config, lrelu, normalize_2nd_moment
from ganforge.training.run import Run
from helpers import assert_same_models, train_straight_and_resumed

TINY = dict(z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8)
PRIOR = (0.5, 0.3, 0.2)
SPEC = DataSpec((1, 8, 8), num_classes=3, class_prior=PRIOR)
# the preset shrunk: 300 digits in 3 k-means clusters, 4-8 feature maps
RUN = ["data.options.limit=300", "data.options.clusters=3", "data.options.cluster_dim=5",
       "model.options.self_conditioning=true", "model.options.z_dim=4", "model.options.w_dim=4",
       "model.options.channel_base=32", "model.options.channel_max=4", "objective.options.r1_every=2",
       "objective.options.style_mixing=0.5", "objective.options.pl_weight=2", "objective.options.pl_every=2",
       "train.batch_size=4", "train.checkpoint_every=2", "log.every=2", "log.sample_every=0", "log.eval_every=0",
       "log.eval_samples=200", "log.tensorboard=False", "log.progress=False"]


def build(**opts: object) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return StyleGAN2Config(**{**TINY, **opts}).build(SPEC)


def test_off_by_default_builds_the_unconditional_networks() -> None:
    """No option on: the same parameters drawn in the same order as a spec without classes (the class prior is
    ignored), so the existing presets' weights do not move; neither net takes labels."""
    plain, labelled = build(), StyleGAN2Config(**TINY)
    torch.manual_seed(0)
    other = labelled.build(DataSpec((1, 8, 8)))
    for net in ("G", "D"):
        a, b = plain[net].state_dict(), other[net].state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert conditioning_dim(plain[net]) == 0
    assert plain["G"].mapping.embed is None
    assert plain["D"].mapping is None
    assert plain["G"].latent_labels(torch.randn(2, 8)) is None


def test_conditional_mapping_is_nvlabs_embed_normalise_concat() -> None:
    """w = FCs([norm(z), norm(embed(onehot(c)))]) (NVlabs MappingNetwork with c_dim; embed lr multiplier 1)."""
    G = build(conditional=True)["G"]
    assert G.c_dim == 3
    assert G.z_dim == 8
    m = G.mapping
    assert m.embed.lr_multiplier == 1.0
    assert m.fcs[0].in_features == 8 + 8
    z, c = torch.randn(5, 8, dtype=torch.float64), torch.tensor([0, 1, 2, 1, 0])
    m = m.double()
    y = F.one_hot(c, 3).double() @ (m.embed.weight * m.embed.scale).t() + m.embed.bias
    x = torch.cat([z / z.square().mean(1, keepdim=True).add(1e-8).sqrt(),
                   y / y.square().mean(1, keepdim=True).add(1e-8).sqrt()], dim=1)
    for fc in m.fcs:
        x = F.leaky_relu(x @ (fc.weight * fc.scale).t() + fc.bias * fc.lr_multiplier, 0.2) * math.sqrt(2)
    # float64, two orderings of the same few dozen products: differences ~1e-15 relative
    torch.testing.assert_close(m(z, c=c), x, rtol=1e-12, atol=1e-12)
    w0, w1 = m(z, c=torch.zeros(5, dtype=torch.long)), m(z, c=torch.ones(5, dtype=torch.long))
    assert (w0 - w1).abs().max() > 1e-3  # the class moves w
    with pytest.raises(ValueError, match="needs the class"):
        m(z)


def test_conditional_d_projects_onto_cmap() -> None:
    """D(x, c) = (φ(x) · cmap(c)).sum / √cmap_dim, cmap = a mapping network of c alone (NVlabs'
    DiscriminatorEpilogue with cmap_dim = the 4×4 feature maps)."""
    D = build(conditional=True)["D"].double()
    assert conditioning_dim(D) == 3
    assert D.cmap_dim == 8
    assert D.out.out_features == 8
    assert D.mapping.fcs[0].in_features == 8  # z_dim 0 + the embedding
    x, c = torch.randn(4, 1, 8, 8, dtype=torch.float64), torch.tensor([2, 0, 1, 2])
    h = D.blocks(lrelu(D.fromrgb(x)))
    from ganforge.models.stylegan2 import minibatch_stddev
    h = D.out(lrelu(D.fc(lrelu(D.conv(minibatch_stddev(h, D.mbstd_group, D.mbstd_channels))).flatten(1))))
    cmap = normalize_2nd_moment(D.mapping.embed(F.one_hot(c, 3).double()))
    for fc in D.mapping.fcs:
        cmap = lrelu(fc(cmap))
    expected = (h * cmap).sum(1, keepdim=True) / math.sqrt(8)
    # float64, the same layers and a reordered sum: ~1e-15 relative
    torch.testing.assert_close(D(x, c), expected, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(D(x, c), D(x, (c + 1) % 3))
    with pytest.raises(ValueError, match="needs the class"):
        D(x)


def test_self_conditioned_g_draws_its_cluster_from_the_latent() -> None:
    nets = build(self_conditioning=True)
    G, D = nets["G"], nets["D"]
    assert conditioning_dim(G) == 0
    assert conditioning_dim(D) == 3
    assert G.z_dim == 9
    torch.testing.assert_close(G.cdf, torch.tensor([0.5, 0.8, 1.0], dtype=torch.float64), rtol=0, atol=1e-15)
    z = G.sample_z(2000, torch.Generator().manual_seed(0))
    k = G.latent_labels(z)
    assert torch.equal(k, cluster_of(z[:, -1], G.cdf))  # models.selfcond's inverse CDF, shared
    for share, p in zip((torch.bincount(k, minlength=3).double() / 2000).tolist(), PRIOR, strict=True):
        assert abs(share - p) < 5 * math.sqrt(p * (1 - p) / 2000)  # 5 binomial standard deviations
    z = z[:6]
    k = k[:6]
    # styles(z) = mapping(z without u, k(u)): the same calls, so the same numbers
    assert torch.equal(G.styles(z), G.mapping(z[:, :-1], c=k)[:, None].expand(-1, G.num_ws, -1))
    assert torch.equal(G.styles(z, c=(k + 1) % 3)[:, 0], G.mapping(z[:, :-1], c=(k + 1) % 3))
    # u alone changes the image only through the cluster: same k, same image
    z2 = z.clone()
    z2[:, -1] = torch.where(k == 0, -3.0, torch.where(k == 1, 0.3, 3.0))  # Φ⁻¹ inside each share
    assert torch.equal(G.latent_labels(z2), k)
    family = StyleGAN2Config(**TINY, self_conditioning=True)
    assert torch.equal(family.generate(nets, z), family.generate(nets, z2))
    # the unconditional sampling contract: the Sampler draws z_dim + 1 plain normals; ψ in W still works
    sampler = Sampler(family, {"G": G}, truncation=0.5)
    assert sampler.sample_z(3, torch.Generator().manual_seed(1)).shape == (3, 9)
    mean_img = family.generate(nets, z, truncation=0.0)
    torch.testing.assert_close(mean_img, mean_img[:1].expand_as(mean_img))


def test_bad_options_one_line() -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        StyleGAN2Config(**TINY, conditional=True, self_conditioning=True)
    with pytest.raises(ValueError, match="clusters"):
        StyleGAN2Config(**TINY, self_conditioning=True).build(DataSpec((1, 8, 8)))


def test_class_conditional_styles_need_a_class() -> None:
    """style-grid and interpolate ask for label-free styles: a class-conditional G says what to do instead."""
    G = build(conditional=True)["G"]
    z = torch.randn(2, TINY["z_dim"])
    assert G.styles(z, c=torch.tensor([0, 2])).shape == (2, G.num_ws, TINY["w_dim"])
    with pytest.raises(ValueError, match=r"sample --label.*self_conditioning=true"):
        G.styles(z)


def test_mnist32_cluster_ids_are_mnists() -> None:
    padded = MNIST32(limit=200, clusters=4, cluster_dim=5).load("train")
    plain = MNIST(limit=200, clusters=4, cluster_dim=5).load("train")
    assert padded.num_classes == 4
    assert torch.equal(padded.y, plain.y)  # the 2 px of zeros do not move the k-means ids
    assert MNIST32(limit=20).load("train").num_classes == 10


def test_d_sees_the_fake_cluster_and_the_real_cluster_id(tmp_path: Path) -> None:
    """Every D call in training gets labels: the fakes' are G.latent_labels(z) of the batch's z, the reals' the
    batch's cluster ids (in [0, 3)); R1 (D_reg) too."""
    cfg = resolve_config("stylegan2-mnist", [*RUN, "train.steps=2"])
    run = Run(cfg, tmp_path / "run")
    D = run.trainer.nets["D"]
    seen: list[torch.Tensor] = []
    D.register_forward_pre_hook(lambda _m, args: seen.append(args[1]))  # a missing c would fail the call itself
    batches = []
    obj = run.trainer.objective
    make = obj.make_batch

    def spy(draw, nets, phase, step):
        b = make(draw, nets, phase, step)
        batches.append(b)
        return b

    obj.make_batch = spy  # type: ignore[method-assign]
    while run.trainer.step < 2:
        run.trainer.train_step()
    assert len(seen) >= 5  # D: fake + real, D_reg: real, G: fake, …
    for b in batches:
        assert torch.equal(b.fake_labels, run.trainer.nets["G"].latent_labels(b.z))
        if b.labels is not None:
            assert b.labels.max() < 3
    assert all(c.dtype == torch.long and c.max() < 3 for c in seen)


def test_self_conditioned_preset_resumes_exactly(tmp_path: Path) -> None:
    args = [x for s in RUN for x in ("--set", s)]
    a, b = train_straight_and_resumed("stylegan2-mnist", args, steps=4, first=2, root=tmp_path)
    assert_same_models(a, b)
