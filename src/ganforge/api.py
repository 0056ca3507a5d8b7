"""ganforge as a library: train, load, sample, translate, detect and evaluate from Python (a notebook).

Every function here calls what the CLI calls — ``config.load_preset`` / ``config_from_dict`` (``--set``),
``training.run.Run`` (``ganforge train``), ``training.rundir.load_run`` (``sample``/``eval``/...), the data kind's
``DataKind`` (in-training evaluation), ``kinds.table.synthesize`` (table samples), ``kinds.series.detect_series``
(``detect``) and ``family.translate`` (``translate``) — so a run trained here is a run directory the CLI reads, and
back. Two drop-in estimators for users coming from other libraries: ``CTGAN`` (ctgan's argument names) and
``TadGAN`` (Orion's ``fit_detect`` on a timestamp/value DataFrame).

    import ganforge
    run = ganforge.train("ring8", "runs/ring8", **{"train.steps": 200})
    model = ganforge.load(run.run_dir)
    x = model.sample(1000, seed=0)                 # tensor [1000, 2]
    ganforge.evaluate(model)                        # {'modes': ..., 'high_quality_percent': ...}

``import ganforge`` stays light: ``ganforge/__init__.py`` re-exports these names lazily (PEP 562 ``__getattr__``).
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganforge.config import RunConfig, apply_override, config_from_dict, load_preset
from ganforge.options import ConfigError

if TYPE_CHECKING:
    from ganforge.checkpoint import Checkpoint

__all__ = ["CTGAN", "Model", "Run", "TadGAN", "evaluate", "load", "train"]


# ---- configs ---------------------------------------------------------------------------------------------------------

SECTIONS = ("model", "objective", "data", "optim", "train", "log")


def _flatten(overrides: Mapping[str, Any]) -> list[tuple[list[str], Any]]:
    """``{"train.steps": 5, "train": {"seed": 1}, "data.options": {"path": "t.csv"}}`` -> ``[(["train", "steps"],
    5), (["train", "seed"], 1), (["data", "options"], {"path": "t.csv"})]``.

    A dotted key sets its value as ``--set KEY=VALUE`` does (a mapping value replaces the whole entry, e.g. a
    dataset's ``data.options``); a bare section name (``train=``, ``log=``, ...) with a mapping sets each of its keys
    (``train={"steps": 50}`` is ``train.steps=50``, the rest of the section kept)."""
    out: list[tuple[list[str], Any]] = []
    for key, value in overrides.items():
        if key in SECTIONS and isinstance(value, Mapping):
            out += [([key, *str(k).split(".")], v) for k, v in value.items()]
        else:
            out.append((str(key).split("."), value))
    return out


def resolve(preset_or_yaml: str | Path, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """A preset name or YAML file with ``overrides`` (dotted keys or nested dicts) -> a checked ``RunConfig``:
    ``ganforge config PRESET --set KEY=VALUE ...`` as a function (values are Python objects, not strings)."""
    data = copy.deepcopy(load_preset(str(preset_or_yaml)))
    for keys, value in _flatten(overrides or {}):
        if not all(keys):
            raise ConfigError(f"override key {'.'.join(keys)!r} is malformed; use dotted keys like 'train.steps'")
        apply_override(data, keys, value)
    return config_from_dict(data)


# ---- train / load ----------------------------------------------------------------------------------------------------

class Run:
    """A finished (or interrupted) training run: its directory, config and summary (``ganforge train``'s JSON).

    ``run.metrics`` are the final evaluation's numbers (``eval/final.json``); ``run.load()`` gives the ``Model``."""

    def __init__(self, run_dir: Path, config: RunConfig, summary: dict[str, Any]) -> None:
        self.run_dir, self.config, self.summary = Path(run_dir), config, summary

    @property
    def metrics(self) -> dict[str, Any]:
        """The final evaluation (empty when the run was interrupted or its data kind has none)."""
        return dict(self.summary.get("metrics") or {})

    def load(self, device: str = "cpu") -> Model:
        """The trained model (its EMA copies when the run kept them)."""
        return load(self.run_dir, device=device)

    def __repr__(self) -> str:
        s = self.summary
        return f"ganforge.Run({str(self.run_dir)!r}, status={s.get('status')!r}, step={s.get('step')})"


def train(preset_or_yaml: str | Path, run_dir: str | Path | None = None, *, quiet: bool = False,
          resume: str | None = None, overwrite: bool = False, **overrides: Any) -> Run:
    """Train a preset (``"ring8"``) or a YAML config into ``run_dir`` (default ``runs/<name>``) and return the ``Run``.

    ``overrides`` are config values by dotted key (``**{"train.steps": 50}``) or as nested dicts
    (``train={"steps": 50}``), as ``--set`` on the command line. ``quiet`` hides the progress bar (a ``tqdm.auto``
    bar: a widget in Jupyter). ``resume="latest"`` continues a run; ``overwrite`` replaces one. Errors are the CLI's
    one-line ``ConfigError`` / ``RunError`` (a ``ValueError`` / ``RuntimeError``) with the fix in the message."""
    from ganforge.report import write_run_report
    from ganforge.training import distributed
    from ganforge.training.run import Run as TrainingRun

    cfg = resolve(preset_or_yaml, overrides)
    folder = Path(run_dir) if run_dir is not None else Path("runs") / cfg.name
    if resume and not overwrite:  # the run's own config + these overrides, as `ganforge train --resume`
        from ganforge.training.resume import resume_config

        sets = [f"{'.'.join(k)}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in _flatten(overrides)]
        cfg = resume_config(str(preset_or_yaml), folder, resume, sets, None)
    finished = False
    try:
        run = TrainingRun(cfg, folder, resume=resume, overwrite=overwrite, progress=False if quiet else None,
                          report=write_run_report)
        summary = run.train()
        finished = True
    finally:
        distributed.destroy(synchronize=finished)  # no-op in a single process
    return Run(folder, cfg, summary)


class Model:
    """A trained run loaded for use: ``sample``, ``translate``, ``detect``; ``evaluate(model)`` scores it.

    Attributes: ``config`` (``RunConfig``), ``kind`` (the data kind: image, mixture2d, table, series, field, tracks,
    paired, ...), ``sampler`` (the family's ``Sampler``, an ``nn.Module`` in eval mode), ``spec`` and ``device``."""

    def __init__(self, run_dir: Path, config: RunConfig, sampler: torch.nn.Module, spec: Any, state: Checkpoint,
                 device: torch.device) -> None:
        self.run_dir, self.config, self.sampler, self.spec, self.device = run_dir, config, sampler, spec, device
        self.kind: str = state.kind
        self._data: Any = None

    def __repr__(self) -> str:
        return f"ganforge.Model({str(self.run_dir)!r}, model={self.config.model.name!r}, kind={self.kind!r})"

    @property
    def data(self) -> Any:
        """The run's training data (built once, on first use: tables, fields and tracks need it to decode)."""
        if self._data is None:
            from ganforge.builder import build_dataset

            self._data = build_dataset(self.config)
        return self._data

    def sample(self, n: int, labels: Any = None, truncation: float | None = None, seed: int = 0) -> Any:
        """``n`` samples of seed ``seed`` — the ones ``ganforge sample RUN --n n --seed seed`` writes.

        - images: uint8 tensor ``[n, C, H, W]`` (what the PNGs hold); vectors (2-D/1-D toys): float32 ``[n, D]``;
        - tables: a ``pandas.DataFrame`` with the original columns and dtypes;
        - storm tracks: a long ``DataFrame`` (storm, category, step, hour, lat, long, wind, pressure);
        - fields: ``{"fields": float32 [n, C, H, W] in physical units, "cond": [n, K], "channels", "units"}``.

        ``labels``: class labels for conditional models (an int for all, or a sequence of ``n``); ``truncation``:
        the truncation trick (z-space threshold, or ψ for style-based generators)."""
        from ganforge.sampling import generate_samples

        if n < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        G = self.sampler
        G.set_truncation(truncation)
        label_t = self._labels(labels, n)
        if self.kind == "table":
            from ganforge.kinds.table import run_transformer, synthesize

            layout = G.nets["G"].layout
            tf = run_transformer(self.run_dir, self.config, {"modes": tuple(layout.modes),
                                                             "categories": tuple(layout.categories)})
            return synthesize(G, tf, n, seed, self.device, self.config.train.batch_size)
        if self.kind == "tracks":
            from ganforge.kinds.tracks import generate_tracks, tracks_frame

            data = self.data
            if label_t is None:  # the training storms' category mix, as `ganforge sample`
                label_t = data.y[torch.randint(len(data.y), (n,), generator=torch.Generator().manual_seed(seed))]
            tracks, lifetimes = generate_tracks(G, data, label_t, seed, self.device)
            return tracks_frame(tracks, lifetimes, label_t.numpy())
        if self.kind == "field":
            from ganforge.kinds.field import generate_fields

            data = self.data
            cond = data.cond[np.random.default_rng(seed).integers(0, len(data), n)]
            fields = data.denormalise(generate_fields(G, cond, seed, self.device))
            return {"fields": fields, "cond": cond, "channels": list(data.channels), "units": list(data.units)}
        if self.kind in ("paired", "unpaired"):
            raise ConfigError(f"a {self.config.model.name} run translates images; use model.translate(images)")
        x = generate_samples(G, n, seed, self.device, labels=label_t)
        if len(self.spec.shape) == 3:
            from ganforge.data.base import to_uint8
            from ganforge.models.base import output_range

            return to_uint8(x, output_range(G)).cpu()
        return x.cpu()

    def _labels(self, labels: Any, n: int) -> torch.Tensor | None:
        if labels is None:
            return None
        from ganforge.models.base import conditioning_dim

        c_dim = conditioning_dim(self.sampler)
        if not c_dim:
            raise ConfigError("labels: this model is unconditional (trained without labels); drop labels")
        t = torch.full((n,), int(labels)) if np.ndim(labels) == 0 else torch.as_tensor(np.asarray(labels))
        t = t.long()
        if t.shape != (n,) or int(t.min()) < 0 or int(t.max()) >= c_dim:
            raise ConfigError(f"labels must be one int or {n} ints in [0, {c_dim}); got shape {list(t.shape)}")
        return t

    def translate(self, images: Any, *, direction: str | None = None, domain: int | None = None,
                  z_samples: int | None = None, seed: int = 0, resize: bool = False) -> torch.Tensor:
        """Translate ``images`` (uint8 ``[N, C, H, W]`` tensor/array, or a path to an image, folder or .npz) with an
        image-to-image run: uint8 ``[N, K, C, H, W]`` (K outputs per input: domains, z samples; 1 otherwise), as
        ``ganforge translate`` computes them. Grey↔RGB is converted to what the model takes; ``resize`` converts
        other sizes."""
        from ganforge.commands.translate import fit_images, read_images
        from ganforge.models.base import TranslateRequest

        family, nets = self.sampler.family, dict(self.sampler.nets.items())
        if not family.translates or self.kind not in ("paired", "unpaired"):
            raise ConfigError(f"a {self.config.model.name} run does not translate images; train an image-to-image "
                              "preset (pix2pix-edges2mnist, cyclegan-mnist2mnistm, ...)")
        request = TranslateRequest(direction=direction, domain=domain, z_samples=z_samples, seed=seed)
        shape = tuple(family.translation_input(nets, request))
        if isinstance(images, (str, Path)):
            arrays, names = read_images(Path(images), "images")
        else:
            x = torch.as_tensor(np.asarray(images))
            if x.dtype != torch.uint8 or x.ndim != 4:
                raise ConfigError(f"images must be uint8 [N, C, H, W], got {x.dtype} {list(x.shape)}")
            arrays, names = list(x.permute(0, 2, 3, 1).numpy()), [f"{i:05d}" for i in range(len(x))]
        x = fit_images(arrays, names, shape, resize, flag="images")
        with torch.no_grad():
            return family.translate(nets, x.to(self.device), request).outputs.cpu()

    def detect(self, series: Any, *, value_column: str = "value", timestamp_column: str = "timestamp",
               scale: str = "train", **options: Any) -> Any:
        """Anomalous intervals of ``series`` (a DataFrame with a value column and optional timestamps, a 1-D array,
        or a CSV path) with a TadGAN run, as ``ganforge detect``: a DataFrame ``start, end, severity`` (timestamps,
        Orion's shape; ``start_index``/``end_index`` too). ``scale="train"`` uses the training series' min-max
        scaler, ``"input"`` fits it on ``series`` (Orion's ``fit_detect``). ``options``: ``DetectOptions`` fields
        (``k``, ``comb``, ``rec_error_type``, ...)."""
        return self._detection(series, value_column, timestamp_column, scale, options)[0]

    def _detection(self, series: Any, value_column: str, timestamp_column: str, scale: str,
                   options: dict[str, Any]) -> tuple[Any, Any, Any]:
        import pandas as pd

        from ganforge.data.timeseries import make_series
        from ganforge.kinds.series import detect_series
        from ganforge.metrics.anomaly import DetectOptions

        if "Cx" not in self.sampler.nets or "E" not in self.sampler.nets:
            raise ConfigError(f"a {self.config.model.name} run does not detect anomalies; train a TadGAN run "
                              "(ganforge.TadGAN or preset tadgan-ucr135)")
        if scale not in ("train", "input"):
            raise ConfigError(f"scale must be 'train' or 'input', got {scale!r}")
        values, timestamps = _series(series, value_column, timestamp_column)
        fit_scale = self.data.scale if scale == "train" else None
        s = make_series(values, timestamps, [], int(self.spec.shape[0]), 1, "input", scale=fit_scale)
        detection = detect_series(self.sampler, s, DetectOptions(**options))
        ts = s.timestamps
        frame = pd.DataFrame([{"start": ts[a], "end": ts[b], "severity": sc, "start_index": a, "end_index": b}
                              for a, b, sc in detection.intervals],
                             columns=["start", "end", "severity", "start_index", "end_index"])
        return frame, s, detection


def _series(series: Any, value_column: str, timestamp_column: str) -> tuple[np.ndarray, np.ndarray]:
    """(values float64 [T], timestamps [T]) of a DataFrame / Series / array / CSV path."""
    import pandas as pd

    if isinstance(series, (str, Path)):
        series = pd.read_csv(series)
    if isinstance(series, pd.DataFrame):
        if value_column not in series.columns:
            columns = ", ".join(map(str, series.columns))
            raise ConfigError(f"the series has no column {value_column!r} (columns: {columns}); pass value_column=")
        values = series[value_column].to_numpy(dtype=np.float64)
        stamps = (series[timestamp_column].to_numpy() if timestamp_column in series.columns
                  else np.arange(len(series)))
    else:
        values = np.asarray(series, dtype=np.float64).reshape(-1)
        stamps = np.arange(len(values))
    if not np.isfinite(values).all():
        raise ConfigError("the series holds NaN or inf values; fill or drop them first")
    return values, stamps


def load(run_dir: str | Path, *, checkpoint: str = "latest", device: str = "cpu", use_ema: bool = True) -> Model:
    """A trained run directory (or checkpoint .pt) as a ``Model``, exactly as ``ganforge sample`` loads it."""
    from ganforge.builder import resolve_device
    from ganforge.commands.common import load_generator, run_root

    dev = resolve_device(device, "device")
    path = Path(run_dir)
    if checkpoint != "latest" and path.is_dir():
        path = path / "checkpoints" / checkpoint
    cfg, sampler, spec, state = load_generator(path, dev, use_ema=use_ema)
    return Model(run_root(path), cfg, sampler, spec, state, dev)


# ---- evaluate --------------------------------------------------------------------------------------------------------

def evaluate(run_or_samples: Any, real: Any = None, *, discrete_columns: list[str] | None = None,
             target: str = "", test: Any = None, seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Metrics of a trained run, or of synthetic samples against real ones.

    - a ``Run``, ``Model`` or run directory: the data kind's evaluation — the numbers training writes to
      ``eval/final.json`` (toys: modes / high-quality %; digits: mnist-classifier confidence, entropy, FID; tables:
      column shapes, pair trends, quality, ML efficacy; series: F1 on the test split; fields; tracks);
    - a synthetic ``DataFrame`` with ``real`` (a DataFrame): ``metrics.tabular.evaluate_table`` (column shapes,
      pair trends, quality; ML efficacy when ``target`` and ``test`` are given)."""
    import pandas as pd

    if isinstance(run_or_samples, pd.DataFrame):
        if not isinstance(real, pd.DataFrame):
            raise ConfigError("evaluate(synthetic DataFrame) needs real=<the real DataFrame>")
        from ganforge.metrics.tabular import evaluate_table

        types = pd.api.types
        discrete = discrete_columns if discrete_columns is not None else [
            c for c in real.columns if not types.is_numeric_dtype(real[c]) or types.is_bool_dtype(real[c])]
        test_df = test if test is not None else real.iloc[:0]
        return evaluate_table(real, run_or_samples[list(real.columns)], test_df, discrete, target, seed=seed)
    if isinstance(run_or_samples, Run):
        run_or_samples = run_or_samples.run_dir
    model = run_or_samples if isinstance(run_or_samples, Model) else load(run_or_samples, device=device)
    from ganforge.kinds import hooks_for

    hooks = hooks_for(model.kind)
    model.sampler.set_truncation(None)
    return hooks.evaluate(model.sampler, model.data, model.config, model.device)


# ---- drop-in estimators ----------------------------------------------------------------------------------------------

def _workdir(run_dir: str | Path | None, prefix: str) -> tuple[Path, Any]:
    """(run directory, TemporaryDirectory holding it or None): a temporary one unless the user names it."""
    if run_dir is not None:
        return Path(run_dir), None
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    return Path(tmp.name) / "run", tmp


class CTGAN:
    """ctgan's ``CTGAN`` estimator on ganforge's CTGAN (Xu et al. 2019): ``CTGAN(epochs=300).fit(df,
    discrete_columns).sample(n)``. Arguments named as in ctgan 0.10 mean the same; ``embedding_dim`` is z's size,
    ``generator_dim``/``discriminator_dim`` the hidden widths, ``pac`` the PacGAN packing, ``epochs`` passes over the
    training rows (``epochs · rows // batch_size`` steps, ``data.tabular.n_steps``). ganforge holds out
    ``test_fraction`` of the rows for its quality report (ctgan trains on all rows: pass ``test_fraction=0``).

    The base config is the ``ctgan-health-insurance`` preset (ctgan's defaults), so ``fit`` trains what
    ``ganforge train ctgan-health-insurance --set data.name=table --set data.options.path=FILE ...`` trains.
    ``run_dir`` keeps the run (default: a temporary folder removed with the estimator)."""

    PRESET = "ctgan-health-insurance"

    def __init__(self, embedding_dim: int = 128, generator_dim: tuple[int, ...] = (256, 256),
                 discriminator_dim: tuple[int, ...] = (256, 256), generator_lr: float = 2e-4,
                 generator_decay: float = 1e-6, discriminator_lr: float = 2e-4, discriminator_decay: float = 1e-6,
                 batch_size: int = 500, discriminator_steps: int = 1, log_frequency: bool = True,
                 verbose: bool = False, epochs: int = 300, pac: int = 10, cuda: bool = False, *,
                 seed: int = 0, test_fraction: float = 0.2, run_dir: str | Path | None = None,
                 **overrides: Any) -> None:
        if not log_frequency:
            raise ConfigError("log_frequency=False is not supported: ganforge's CTGAN samples conditions by "
                              "log-frequency (ctgan's default)")
        if batch_size % pac:
            raise ConfigError(f"batch_size ({batch_size}) must be a multiple of pac ({pac}), as in ctgan")
        self.epochs, self.batch_size, self.verbose, self.test_fraction = epochs, batch_size, verbose, test_fraction
        self.settings: dict[str, Any] = {
            "model.options.z_dim": embedding_dim, "model.options.g_hidden": list(generator_dim),
            "model.options.d_hidden": list(discriminator_dim), "model.options.pac": pac,
            "optim.g.lr": generator_lr, "optim.g.weight_decay": generator_decay,
            "optim.d.lr": discriminator_lr, "optim.d.weight_decay": discriminator_decay,
            "train.batch_size": batch_size, "train.d_steps": discriminator_steps, "train.seed": seed,
            "train.device": "cuda" if cuda and torch.cuda.is_available() else "cpu", **overrides}
        self.run_dir, self._tmp = _workdir(run_dir, "ganforge-ctgan-")
        self.run: Run | None = None
        self.model: Model | None = None

    def config_overrides(self, table: Path, n_rows: int, discrete_columns: list[str]) -> dict[str, Any]:
        """The overrides of the preset that ``fit`` trains with (also what a CLI user passes with ``--set``)."""
        from ganforge.data.tabular import n_steps

        train_rows = n_rows - round(n_rows * self.test_fraction)
        steps = n_steps(train_rows, self.batch_size, self.epochs)
        per_epoch = max(1, steps // max(1, self.epochs))
        return {"data.name": "table", "data.options": {"path": str(table), "discrete": list(discrete_columns),
                                                       "test_fraction": self.test_fraction, "seed": 0},
                "train.steps": steps, "train.checkpoint_every": steps, "log.every": per_epoch,
                "log.sample_every": 0, **self.settings}

    def fit(self, train_data: Any, discrete_columns: list[str] | tuple[str, ...] = ()) -> CTGAN:
        """Train on ``train_data`` (a DataFrame, or a CSV/Parquet path); ``discrete_columns`` as in ctgan (other
        non-numeric columns are discrete too). Returns ``self``."""
        import pandas as pd

        if isinstance(train_data, (str, Path)):
            table = Path(train_data)
            n_rows = len(pd.read_csv(table) if table.suffix.lower() == ".csv" else pd.read_parquet(table))
        elif isinstance(train_data, pd.DataFrame):
            from ganforge.outputs import write_owned

            table = self.run_dir / "train-table.parquet"  # in the run: config.yaml names it; Parquet keeps dtypes
            with write_owned(table, "run_dir") as tmp:  # never over a file ganforge did not write
                train_data.to_parquet(tmp, index=False)
            n_rows = len(train_data)
        else:
            raise ConfigError(f"train_data must be a pandas DataFrame or a CSV/Parquet path, got "
                              f"{type(train_data).__name__}")
        overrides = self.config_overrides(table, n_rows, list(discrete_columns))
        self.run = train(self.PRESET, self.run_dir, quiet=not self.verbose, overwrite=True, **overrides)
        self.model = self.run.load()
        return self

    def _fitted(self) -> Model:
        if self.model is None:
            raise ConfigError("this CTGAN is not fitted yet; call fit(df, discrete_columns) first")
        return self.model

    def sample(self, n: int, condition_column: str | None = None, condition_value: Any = None,
               seed: int | None = None) -> Any:
        """``n`` synthetic rows (a DataFrame, original columns and dtypes). ``seed`` picks the draw (default: a new
        one per call, as ctgan); ``condition_column`` is not supported yet."""
        if condition_column is not None:
            raise ConfigError("condition_column is not supported by ganforge.CTGAN yet; filter the sampled rows")
        if seed is None:
            self._calls = getattr(self, "_calls", -1) + 1
            seed = self._calls
        return self._fitted().sample(n, seed=seed)

    @property
    def metrics(self) -> dict[str, Any]:
        """The fitted run's quality report (column shapes, pair trends, quality, ML efficacy)."""
        return self.run.metrics if self.run is not None else {}

    def save(self, path: str | Path) -> None:
        """Not pickled: the run directory is the saved model (``ganforge.load(run_dir)``); pass ``run_dir=``."""
        raise ConfigError(f"ganforge keeps the model as a run directory; construct CTGAN(run_dir={str(path)!r}) and "
                          "reload it with ganforge.load")


class TadGAN:
    """Orion's ``Orion("tadgan")`` on ganforge's TadGAN (Geiger et al. 2020): ``TadGAN(epochs=35).fit_detect(df)``
    on a DataFrame with ``timestamp`` and ``value`` columns returns the anomalous intervals as a DataFrame
    ``start, end, severity`` (timestamps), as Orion does. The base config is the ``tadgan-ucr135`` preset (Orion's
    networks); ``epochs`` passes over the windows (``steps = epochs · windows // (batch_size · d_steps)``, the
    preset's accounting), or pass ``steps``. Detection scales the series on itself (Orion's ``fit_detect``)."""

    PRESET = "tadgan-ucr135"

    def __init__(self, epochs: int = 35, *, steps: int | None = None, window_size: int = 100, batch_size: int = 12,
                 seed: int = 0, verbose: bool = False, run_dir: str | Path | None = None, **overrides: Any) -> None:
        self.epochs, self.steps, self.window, self.batch_size, self.seed = epochs, steps, window_size, batch_size, seed
        self.verbose, self.overrides = verbose, overrides
        self.run_dir, self._tmp = _workdir(run_dir, "ganforge-tadgan-")
        self.run: Run | None = None
        self.model: Model | None = None

    def fit(self, data: Any) -> TadGAN:
        """Train on ``data`` (DataFrame with ``timestamp``/``value``, or a CSV path). Returns ``self``."""
        values, stamps = _series(data, "value", "timestamp")
        if len(values) < self.window + 1:
            raise ConfigError(f"the series has {len(values)} points; it needs more than window_size={self.window}")
        csv = self.run_dir / "train-series.csv"  # in the run: config.yaml names it
        import pandas as pd

        from ganforge.outputs import write_owned

        with write_owned(csv, "run_dir") as tmp:  # never over a file ganforge did not write
            pd.DataFrame({"timestamp": stamps, "value": values}).to_csv(tmp, index=False)
        d_steps = int(self.overrides.get("train.d_steps", 5))
        windows = len(values) - self.window + 1
        steps = self.steps or max(1, self.epochs * windows // (self.batch_size * d_steps))
        overrides = {"data.name": "series-csv", "data.options": {"path": str(csv), "window": self.window},
                     "train.steps": steps, "train.batch_size": self.batch_size, "train.seed": self.seed,
                     "train.checkpoint_every": steps, "log.every": max(1, min(10, steps)), "train.device": "cpu",
                     **self.overrides}
        self.run = train(self.PRESET, self.run_dir, quiet=not self.verbose, overwrite=True, **overrides)
        self.model = self.run.load()
        return self

    def detect(self, data: Any, **options: Any) -> Any:
        """Anomalous intervals of ``data`` (``Model.detect`` with the series scaled on itself)."""
        if self.model is None:
            raise ConfigError("this TadGAN is not fitted yet; call fit(df) or fit_detect(df)")
        return self.model.detect(data, scale="input", **options)

    def fit_detect(self, data: Any, **options: Any) -> Any:
        """``fit(data)`` then ``detect(data)``: Orion's ``fit_detect``."""
        return self.fit(data).detect(data, **options)
