"""Capabilities are declared with defaults (``ModelFamily``, ``Generator``/``Discriminator``, ``Objective``), never
probed with ``getattr(net, name, default)``: a plain z -> x family gets the defaults, the families that have a
capability say so, and ``Objective.check`` reads only declarations."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.losses.gan_objectives import ACGANObjective, WGANGPObjective
from ganforge.losses.objectives import LogisticObjective, Settings
from ganforge.models.base import (
    Discriminator,
    Generator,
    ModelFamily,
    Sampler,
    conditioning_dim,
    output_range,
)
from ganforge.models.dcgan import DCGANConfig
from ganforge.registry import MODELS


class PlainG(Generator):
    z_dim = 3

    def forward(self, z: Tensor) -> Tensor:
        return z


@dataclass
class PlainFamily(ModelFamily):
    width: int = 4

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        return {"G": PlainG(), "D": Discriminator()}


def test_a_plain_family_gets_every_default() -> None:
    family, nets = PlainFamily(), {"G": PlainG()}
    assert (family.truncation_space, family.interpolation_space) == ("z", "z")
    assert (family.style_mixing, family.translates, family.packing()) == (False, False, 1)
    assert (family.label_classes(nets), family.output_range(nets)) == (0, None)
    z = torch.randn(2, 3)
    assert family.encode_latent(nets, z) is z  # z is the interpolation space
    assert torch.equal(family.decode_latent(nets, z), z)  # = generate(z)
    assert family.style_ranges(nets["G"]) == {}
    assert family.setting("width") == "model.options.width=4"
    assert family.setting("d_norm") is None
    with pytest.raises(ValueError, match="translates nothing"):
        family.translation_input(nets, None)  # type: ignore[arg-type]


def test_networks_declare_labels_and_range_and_other_modules_have_none() -> None:
    G, D = PlainG(), Discriminator()
    assert (conditioning_dim(G), output_range(G), conditioning_dim(D)) == (0, None, 0)
    assert (D.conditioning, D.aux_classes) == ("none", 0)
    G.c_dim, G.output_range = 5, (-1.0, 1.0)
    assert (conditioning_dim(G), output_range(G)) == (5, (-1.0, 1.0))
    assert (conditioning_dim(nn.Linear(2, 2)), output_range(nn.Linear(2, 2)), conditioning_dim(None)) == (0, None, 0)
    sampler = Sampler(PlainFamily(), {"G": G})
    assert (sampler.z_dim, sampler.c_dim, sampler.output_range, conditioning_dim(sampler)) == (3, 5, (-1.0, 1.0), 5)
    other = Sampler(PlainFamily(), {"G_AB": nn.Identity()})  # not a Generator: no z, no labels, unbounded
    assert (other.z_dim, other.c_dim, other.z_dist, other.output_range) == (0, 0, "normal", None)


def test_families_declare_what_they_have() -> None:
    assert (MODELS.get("stylegan2").style_mixing, MODELS.get("stylegan2").interpolation_space) == (True, "w")
    assert MODELS.get("stylegan2").truncation_space == "w"
    for name in ("pix2pix", "colorize", "cyclegan", "srgan", "stargan-v2"):
        assert MODELS.get(name).translates, name
    for name in ("dcgan", "mlp", "biggan", "sagan", "pggan", "lapgan", "bigan", "ctgan"):
        family = MODELS.get(name)
        assert (family.translates, family.style_mixing, family.interpolation_space) == (False, False, "z"), name
    assert DCGANConfig(pack=3).packing() == 3
    assert DCGANConfig().packing() == 1
    assert DCGANConfig().setting("conditioning") == "model.options.conditioning=none"


def test_objectives_declare_what_check_reads() -> None:
    assert not LogisticObjective.reads_class_logits
    assert ACGANObjective.reads_class_logits
    assert WGANGPObjective().penalises_sample_gradients
    assert not WGANGPObjective(gp_weight=0.0).penalises_sample_gradients
    assert not LogisticObjective().penalises_sample_gradients
    names = Settings(objective="objective.name=acgan", data="data.name=ring8",
                     conditioning="model.options.conditioning=none")
    spec, nets = DataSpec(shape=(2,), num_classes=0), {"G": PlainG(), "D": Discriminator()}
    LogisticObjective().check(spec, nets, names)  # compatible: nothing raised
    with pytest.raises(ValueError, match=r"objective.name=acgan needs a labelled dataset .* data.name=ring8 has 0"):
        ACGANObjective().check(spec, nets, names)
