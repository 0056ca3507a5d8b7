"""``make_source``: the batch stream of any data kind (``data.source``). The streams themselves live with their data
(``data.base.TensorSource``, ``data.toy.DistributionSource``, ``data.tabular.ConditionalSource``, ...).

A source's ``state_dict`` holds everything needed to continue the exact same stream after a resume: its RNG state,
and for in-memory data the current epoch's permutation and the position inside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

# re-exported: ``training.draws`` (another branch's code) imports ``Source`` from here, where it used to live
from ganforge.data.base import Source, TensorSource  # noqa: F401

if TYPE_CHECKING:
    from ganforge.data.base import Dataset


def make_source(data: Dataset, output_range: tuple[float, float] | None, seed: int,
                device: torch.device) -> Source:
    """The data kind's own stream (``data.source``): the core never asks which kind it is."""
    return data.source(output_range, seed, device)
