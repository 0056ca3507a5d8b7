"""The conditional field DCGAN: any grid size, a mask-aware critic, the continuous-condition objective, exact
resume from the CLI, and samples exported in physical units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.data.base import DataSpec
from ganforge.losses.fields import FieldWGANGP
from ganforge.losses.objectives import Batch
from ganforge.models.fields import FieldGANConfig
from helpers import assert_same_models, train_straight_and_resumed

SPEC = DataSpec((2, 13, 10), fields={"mask": (1, 13, 10), "cond": (3,)})


def test_shapes_on_an_odd_grid_and_the_mask() -> None:
    torch.manual_seed(0)
    nets = FieldGANConfig(z_dim=4, channels=4, layers=2).build(SPEC)
    G, D = nets["G"], nets["D"]
    z, c = torch.randn(3, 4), torch.randn(3, 3)
    x = G(z, c)
    assert x.shape == (3, 2, 13, 10)  # 4×3 → 16×12, cropped
    mask = torch.ones(3, 1, 13, 10)
    mask[:, :, 0, :] = 0
    x2 = x.clone()
    x2[:, :, 0, :] = 100.0  # masked cells carry no signal
    torch.testing.assert_close(D(x, mask, c), D(x2, mask, c))
    assert not torch.allclose(D(x, mask, c), D(x, mask, c + 1))  # the projection reads the condition
    with pytest.raises(ValueError, match="condition vector"):
        FieldGANConfig().generate(nets, z, None)


def test_objective_losses() -> None:
    torch.manual_seed(0)
    nets = FieldGANConfig(z_dim=4, channels=4, layers=2).build(SPEC)
    G, D = nets["G"], nets["D"]
    G.eval()
    x, mask, c, z = torch.randn(4, 2, 13, 10), torch.ones(4, 1, 13, 10), torch.randn(4, 3), torch.randn(4, 4)
    batch = Batch(real=x, z=z, generator=torch.Generator().manual_seed(0), extras={"mask": mask, "cond": c})
    d = FieldWGANGP(gp_weight=0.0).d_loss(G, D, batch)
    torch.testing.assert_close(d.total, D(G(z, c), mask, c).mean() - D(x, mask, c).mean())
    g = FieldWGANGP().g_loss(G, D, batch)
    torch.testing.assert_close(g.total, -D(G(z, c), mask, c).mean())


def test_trains_resumes_exactly_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    fields = (rng.normal(size=(16, 1, 9, 11)) * 3 + 280).astype(np.float32)
    fields[:, :, 0, 0] = np.nan
    npz = tmp_path / "f.npz"
    np.savez(npz, fields=fields, cond=rng.normal(size=(16, 2)).astype(np.float32))
    sets = ["model.options={'z_dim': 4, 'channels': 4, 'layers': 2}", "data.name=field-npz",
            f"data.options={{'path': '{npz}'}}", "train.batch_size=4", "train.d_steps=2", "train.checkpoint_every=2",
            "log.every=1", "log.sample_every=0", "log.tensorboard=False"]
    args = [a for s in sets for a in ("--set", s)]
    straight = tmp_path / "straight"
    a, b = train_straight_and_resumed("cgan-fields-a1b", args, 4, 2, tmp_path)
    assert_same_models(a, b)
    assert (straight / "samples" / "final.png").is_file()
    assert "cell_mean_rmse" in (straight / "eval" / "final.json").read_text()
    assert main(["sample", str(straight), "--n", "5", "--out", str(tmp_path / "s.npz")]) == 0
    out = np.load(tmp_path / "s.npz")
    assert out["fields"].shape == (5, 1, 9, 11)
    assert out["cond"].shape == (5, 2)
    assert 200 < float(out["fields"].mean()) < 360  # physical units (≈ 280 K), not standardised values
    assert main(["sample", str(straight), "--n", "3", "--out", str(tmp_path / "s.nc")]) == 0
    import netCDF4

    with netCDF4.Dataset(tmp_path / "s.nc") as ds:
        assert ds.variables["channel0"].shape == (3, 9, 11)
        assert ds.variables["cond"].shape == (3, 2)
    capsys.readouterr()
