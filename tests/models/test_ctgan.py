"""CTGAN: network shapes, activations (tanh, Gumbel-softmax), PacGAN packing and its penalty, the conditional loss,
training-by-sampling frequencies, and the CLI end to end (train, exact resume, sample CSV/Parquet, eval)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from ganforge.cli import main
from ganforge.data.base import DataSpec
from ganforge.data.tabular import ConditionalSource, TableFile
from ganforge.losses.ctgan import conditional_loss, pac_gradient_penalty
from ganforge.models.ctgan import CTGANConfig, TableLayout, gumbel_softmax
from helpers import assert_same_models, one_line_error, train_straight_and_resumed

SPEC = DataSpec((1 + 3 + 1 + 2 + 4 + 2,), fields={"cond": (6,), "modes": (3, 2), "categories": (4, 2)})


def test_networks_shapes_and_activations() -> None:
    torch.manual_seed(0)
    nets = CTGANConfig(z_dim=5, g_hidden=(7, 6), d_hidden=(8,), pac=2).build(SPEC)
    G, D = nets["G"], nets["D"]
    assert G.layout == TableLayout((3, 2), (4, 2))
    assert G.layout.dim == 13
    assert G.layout.cond_dim == 6
    assert [type(m).__name__ for m in G.body] == ["Residual", "Residual", "Linear"]
    assert G.body[1].fc.in_features == 5 + 6 + 7
    assert G.body[2].in_features == 5 + 6 + 7 + 6
    z, cond = torch.randn(4, 5), F.one_hot(torch.tensor([0, 1, 4, 5]), 6).float()
    raw = G.raw(z, cond)
    assert raw.shape == (4, 13)
    out = G.activate(raw, torch.rand(4, 13))
    # tanh on another view (layout) may take ATen's vectorised (SLEEF) or scalar path, each within 1 ulp of the true
    # value: the two agree to 2 ulps of float32, |tanh| <= 1 so atol = 2 eps32
    tol = {"rtol": 0.0, "atol": 2 * torch.finfo(torch.float32).eps}
    torch.testing.assert_close(out[:, 0], torch.tanh(raw[:, 0]), **tol)
    torch.testing.assert_close(out[:, 4], torch.tanh(raw[:, 4]), **tol)
    for st, ed in G.layout.softmax_spans():
        torch.testing.assert_close(out[:, st:ed].sum(1), torch.ones(4))
    assert G.layout.softmax_spans() == [(1, 4), (5, 7), (7, 11), (11, 13)]
    assert D(torch.cat([out, cond], 1)).shape == (2, 1)  # pac = 2: 4 rows → 2 packs
    with pytest.raises(ValueError, match="needs its conditional vector"):
        G.raw(z, None)
    with pytest.raises(ValueError, match="needs a table dataset"):
        CTGANConfig().build(DataSpec((4,)))


def test_gumbel_softmax_samples_the_softmax() -> None:
    """argmax of the Gumbel-softmax is a draw from softmax(logits) (Gumbel-max); τ = 0.2 is nearly one-hot."""
    g = torch.Generator().manual_seed(0)
    logits = torch.tensor([1.0, 0.0, -1.0]).expand(40_000, 3)
    y = gumbel_softmax(logits, torch.rand(40_000, 3, generator=g), tau=0.2)
    freq = torch.bincount(y.argmax(1), minlength=3).double() / 40_000
    p = torch.softmax(logits[0].double(), 0)
    assert (freq - p).abs().max() < 5 * (p * (1 - p) / 40_000).sqrt().max()  # 5σ binomial
    assert y.max(1).values.median() > 0.95


def test_critic_packs_pac_rows() -> None:
    torch.manual_seed(0)
    D = CTGANConfig(d_hidden=(8,), pac=10, d_dropout=0.5).build(SPEC)["D"].eval()
    x = torch.randn(20, 19)
    torch.testing.assert_close(D(x), D.body(x.reshape(2, 190)))
    assert [type(m).__name__ for m in D.body] == ["Linear", "LeakyReLU", "Dropout", "Linear"]
    assert D.body[1].negative_slope == 0.2
    assert D.body[2].p == 0.5
    assert D.body[0].in_features == 190
    with pytest.raises(ValueError, match=r"multiple of model.options.pac=10"):
        D(torch.randn(15, 19))


def test_pac_gradient_penalty_matches_a_hand_computation() -> None:
    """One ε per pack; the norm is over the pack's flattened gradient; D linear → the gradient is its weight."""
    torch.manual_seed(0)
    D = CTGANConfig(d_hidden=(4,), pac=2, d_dropout=0.0).build(SPEC)["D"]
    real, fake, eps = torch.randn(6, 19), torch.randn(6, 19), torch.rand(3, 1)
    gp = pac_gradient_penalty(D, real, fake, eps, pac=2)
    x_hat = (eps.repeat_interleave(2, 0) * real + (1 - eps.repeat_interleave(2, 0)) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat)
    expected = ((grad.reshape(3, 38).norm(dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(gp, expected)


def test_conditional_loss_is_the_masked_cross_entropy() -> None:
    layout = TableLayout((3, 2), (4, 2))
    raw = torch.randn(5, 13)
    col = torch.tensor([0, 1, 0, 1, 0])
    cat = torch.tensor([2, 1, 0, 0, 3])  # within the column
    cond = torch.zeros(5, 6)
    cond[torch.arange(5), torch.where(col == 0, cat, 4 + cat)] = 1
    mask = F.one_hot(col, 2).float()
    manual = sum(F.cross_entropy(raw[i:i + 1, 7:11] if col[i] == 0 else raw[i:i + 1, 11:13], cat[i:i + 1])
                 for i in range(5)) / 5
    torch.testing.assert_close(conditional_loss(raw, cond, mask, layout), manual)


def table_csv(tmp_path: Path, n: int = 400) -> str:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=n), "k": rng.integers(0, 100, n),
                       "colour": rng.choice(["red", "green", "blue"], n, p=[0.7, 0.25, 0.05]),
                       "flag": rng.choice(["yes", "no"], n, p=[0.9, 0.1])})
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    return str(path)


