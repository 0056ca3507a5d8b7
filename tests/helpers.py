"""Test helpers: tiny configs that run the whole trainer on CPU in well under a second."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from torch import nn

from ganforge.config import RunConfig, resolve_config
from ganforge.data.base import TensorData
from ganforge.training.run import Run, write_config

TINY = [
    "model.options={'z_dim': 2, 'g_hidden': [16], 'd_hidden': [16]}",
    "train.batch_size=32",
    "train.steps=20",
    "train.checkpoint_every=10",
    "log.every=5",
    "log.sample_every=0",
    "log.tensorboard=False",
    "log.progress=False",
]

# Stand-in for the loaded MNIST digits when only the shape matters (building presets): decoding 70k digits takes seconds
MNIST_STANDIN = TensorData(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), torch.tensor([0, 1]), num_classes=10,
                           name="mnist")


def tiny_config(*overrides: str, preset: str = "ring8") -> RunConfig:
    """The ``preset`` shrunk to a 16-unit MLP and 20 steps, plus ``overrides`` (``a.b=c`` strings)."""
    return resolve_config(preset, [*TINY, *overrides])


def make_run(overrides: list[str], run_dir: Path) -> Path:
    """A trained run directory without the end-of-run plots (the slow part): config.yaml + checkpoints/latest.pt."""
    return train_config(tiny_config(*overrides), run_dir)


def train_config(cfg: RunConfig, run_dir: Path) -> Path:
    """``run_dir`` trained for ``cfg.train.steps`` with its config and checkpoint, without the end-of-run work."""
    run = Run(cfg, run_dir)
    run_dir.mkdir(parents=True)
    write_config(run_dir, cfg)
    while run.trainer.step < cfg.train.steps:
        run.trainer.train_step()
    run.save_checkpoint()
    return run_dir


def train_straight_and_resumed(preset: str, args: list[str], steps: int, first: int, root: Path
                               ) -> tuple[dict, dict]:
    """The exact-resume check through the CLI: ``ganforge train preset *args`` for ``steps`` steps in
    ``root/straight``, and for ``first`` steps then ``--resume latest`` to ``steps`` in ``root/resumed``. Returns both
    final checkpoints (``assert_same_models`` compares them)."""
    from ganforge.cli import main

    straight, resumed = root / "straight", root / "resumed"
    for run_dir, n in ((straight, steps), (resumed, first)):
        assert main(["train", preset, *args, "--set", f"train.steps={n}", "--run-dir", str(run_dir),
                     "--no-progress"]) == 0
    assert main(["train", preset, "--set", f"train.steps={steps}", "--run-dir", str(resumed), "--resume", "latest",
                 "--no-progress"]) == 0
    return (torch.load(straight / "checkpoints" / "latest.pt", weights_only=True),
            torch.load(resumed / "checkpoints" / "latest.pt", weights_only=True))


def assert_same_models(a: dict, b: dict, nets: tuple[str, ...] | None = None) -> None:
    """Every tensor of the networks ``nets`` (default: all saved, EMA copies included) is bit-identical in the
    checkpoints ``a`` and ``b``."""
    for net in nets or a["models"]:
        for k, v in a["models"][net].items():
            assert torch.equal(v, b["models"][net][k]), f"{net}.{k}"


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime (ns) of every file under ``folder``: compare before/after a command that must not write."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(capsys: pytest.CaptureFixture[str], rc: int, *contains: str) -> str:
    """The CLI's failure contract: exit code 2, one stderr line ``ganforge: error: ...`` holding every ``contains``,
    and no traceback. Returns the line."""
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ganforge: error: "), err
    for text in contains:
        assert text in lines[0], lines[0]
    return lines[0]


class TanhCritic(nn.Module):
    """D(x) = w₂·tanh(W₁x + b₁) + b₂ (float64, fixed seed) with ∇_x D(x) = W₁ᵀ((1 − h²) ⊙ w₂), h = tanh(W₁x + b₁), in
    closed form; ``record=True`` keeps the input of every call (to count forwards and see their rows)."""

    def __init__(self, scale: float = 1.0, record: bool = False) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.l1, self.l2 = nn.Linear(2, 4).double(), nn.Linear(4, 1).double()
        with torch.no_grad():
            self.l1.weight.copy_(torch.randn(4, 2, generator=g, dtype=torch.float64))
            self.l1.bias.copy_(torch.randn(4, generator=g, dtype=torch.float64) * 0.5)
            self.l2.weight.copy_(torch.randn(1, 4, generator=g, dtype=torch.float64) * scale)
            self.l2.bias.fill_(0.1)
        self.inputs: list[torch.Tensor] | None = [] if record else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inputs is not None:
            self.inputs.append(x.detach().clone())
        return self.l2(torch.tanh(self.l1(x)))  # [N, 1]

    def input_grad(self, x: torch.Tensor) -> torch.Tensor:
        """∇_x D(x) per sample, [N, 2], by the chain rule (no autograd)."""
        with torch.no_grad():
            h = torch.tanh(x @ self.l1.weight.T + self.l1.bias)
            return ((1 - h.square()) * self.l2.weight) @ self.l1.weight


def layer_summary(net: nn.Module, bn_details: bool) -> list[tuple]:
    """Ordered weight / norm / activation layers of ``net`` with their key hyperparameters, for comparing a built
    network with a published architecture (crops, pads and reshapes are skipped). ``bn_details`` adds BN eps/momentum.
    """
    rows: list[tuple] = []
    for m in net.modules():
        if isinstance(m, nn.Linear):
            rows.append(("Dense", m.in_features, m.out_features, m.bias is not None))
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            kind = "ConvT" if isinstance(m, nn.ConvTranspose2d) else "Conv"
            rows.append((kind, m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.bias is not None))
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            rows.append(("BN", m.num_features, m.eps, m.momentum) if bn_details else ("BN", m.num_features))
        elif isinstance(m, nn.LeakyReLU):
            rows.append(("LeakyReLU", m.negative_slope))
        elif isinstance(m, nn.Dropout):
            rows.append(("Dropout", m.p))
        elif isinstance(m, (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Flatten, nn.AdaptiveMaxPool2d)):
            rows.append((type(m).__name__,))
    return rows


def label_and_z_variance(G: torch.nn.Module, z_dim: int, n: int = 8, k: int = 10) -> tuple[float, float]:
    """(variance of G's pixels over the k labels at fixed z, variance over n z's at fixed label), each averaged:
    how strongly G's output follows the label compared with the latent. G in eval mode after one training batch
    (BN running statistics of a real forward pass)."""
    G.train()(torch.randn(32, z_dim), torch.arange(32) % k)
    G.eval()
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = torch.stack([G(z, torch.full((n,), c)) for c in range(k)])  # [k, n, 1, 28, 28]
    return x.var(0).mean().item(), x.var(1).mean().item()


def load_bench(name: str):
    """``bench/<name>.py`` imported as module ``<name>`` (benches are scripts, not a package)."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    spec.loader.exec_module(module)
    return module
