"""The generic core against plain loops written here: the trainer must run exactly the optimisation a reader would
write by hand — for a two-player GAN and for a family with three networks and two optimiser groups (BiGAN: E and G
trained jointly, D alone, EMA copies of G and E). Same CPU, same ops, same RNG streams: the weights must be equal to
the bit, so these tests hold on any CPU (unlike stored hashes, which are CPU-specific)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ganforge.builder import build_components
from ganforge.config import OptimizerConfig
from ganforge.data.source import make_source
from ganforge.losses import adversarial
from ganforge.training.ema import make_ema, update_ema
from ganforge.training.optim import build_optimizer
from ganforge.training.run import Run
from helpers import tiny_config

STEPS = 5
PLAIN = ["model.options.pack=1", "optim.g.lr_decay=1.0", "optim.d.lr_decay=1.0", "train.steps=5"]


def _adam(params: list[torch.nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    return build_optimizer(params, cfg, torch.device("cpu"), "optim")  # Adam as configured (same kernels)


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_two_player_gan_matches_a_plain_loop(tmp_path: Path) -> None:
    """Goodfellow's Algorithm 1 with k = 2 (ring8, non-saturating G cost), written out."""
    cfg = tiny_config(*PLAIN, "train.d_steps=2")
    run = Run(cfg, tmp_path / "run")
    while run.trainer.step < STEPS:
        run.trainer.train_step()

    c = build_components(cfg)  # the same initial weights (seeded by train.seed)
    G, D, n = c.G, c.D, cfg.train.batch_size
    source = make_source(c.data, None, cfg.train.seed + 1, torch.device("cpu"))
    rng = torch.Generator().manual_seed(cfg.train.seed + 2)
    opt_g, opt_d = _adam(list(G.parameters()), cfg.optim.g), _adam(list(D.parameters()), cfg.optim.d)
    for _ in range(STEPS):
        for _ in range(2):  # k D steps: real batch, then z
            real = source.next(n)["x"]
            z = G.sample_z(n, rng)
            with torch.no_grad():
                fake = G(z)
            loss_d = adversarial.d_logistic(D(real), D(fake))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        z = G.sample_z(n, rng)  # the G step reads no data
        loss_g = F.softplus(-D(G(z))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    _equal(run.components.G.state_dict(), G.state_dict())
    _equal(run.components.D.state_dict(), D.state_dict())


def test_three_networks_two_groups_and_ema_match_a_plain_loop(tmp_path: Path) -> None:
    """BiGAN: D on pairs (x, E(x)) vs (G(z), z); then E and G in one Adam on the inverted-label cost; EMA of G, E."""
    overrides = ["model.name=bigan", "model.options={'z_dim': 4, 'g_hidden': [16], 'e_hidden': [16], "
                 "'d_hidden': [16], 'd_dropout': 0.0}", "objective.name=bigan", "objective.options={}",
                 "data.name=mnist", "data.options={'limit': 64}", "train.ema=0.9", "train.batch_size=8",
                 "optim.g.lr_decay=1.0", "optim.d.lr_decay=1.0", "train.steps=5"]
    cfg = tiny_config(*overrides)
    run = Run(cfg, tmp_path / "run")
    source_run = run.trainer.draws.source
    while run.trainer.step < STEPS:
        run.trainer.train_step()

    c = build_components(cfg)
    G, E, D, n = c.nets["G"], c.nets["E"], c.nets["D"], cfg.train.batch_size
    source = make_source(c.data, G.output_range, cfg.train.seed + 1, torch.device("cpu"))
    rng = torch.Generator().manual_seed(cfg.train.seed + 2)
    opt_eg = _adam([*G.parameters(), *E.parameters()], cfg.optim.g)
    opt_d = _adam(list(D.parameters()), cfg.optim.d)
    ema = {"G": make_ema(G), "E": make_ema(E)}
    for _ in range(STEPS):
        x = source.next(n)["x"]
        z = G.sample_z(n, rng)
        with torch.no_grad():
            ex, gz = E(x), G(z)
        loss_d = F.softplus(-D(x, ex)).mean() + F.softplus(D(gz, z)).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        x = source.next(n)["x"]  # the E+G step reads real digits too (for E(x))
        z = G.sample_z(n, rng)
        D.requires_grad_(False)
        loss_eg = F.softplus(D(x, E(x))).mean() + F.softplus(-D(G(z), z)).mean()
        opt_eg.zero_grad()
        loss_eg.backward()
        opt_eg.step()
        D.requires_grad_(True)
        for name in ("G", "E"):
            update_ema(ema[name], c.nets[name], cfg.train.ema)
    for name, net in (("G", G), ("E", E), ("D", D)):
        _equal(run.components.nets[name].state_dict(), net.state_dict())
    for name in ("G", "E"):
        _equal(run.ema[name].state_dict(), ema[name].state_dict())
    assert source_run.pos == source.pos  # the same stream of digits
