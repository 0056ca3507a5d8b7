"""The storm-track GAN: shapes and conditioning, and the CLI end to end (train, exact resume, sample CSV, eval)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from ganforge.cli import main
from ganforge.data.base import DataSpec
from ganforge.models.tracks import TracksConfig
from helpers import assert_same_models, one_line_error, train_straight_and_resumed

SPEC = DataSpec((5 + 4 * 7,), num_classes=6, fields={"static": (5,), "sequence": (4, 7)})


def test_shapes_and_conditioning() -> None:
    torch.manual_seed(0)
    nets = TracksConfig(z_dim=3, embed_dim=2, hidden=6).build(SPEC)
    G, D = nets["G"], nets["D"]
    assert G.c_dim == 6
    assert D.c_dim == 6
    assert G.z_dim == 3
    z, c = torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 5])
    x = G(z, c)
    assert x.shape == (5, 33)
    assert D(x, c).shape == (5, 1)
    assert not torch.allclose(G(z, c), G(z, torch.full((5,), 4)))  # the category changes the track
    assert D.conv[2].stride == (2,)
    assert D.conv[0].in_channels == 4 + 2 * 4  # deltas + running max / min of k = 4 levels
    assert D.head[0].in_features == 6 * 4 + 5 + 2 * 4 + 2
    assert not torch.allclose(D(x, c), D(x, torch.full((5,), 4)))  # the category changes the score
    plain = TracksConfig(z_dim=3, embed_dim=2, hidden=6, cumulative=False, projection=False).build(SPEC)["D"]
    assert plain.head[0].in_features == 6 * 4 + 5 + 2
    assert plain.project is None
    assert plain(x, c).shape == (5, 1)


def test_critic_sees_the_running_intensity() -> None:
    """With the level map set to v = start wind + Σ wind deltas, the running max is the track's wind maximum so far
    and its last value the storm's max wind (what defines the category), min likewise."""
    torch.manual_seed(0)
    D = TracksConfig(z_dim=3, embed_dim=2, hidden=6, levels=1).build(SPEC)["D"]
    with torch.no_grad():
        D.level.weight.zero_()
        D.level.bias.zero_()
        D.level.weight[0, 0, 0] = D.level.weight[0, 2, 0] = 1.0  # inputs: [start w, start p, Σδw, Σδp, t, t]
    x = torch.randn(5, 33)
    static, seq = x[:, :5], x[:, 5:].reshape(5, 4, 7)
    r = D.running_extremes(static, seq)  # [N, 2, 8]
    wind = torch.cat([static[:, 2:3], static[:, 2:3] + seq[:, 2].cumsum(-1)], 1)  # rebuilt wind level [N, 8]
    # same float32 sums on both sides up to summation order: assert_close's float32 tolerance (rtol 1.3e-6)
    torch.testing.assert_close(r[:, 0], wind.cummax(-1).values)
    torch.testing.assert_close(r[:, 0, -1], wind.max(-1).values)
    torch.testing.assert_close(r[:, 1, -1], wind.min(-1).values)
    with pytest.raises(ValueError, match="needs the storm-tracks dataset"):
        TracksConfig().build(DataSpec((33,), num_classes=6))


TINY = ["model.options={'z_dim': 4, 'embed_dim': 2, 'hidden': 8}", "data.options={'steps': 6}",
        "train.batch_size=16", "train.d_steps=1", "log.sample_every=0", "log.tensorboard=False",
        "train.checkpoint_every=2", "log.every=1"]


def test_trains_resumes_exactly_samples_and_evaluates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = [a for o in TINY for a in ("--set", o)]
    straight = tmp_path / "straight"
    a, b = train_straight_and_resumed("storm-tracks", sets, 4, 2, tmp_path)
    assert_same_models(a, b, ("G", "D"))
    assert (straight / "plots" / "tracks-final.png").is_file()
    out = tmp_path / "cat5.csv"
    assert main(["sample", str(straight), "--label", "5", "--n", "3", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert len(df) == 3 * 6
    assert set(df["category"]) == {5}
    assert list(df.columns) == ["storm", "category", "step", "hour", "lat", "long", "wind", "pressure"]
    capsys.readouterr()
    rc = main(["sample", str(straight), "--label", "6", "--n", "3", "--out", str(out)])
    one_line_error(capsys, rc, "--label 6 is out of range")
    assert main(["eval", str(straight)]) == 0
    assert "ks/displacement" in (straight / "eval" / "task.json").read_text()
