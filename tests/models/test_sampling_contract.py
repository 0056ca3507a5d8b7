"""The sampling contract: every reader of a trained run (sample, interpolate, eval, the training grids) generates
through the family's ``generate`` wrapped in a ``Sampler``; the truncation trick lives there too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.data.base import DataSpec
from ganforge.models.base import Sampler
from ganforge.models.mlp import MLPConfig
from helpers import make_run, one_line_error

SMALL = "model.options={'z_dim': 2, 'g_hidden': [16], 'd_hidden': [16]}"


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run([SMALL], tmp_path_factory.mktemp("contract") / "ring")


def test_truncation_redraws_latent_entries_beyond_the_threshold() -> None:
    nets = MLPConfig(z_dim=8, g_hidden=(4,), d_hidden=(4,)).build(DataSpec((2,)))
    sampler = Sampler(MLPConfig(), {"G": nets["G"]}, truncation=0.5)
    z = sampler.sample_z(4000, torch.Generator().manual_seed(0))
    assert z.shape == (4000, 8)
    assert z.abs().max() <= 0.5
    assert z.std() > 0.2  # redrawn, not clamped: a truncated N(0, 1) on [-0.5, 0.5] has std ≈ 0.28
    again = sampler.sample_z(4000, torch.Generator().manual_seed(0))
    assert torch.equal(z, again)  # deterministic given the generator
    sampler.set_truncation(None)
    assert sampler.sample_z(4000, torch.Generator().manual_seed(0)).abs().max() > 2


def test_commands_generate_through_the_family(ring_run: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A family that overrides ``generate`` changes what ``ganforge sample`` writes: no command calls G directly."""
    monkeypatch.setattr(MLPConfig, "generate", lambda self, nets, z, labels=None, inputs=None, truncation=None:
                        torch.full((len(z), 2), 7.0))
    out = tmp_path / "s.npy"
    assert main(["sample", str(ring_run), "--n", "10", "--out", str(out)]) == 0
    assert np.all(np.load(out) == 7.0)


def test_sample_with_truncation_and_bad_truncation(ring_run: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.npy"
    assert main(["sample", str(ring_run), "--n", "50", "--truncation", "0.5", "--out", str(out)]) == 0
    assert np.load(out).shape == (50, 2)
    capsys.readouterr()
    rc = main(["sample", str(ring_run), "--n", "5", "--truncation", "-1", "--out", str(tmp_path / "u.npy")])
    one_line_error(capsys, rc, "truncation -1.0: needs a positive threshold")
    assert not (tmp_path / "u.npy").exists()


def test_default_family_refuses_inputs() -> None:
    nets = MLPConfig(z_dim=2, g_hidden=(4,), d_hidden=(4,)).build(DataSpec((2,)))
    with pytest.raises(ValueError, match="generates from z, not from input samples"):
        Sampler(MLPConfig(), {"G": nets["G"]})(torch.zeros(3, 2), inputs=torch.zeros(3, 2))
