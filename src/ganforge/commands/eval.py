"""``ganforge eval RUN|SAMPLES``: FID, KID, precision/recall, density/coverage and IS against cached real statistics.

Fake images come from the run's generator (its EMA when the checkpoint has one: "the n samples of seed S", the same
images ``ganforge sample --seed S`` writes, whatever ``--batch-size``), from a folder of PNGs or from an .npz of uint8
images (``images`` or the first array; ``[N, C, H, W]``, ``[N, H, W, C]`` or ``[N, H, W]``). Real statistics come
from ``reference_statistics`` (cached per dataset, split, extractor and n, checked against the images' sha256) over
the first ``n_real`` images of ``--ref DATASET:SPLIT``: ``min(n, split size)`` by default, ``--n-real all`` for the
whole split. ``--protocol fid50k_full`` is the published FID protocol (50,000 generated images vs every training
image). The record (metrics, protocol with the source's sha256, batch size and caveats, versions) goes to
``RUN/eval/<name>.json`` (or ``--out``) and a short table is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ganforge.builder import resolve_device
from ganforge.commands.common import (
    check_positive,
    check_seed,
    checkpoint_file,
    generator_kind,
    images_uint8,
    load_generator,
    run_root,
    source_sha256,
)
from ganforge.data.formats import NPZ_ERRORS, open_image
from ganforge.metrics.image_metrics import (
    FID_PROTOCOL_N,
    evaluate,
    fid_protocol_name,
    get_metric,
    metric_protocol,
    metric_warnings,
    min_images,
)
from ganforge.metrics.prdc import K_DC, K_PR
from ganforge.metrics.reference import (
    CACHE_ENV,
    MAX_STORED_FEATURES,
    cache_dir,
    extractor_provenance,
    reference_path,
    reference_statistics,
)
from ganforge.options import ConfigError, build_options
from ganforge.preflight import check_memory, check_out_file, check_suffix, check_writable
from ganforge.registry import DATASETS, FEATURES, METRICS
from ganforge.sampling import LATENT_CHUNK, iter_samples
from ganforge.training.rundir import RunError, eval_record, write_record

DEFAULT_N = 10000
IMAGE_SUFFIXES = (".png",)
PROTOCOLS = ("custom", "fid50k_full")


NAME = "eval"

def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="FID/KID/PR/DC/IS of a run (or of saved samples) against real data")
    p.add_argument("source", type=Path, metavar="RUN|SAMPLES",
                   help="run directory, checkpoint .pt, folder of PNG samples or .npz of uint8 images")
    p.add_argument("--metrics", default="fid,kid,pr,dc",
                   help=f"comma-separated, from: {', '.join(METRICS.names())} (default fid,kid,pr,dc; see "
                        "`ganforge list metrics`)")
    p.add_argument("--n", type=int, default=None,
                   help=f"fake samples (default {DEFAULT_N} from a run; all images of a samples source)")
    p.add_argument("--n-real", default=None, metavar="N|all",
                   help="real images: the first N of the split, or all of it (default min(--n, split size))")
    p.add_argument("--protocol", choices=PROTOCOLS, default=None,
                   help=f"fid50k_full: --n {FID_PROTOCOL_N} generated vs --n-real all of the train split (the "
                        "published FID protocol, StyleGAN's name); the record names the protocol either way")
    p.add_argument("--ref", default=None, metavar="DATASET:SPLIT",
                   help="real data to compare with, e.g. mnist:train (default: the run's dataset, train split)")
    p.add_argument("--features", default=None,
                   help="feature extractor: inception-fid or mnist-classifier (default: mnist-classifier for 28x28 "
                   "grey digits, the standard inception-fid otherwise)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generator's latent codes (and KID subsets)")
    p.add_argument("--batch-size", type=int, default=250,
                   help="generation and feature-extraction batch size (recorded; the samples do not depend on it)")
    p.add_argument("--k-pr", type=int, default=K_PR,
                   help=f"k of precision/recall (default {K_PR}, the paper's; they are also reported at k = {K_DC})")
    p.add_argument("--k-dc", type=int, default=K_DC, help=f"k of density/coverage (default {K_DC}, the paper's)")
    p.add_argument("--k", type=int, default=None,
                   help="one k for all four (the prdc package's nearest_k, 5 in its README); overrides --k-pr/--k-dc")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--cache", type=Path, default=None,
                   help="reference-statistics cache folder (default $GANFORGE_CACHE or ~/.cache/ganforge)")
    p.add_argument("--name", default=None, help="record name (default <features>_<dataset>-<split>_n<N>)")
    p.add_argument("--out", type=Path, default=None, help="record file (default RUN/eval/<name>.json)")
    p.add_argument("--no-ema", action="store_true", help="evaluate the raw generator instead of its EMA")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    DEFAULTS.update({a.dest: a.default for a in p._actions})
    return p


# ---- argument checks (all before anything slow) ---------------------------------------------------------------


# the image protocol's options (FID/KID/PR/DC on generated images); a run whose kind evaluates itself (tables,
# series, fields, tracks, translation) uses none of them, and refuses them when given (not left at DEFAULTS)
IMAGE_EVAL_FLAGS = ("metrics", "n", "n_real", "protocol", "ref", "features", "seed", "batch_size", "k_pr", "k_dc",
                    "k", "cache", "name")
DEFAULTS: dict[str, Any] = {}  # the parser's defaults, filled by add_parser


def parse_metrics(text: str) -> list[str]:
    """Registered metric names (``METRICS``, see ``ganforge.metrics.image_metrics``), in the order given, once each."""
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    if not names:
        raise ConfigError(f"--metrics is empty; choose from: {', '.join(METRICS.names())}")
    for m in names:
        try:
            get_metric(m)
        except KeyError as exc:
            raise ConfigError(exc.args[0]) from None
    return list(dict.fromkeys(names))


def _requested(metrics: list[str], flag: str) -> list[str]:
    """The requested metrics whose ``Metric.<flag>`` is set."""
    return [m for m in metrics if getattr(get_metric(m), flag)]


NReal = int | str | None  # --n-real: a count, "all" or None (the default: min(--n, split size))


def parse_n_real(text: str | None) -> NReal:
    """``--n-real``: None (default), ``"all"`` or a positive count."""
    if text is None or text == "all":
        return text
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"--n-real expects a number of images or 'all', got {text!r}") from None
    check_positive(value, "--n-real")
    return value


def resolve_protocol(protocol: str | None, n: int | None, n_real: NReal) -> tuple[int | None, NReal]:
    """(--n, --n-real) after ``--protocol``: fid50k_full fixes them at 50,000 and all, and refuses others."""
    if protocol != "fid50k_full":
        return n, n_real
    if n is not None and n != FID_PROTOCOL_N:
        raise ConfigError(f"--protocol fid50k_full generates {FID_PROTOCOL_N} images; drop --n {n} (or use "
                          "--protocol custom)")
    if n_real is not None and n_real != "all":
        raise ConfigError(f"--protocol fid50k_full compares with every training image; drop --n-real {n_real} (or use "
                          "--protocol custom)")
    return FID_PROTOCOL_N, "all"


def parse_ref(text: str) -> tuple[str, str]:
    dataset, sep, split = text.partition(":")
    if not sep or not dataset or not split or ":" in split:
        raise ConfigError(f"--ref expects DATASET:SPLIT (e.g. mnist:train), got {text!r}")
    if dataset not in DATASETS:
        raise ConfigError(f"--ref: unknown dataset {dataset!r}; choose from: {', '.join(DATASETS.names())}")
    return dataset, split


def make_extractor(name: str, device: torch.device, batch_size: int) -> Any:
    import ganforge.metrics  # noqa: F401  (registers the extractors)

    try:
        cls = FEATURES.get(name)
    except KeyError as exc:
        raise ConfigError(f"--features: {exc.args[0]}") from None
    kwargs: dict[str, Any] = {"device": device, "batch_size": batch_size}
    if name == "inception-fid":
        kwargs["progress"] = False  # ProgressExtractor draws the bar
    try:
        return cls(**kwargs)
    except RuntimeError as exc:  # unreadable or unexpected weights: the message names the command that fixes it
        raise ConfigError(f"--features {name}: {str(exc).strip().splitlines()[0]}") from None


class ProgressExtractor:
    """Wraps a ``FEATURES`` extractor: same identity (name, hash, resize), features computed in batches with a bar."""

    def __init__(self, inner: Any, batch_size: int, progress: bool) -> None:
        self.inner, self.batch_size, self.progress = inner, batch_size, progress
        self.name, self.feature_dim, self.file_hash = inner.name, inner.feature_dim, inner.file_hash
        self.resize, self.num_classes, self.input_shape = inner.resize, inner.num_classes, inner.input_shape

    def _batched(self, fn: Any, images: Tensor, desc: str) -> Tensor:
        out = []
        with tqdm(total=images.shape[0], desc=desc, unit="img", disable=not self.progress, leave=False) as bar:
            for start in range(0, images.shape[0], self.batch_size):
                batch = images[start : start + self.batch_size]
                out.append(fn(batch))
                bar.update(batch.shape[0])
        return torch.cat(out)

    def __call__(self, images_uint8: Tensor) -> Tensor:
        return self._batched(self.inner, images_uint8, f"{self.name} features")

    def probabilities(self, images_uint8: Tensor) -> Tensor:
        return self._batched(self.inner.probabilities, images_uint8, f"{self.name} probabilities")


# ---- fake images ------------------------------------------------------------------------------------------------


def is_run(path: Path) -> bool:
    return path.suffix == ".pt" or (path.is_dir() and ((path / "checkpoints").is_dir() or (path / "config.yaml")
                                                         .is_file()))


def read_png_dir(folder: Path) -> Tensor:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise RunError(f"{str(folder)!r} is neither a run directory (no checkpoints/) nor a folder of PNG samples")
    arrays = []
    for f in files:
        with open_image(f) as img:  # one-line error naming a truncated, corrupt or oversized file
            arrays.append(np.asarray(img))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"PNG samples in {str(folder)!r} differ in size/mode: {sorted(shapes)}")
    return _to_nchw(np.stack(arrays), str(folder))


def read_npz(path: Path) -> Tensor:
    """uint8 images from an .npz (array ``images``, else the first one) or a plain .npy array."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            x = loaded
        else:
            with loaded as data:
                if not data.files:
                    raise ValueError("no arrays inside")
                x = data["images" if "images" in data.files else data.files[0]]
    except (*NPZ_ERRORS, KeyError) as exc:
        raise ValueError(f"{str(path)!r} is not a readable .npz file of images ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:120]}); it may be truncated: save it again") from None
    if x.dtype != np.uint8:
        raise ValueError(f"{str(path)!r}: expected uint8 images, got {x.dtype} (save to_uint8(...) images)")
    return _to_nchw(x, str(path))


