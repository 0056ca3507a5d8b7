"""Run-level configuration: typed dataclasses, YAML presets, dotted ``--set`` overrides.

The dataclasses are the schema; YAML files and the command line are inputs. Component options (a model's widths, an
objective's ``g_cost``) are plain dicts here and are validated by the component's own options dataclass when built.
"""

from __future__ import annotations

import ast
import codecs
import copy
import difflib
import math
import stat
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ganforge.options import ConfigError, build_options, options_dict


@dataclass
class ComponentConfig:
    """A registry name plus that component's options (validated by the component when it is built)."""

    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig(ComponentConfig):
    name: str = "ring8"
    split: str = "train"


@dataclass
class OptimizerConfig:
    name: str = "adam"  # adam | sgd | rmsprop
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)  # adam only
    momentum: float = 0.0  # sgd / rmsprop
    eps: float = 1e-8  # adam / rmsprop (Keras uses 1e-7)
    weight_decay: float = 0.0
    lr_decay: float = 1.0  # exponential decay per step (1.0 = constant); Goodfellow et al. 2014 decayed SGD's lr
    lr_decay_start: int = 0  # steps at the constant lr before the decay begins
    lr_decay_end: int = 0  # > 0: linear decay instead, from lr at lr_decay_start to 0 at this step (CycleGAN)


class OptimConfig(dict[str, OptimizerConfig]):
    """One optimiser per group of networks, ``optim.<group>``: ``g`` and ``d`` always (TTUR, Heusel et al. 2017:
    separate learning rates for G and D), plus any group an objective declares (``Objective.groups()``).

    A mapping so that a family with other networks needs no schema edit; ``cfg.optim.g`` reads like a field."""

    DEFAULT_GROUPS = ("g", "d")

    def __getattr__(self, name: str) -> OptimizerConfig:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def default(cls) -> OptimConfig:
        return cls({g: OptimizerConfig() for g in cls.DEFAULT_GROUPS})

    @classmethod
    def from_config(cls, values: Any, where: str) -> OptimConfig:
        """``{"g": {...}, "e": {...}}`` → groups; ``g`` and ``d`` get defaults when absent."""
        if not isinstance(values, dict):
            raise ConfigError(f"config key '{where}' is a section; expected a mapping of optimiser groups "
                              f"(g, d, ...), got {values!r}")
        out = cls.default()
        for group, opts in values.items():
            if not isinstance(group, str) or not group.isidentifier():
                raise ConfigError(f"optimiser group {group!r} in '{where}' must be a name like g, d or e")
            if not isinstance(opts, dict):
                raise ConfigError(f"config key '{where}.{group}' is a section; expected a mapping, got {opts!r}")
            out[group] = build_options(OptimizerConfig, opts, f"{where}.{group}")
        return out


@dataclass
class TrainConfig:
    steps: int | None = 2000  # generator updates ("step" = one G update); None when ``epochs`` is given
    # passes over the training set instead of ``steps`` (exactly one of the two): resolved to
    # steps = ceil(epochs · N_train / batch_size) once the data set is built (``resolve_epochs``; tables follow ctgan:
    # ``data.tabular.n_steps``) and recorded as ``steps`` in the run's config.yaml
    epochs: int | None = None
    batch_size: int = 64
    d_steps: int = 1  # k discriminator updates per generator update (Goodfellow et al. 2014, Algorithm 1)
    seed: int = 0
    ema: float = 0.0  # decay of the generator's exponential moving average; 0 = off
    ema_start: int = 0  # steps before the EMA starts tracking (it copies G until then)
    ema_buffers: str = "copy"  # BN running stats in the EMA: copy (NVlabs) or average (BigGAN-PyTorch utils.ema)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    checkpoint_every: int = 1000  # steps; a checkpoint is also written at the end and on SIGINT/SIGTERM
    keep_checkpoints: int = 2  # numbered checkpoints kept besides latest.pt
    fake_labels: str = "uniform"  # conditional models: "uniform" random labels or "real" (the batch's labels)
    # --- speed (results stay comparable: logits and losses are float32 in every mode) ---
    precision: str = "auto"  # auto (bf16 autocast on GPUs that support it, else fp32) | fp32 | bf16
    cuda_graph: bool = False  # CUDA only: replay D / G updates as CUDA graphs (not GP / R1 phases); see graphs.py
    channels_last: bool = False  # NHWC memory format for image models and batches (often faster convs on GPUs)
    threads: int | str = "auto"  # CPU threads for torch: N, or "auto" (training/threads.py: 1 for small models, else
    # the free cores; OMP_NUM_THREADS wins when set). Results can differ in the last bits between thread counts


