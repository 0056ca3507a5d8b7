"""Stacked MNIST: three MNIST digits stacked as the R, G, B channels of one 28×28 image -> 10³ = 1,000 modes.

The mode-collapse benchmark of Metz et al. (2017, unrolled GANs), VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018, Table 2). Each sample picks three digit images independently and uniformly at random from the
MNIST split; its mode is ``100·label(R) + 10·label(G) + label(B)``, so the 1,000 modes are (almost exactly) equally
likely. A generator's modes are counted by classifying each channel with the shipped MNIST classifier
(``ganforge.metrics.classifier.stacked_mnist_modes``).

Deterministic: the same ``(split, n, seed)`` always gives the same images, independent of any global RNG.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.data.base import TensorData
from ganforge.data.images import check_split
from ganforge.data.mnist import load_mnist_raw
from ganforge.registry import DATASETS

NUM_MODES = 1000  # 10 digits per channel, 3 channels
MODE_WEIGHTS = (100, 10, 1)  # mode = 100·d_R + 10·d_G + d_B (Metz et al. 2017; same order as stacked_mnist_modes)


def stack_digits(images: torch.Tensor, labels: torch.Tensor, n: int, generator: torch.Generator,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` stacked images ``uint8 [n, 3, H, W]`` and their mode ids ``int64 [n]`` from digits ``[N, 1, H, W]``.

    Indices ``[n, 3]`` are drawn i.i.d. uniform over the N digits with ``generator``; channel c of sample i is digit
    ``idx[i, c]``.
    """
    if n < 1:
        raise ValueError(f"stacked-mnist needs n >= 1 samples, got {n}")
    idx = torch.randint(images.shape[0], (n, 3), generator=generator)  # [n, 3]
    x = images[idx.reshape(-1), 0].reshape(n, 3, *images.shape[2:])  # [n, 3, H, W]
    modes = labels[idx] @ torch.tensor(MODE_WEIGHTS, dtype=torch.int64)  # [n]
    return x.contiguous(), modes


@DATASETS.register("stacked-mnist")
@dataclass
class StackedMNIST:
    """``n`` Stacked-MNIST images ``uint8 [n, 3, 28, 28]`` with mode labels 0..999 (``num_classes`` = 1000).

    Split "train" stacks the 60k MNIST training digits, "test" the 10k test digits. The labels let conditional
    models use the data, but the benchmark trains unconditional models (``conditioning: none``) and reads the labels
    only for the real data's own mode statistics.
    """

    n: int = 60_000  # stacked samples to draw (memory: 2.35 kB each; 60k = 141 MB)
    seed: int = 0  # seeds the draw of digit triples; the test split uses seed + 1 so the two never coincide

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"stacked-mnist needs n >= 1 samples, got {self.n}")

    def load(self, split: str = "train") -> TensorData:
        check_split("stacked-mnist", split, ("train", "test"))
        digits, labels = load_mnist_raw(split)
        rng = torch.Generator().manual_seed(self.seed + (split == "test"))
        x, modes = stack_digits(digits, labels, self.n, rng)
        return TensorData(x, modes, num_classes=NUM_MODES, name="stacked-mnist")
