"""Objective state in the checkpoint and the lazy G_reg phase kind, with a small objective written here (what a
StyleGAN2 path-length regulariser needs: a running mean that exact resume must carry, updated in a G_reg phase)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.losses.objectives import Batch, LogisticObjective, LossTerms, generate
from ganforge.registry import OBJECTIVES
from ganforge.training.run import Run
from helpers import tiny_config


@OBJECTIVES.register("test-running-mean-reg")
@dataclass
class RunningMeanRegulariser(LogisticObjective):
    """Logistic GAN + a lazy G_reg every 3 steps: ½·(mean |G(z)| − running mean)², running mean as objective state."""

    g_reg_every: int = 3  # type: ignore[assignment]
    decay: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        self.running = torch.zeros(())
        self.calls = 0

    def g_reg(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        size = generate(G, batch).abs().mean()
        self.running = self.decay * self.running + (1 - self.decay) * size.detach()
        self.calls += 1
        loss = 0.5 * (size - self.running) ** 2
        return LossTerms(loss, {"reg/running": self.running})

    def state_dict(self) -> dict[str, Any]:
        return {"running": self.running.clone(), "calls": self.calls}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.running, self.calls = state["running"].clone(), int(state["calls"])


SETS = ["objective.name=test-running-mean-reg", "objective.options={'g_cost': 'nonsaturating'}",
        "model.options.pack=1"]


def test_g_reg_phase_runs_every_k_steps(tmp_path: Path) -> None:
    run = Run(tiny_config(*SETS, "train.steps=7"), tmp_path / "r")
    assert [(p.name, p.groups, p.every, p.needs_real) for p in run.trainer.phases] == [
        ("D", ("d",), 1, True), ("G", ("g",), 1, False), ("G_reg", ("g",), 3, False)]
    while run.trainer.step < 7:
        run.trainer.train_step()
    assert run.components.objective.calls == 3  # steps 0, 3, 6


def test_objective_state_resumes_exactly(tmp_path: Path) -> None:
    straight = Run(tiny_config(*SETS, "train.steps=8"), tmp_path / "a")
    straight.train()
    Run(tiny_config(*SETS, "train.steps=4"), tmp_path / "b").train()
    resumed = Run(tiny_config(*SETS, "train.steps=8"), tmp_path / "b", resume="latest")
    assert resumed.components.objective.calls == 2  # restored from the checkpoint before training on
    resumed.train()
    a = torch.load(tmp_path / "a" / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoints" / "latest.pt", weights_only=True)
    assert a["trainer"]["objective"]["calls"] == b["trainer"]["objective"]["calls"] == 3
    assert torch.equal(a["trainer"]["objective"]["running"], b["trainer"]["objective"]["running"])
    for net in ("G", "D"):
        for k, v in a["models"][net].items():
            assert torch.equal(v, b["models"][net][k]), f"{net}.{k}"
