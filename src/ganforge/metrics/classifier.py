"""The ``mnist-classifier``: a small CNN that ganforge trains itself and ships as ``assets/mnist_classifier.pt``.

It judges generated digits (confidence, class balance), supplies domain features for FID/KID/PR and a
classifier-based Inception Score, and labels Stacked MNIST modes. It never downloads anything; FID/KID maths
live in their own modules. Recreate the weights with ``python -m ganforge.metrics.classifier --out PATH``.

The shipped file: 99.50 % on the 10,000 MNIST test digits, 3 epochs, seed 0, 1 CPU thread, torch 2.13.0+cpu, about
three minutes on one core; the default command rewrites it byte for byte on that build (same sha256).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.outputs import write_bytes
from ganforge.registry import FEATURES

WEIGHTS_FORMAT = "ganforge-mnist-classifier/1"
DEFAULT_WEIGHTS = Path(__file__).parent.parent / "assets" / "mnist_classifier.pt"
RECREATE_HINT = "python -m ganforge.metrics.classifier --out"
FEATURE_DIM = 128
NUM_CLASSES = 10
_MNIST_MEAN, _MNIST_STD = 0.1307, 0.3081  # pixel statistics of the MNIST training set, for input whitening


def _conv_bn_relu(c_in: int, c_out: int, padding: int = 0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=padding, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class MnistClassifier(nn.Module):
    """Digit classifier: conv16-pool-conv32-pool-conv64-conv64-fc128-fc10, BatchNorm after every layer but the last.

    Input is ``float [N, 1, 28, 28]`` in [0, 1] (uint8 / 255). Spatial sizes: 28 -> 28 -> 14 -> 14 -> 7 (two "same"
    3x3 convolutions, each followed by a 2x2 max-pool) -> 5 -> 3 (two "valid" 3x3 convolutions), so the FC block sees
    64 * 3 * 3 = 576 values. Small on purpose: one epoch over the 60k training digits takes about a minute on one
    CPU core. ``features`` is the 128-d post-ReLU penultimate layer (what FID/KID/PR use); ``forward`` returns the
    10 class logits. About 136k parameters (0.55 MB in float32).
    """

    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            _conv_bn_relu(1, 16, padding=1),
            nn.MaxPool2d(2),
            _conv_bn_relu(16, 32, padding=1),
            nn.MaxPool2d(2),
            _conv_bn_relu(32, 64),
            _conv_bn_relu(64, 64),
        )
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 3 * 3, FEATURE_DIM, bias=False),
            nn.BatchNorm1d(FEATURE_DIM),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features ``[N, 128]`` of images ``x`` ``[N, 1, 28, 28]`` in [0, 1]."""
        return self.fc(self.convs((x - _MNIST_MEAN) / _MNIST_STD))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``[N, 10]``."""
        return self.head(self.dropout(self.features(x)))


# ----------------------------------------------------------------------------------------------------------------
# Loading the shipped weights


def _weights_error(path: Path, problem: str) -> str:
    return f"MNIST classifier weights {problem} at {path}; recreate them with: {RECREATE_HINT} {path}"


def load_mnist_classifier(path: str | Path | None = None, device: str | torch.device | None = None) -> MnistClassifier:
    """The trained classifier in eval mode with frozen parameters, loaded from ``path`` (default: the shipped asset).

    Raises ``FileNotFoundError`` (missing file) or ``RuntimeError`` (unreadable or wrong contents), each with a
    one-line message naming the command that recreates the file.
    """
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(_weights_error(path, "not found"))
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated file, garbage bytes, pickled objects that weights_only refuses
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
        raise RuntimeError(_weights_error(path, f"are unreadable ({type(err).__name__}: {first_line})")) from None
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT or "state_dict" not in blob:
        raise RuntimeError(_weights_error(path, f"are not a {WEIGHTS_FORMAT} file"))
    with torch.random.fork_rng(devices=[]):  # the throw-away initialisation must not move the caller's CPU RNG
        model = MnistClassifier()
    try:
        model.load_state_dict(blob["state_dict"])
    except (RuntimeError, TypeError, ValueError, KeyError):  # missing/extra keys, wrong shapes, not a dict
        raise RuntimeError(_weights_error(path, "do not match the MnistClassifier architecture")) from None
    model.requires_grad_(False)
    return model.eval().to(device or "cpu")


def weights_sha256(path: str | Path | None = None) -> str:
    """Hex sha256 of a weights file (default: the shipped asset); recorded in metric protocols."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------------------------
