"""Helpers shared by the commands that read a trained run: locating it, loading G, checking labels, uint8 output,
and the up-front checks that refuse an output before any slow work (unwritable, a folder, no room on disk or in RAM).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.checkpoint import Checkpoint, CheckpointError
from ganforge.config import RunConfig
from ganforge.data.base import DataSpec, to_uint8
from ganforge.models.base import output_range
from ganforge.options import ConfigError
from ganforge.training.rundir import RunError, file_sha256, load_run

# The error types ``load_run`` raises for a checkpoint that unpickles but does not fit its own config (a tensor of
# another shape, a missing entry, a value of the wrong type); our own errors already carry a good message.
_MISMATCH_ERRORS = (KeyError, IndexError, RuntimeError, TypeError, ValueError, AttributeError)
_OWN_ERRORS = (RunError, CheckpointError, ConfigError)


def run_root(run: Path) -> Path:
    """The run directory of ``run`` (a run directory, or a checkpoint file inside ``RUN/checkpoints/``)."""
    if run.is_dir():
        return run
    folder = run.parent
    return folder.parent if folder.name == "checkpoints" else folder


def checkpoint_file(run: Path) -> Path:
    """The checkpoint ``load_generator(run)`` reads: ``run`` itself or ``run/checkpoints/latest.pt``."""
    return run / "checkpoints" / "latest.pt" if run.is_dir() else run


def source_sha256(path: Path, suffixes: tuple[str, ...] = (".png",)) -> str:
    """Identity of what was evaluated: the sha256 of a file (checkpoint .pt, .npz), or for a folder of samples the
    sha256 of its ``name<TAB>sha256`` lines, one per file with one of ``suffixes``, in sorted order."""
    if not path.is_dir():
        return file_sha256(path)
    lines = "".join(f"{p.name}\t{file_sha256(p)}\n" for p in sorted(path.iterdir()) if p.suffix.lower() in suffixes)
    return hashlib.sha256(lines.encode()).hexdigest()


def load_generator(run: Path, device: torch.device, use_ema: bool = True
                   ) -> tuple[RunConfig, nn.Module, DataSpec, Checkpoint]:
    """``load_run`` with one-line errors for a path that is neither a run directory nor a checkpoint, and for a
    checkpoint that loads but does not match its own config (edited, truncated entries, another version)."""
    if not run.exists():
        raise RunError(f"run {str(run)!r} not found; pass a run directory (runs/NAME) or a checkpoint .pt file")
    if run.is_dir() and not (run / "checkpoints" / "latest.pt").is_file():
        raise RunError(f"no checkpoint in {str(run / 'checkpoints')!r}; pass a trained run directory (train it with "
                       "`ganforge train`) or a checkpoint .pt file")
    path = checkpoint_file(run)
    try:
        return load_run(run, device=device, use_ema=use_ema)
    except _OWN_ERRORS:
        raise
    except torch.cuda.OutOfMemoryError:
        raise RunError(f"out of device memory loading {str(path)!r}; use --device cpu") from None
    except _MISMATCH_ERRORS as exc:
        detail = " ".join(str(exc).split()) or "no details"
        if detail.startswith("Error(s) in loading state_dict"):  # keep the part that names the tensor
            detail = detail.partition(": ")[2]
        detail = detail if len(detail) <= 200 else detail[:197] + "..."
        raise RunError(f"checkpoint {str(path)!r} does not match its config ({type(exc).__name__}: {detail}); it was "
                       "edited or damaged: use another checkpoint from RUN/checkpoints/ or retrain") from None


def generator_kind(state: Checkpoint, use_ema: bool) -> str:
    """"ema" or "G": which generator ``load_generator(..., use_ema)`` sampled from (``Checkpoint.generator_kind``)."""
    return state.generator_kind(use_ema)


def images_uint8(fake: Tensor, G: nn.Module) -> Tensor:
    """Generator output -> uint8 ``[N, C, H, W]`` on the CPU, using G's output range."""
    return to_uint8(fake, output_range(G)).cpu()


MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed and numpy's default_rng both take every seed in [0, MAX_SEED]


def check_seed(seed: int, flag: str = "--seed") -> None:
    """One-line error for a seed that torch or numpy would refuse half-way (negative: numpy; past 64 bits: torch's
    "Overflow when unpacking long long")."""
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{flag} {seed} is out of range; give a whole number from 0 to {MAX_SEED}")


def check_positive(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"{flag} must be >= 1, got {value}")


# ---- outputs: checked before any slow work, written so that a failure leaves nothing half-written -----------------


def check_picture_suffix(out: Path, plot: bool) -> None:
    """One-line error, before any work, for a picture file name whose type Pillow / matplotlib cannot write."""
    if plot:
        from matplotlib.backend_bases import FigureCanvasBase

        known = {f".{ext}" for ext in FigureCanvasBase.get_supported_filetypes()}
    else:
        from PIL import Image

        known = set(Image.registered_extensions())
    if out.suffix.lower() not in known:
        raise ConfigError(f"--out {str(out)!r}: cannot write a picture of type {out.suffix or '(none)'!r}; use a "
                          ".png file name" + (" (or .npy for the raw points)" if plot else ""))


def claim_output_folder(out: Path, own: bool, is_output: Callable[[str], bool], flag: str = "--out") -> Any:
    """``OutputFolder(out).claim()`` for a command that writes a set of named outputs (translate, detect): refuses,
    naming them, files ganforge did not write; a symbolic link named like one of the command's outputs
    (``is_output``) is allowed, since writing replaces the link itself and never follows it."""
    from ganforge.outputs import OutputFolder

    folder = OutputFolder(out, flag, own=own)
    folder.claim([], only_names=True)  # a file in the way, a linked own folder
    foreign = [n for n in folder.foreign() if not ((out / n).is_symlink() and is_output(n))]
    return folder.claim(foreign, only_names=True)


def one_line_os_errors(command: Callable[..., int]) -> Callable[..., int]:
    """Decorate a command's ``run(args)``: an ``OSError`` no check foresaw (a name too long for the file system, an
    I/O error, a folder that vanished) or a ``MemoryError`` becomes the CLI's one-line error (exit 2), not a
    traceback. Outputs are written by ``ganforge.outputs`` (temporary name, renamed), so nothing is half-written."""
    import functools

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> int:
        try:
            return command(*args, **kwargs)
        except MemoryError:
            raise ConfigError("out of memory; pass fewer or smaller inputs") from None
        except FileNotFoundError:
            raise
        except OSError as exc:
            name = f" {str(exc.filename)[:200]!r}" if exc.filename else ""
            raise ConfigError(f"cannot use{name} ({exc.strerror or type(exc).__name__}); check the path, its "
                              "permissions and the free disk space") from None

    return run
