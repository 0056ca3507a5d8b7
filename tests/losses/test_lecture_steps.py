"""The lectures' training steps as options of the logistic objective, against their equations:

- ``update: simultaneous`` (the TF DCGAN tutorial's ``train_step``): one forward, both gradients at the same weights;
- ``d_batch: concat`` (keras.io's ``train_step``, SciNet's ``D.train_on_batch``): one D forward over [G(z); x], one
  BCE mean = half the sum form, label noise drawn once and mirrored from Keras' fake = 1 convention;
- ``d_fakes_from: eval`` (Keras ``G.predict``): D's fakes from G in inference mode (BN running statistics);
- ``shared_z`` (lecture 004's GradientTape loop): the G phase reuses the last D batch's z; exact resume still holds.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from ganforge.losses.objectives import Batch, LogisticObjective
from ganforge.training.run import Run
from helpers import TanhCritic, tiny_config

DT = torch.float64
N = 6
SGD = ["optim.g.name=sgd", "optim.d.name=sgd", "optim.g.lr=0.1", "optim.d.lr=0.1"]
BN_MLP = "model.options={'z_dim': 2, 'g_hidden': [16], 'd_hidden': [16], 'g_batchnorm': True}"


def RecordingD() -> TanhCritic:
    """The closed-form critic of the objective tests, recording the input of every call (to count forwards)."""
    return TanhCritic(scale=2.0, record=True)


def _bn_generator() -> nn.Module:
    """G(z) = BN(A z + a) with running statistics far from any batch's, so train and eval modes differ."""
    G = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).double()
    with torch.no_grad():
        G[0].weight.copy_(torch.tensor([[1.0, 0.5], [-0.3, 2.0]]))
        G[0].bias.copy_(torch.tensor([0.4, -0.2]))
        G[1].running_mean.fill_(3.0)
        G[1].running_var.fill_(4.0)
    return G


def _batch(seed: int = 0, n: int = N, rank: int = 0, world_size: int = 1) -> Batch:
    g = torch.Generator().manual_seed(42)
    real = torch.randn(n * world_size, 2, generator=g, dtype=DT) + 1.0
    z = torch.randn(n * world_size, 2, generator=g, dtype=DT)
    rows = slice(rank * n, (rank + 1) * n)
    return Batch(real=real[rows], z=z[rows], generator=torch.Generator().manual_seed(seed), rank=rank,
                 world_size=world_size)


# ---- update: simultaneous (TF tutorial) ---------------------------------------------------------------------------


def test_simultaneous_phase_steps_both_networks_from_one_forward_at_the_same_weights(tmp_path: Path) -> None:
    """One trainer step against the tutorial's train_step written by hand on copies of the networks (plain SGD, so
    new = old − lr·grad): D's gradient of disc_loss and G's gradient of gen_loss, both at the pre-step weights, from
    one G(z) whose BatchNorm statistics move exactly once."""
    torch.set_num_threads(1)
    run = Run(tiny_config("objective.options.update=simultaneous", BN_MLP, *SGD), tmp_path / "r")
    trainer, G, D = run.trainer, run.components.G, run.components.D
    assert [(p.name, p.groups) for p in trainer.phases] == [("DG", ("d", "g"))]
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    batches: list[Batch] = []
    make_batch = trainer.objective.make_batch
    trainer.objective.make_batch = lambda *a: batches.append(make_batch(*a)) or batches[-1]
    trainer.train_step()
    (b,) = batches  # one batch: one z, one real batch per step

    # the tutorial's train_step on the copies
    fake = G0(b.z)  # generator(noise, training=True)
    real_out, fake_out = D0(b.real), D0(fake)
    disc_loss = F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out)) \
        + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out))
    gen_loss = F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))
    d_grads = torch.autograd.grad(disc_loss, list(D0.parameters()), retain_graph=True)
    g_grads = torch.autograd.grad(gen_loss, list(G0.parameters()))
    for p, p0, g in zip(D.parameters(), D0.parameters(), d_grads, strict=True):
        assert_close(p, p0 - 0.1 * g)
    for p, p0, g in zip(G.parameters(), G0.parameters(), g_grads, strict=True):
        assert_close(p, p0 - 0.1 * g)
    bn = [m for m in G.modules() if isinstance(m, nn.BatchNorm1d)]
    assert bn
    assert all(int(m.num_batches_tracked) == 1 for m in bn)  # one forward of G per step
    for m, m0 in zip(bn, [m for m in G0.modules() if isinstance(m, nn.BatchNorm1d)], strict=True):
        assert_close(m.running_mean, m0.running_mean)
        assert_close(m.running_var, m0.running_var)
    assert trainer.images_seen == run.cfg.train.batch_size


def test_simultaneous_loss_terms_and_d_steps() -> None:
    G, D, batch = _bn_generator(), RecordingD(), _batch()
    obj = LogisticObjective(update="simultaneous")
    terms = obj.dg_loss(G, D, batch)
    assert terms.total is None
    assert set(terms.totals) == {"d", "g"}
    assert len(D.inputs) == 2  # D(x), D(G(z)): gen_loss reuses the second
    fake_out = D(G(batch.z))
    assert_close(terms.totals["g"], F.softplus(-fake_out).mean())
    assert_close(terms.logs["loss/g"], terms.totals["g"])
    with pytest.raises(ValueError, match="d_steps"):
        obj.phases({"G": G, "D": D}, d_steps=2)


# ---- d_batch: concat (keras.io, SciNet) ---------------------------------------------------------------------------


