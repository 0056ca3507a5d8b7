"""Evaluating a generator: sample it with a private RNG and compute the metrics that fit its data.

Used by the trainer (periodic and final evaluation) and by the ``sample`` / ``eval`` commands. Two protocols run
here because they are cheap enough for every training run:

- analytic toy targets (ring of Gaussians, 1-D densities): ``metrics.toy.evaluate_toy`` on ``N_EVAL`` samples;
- MNIST-like images (``uint8 [N, 1, 28, 28]``): the shipped ``mnist-classifier`` judges ``N_DIGITS`` generated
  digits -> ``confident_percent`` (% with top class probability >= ``CONFIDENCE``) and ``class_entropy``
  (normalised entropy of the predicted-class histogram; 1.0 = all ten digits equally often), and ``pixel_std``
  (how much the images vary over z: ``pixel_std`` below; 0.193 for the MNIST training digits). About 2 M
  multiply-adds per digit, so the classifier adds ~1 s on one CPU core; sampling G dominates. Confident % and
  entropy alone cannot tell collapsed from not-yet-digits (random-weight blobs can score > 50 % confident), so the
  FID and the pixel std stand beside them in every record.

``eval_protocol(data)`` describes what ``evaluate_generator`` computes for ``data`` (sample count, seed offset,
batch size, classifier and its sha256), for ``eval/*.json`` records. FID/KID/PR stay in ``ganforge eval``.

Every sample drawn here is one of "the n samples of seed S" (``iter_latents`` / ``iter_labelled_samples``): latent
codes and random labels are drawn in fixed chunks of ``LATENT_CHUNK`` from a private generator, so they do not depend
on any batch size, and ``ganforge sample --seed S`` / ``ganforge eval --seed S`` see the same images.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.data.base import TensorData, to_uint8
from ganforge.data.toy import Distribution
from ganforge.metrics.toy import N_EVAL, evaluate_toy

EVAL_SEED_OFFSET = 2_000_003  # evaluations use their own RNG: they never touch training state
N_DIGITS = 10_000  # generated digits judged by the mnist-classifier (the protocol)
CONFIDENCE = 0.9  # a digit is "confident" when its top softmax probability is >= this
DIGIT_SHAPE = (1, 28, 28)
LATENT_CHUNK = 1000  # latents (and random labels) are drawn this many samples at a time, whatever the batch size


def iter_latents(G: nn.Module, n: int, seed: int, device: torch.device, labels: Tensor | None = None
                 ) -> Iterator[tuple[Tensor, Tensor | None]]:
    """The inputs of "the ``n`` samples of seed ``seed``": ``(z [m, z_dim], c [m] or None)`` chunks of
    ``m = LATENT_CHUNK`` samples (the last one shorter), drawn in order from one ``torch.Generator`` seeded with
    ``seed``: per chunk ``G.sample_z(m)`` then, for a conditional G without ``labels``, ``randint(c_dim, (m,))``.

    The chunk size is fixed, so the draws never depend on a batch size: torch's CPU ``randn`` fills its output in
    Box-Muller blocks of 16 and redraws the last block of a call whose size is not a multiple of 16, so
    ``randn(a)`` then ``randn(b)`` equals ``randn(a + b)`` only when ``a`` and ``b`` are multiples of 16 (e.g.
    250 x 100-d codes give other numbers than 1000 x 100-d; checked with torch 2.13 on CPU). 1000 is the batch size
    every in-training caller used before, so the in-training evaluations and sample grids draw exactly what they
    drew before. Memory stays O(LATENT_CHUNK) whatever ``n``.
    """
    rng = torch.Generator(device=device)
    rng.manual_seed(seed)
    c_dim = int(getattr(G, "c_dim", 0) or 0)
    for start in range(0, n, LATENT_CHUNK):
        m = min(LATENT_CHUNK, n - start)
        z = G.sample_z(m, rng, device)  # [m, z_dim]
        c = None
        if c_dim:  # given labels, else uniformly random ones: the class balance is G's own
            c = labels[start : start + m].to(device) if labels is not None else torch.randint(
                c_dim, (m,), generator=rng, device=device)
        yield z, c


def iter_labelled_samples(G: nn.Module, n: int, seed: int, device: torch.device, labels: Tensor | None = None,
                          batch_size: int = 1000) -> Iterator[tuple[Tensor, Tensor | None]]:
    """The ``n`` samples of seed ``seed`` (``iter_latents``) through G in eval mode, in batches of ``batch_size``:
    ``(samples [<= batch_size, *shape] float32, labels [<= batch_size] or None)``. The one definition of a seed's
    samples shared by ``ganforge sample``, ``ganforge eval``, the in-training evaluation and the sample grids:
    the batches concatenate to the same samples for any ``batch_size`` (up to the float rounding of G's layers on
    other batch shapes), and memory stays O(batch_size + LATENT_CHUNK) for any ``n``. G's mode is restored."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was_training = G.training
    G.eval()
    c_dim = int(getattr(G, "c_dim", 0) or 0)

    def run(z: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor | None]:
        with torch.no_grad():  # not held across a yield: the caller's grad mode stays its own
            return (G(z, c) if c_dim else G(z)).float(), c

    try:
        zs: list[Tensor] = []
        cs: list[Tensor] = []
        have = 0
        for z, c in iter_latents(G, n, seed, device, labels):
            zs.append(z)
            if c is not None:
                cs.append(c)
            have += z.shape[0]
            while have >= batch_size:
                z_all = zs[0] if len(zs) == 1 else torch.cat(zs)
                c_all = (cs[0] if len(cs) == 1 else torch.cat(cs)) if cs else None
                yield run(z_all[:batch_size], c_all[:batch_size] if c_all is not None else None)
                have -= batch_size
                zs = [z_all[batch_size:]] if have else []
                cs = [c_all[batch_size:]] if have and c_all is not None else []
        if have:
            yield run(torch.cat(zs), torch.cat(cs) if cs else None)
    finally:
        G.train(was_training)


