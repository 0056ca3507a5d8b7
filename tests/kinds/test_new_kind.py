"""A new data kind is one loader (``data/``) and one ``DataKind`` (``kinds/``), and no edit anywhere else: the README's
"Adding a data kind" example (noisy points on the unit circle, judged by the radius of generated points), defined here
as those two pieces, trains through the unchanged run loop, which picks the kind's evaluation and samples."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ganforge.config import RunConfig
from ganforge.data.base import TensorData
from ganforge.kinds import hooks_for
from ganforge.kinds.base import DataKind
from ganforge.registry import DATASETS, RUN_HOOKS
from ganforge.sampling import EVAL_SEED_OFFSET, generate_samples
from ganforge.training.run import Run
from helpers import tiny_config

NAME = "circle-demo"  # not a shipped name: the test removes both entries afterwards


# ---- what would be src/ganforge/data/circle.py -------------------------------------------------------------------


@dataclass
class CircleData(TensorData):
    """Points ``float32 [N, 2]`` of the kind ``circle-demo`` (TensorData gives ``spec()`` and ``source()``)."""

    @property
    def kind(self) -> str:
        return NAME


@dataclass
class Circle:
    """``n`` points at uniform angles on the unit circle plus N(0, noise²) per coordinate; split-seeded."""

    n: int = 512
    noise: float = 0.05

    def load(self, split: str = "train") -> CircleData:
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        angle = 2 * math.pi * torch.rand(self.n, generator=g)
        x = torch.stack([angle.cos(), angle.sin()], 1) + self.noise * torch.randn(self.n, 2, generator=g)
        return CircleData(x, name=NAME)


# ---- what would be src/ganforge/kinds/circle.py ------------------------------------------------------------------

N_RADIUS = 1000  # generated points per evaluation


class CircleKind(DataKind):
    """Evaluation: mean and spread of the generated points' radius (1 and ~noise for a perfect G)."""

    def evaluate(self, G: nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        r = generate_samples(G, N_RADIUS, cfg.train.seed + EVAL_SEED_OFFSET, device).norm(dim=1)  # [N_RADIUS]
        return {"radius_mean": float(r.mean()), "radius_std": float(r.std())}

    def eval_protocol(self, data: Any, cfg: RunConfig) -> dict[str, Any]:
        return {"metrics": "radius of generated points", "n_fake": N_RADIUS}


@pytest.fixture
def circle_kind():
    DATASETS.register(NAME)(Circle)
    RUN_HOOKS.register(NAME)(CircleKind)
    yield
    for registry in (DATASETS, RUN_HOOKS):
        registry._entries.pop(NAME)


def test_a_new_kind_plugs_into_the_unchanged_run_loop(circle_kind, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = tiny_config(f"data.name={NAME}", "data.options={}", "train.steps=4")
    run = Run(cfg, tmp_path / "run")
    assert isinstance(run.hooks, CircleKind)  # the run asks the registry; nothing else names the kind
    for _ in range(cfg.train.steps):
        run.trainer.train_step()
    metrics = run.evaluate()
    assert set(metrics) == {"radius_mean", "radius_std"}
    # the kind's numbers of the run's sampler (same code path, same seed: exact)
    r = generate_samples(run.eval_generator(), N_RADIUS, cfg.train.seed + EVAL_SEED_OFFSET, torch.device("cpu"))
    assert metrics["radius_mean"] == float(r.norm(dim=1).mean())
    assert metrics == run.evaluate()  # the evaluation's own RNG: the same numbers twice
    protocol = run._eval_protocol()
    assert protocol["metrics"] == "radius of generated points"
    assert protocol["seed"] == cfg.train.seed + EVAL_SEED_OFFSET
    assert protocol["dataset"] == NAME
    json.dumps(protocol)  # a record's protocol is plain JSON


def test_defaults_of_the_contract(circle_kind) -> None:
    """What a kind does not override: no samples written, loss curves at the end, no report section, the standard
    image/vector sample writer, and the image protocol in ``ganforge eval``."""
    kind = hooks_for(NAME)
    assert kind.sample_flags is None
    assert kind.standalone_eval is False
    assert kind.export_samples(None, None, Path("."), None, torch.device("cpu")) is None
    assert kind.report_section(Path("."), None) == ""
    assert type(hooks_for("vector")) is DataKind  # kinds nobody registered get the defaults
