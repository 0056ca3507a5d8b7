"""Cached reference statistics of real data, and the small interface every feature extractor follows.

A reference entry is keyed by (dataset, split, extractor, n) and stored as
``<cache>/reference/<dataset>_<split>_<extractor>_n<n>.npz`` with the cache directory ``$GANFORGE_CACHE`` or
``~/.cache/ganforge``. It holds the float64 mean ``mu`` and covariance ``sigma`` of the features (for FID, Heusel et
al. 2017), the float32 features themselves when n <= ``MAX_STORED_FEATURES`` (KID, precision/recall,
density/coverage need them), and a JSON ``meta`` record (format, key, extractor file sha256 and resize protocol,
versions, ``images_sha256``: the fingerprint of the exact real images the statistics came from, and
``arrays_sha256``: the sha256 of the stored arrays). Files are written to a temporary file and renamed, so readers
never see a half-written entry. An entry whose format, key or extractor hash does not match, whose arrays do not hash
to ``arrays_sha256`` (edited or damaged) or whose ``images_sha256`` is not that of the images asked for (the dataset
changed under the same name, split and n) is recomputed, with a one-line warning on stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from ganforge.metrics.fid import feature_statistics
from ganforge.outputs import atomic_file

FORMAT = "ganforge-reference-stats/2"  # /2: images_sha256 and arrays_sha256 in meta
MAX_STORED_FEATURES = 20000
CACHE_ENV = "GANFORGE_CACHE"


@runtime_checkable
class FeatureExtractor(Protocol):
    """What ``MnistClassifierFeatures`` and ``InceptionFeatures`` both provide (``FEATURES`` registry entries).

    ``__call__`` maps uint8 images ``[N, C, H, W]`` to float32 features ``[N, feature_dim]`` on the CPU;
    ``file_hash`` is the sha256 of the weights file; ``resize`` describes the preprocessing (None: native size),
    ``num_classes`` is None unless ``probabilities(images)`` gives class probabilities (for the Inception Score), and
    ``input_shape`` is the one ``[C, H, W]`` it takes (None: any).
    """

    name: str
    feature_dim: int
    file_hash: str
    resize: str | None
    num_classes: int | None
    input_shape: tuple[int, ...] | None

    def __call__(self, images_uint8: Tensor) -> Tensor: ...


def extractor_provenance(extractor: FeatureExtractor) -> dict[str, Any]:
    """Identity of an extractor for metric records: name, weights sha256, feature dimension, preprocessing."""
    return {
        "extractor": extractor.name,
        "extractor_sha256": extractor.file_hash,
        "feature_dim": int(extractor.feature_dim),
        "resize": extractor.resize or "none (native input size)",
    }


def cache_dir(root: str | Path | None = None) -> Path:
    """``root`` if given, else ``$GANFORGE_CACHE``, else ``~/.cache/ganforge``."""
    if root is not None:
        return Path(root)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "ganforge"


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in str(s)) or "-"


def reference_path(dataset: str, split: str, extractor: str, n: int, root: str | Path | None = None) -> Path:
    """Where the entry (dataset, split, extractor name, n) lives: ``<cache>/reference/<d>_<s>_<e>_n<n>.npz``."""
    return cache_dir(root) / "reference" / f"{_slug(dataset)}_{_slug(split)}_{_slug(extractor)}_n{int(n)}.npz"


@dataclass
class ReferenceStats:
    """Statistics of a real-data feature set: ``mu [D]``, ``sigma [D, D]`` (float64), optional ``features [n, D]``."""

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray | None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def from_features(
        cls, features: np.ndarray | Tensor, meta: dict[str, Any] | None = None, keep_features: bool | None = None
    ) -> ReferenceStats:
        """Statistics of ``features [n, D]``; the features are kept if ``keep_features`` (default: n <= 20000)."""
        if isinstance(features, Tensor):
            features = features.detach().cpu().numpy()
        features = np.asarray(features, dtype=np.float32)
        mu, sigma = feature_statistics(features)
        if keep_features is None:
            keep_features = features.shape[0] <= MAX_STORED_FEATURES
        return cls(mu, sigma, features if keep_features else None, dict(meta or {}))


def images_fingerprint(images: Tensor | np.ndarray) -> str:
    """sha256 of a uint8 image batch ``[n, C, H, W]``: its shape, dtype and bytes in C order (the dataset identity of
    a reference entry: the exact images its statistics came from)."""
    arr = np.ascontiguousarray(images.detach().cpu().numpy() if isinstance(images, Tensor) else np.asarray(images))
    h = hashlib.sha256(f"{arr.dtype.str}{list(arr.shape)}".encode())
    h.update(memoryview(arr.reshape(-1)).cast("B"))
    return h.hexdigest()


def arrays_sha256(mu: np.ndarray, sigma: np.ndarray, features: np.ndarray | None) -> str:
    """sha256 of the stored arrays (float64 ``mu``, ``sigma``, float32 ``features`` if kept), names and shapes
    included: what ``reference_statistics`` checks before trusting a cached entry."""
    h = hashlib.sha256()
    for name, arr, dtype in (("mu", mu, np.float64), ("sigma", sigma, np.float64), ("features", features, np.float32)):
        if arr is None:
            continue
        a = np.ascontiguousarray(arr, dtype=dtype)
        h.update(f"{name}{a.dtype.str}{list(a.shape)}".encode())
        h.update(memoryview(a.reshape(-1)).cast("B"))
    return h.hexdigest()


def save_reference(stats: ReferenceStats, path: str | Path) -> Path:
    """Write ``stats`` to ``path`` (.npz, loadable without pickle) atomically (``outputs.atomic_file``). The
    meta gets ``arrays_sha256`` of the arrays written."""
    path = Path(path)
    mu, sigma = np.asarray(stats.mu, dtype=np.float64), np.asarray(stats.sigma, dtype=np.float64)
    features = None if stats.features is None else np.asarray(stats.features, dtype=np.float32)
    stats.meta = {**stats.meta, "arrays_sha256": arrays_sha256(mu, sigma, features)}
    arrays: dict[str, np.ndarray] = {"mu": mu, "sigma": sigma, "meta": np.array(json.dumps(stats.meta, sort_keys=True))}
    if features is not None:
        arrays["features"] = features
    with atomic_file(path, "--cache") as tmp, open(tmp, "wb") as fh:  # ganforge.outputs: the one writer
        np.savez(fh, **arrays)  # a handle: np.savez would append .npz to the temporary's name
    stats.path = path
    return path


def load_reference(path: str | Path) -> ReferenceStats:
    """Read an entry written by ``save_reference``; raises ``ValueError`` if it is not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            features = data["features"] if "features" in data.files else None
            stats = ReferenceStats(data["mu"], data["sigma"], features, meta, path)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:  # truncated files too
        raise ValueError(f"{path} is not a readable reference-statistics file ({type(err).__name__}: {err})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}")
    return stats