@dataclass
class LogConfig:
    every: int = 50  # steps between loss reads (.item() is a host sync) and metrics.jsonl lines
    sample_every: int = 500  # steps between fixed-z sample grids / scatter plots (0 = only at the end)
    eval_every: int = 0  # steps between dataset metrics during training (0 = only at the end)
    best: str = ""  # keep checkpoints/best.pt by an evaluation metric: "max:hq_percent", "min:fid" ('' = off)
    n_samples: int = 64  # images in the fixed-z grid
    # samples each evaluation draws, whatever the data kind: generated digits judged by the mnist-classifier,
    # translations / super-resolved images scored, ... (was log.eval_digits: RENAMED_KEYS)
    eval_samples: int = 10_000
    tensorboard: bool = True
    progress: bool = True


@dataclass
class RunConfig:
    name: str = "run"
    model: ComponentConfig = field(default_factory=lambda: ComponentConfig(name="mlp"))
    objective: ComponentConfig = field(default_factory=lambda: ComponentConfig(name="logistic"))
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig.default)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def to_dict(self) -> dict[str, Any]:
        return options_dict(self)


# ---- presets --------------------------------------------------------------------------------------------------

PRESET_DIR = "configs"  # package folder ganforge/configs/*.yaml
SECTIONS = {"model", "objective", "data", "optim", "train", "log"}


def preset_names() -> list[str]:
    folder = resources.files("ganforge") / PRESET_DIR
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