def _to_nchw(x: np.ndarray, where: str) -> Tensor:
    if x.ndim == 3:  # [N, H, W] grayscale
        x = x[:, None]
    elif x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3, 4):  # channels last
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in (1, 3, 4) or x.shape[0] == 0:
        raise ValueError(f"{where}: expected images [N, C, H, W] with C in 1, 3, got shape {list(x.shape)}")
    if x.shape[1] == 4:  # RGBA PNGs: drop alpha
        x = x[:, :3]
    return torch.from_numpy(np.ascontiguousarray(x))


def default_features(shape: tuple[int, ...]) -> str:
    """The extractor ``eval`` uses without ``--features``: the shipped MNIST classifier for images of its input shape
    (1×28×28 digits: seconds on a CPU, FID comparable with this project's figures), the standard TF-2015 Inception
    otherwise (the published-FID protocol; hours for 10,000 images on a CPU)."""
    from ganforge.metrics.classifier import MnistClassifierFeatures

    return "mnist-classifier" if tuple(shape) == tuple(MnistClassifierFeatures.input_shape) else "inception-fid"


def print_estimate(extractor: Any, shape: tuple[int, ...], n_fake: int, n_real: int, ref_key: str, split: str,
                   cache: Path | None) -> None:
    """Time a few images through the extractor and say, before a job of over a minute, about how long the features
    will take (the real side only when its statistics are not cached)."""
    probe = torch.zeros((4, *shape), dtype=torch.uint8)
    t = time.perf_counter()
    inner = extractor.inner if isinstance(extractor, ProgressExtractor) else extractor
    inner(probe)
    per_image = (time.perf_counter() - t) / probe.shape[0]
    cached = reference_path(ref_key, split, extractor.name, n_real, cache).is_file()
    seconds = per_image * (n_fake + (0 if cached else n_real))
    if seconds > 60:
        print(f"ganforge: eval: about {seconds / 60:.0f} min of {extractor.name} features for {n_fake} generated"
              + ("" if cached else f" + {n_real} real") + " images on this device; lower --n, or use --features "
              "mnist-classifier for digits", file=sys.stderr)