def test_concat_is_one_d_forward_and_half_the_sum_form() -> None:
    G, batch = _bn_generator(), _batch()
    D_sep, D_cat = RecordingD(), RecordingD()
    separate = LogisticObjective().d_loss(G.eval(), D_sep, batch)
    concat = LogisticObjective(d_batch="concat").d_loss(G, D_cat, batch)
    assert len(D_sep.inputs) == 2
    (rows,) = D_cat.inputs  # one forward over [generated; real]
    assert rows.shape == (2 * N, 2)
    assert_close(rows[N:], batch.real)
    assert_close(rows[:N], D_sep.inputs[1])  # the generated half first, as tf.concat([generated, real])
    assert_close(concat.total, 0.5 * separate.total)  # one mean over 2N rows = half the sum of two means
    assert_close(concat.logs["loss/d"], concat.total)
    assert_close(concat.logs["score/real"], separate.logs["score/real"])
    assert_close(concat.logs["score/fake"], separate.logs["score/fake"])


def test_concat_label_noise_is_keras_train_step_mirrored() -> None:
    """keras.io, literally, with Keras' logit k = −l (σ(k) = P(fake)): labels [1…; 0…] + 0.05·U drawn once for the
    2N rows, one BCE mean; and the G step's BCE(0, k) is our non-saturating cost."""
    G, D, batch = _bn_generator().eval(), RecordingD(), _batch(seed=5)
    obj = LogisticObjective(label_noise=0.05, d_batch="concat")
    ours = obj.d_loss(G, D, batch).total
    with torch.no_grad():
        k = -D(torch.cat([G(batch.z), batch.real]))  # predictions = discriminator(combined_images), Keras' sign
        labels = torch.cat([torch.ones(N, 1, dtype=DT), torch.zeros(N, 1, dtype=DT)])
        labels = labels + 0.05 * torch.rand(2 * N, 1, generator=torch.Generator().manual_seed(5)).to(DT)
        keras = (labels * F.softplus(-k) + (1 - labels) * F.softplus(k)).mean()  # BinaryCrossentropy(from_logits)
    assert_close(ours, keras)
    k_fake = -D(G(batch.z))
    keras_g = F.softplus(k_fake).mean()  # loss_fn(misleading_labels = 0, predictions)
    assert_close(obj.g_loss(G, D, Batch(real=None, z=batch.z)).total, keras_g)


def test_concat_label_noise_shards_like_one_process() -> None:
    """Two ranks' D losses average to the one-process loss on the global batch (the noise is drawn globally)."""
    G, D = _bn_generator().eval(), RecordingD()
    obj = LogisticObjective(label_noise=0.05, d_batch="concat")
    whole = obj.d_loss(G, D, _batch(seed=3, n=2 * N)).total
    ranks = [obj.d_loss(G, D, _batch(seed=3, n=N, rank=r, world_size=2)).total for r in (0, 1)]
    assert_close(0.5 * (ranks[0] + ranks[1]), whole)


# ---- d_fakes_from: eval (Keras G.predict) -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_d_fakes_from_eval_uses_running_statistics(mode: str) -> None:
    G, D, batch = _bn_generator(), RecordingD(), _batch()
    with torch.no_grad():
        expected = copy.deepcopy(G).eval()(batch.z) if mode == "eval" else copy.deepcopy(G)(batch.z)
    LogisticObjective(d_fakes_from=mode).d_loss(G, D, batch)
    assert_close(D.inputs[1], expected)
    assert G.training  # back in training mode for the G step
    bn = G[1]
    if mode == "eval":  # predict() neither uses nor updates batch statistics
        assert int(bn.num_batches_tracked) == 0
        assert_close(bn.running_mean, torch.full((2,), 3.0, dtype=DT))
    else:
        assert int(bn.num_batches_tracked) == 1
    assert not torch.allclose(D.inputs[1], G.eval()(batch.z) if mode == "train" else copy.deepcopy(G).train()(batch.z))


# ---- shared_z (lecture 004) ---------------------------------------------------------------------------------------


def _phase_batches(run: Run) -> dict[str, list[Batch]]:
    seen: dict[str, list[Batch]] = {}
    make_batch = run.trainer.objective.make_batch

    def record(draw, nets, phase, step):
        b = make_batch(draw, nets, phase, step)
        seen.setdefault(phase.name, []).append(b)
        return b

    run.trainer.objective.make_batch = record
    return seen


@pytest.mark.parametrize("shared", [True, False])
def test_shared_z_reuses_the_last_d_batch_z(tmp_path: Path, shared: bool) -> None:
    run = Run(tiny_config(f"objective.options.shared_z={shared}", "train.d_steps=2"), tmp_path / "r")
    seen = _phase_batches(run)
    run.trainer.train_step()
    run.trainer.train_step()
    assert [len(seen["D"]), len(seen["G"])] == [4, 2]
    for step in (0, 1):
        d_last, g = seen["D"][2 * step + 1], seen["G"][step]
        assert torch.equal(g.z, d_last.z) is shared
        assert not torch.equal(g.z, seen["D"][2 * step].z)
    assert run.trainer.objective.state_dict() == {}  # nothing outlives a step, so nothing to checkpoint


def test_shared_z_resumes_exactly(tmp_path: Path) -> None:
    extra = ["objective.options.shared_z=true", "train.steps=4", "train.checkpoint_every=2", "log.every=2"]
    straight = Run(tiny_config(*extra), tmp_path / "a")
    straight.train()
    Run(tiny_config(*extra, "train.steps=2"), tmp_path / "b").train()
    resumed = Run(tiny_config(*extra), tmp_path / "b", resume="latest")
    assert resumed.trainer.step == 2
    resumed.train()
    for name in ("G", "D"):
        a, b = straight.components.nets[name].state_dict(), resumed.components.nets[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
