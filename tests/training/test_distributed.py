"""Data parallel training: ``torchrun`` with 2 CPU processes (gloo) against one process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganforge.losses.objectives import Batch
from ganforge.training.distributed import SINGLE, DistContext
from ganforge.training.run import Run, RunError
from helpers import TINY, tiny_config

# WGAN-GP exercises every sharded draw: data order, z, and the penalty's per-sample ε (Batch.uniform); k = 2 critic
# steps. The MLP has no pack so every per-sample loss is a mean over the global batch.
OVERRIDES = ["objective.name=wgan-gp", "objective.options={'gp_weight': 1.0}", "train.d_steps=2",
             "train.batch_size=32", "train.checkpoint_every=10", "log.every=5", "log.eval_every=0",
             "model.options.pack=1", "optim.g.betas=[0.5, 0.9]", "optim.d.betas=[0.5, 0.9]"]


def torchrun(run_dir: Path, steps: int, *extra: str, nproc: int = 2) -> None:
    """``torchrun --standalone --nproc_per_node N -m ganforge train ring8 ...`` on CPU (gloo)."""
    sets = [a for o in [*TINY, *OVERRIDES, f"train.steps={steps}"] for a in ("--set", o)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "ganforge", "train", "ring8", *sets, "--run-dir", str(run_dir), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]


def single(run_dir: Path, steps: int) -> dict:
    run = Run(tiny_config(*OVERRIDES, f"train.steps={steps}"), run_dir)
    run.train()
    return torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=False)


def load(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=False)


def assert_close_states(a: dict, b: dict, atol: float, steps: int = 20, lr: float = 1e-3) -> None:
    """Two runs that differ only in float reduction order (W shards' mean of means vs one global mean; the order and
    the kernels oneDNN picks differ per CPU): almost every weight agrees to ``atol``, but Adam divides by √v, so an
    entry whose gradient is ~0 can take ±lr steps of opposite sign — at most 2·lr·Σ_t √t over ``steps`` steps
    (|m̂/√v̂| ≤ √t, Cauchy–Schwarz). Both bounds are asserted; the 99th percentile carries the tight one."""
    bound = 2 * lr * sum(t**0.5 for t in range(1, steps + 1))

    def close(x: torch.Tensor, y: torch.Tensor, tol: float, what: str) -> None:
        d = (x - y).abs().flatten().double()
        assert d.max().item() <= max(bound, tol), what
        assert torch.quantile(d, 0.99).item() <= tol, what

    for net in ("G", "D"):
        for k, v in a["models"][net].items():
            close(v, b["models"][net][k], atol, f"{net}.{k}")
    for group in ("d", "g"):
        sa, sb = a["trainer"]["optimizers"][group]["state"], b["trainer"]["optimizers"][group]["state"]
        for i in sa:
            for k in ("exp_avg", "exp_avg_sq"):
                scale = sb[i][k].abs().max().item()
                close(sa[i][k], sb[i][k], atol + 1e-4 * scale, f"{group}.{i}.{k}")
    # RNG and sampler states do not depend on the number of processes: a checkpoint resumes on any world size
    assert torch.equal(a["trainer"]["rng"], b["trainer"]["rng"])
    assert torch.equal(a["trainer"]["source"]["rng"], b["trainer"]["source"]["rng"])
    assert a["trainer"]["step"] == b["trainer"]["step"]
    assert a["trainer"]["images_seen"] == b["trainer"]["images_seen"]


def test_shard() -> None:
    x = torch.arange(12)
    assert torch.equal(SINGLE.shard(x), x)
    parts = [DistContext(rank=r, world_size=3).shard(x) for r in range(3)]
    assert torch.equal(torch.cat(parts), x)


def test_batch_uniform_is_the_global_draw_sliced() -> None:
    """W ranks together draw exactly the numbers one process draws, and their RNGs stay in step."""
    def draw(rank: int, world: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(3)
        n = 8 // world
        b = Batch(real=torch.zeros(n, 2), z=torch.zeros(n, 2), generator=g, rank=rank, world_size=world)
        return b.uniform((n, 1)), g.get_state()

    whole, state = draw(0, 1)
    parts = [draw(r, 2) for r in range(2)]
    assert torch.equal(torch.cat([p[0] for p in parts]), whole)
    assert all(torch.equal(p[1], state) for p in parts)


def test_batch_must_split_over_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked before a process group exists or anything is written: one line naming the fix."""
    monkeypatch.setattr("ganforge.training.distributed.from_env", lambda: DistContext(rank=0, world_size=3))
    with pytest.raises(RunError, match="must be divisible by the 3 processes"):
        Run(tiny_config(*OVERRIDES), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_two_processes_match_one_and_resume(tmp_path: Path) -> None:
    one = single(tmp_path / "one", 20)
    torchrun(tmp_path / "two", 20)
    two = load(tmp_path / "two")
    assert_close_states(two, one, atol=1e-5)
    # rank 0 alone wrote the run directory; logged losses are the mean over ranks = the global batch's
    lines = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    assert len([line for line in lines if '"loss/d"' in line]) == 4
    one_lines = (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()
    for a, b in zip(lines, one_lines, strict=False):
        ra, rb = json.loads(a), json.loads(b)
        if "loss/d" in ra:
            assert ra["loss/d"] == pytest.approx(rb["loss/d"], abs=1e-4)
            assert ra["reg/gp"] == pytest.approx(rb["reg/gp"], abs=1e-4)

    # resume under DDP: 2 processes for 10 steps, then 2 processes again to 20 == the straight 2-process run
    torchrun(tmp_path / "half", 10)
    torchrun(tmp_path / "half", 20, "--resume", "latest")
    assert_close_states(load(tmp_path / "half"), two, atol=1e-6)

    # and a 2-process checkpoint resumes in one process (world-size independent state)
    cfg = tiny_config(*OVERRIDES, "train.steps=20")
    src = tmp_path / "half" / "checkpoints"
    step10 = sorted(src.glob("step-0000010.pt"))
    assert step10, sorted(p.name for p in src.iterdir())
    (tmp_path / "mixed" / "checkpoints").mkdir(parents=True)
    (tmp_path / "mixed" / "checkpoints" / "latest.pt").write_bytes(step10[0].read_bytes())
    Run(cfg, tmp_path / "mixed", resume="latest").train()
    assert_close_states(load(tmp_path / "mixed"), one, atol=1e-5)