def check_shape(extractor: Any, shape: tuple[int, ...]) -> None:
    want = extractor.input_shape
    if len(shape) != 3:
        raise ConfigError(f"eval needs images; this source has samples of shape {list(shape)} (toy runs are "
                          "evaluated by `ganforge train` itself: see RUN/eval/final.json)")
    if want is not None and tuple(shape) != tuple(want):
        raise ConfigError(f"--features {extractor.name} takes images of shape {list(want)}, got {list(shape)}; "
                          "use --features inception-fid")
    if shape[0] not in (1, 3):
        raise ConfigError(f"--features {extractor.name} takes 1- or 3-channel images, got {shape[0]} channels")


# ---- real images ------------------------------------------------------------------------------------------------


def load_reference_images(dataset: str, split: str, run_cfg: Any) -> tuple[Tensor, str, dict[str, Any]]:
    """(uint8 images of ``dataset``/``split``, cache key of the dataset, dataset options used).

    A run's own dataset keeps its options (file paths) but not its ``limit``. The cache key is the dataset name, plus
    a fingerprint of the options when there are any, so two user files never share cached statistics.
    """
    options: dict[str, Any] = {}
    if run_cfg is not None and run_cfg.data.name == dataset:
        options = {k: v for k, v in run_cfg.data.options.items() if k != "limit"}
    data = build_options(DATASETS.get(dataset), options, "data.options").load(split)
    if not data.is_image:
        raise ConfigError(f"--ref {dataset}:{split} is not an image dataset")
    key = dataset
    if options:
        key += "-" + hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return data.x, key, options