def iter_samples(G: nn.Module, n: int, seed: int, device: torch.device, labels: Tensor | None = None,
                 batch_size: int = 1000) -> Iterator[Tensor]:
    """``iter_labelled_samples`` without the labels: ``[<= batch_size, *shape]`` float32 batches, so callers can write
    or reduce any ``n`` in bounded memory. The batches concatenate to ``generate_samples``' output."""
    for x, _ in iter_labelled_samples(G, n, seed, device, labels, batch_size):
        yield x


def generate_samples(G: nn.Module, n: int, seed: int, device: torch.device, labels: Tensor | None = None,
                     batch_size: int = 1000) -> Tensor:
    """The ``n`` samples of seed ``seed`` (``iter_labelled_samples``) at once; G's mode is restored afterwards."""
    return torch.cat(list(iter_samples(G, n, seed, device, labels, batch_size)))


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


def is_digit_data(data: TensorData | Distribution) -> bool:
    """True for image data shaped like MNIST (``uint8 [N, 1, 28, 28]``), which the mnist-classifier can judge."""
    return isinstance(data, TensorData) and data.is_image and tuple(data.shape) == DIGIT_SHAPE


@functools.lru_cache(maxsize=2)
def _digit_classifier(device: str) -> nn.Module:
    """The shipped classifier, loaded once per process and device (it is frozen and in eval mode)."""
    from ganforge.metrics.classifier import load_mnist_classifier

    return load_mnist_classifier(device=device)