MAX_CONFIG_BYTES = 1 << 20  # a preset is a few KB; a bigger "config" is a wrong file (or a bomb), refused unread
MAX_DEPTH = 32  # nesting of sections and lists; ganforge configs use 3 or 4 levels (train.x, model.options.g_hidden)


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses what a config never needs and a hostile file uses:

    * aliases (``*name``): a 1 KB "billion laughs" file expands to 10^9 nodes when walked; refusing aliases keeps
      every loaded config a tree whose size is bounded by the file's size;
    * nesting deeper than ``MAX_DEPTH``: the composer recurses per level, so 20,000 ``[`` would raise
      RecursionError (and a deep tree would again in every walk of the config);
    * duplicate keys in one mapping: YAML keeps the last silently, so a user's first value would be ignored.
    """

    source = "config"

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConfigError(f"{self.source} uses a YAML alias (*{event.anchor}) at line "
                              f"{event.start_mark.line + 1}; aliases are not supported, write the value out")
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ConfigError(f"{self.source} nests deeper than {MAX_DEPTH} levels at line {mark.line + 1}; a "
                                  "config needs a few levels (section.key.list)")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, typing.Hashable) and key in seen:
                raise ConfigError(f"{self.source} has the key {key!r} twice in one section (lines {seen[key]} and "
                                  f"{line}); YAML would silently keep the last, remove one")
            if isinstance(key, typing.Hashable):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` with the refusals of ``_Loader``; ``source`` names the text in errors (a file, a preset)."""
    loader = _Loader(text)
    loader.source = source
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:  # belt and braces: MAX_DEPTH stops nesting long before the interpreter's limit
        raise ConfigError(f"{source} nests too deeply; a config needs a few levels (section.key.list)") from None
    finally:
        loader.dispose()


def read_text_file(path: Path, what: str) -> str:
    """The UTF-8 text of a small regular file, or a one-line ``ConfigError`` naming the file and the problem
    (missing, not a regular file: a FIFO would block forever, too big, not UTF-8: naming the encoding it looks
    like)."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{what} {str(path)!r} is not a regular file (a folder, pipe or device); pass a YAML "
                              "file")
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{what} {str(path)!r} is {st.st_size:,} bytes; a config is at most "
                              f"{MAX_CONFIG_BYTES:,} bytes (a few KB is usual): is it the right file?")
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise ConfigError(f"{what} {str(path)!r} is UTF-16/UTF-32 encoded (it starts with a byte-order mark); save "
                          "it as UTF-8")
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark (Windows editors) is accepted and dropped
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {str(path)!r} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                          f"{exc.start} is invalid in UTF-8; Latin-1 or another 8-bit encoding?); save it as "
                          "UTF-8") from None
    if "\0" in text:
        raise ConfigError(f"{what} {str(path)!r} holds NUL bytes (a binary file?); pass a YAML text file")
    return text


def load_yaml(path: Path) -> dict[str, Any]:
    data = parse_yaml(read_text_file(path, "config file"), f"config file {str(path)!r}")
    if data is None:  # an empty file would silently train the default model: refuse it
        raise ConfigError(f"config file {str(path)!r} is empty; write at least the model/objective/data sections "
                          "(start from `ganforge config ring8`)")
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of sections, got {type(data).__name__}")
    if not set(data) & SECTIONS:
        raise ConfigError(f"config file {str(path)!r} has none of the sections {sorted(SECTIONS)}; start from "
                          "`ganforge config ring8` (a file of only a name would train the default model)")
    return data


def load_preset(name_or_path: str) -> dict[str, Any]:
    """Raw dict of a preset name (``ring8``) or a YAML file path."""
    path = Path(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or path.is_file():
        if not path.exists():
            raise ConfigError(f"config file {name_or_path!r} not found")
        data = load_yaml(path)
        data.setdefault("name", path.stem)
        return data
    names = preset_names()
    if name_or_path not in names:
        close = difflib.get_close_matches(name_or_path, names, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ConfigError(f"unknown preset {name_or_path!r}; choose from: {', '.join(names)} (or pass a .yaml file)"
                          + hint)
    resource = resources.files("ganforge") / PRESET_DIR / f"{name_or_path}.yaml"
    data = parse_yaml(resource.read_text(encoding="utf-8"), f"preset {name_or_path!r}") or {}
    data.setdefault("name", name_or_path)
    return data


def preset_header(name_or_path: str) -> str:
    """The comment block at the top of a preset (or YAML file): what it trains, the paper, budget, measured figures.
    Empty when there is none or the name is unknown."""
    path = Path(name_or_path)
    try:
        if name_or_path.endswith((".yaml", ".yml")) or path.is_file():
            text = path.read_text()
        elif name_or_path in preset_names():
            text = (resources.files("ganforge") / PRESET_DIR / f"{name_or_path}.yaml").read_text()
        else:
            return ""
    except OSError:
        return ""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> (["a", "b", "c"], value); values parsed as Python literals, else kept as strings.

    ``true``/``false``/``null`` are read as in YAML; ``none`` stays the string "none" (a valid value of several
    options, e.g. ``model.options.d_norm=none``); write ``null`` or ``None`` for a missing value."""
    if "=" not in text:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. train.steps=500), got {text!r}")
    key, raw = text.split("=", 1)
    keys = key.strip().split(".")
    if not all(keys):
        raise ConfigError(f"--set key {key!r} is malformed; use dotted keys like optim.d.lr=1e-4")
    raw = raw.strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 in argv arrive as lone surrogates (PEP 383)
        raise ConfigError(f"--set {key.strip()!r}: the value is not UTF-8 text (the shell passed bytes of another "
                          "encoding); write it in UTF-8") from None
    if _bracket_depth(raw) > MAX_DEPTH:  # literal_eval recurses per level: 20,000 '[' would raise RecursionError
        raise ConfigError(f"--set {key.strip()!r}: the value nests deeper than {MAX_DEPTH} levels; a config value "
                          "needs a few")
    try:
        tree = ast.parse(raw, mode="eval")
        value = ast.literal_eval(tree)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = {"true": True, "false": False, "null": None}.get(raw.lower(), raw)
    else:
        _refuse_duplicate_keys(tree, key.strip())
    return keys, value


