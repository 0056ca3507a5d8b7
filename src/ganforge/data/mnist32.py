"""MNIST zero-padded to 32x32 (``mnist32``): the resolution of progressive growing's 4→8→16→32 ladder and of
StyleGAN2's power-of-two synthesis blocks.

Each 28x28 digit gets 2 black (0) pixels on every side, so the digit is unchanged and centred: ``uint8 [N, 1, 32, 32]``.
Splits and ``limit`` are those of ``mnist`` (``ganforge.data.images.MNIST``): "train" (60,000), "test" (10,000),
"all" (70,000, train then test); ``limit`` keeps the first N digits of the split (the limited-data experiments of
Karras et al. 2020b, "Training GANs with limited data", use 1k / 2k / 5k).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from ganforge.data.base import TensorData
from ganforge.data.images import MNIST, check_limit, check_split
from ganforge.registry import DATASETS

PAD = 2  # 28 + 2 * 2 = 32
DIGIT = 28


def unpad(images: Tensor) -> Tensor:
    """``[..., S, S]`` → the centre ``[..., 28, 28]``: for S = 32 exactly the digit without mnist32's padding (what
    the mnist-classifier reads); 28×28 images pass unchanged."""
    m = (images.shape[-1] - DIGIT) // 2
    return images[..., m : m + DIGIT, m : m + DIGIT]


@DATASETS.register("mnist32")
@dataclass
class MNIST32:
    """The MNIST digits zero-padded by 2 px to ``uint8 [N, 1, 32, 32]``; splits "train", "test", "all" as ``mnist``."""

    limit: int = 0  # 0 = all; else the first `limit` digits of the split (e.g. 1000 for a limited-data run)
    # > 0: k-means cluster ids replace the labels, exactly as ``mnist``'s options (fitted on the 28x28 training
    # digits: the padding adds only zeros); the self-conditioned StyleGAN2 trains on them
    clusters: int = 0
    cluster_space: str = "pca"
    cluster_dim: int = 50
    cluster_seed: int = 0

    def __post_init__(self) -> None:
        check_limit(self.limit)
        self._mnist = MNIST(self.limit, self.clusters, self.cluster_space, self.cluster_dim, self.cluster_seed)

    def load(self, split: str = "train") -> TensorData:
        check_split("mnist32", split, ("train", "test", "all"))
        digits = self._mnist.load(split)  # [N, 1, 28, 28], the first `limit` digits already cut
        x = F.pad(digits.x, (PAD, PAD, PAD, PAD))  # [N, 1, 32, 32], zeros (= black background) around the digit
        return TensorData(x, digits.y, num_classes=digits.num_classes, name="mnist32")