def evaluate_digits(G: nn.Module, seed: int, device: torch.device, n: int | None = None,
                    classifier: nn.Module | None = None, batch_size: int = 1000,
                    reference: TensorData | None = None) -> dict[str, float]:
    """``confident_percent``, ``class_entropy`` and ``pixel_std`` of ``n`` (default ``N_DIGITS``) digits from G
    (sampled with ``seed``), judged by ``classifier`` (default: the shipped mnist-classifier on ``device``). With
    ``reference`` (the training data), also ``fid``: the Fréchet distance between classifier features (128-d) of
    the generated digits and of the first ``n`` reference digits — a cheap in-training FID (``ganforge eval``
    gives the Inception one); ``log.best=min:fid`` keeps the best checkpoint by it.

    G's output is mapped to uint8 with ``G.output_range`` ((-1, 1) for tanh, (0, 1) for sigmoid), exactly as a
    saved image would be, and classified in chunks of ``batch_size`` so memory stays O(batch).
    """
    from ganforge.metrics.classifier import classify, digit_quality, features

    n = N_DIGITS if n is None else n
    if n < 1:
        raise ValueError(f"evaluate_digits needs n >= 1 samples, got {n}")
    model = classifier if classifier is not None else _digit_classifier(str(device))
    output_range = getattr(G, "output_range", None)
    probs, feats, moments = [], [], PixelMoments()
    with torch.no_grad():
        # the n samples of seed ``seed`` (conditional G: uniformly random labels, so the class balance is G's own)
        for x, _ in iter_labelled_samples(G, n, seed, device, batch_size=batch_size):  # [m, 1, 28, 28]
            images = to_uint8(x, output_range)  # uint8 [m, 1, 28, 28]
            probs.append(classify(model, images, batch_size))  # [m, 10]
            moments.add(images)
            if reference is not None:
                feats.append(features(model, images, batch_size))  # [m, 128]
    quality = digit_quality(torch.cat(probs), CONFIDENCE)
    # + 0.0 turns the -0.0 of a single-class histogram into 0.0
    out = {"confident_percent": 100.0 * quality["confident"], "class_entropy": quality["entropy"] + 0.0,
           "pixel_std": moments.std()}
    if reference is not None:
        from ganforge.metrics.fid import feature_statistics, frechet_distance

        mu, sigma = feature_statistics(torch.cat(feats).double().numpy())
        out["fid"] = frechet_distance(mu, sigma, *_reference_statistics(model, reference, n, batch_size))
    return out


_REFERENCE_CACHE: dict[tuple[int, int, int], tuple[Any, Any]] = {}


def _reference_statistics(model: nn.Module, data: TensorData, n: int, batch_size: int) -> tuple[Any, Any]:
    """(mu, sigma) of classifier features of the first ``n`` digits of ``data``, computed once per run."""
    from ganforge.metrics.classifier import features
    from ganforge.metrics.fid import feature_statistics

    key = (id(data.x), id(model), n)
    if key not in _REFERENCE_CACHE:
        real = data.x[:n].cpu()  # uint8 [n, 1, 28, 28]
        _REFERENCE_CACHE[key] = feature_statistics(features(model, real, batch_size).double().numpy())
    return _REFERENCE_CACHE[key]


def evaluate_generator(G: nn.Module, data: TensorData | Distribution, seed: int, device: torch.device,
                       n_digits: int | None = None) -> dict[str, float]:
    """Dataset-appropriate metrics: the toy protocol for analytic targets, digit quality for MNIST-like images
    (``n_digits`` samples, default ``N_DIGITS``), nothing otherwise (FID/KID/PR: ``ganforge eval``). See
    ``eval_protocol`` for the details of each."""
    if isinstance(data, Distribution):
        return evaluate_toy(generate_samples(G, N_EVAL, seed + EVAL_SEED_OFFSET, device), data)
    if is_digit_data(data):
        return evaluate_digits(G, seed + EVAL_SEED_OFFSET, device, n=n_digits, reference=data)
    return {}


def eval_protocol(data: TensorData | Distribution, n_digits: int | None = None) -> dict[str, Any]:
    """What ``evaluate_generator`` computes for ``data``: merge into an ``eval/*.json`` record's ``protocol``.

    The run adds its own fields (dataset name, step, which generator, ``seed + EVAL_SEED_OFFSET``).
    """
    sampling = {"batch_size": 1000, "latent_chunk": LATENT_CHUNK}  # generate_samples / evaluate_digits defaults
    if isinstance(data, Distribution):
        return {"metrics": "toy", "n_fake": N_EVAL, "seed_offset": EVAL_SEED_OFFSET, **sampling}
    if is_digit_data(data):
        from ganforge.metrics.classifier import DEFAULT_WEIGHTS, weights_sha256

        return {
            "metrics": "digit_quality",
            "n_fake": N_DIGITS if n_digits is None else n_digits,
            "seed_offset": EVAL_SEED_OFFSET,
            **sampling,
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
    return {"metrics": "none", "n_fake": 0}