# ---- the command --------------------------------------------------------------------------------------------------


TABLE_SUFFIXES = (".csv", ".parquet")


def eval_table_file(args: argparse.Namespace) -> int:
    """``ganforge eval SYNTH.csv --ref RUN|DATASET``: an external synthetic table scored like a table run's samples
    (``metrics.tabular.evaluate_table``: column shapes, pair trends, quality, ML efficacy on the held-out rows) against
    the real training rows of a table run (its config's dataset and split) or of a table dataset with its defaults."""
    from ganforge.builder import build_dataset
    from ganforge.config import resolve_config
    from ganforge.data.tabular import TabularData, read_table
    from ganforge.metrics.tabular import evaluate_table

    source: Path = args.source
    if args.ref is None:
        raise ConfigError("evaluating a table file needs --ref: a table run directory (runs/NAME) or a table dataset "
                          "(e.g. --ref nasscds)")
    synth = read_table(source, "eval")  # before the reference table's fit: a bad file fails at once
    ref = Path(args.ref)
    if ref.is_dir():
        if not (ref / "config.yaml").is_file():
            raise ConfigError(f"--ref {args.ref!r}: no config.yaml there; pass a table run directory or a dataset name")
        cfg = resolve_config(str(ref / "config.yaml"), [], None)
        dataset, options = cfg.data.name, dict(cfg.data.options)
        real = build_dataset(cfg, "train")
    else:  # a dataset with its default options
        dataset, options = args.ref.split(":")[0], {}
        if dataset not in DATASETS:
            raise ConfigError(f"--ref: unknown dataset {dataset!r}; choose from: {', '.join(DATASETS.names())}")
        real = build_options(DATASETS.get(dataset), options, "data.options").load("train")
    if not isinstance(real, TabularData):
        raise ConfigError(f"--ref {args.ref!r} is not a table ({dataset}); compare a table file with a table run or "
                          "a table dataset")
    missing = [c for c in real.frame.columns if c not in synth.columns]
    if missing:
        raise ConfigError(f"{str(source)!r} lacks the column {missing[0]!r} of {dataset}; its columns must be: "
                          f"{', '.join(map(str, real.frame.columns))}")
    synth = synth[list(real.frame.columns)]
    if len(synth) < 2:
        raise ConfigError(f"{str(source)!r} holds {len(synth)} row(s); evaluate at least 2")
    out = args.out or source.with_name(f"{source.stem}.eval.json")
    check_out_file(out, True)
    check_suffix(out, (".json",), "evaluation records are")
    metrics = evaluate_table(real.frame, synth, real.test_frame, real.transformer.discrete, real.target,
                             seed=args.seed)
    protocol = {"source": str(source), "source_kind": "table", "reference": {"dataset": dataset,
                "options": options, "train_rows": len(real.frame), "test_rows": len(real.test_frame)},
                "synthetic_rows": len(synth), "target": real.target, "seed": args.seed}
    write_record(out, eval_record(metrics, protocol, source_sha256=source_sha256(source)), "--out")
    for key in ("quality", "column_shapes", "pair_trends"):
        if key in metrics:
            print(f"{key:<14} {metrics[key]:.4f}")
    print(f"wrote {out}")
    return 0


