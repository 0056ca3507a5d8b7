"""Tests for ganforge/metrics/classifier.py: shipped weights, digit/mode statistics, reproducible training."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from ganforge.data.mnist import load_mnist_raw
from ganforge.metrics import classifier
from ganforge.metrics.classifier import (
    MnistClassifierFeatures,
    classify,
    digit_quality,
    features,
    load_mnist_classifier,
    mode_statistics,
    stacked_mnist_modes,
    train_mnist_classifier,
)
from ganforge.registry import FEATURES


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core CPU, two threads make these small convolutions several times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model():
    return load_mnist_classifier()


@pytest.fixture(scope="module")
def test_digits():
    x, y = load_mnist_raw("test")
    return x[:2000], y[:2000]


@pytest.fixture(scope="module")
def test_probs(model, test_digits):
    return classify(model, test_digits[0])


# ---- NumPy references, written independently of the torch code ------------------------------------------------------


def np_digit_quality(probs: np.ndarray, threshold: float) -> tuple[float, float, list[int]]:
    top = probs.max(axis=1)
    hist = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1])
    p = hist / hist.sum()
    entropy = -sum(pi * math.log(pi) for pi in p if pi > 0) / math.log(len(p))
    return float(np.mean(top >= threshold)), entropy, hist.tolist()


def np_mode_statistics(modes: np.ndarray, num_modes: int) -> tuple[int, float]:
    hist = np.bincount(modes, minlength=num_modes).astype(np.float64)
    p = hist / hist.sum()
    q = np.full(num_modes, 1.0 / num_modes)
    nz = p > 0
    return int(nz.sum()), float(np.sum(p[nz] * np.log(p[nz] / q[nz])))


def probs_with_argmax(classes: list[int], top: float = 0.95, num_classes: int = 10) -> torch.Tensor:
    """Probability rows whose argmax is ``classes[i]`` with top probability ``top``."""
    p = torch.full((len(classes), num_classes), (1 - top) / (num_classes - 1))
    p[torch.arange(len(classes)), torch.tensor(classes)] = top
    return p


# ---- the shipped weights -------------------------------------------------------------------------------------------


def test_shipped_weights_reach_99_percent_on_first_2000_test_digits(test_probs, test_digits):
    probs, y = test_probs, test_digits[1]
    assert probs.shape == (2000, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(2000))
    # measured 0.9915 (17 errors, 20 allowed); no digit's top-two logits are closer than 0.047, while other CPUs'
    # kernels move logits by ~1e-5 of their scale: no prediction can flip, so the margin holds on any CPU
    assert (probs.argmax(1) == y).double().mean() >= 0.99


def test_shipped_file_is_small_and_carries_its_metadata():
    blob = torch.load(classifier.DEFAULT_WEIGHTS, weights_only=True)
    assert blob["format"] == classifier.WEIGHTS_FORMAT
    assert blob["meta"]["test_accuracy"] >= 0.99
    assert blob["meta"]["num_test"] == 10_000  # measured on the full MNIST test set
    assert {"epochs", "seed", "torch_version", "num_threads"} <= blob["meta"].keys()
    assert all(v.dtype in (torch.float32, torch.int64) for v in blob["state_dict"].values())
    assert classifier.DEFAULT_WEIGHTS.stat().st_size < 1_000_000


def test_real_digits_are_confident_and_class_balanced(test_probs):
    quality = digit_quality(test_probs)
    assert quality["confident"] > 0.95
    assert quality["entropy"] > 0.99
    assert sum(quality["class_histogram"]) == 2000


def test_classify_and_features_do_not_depend_on_batch_size(model, test_digits):
    """Batching must not change the numbers beyond float32 summation order.

    Batches of 7 end in a 1-image batch, which PyTorch convolves with im2col + GEMM instead of oneDNN, and oneDNN's
    kernel choice depends on the CPU: the same sums in another order. Six layers of K ≤ 576-term sums then agree to
    ≲ 6·√K·2⁻²⁴ ≈ 1e-5 of the activations' scale (measured: 1e-7), while a real batching bug (BatchNorm in training
    mode, rows mixed up) moves features by O(scale). Probabilities are softmax outputs in [0, 1]: d p ≤ |d logit|/2.
    """
    x = test_digits[0][:50]
    small, whole = features(model, x, batch_size=7), features(model, x, batch_size=1000)
    torch.testing.assert_close(small, whole, rtol=0, atol=1e-5 * whole.abs().max().item())
    with torch.no_grad():
        logit_scale = model.head(whole).abs().max().item()
    torch.testing.assert_close(
        classify(model, x, batch_size=7), classify(model, x, batch_size=1000), rtol=0, atol=0.5e-5 * logit_scale
    )
    assert classify(model, x[:0]).shape == (0, 10)


def test_registered_extractor_gives_features_probabilities_and_file_hash(model, test_digits):
    extractor = FEATURES.get("mnist-classifier")()
    assert isinstance(extractor, MnistClassifierFeatures)
    assert extractor.name == "mnist-classifier"
    assert extractor.file_hash == hashlib.sha256(classifier.DEFAULT_WEIGHTS.read_bytes()).hexdigest()
    x = test_digits[0][:20]
    feats = extractor(x)
    assert feats.shape == (20, classifier.FEATURE_DIM)
    assert feats.dtype == torch.float32
    assert (feats >= 0).all()  # post-ReLU
    torch.testing.assert_close(feats, features(model, x))
    torch.testing.assert_close(extractor.probabilities(x), classify(model, x))


def test_inputs_must_be_uint8_digits(model):
    with pytest.raises(TypeError, match="uint8"):
        classify(model, torch.zeros(2, 1, 28, 28))
    with pytest.raises(TypeError, match="uint8"):
        features(model, torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        classify(model, torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        features(model, torch.zeros(2, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[N, 3, 28, 28\]"):
        stacked_mnist_modes(model, torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


# ---- missing or broken weights --------------------------------------------------------------------------------------


def _assert_one_line_with_hint(err: pytest.ExceptionInfo, path) -> None:
    msg = str(err.value)
    assert "\n" not in msg
    assert f"python -m ganforge.metrics.classifier --out {path}" in msg


def test_loading_leaves_the_global_rng_alone():
    # the module is built (random init) then overwritten: the caller's RNG stream, e.g. a training run, must not move
    torch.manual_seed(3)
    before = torch.get_rng_state()
    load_mnist_classifier()
    assert torch.equal(torch.get_rng_state(), before)


def test_missing_weights_file_gives_one_line_error(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_mnist_classifier(tmp_path / "nope.pt")
    _assert_one_line_with_hint(err, tmp_path / "nope.pt")


def test_corrupt_weights_file_gives_one_line_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage, not a torch file\xff" * 10)
    with pytest.raises(RuntimeError) as err:
        load_mnist_classifier(bad)
    _assert_one_line_with_hint(err, bad)


@pytest.mark.parametrize(
    "blob",
    [
        {"weights": torch.zeros(3)},  # some other file
        {"format": classifier.WEIGHTS_FORMAT, "state_dict": {"head.weight": torch.zeros(10, 128)}, "meta": {}},
        {"format": classifier.WEIGHTS_FORMAT, "state_dict": torch.zeros(3), "meta": {}},
    ],
)
def test_wrong_contents_give_one_line_error(tmp_path, blob):
    other = tmp_path / "other.pt"
    torch.save(blob, other)
    with pytest.raises(RuntimeError) as err:
        load_mnist_classifier(other)
    _assert_one_line_with_hint(err, other)


# ---- digit_quality and mode_statistics against NumPy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("classes", "expected_entropy"),
    [
        (list(range(10)) * 3, 1.0),  # every digit equally often
        ([7] * 12, 0.0),  # a single digit
        ([0, 1] * 5, math.log(2) / math.log(10)),  # two digits equally often
    ],
)
def test_digit_quality_entropy_closed_form(classes, expected_entropy):
    quality = digit_quality(probs_with_argmax(classes))
    assert quality["entropy"] == pytest.approx(expected_entropy, abs=1e-12)
    assert quality["confident"] == 1.0


@pytest.mark.parametrize("n", [1, 13, 500])
def test_digit_quality_matches_numpy(n):
    g = torch.Generator().manual_seed(n)
    logits = torch.randn(n, 10, generator=g, dtype=torch.float64) * 3
    logits[:, 3] += 1.5  # an unbalanced class histogram
    probs = logits.softmax(1)
    confident, entropy, hist = np_digit_quality(probs.numpy(), 0.9)
    quality = digit_quality(probs, threshold=0.9)
    assert quality["confident"] == pytest.approx(confident, rel=1e-12)
    assert quality["entropy"] == pytest.approx(entropy, rel=1e-9, abs=1e-12)
    assert quality["class_histogram"] == hist


def test_digit_quality_threshold_is_inclusive():
    probs = torch.tensor([[0.9, 0.1], [0.89, 0.11], [0.2, 0.8]], dtype=torch.float64)
    assert digit_quality(probs, threshold=0.9)["confident"] == pytest.approx(1 / 3)


def test_mode_statistics_closed_forms():
    assert mode_statistics(torch.arange(1000)) == {"modes": 1000, "kl": pytest.approx(0.0, abs=1e-12)}
    one_mode = mode_statistics(torch.full((50,), 123))
    assert one_mode["modes"] == 1
    assert one_mode["kl"] == pytest.approx(math.log(1000))
    half = mode_statistics(torch.arange(500).repeat(2))  # half the modes, evenly: KL = log 2
    assert half == {"modes": 500, "kl": pytest.approx(math.log(2))}


@pytest.mark.parametrize(("n", "num_modes"), [(1, 10), (100, 1000), (5000, 1000), (26000, 1000)])
def test_mode_statistics_matches_numpy(n, num_modes):
    rng = np.random.default_rng(n)
    modes = rng.zipf(1.3, size=n) % num_modes  # skewed, with uncovered modes
    expected_modes, expected_kl = np_mode_statistics(modes, num_modes)
    stats = mode_statistics(torch.from_numpy(modes), num_modes)
    assert stats["modes"] == expected_modes
    assert stats["kl"] == pytest.approx(expected_kl, rel=1e-9, abs=1e-12)


def test_mode_statistics_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match=r"\[0, 1000\)"):
        mode_statistics(torch.tensor([0, 1000]))


# ---- Stacked MNIST --------------------------------------------------------------------------------------------------


def test_stacked_mnist_modes_on_real_digits(model, test_digits):
    x, y = test_digits
    n = 600
    stacked = torch.cat([x[:n], x[n : 2 * n], x[2 * n : 3 * n]], dim=1)  # [n, 3, 28, 28], one digit per channel
    expected = 100 * y[:n] + 10 * y[n : 2 * n] + y[2 * n : 3 * n]
    modes = stacked_mnist_modes(model, stacked)
    assert modes.dtype == torch.int64
    assert modes.shape == (n,)
    assert (modes == expected).double().mean() >= 0.97  # 584/600 measured; flips need logit moves of > 0.047


# ---- training -------------------------------------------------------------------------------------------------------


def test_random_shift_moves_each_image_by_at_most_max_shift():
    x = torch.zeros(64, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0
    shifted = classifier._random_shift(x, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    torch.testing.assert_close(shifted.sum((1, 2, 3)), torch.ones(64))  # nothing falls off a 9x9 canvas
    rows, cols = shifted[:, 0].nonzero()[:, 1:].T
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (2, 6, 2, 6)
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) > 10  # offsets really vary per image


def _tiny_run(tmp_path, name, seed):
    path = tmp_path / name
    result = train_mnist_classifier(
        epochs=1, batch_size=64, seed=seed, out_path=path, progress=False, num_train=256, num_test=100
    )
    return result, torch.load(path, weights_only=True)["state_dict"]


def test_tiny_training_is_deterministic_given_the_seed(tmp_path):
    before = torch.get_rng_state()
    result_a, weights_a = _tiny_run(tmp_path, "a.pt", seed=1)
    torch.testing.assert_close(torch.get_rng_state(), before, rtol=0, atol=0)  # caller's RNG left alone
    result_b, weights_b = _tiny_run(tmp_path, "b.pt", seed=1)
    _, weights_c = _tiny_run(tmp_path, "c.pt", seed=2)
    assert weights_a.keys() == weights_b.keys()
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()  # same file, same sha256
    for key in weights_a:
        assert torch.equal(weights_a[key], weights_b[key]), key
    assert result_a["test_accuracy"] == result_b["test_accuracy"]
    assert (result_a["num_train"], result_a["num_test"]) == (256, 100)
    assert not torch.equal(weights_a["head.weight"], weights_c["head.weight"])
    reloaded = load_mnist_classifier(tmp_path / "a.pt")  # a freshly trained file loads through the public loader
    assert not any(p.requires_grad for p in reloaded.parameters())
