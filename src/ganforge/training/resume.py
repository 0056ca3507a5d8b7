"""Resume policy: a resumed run continues with its own config (from the checkpoint) plus this command's ``--set``;
which keys may change, and how a changed learning rate reaches the loaded optimiser and schedule.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import torch

from ganforge import checkpoint as ckpt
from ganforge import config as config_mod
from ganforge.config import RunConfig, config_from_dict
from ganforge.training.rundir import RunError, find_checkpoint

# ---- resume: which config keys may change ----------------------------------------------------------------------
# Applied from the resumed step on (logged in metrics.jsonl and on stderr): they change neither the shapes of the saved
# state nor what it means. Every other difference (model, objective, data, train.seed, the optimisers' other settings,
# lr schedules, fake_labels, name) is refused: the checkpoint would continue a different experiment than its config
# says. A key ending in "." covers its section.
RESUME_APPLIED = ("train.steps", "train.checkpoint_every", "train.keep_checkpoints", "train.device",
                  "train.batch_size", "train.d_steps", "train.ema", "train.ema_start", "train.precision",
                  "train.cuda_graph", "train.channels_last", "train.threads", "optim.*.lr", "log.")


def applied_on_resume(key: str) -> bool:
    """``optim.*.lr`` matches every optimiser group's lr; a key ending in "." covers its section."""
    parts = key.split(".")
    for k in RESUME_APPLIED:
        if k.endswith(".") and key.startswith(k):
            return True
        pattern = k.split(".")
        if len(pattern) == len(parts) and all(p in ("*", q) for p, q in zip(pattern, parts, strict=True)):
            return True
    return False


def resume_config(preset: str, run_dir: Path, resume: str, overrides: list[str], seed: int | None) -> RunConfig:
    """The config of ``--resume``: the run's own (saved in its checkpoint) plus this command's ``--set``/``--seed``,
    so continuing a run never needs its original ``--set`` overrides. ``preset`` must still resolve and name the
    same config (its ``name``) as the run, or a typo or the wrong run directory would go unnoticed."""
    given = config_mod.resolve_config(preset, overrides, seed)
    path = find_checkpoint(run_dir, resume)
    data = ckpt.Checkpoint.load(path).config
    if not isinstance(data, dict):
        raise ckpt.CheckpointError(f"checkpoint {str(path)!r} holds no config mapping; it is damaged")
    if given.name != data.get("name"):
        raise RunError(f"the run in {str(run_dir)!r} was trained from config {data.get('name')!r}, not "
                       f"{given.name!r}; resume it with `ganforge train {run_dir / 'config.yaml'} --run-dir {run_dir} "
                       "--resume latest`")
    data = copy.deepcopy(data)
    for text in overrides:
        config_mod.apply_override(data, *config_mod.parse_override(text))
    if seed is not None:
        config_mod.apply_override(data, ["train", "seed"], seed)
    return config_from_dict(data)


def hint_preset(preset: str, cfg: RunConfig, run_dir: Path) -> str:
    """The preset argument of the "continue with" hint: the preset itself unless the run renamed it (--set name=)."""
    with contextlib.suppress(Exception):
        if config_mod.load_preset(preset).get("name") == cfg.name:
            return preset
    return str(run_dir / "config.yaml")


def set_base_lr(opt: torch.optim.Optimizer, sched: Any, lr: float) -> None:
    """A new ``optim.*.lr`` on resume: the loaded optimiser and scheduler hold the old base lr; both move to the new
    one, and the schedule continues from the resumed step (lr_t = lr · factor(t))."""
    factor = sched.lr_lambdas[0](sched.last_epoch)
    sched.base_lrs = [float(lr)] * len(opt.param_groups)
    sched._last_lr = [float(lr) * factor] * len(opt.param_groups)
    for group in opt.param_groups:
        group["initial_lr"] = float(lr)
        if isinstance(group["lr"], torch.Tensor):  # capturable optimisers (CUDA graphs) read a tensor in place
            group["lr"].fill_(float(lr) * factor)
        else:
            group["lr"] = float(lr) * factor