# ---- the image protocol: validate -> load -> compute -> record ----------------------------------------------------


@dataclass
class ImageEval:
    """One image-protocol evaluation, settled (every argument checked, the extractor loaded) before anything slow."""

    source: Path
    from_run: bool
    metrics: list[str]
    k_pr: int
    k_dc: int
    n_real_arg: NReal  # --n-real after --protocol
    n_fake: int
    shape: tuple[int, ...]  # one sample [C, H, W]
    dataset: str
    split: str
    extractor: ProgressExtractor
    out: Path
    user_named: bool  # out is the user's (--out, or beside saved samples): write_owned, never over another file
    cfg: Any = None  # a run's config, generator and checkpoint state; None for saved samples
    G: Any = None
    state: Any = None  # ganforge.checkpoint.Checkpoint of a run
    fake_u8: Tensor | None = None  # saved samples [n_fake, C, H, W]; a run's are generated in ``compute``


@dataclass
class Reference:
    """The real side: the cached feature statistics of the first ``n`` images of ``dataset:split``."""

    stats: Any  # ``reference_statistics``' result
    key: str
    options: dict[str, Any]
    n: int
    split_size: int
    seconds: float


def run(args: argparse.Namespace) -> int:
    if args.source.suffix.lower() in TABLE_SUFFIXES:
        return eval_table_file(args)
    t0 = time.perf_counter()
    metrics, (k_pr, k_dc), (n_arg, n_real_arg) = validate(args)
    device = resolve_device(args.device, "--device")
    loaded = None  # a run's (config, sampler, spec, checkpoint), loaded once for either evaluation
    if is_run(args.source):
        loaded = load_generator(args.source, device, use_ema=not args.no_ema)
        if (code := task_evaluation(args.source, args, loaded, device)) is not None:
            return code
    job = load(args, loaded, metrics, (k_pr, k_dc), (n_arg, n_real_arg), device)
    reference = load_reference(job, args)
    values, t_feat = compute(job, reference, args, device)
    record(job, reference, values, args, device, {"reference": round(reference.seconds, 3),
                                                  "fake_features": round(t_feat, 3),
                                                  "total": round(time.perf_counter() - t0, 3)})
    return 0


def validate(args: argparse.Namespace) -> tuple[list[str], tuple[int, int], tuple[int | None, NReal]]:
    """The options every source takes, checked before anything is loaded: (metrics, (k_pr, k_dc), (--n, --n-real)
    after ``--protocol``)."""
    metrics = parse_metrics(args.metrics)
    check_seed(args.seed)
    check_positive(args.n, "--n")
    check_positive(args.batch_size, "--batch-size")
    for flag in ("k", "k_pr", "k_dc"):
        check_positive(getattr(args, flag), f"--{flag.replace('_', '-')}")
    k_pr, k_dc = (args.k, args.k) if args.k is not None else (args.k_pr, args.k_dc)
    counts = resolve_protocol(args.protocol, args.n, parse_n_real(args.n_real))
    if not args.source.exists():
        raise RunError(f"{str(args.source)!r} not found; pass a run directory, a checkpoint .pt, a folder of PNG "
                       "samples or an .npz of uint8 images")
    return metrics, (k_pr, k_dc), counts


