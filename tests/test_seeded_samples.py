""""The n samples of seed S" (``ganforge.sampling.iter_latents`` / ``iter_labelled_samples``): the same latents and
labels whatever the batch size, the same as before at the default batch size (so the in-training evaluations and
sample grids behind the README figures do not move), and shared by ``ganforge sample``, ``ganforge eval`` and the
in-training digit evaluation."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

import ganforge.sampling as ev
from ganforge.models.base import Generator, sample_latent

CPU = torch.device("cpu")


class EchoG(Generator):
    """A "generator" whose output is its input: ``[z, c]`` as float32, so a sample shows exactly what was drawn."""

    def __init__(self, z_dim: int, c_dim: int = 0) -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, c_dim
        self.scale = nn.Parameter(torch.ones(()))  # something for .train()/.eval() to act on

    def sample_z(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
        return sample_latent(n, self.z_dim, "normal", generator, device)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        parts = [z] if c is None else [z, c[:, None].float()]
        return torch.cat(parts, 1) * self.scale


def old_generate(G: nn.Module, n: int, seed: int, batch_size: int = 1000) -> Tensor:
    """``generate_samples`` as it was (latents drawn batch by batch): what the in-training figures were made with."""
    rng = torch.Generator().manual_seed(seed)
    out = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = G.sample_z(m, rng, CPU)
            if G.c_dim:
                out.append(G(z, torch.randint(G.c_dim, (m,), generator=rng)).float())
            else:
                out.append(G(z).float())
    return torch.cat(out)


@pytest.mark.parametrize(("z_dim", "c_dim"), [(100, 0), (3, 0), (4, 10)])
def test_samples_do_not_depend_on_the_batch_size(z_dim: int, c_dim: int) -> None:
    """Batches of 250 x 100-d codes used to draw other numbers than batches of 1000 (torch's CPU randn redraws the
    last block of 16 of a call whose size is not a multiple of 16), and conditional labels were interleaved per
    batch: FID moved with --batch-size. Now every batch size gives the same samples, across latent chunks too."""
    G = EchoG(z_dim, c_dim)
    n = 2 * ev.LATENT_CHUNK + 123
    want = ev.generate_samples(G, n, 5, CPU)
    for batch_size in (1, 7, 250, 999, 1000, 1500, 5000):
        batches = list(ev.iter_samples(G, n, 5, CPU, batch_size=batch_size))
        assert max(b.shape[0] for b in batches) == min(batch_size, n)  # bounded memory: G never sees more at once
        assert torch.equal(torch.cat(batches), want), batch_size
    labelled = list(ev.iter_labelled_samples(G, n, 5, CPU, batch_size=300))
    if c_dim:
        labels = torch.cat([c for _, c in labelled])
        assert torch.equal(labels.float(), want[:, -1])  # the labels handed out are the ones G was given
        assert len(labels.unique()) == c_dim
    else:
        assert all(c is None for _, c in labelled)
    assert not torch.equal(ev.generate_samples(G, n, 6, CPU), want)


@pytest.mark.parametrize(("z_dim", "c_dim"), [(100, 0), (3, 0), (1, 0), (4, 10)])
def test_default_batch_size_draws_what_it_drew_before(z_dim: int, c_dim: int) -> None:
    """At the batch size every in-training caller uses (1000 = LATENT_CHUNK) the samples are bit-identical to the old
    batch-by-batch draws, so the toy metrics, digit quality and sample grids of the README do not change."""
    G = EchoG(z_dim, c_dim)
    assert torch.equal(ev.generate_samples(G, 2500, 9, CPU), old_generate(G, 2500, 9))
    labels = torch.arange(10).repeat_interleave(3) if c_dim else None  # the per-class grid: given labels
    got = ev.generate_samples(G, 30, 9, CPU, labels=labels)
    assert torch.equal(got[:, :z_dim], old_generate(EchoG(z_dim), 30, 9))


def test_generator_mode_is_restored_and_grad_mode_untouched() -> None:
    G = EchoG(2).train()
    batches = ev.iter_samples(G, 10, 0, CPU, batch_size=3)
    first = next(batches)
    assert not first.requires_grad
    assert torch.is_grad_enabled()  # no_grad is not held across a yield
    list(batches)
    assert G.training
    with pytest.raises(ValueError, match="batch_size"):
        list(ev.iter_samples(G, 10, 0, CPU, batch_size=0))


class DigitG(EchoG):
    """A fixed random conditional "generator" of 28x28 images in (-1, 1): enough for the digit classifier."""

    output_range = (-1.0, 1.0)

    def __init__(self) -> None:
        super().__init__(z_dim=4, c_dim=10)
        self.map = nn.Linear(4 + 10, 28 * 28)
        with torch.no_grad():
            self.map.weight.copy_(torch.randn(28 * 28, 14, generator=torch.Generator().manual_seed(0)))
            self.map.bias.zero_()

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        x = torch.cat([z, nn.functional.one_hot(c, 10).float()], 1)
        return torch.tanh(self.map(x)).reshape(-1, 1, 28, 28)


def test_in_training_digit_evaluation_does_not_depend_on_the_batch_size() -> None:
    """evaluate_digits draws the same n samples of its seed (it used to interleave labels with latents per batch)."""
    from ganforge.data.base import TensorData
    from ganforge.kinds.image import evaluate_digits

    torch.set_num_threads(1)
    real = TensorData(torch.randint(0, 256, (300, 1, 28, 28), generator=torch.Generator().manual_seed(1),
                                    dtype=torch.uint8))
    G = DigitG()
    a = evaluate_digits(G, 3, CPU, n=300, batch_size=1000, reference=real)
    b = evaluate_digits(G, 3, CPU, n=300, batch_size=70, reference=real)
    assert a["confident_percent"] == b["confident_percent"]
    assert a["class_entropy"] == b["class_entropy"]
    assert a["fid"] == pytest.approx(b["fid"], rel=1e-9)  # classifier features of other batch shapes: rounding only
