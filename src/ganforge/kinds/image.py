"""Data kind "image": in-memory uint8 images (MNIST, CIFAR, folders, .npz). Samples: a fixed-z grid per step (one
row per class for a conditional G), ``final.png`` and ``progress.gif``. Evaluation in training: MNIST-like images only
(``uint8 [N, 1, 28, 28]``, ``is_digit_data``); every other image set is judged by ``ganforge eval`` (FID/KID/PR).

The digit protocol: the shipped ``mnist-classifier`` judges ``N_DIGITS`` generated digits (``log.eval_samples``) ->
``confident_percent`` (% with top class probability >= ``CONFIDENCE``) and ``class_entropy`` (normalised entropy of
the predicted-class histogram; 1.0 = all ten digits equally often), ``pixel_std`` (how much the images vary over z:
``pixel_std`` below; 0.193 for the MNIST training digits) and ``fid`` on the classifier's features. About 2 M
multiply-adds per digit, so the classifier adds ~1 s on one CPU core; sampling G dominates. Confident % and entropy
alone cannot tell collapsed from not-yet-digits (random-weight blobs can score > 50 % confident), so the FID and the
pixel std stand beside them in every record.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ganforge.config import RunConfig
from ganforge.data.base import TensorData, to_uint8
from ganforge.data.mnist32 import unpad
from ganforge.kinds.base import SAMPLE_SEED_OFFSET, DataKind
from ganforge.models.base import conditioning_dim, output_range
from ganforge.registry import RUN_HOOKS
from ganforge.sampling import EVAL_SEED_OFFSET, LATENT_CHUNK, generate_samples, iter_labelled_samples

N_DIGITS = 10_000  # generated digits judged by the mnist-classifier (the protocol)
CONFIDENCE = 0.9  # a digit is "confident" when its top softmax probability is >= this
DIGIT_SHAPE = (1, 28, 28)


def pixel_std(images: Tensor) -> float:
    """Mean over pixels of the per-pixel standard deviation over samples, images in [0, 1]:

        pixel_std = (1 / P) Σ_p sqrt( (1 / N) Σ_n (x_np − x̄_p)² ),   x = uint8 / 255, ``images [N, C, H, W]``.

    0 for a generator that ignores z (one image repeated); 0.193 for the 60,000 MNIST training digits. Float64 so
    that a large N does not lose precision in the sums."""
    return PixelMoments().add(images).std()


class PixelMoments:
    """Streaming Σx and Σx² per pixel (float64), for ``pixel_std`` over chunks of uint8 images."""

    def __init__(self) -> None:
        self.n, self.s1, self.s2 = 0, None, None

    def add(self, images: Tensor) -> PixelMoments:
        x = images.detach().cpu().double().flatten(1) / 255.0  # [m, P] in [0, 1]
        s1, s2 = x.sum(0), x.square().sum(0)
        self.s1 = s1 if self.s1 is None else self.s1 + s1
        self.s2 = s2 if self.s2 is None else self.s2 + s2
        self.n += x.shape[0]
        return self

    def std(self) -> float:
        if not self.n:
            raise ValueError("pixel_std needs at least one image")
        mean = self.s1 / self.n  # [P]
        var = (self.s2 / self.n - mean.square()).clamp_min(0.0)  # E[x²] − E[x]², clamped against rounding
        return float(var.sqrt().mean())


def is_digit_data(data: Any) -> bool:
    """True for image data shaped like MNIST (``uint8 [N, 1, 28, 28]``), which the mnist-classifier can judge."""
    return isinstance(data, TensorData) and data.is_image and tuple(data.shape) == DIGIT_SHAPE


@functools.lru_cache(maxsize=2)
def _digit_classifier(device: str) -> nn.Module:
    """The shipped classifier, loaded once per process and device (it is frozen and in eval mode)."""
    from ganforge.metrics.classifier import load_mnist_classifier

    return load_mnist_classifier(device=device)


def evaluate_digits(G: nn.Module, seed: int, device: torch.device, n: int | None = None,
                    classifier: nn.Module | None = None, batch_size: int = 1000,
                    reference: TensorData | Tensor | None = None, labels: Tensor | None = None) -> dict[str, float]:
    """The digit protocol on ``n`` (default ``N_DIGITS``) samples of G (the ``n`` samples of seed ``seed``), judged
    by ``classifier`` (default: the shipped mnist-classifier on ``device``): ``judge_digits`` of G's images. The one
    judge of generated digits: in training (this kind, ``kinds.pyramid``) and in ``bench/image_quality.py``.

    ``labels`` (conditional G): the ``[n]`` labels to draw (the bench asks n/K of every class, and gets the label
    accuracy); without them a conditional G draws uniformly random labels, so the class balance is G's own.
    ``reference`` (the training digits, ``uint8 [M, 1, S, S]`` or their ``TensorData``): also ``fid`` against its
    first ``n`` digits — a cheap in-training FID (``ganforge eval`` gives the Inception one); ``log.best=min:fid``
    keeps the best checkpoint by it. 32×32 digits (mnist32's 2-px padding: PGGAN, LAPGAN, StyleGAN2) are judged on
    their centre 28×28 (``unpad``), real and generated alike.

    G's output is mapped to uint8 with G's output range ((-1, 1) for tanh, (0, 1) for sigmoid), exactly as a saved
    image would be, and judged in chunks of ``batch_size`` so memory stays O(batch).
    """
    n = N_DIGITS if n is None else n
    if n < 1:
        raise ValueError(f"evaluate_digits needs n >= 1 samples, got {n}")
    model = classifier if classifier is not None else _digit_classifier(str(device))
    out_range = output_range(G)
    real = None
    if reference is not None:
        real = reference_statistics(model, reference.x if isinstance(reference, TensorData) else reference, n,
                                     batch_size)
    with torch.no_grad():
        chunks = ((to_uint8(x, out_range), c if labels is not None else None)  # uint8 [m, 1, S, S], labels [m]
                  for x, c in iter_labelled_samples(G, n, seed, device, labels=labels, batch_size=batch_size))
        return judge_digits(chunks, model, real, batch_size)


def judge_digits(chunks: Iterable[tuple[Tensor, Tensor | None]], classifier: nn.Module,
                 reference: tuple[Any, Any] | None = None, batch_size: int = 1000) -> dict[str, float]:
    """The digit protocol on uint8 digits streamed as ``(images [m, 1, S, S], labels [m] or None)`` chunks (S = 28,
    or 32 for mnist32's padded digits: ``unpad`` keeps the centre 28×28 the classifier reads):

        confident_percent = 100 · (1/N) Σ_i 1[max_j p(j | x_i) ≥ CONFIDENCE]
        class_entropy     = −Σ_k q_k log q_k / log 10, q_k = share of argmax class k (1 = all ten equally often)
        pixel_std         = ``pixel_std`` of the N images
        fid               = Fréchet distance of the classifier's 128-d features vs ``reference`` = (mu, sigma) of the
                            real digits' features (``reference_statistics``), when given
        label_accuracy_percent = 100 · (1/N) Σ_i 1[argmax_j p(j | x_i) = y_i], when the chunks carry labels.

    One classifier pass per chunk serves them all (``batch_size`` images at a time)."""
    from ganforge.metrics.classifier import classify, digit_quality, features

    probs, feats, drawn, moments = [], [], [], PixelMoments()
    for images, labels in chunks:
        images = unpad(images.cpu())  # uint8 [m, 1, 28, 28]
        probs.append(classify(classifier, images, batch_size))  # [m, 10]
        moments.add(images)
        if reference is not None:
            feats.append(features(classifier, images, batch_size))  # [m, 128]
        if labels is not None:
            drawn.append(labels.cpu())
    p = torch.cat(probs)
    quality = digit_quality(p, CONFIDENCE)
    # + 0.0 turns the -0.0 of a single-class histogram into 0.0
    out = {"confident_percent": 100.0 * quality["confident"], "class_entropy": quality["entropy"] + 0.0,
           "pixel_std": moments.std()}
    if reference is not None:
        from ganforge.metrics.fid import feature_statistics, frechet_distance

        mu, sigma = feature_statistics(torch.cat(feats).double().numpy())
        out["fid"] = frechet_distance(mu, sigma, *reference)
    if drawn:
        out["label_accuracy_percent"] = 100.0 * float((p.argmax(1) == torch.cat(drawn)).double().mean())
    return out


_REFERENCE_CACHE: dict[tuple[int, int, int], tuple[Any, Any]] = {}


def reference_statistics(model: nn.Module, x: Tensor, n: int, batch_size: int = 1000) -> tuple[Any, Any]:
    """(mu, sigma) of classifier features of the first ``n`` digits ``x`` (``uint8 [M, 1, S, S]``, centre 28×28),
    computed once per run (keyed by the tensor, the classifier and n)."""
    from ganforge.metrics.classifier import features
    from ganforge.metrics.fid import feature_statistics

    key = (id(x), id(model), n)
    if key not in _REFERENCE_CACHE:
        real = unpad(x[:n].cpu())  # uint8 [n, 1, 28, 28]
        _REFERENCE_CACHE[key] = feature_statistics(features(model, real, batch_size).double().numpy())
    return _REFERENCE_CACHE[key]


def digit_protocol(n_digits: int | None = None) -> dict[str, Any]:
    """What ``evaluate_digits`` computes (sample count, seed offset, batch size, classifier and its sha256), for an
    ``eval/*.json`` record's ``protocol``; the run adds its own fields (dataset, step, generator, seed)."""
    from ganforge.metrics.classifier import DEFAULT_WEIGHTS, weights_sha256

    return {
        "metrics": "digit_quality",
        "n_fake": N_DIGITS if n_digits is None else n_digits,
        "seed_offset": EVAL_SEED_OFFSET,
        "batch_size": 1000, "latent_chunk": LATENT_CHUNK,  # generate_samples / evaluate_digits defaults
        "classifier": "mnist-classifier",
        "classifier_sha256": weights_sha256(DEFAULT_WEIGHTS),
        "confidence_threshold": CONFIDENCE,
        "class_entropy": "normalised entropy of the argmax-class histogram over 10 classes (1 = uniform)",
        "pixel_std": "mean over pixels of the per-pixel std over the n_fake samples, images in [0, 1] "
                     "(MNIST train: 0.193)",
        "image_conversion": "to_uint8(G(z), G.output_range)",
        "fid": "Fréchet distance of 128-d mnist-classifier features, n_fake generated vs the first n_fake digits "
               "of the training data (not comparable with Inception FID)",
    }


@RUN_HOOKS.register("image")
class ImageKind(DataKind):
    """Images: a fixed-z grid (one row per class for conditional G), final.png and progress.gif at the end; the
    digit protocol for MNIST-like images (``LogConfig.eval_samples`` samples), nothing in training otherwise."""

    def evaluate(self, G: nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        if not is_digit_data(data):
            return {}
        return evaluate_digits(G, cfg.train.seed + EVAL_SEED_OFFSET, device, n=cfg.log.eval_samples, reference=data)

    def eval_protocol(self, data: Any, cfg: RunConfig) -> dict[str, Any]:
        return digit_protocol(cfg.log.eval_samples) if is_digit_data(data) else super().eval_protocol(data, cfg)

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        from ganforge.viz.images import save_gif, save_grid

        n, labels, nrow = cfg.log.n_samples, None, None
        if conditioning_dim(G):  # conditional: one row per class
            nrow = max(1, n // G.c_dim)
            labels = torch.arange(G.c_dim).repeat_interleave(nrow)
            n = len(labels)
        fake = generate_samples(G, n, cfg.train.seed + SAMPLE_SEED_OFFSET, device, labels=labels)
        images = to_uint8(fake, output_range(G)).cpu()
        save_grid(images, run_dir / "samples" / f"step-{step:07d}.png", nrow=nrow)
        if final:
            save_grid(images, run_dir / "samples" / "final.png", nrow=nrow)
            frames = sorted((run_dir / "samples").glob("step-*.png"))
            if frames:
                from PIL import Image

                save_gif([np.asarray(Image.open(f)) for f in frames], run_dir / "samples" / "progress.gif")
