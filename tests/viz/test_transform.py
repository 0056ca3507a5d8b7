"""The inverse-transform plot: exact generators give zero error in either direction; wrong latents are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from ganforge.data.toy import Exponential1D, Gaussian1D
from ganforge.viz.transform import latent_cdf, latent_ppf, learned_transform, plot_inverse_transform


class Exact(nn.Module):
    """G(z) given as a function of z, with the attributes the plot reads."""

    def __init__(self, fn, z_dist: str = "uniform", z_dim: int = 1) -> None:
        super().__init__()
        self.fn, self.z_dist, self.z_dim = fn, z_dist, z_dim

    def forward(self, z: Tensor) -> Tensor:
        return self.fn(z)


@pytest.mark.parametrize("z_dist", ["uniform", "normal"])
def test_latent_cdf_roundtrip(z_dist: str) -> None:
    u = np.linspace(0.01, 0.99, 9)
    np.testing.assert_allclose(latent_cdf(latent_ppf(u, z_dist), z_dist), u, atol=1e-12)


def test_latent_bad_dist() -> None:
    with pytest.raises(ValueError, match="z_dist"):
        latent_cdf(np.zeros(2), "cauchy")


def test_exact_increasing_exponential_plot(tmp_path: Path) -> None:
    # F⁻¹(u) = −log(1 − u) for rate 1; u = (z + 1)/2
    G = Exact(lambda z: -torch.log1p(-(z + 1) / 2))
    out = plot_inverse_transform(G, Exponential1D(), tmp_path / "t.png", "exp", n_samples=500)
    assert (tmp_path / "t.png").stat().st_size > 1000
    assert out["direction"] == 1.0
    assert out["transform_mae"] < 1e-4


def test_learned_transform_matches_inverse_cdf() -> None:
    G = Exact(lambda z: -torch.log((z + 1) / 2))  # F⁻¹(1 − u): also pushes U onto Exp(1), decreasing in u
    u, x = learned_transform(G, n_grid=11)
    np.testing.assert_allclose(x, Exponential1D().ppf(1 - u), rtol=1e-4)
    G = Exact(lambda z: 4.0 + 0.5 * z, z_dist="normal")  # F⁻¹(Φ(z)) = μ + σ z
    u, x = learned_transform(G, n_grid=11)
    np.testing.assert_allclose(x, Gaussian1D().ppf(u), atol=1e-4)


def test_decreasing_and_wrong_transforms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ganforge.viz.transform as transform

    monkeypatch.setattr(transform.plt.Figure, "savefig", lambda self, path: Path(path).write_bytes(b"png"))
    out = plot_inverse_transform(Exact(lambda z: -torch.log((z + 1) / 2)), Exponential1D(), tmp_path / "d.png",
                                 n_samples=200)
    assert out["direction"] == -1.0
    assert out["transform_mae"] < 1e-4
    out = plot_inverse_transform(Exact(lambda z: z), Gaussian1D(), tmp_path / "w.png", n_samples=200)
    assert out["direction"] == 1.0
    assert out["transform_mae"] > 0.5


def test_needs_scalar_latent(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="z_dim = 1"):
        plot_inverse_transform(Exact(lambda z: z, z_dim=2), Gaussian1D(), tmp_path / "x.png")