def load(args: argparse.Namespace, loaded: tuple | None, metrics: list[str], ks: tuple[int, int],
         counts: tuple[int | None, NReal], device: torch.device) -> ImageEval:
    """The fake side (a run's generator, checked cheaply, or saved images), the reference named, the extractor loaded
    and the record's path checked; every refusal of the image protocol happens here."""
    source, from_run = args.source, loaded is not None
    if not from_run and args.ref is None:
        raise ConfigError("--ref DATASET:SPLIT is required when evaluating saved samples (e.g. --ref mnist:train)")
    ref = parse_ref(args.ref) if args.ref is not None else None
    needs_probs = _requested(metrics, "needs_probabilities")
    if args.features == "inception-fid" and needs_probs:  # asked for explicitly (the default is chosen below)
        raise ConfigError(f"metric {needs_probs[0]!r} needs class probabilities, but inception-fid has no logits (its "
                          f"network ends at pool3); use --features mnist-classifier or drop {needs_probs[0]!r} from "
                          "--metrics")
    cfg, G, state, fake_u8, shape, n_fake = fake_side(source, loaded, counts[0], args.protocol)
    dataset, split = ref or parse_ref(f"{cfg.data.name}:train")
    if args.protocol == "fid50k_full" and split != "train":
        raise ConfigError(f"--protocol fid50k_full compares with the training split; use --ref {dataset}:train")
    extractor = load_extractor(args, shape, needs_probs, device)
    name = args.name or f"{extractor.name}_{dataset}-{split}_n{n_fake}"
    out = args.out or default_out(source, from_run, name)
    user_named = args.out is not None or not from_run  # a default beside saved samples is in the user's folder
    check_out_file(out, user_named)
    check_suffix(out, (".json",), "evaluation records are")
    if G is not None:  # generated uint8 images + their features (float32, and float64 for the statistics)
        check_memory(n_fake * (math.prod(shape) + 12 * extractor.feature_dim), f"eval --n {n_fake}",
                     "lower --n")
    return ImageEval(source, from_run, metrics, *ks, counts[1], n_fake, shape, dataset, split, extractor, out,
                     user_named, cfg, G, state, fake_u8)


def fake_side(source: Path, loaded: tuple | None, n_arg: int | None, protocol: str | None
              ) -> tuple[Any, Any, Any, Tensor | None, tuple[int, ...], int]:
    """(cfg, G, state, saved images or None, sample shape, n_fake) of a run (``loaded``) or of saved samples."""
    if loaded is not None:
        cfg, G, spec, state = loaded
        return cfg, G, state, None, tuple(spec.shape), n_arg or DEFAULT_N
    fake_u8 = read_npz(source) if source.suffix == ".npz" else read_png_dir(source)
    if protocol == "fid50k_full" and fake_u8.shape[0] < FID_PROTOCOL_N:
        raise ConfigError(f"--protocol fid50k_full needs {FID_PROTOCOL_N} generated images; {str(source)!r} "
                          f"holds {fake_u8.shape[0]}")
    n_fake = min(n_arg, fake_u8.shape[0]) if n_arg else fake_u8.shape[0]
    return None, None, None, fake_u8[:n_fake], tuple(fake_u8.shape[1:]), n_fake


def load_extractor(args: argparse.Namespace, shape: tuple[int, ...], needs_probs: list[str],
                   device: torch.device) -> ProgressExtractor:
    """``--features`` (or the default for ``shape``, said on stderr), loaded and checked against the samples."""
    features = args.features or default_features(shape)
    if args.features is None:
        why, other = ("28x28 grey digits", "inception-fid") if features != "inception-fid" else ("the standard FID "
                                                                                               "network", "NAME")
        print(f"ganforge: eval: features {features} ({why}; --features {other} to choose another)", file=sys.stderr)
    inner = make_extractor(features, device, args.batch_size)
    if needs_probs and inner.num_classes is None:
        raise ConfigError(f"metric {needs_probs[0]!r} needs class probabilities, but {inner.name} has none; use "
                          f"--features mnist-classifier or drop {needs_probs[0]!r} from --metrics")
    extractor = ProgressExtractor(inner, args.batch_size, progress=not args.no_progress)
    check_shape(extractor, shape)
    return extractor


def load_reference(job: ImageEval, args: argparse.Namespace) -> Reference:
    """The real images of ``job``'s reference, their count checked against the metrics, then their statistics (from
    the cache, or computed and cached)."""
    real_all, key, options = load_reference_images(job.dataset, job.split, job.cfg)
    split_size = int(real_all.shape[0])
    n_real = resolve_n_real(job.n_real_arg, split_size, job.n_fake, f"{job.dataset}:{job.split}")
    if tuple(real_all.shape[1:]) != job.shape:
        raise ConfigError(f"--ref {job.dataset}:{job.split} has images of shape {list(real_all.shape[1:])}, the "
                          f"samples have {list(job.shape)}; compare with a dataset of the same shape")
    check_counts(job, n_real)
    check_cache(reference_path(key, job.split, job.extractor.name, n_real, args.cache), args.cache)
    print_estimate(job.extractor, job.shape, job.n_fake, n_real, key, job.split, args.cache)
    t = time.perf_counter()
    stats = reference_statistics(job.extractor, key, job.split, n_real, lambda: real_all[:n_real], root=args.cache)
    return Reference(stats, key, options, n_real, split_size, time.perf_counter() - t)


