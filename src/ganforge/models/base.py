"""The generator / discriminator contract every model family follows (the data spec it is built for: ``data.base``).

Networks are plain ``nn.Module``s: a generator maps ``z [N, z_dim]`` (and labels ``c [N]`` when ``c_dim > 0``) to a
sample; a discriminator maps a sample (and labels) to raw logits ``[N, 1]``. No loss, optimiser or logging lives here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec


class Generator(nn.Module):
    """Base class: subclasses set ``z_dim``, ``c_dim`` (0 = unconditional), ``output_range`` and ``forward``.
    A generator that draws no z (a translation network) keeps ``z_dim = 0``."""

    z_dim: int = 0
    c_dim: int = 0
    z_dist: str = "normal"  # "normal" N(0, I) or "uniform" U(-1, 1) (Goodfellow et al. 2014 used uniform noise)
    output_range: tuple[float, float] | None = None  # (-1, 1) for tanh, (0, 1) for sigmoid, None for unbounded

    def sample_z(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
        """Latent codes ``[n, z_dim]`` drawn from ``z_dist`` with an explicit RNG, so sampling is reproducible."""
        return sample_latent(n, self.z_dim, self.z_dist, generator, device)

    def latent_labels(self, z: Tensor) -> Tensor | None:
        """Labels ``int64 [N]`` an unconditional G reads from its own latent ``z`` (a self-conditioned G's cluster,
        ``models.selfcond``): a conditional D judges its samples with them. None: its samples have no label."""
        return None


class Discriminator(nn.Module):
    """Base class: ``forward(x, c=None) -> logits [N, 1]``. ``c_dim > 0`` means it takes labels; a conditional head
    (``layers.ConditionalHead``) also sets ``conditioning`` and ``aux_classes`` (K class logits after the real/fake
    one: AC-GAN's ``[N, 1 + K]``)."""

    c_dim: int = 0
    conditioning: str = "none"  # none | concat | projection | acgan
    aux_classes: int = 0


def conditioning_dim(net: nn.Module | None) -> int:
    """The number of classes ``net`` takes labels of (``c_dim``; 0: it takes none). Declared by ``Generator``,
    ``Discriminator`` and ``Sampler``; any other module (an encoder, a translation block) takes no labels."""
    return int(net.c_dim) if isinstance(net, (Generator, Discriminator, Sampler)) else 0


def output_range(net: nn.Module | None) -> tuple[float, float] | None:
    """``net``'s declared output range ((-1, 1) tanh, (0, 1) sigmoid), None when unbounded or not a generator."""
    return net.output_range if isinstance(net, (Generator, Sampler)) else None


def sample_latent(
    n: int, z_dim: int, dist: str, generator: torch.Generator | None, device: torch.device | str = "cpu"
) -> Tensor:
    """``[n, z_dim]`` latent codes from N(0, I) or U(-1, 1)."""
    if dist == "normal":
        return torch.randn(n, z_dim, generator=generator, device=device)
    if dist == "uniform":
        return torch.rand(n, z_dim, generator=generator, device=device) * 2 - 1
    raise ValueError(f"unknown latent distribution {dist!r}; choose from: normal, uniform")


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def init_weights(module: nn.Module, scheme: str) -> None:
    """Weight initialisation: "default" (PyTorch's), "dcgan" (N(0, 0.02), BN gamma N(1, 0.02); Radford et al. 2016),
    "xavier" (Glorot uniform, as Keras layers default to)."""
    if scheme == "default":
        return
    if scheme not in ("dcgan", "xavier"):
        raise ValueError(f"unknown weight init {scheme!r}; choose from: default, dcgan, xavier")
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            if scheme == "dcgan":
                nn.init.normal_(m.weight, 0.0, 0.02)
            else:
                nn.init.xavier_uniform_(m.weight)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine:
            if scheme == "dcgan":
                nn.init.normal_(m.weight, 1.0, 0.02)
            else:
                nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def check_conditioning(conditioning: str, spec: DataSpec) -> None:
    """One-line error when a conditional model is asked for on unlabelled data."""
    if conditioning != "none" and spec.num_classes < 2:
        raise ValueError(
            f"model.options.conditioning={conditioning!r} needs a labelled dataset (num_classes >= 2); "
            f"this one has {spec.num_classes} classes; set conditioning: none"
        )


def finish_models(G: nn.Module, D: nn.Module, init: str, g_spectral_norm: bool,
                  spectral_norm: bool) -> dict[str, nn.Module]:
    """Initialise both networks, then wrap in spectral norm (after init: afterwards .weight is a computed tensor)."""
    from ganforge.models.layers import apply_spectral_norm

    init_weights(G, init)
    init_weights(D, init)
    if g_spectral_norm:
        apply_spectral_norm(G)
    if spectral_norm:
        apply_spectral_norm(D)
    return {"G": G, "D": D}


# ---- the sampling contract ------------------------------------------------------------------------------------------


class ModelFamily:
    """Base of every model family's options dataclass (``@MODELS.register``): which networks it builds and how a
    trained family generates. ``sample``, ``interpolate``, ``eval`` and the training sample grids all go through
    ``generate`` (wrapped in a ``Sampler``), so a translation family can sample from ``inputs`` and a style-based one
    from truncated w without any command knowing.
    """

    networks: ClassVar[tuple[str, ...]] = ("G", "D")
    sampling_networks: ClassVar[tuple[str, ...]] = ("G",)  # what ``generate`` needs (loaded by ``load_run``)

    # ---- declared capabilities: what commands may ask of a trained family (defaults: a plain z -> x generator) ----
    # "z": ``Sampler`` truncates z (Brock et al.); "w": ``generate`` truncates inside G (StyleGAN's ψ), z is plain
    truncation_space: ClassVar[str] = "z"
    # "z": ``interpolate`` walks between latent codes z; "w": between ``encode_latent(z)`` codes, decoded by
    # ``decode_latent`` (a style-based G's intermediate latent space is smoother: Karras et al. 2019, §4)
    interpolation_space: ClassVar[str] = "z"
    style_mixing: ClassVar[bool] = False  # ``style_ranges`` names per-layer style slots (``ganforge style-grid``)
    translates: ClassVar[bool] = False  # ``translation_input``/``translate`` map input images (``ganforge translate``)

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        raise NotImplementedError

    def detection_defaults(self) -> dict[str, object]:
        """The anomaly-detection options (``metrics.anomaly.DetectOptions``: ``rec_error_type``, ``comb``,
        ``lambda_rec``) this family's runs are scored with by default; none here (``ganforge detect``'s own)."""
        return {}

    def setting(self, name: str) -> str | None:
        """``model.options.NAME=value`` for one of this family's options (what an error tells the user to change);
        None when the family has no such option."""
        names = {f.name for f in dataclasses.fields(self)} if dataclasses.is_dataclass(self) else set()
        return f"model.options.{name}={getattr(self, name)}" if name in names else None

    packing_option: ClassVar[str] = "pack"  # the option ``packing`` reads (named in the batch-size error)

    def packing(self) -> int:
        """PacGAN's m (Lin et al. 2018): D judges m samples at once, so the batch must be a multiple of it (1: none)."""
        return 1

    def label_classes(self, nets: dict[str, nn.Module]) -> int:
        """The classes the trained generator takes labels of (0 = unconditional)."""
        return conditioning_dim(_generator(nets))

    def output_range(self, nets: dict[str, nn.Module]) -> tuple[float, float] | None:
        """The generator's output range (None: unbounded), what its samples are mapped to uint8 / data units from."""
        return output_range(_generator(nets))

    def encode_latent(self, nets: dict[str, nn.Module], z: Tensor, truncation: float | None = None) -> Tensor:
        """z -> the code ``interpolate`` walks in (``interpolation_space``): z itself by default."""
        return z

    def decode_latent(self, nets: dict[str, nn.Module], w: Tensor) -> Tensor:
        """A code of ``interpolation_space`` -> samples; by default ``generate`` from z (unconditional)."""
        return self.generate(nets, w)

    @staticmethod
    def style_ranges(G: nn.Module) -> dict[str, list[int]]:
        """``style_mixing`` families: the w slots each named group of G's layers reads; none by default."""
        return {}

    def generate(self, nets: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None,
                 inputs: Tensor | None = None, truncation: float | None = None) -> Tensor:
        """Samples ``[N, *shape]`` from latent codes ``z [N, z_dim]`` (and labels ``[N]`` for a conditional G).

        The default is ``G(z)`` / ``G(z, labels)``; ``truncation`` is applied to z when it is drawn (``Sampler``).
        Families that translate (``inputs``) or truncate inside G (StyleGAN's w) override this."""
        if inputs is not None:
            raise ValueError(f"{type(self).__name__} generates from z, not from input samples; drop the inputs")
        G = nets["G"]
        return G(z, labels) if conditioning_dim(G) else G(z)


    # ---- translation (``ganforge translate``): families that map input images to output images override these ----

    def translation_input(self, nets: dict[str, nn.Module], request: TranslateRequest) -> tuple[int, ...]:
        """The ``(C, H, W)`` of the uint8 images ``translate`` takes for ``request`` (its direction / domain)."""
        raise ValueError(f"this run's model ({type(self).__name__}) generates from z and translates nothing; "
                         "`ganforge translate` needs a translation run (pix2pix, CycleGAN, StarGAN v2, SR, ...); "
                         "use `ganforge sample`")

    def translate(self, nets: dict[str, nn.Module], inputs: Tensor, request: TranslateRequest) -> Translation:
        """Translate uint8 images ``[N, C, H, W]`` (of ``translation_input``'s shape) as ``request`` asks.

        The family owns its ranges and colour spaces: uint8 in, uint8 out. Unsupported request fields (a domain for
        a two-domain model, ...) raise a one-line ``ValueError`` that names the flag to drop."""
        raise NotImplementedError


@dataclass
class TranslateRequest:
    """What ``ganforge translate`` asks of a translation family (fields it does not use must stay None)."""

    direction: str | None = None  # two-way families (CycleGAN): "AB" or "BA"; None = the family's default
    domain: int | None = None  # multi-domain families (StarGAN v2): target domain 0..K-1; None = every domain
    reference: Tensor | None = None  # uint8 [R, C, H, W] reference images (reference-guided synthesis)
    z_samples: int | None = None  # outputs per input from different latent codes (multimodal translation)
    seed: int = 0  # the RNG of any latent codes / dropout noise the translation draws


@dataclass
class Translation:
    """What a translation returns, all uint8 on the CPU.

    ``outputs [N, K, C, H', W']``: K outputs per input (K = 1 for a plain translation; domains, references or z
    samples otherwise), written one file each. ``columns``: the comparison grid, left to right, one row per input:
    ``(title, uint8 [N, C, H, W])`` (e.g. input | output | cycle reconstruction); sizes may differ (upscaling)."""

    outputs: Tensor
    columns: list[tuple[str, Tensor]] = field(default_factory=list)


class Sampler(nn.Module):
    """A trained family as one generator: ``sample_z`` draws latent codes (truncated when asked), ``forward(z, c)``
    calls the family's ``generate``. It has G's ``z_dim``, ``c_dim``, ``z_dist`` and ``output_range``, so every
    reader of a trained run (commands, evaluation, sample grids) treats all families alike."""

    def __init__(self, family: ModelFamily, nets: dict[str, nn.Module], truncation: float | None = None) -> None:
        super().__init__()
        self.family, self.nets = family, nn.ModuleDict(nets)
        G = _generator(nets)
        self.z_dim, self.c_dim = (int(G.z_dim), int(G.c_dim)) if G is not None else (0, 0)
        self.z_dist = G.z_dist if G is not None else "normal"
        self.output_range = family.output_range(nets)
        self.truncation: float | None = None
        self.set_truncation(truncation)

    def set_truncation(self, truncation: float | None) -> None:
        if self.family.truncation_space == "w":  # the family checks and applies ψ itself
            self.truncation = truncation
            return
        if truncation is not None and not (truncation > 0 and self.z_dist == "normal"):
            raise ValueError(f"truncation {truncation}: needs a positive threshold and a generator with normal z "
                             f"(this one draws {self.z_dist} z); drop --truncation")
        self.truncation = truncation

    def sample_z(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
        """``[n, z_dim]``; with ``truncation`` t, N(0, I) entries with |z| > t are redrawn until none is left (the
        truncation trick, Brock et al. 2019 §3.1)."""
        z = sample_latent(n, self.z_dim, self.z_dist, generator, device)
        if self.truncation is not None and self.family.truncation_space == "z":
            for _ in range(1000):  # P(|z| > t) < 1 for t > 0: terminates; the cap only guards against t ≈ 0
                bad = z.abs() > self.truncation
                if not bool(bad.any()):
                    break
                z = torch.where(bad, sample_latent(n, self.z_dim, "normal", generator, device), z)
        return z

    def forward(self, z: Tensor, c: Tensor | None = None, inputs: Tensor | None = None) -> Tensor:
        return self.family.generate(dict(self.nets.items()), z, labels=c, inputs=inputs, truncation=self.truncation)


def _generator(nets: dict[str, nn.Module]) -> Generator | None:
    """The family's generator among its sampling networks ("G", else the first), when it is a ``Generator``."""
    G = nets["G"] if "G" in nets else next(iter(nets.values()))
    return G if isinstance(G, Generator) else None
