"""The progressive-growing objective (Karras et al. 2018): WGAN-GP + ε-drift against their equations, the growing
schedule as a function of the step, real images at the current resolution and fade-in, per-stage batches, α and the
resolution in metrics.jsonl, and exact resume in the middle of a fade-in and across a stage change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import resolve_config
from ganforge.data.base import DataSpec, TensorData
from ganforge.losses.objectives import Batch
from ganforge.losses.pggan import PGGANObjective, progress_at, real_at, schedule_steps, stage_schedule
from ganforge.models.pggan import PGGANConfig, upsample
from ganforge.training.draws import Draws
from ganforge.training.run import Run
from helpers import one_line_error

TINY_MODEL = "model.options={'z_dim': 8, 'fmap_base': 16, 'fmap_max': 8, 'mbstd_group': 2}"
# 16x16 data: stage 0 (4x4, batch 8) 2 steps; stage 1 (8x8, batch 8) fade 3 + stable 2; stage 2 (16x16, batch 4)
# fade 6 + stable 4: steps 0-1 | 2-4 fade, 5-6 | 7-12 fade, 13-16 | 17 = the schedule's end
TINY_SCHEDULE = "objective.options={'fade_images': 24, 'stable_images': 16, 'batch_sizes': [8, 8, 4]}"
QUIET = ["train.batch_size=8", "train.ema=0.9", "train.checkpoint_every=100000", "log.every=1",
         "log.sample_every=0", "log.tensorboard=False", "log.progress=False"]


def image_file(tmp_path: Path, n: int = 48, size: int = 16) -> Path:
    """``n`` smooth random 1x``size``x``size`` uint8 images in an .npz file (a fast stand-in for mnist32)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 1, size // 4, size // 4)).repeat(4, axis=2).repeat(4, axis=3)
    path = tmp_path / "images.npz"
    np.savez(path, x=np.clip(128 + 60 * x, 0, 255).astype(np.uint8))
    return path


def tiny_sets(tmp_path: Path, steps: int) -> list[str]:
    return [TINY_MODEL, TINY_SCHEDULE, "data.name=npz", f"data.options={{'path': '{image_file(tmp_path)}'}}",
            f"train.steps={steps}", *QUIET]


# ---- the schedule -------------------------------------------------------------------------------------------------


def test_schedule_is_a_pure_function_of_the_step() -> None:
    stages = stage_schedule((4, 8, 16), (8, 8, 4), fade_images=24, stable_images=16)
    assert [(s.resolution, s.batch_size, s.start, s.fade_steps, s.stable_steps) for s in stages] == [
        (4, 8, 0, 0, 2), (8, 8, 2, 3, 2), (16, 4, 7, 6, 4)]  # ceil(images / batch) steps per phase
    assert schedule_steps(stages) == 17
    got = [(p.resolution, round(p.alpha, 6), p.batch_size) for p in (progress_at(s, stages) for s in range(18))]
    assert got == [(4, 1.0, 8), (4, 1.0, 8),
                   (8, 0.0, 8), (8, 0.333333, 8), (8, 0.666667, 8), (8, 1.0, 8), (8, 1.0, 8),
                   (16, 0.0, 4), (16, 0.166667, 4), (16, 0.333333, 4), (16, 0.5, 4), (16, 0.666667, 4),
                   (16, 0.833333, 4), (16, 1.0, 4), (16, 1.0, 4), (16, 1.0, 4), (16, 1.0, 4),
                   (16, 1.0, 4)]  # after the end: the last stage, stable
    assert progress_at(10**9, stages).level == 2
    paper = stage_schedule((4, 8, 16, 32), (16,) * 4, 600_000, 600_000)  # the preset header's train.steps
    assert schedule_steps(paper) == 262_500
    with pytest.raises(ValueError, match="one batch size per resolution 4/8/16 \\(3 values\\), got \\[8, 8\\]"):
        stage_schedule((4, 8, 16), (8, 8), 24, 16)
    with pytest.raises(ValueError, match="step must be >= 0"):
        progress_at(-1, stages)