def resolve_n_real(n_real_arg: NReal, split_size: int, n_fake: int, ref: str) -> int:
    """``--n-real``: all of the split, a count (at most the split's size) or by default ``min(n_fake, split)``."""
    if n_real_arg == "all":
        return split_size
    if n_real_arg is not None:
        if n_real_arg > split_size:
            raise ConfigError(f"--n-real {n_real_arg}: {ref} has only {split_size} images; pass at most "
                              f"{split_size} or --n-real all")
        return n_real_arg
    return min(n_fake, split_size)


def check_counts(job: ImageEval, n_real: int) -> None:
    """Enough fake and real images for every requested metric, and real features kept where a metric needs them."""
    metrics, n_fake = job.metrics, job.n_fake
    real_feats = _requested(metrics, "needs_real_features")
    if n_real > MAX_STORED_FEATURES and real_feats:
        keep = [m for m in metrics if m not in real_feats]
        raise ConfigError(f"{'/'.join(real_feats)} need the real features, which are kept only for n <= "
                          f"{MAX_STORED_FEATURES}; pass --n {MAX_STORED_FEATURES}"
                          + (f" and --n-real {MAX_STORED_FEATURES} (not all, no --protocol fid50k_full)"
                             if job.n_real_arg is not None else "")
                          + (f" or use --metrics {','.join(keep)}" if keep else ""))
    if n_fake < 2 or n_real < 2:
        raise ConfigError(f"need at least 2 fake and 2 real images, got {n_fake} and {n_real}")
    small = [m for m in metrics if min(n_fake, n_real) < min_images(m, job.k_pr, job.k_dc)]
    if small:
        need = max(min_images(m, job.k_pr, job.k_dc) for m in small)
        raise ConfigError(f"{'/'.join(small)} need more than {need - 1} fake and real images (k-nearest "
                          f"neighbours), got {n_fake} and {n_real}; raise --n or drop {','.join(small)} from --metrics")


def compute(job: ImageEval, reference: Reference, args: argparse.Namespace, device: torch.device
            ) -> tuple[dict[str, float], float]:
    """(the metrics' values, seconds of fake features): a run's images are generated here, "the n samples of seed
    S", converted to uint8 batch by batch (G's float output never exists for all n at once)."""
    fake_u8 = job.fake_u8
    if job.G is not None:
        fake_u8 = torch.cat([images_uint8(b, job.G) for b in iter_samples(job.G, job.n_fake, args.seed, device,
                                                                           batch_size=args.batch_size)])
    t_feat = time.perf_counter()
    fake_features = job.extractor(fake_u8).numpy()
    t_feat = time.perf_counter() - t_feat
    values = evaluate(job.metrics, reference.stats, fake_features, args.seed,
                      probabilities=lambda: job.extractor.probabilities(fake_u8), k_pr=job.k_pr, k_dc=job.k_dc)
    return values, t_feat


def record(job: ImageEval, reference: Reference, values: dict[str, float], args: argparse.Namespace,
           device: torch.device, seconds: dict[str, float]) -> None:
    """The record (values, protocol with the source's sha256, caveats, versions) to ``job.out``, and a short table."""
    source, n_fake, n_real = job.source, job.n_fake, reference.n
    caveats = metric_warnings(job.metrics, n_fake, n_real)
    if "kid" in caveats:  # a figure that looks like any other KID (the table notes the rest)
        print(f"ganforge: warning: {caveats['kid']}", file=sys.stderr)
    source_file = checkpoint_file(source) if job.from_run else source
    protocol: dict[str, Any] = {
        "source": str(source),
        "source_kind": "run" if job.from_run else ("npz" if source.suffix == ".npz" else "png-dir"),
        "metrics_requested": job.metrics, "n_fake": n_fake, "n_real": n_real,
        "fid_protocol": fid_protocol_name(n_fake, n_real, job.split, reference.split_size),
        "reference": {"dataset": job.dataset, "options": reference.options, "split": job.split, "n": n_real,
                      "split_size": reference.split_size,
                      "images": f"first {n_real} of the split" if n_real < reference.split_size else "the whole split",
                      "images_sha256": reference.stats.meta.get("images_sha256"), "cache_key": reference.key,
                      "cache": str(reference.stats.path) if reference.stats.path else None},
        **extractor_provenance(job.extractor), "seed": args.seed, "device": str(device),
        **metric_protocol(n_fake, n_real, args.seed, job.k_pr, job.k_dc),
        "warnings": caveats,
        "seconds": seconds,
    }
    if job.from_run:
        protocol.update({"generator": generator_kind(job.state, not args.no_ema),
                         "step": job.state.step if job.state.trainer is not None else None, "run_name": job.cfg.name,
                         "sampling": f"sampling.iter_latents: z (and random labels) drawn in chunks of "
                                     f"{LATENT_CHUNK} from torch.Generator().manual_seed(seed), whatever the batch "
                                     "size: the images `ganforge sample --seed` writes"})
    write_record(job.out, eval_record(values, protocol, source_sha256=source_sha256(source_file),
                                      batch_size=args.batch_size), flag="--out", user_named=job.user_named)
    print_table(values, protocol, job.out)