def test_training_by_sampling_frequencies_and_matching_rows(tmp_path: Path) -> None:
    data = TableFile(path=table_csv(tmp_path), test_fraction=0.0).load()
    src = ConditionalSource(data, seed=0, device=torch.device("cpu"))
    n = 30_000
    c = src.conditions(n)
    col_freq = c["mask"].mean(0)
    assert (col_freq - 0.5).abs().max() < 5 * (0.25 / n) ** 0.5  # discrete column uniform
    counts = {col: torch.tensor(data.transformer.counts[col], dtype=torch.float64) for col in ("colour", "flag")}
    expected = torch.cat([torch.log1p(v) / torch.log1p(v).sum() / 2 for v in counts.values()])  # ∝ log(1 + count)
    got = c["cond"].double().mean(0)
    assert (got - expected).abs().max() < 5 * (expected * (1 - expected) / n).sqrt().max()
    batch = src.next(500)
    x, cond_real = batch["x"], batch["cond_real"]
    st = sum(1 + k for k in data.transformer.modes)  # discrete blocks start here, in cond order
    asked = cond_real.argmax(1)
    assert torch.equal(x[torch.arange(500), st + asked], torch.ones(500))  # every real row holds its condition
    assert sorted(batch["cond"].argmax(1).tolist()) == sorted(asked.tolist())  # the same conditions, shuffled


TINY = ["model.options={'z_dim': 4, 'g_hidden': [8], 'd_hidden': [8], 'pac': 2}", "train.batch_size=20",
        "log.sample_every=0", "log.tensorboard=False", "train.checkpoint_every=2", "log.every=1"]


def test_trains_resumes_exactly_samples_and_evaluates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = table_csv(tmp_path)
    sets = [a for o in [*TINY, "data.name=table", f"data.options={{'path': '{csv}', 'target': 'flag'}}"]
            for a in ("--set", o)]
    straight = tmp_path / "straight"
    a, b = train_straight_and_resumed("ctgan-nasscds", sets, 4, 2, tmp_path)
    assert_same_models(a, b, ("G", "D"))
    assert (straight / "transformer.json").is_file()
    assert (straight / "samples" / "final.csv").is_file()
    original = pd.read_csv(csv)
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"synth.{suffix}"
        assert main(["sample", str(straight), "--n", "37", "--seed", "3", "--out", str(out)]) == 0
        df = pd.read_csv(out) if suffix == "csv" else pd.read_parquet(out)
        assert list(df.columns) == list(original.columns)
        assert len(df) == 37
        assert df.dtypes.to_dict() == original.dtypes.to_dict()
        assert set(df["colour"]) <= {"red", "green", "blue"}
    again = tmp_path / "again.csv"
    (straight / "transformer.json").unlink()  # refitted from the run's config: the same rows
    assert main(["sample", str(straight), "--n", "37", "--seed", "3", "--out", str(again)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(again), pd.read_csv(tmp_path / "synth.csv"))
    capsys.readouterr()
    rc = main(["sample", str(straight), "--n", "5", "--out", str(tmp_path / "x.png")])
    one_line_error(capsys, rc, "written as .csv, .parquet or .pq")
    rc = main(["sample", str(straight), "--n", "5", "--label", "1", "--out", str(tmp_path / "x.csv")])
    one_line_error(capsys, rc, "--label does not apply to a table run")
    assert main(["eval", str(straight)]) == 0
    assert (straight / "eval" / "task.json").is_file()
    capsys.readouterr()
    rc = main(["train", "ctgan-nasscds", *sets, "--set", "train.batch_size=21", "--set", "train.steps=1",
               "--run-dir", str(tmp_path / "odd"), "--no-progress"])
    one_line_error(capsys, rc, "multiple of model.options.pac=2")