def test_real_images_are_box_filtered_and_crossfaded() -> None:
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    x8 = x.reshape(2, 1, 8, 2, 8, 2).mean(dim=(3, 5))  # the mean of each 2x2 block
    torch.testing.assert_close(real_at(x, 8, 1.0), x8, rtol=1e-12, atol=1e-12)
    x4 = x8.reshape(2, 1, 4, 2, 4, 2).mean(dim=(3, 5))
    torch.testing.assert_close(real_at(x, 8, 0.0), x4.repeat_interleave(2, 2).repeat_interleave(2, 3), rtol=1e-12,
                               atol=1e-12)  # α = 0: the previous resolution, pixel-replicated (what G's old path makes)
    torch.testing.assert_close(real_at(x, 8, 0.25), 0.75 * upsample(x4) + 0.25 * x8, rtol=1e-12, atol=1e-12)
    assert torch.equal(real_at(x, 16, 1.0), x)


# ---- the losses against their equations ---------------------------------------------------------------------------


def nets_and_batch(alpha: float = 0.5) -> tuple[dict, Batch, torch.Generator]:
    torch.manual_seed(0)
    nets = {k: v.double() for k, v in PGGANConfig(z_dim=8, fmap_base=16, fmap_max=8, mbstd_group=2).build(
        DataSpec((1, 16, 16))).items()}
    for net in nets.values():
        net.set_progress(1, alpha)  # 8x8, fading in
    real = real_at(torch.randn(4, 1, 16, 16, dtype=torch.float64), 8, alpha)
    z = torch.randn(4, 8, dtype=torch.float64)
    rng = torch.Generator().manual_seed(3)
    return nets, Batch(real=real, z=z, generator=rng), torch.Generator().manual_seed(3)


