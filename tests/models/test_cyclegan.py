"""CycleGAN: ResNet generators, the LSGAN + cycle + identity objective against its equations, the 50-image history
pool (behaviour, and its contents through exact resume), translation both ways and the bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.data.base import DataSpec
from ganforge.losses.objectives import Batch
from ganforge.losses.translation import CycleGANObjective, ImagePool
from ganforge.models.base import TranslateRequest
from ganforge.models.cyclegan import CycleGANConfig
from helpers import assert_same_models, one_line_error, train_straight_and_resumed

SPEC = DataSpec((3, 16, 16), fields={"x_a_unpaired": (3, 16, 16)})
TINY_MODEL = "model.options={'ngf': 4, 'ndf': 4, 'n_blocks': 1, 'n_down': 2, 'd_layers': 1}"


def unpaired_folder(root: Path, size: int = 16, n: int = 6) -> Path:
    """A: grey squares (saved as RGB with R = G = B, so read as 1 channel unless channels=3), B: colour noise."""
    rng = np.random.default_rng(0)
    for part in ("trainA", "trainB", "testA", "testB"):
        (root / part).mkdir(parents=True)
        for i in range(n):
            if part.endswith("A"):
                im = np.zeros((size, size, 3), np.uint8)
                im[4:12, 4:12] = rng.integers(100, 255)
            else:
                im = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(im).save(root / part / f"{i}.png")
    return root


def tiny_sets(root: Path, *extra: str, channels: int = 3) -> list[str]:
    sets = [TINY_MODEL, "data.name=unpaired-folder", f"data.options={{'path': '{root}', 'channels': {channels}}}",
            "train.batch_size=2",
            "objective.options={'pool_size': 3}", "train.checkpoint_every=2", "log.sample_every=0",
            "log.tensorboard=False", "optim.g.lr_decay_start=2", "optim.g.lr_decay_end=6",
            "optim.d.lr_decay_start=2", "optim.d.lr_decay_end=6", *extra]
    return [a for s in sets for a in ("--set", s)]


def test_networks_follow_the_paper() -> None:
    nets = CycleGANConfig(ngf=4, ndf=4, n_blocks=2, d_layers=1).build(SPEC)
    assert list(nets) == ["G", "F", "D_A", "D_B"]
    G = nets["G"]
    assert sum(isinstance(m, torch.nn.ReflectionPad2d) for m in G.modules()) == 2 + 2 * 2  # c7s1 ×2, 2 per block
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in G.modules())
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert G(x).shape == (2, 3, 16, 16)
    assert G(x).abs().max() <= 1
    assert nets["D_B"](x).shape == (2, 1, 6, 6)  # 16 → 8 → 7 → 6 patch logits
    with pytest.raises(ValueError, match="n_down"):
        CycleGANConfig(n_down=3).build(DataSpec((3, 12, 12), fields={"x_a_unpaired": (3, 12, 12)}))


def test_losses_follow_the_equations() -> None:
    """G: (D_B(G(a)) − 1)² + (D_A(F(b)) − 1)² + λ(‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁) + 0.5λ(‖G(b) − b‖₁ + ‖F(a) − a‖₁);
    D: ½[(D(real) − 1)² + D(fake)²] for each D (Zhu et al. 2017, eqs. 1–3; LSGAN)."""
    torch.manual_seed(0)
    nets = CycleGANConfig(ngf=4, ndf=4, n_blocks=1, d_layers=1).build(SPEC)
    G, Fn, D_A, D_B = nets.values()
    a, b = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    batch = Batch(real=b, z=None, extras={"a": a}, step=0)
    obj = CycleGANObjective(lambda_cycle=3.0, lambda_identity=0.5, pool_size=0)
    g = obj.g_loss_cycle(G, Fn, D_A, D_B, batch)
    want = ((D_B(G(a)) - 1) ** 2).mean() + ((D_A(Fn(b)) - 1) ** 2).mean() \
        + 3.0 * ((Fn(G(a)) - a).abs().mean() + (G(Fn(b)) - b).abs().mean()) \
        + 1.5 * ((G(b) - b).abs().mean() + (Fn(a) - a).abs().mean())
    torch.testing.assert_close(g.total, want)
    # the B → A → B cycle weighted apart: only that term changes, by (w_B − 1)·λ·‖G(F(b)) − b‖₁
    g_w = CycleGANObjective(lambda_cycle=3.0, lambda_identity=0.5, pool_size=0, cycle_b_weight=0.2).g_loss_cycle(
        G, Fn, D_A, D_B, batch)
    torch.testing.assert_close(g_w.total, want + (0.2 - 1.0) * 3.0 * (G(Fn(b)) - b).abs().mean())
    with pytest.raises(ValueError, match="cycle_b_weight"):
        CycleGANObjective(cycle_b_weight=-1.0)
    d = obj.d_loss_pools(G, Fn, D_A, D_B, batch)  # pool 0: judges the G step's own fakes
    with torch.no_grad():
        fb, fa = G(a), Fn(b)
    want = 0.5 * (((D_B(b) - 1) ** 2).mean() + (D_B(fb) ** 2).mean()) \
        + 0.5 * (((D_A(a) - 1) ** 2).mean() + (D_A(fa) ** 2).mean())
    torch.testing.assert_close(d.total, want)
    assert obj.groups() == {"g": ("G", "F"), "d": ("D_A", "D_B")}
    assert [p.name for p in obj.phases(nets, 1)] == ["G", "D"]
    with pytest.raises(ValueError, match="d_steps must be 1"):
        obj.phases(nets, 2)
    mixed = CycleGANConfig(ngf=4, ndf=4, n_blocks=1).build(DataSpec((3, 16, 16), fields={"x_a_unpaired": (1, 16, 16)}))
    with pytest.raises(ValueError, match="lambda_identity=0"):
        CycleGANObjective().phases(mixed, 1)


def test_image_pool() -> None:
    """Fills up returning its inputs; once full, each image is swapped for a stored one with probability ½."""
    pool = ImagePool(4)
    g = torch.Generator().manual_seed(0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first, g), first)
    assert len(pool.images) == 4
    new = 10 + torch.arange(200.0).view(200, 1, 1, 1)
    out = pool.query(new, g)
    assert len(pool.images) == 4
    from_history = int((out < 10).sum() + ((out >= 10) & (out != new)).sum())
    assert 70 <= from_history <= 130  # Binomial(200, ½): 6σ band
    seen = set(first.flatten().tolist()) | set(new.flatten().tolist())
    assert set(out.flatten().tolist()) <= seen  # only images it was given
    swapped = out.flatten() != new.flatten()
    assert set(pool.state_dict().flatten().tolist()) <= seen
    assert not (set(out.flatten()[swapped].tolist()) & set(pool.state_dict().flatten().tolist()))  # handed out once
    clone = ImagePool(4)
    clone.load_state_dict(pool.state_dict())
    assert torch.equal(clone.state_dict(), pool.state_dict())
    assert torch.equal(ImagePool(0).query(new, g), new)  # pool 0: no history


def test_trains_resumes_exactly_with_the_pool_and_translates_both_ways(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = unpaired_folder(tmp_path / "data")
    straight = tmp_path / "straight"
    a, b = train_straight_and_resumed("cyclegan-mnist2mnistm", tiny_sets(root), 6, 2, tmp_path)
    assert sorted(a["models"]) == ["D_A", "D_B", "F", "G"]
    assert_same_models(a, b)
    pool_a, pool_b = a["trainer"]["objective"]["pool_a"], a["trainer"]["objective"]["pool_b"]
    assert pool_a.shape == (3, 3, 16, 16)
    assert pool_b.shape == (3, 3, 16, 16)
    assert torch.equal(pool_a, b["trainer"]["objective"]["pool_a"])
    assert torch.equal(pool_b, b["trainer"]["objective"]["pool_b"])
    lrs = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr/g"] for r in lrs if "lr/g" in r][-1] == pytest.approx(0.0, abs=1e-12)  # linear decay to 0
    for direction in ("AB", "BA"):
        out = tmp_path / f"out-{direction}"
        assert main(["translate", str(straight), "--input", str(root / ("testA" if direction == "AB" else "testB")),
                     "--direction", direction, "--out", str(out), "--device", "cpu"]) == 0
        assert np.load(out / "outputs.npz")["outputs"].shape == (6, 3, 16, 16)
        assert (out / "grid.png").is_file()
    assert main(["eval", str(straight), "--device", "cpu"]) == 0
    assert "cycle_l1_ab" in (straight / "eval" / "task.json").read_text()
    capsys.readouterr()
    rc = main(["translate", str(straight), "--input", str(root / "testA"), "--z-samples", "2"])
    one_line_error(capsys, rc, "--z-samples")


def test_bad_unpaired_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = unpaired_folder(tmp_path / "data")
    for f in (root / "testB").iterdir():
        f.unlink()
    rc = main(["train", "cyclegan-mnist2mnistm", *tiny_sets(root), "--run-dir", str(tmp_path / "r1"), "--no-progress"])
    one_line_error(capsys, rc, "testB", "holds no images")
    (root / "testB").rmdir()
    rc = main(["train", "cyclegan-mnist2mnistm", *tiny_sets(root), "--run-dir", str(tmp_path / "r2"), "--no-progress"])
    one_line_error(capsys, rc, "testB", "not found")
    other = unpaired_folder(tmp_path / "other")  # channels inferred: A grey (1), B colour (3)
    rc = main(["train", "cyclegan-mnist2mnistm", *tiny_sets(other, channels=0), "--run-dir", str(tmp_path / "r3"),
               "--no-progress"])
    one_line_error(capsys, rc, "lambda_identity=0")


def test_translate_request_checks() -> None:
    family = CycleGANConfig(ngf=4, ndf=4, n_blocks=1, d_layers=1)
    nets = family.build(DataSpec((3, 16, 16), fields={"x_a_unpaired": (1, 16, 16)}))
    assert family.translation_input(nets, TranslateRequest()) == (1, 16, 16)
    assert family.translation_input(nets, TranslateRequest(direction="BA")) == (3, 16, 16)
    r = family.translate(nets, torch.zeros(2, 3, 16, 16, dtype=torch.uint8), TranslateRequest(direction="BA"))
    assert r.outputs.shape == (2, 1, 1, 16, 16)
    assert [t for t, _ in r.columns] == ["input (B)", "translated (A)", "reconstruction (B)"]
    with pytest.raises(ValueError, match="drop --domain"):
        family.translate(nets, torch.zeros(1, 1, 16, 16, dtype=torch.uint8), TranslateRequest(domain=1))