def _refuse_duplicate_keys(tree: ast.AST, key: str) -> None:
    """``{'a': 1, 'a': 2}`` silently keeps the last value in Python, as duplicate keys do in YAML: refused."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            seen: set[Any] = set()
            for k in node.keys:
                name = k.value if isinstance(k, ast.Constant) else None
                if name is not None and name in seen:
                    raise ConfigError(f"--set {key!r}: the key {name!r} appears twice in the value; Python would "
                                      "silently keep the last, remove one")
                seen.add(name)


def _bracket_depth(text: str) -> int:
    """The deepest nesting of ``[``, ``(`` and ``{`` in ``text`` (brackets inside quotes counted too: an upper
    bound, which is all the check needs)."""
    depth = deepest = 0
    for ch in text:
        if ch in "[({":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "])}" and depth:
            depth -= 1
    return deepest


def apply_override(data: dict[str, Any], keys: list[str], value: Any) -> None:
    node = data
    for i, k in enumerate(keys[:-1]):
        child = node.get(k)
        if child is None:
            child = node[k] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"config key '{'.'.join(keys[: i + 1])}' is a value, not a section")
        node = child
    node[keys[-1]] = value
    if keys in (["train", "steps"], ["train", "epochs"]) and value is not None:  # the later of the two wins: a
        node.pop("epochs" if keys[-1] == "steps" else "steps", None)  # preset's steps give way to --set train.epochs


def resolve_epochs(cfg: RunConfig, data: Any) -> int | None:
    """``train.epochs`` as steps, set in ``cfg.train.steps`` (``train.epochs`` cleared) once the training data is
    built; returns the steps, or None when the config gives steps. One epoch is the data kind's own
    (``data.steps_for_epochs(epochs, batch_size)``: tables follow ctgan, ``data.tabular.n_steps``) or else
    ``N_train / batch_size`` batches: steps = ceil(epochs · N_train / batch_size). Data with no size (a sampled
    distribution) is refused."""
    t = cfg.train
    if t.epochs is None:
        return None
    own = data.steps_for_epochs(t.epochs, t.batch_size)  # data.base.Dataset: None unless the kind counts its own
    if own is not None:
        steps = int(own)
    else:
        try:
            n = len(data)
        except TypeError:
            raise ConfigError(f"train.epochs needs a data set of a fixed size; data.name={cfg.data.name} is sampled "
                              "without end: give train.steps instead") from None
        steps = math.ceil(t.epochs * n / t.batch_size)
    t.steps, t.epochs = max(1, steps), None
    return t.steps


def resolve_config(preset: str, overrides: list[str] | None = None, seed: int | None = None) -> RunConfig:
    """Preset (name or file) + ``--set`` overrides + ``--seed`` -> a validated ``RunConfig``."""
    data = copy.deepcopy(load_preset(preset))
    for text in overrides or []:
        keys, value = parse_override(text)
        apply_override(data, keys, value)
    if seed is not None:
        apply_override(data, ["train", "seed"], seed)
    return config_from_dict(data)


# keys renamed since a release: (section, old) -> new. A config the user writes with an old key is refused, naming
# the new one; a config saved in an older run's checkpoint is read with the new key (``upgrade_saved``).
RENAMED_KEYS: dict[tuple[str, str], str] = {("log", "eval_digits"): "eval_samples"}


def upgrade_saved(data: dict[str, Any]) -> dict[str, Any]:
    """A config saved by an older ganforge (in a checkpoint) with today's keys (``RENAMED_KEYS``), so old runs
    still resume, sample and evaluate. A copy; ``data`` is not changed."""
    out = dict(data)
    for (section, old), new in RENAMED_KEYS.items():
        sec = out.get(section)
        if isinstance(sec, dict) and old in sec:
            sec = dict(sec)
            value = sec.pop(old)
            sec.setdefault(new, value)
            out[section] = sec
    return out


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    for (section, old), new in RENAMED_KEYS.items():
        sec = data.get(section)
        if isinstance(sec, dict) and old in sec:
            raise ConfigError(f"{section}.{old} is now called {section}.{new}; rename the key")
    train = data.get("train")
    if isinstance(train, dict) and train.get("epochs") is not None and "steps" not in train:
        data = {**data, "train": {**train, "steps": None}}  # epochs given: TrainConfig's default steps do not count
    cfg = build_options(RunConfig, data, "")
    for section in (cfg.model, cfg.objective, cfg.data):
        if not isinstance(section.options, dict):
            raise ConfigError(f"'options' must be a mapping, got {section.options!r}")
    check_config(cfg)
    return cfg


OPTIMIZERS = ("adam", "sgd", "rmsprop")  # built by training/optim.py:build_optimizer


def check_name(name: str) -> None:
    """``name`` becomes the folder ``runs/<name>``: one plain path component, so a run never lands outside runs/."""
    bad = (not name.strip() or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or Path(name).is_absolute() or any(ord(ch) < 32 for ch in name))
    if bad:
        raise ConfigError(f"name {name!r} must be a plain folder name (it becomes runs/<name>): not empty, no '/' or "
                          "'\\', not '.' or '..'; pick a name like my-run, or choose the folder with --run-dir")


def check_config(cfg: RunConfig) -> None:
    """Every check of a resolved config that needs no data, network or machine: ranges, names, optimiser choices and
    schedules. The one validation ``train``, ``train --dry-run`` and ``ganforge config`` share (via
    ``config_from_dict``); component options are checked by their own dataclasses (``builder.check_options``)."""
    check_name(cfg.name)
    t = cfg.train
    checks = [
        ((t.steps is None) != (t.epochs is None), "give exactly one of train.steps and train.epochs (got "
         f"{'both' if t.steps is not None else 'neither'}); e.g. --set train.epochs=10"),
        (t.steps is None or t.steps >= 1, "train.steps must be >= 1"),
        (t.epochs is None or t.epochs >= 1, f"train.epochs must be >= 1, got {t.epochs}"),
        (t.batch_size >= 1, "train.batch_size must be >= 1"),
        (t.d_steps >= 1, "train.d_steps must be >= 1"),
        (0.0 <= t.ema < 1.0, "train.ema must be in [0, 1) (0 = off; 0.999 is typical)"),
        (t.checkpoint_every >= 1, "train.checkpoint_every must be >= 1"),
        (t.keep_checkpoints >= 0, f"train.keep_checkpoints must be >= 0 (numbered checkpoints kept besides "
                                  f"latest.pt), got {t.keep_checkpoints}"),
        (0 <= t.seed < 2**63, f"train.seed must be in [0, 2**63), got {t.seed}"),
        (t.ema_start >= 0, "train.ema_start must be >= 0"),
        (t.ema_buffers in ("copy", "average"), f"train.ema_buffers must be 'copy' or 'average', got {t.ema_buffers!r}"),
        (t.fake_labels in ("uniform", "real"), "train.fake_labels must be 'uniform' or 'real'"),
        (t.precision in ("auto", "fp32", "bf16"), f"train.precision must be auto, fp32 or bf16, got {t.precision!r}"),
        (t.threads == "auto" or (isinstance(t.threads, int) and t.threads >= 1),
         f"train.threads must be 'auto' or a whole number >= 1, got {t.threads!r}"),
        (cfg.log.every >= 1, "log.every must be >= 1"),
        (cfg.log.sample_every >= 0, f"log.sample_every must be >= 0 (0 = only at the end), got {cfg.log.sample_every}"),
        (cfg.log.eval_every >= 0, f"log.eval_every must be >= 0 (0 = only at the end), got {cfg.log.eval_every}"),
        (cfg.log.n_samples >= 1, "log.n_samples must be >= 1"),
        (cfg.log.eval_samples >= 1, "log.eval_samples must be >= 1"),
        (cfg.log.best == "" or (cfg.log.best.split(":")[0] in ("max", "min") and ":" in cfg.log.best),
         f"log.best must look like 'max:METRIC' or 'min:METRIC', got {cfg.log.best!r}"),
    ]
    for group, o in cfg.optim.items():
        checks += [(o.lr > 0, f"optim.{group}.lr must be > 0"),
                   (0 < o.lr_decay <= 1, f"optim.{group}.lr_decay must be in (0, 1]"),
                   (o.lr_decay_start >= 0, f"optim.{group}.lr_decay_start must be >= 0"),
                   (o.name in OPTIMIZERS, f"unknown optimizer 'optim.{group}.name={o.name}'; choose from: "
                                          f"{', '.join(OPTIMIZERS)}"),
                   (o.lr_decay_end >= 0, f"optim.{group}.lr_decay_end must be >= 0 (0 = no linear decay), got "
                                         f"{o.lr_decay_end}"),
                   (not o.lr_decay_end or (o.lr_decay == 1.0 and o.lr_decay_end > o.lr_decay_start),
                    f"optim.{group}.lr_decay_end={o.lr_decay_end} (linear decay to 0) needs lr_decay_end > "
                    f"lr_decay_start={o.lr_decay_start} and lr_decay = 1 (not both schedules)"),
                   (o.momentum >= 0, f"optim.{group}.momentum must be >= 0, got {o.momentum}"),
                   (o.eps > 0, f"optim.{group}.eps must be > 0, got {o.eps}"),
                   (o.weight_decay >= 0, f"optim.{group}.weight_decay must be >= 0, got {o.weight_decay}"),
                   (all(0 <= b < 1 for b in o.betas), f"optim.{group}.betas must each be in [0, 1), got "
                                                      f"{list(o.betas)}")]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg)


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