def _warn(message: str) -> None:
    """One line on stderr (the CLI's own prefix), so a recomputed cache entry never goes unnoticed."""
    print(f"ganforge: warning: {message}", file=sys.stderr, flush=True)


def _stale_reason(stats: ReferenceStats, expected: dict[str, Any], images_sha: str) -> str | None:
    """Why a readable entry cannot be used for ``expected`` and these images (None: it can)."""
    meta = stats.meta
    for k, v in expected.items():
        if meta.get(k) != v:
            return f"its {k} is {meta.get(k)!r}, expected {v!r}"
    if meta.get("arrays_sha256") != arrays_sha256(stats.mu, stats.sigma, stats.features):
        return "its arrays do not match their recorded sha256 (the file was edited or damaged)"
    if meta.get("images_sha256") != images_sha:
        return "it was computed from other images (the dataset changed under the same name, split and n)"
    return None


def reference_statistics(
    extractor: FeatureExtractor,
    dataset: str,
    split: str,
    n: int,
    images: Callable[[], Tensor],
    root: str | Path | None = None,
    refresh: bool = False,
) -> ReferenceStats:
    """Cached statistics of ``extractor`` features of ``n`` real images of ``dataset``/``split``.

    ``images()`` must return exactly ``n`` uint8 images ``[n, C, H, W]``; it is called every time, because the entry
    is trusted only for the very images it came from (``images_fingerprint``, hashing is ~1 s per GB). On a cache
    miss (or ``refresh``, or an entry that cannot be used: unreadable, other format, key or extractor sha256, arrays
    that do not match their sha256, other images; a one-line warning on stderr says which) the features are
    extracted and the entry is stored atomically at ``reference_path(dataset, split, extractor.name, n, root)``.
    """
    path = reference_path(dataset, split, extractor.name, n, root)
    expected = {"format": FORMAT, "dataset": dataset, "split": split, "n": int(n), **extractor_provenance(extractor)}
    imgs = images()
    if imgs.shape[0] != n:
        raise ValueError(f"reference {dataset}/{split} n={n}: images() returned {imgs.shape[0]} images")
    images_sha = images_fingerprint(imgs)
    if path.is_file() and not refresh:
        try:
            stats = load_reference(path)
            reason = _stale_reason(stats, expected, images_sha)
        except ValueError as exc:  # unreadable, foreign or older-format file: recompute and overwrite it
            reason = str(exc).splitlines()[0] if str(exc) else "it is not readable"
            reason = reason.removeprefix(f"{path} ")
        if reason is None:
            return stats
        _warn(f"recomputing the cached reference statistics {str(path)!r}: {reason}")
    start = time.perf_counter()
    feats = extractor(imgs)
    meta = {
        **expected,
        "images_sha256": images_sha,
        "feature_seconds": round(time.perf_counter() - start, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
    }
    stats = ReferenceStats.from_features(feats, meta)
    try:
        save_reference(stats, path)
    except OSError as exc:  # the cache only saves time: keep the statistics just computed rather than fail
        warnings.warn(f"could not cache reference statistics at {path} ({exc.strerror or exc}); they will be "
                      "recomputed next time", stacklevel=2)
    return stats
