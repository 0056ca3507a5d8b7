"""Weight hashes of every preset after a few tiny training steps: the check that a refactor of the core trains every
preset bit-identically (issue "One core for every GAN").

    python bench/preset_hashes.py --out before.json              # on the commit before the change
    python bench/preset_hashes.py --compare before.json          # after it: lists presets whose weights moved

It goes through the CLI (``ganforge train``) and hashes ``checkpoints/latest.pt``'s networks, so it survives code
moves. Hashes are CPU- and thread-count-specific (oneDNN kernels differ): compare only on one machine with
``OMP_NUM_THREADS=1``; the permanent tests compare the trainer with a plain loop instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch

from ganforge.builder import build_family
from ganforge.cli import main as cli
from ganforge.config import preset_names, resolve_config

STEPS = 3
COMMON = [f"train.steps={STEPS}", "train.checkpoint_every=100", "log.every=1", "log.sample_every=0",
          "log.eval_every=0", "log.tensorboard=False", "log.progress=False", "train.device=cpu"]


def overrides(preset: str) -> list[str]:
    """Small batches and, for image data, the first 256 samples (enough for 3 steps; keeps the run to seconds)."""
    cfg = resolve_config(preset)
    sets = list(COMMON)
    pack = build_family(cfg).packing()  # the family's declared PacGAN packing (CTGAN's pac, PacGAN's pack)
    sets.append(f"train.batch_size={16 * pack}")
    if cfg.data.name in ("mnist", "digits", "stacked-mnist"):
        sets.append("data.options.limit=256")
    return sets


def weights_hash(ckpt: Path) -> str:
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    h = hashlib.sha256()
    for net in sorted(k for k, v in state["models"].items() if v is not None):
        for key, t in sorted(state["models"][net].items()):
            h.update(f"{net}.{key}".encode())
            h.update(t.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def run_all(presets: list[str]) -> dict[str, str]:
    torch.set_num_threads(1)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in presets:
            run_dir = Path(tmp) / name
            args = ["train", name, "--run-dir", str(run_dir), "--no-progress"]
            for o in overrides(name):
                args += ["--set", o]
            rc = cli(args)
            out[name] = weights_hash(run_dir / "checkpoints" / "latest.pt") if rc == 0 else f"failed rc={rc}"
            print(f"{name:28s} {out[name]}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="write the hashes as JSON")
    p.add_argument("--compare", type=Path, help="compare with hashes written earlier by --out")
    p.add_argument("--presets", nargs="*", default=None, help="default: every preset")
    args = p.parse_args(argv)
    hashes = run_all(args.presets or preset_names())
    if args.out:
        args.out.write_text(json.dumps(hashes, indent=1) + "\n")
    if args.compare:
        old = json.loads(args.compare.read_text())
        def hashed(k: str) -> bool:  # a preset that failed then has no earlier hash: neither identical nor moved
            return k in old and not old[k].startswith("failed")

        compared = [k for k in hashes if hashed(k)]
        moved = [k for k in compared if old[k] != hashes[k]]
        new = [k for k in hashes if not hashed(k)]
        print(f"{len(compared) - len(moved)} of {len(compared)} presets train bit-identically; moved: {moved or 'none'}"
              f"; new (no earlier hash): {new or 'none'}")
        return 1 if moved else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
