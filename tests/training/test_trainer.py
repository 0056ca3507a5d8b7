"""The trainer's schedule: k D-steps per G-step, separate optimisers (TTUR), EMA, gradients only where they belong."""

from __future__ import annotations

import pytest
import torch

from ganforge.training.ema import make_ema, update_ema
from ganforge.training.run import Run
from helpers import tiny_config


def _counting(run: Run) -> dict[str, int]:
    """Count optimizer.step() calls per phase (the D phase steps group "d", the G phase group "g")."""
    counts: dict[str, int] = {}
    for phase in run.trainer.phases:
        (group,) = phase.groups
        opt = run.trainer.optimizers[group]
        real_step = opt.step

        def step(*a: object, _name: str = phase.name, _real=real_step, **k: object) -> object:
            counts[_name] = counts.get(_name, 0) + 1
            return _real(*a, **k)

        opt.step = step
    return counts


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step")
@pytest.mark.parametrize("k", [1, 3])
def test_k_discriminator_steps_per_generator_step(tmp_path, k: int) -> None:
    run = Run(tiny_config(f"train.d_steps={k}"), tmp_path / "r")
    counts = _counting(run)
    for _ in range(4):
        run.trainer.train_step()
    assert counts == {"D": 4 * k, "G": 4}
    # every D-step draws a fresh real batch (Algorithm 1 samples a minibatch per D update); G-steps draw none
    assert run.trainer.images_seen == 4 * k * 32


def test_separate_optimisers_and_learning_rates(tmp_path) -> None:
    run = Run(tiny_config("optim.g.lr=1e-3", "optim.d.name=sgd", "optim.d.lr=0.05", "optim.d.momentum=0.9"),
              tmp_path / "r")
    assert isinstance(run.opt_g, torch.optim.Adam)
    assert run.opt_g.param_groups[0]["lr"] == 1e-3
    assert isinstance(run.opt_d, torch.optim.SGD)
    assert run.opt_d.param_groups[0]["lr"] == 0.05
    assert run.opt_d.param_groups[0]["momentum"] == 0.9
    g_params = {id(p) for p in run.components.G.parameters()}
    assert all(id(p) in g_params for group in run.opt_g.param_groups for p in group["params"])
    assert not any(id(p) in g_params for group in run.opt_d.param_groups for p in group["params"])


def test_lr_decay_is_exponential_per_step(tmp_path) -> None:
    run = Run(tiny_config("optim.g.lr=0.1", "optim.g.lr_decay=0.5", "optim.g.lr_decay_start=0", "optim.d.lr_decay=1.0"),
              tmp_path / "r")
    for _ in range(3):
        run.trainer.train_step()
    assert run.opt_g.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)
    assert run.opt_d.param_groups[0]["lr"] == pytest.approx(1e-3)  # D keeps its own (constant) schedule


def test_lr_decay_can_start_late(tmp_path) -> None:
    run = Run(tiny_config("optim.d.lr=0.1", "optim.d.lr_decay=0.5", "optim.d.lr_decay_start=2"), tmp_path / "r")
    lrs = []
    for _ in range(4):
        run.trainer.train_step()
        lrs.append(run.opt_d.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.025])


def test_generator_step_leaves_no_gradient_on_d_and_d_step_none_on_g(tmp_path) -> None:
    run = Run(tiny_config(), tmp_path / "r")
    d_phase, g_phase = run.trainer.phases
    run.trainer._train_only(g_phase)
    g_phase.loss_fn(run.trainer.make_batch(g_phase)).total.backward()
    assert all(p.grad is None for p in run.components.D.parameters())
    assert all(p.grad is not None for p in run.components.G.parameters())
    run.components.G.zero_grad(set_to_none=True)
    run.trainer._train_only(d_phase)
    d_phase.loss_fn(run.trainer.make_batch(d_phase)).total.backward()
    assert all(p.grad is None for p in run.components.G.parameters())


def test_ema_formula_and_start() -> None:
    G = torch.nn.Linear(2, 2)
    ema = make_ema(G)
    before = ema.weight.clone()
    with torch.no_grad():
        G.weight.add_(1.0)
    update_ema(ema, G, 0.9)
    torch.testing.assert_close(ema.weight, 0.9 * before + 0.1 * G.weight)
    update_ema(ema, G, 0.0)  # decay 0 (before ema_start) copies G
    torch.testing.assert_close(ema.weight, G.weight)
    assert not ema.weight.requires_grad


