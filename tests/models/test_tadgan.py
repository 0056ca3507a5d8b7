"""TadGAN: networks and shapes, the objective against Orion's losses, its phases and batches, and exact resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.data.base import DataSpec
from ganforge.losses.objectives import Batch
from ganforge.losses.tadgan import TadGANObjective
from ganforge.models.base import count_parameters
from ganforge.models.tadgan import TadGANConfig, reconstruct
from helpers import assert_same_models, train_straight_and_resumed

SPEC = DataSpec((16, 1))
SMALL = dict(z_dim=3, e_hidden=4, g_hidden=4, cx_channels=4, cx_layers=2, cz_hidden=5)


def tiny_series(path: Path, n: int = 60) -> Path:
    t = np.arange(n)
    v = np.sin(t / 3.0)
    v[40:43] += 3
    path.write_text("timestamp,value,is_anomaly\n" + "\n".join(
        f"{i},{v[i]:.6f},{int(40 <= i < 43)}" for i in range(n)) + "\n")
    return path


def tiny_sets(csv: Path) -> list[str]:
    sets = ["model.options={'z_dim': 3, 'e_hidden': 4, 'g_hidden': 4, 'cx_channels': 4, 'cx_layers': 2, "
            "'cz_hidden': 5}", "data.name=series-csv", f"data.options={{'path': '{csv}', 'window': 16}}",
            "train.batch_size=4", "train.checkpoint_every=2", "log.every=1", "log.tensorboard=False"]
    return [a for s in sets for a in ("--set", s)]


def test_networks_shapes_and_parameter_counts() -> None:
    nets = TadGANConfig(**SMALL).build(SPEC)
    E, G, Cx, Cz = (nets[k] for k in ("E", "G", "Cx", "Cz"))
    x = torch.rand(5, 16, 1) * 2 - 1
    z = E(x)
    assert z.shape == (5, 3)
    out = G(z)
    assert out.shape == (5, 16, 1)
    assert out.abs().max() < 1
    assert Cx(x).shape == (5, 1)
    assert Cz(z).shape == (5, 1)
    lstm = lambda i, h: 2 * (4 * h * (i + h) + 8 * h)
    assert count_parameters(E) == lstm(1, 4) + (16 * 8 * 3 + 3)
    assert count_parameters(G) == (3 * 8 + 8) + lstm(1, 4) + lstm(8, 4) + (8 + 1)
    assert count_parameters(Cx) == (1 * 4 * 5 + 4) + (4 * 4 * 5 + 4) + (4 * 8 + 1)  # 16 → 12 → 8 steps
    with pytest.raises(ValueError, match="univariate windows"):
        TadGANConfig(**SMALL).build(DataSpec((1, 28, 28)))


def test_losses_follow_orion() -> None:
    torch.manual_seed(0)
    nets = TadGANConfig(**SMALL, g_dropout=0.0, cx_dropout=0.0, cz_dropout=0.0).build(SPEC)
    E, G, Cx, Cz = (nets[k] for k in ("E", "G", "Cx", "Cz"))
    x, z = torch.rand(6, 16, 1) * 2 - 1, torch.randn(6, 3)
    batch = Batch(real=x, z=z, generator=torch.Generator().manual_seed(0))
    obj = TadGANObjective(gp_weight=0.0)
    c = obj.critic_loss(E, G, Cx, Cz, batch)
    expected = (-Cx(x).mean() + Cx(G(z)).mean()) + (-Cz(z).mean() + Cz(E(x)).mean())
    torch.testing.assert_close(c.total, expected)
    c.total.backward()
    assert all(p.grad is None for p in [*E.parameters(), *G.parameters()])
    eg = TadGANObjective().eg_loss(E, G, Cx, Cz, batch)
    want = -Cx(G(z)).mean() - Cz(E(x)).mean() + 10 * (G(E(x)) - x).square().mean()
    torch.testing.assert_close(eg.total, want)
    with pytest.raises(ValueError, match="eg_batch"):
        TadGANObjective(eg_batch="fresh")


def test_phases_and_the_eg_step_reuses_the_last_critic_batch(tmp_path: Path) -> None:
    from ganforge.config import resolve_config
    from ganforge.training.run import Run

    sets = tiny_sets(tiny_series(tmp_path / "s.csv"))
    cfg = resolve_config("tadgan-ucr135", [sets[i + 1] for i in range(0, len(sets), 2)])
    run = Run(cfg, tmp_path / "r")
    assert [(p.name, p.groups, p.repeats) for p in run.trainer.phases] == [("C", ("d",), 5), ("EG", ("g",), 1)]
    assert run.groups == {"g": ("E", "G"), "d": ("Cx", "Cz")}
    c_phase, eg_phase = run.trainer.phases
    first = run.trainer.make_batch(c_phase)
    last = run.trainer.make_batch(c_phase)
    eg = run.trainer.make_batch(eg_phase)
    assert torch.equal(eg.real, last.real)
    assert torch.equal(eg.z, last.z)
    assert not torch.equal(first.z, last.z)


def test_trains_from_the_cli_resumes_exactly_and_detects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = tiny_sets(tiny_series(tmp_path / "s.csv"))
    straight = tmp_path / "straight"
    a, b = train_straight_and_resumed("tadgan-ucr135", sets, 4, 2, tmp_path)
    assert sorted(a["models"]) == ["Cx", "Cz", "E", "G"]
    assert_same_models(a, b)
    assert (straight / "plots" / "detection.png").is_file()
    final = (straight / "eval" / "final.json").read_text()
    assert '"f1"' in final
    assert '"precision"' in final
    from ganforge.training.rundir import load_run

    _, sampler, _, _ = load_run(straight)
    y_hat, critic = reconstruct(dict(sampler.nets.items()), torch.zeros(3, 16, 1))
    assert y_hat.shape == (3, 16)
    assert critic.shape == (3,)
    capsys.readouterr()


def test_keras_initialisation() -> None:
    """Glorot-uniform kernels within ±sqrt(6 / (fan_in + fan_out)), zero biases, orthogonal recurrent kernels and the
    LSTM forget-gate bias 1 (Keras' defaults, which Orion's networks get)."""
    torch.manual_seed(0)
    nets = TadGANConfig(**SMALL).build(SPEC)
    E, G, Cx = nets["E"], nets["G"], nets["Cx"]
    h = E.lstm.hidden_size
    for name, p in E.lstm.named_parameters():
        if name.startswith("weight_hh"):  # [4H, H] with orthonormal columns: pᵀp = I up to float32 rounding
            # each entry of pᵀp sums 4H = 16 products of O(1) numbers: 16 · 2⁻²⁴ ≈ 1e-6; 1e-5 leaves 10× slack
            torch.testing.assert_close(p.T @ p, torch.eye(h), rtol=0, atol=1e-5)
        elif name.startswith("bias_ih"):
            assert p[h : 2 * h].eq(1).all()
            assert p[:h].eq(0).all()
            assert p[2 * h :].eq(0).all()
        elif name.startswith("bias_hh"):
            assert p.eq(0).all()
        else:  # weight_ih [4H, 1]: fan_in 1, fan_out 4H
            assert p.abs().max() <= (6 / (1 + 4 * h)) ** 0.5
    conv = Cx.body[0]  # Conv1d(1 → 4, k=5): fan_in 5, fan_out 20
    assert conv.weight.abs().max() <= (6 / (5 + 20)) ** 0.5
    assert conv.bias.eq(0).all()
    assert G.dense.bias.eq(0).all()
    torch.manual_seed(0)
    plain = TadGANConfig(**SMALL, init="torch").build(SPEC)
    assert plain["G"].dense.bias.abs().sum() > 0  # PyTorch's default: a uniform fan-in bias
    with pytest.raises(ValueError, match="unknown init"):
        TadGANConfig(**SMALL, init="he")
    with pytest.raises(ValueError, match="unknown comb"):
        TadGANConfig(**SMALL, comb="max")


def test_detection_options_come_from_the_preset() -> None:
    from ganforge.config import resolve_config
    from ganforge.kinds.series import detect_options

    ucr = detect_options(resolve_config("tadgan-ucr135", []))
    assert (ucr.rec_error_type, ucr.comb, ucr.lambda_rec) == ("dtw", "sum", 0.5)  # Orion's tadgan_ucr.json
    yahoo = detect_options(resolve_config("tadgan-yahoo", []), comb="rec")  # a CLI flag overrides the preset
    assert (yahoo.rec_error_type, yahoo.comb) == ("area", "rec")
    cfg = resolve_config("tadgan-mitdb", [])
    assert (cfg.train.batch_size, cfg.train.d_steps) == (64, 5)  # 64 windows for each of the 5 critic steps
    assert detect_options(cfg).comb == "mult"


def test_reconstruction_warmup_trains_the_autoencoder_and_leaves_the_critics(tmp_path: Path) -> None:
    from ganforge.config import resolve_config
    from ganforge.training.run import Run

    sets = tiny_sets(tiny_series(tmp_path / "s.csv"))
    overrides = [sets[i + 1] for i in range(0, len(sets), 2)] + ["objective.options={'recon_warmup': 2}"]
    run = Run(resolve_config("tadgan-ucr135", overrides), tmp_path / "r")
    nets = run.trainer.nets
    critics = {k: [p.detach().clone() for p in nets[k].parameters()] for k in ("Cx", "Cz")}
    g_before = [p.detach().clone() for p in nets["G"].parameters()]
    for _ in range(2):  # the two warm-up steps
        run.trainer.train_step()
    for k, before in critics.items():  # no gradient reached the critics: Adam left them exactly as they were
        assert all(torch.equal(a, b) for a, b in zip(before, nets[k].parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, nets["G"].parameters(), strict=True))
    run.trainer.train_step()  # step 2: the adversarial game starts and the critics train
    assert any(not torch.equal(a, b) for a, b in zip(critics["Cx"], nets["Cx"].parameters(), strict=True))
    E, G = nets["E"], nets["G"]
    x = torch.rand(3, 16, 1) * 2 - 1
    G.eval()
    E.eval()  # no dropout: the same forward twice
    warm = TadGANObjective(recon_warmup=5).eg_loss(E, G, nets["Cx"], nets["Cz"], Batch(real=x, z=None, step=4))
    torch.testing.assert_close(warm.total, 10 * (G(E(x)) - x).square().mean())
    # recon_after: the game first, reconstruction-only from that step on; 0 = never (Orion)
    assert [TadGANObjective(recon_after=3).recon_only(s) for s in range(5)] == [False, False, False, True, True]
    assert [TadGANObjective(recon_warmup=2).recon_only(s) for s in range(4)] == [True, True, False, False]
    assert not any(TadGANObjective().recon_only(s) for s in range(4))
    with pytest.raises(ValueError, match="recon_warmup"):
        TadGANObjective(recon_warmup=-1)
    with pytest.raises(ValueError, match="recon_after"):
        TadGANObjective(recon_after=-1)
