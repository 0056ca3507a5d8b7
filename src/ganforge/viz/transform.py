"""The inverse-transform picture for 1-D generators: the learned map G(z) next to the analytic inverse CDF F⁻¹(u).

Inverse-transform sampling: if U ~ U(0, 1) and F is the target CDF, then X = F⁻¹(U) has CDF F, since
P(F⁻¹(U) ≤ x) = P(U ≤ F(x)) = F(x). A 1-D generator with a scalar latent z solves the same problem: writing
u = F_z(z) (the latent's own CDF: u = (z + 1)/2 for z ~ U(−1, 1), u = Φ(z) for z ~ N(0, 1)), a perfect monotone
increasing generator is G(z) = F⁻¹(F_z(z)), and a perfect decreasing one is G(z) = F⁻¹(1 − F_z(z)) (both push the
latent onto the target). The left panel plots the learned G against u with both references; the right panel is the
histogram of G(z) against the target pdf.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats
from torch import nn

from ganforge.data.toy import Distribution1D
from ganforge.outputs import save_figure

U_EPS = 1e-3  # the grid stays inside (0, 1): F⁻¹ is infinite at 0 or 1 for unbounded targets


def latent_cdf(z: np.ndarray, z_dist: str) -> np.ndarray:
    """u = F_z(z): (z + 1)/2 for the U(−1, 1) latent, Φ(z) for N(0, 1) (ganforge.models.base.sample_latent)."""
    if z_dist == "uniform":
        return (z + 1.0) / 2.0
    if z_dist == "normal":
        return stats.norm.cdf(z)
    raise ValueError(f"unknown z_dist {z_dist!r}; choose from: normal, uniform")


def latent_ppf(u: np.ndarray, z_dist: str) -> np.ndarray:
    """z = F_z⁻¹(u), the inverse of ``latent_cdf``."""
    if z_dist == "uniform":
        return 2.0 * u - 1.0
    if z_dist == "normal":
        return stats.norm.ppf(u)
    raise ValueError(f"unknown z_dist {z_dist!r}; choose from: normal, uniform")


def _check_1d_generator(G: nn.Module) -> str:
    """G's latent distribution, after checking its latent is a scalar. G declares ``z_dim`` and ``z_dist`` (a
    ``models.base.Generator`` or ``Sampler``; ``kinds.toy`` checks that before plotting)."""
    if G.z_dim != 1:
        raise ValueError(f"the inverse-transform plot needs a generator with a scalar latent (z_dim = 1), got "
                         f"{G.z_dim}")
    return str(G.z_dist)


@torch.no_grad()
def _apply(G: nn.Module, z: np.ndarray, device: torch.device | str) -> np.ndarray:
    was_training = G.training
    G.eval()
    out = G(torch.as_tensor(z, dtype=torch.float32, device=device).reshape(-1, 1)).float().cpu().numpy().ravel()
    G.train(was_training)
    return out


def learned_transform(G: nn.Module, n_grid: int = 501, device: torch.device | str = "cpu",
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(u, G(F_z⁻¹(u)))`` on an even grid of u in [U_EPS, 1 − U_EPS]: the learned transform against u."""
    z_dist = _check_1d_generator(G)
    u = np.linspace(U_EPS, 1.0 - U_EPS, n_grid)
    return u, _apply(G, latent_ppf(u, z_dist), device)


def plot_inverse_transform(G: nn.Module, target: Distribution1D, path: str | Path, title: str = "",
                           n_samples: int = 20_000, seed: int = 0, device: torch.device | str = "cpu",
                           ) -> dict[str, float]:
    """Write the two-panel PNG to ``path``; return how close G is to the inverse CDF.

    Returned: ``direction`` (+1 if G is increasing in u, −1 if decreasing: Spearman's sign over the grid) and
    ``transform_mae``, the mean |G(z(u)) − F⁻¹(u')| over the grid with u' = u (increasing) or 1 − u (decreasing) —
    the W1 distance between G's and the target's quantile functions when G is monotone.
    """
    z_dist = _check_1d_generator(G)
    u, g = learned_transform(G, device=device)
    f_inv = target.ppf(u)
    rho = stats.spearmanr(u, g).statistic if np.ptp(g) > 0 else 1.0
    direction = -1.0 if rho < 0 else 1.0
    reference = f_inv if direction > 0 else target.ppf(1.0 - u)
    mae = float(np.mean(np.abs(g - reference)))

    rng = np.random.default_rng(seed)
    z = rng.uniform(-1.0, 1.0, n_samples) if z_dist == "uniform" else rng.standard_normal(n_samples)
    samples = _apply(G, z, device)
    samples = samples[np.isfinite(samples)]

    fig, (ax_t, ax_h) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    ax_t.plot(u, f_inv, c="tab:blue", lw=2, label="F⁻¹(u) (analytic)")
    ax_t.plot(u, target.ppf(1.0 - u), c="tab:blue", lw=1, ls=":", label="F⁻¹(1 − u) (also exact)")
    ax_t.plot(u, g, c="tab:orange", lw=2, ls="--", label="learned G(z), u = F_z(z)")
    ax_t.set_xlabel(f"u = F_z(z)   (z ~ {'U(−1, 1)' if z_dist == 'uniform' else 'N(0, 1)'})")
    ax_t.set_ylabel("x")
    ax_t.set_title(f"transform: mean |G − F⁻¹({'u' if direction > 0 else '1 − u'})| = {mae:.3g}", fontsize=9)
    ax_t.legend(fontsize=8)
    lo, hi = (np.percentile(samples, [0.5, 99.5]) if samples.size else (f_inv[0], f_inv[-1]))
    lo, hi = min(lo, f_inv[0]), max(hi, f_inv[-1])
    grid = np.linspace(lo, hi, 400)
    ax_h.hist(samples, bins=80, range=(lo, hi), density=True, alpha=0.5, color="tab:orange", label="G(z) histogram")
    ax_h.plot(grid, target.pdf(grid), c="tab:blue", label="target pdf")
    ax_h.set_xlabel("x")
    ax_h.set_title("samples vs pdf", fontsize=9)
    ax_h.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        save_figure(fig, Path(path))  # atomic (ganforge.outputs)
    finally:
        plt.close(fig)
    return {"direction": direction, "transform_mae": mae}