# Inference on uint8 digits


def _check_digits(images: Tensor, channels: int = 1) -> None:
    if images.dtype != torch.uint8:
        raise TypeError(
            f"expected uint8 images, got {images.dtype}; convert with ganforge.data.base.to_uint8(x, output_range)"
        )
    if images.ndim != 4 or tuple(images.shape[1:]) != (channels, 28, 28):
        raise ValueError(f"expected images of shape [N, {channels}, 28, 28], got {tuple(images.shape)}")


@torch.no_grad()
def _batched(fn, model: nn.Module, images: Tensor, batch_size: int) -> Tensor:
    device = next(model.parameters()).device
    out = [
        fn(images[i : i + batch_size].to(device).float().div_(255.0)).float().cpu()
        for i in range(0, images.shape[0], batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0)


def classify(model: MnistClassifier, images_uint8: Tensor, batch_size: int = 1000) -> Tensor:
    """Softmax class probabilities ``[N, 10]`` (float32, CPU) of uint8 digits ``[N, 1, 28, 28]``."""
    _check_digits(images_uint8)
    model.eval()
    probs = _batched(lambda x: model(x).softmax(dim=1), model, images_uint8, batch_size)
    return probs.reshape(-1, NUM_CLASSES)


def features(model: MnistClassifier, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Penultimate-layer features ``[N, 128]`` (float32, CPU) of uint8 digits ``[N, 1, 28, 28]``."""
    _check_digits(images)
    model.eval()
    return _batched(model.features, model, images, batch_size).reshape(-1, FEATURE_DIM)


def _normalised_entropy(counts: Tensor) -> float:
    """-sum p log p / log K over the K bins of a histogram (0 log 0 = 0): 1.0 = uniform, 0.0 = one bin."""
    p = counts.double() / counts.sum().clamp_min(1)
    p = p[p > 0]
    return float(-(p * p.log()).sum() / math.log(counts.numel()))


def digit_quality(probs: Tensor, threshold: float = 0.9) -> dict:
    """How digit-like and how class-balanced a set of samples is, from classifier probabilities ``[N, 10]``.

    Returns ``confident`` (fraction of samples whose top probability is >= ``threshold``), ``entropy`` (normalised
    entropy of the histogram of predicted classes; 1.0 = all ten digits equally often, 0.0 = a single digit) and
    ``class_histogram`` (ten counts of the argmax class).
    """
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"expected probabilities of shape [N >= 1, K], got {tuple(probs.shape)}")
    top, pred = probs.max(dim=1)
    counts = torch.bincount(pred.cpu(), minlength=probs.shape[1])
    return {
        "confident": float((top >= threshold).double().mean()),
        "entropy": _normalised_entropy(counts),
        "class_histogram": counts.tolist(),
    }


def stacked_mnist_modes(model: MnistClassifier, images_uint8: Tensor, batch_size: int = 1000) -> Tensor:
    """Stacked MNIST mode ids ``int64 [N]`` in 0..999 of uint8 images ``[N, 3, 28, 28]`` (one digit per channel).

    Mode = 100 * digit(channel 0) + 10 * digit(channel 1) + digit(channel 2) (Metz et al. 2017; Srivastava et al.
    2017, VEEGAN).
    """
    _check_digits(images_uint8, channels=3)
    n = images_uint8.shape[0]
    digits = classify(model, images_uint8.reshape(n * 3, 1, 28, 28), batch_size).argmax(dim=1).reshape(n, 3)
    return digits @ torch.tensor([100, 10, 1])


def mode_statistics(modes: Tensor, num_modes: int = 1000) -> dict:
    """Mode coverage of integer mode ids ``[N]`` in ``[0, num_modes)``, as reported by VEEGAN and PacGAN.

    Returns ``modes`` (number of modes with at least one sample) and ``kl`` = KL(p || uniform) =
    sum_i p_i log(p_i * num_modes) in nats, where p is the normalised histogram of ``modes`` (0 = perfectly even).
    """
    modes = torch.as_tensor(modes).reshape(-1).long().cpu()
    if modes.numel() == 0:
        raise ValueError("mode_statistics needs at least one sample")
    if int(modes.min()) < 0 or int(modes.max()) >= num_modes:
        raise ValueError(f"mode ids must lie in [0, {num_modes}); got [{int(modes.min())}, {int(modes.max())}]")
    counts = torch.bincount(modes, minlength=num_modes).double()
    p = counts[counts > 0] / counts.sum()
    return {"modes": int((counts > 0).sum()), "kl": float((p * (p * num_modes).log()).sum())}


# ----------------------------------------------------------------------------------------------------------------
# The registered feature extractor


class MnistClassifierFeatures:
    """``FEATURES["mnist-classifier"]``: 128-d penultimate features (FID/KID/PR) and softmax probabilities (IS).

    Takes uint8 MNIST-shaped images ``[N, 1, 28, 28]``. ``file_hash`` (sha256 of the weights file) identifies the
    network in metric protocol records.
    """

    name = "mnist-classifier"
    feature_dim = FEATURE_DIM
    num_classes = NUM_CLASSES
    input_shape = (1, 28, 28)
    resize = None  # digits are read at their native 28x28

    def __init__(
        self, path: str | Path | None = None, device: str | torch.device | None = None, batch_size: int = 1000
    ) -> None:
        self.path = Path(path) if path is not None else DEFAULT_WEIGHTS
        self.model = load_mnist_classifier(self.path, device)
        self.file_hash = weights_sha256(self.path)
        self.batch_size = batch_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __call__(self, images_uint8: Tensor) -> Tensor:
        """Features ``[N, 128]`` (float32, CPU)."""
        return features(self.model, images_uint8, self.batch_size)

    def probabilities(self, images_uint8: Tensor) -> Tensor:
        """Softmax class probabilities ``[N, 10]`` (float32, CPU), for the classifier-based Inception Score."""
        return classify(self.model, images_uint8, self.batch_size)

    def __repr__(self) -> str:
        return f"MnistClassifierFeatures(path={str(self.path)!r}, sha256={self.file_hash[:12]}...)"


# `python -m ganforge.metrics.classifier` runs this file a second time as __main__: register only the imported copy
if __name__ != "__main__":
    FEATURES.register("mnist-classifier")(MnistClassifierFeatures)


# ----------------------------------------------------------------------------------------------------------------
# Training


def _random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Translate each image of ``x`` [B, 1, H, W] by its own integer offset in [-max_shift, max_shift] (zero fill)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, b, 1), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device) + dy)[:, :, None]  # [B, H, 1]
    cols = (torch.arange(w, device=x.device) + dx)[:, None, :]  # [B, 1, W]
    return padded[torch.arange(b, device=x.device)[:, None, None], 0, rows, cols].unsqueeze(1)


@functools.lru_cache(maxsize=2)
def _mnist_split(split: str) -> tuple[Tensor, Tensor]:
    """``load_mnist_raw(split)``, decoded once per process (the 60k training digits take ~1 s to convert)."""
    from ganforge.data.mnist import load_mnist_raw  # the data module is needed only for training

    return load_mnist_raw(split)


@torch.no_grad()
def _accuracy(model: MnistClassifier, images: Tensor, labels: Tensor, batch_size: int = 1000) -> tuple[float, Tensor]:
    probs = classify(model, images, batch_size)
    return float((probs.argmax(dim=1) == labels).double().mean()), probs


def train_mnist_classifier(
    epochs: int = 3,
    batch_size: int = 128,
    seed: int = 0,
    device: str | torch.device = "cpu",
    out_path: str | Path | None = DEFAULT_WEIGHTS,
    progress: bool = True,
    *,
    lr: float = 3e-3,
    max_shift: int = 2,
    num_train: int | None = None,
    num_test: int | None = None,
) -> dict:
    """Train ``MnistClassifier`` on the 60k MNIST training digits and save it to ``out_path`` (None: do not save).

    Adam with a one-cycle learning-rate schedule (peak ``lr``), random shifts of up to ``max_shift`` pixels.
    Deterministic for a given ``seed`` on a given device, torch build and CPU thread count: initialisation and
    dropout use a forked global RNG seeded with ``seed``, shuffling and shifts use their own ``torch.Generator``;
    the caller's RNG state is left untouched. ``num_train`` / ``num_test`` take the first digits of each split
    (for quick tests).

    Returns ``test_accuracy``, ``test_confident`` and ``test_entropy`` (``digit_quality`` on the test digits),
    ``final_train_loss``, ``train_seconds``, ``num_parameters`` and the settings used.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    device = torch.device(device)
    x_train, y_train = (t[:num_train].to(device) for t in _mnist_split("train"))
    x_test, y_test = (t[:num_test] for t in _mnist_split("test"))
    n = x_train.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    shuffle = torch.Generator().manual_seed(seed)
    start = time.perf_counter()

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        model = MnistClassifier().to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=shuffle).to(device)
            loss_sum = torch.zeros((), device=device)
            for i in range(0, n, batch_size):
                idx = perm[i : i + batch_size]
                x = x_train[idx].float().div_(255.0)
                if max_shift > 0:
                    x = _random_shift(x, max_shift, shuffle)
                loss = F.cross_entropy(model(x), y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += loss.detach() * idx.numel()
            train_loss = float(loss_sum) / n  # one CPU-GPU sync per epoch
            if progress:
                acc, _ = _accuracy(model.eval(), x_test, y_test)
                print(
                    f"epoch {epoch + 1}/{epochs}  train loss {train_loss:.4f}  test acc {acc:.4%}  "
                    f"{time.perf_counter() - start:.0f}s",
                    file=sys.stderr,
                    flush=True,
                )
    train_seconds = time.perf_counter() - start

    model.eval().requires_grad_(False)
    test_accuracy, probs = _accuracy(model, x_test, y_test)
    quality = digit_quality(probs)
    result = {
        "test_accuracy": test_accuracy,
        "test_confident": quality["confident"],
        "test_entropy": quality["entropy"],
        "final_train_loss": train_loss,
        "train_seconds": train_seconds,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "lr": lr,
        "max_shift": max_shift,
        "num_train": n,
        "num_test": int(x_test.shape[0]),
        "device": str(device),
        "num_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
    if out_path is not None:
        # wall time varies from run to run: leave it out so that retraining rewrites the file byte for byte
        save_mnist_classifier(model, out_path, meta={k: v for k, v in result.items() if k != "train_seconds"})
        result["path"] = str(out_path)
        result["sha256"] = weights_sha256(out_path)
    return result


def _plain(value: bool | int | float | str) -> bool | int | float | str:
    for kind in (bool, int, float, str):  # bool first: it is a subclass of int
        if isinstance(value, kind):
            return kind(value)
    raise TypeError(f"unsupported metadata value {value!r}")


def save_mnist_classifier(model: MnistClassifier, path: str | Path, meta: dict | None = None) -> None:
    """Write ``{"format", "state_dict" (float32, CPU), "meta"}``, loadable with ``weights_only=True``.

    Serialised in memory (``torch.save`` to a file embeds the file's name, which would make the bytes depend on the
    temporary name), written to a temporary file and renamed, so an interrupted save never leaves a half-written
    asset behind. Identical weights and metadata give a byte-identical file, hence the same ``weights_sha256``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.float() if v.is_floating_point() else v).detach().cpu().clone() for k, v in model.state_dict().items()
    }
    # plain builtins only: torch.__version__ is a str subclass (TorchVersion) that weights_only loading refuses
    meta = {k: _plain(v) for k, v in (meta or {}).items() if isinstance(v, (int, float, str, bool))}
    buffer = io.BytesIO()
    torch.save({"format": WEIGHTS_FORMAT, "state_dict": state, "meta": meta}, buffer)
    write_bytes(path, buffer.getvalue())  # ganforge.outputs: unique temporary, fsync, rename, readable (0644)


def main(argv: list[str] | None = None) -> dict:
    """``python -m ganforge.metrics.classifier``: train the classifier, save it, print the test accuracy."""
    parser = argparse.ArgumentParser(prog="python -m ganforge.metrics.classifier", description=main.__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1; the shipped file was trained with 1)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help=f"default: {DEFAULT_WEIGHTS}")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    result = train_mnist_classifier(args.epochs, args.batch_size, args.seed, args.device, args.out, lr=args.lr)
    print(
        f"test accuracy {result['test_accuracy']:.2%} ({result['num_test']} digits), "
        f"confident {result['test_confident']:.2%}, class entropy {result['test_entropy']:.4f}, "
        f"trained in {result['train_seconds']:.0f}s; saved {args.out} (sha256 {result['sha256'][:12]})"
    )
    return result


if __name__ == "__main__":
    main()