def test_ema_averages_batchnorm_statistics_and_copies_counters_and_spectral_vectors() -> None:
    """With buffers="average" (the BigGAN/SAGAN presets; BigGAN-PyTorch's utils.ema averages the whole state_dict) BN
    running mean / var are averaged like the weights; the integer counter and spectral norm's u, v are copied. The
    default, "copy" (NVlabs), copies the running statistics."""
    G = torch.nn.Sequential(torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(3, 4)),
                            torch.nn.BatchNorm1d(4))
    ema = make_ema(G)
    mean0, var0 = ema[1].running_mean.clone(), ema[1].running_var.clone()
    G.train()(torch.randn(8, 3, generator=torch.Generator().manual_seed(0)))  # moves BN stats and SN's u, v
    update_ema(ema, G, 0.9, buffers="average")
    bn, bn_ema = G[1], ema[1]
    torch.testing.assert_close(bn_ema.running_mean, 0.9 * mean0 + 0.1 * bn.running_mean)
    torch.testing.assert_close(bn_ema.running_var, 0.9 * var0 + 0.1 * bn.running_var)
    assert not torch.equal(bn_ema.running_mean, bn.running_mean)  # really averaged, not copied
    assert bn_ema.num_batches_tracked.item() == bn.num_batches_tracked.item() == 1
    sn, sn_ema = G[0].parametrizations.weight[0], ema[0].parametrizations.weight[0]
    assert torch.equal(sn_ema._u, sn._u)
    assert torch.equal(sn_ema._v, sn._v)
    update_ema(ema, G, 0.0, buffers="average")  # before ema_start: everything copied
    assert torch.equal(bn_ema.running_var, bn.running_var)


def test_ema_copies_batchnorm_statistics_by_default_and_the_biggan_presets_average_them() -> None:
    from ganforge.config import resolve_config

    assert resolve_config("dcgan-mnist", [], None).train.ema_buffers == "copy"
    assert resolve_config("biggan-mnist", [], None).train.ema_buffers == "average"
    assert resolve_config("sagan-mnist", [], None).train.ema_buffers == "average"
    G = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    ema = make_ema(G)
    G.train()(torch.randn(8, 3, generator=torch.Generator().manual_seed(0)))
    update_ema(ema, G, 0.9)
    assert torch.equal(ema[1].running_mean, G[1].running_mean)  # copied, as NVlabs' G_ema does
    with pytest.raises(ValueError, match="copy"):
        update_ema(ema, G, 0.9, buffers="mean")


def test_ema_tracks_generator_in_training(tmp_path) -> None:
    run = Run(tiny_config("train.ema=0.5", "train.ema_start=3"), tmp_path / "r")
    for _ in range(3):
        run.trainer.train_step()
    for a, b in zip(run.G_ema.parameters(), run.components.G.parameters(), strict=True):
        assert torch.equal(a, b)  # copied until ema_start
    run.trainer.train_step()
    G = run.components.G
    assert any(not torch.equal(a, b) for a, b in zip(run.G_ema.parameters(), G.parameters(), strict=True))


def test_generator_cost_choice_changes_training(tmp_path) -> None:
    finals = {}
    for cost in ("minimax", "nonsaturating", "max_likelihood"):
        run = Run(tiny_config(f"objective.options.g_cost={cost}"), tmp_path / cost)
        for _ in range(3):
            run.trainer.train_step()
        finals[cost] = torch.cat([p.flatten() for p in run.components.G.parameters()])
    assert not torch.equal(finals["minimax"], finals["nonsaturating"])
    assert not torch.equal(finals["nonsaturating"], finals["max_likelihood"])


def test_unknown_objective_option_is_a_one_line_error(tmp_path) -> None:
    from ganforge.options import ConfigError

    with pytest.raises((ConfigError, ValueError), match="g_cost"):
        Run(tiny_config("objective.options.g_cost=wasserstein"), tmp_path / "r")
    with pytest.raises(ConfigError, match=r"unknown config key 'model.options.g_width'"):
        Run(tiny_config("model.options.g_width=3"), tmp_path / "r")
    assert not (tmp_path / "r").exists()
