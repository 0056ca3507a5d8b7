"""Tests for ganforge/kinds/image.py (the MNIST digit-quality path, shipped classifier, and its protocol) and the
in-training evaluation of ganforge/kinds/toy.py.

"Generators" here replay real MNIST test digits or constant images, so the expected metrics are known without any
training; each test judges a few hundred digits and runs in well under a second on one CPU thread.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import ganforge.kinds.image as ev
from ganforge.builder import build_components
from ganforge.data.base import TensorData, scale_images
from ganforge.data.mnist import load_mnist_raw
from ganforge.kinds import hooks_for
from ganforge.metrics.classifier import weights_sha256
from ganforge.metrics.toy import N_EVAL
from ganforge.models.base import Generator
from helpers import tiny_config

CPU = torch.device("cpu")


class ReplayG(Generator):
    """Stands in for a generator: returns the given uint8 images ``[M, 1, 28, 28]`` in order, scaled to
    ``output_range``, cycling through them; ``z`` only sets the batch size."""

    c_dim = 0
    z_dim = 2

    def __init__(self, images: Tensor, output_range: tuple[float, float] = (-1.0, 1.0)) -> None:
        super().__init__()
        self.images, self.output_range, self.pos = images, output_range, 0
        self.scale = nn.Parameter(torch.ones(()))  # something for .train()/.eval() and devices to act on

    def sample_z(self, n: int, generator: torch.Generator, device: torch.device) -> Tensor:
        return torch.randn(n, self.z_dim, generator=generator, device=device)

    def forward(self, z: Tensor) -> Tensor:
        idx = (torch.arange(z.shape[0]) + self.pos) % len(self.images)
        self.pos += z.shape[0]
        return scale_images(self.images[idx], self.output_range) * self.scale  # [N, 1, 28, 28]


@pytest.fixture(scope="module")
def test_digits() -> Tensor:
    torch.set_num_threads(1)
    return load_mnist_raw("test")[0][:300]  # uint8 [300, 1, 28, 28]


def test_real_digits_are_confident_and_balanced(test_digits):
    m = ev.evaluate_digits(ReplayG(test_digits), seed=0, device=CPU, n=300, batch_size=128)
    assert set(m) == {"confident_percent", "class_entropy", "pixel_std"}
    assert m["confident_percent"] > 95.0  # the classifier is 99.5 % accurate on these
    assert m["class_entropy"] > 0.98  # the first 300 test digits cover all ten classes about evenly


def test_output_range_is_respected(test_digits):
    """The same digits from a sigmoid generator ([0, 1]) and a tanh generator ([-1, 1]) score the same."""
    tanh = ev.evaluate_digits(ReplayG(test_digits, (-1.0, 1.0)), 0, CPU, n=100)
    sigmoid = ev.evaluate_digits(ReplayG(test_digits, (0.0, 1.0)), 0, CPU, n=100)
    assert tanh == sigmoid


def test_one_image_repeated_has_zero_entropy(test_digits):
    m = ev.evaluate_digits(ReplayG(test_digits[:1]), 0, CPU, n=50)
    assert m["class_entropy"] == 0.0
    assert str(m["class_entropy"]) == "0.0"
    assert m["confident_percent"] in (0.0, 100.0)  # every sample is the same image


def test_pixel_std_is_zero_for_one_image_and_matches_torch_std_for_real_digits(test_digits):
    """pixel_std separates "one image for every z" (0) from real variety. The streaming float64 E[x²] − E[x]²
    agrees with torch's two-pass std (unbiased=False) to ~1e-12 (float64 rounding of 300 terms in [0, 1]); 1e-9
    leaves room for that."""
    one = ev.evaluate_digits(ReplayG(test_digits[:1]), 0, CPU, n=50)
    assert one["pixel_std"] < 1e-6  # the same image 50 times: every pixel constant (clamped rounding residue)
    m = ev.evaluate_digits(ReplayG(test_digits), 0, CPU, n=300, batch_size=128)
    expected = (test_digits.double() / 255).flatten(1).std(0, unbiased=False).mean().item()
    assert abs(m["pixel_std"] - expected) < 1e-9
    assert 0.15 < m["pixel_std"] < 0.25  # real digits (0.193 over the whole training split)
    chunks = ev.PixelMoments().add(test_digits[:100]).add(test_digits[100:])
    assert abs(chunks.std() - ev.pixel_std(test_digits)) < 1e-9  # chunking does not change it (float64 sums)


def test_blank_images_are_not_counted_as_balanced_digits():
    m = ev.evaluate_digits(ReplayG(torch.zeros(1, 1, 28, 28, dtype=torch.uint8)), 0, CPU, n=50)
    assert m["class_entropy"] == 0.0


def test_generator_mode_is_restored(test_digits):
    G = ReplayG(test_digits).train()
    ev.evaluate_digits(G, 0, CPU, n=10)
    assert G.training
    ev.evaluate_digits(G.eval(), 0, CPU, n=10)
    assert not G.training


def test_n_must_be_positive(test_digits):
    with pytest.raises(ValueError, match="n >= 1"):
        ev.evaluate_digits(ReplayG(test_digits), 0, CPU, n=0)


def kind_config(seed: int = 0, eval_samples: int = ev.N_DIGITS):
    """A run config whose train.seed and log.eval_samples are what ``DataKind.evaluate`` / ``protocol`` read."""
    cfg = tiny_config()
    cfg.train.seed, cfg.log.eval_samples = seed, eval_samples
    return cfg


def test_the_data_kind_picks_the_evaluation(test_digits):
    mnist_like = TensorData(test_digits[:8])
    assert ev.is_digit_data(mnist_like)
    kind = hooks_for(mnist_like.kind)
    assert isinstance(kind, ev.ImageKind)
    # the protocol's 10,000 is too slow for a unit test: 64 digits
    assert set(kind.evaluate(ReplayG(test_digits), mnist_like, kind_config(eval_samples=64), CPU)) == {
        "confident_percent", "class_entropy", "pixel_std", "fid"}
    assert kind.evaluate(ReplayG(test_digits), mnist_like, kind_config(eval_samples=20), CPU) != {}
    assert kind.eval_protocol(mnist_like, kind_config(eval_samples=20))["n_fake"] == 20
    rgb = TensorData(torch.zeros(4, 3, 32, 32, dtype=torch.uint8))
    vectors = TensorData(torch.zeros(4, 784))
    for data in (rgb, vectors):
        assert not ev.is_digit_data(data)
        assert hooks_for(data.kind).evaluate(ReplayG(test_digits), data, kind_config(), CPU) == {}


def test_toy_path_is_unchanged():
    torch.set_num_threads(1)
    c = build_components(tiny_config())
    kind = hooks_for(c.data.kind)
    metrics = kind.evaluate(c.G, c.data, kind_config(seed=0), CPU)
    assert metrics
    assert "confident_percent" not in metrics
    assert metrics == kind.evaluate(c.G, c.data, kind_config(seed=0), CPU)  # private RNG: reproducible


def test_eval_protocol(test_digits):
    digits = hooks_for("image").eval_protocol(TensorData(test_digits[:4]), kind_config())
    assert digits["n_fake"] == ev.N_DIGITS == 10_000
    assert digits["classifier"] == "mnist-classifier"
    assert digits["classifier_sha256"] == weights_sha256()
    assert digits["confidence_threshold"] == 0.9
    toy_data = build_components(tiny_config()).data
    toy = hooks_for(toy_data.kind).eval_protocol(toy_data, kind_config())
    assert toy["n_fake"] == N_EVAL
    assert toy["metrics"] == "toy"
    rgb = TensorData(torch.zeros(4, 3, 32, 32, dtype=torch.uint8))
    assert hooks_for(rgb.kind).eval_protocol(rgb, kind_config())["metrics"] == "none"


def test_in_training_fid_matches_a_scipy_reference(test_digits):
    from scipy import linalg

    from ganforge.metrics.classifier import features, load_mnist_classifier

    model = load_mnist_classifier()
    real = TensorData(test_digits[:100])
    fake_images = test_digits[150:250]  # other real digits: small but non-zero FID
    m = ev.evaluate_digits(ReplayG(fake_images), 0, CPU, n=100, reference=real)
    f1 = features(model, fake_images).double().numpy()
    f2 = features(model, test_digits[:100]).double().numpy()
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    ref = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))
    assert m["fid"] == pytest.approx(ref, rel=1e-5)
    same = ev.evaluate_digits(ReplayG(test_digits[:100]), 0, CPU, n=100, reference=real)
    assert abs(same["fid"]) < 1e-3 * ref  # identical sets: ~0
    blank = ev.evaluate_digits(ReplayG(torch.zeros_like(fake_images)), 0, CPU, n=100, reference=real)
    assert blank["fid"] > 10 * ref


def test_one_judge_for_28_and_padded_32_pixel_digits_with_label_accuracy(test_digits):
    """``judge_digits`` is the one digit judge (in training, ``kinds.pyramid`` and bench/image_quality.py): mnist32's
    zero-padded 32×32 digits are judged on their centre 28×28 (``unpad``), so they score exactly as the 28×28 digits
    (same tensors through the same code: ``==``); with the labels they were drawn for, label accuracy too."""
    from ganforge.metrics.classifier import load_mnist_classifier

    model = load_mnist_classifier()
    digits, padded = test_digits[:200], torch.nn.functional.pad(test_digits[:200], (2, 2, 2, 2))  # [200, 1, 32, 32]
    labels = load_mnist_raw("test")[1][:200]
    real = ev.reference_statistics(model, test_digits[100:300], 200)
    plain = ev.judge_digits([(digits[:120], labels[:120]), (digits[120:], labels[120:])], model, real)
    assert ev.judge_digits([(padded[:120], labels[:120]), (padded[120:], labels[120:])], model, real) == plain
    assert plain["label_accuracy_percent"] > 97.0  # the classifier is 99.5 % accurate on test digits
    wrong = ev.judge_digits([(digits, (labels + 1) % 10)], model, real)
    assert wrong["label_accuracy_percent"] < 3.0
    assert set(ev.judge_digits([(digits, None)], model)) == {"confident_percent", "class_entropy", "pixel_std"}
