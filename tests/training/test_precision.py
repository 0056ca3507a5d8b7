"""Speed options that must not change results beyond their precision: bf16 autocast and channels_last."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganforge.config import resolve_config
from ganforge.losses.objectives import discriminate
from ganforge.options import ConfigError
from ganforge.training.run import Run, autocast_dtype
from helpers import tiny_config

IMAGE = ["data.options={'limit': 64}", "train.steps=4", "train.batch_size=8", "train.device=cpu", "log.every=2",
         "log.sample_every=0", "log.tensorboard=False", "log.progress=False", "train.checkpoint_every=100"]


def train_steps(run: Run, n: int) -> None:
    while run.trainer.step < n:
        run.trainer.train_step()


def test_precision_resolution() -> None:
    cpu = torch.device("cpu")
    assert autocast_dtype("auto", cpu) is None  # CPU runs stay exact float32
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    with pytest.raises(ConfigError, match=r"train\.precision must be auto, fp32 or bf16"):
        tiny_config("train.precision=fp16")


def test_logits_are_float32_under_bf16_autocast() -> None:
    D = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert D(torch.randn(4, 2)).dtype == torch.bfloat16  # what autocast gives
        assert discriminate(D, torch.randn(4, 2), None).dtype == torch.float32  # what losses see


@pytest.mark.parametrize("objective", ["objective.name=logistic", "objective={'name': 'wgan-gp', 'options': {}}"])
def test_bf16_training_stays_close_to_fp32(tmp_path: Path, objective: str) -> None:
    """bf16 autocast (forced on CPU) trains, keeps float32 weights and float32 loss logs, and after a few steps the
    weights differ from the float32 run only by bf16 rounding (not by a different algorithm)."""
    runs = {}
    for precision in ("fp32", "bf16"):
        run = Run(tiny_config(objective, f"train.precision={precision}", "model.options.pack=1"),
                  tmp_path / precision)
        train_steps(run, 5)
        runs[precision] = run
        assert all(p.dtype == torch.float32 for p in run.components.G.parameters())
        logs = run.trainer.flush_stats()
        assert all(isinstance(v, float) and v == v for v in logs.values())
    a, b = (dict(runs[p].components.G.named_parameters()) for p in ("fp32", "bf16"))
    diffs = [(a[k] - b[k]).abs().max().item() for k in a]
    assert max(diffs) > 0  # autocast really ran in bf16
    assert max(diffs) < 5e-2  # 5 Adam steps of lr 1e-3 move weights by ~5e-3 each: same direction


def test_channels_last_matches_contiguous(tmp_path: Path) -> None:
    """DCGAN with NHWC weights and batches computes the same step as NCHW (float32, CPU).

    What the numerics allow: NHWC and NCHW convolutions are the same sums in a different order (and oneDNN picks
    different kernels per CPU), so one forward/backward agrees to float32 rounding of sums of ~K = 5·5·128 terms,
    |δ| ≲ √K·2⁻²⁴·Σ|terms| — we allow 1e-4 of each tensor's scale. Adam then divides by √v: a gradient entry near 0
    whose tiny difference flips its sign moves by ±lr instead of 0, so after n steps weights may differ by up to
    2·lr·Σ_t √t (|m̂/√v̂| ≤ √t for t ≤ n, Cauchy–Schwarz) per entry, while the bulk stays far below lr.
    """
    torch.set_num_threads(1)
    runs = {}
    for cl in (False, True):
        run = Run(resolve_config("dcgan-keras-mnist", [*IMAGE, f"train.channels_last={cl}"]), tmp_path / str(cl))
        convs = [m for m in run.components.D.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs[-1].weight.is_contiguous(memory_format=torch.channels_last) == cl
        runs[cl] = run

    # one forward + backward of each network from identical weights and the same batch: tight
    grads = {}
    for cl, run in runs.items():
        batch = run.trainer.make_batch(run.trainer.phases[0])  # the D phase's batch (real data, z)
        out = {}
        for phase in run.trainer.phases:
            run.trainer._train_only(phase)
            run.trainer.zero_grad(phase)
            terms = phase.loss_fn(batch)
            terms.total.backward()
            out[phase.name] = (terms.total.detach(), {k: p.grad.detach().clone()
                                                      for k, p in run.components.nets[phase.name].named_parameters()})
        grads[cl] = out
    for name, (loss, g) in grads[False].items():
        torch.testing.assert_close(grads[True][name][0], loss, rtol=1e-4, atol=1e-6, msg=name)
        for k, v in g.items():
            scale = v.abs().max().item()
            torch.testing.assert_close(grads[True][name][1][k], v, rtol=0, atol=1e-4 * scale + 1e-12,
                                       msg=f"{name}.{k}")

    # three Adam steps (fresh runs, identical seeds): bounded by the step size, bulk far below it
    n = 3
    weights = {}
    for cl in (False, True):
        run = Run(resolve_config("dcgan-keras-mnist", [*IMAGE, f"train.channels_last={cl}"]), tmp_path / f"{cl}-n")
        train_steps(run, n)
        weights[cl] = {k: v.detach().clone() for k, v in run.components.G.named_parameters()}  # Adam-driven only
    lr = runs[False].cfg.optim.g.lr
    bound = 2 * lr * sum(t**0.5 for t in range(1, n + 1))
    diffs = torch.cat([(weights[True][k] - v).abs().flatten() for k, v in weights[False].items()])
    assert diffs.max().item() <= bound
    assert diffs.median().item() < 1e-2 * lr