def task_evaluation(source: Path, args: argparse.Namespace, loaded: tuple, device: torch.device) -> int | None:
    """Runs whose data kind evaluates itself (translation pairs, tables, series: ``DataKind.standalone_eval``) are
    judged by their kind's ``evaluate`` (the same numbers training records, e.g. L1/PSNR/SSIM on the held-out split)
    and written to ``RUN/eval/task.json`` (or ``--out``); None = an image/vector run, evaluated by the code below.
    ``loaded``: what ``load_generator`` returned for ``source``."""
    from ganforge.builder import build_dataset
    from ganforge.kinds import hooks_for

    cfg, sampler, _, state = loaded
    kind = state.kind  # the kind is saved with the checkpoint
    hooks = hooks_for(kind)
    if not hooks.standalone_eval:
        return None
    unused = [f"--{k.replace('_', '-')}" for k in IMAGE_EVAL_FLAGS if getattr(args, k, None) != DEFAULTS.get(k)]
    if unused:  # ignored silently, the record would not be what the user asked for
        raise ConfigError(f"{', '.join(unused)}: a {kind} run is evaluated by its own metrics (the ones training "
                          f"records), not the image protocol these options set; drop {' and '.join(unused)}")
    out = args.out or run_root(source) / "eval" / "task.json"
    check_out_file(out, args.out is not None)
    check_suffix(out, (".json",), "evaluation records are")
    data = build_dataset(cfg)
    t0 = time.perf_counter()
    values = hooks.evaluate(sampler, data, cfg, device)
    step = state.step
    protocol = {**hooks.protocol(data, cfg, generator_kind(state, not args.no_ema), step),
                "source": str(source), "source_kind": "run", "seconds": {"total": round(time.perf_counter() - t0, 3)}}
    write_record(out, eval_record(values, protocol, source_sha256=source_sha256(checkpoint_file(source))),
                 flag="--out", user_named=args.out is not None)
    print(f"{cfg.name}: {data.kind} evaluation (step {step}, {protocol['generator']})")
    print(f"{'metric':<28} {'value':>12}")
    for k, v in values.items():
        print(f"{k:<28} {v:>12.5g}")
    print(f"record: {out}")
    return 0


def check_cache(entry: Path, flag_value: Path | None) -> None:
    """One-line error, before any slow work, for a cache that is a file, or read-only when ``entry`` is missing."""
    root = cache_dir(flag_value)
    flag = "--cache" if flag_value is not None else f"${CACHE_ENV}" if os.environ.get(CACHE_ENV) else "the cache"
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{flag} {str(root)!r} is a file, not a folder; pass a folder for the reference statistics")
    if not entry.is_file():
        check_writable(entry, flag)


def default_out(source: Path, from_run: bool, name: str) -> Path:
    if from_run:
        return run_root(source) / "eval" / f"{name}.json"
    if source.is_dir():
        return source.parent / f"{source.name}-eval-{name}.json"
    return source.with_name(f"{source.stem}-eval-{name}.json")


def print_table(values: dict[str, float], protocol: dict[str, Any], out: Path) -> None:
    ref = protocol["reference"]
    print(f"{protocol['extractor']} features; {protocol['n_fake']} fake vs {protocol['n_real']} real "
          f"({ref['dataset']}:{ref['split']}); seed {protocol['seed']}; protocol {protocol['fid_protocol']}")
    print(f"{'metric':<10} {'value':>12}")
    for k, v in values.items():
        print(f"{k:<10} {v:>12.5g}")
    for name, line in protocol.get("warnings", {}).items():
        print(f"note ({name}): {line}")
    print(f"wrote {out}")
