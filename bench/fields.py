"""Field metrics of a trained conditional field GAN next to a real-vs-real reference, with command and wall time.

    ganforge train cgan-fields-a1b --run-dir runs/cgan-fields-a1b
    python bench/fields.py --run runs/cgan-fields-a1b

Rows: the GAN (one generated field per real field, for its condition; metrics.fields), and the reference floor
"real vs real": the A1B fields against the E1 fields of the same years (two scenarios that differ mainly after
2000), which shows the size of a physically meaningful difference on the same scale.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("bench/results/fields.json"))
    args = p.parse_args()
    import ganforge.builder  # noqa: F401  (registers datasets, models, hooks)
    from ganforge.builder import build_dataset
    from ganforge.kinds.field import generate_fields
    from ganforge.metrics.fields import field_metrics
    from ganforge.training.rundir import load_run

    cfg, sampler, _, _ = load_run(args.run)
    data = build_dataset(cfg)
    valid = data.mask.numpy()[:, 0] > 0
    t0 = time.perf_counter()
    fake = data.denormalise(generate_fields(sampler, data.cond, cfg.train.seed + 7, "cpu"))
    rows = {"GAN": field_metrics(data.raw, fake, valid)}
    seconds = time.perf_counter() - t0
    if cfg.data.name == "a1b-fields" and len(data) == 480:
        rows["real A1B vs real E1 (same years)"] = field_metrics(data.raw[:240], data.raw[240:], valid[:240])
    keys = list(rows["GAN"])
    print(f"{'row':34} " + " ".join(f"{k[:14]:>14}" for k in keys))
    for name, m in rows.items():
        print(f"{name[:34]:34} " + " ".join(f"{m[k]:14.4g}" for k in keys))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"run": str(args.run), "rows": rows, "eval_seconds": round(seconds, 2),
                                    "numpy": np.__version__}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