@pytest.mark.parametrize(("gp_target", "drift"), [(1.0, 0.001), (2.0, 0.5)])
def test_d_loss_is_wgan_gp_plus_drift(gp_target: float, drift: float) -> None:
    nets, batch, rng_copy = nets_and_batch()
    G, D = nets["G"], nets["D"]
    terms = PGGANObjective(gp_weight=10.0, gp_target=gp_target, drift=drift).d_loss(G, D, batch)
    # by hand: L_D = E[D(x̃)] − E[D(x)] + λ E[(‖∇D(x̂)‖ − γ)²] / γ² + ε_drift E[D(x)²], x̂ = εx + (1 − ε)x̃
    fake = G.synthesize(batch.z).detach()
    d_real, d_fake = D(batch.real), D(fake)
    eps = torch.rand(4, 1, 1, 1, generator=rng_copy).double()  # the objective's draw (Batch.uniform, same seed)
    x_hat = (eps * batch.real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat)
    gp = ((grad.flatten(1).norm(dim=1) - gp_target) ** 2).mean() / gp_target**2
    want = d_fake.mean() - d_real.mean() + 10.0 * gp + drift * d_real.square().mean()
    torch.testing.assert_close(terms.total, want, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(terms.logs["reg/gp"], gp.detach(), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(terms.logs["reg/drift"], d_real.square().mean().detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(terms.logs["wasserstein"], (d_real.mean() - d_fake.mean()).detach(), rtol=1e-12,
                               atol=0)


def test_g_loss_is_minus_the_critic_on_fakes() -> None:
    nets, batch, _ = nets_and_batch(alpha=0.25)
    terms = PGGANObjective().g_loss(nets["G"], nets["D"], batch)
    want = -nets["D"](nets["G"].synthesize(batch.z)).mean()
    torch.testing.assert_close(terms.total, want, rtol=1e-12, atol=0)
    terms.total.backward()
    assert nets["G"].blocks[1][0].weight.grad is not None  # the block being faded in learns (α > 0)
    assert nets["G"].blocks[2][0].weight.grad is None  # the 16x16 block is not grown yet


def test_make_batch_sets_the_stage_and_draws_the_stage_batch() -> None:
    torch.manual_seed(0)
    nets = PGGANConfig(z_dim=8, fmap_base=16, fmap_max=8, mbstd_group=2).build(DataSpec((1, 16, 16)))
    data = TensorData(torch.randint(0, 256, (32, 1, 16, 16), dtype=torch.uint8))
    rng = torch.Generator().manual_seed(0)
    draws = Draws(data.source((-1.0, 1.0), 0, torch.device("cpu")), rng, torch.device("cpu"), batch_size=8)
    objective = PGGANObjective(fade_images=24, stable_images=16, batch_sizes=(8, 8, 4))
    d_phase, g_phase = objective.phases(nets, 1)
    batch = objective.make_batch(draws, nets, d_phase, 9)  # stage 2 (16x16, batch 4), α = 2/6
    assert batch.real.shape == (4, 1, 16, 16)
    assert batch.z.shape == (4, 8)
    assert draws.images_seen == 4
    assert int(nets["G"].level) == int(nets["D"].level) == 2
    assert float(nets["D"].alpha) == pytest.approx(1 / 3)
    batch = objective.make_batch(draws, nets, g_phase, 3)  # stage 1 fade; the G phase reads no real images
    assert batch.real is None
    assert batch.z.shape == (8, 8)
    assert draws.images_seen == 4
    assert objective.state_dict() == {"step": 3, "level": 1, "resolution": 8, "alpha": pytest.approx(1 / 3),
                                      "batch_size": 8}
    terms = objective.d_loss(nets["G"], nets["D"], objective.make_batch(draws, nets, d_phase, 3))
    assert float(terms.logs["pggan/resolution"]) == 8
    assert float(terms.logs["pggan/batch_size"]) == 8


# ---- training: metrics, exact resume mid-fade, bad configs --------------------------------------------------------


def run_to(tmp_path: Path, name: str, steps: int, resume: bool = False) -> Run:
    cfg = resolve_config("pggan-mnist", tiny_sets(tmp_path, steps))
    run = Run(cfg, tmp_path / name, resume="latest" if resume else None)
    run.train()
    return run


def test_exact_resume_mid_fade_and_across_a_stage_change(tmp_path: Path) -> None:
    straight = run_to(tmp_path, "a", 11)
    run_to(tmp_path, "b", 3)  # stops in the 8x8 fade-in (next step 3: α = 1/3)
    run_to(tmp_path, "b", 9, resume=True)  # through the stable 8x8 phase into the 16x16 fade-in (next α = 2/6)
    resumed = run_to(tmp_path, "b", 11, resume=True)
    a = torch.load(tmp_path / "a" / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoints" / "latest.pt", weights_only=True)
    for net in ("G", "D", "G_ema"):
        for k, v in a["models"][net].items():
            assert torch.equal(v, b["models"][net][k]), f"{net}.{k}"
    assert int(a["models"]["G"]["level"]) == 2
    assert float(a["models"]["G"]["alpha"]) == 0.5
    assert a["trainer"]["objective"] == b["trainer"]["objective"] == {
        "step": 10, "level": 2, "resolution": 16, "alpha": pytest.approx(0.5), "batch_size": 4}
    assert straight.trainer.images_seen == resumed.trainer.images_seen == 2 * 8 + 5 * 8 + 4 * 4
    lines = [json.loads(s) for s in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    logged = [(r["step"], r["pggan/resolution"], round(r["pggan/alpha"], 6)) for r in lines if "pggan/alpha" in r]
    assert logged[:5] == [(1, 4, 1.0), (2, 4, 1.0), (3, 8, 0.0), (4, 8, 0.333333), (5, 8, 0.666667)]
    assert logged[-1] == (11, 16, 0.5)  # step s is logged after s updates: the α of update s − 1


def test_bad_configs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = [f"--set={s}" for s in tiny_sets(tmp_path, 2)]
    rc = main(["train", "pggan-mnist", *sets, "--set", "model.name=dcgan", "--set", "model.options={}", "--dry-run"])
    one_line_error(capsys, rc, "objective pggan", "set model.name=pggan")
    rc = main(["train", "pggan-mnist", *sets, "--set", "objective.options.batch_sizes=[8, 8]", "--dry-run"])
    one_line_error(capsys, rc, "one batch size per resolution 4/8/16")
    np.savez(tmp_path / "digits28.npz", x=np.zeros((8, 1, 28, 28), np.uint8))
    rc = main(["train", "pggan-mnist", *sets, "--set", f"data.options.path={tmp_path / 'digits28.npz'}",
               "--dry-run"])
    one_line_error(capsys, rc, "got 28x28; use data mnist32")
    rc = main(["train", "pggan-mnist", *sets, "--set", "objective.options.drift=-1", "--dry-run"])
    one_line_error(capsys, rc, "drift must be a finite number >= 0")


def test_mbstd_group_must_divide_the_stage_batch(tmp_path: Path) -> None:
    cfg = resolve_config("pggan-mnist", [*tiny_sets(tmp_path, 2), "objective.options.batch_sizes=[6, 8, 4]",
                                         "model.options.mbstd_group=4"])
    run = Run(cfg, tmp_path / "r")
    with pytest.raises(ValueError, match="group size 4 must divide the batch size 6"):
        run.trainer.train_step()


def test_cli_train_then_sample_and_interpolate_at_the_saved_stage(tmp_path: Path) -> None:
    run = tmp_path / "run"
    sets = [f"--set={s}" for s in tiny_sets(tmp_path, 9)]  # stops in the 16x16 fade-in: the last update's α = 1/6
    assert main(["train", "pggan-mnist", *sets, "--run-dir", str(run)]) == 0
    grids = sorted((run / "samples").glob("*.png"))
    assert grids  # the end-of-run grid at the current stage, pixel-replicated to 16x16
    out = tmp_path / "s.npz"
    assert main(["sample", str(run), "--n", "6", "--format", "npz", "--out", str(out), "--truncation", "1.5"]) == 0
    with np.load(out) as f:
        assert f["images"].shape == (6, 1, 16, 16)  # uint8 samples shaped like the data
    assert main(["interpolate", str(run), "--out", str(tmp_path / "walk.png")]) == 0


def test_a_new_stage_starts_with_fresh_adam_state_for_its_new_layers(tmp_path: Path) -> None:
    """Why the family does not reset Adam per stage as the released code does (``reset_opt_for_new_lod``): the new
    block's and toRGB/fromRGB layers get no gradient before their stage (``grad`` stays None), so torch's Adam has no
    state for them until their first update — they start fresh anyway; only the older layers carry their second
    moments over (β1 = 0: there is no first moment to carry)."""
    run = run_to(tmp_path, "r", 2)  # the two 4x4 steps; the 8x8 fade-in starts at step 2
    G, D = run.components.nets["G"], run.components.nets["D"]
    states = {**run.trainer.optimizers["g"].state, **run.trainer.optimizers["d"].state}
    new = [*G.blocks[1].parameters(), *G.to_rgb[1].parameters(), *D.blocks[1].parameters(),
           *D.from_rgb[1].parameters(), *G.blocks[2].parameters(), *D.from_rgb[2].parameters()]
    old = [*G.blocks[0].parameters(), *G.to_rgb[0].parameters(), *D.from_rgb[0].parameters(), G.dense.weight]
    assert all(p not in states or not states[p] for p in new)
    assert all(int(states[p]["step"]) == 2 for p in old)
    run.trainer.train_step()  # the first 8x8 fade-in step: the new layers' state begins at Adam step 1
    states = {**run.trainer.optimizers["g"].state, **run.trainer.optimizers["d"].state}
    assert all(int(states[p]["step"]) == 1 for p in [*G.blocks[1].parameters(), *D.from_rgb[1].parameters()])
