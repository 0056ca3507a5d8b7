"""The storm-track GAN: shapes and conditioning, and the CLI end to end (train, exact resume, sample CSV, eval)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from ganforge.cli import main
from ganforge.models.base import DataSpec
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
    assert D.head[0].in_features == 6 * 4 + 5 + 2
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
