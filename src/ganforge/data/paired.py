"""Two-domain image data for translation (pix2pix, CycleGAN, colourisation): the data kinds "paired" and "unpaired",
their batch stream and the user's file layouts. Their sample grids and metrics are ``ganforge.kinds.translation``.

``TranslationData`` holds domain A (inputs) and domain B (targets), uint8 ``[N, C, H, W]``, with a held-out test
split of each. Batches: ``x`` = B images, and A images in field ``x_a`` (paired: row i of A is the input of row i of
B) or ``x_a_unpaired`` (unpaired: A and B shuffled independently, so no pairing exists), both in [−1, 1].

User layouts (nothing downloads):
  paired-folder    pix2pix's: ``ROOT/train/*.png`` (and ``ROOT/test/`` or ``ROOT/val/``), each image holding A|B
                   side by side (A left), as the pix2pix datasets (facades, maps, edges2shoes) ship;
  unpaired-folder  CycleGAN's: ``ROOT/trainA``, ``ROOT/trainB``, ``ROOT/testA``, ``ROOT/testB`` (horse2zebra, ...);
  paired-npz       one .npz with arrays ``a`` and ``b`` (and optionally ``test_a``/``test_b``; else the last 10 %).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ganforge.data import formats
from ganforge.data.base import Dataset, DataSpec, Source, scale_images
from ganforge.preflight import require_input
from ganforge.registry import DATASETS

PAIRED_FIELD, UNPAIRED_FIELD = "x_a", "x_a_unpaired"  # as models/pix2pix.py (networks read them from the spec)
N_GRID = 8  # test inputs shown in the training sample grids
TEST_FRACTION = 0.1  # npz pairs without a test split: the last 10 % are held out


@dataclass
class TranslationData(Dataset):
    """Domains A and B with a held-out test split of each (uint8 ``[N, C, H, W]``; A and B share H and W)."""

    a: Tensor
    b: Tensor
    test_a: Tensor
    test_b: Tensor
    paired: bool
    name: str = ""
    task: str = ""  # a built-in task with its own metrics (data/translation_tasks.py), "" = L1/PSNR/SSIM or cycle
    labels: dict[str, Tensor] = field(default_factory=dict)  # optional int64 labels: "a", "b", "test_a", "test_b"

    def __post_init__(self) -> None:
        for key in ("a", "b", "test_a", "test_b"):
            x = getattr(self, key)
            if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3):
                raise ValueError(f"dataset {self.name!r}: {key} must be uint8 images [N, C, H, W] with C 1 or 3, got "
                                 f"{x.dtype} {list(x.shape)}")
            if x.shape[0] == 0:
                raise ValueError(f"dataset {self.name!r}: {key} holds no images; add images to it")
        if self.a.shape[2:] != self.b.shape[2:]:
            raise ValueError(f"dataset {self.name!r}: A images are {tuple(self.a.shape[2:])} but B images "
                             f"{tuple(self.b.shape[2:])}; resize both domains to one size (data.options.size)")
        for dom in ("a", "b"):
            train, test = getattr(self, dom), getattr(self, f"test_{dom}")
            if train.shape[1:] != test.shape[1:]:
                raise ValueError(f"dataset {self.name!r}: test{dom.upper()} images are {list(test.shape[1:])} but "
                                 f"train{dom.upper()} {list(train.shape[1:])}; give both splits one size and channels")
        if self.paired and (len(self.a) != len(self.b) or len(self.test_a) != len(self.test_b)):
            raise ValueError(f"dataset {self.name!r}: paired data needs as many A as B images ({len(self.a)} vs "
                             f"{len(self.b)}, test {len(self.test_a)} vs {len(self.test_b)})")

    @property
    def kind(self) -> str:
        return "paired" if self.paired else "unpaired"

    @property
    def a_field(self) -> str:
        return PAIRED_FIELD if self.paired else UNPAIRED_FIELD

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.b.shape[1:])

    def spec(self) -> DataSpec:
        return DataSpec(shape=self.shape, num_classes=0, fields={self.a_field: tuple(self.a.shape[1:])})

    def source(self, output_range: tuple[float, float] | None, seed: int, device: torch.device) -> Source:
        return TranslationSource(self, output_range, seed, device)

    def __len__(self) -> int:
        return len(self.b)


class _Stream:
    """Indices 0..n−1 without replacement, a new permutation every epoch (drop-last, as ``TensorSource``)."""

    def __init__(self, n: int, rng: torch.Generator, device: torch.device) -> None:
        self.n, self.rng, self.device = n, rng, device
        self.epoch, self.pos = 0, 0
        self.perm = torch.randperm(n, generator=rng, device=device)

    def take(self, k: int) -> Tensor:
        if self.pos + k > self.n:
            self.epoch, self.pos = self.epoch + 1, 0
            self.perm = torch.randperm(self.n, generator=self.rng, device=self.device)
        idx = self.perm[self.pos:self.pos + k]
        self.pos += k
        return idx

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos, "perm": self.perm.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.pos, self.perm = int(state["epoch"]), int(state["pos"]), state["perm"].to(self.device)


class TranslationSource(Source):
    """Batches ``{"x": B, field: A}`` scaled to the generator's range; paired rows share one index stream, unpaired
    domains have one stream each (drawn B first, then A, from one RNG)."""

    def __init__(self, data: TranslationData, output_range: tuple[float, float] | None, seed: int,
                 device: torch.device) -> None:
        self.a, self.b = data.a.to(device), data.b.to(device)
        self.field, self.paired, self.output_range = data.a_field, data.paired, output_range
        self.rng = torch.Generator(device=device)
        self.rng.manual_seed(seed)
        self.stream_b = _Stream(len(self.b), self.rng, device)
        self.stream_a = None if self.paired else _Stream(len(self.a), self.rng, device)

    def next(self, n: int) -> dict[str, Tensor]:
        smallest = min(len(self.a), len(self.b))
        if n > smallest:
            raise ValueError(f"batch size {n} is larger than the dataset ({smallest} images in its smaller domain); "
                             "lower train.batch_size")
        idx_b = self.stream_b.take(n)
        idx_a = idx_b if self.stream_a is None else self.stream_a.take(n)
        return {"x": scale_images(self.b[idx_b], self.output_range),
                self.field: scale_images(self.a[idx_a], self.output_range)}

    def state_dict(self) -> dict[str, Any]:
        state = {"rng": self.rng.get_state(), "b": self.stream_b.state_dict()}
        if self.stream_a is not None:
            state["a"] = self.stream_a.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])
        self.stream_b.load_state_dict(state["b"])
        if self.stream_a is not None:
            self.stream_a.load_state_dict(state["a"])


# ---- the user's files ---------------------------------------------------------------------------------------------


def check_train_split(name: str, split: str) -> None:
    if split != "train":
        raise ValueError(f"dataset {name!r} holds its own held-out test split (used by evaluation); "
                         f"data.split must be train, got {split!r}")


def _check_direction(direction: str) -> None:
    if direction not in ("AB", "BA"):
        raise ValueError(f"unknown direction {direction!r}; choose from: AB (A → B), BA (B → A)")


def _folder(root: Path, names: tuple[str, ...], what: str) -> Path:
    for name in names:
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"{what} folder {'/'.join(str(root / n) for n in names)} not found; "
                            "use the layout described in docs/translation.md")


def _read_folder(folder: Path, size: int | None, channels: int, limit: int) -> np.ndarray:
    loose = sorted(p for p in folder.iterdir() if p.suffix.lower() in formats.IMAGE_EXTENSIONS
                   and not p.name.startswith("."))
    if not loose:
        raise ValueError(f"folder '{folder}' holds no images ({'/'.join(formats.IMAGE_EXTENSIONS)}); put the "
                         "domain's images directly in it")
    x, _, _ = formats.read_image_folder(folder, size, channels, limit)
    return x


def _split_side_by_side(folder: Path, size: int | None, channels: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """pix2pix's A|B images → (A, B) uint8 ``[N, C, H, W]``: the left and right halves of each image."""
    from PIL import Image

    x = _read_folder(folder, None, channels, limit)
    _n, c, h, w = x.shape
    if w % 2 or w != 2 * h:
        raise ValueError(f"images in '{folder}' are {w}x{h}; pix2pix's paired layout holds A|B side by side (width "
                         "= 2 × height), e.g. 512x256: join each pair, or use paired-npz")
    a, b = x[..., : w // 2], x[..., w // 2:]
    if size is not None and size != h:
        def rs(v: np.ndarray) -> np.ndarray:
            out = [np.asarray(Image.fromarray(im.transpose(1, 2, 0).squeeze(-1) if c == 1 else im.transpose(1, 2, 0))
                              .resize((size, size), Image.Resampling.BICUBIC)) for im in v]
            return np.stack([o[None] if o.ndim == 2 else o.transpose(2, 0, 1) for o in out])
        a, b = rs(a), rs(b)
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def _t(x: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


def oriented(a: Tensor, b: Tensor, ta: Tensor, tb: Tensor, direction: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(A, B, testA, testB), swapped for direction BA (pix2pix's facades are trained B → A)."""
    return (a, b, ta, tb) if direction == "AB" else (b, a, tb, ta)


@dataclass
class _FolderOptions:
    path: str = ""
    size: int | None = None  # resize every image to size x size; None = keep
    channels: int = 0  # 0 = infer (1 if every image is grey, else 3); 1 or 3 converts
    limit: int = 0  # 0 = all training images; else the first `limit` (sorted)
    direction: str = "AB"  # AB: A → B; BA: B → A (swap the domains)

    def __post_init__(self) -> None:
        if self.channels not in (0, 1, 3):
            raise ValueError(f"channels must be 0 (infer), 1 or 3, got {self.channels}")
        if self.limit < 0:
            raise ValueError(f"limit must be >= 0 (0 = all), got {self.limit}")
        if self.size is not None and self.size < 1:
            raise ValueError(f"size must be a positive number of pixels or None, got {self.size}")
        _check_direction(self.direction)

    def root(self, name: str) -> Path:
        if not self.path:
            raise ValueError(f"dataset {name!r} needs data.options.path = the dataset folder")
        root = Path(self.path).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"dataset folder '{root}' not found; check data.options.path")
        return root


@DATASETS.register("paired-folder")
@dataclass
class PairedFolder(_FolderOptions):
    """pix2pix's layout: ``train/`` (and ``test/`` or ``val/``) of A|B side-by-side images."""

    def load(self, split: str = "train") -> TranslationData:
        check_train_split("paired-folder", split)
        root = self.root("paired-folder")
        if (root / "trainA").is_dir() and not (root / "train").is_dir():
            raise ValueError(f"'{root}' has CycleGAN's unpaired layout (trainA/trainB): pix2pix needs pairs; use "
                             "data.name=unpaired-folder with model.name=cyclegan, or join each pair side by side")
        a, b = _split_side_by_side(_folder(root, ("train",), "training"), self.size, self.channels, self.limit)
        ta, tb = _split_side_by_side(_folder(root, ("test", "val"), "test"), self.size, self.channels, 0)
        return TranslationData(*oriented(_t(a), _t(b), _t(ta), _t(tb), self.direction), paired=True,
                               name="paired-folder")


@DATASETS.register("unpaired-folder")
@dataclass
class UnpairedFolder(_FolderOptions):
    """CycleGAN's layout: ``trainA/``, ``trainB/``, ``testA/``, ``testB/`` (each a folder of images)."""

    def load(self, split: str = "train") -> TranslationData:
        check_train_split("unpaired-folder", split)
        root = self.root("unpaired-folder")
        parts = {}
        for part in ("trainA", "trainB", "testA", "testB"):
            folder = root / part
            if not folder.is_dir():
                raise FileNotFoundError(f"'{folder}' not found; CycleGAN's layout needs trainA/, trainB/, testA/ and "
                                        f"testB/ under {root}")
            parts[part] = _t(_read_folder(folder, self.size, self.channels, self.limit if "train" in part else 0))
        return TranslationData(*oriented(parts["trainA"], parts["trainB"], parts["testA"], parts["testB"],
                                         self.direction), paired=False, name="unpaired-folder")


@DATASETS.register("paired-npz")
@dataclass
class PairedNPZ:
    """Pairs from one .npz: ``a`` and ``b`` (``[N, H, W]``, ``[N, H, W, C]`` or ``[N, C, H, W]``, uint8 or floats in
    [0, 1] / [−1, 1]) and optionally ``test_a``/``test_b``; without them the last 10 % of the pairs are held out."""

    path: str = ""
    direction: str = "AB"
    limit: int = 0

    def __post_init__(self) -> None:
        _check_direction(self.direction)
        if self.limit < 0:
            raise ValueError(f"limit must be >= 0 (0 = all), got {self.limit}")

    def load(self, split: str = "train") -> TranslationData:
        check_train_split("paired-npz", split)
        path = require_input(self.path, "pairs file", "data.options.path")
        formats.check_array_file(path, f"pairs file '{path}'")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (*formats.NPZ_ERRORS, AttributeError):
            raise ValueError(f"'{path}' is not a readable .npz with arrays a and b; save it with np.savez") from None
        if "a" not in arrays or "b" not in arrays:
            raise ValueError(f"'{path}' holds arrays {sorted(arrays)}; paired-npz needs 'a' (inputs) and 'b' "
                             "(targets), one row per pair")
        x = {k: formats.array_to_images(v, f"array {k!r} of '{path}'") for k, v in arrays.items()
             if k in ("a", "b", "test_a", "test_b")}
        if len(x["a"]) != len(x["b"]):
            raise ValueError(f"'{path}': a has {len(x['a'])} images but b {len(x['b'])}; pairs need one row each")
        if "test_a" not in x:
            n_test = max(1, round(len(x["a"]) * TEST_FRACTION))
            if len(x["a"]) - n_test < 1:
                raise ValueError(f"'{path}' holds {len(x['a'])} pair(s): too few to hold out a test split; add pairs "
                                 "or test_a/test_b arrays")
            x["test_a"], x["test_b"] = x["a"][-n_test:], x["b"][-n_test:]
            x["a"], x["b"] = x["a"][:-n_test], x["b"][:-n_test]
        elif "test_b" not in x:
            raise ValueError(f"'{path}' has test_a but no test_b; save both or neither")
        if self.limit:
            x["a"], x["b"] = x["a"][: self.limit], x["b"][: self.limit]
        return TranslationData(*oriented(_t(x["a"]), _t(x["b"]), _t(x["test_a"]), _t(x["test_b"]), self.direction),
                               paired=True, name="paired-npz")
