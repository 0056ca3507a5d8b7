"""The linear lr schedule (CycleGAN: constant, then linearly to 0) against its formula, and its bad settings."""

import pytest
import torch

from ganforge.config import OptimizerConfig
from ganforge.options import ConfigError
from ganforge.training.optim import build_scheduler


def _lrs(cfg: OptimizerConfig, steps: int) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=cfg.lr)
    sched = build_scheduler(opt, cfg)
    out = []
    for _ in range(steps):
        out.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        sched.step()
    return out


def test_linear_decay_matches_formula() -> None:
    lr, start, end = 2e-4, 10, 20
    got = _lrs(OptimizerConfig(lr=lr, lr_decay_start=start, lr_decay_end=end), 25)
    want = [lr * min(1.0, max(0.0, 1 - (t - start) / (end - start))) for t in range(25)]
    assert got == pytest.approx(want, rel=1e-12, abs=1e-20)
    assert got[start] == lr
    assert got[end] == 0.0
    assert got[-1] == 0.0


@pytest.mark.parametrize("kw", [{"lr_decay_start": 10, "lr_decay_end": 10}, {"lr_decay": 0.99, "lr_decay_end": 5}])
def test_linear_decay_bad_settings(kw: dict) -> None:
    with pytest.raises(ConfigError, match="lr_decay_end"):
        _lrs(OptimizerConfig(**kw), 1)
