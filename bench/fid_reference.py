"""FID (and KID) between two real MNIST sets, MNIST test vs MNIST train, with ganforge's feature extractors.

The "real vs real" floor that a generator's FID should be read against: both sets are real digits, so any value above
zero is the estimator's bias at this n plus the (small) train/test distribution shift. Uses the first ``n`` images of
each split, fresh features (no cache, so the timings are real), float64 FID (``metrics.fid``) and KID
(``metrics.kid``, 100 subsets of min(1000, n)).

    python bench/fid_reference.py --features mnist-classifier --n 10000
    python bench/fid_reference.py --features inception-fid --n 500 --out runs/bench/fid_reference_inception.json

Prints one line per extractor and writes a JSON record (``--out``, default ``runs/bench/fid_reference.json``).

Measured on a shared 2-core CPU, 1 torch thread, torch 2.13.0+cpu (wall seconds of the features + metrics):

    mnist-classifier  n = 10000  FID 0.169   KID 1.1e-05 ± 0.0060   18 s  (~1800 img/s)
    inception-fid     n = 500    FID 21.64   KID 0.00137            890 s (1.2 img/s; the 2048x2048 sqrtm: 80 s)

FID is biased upwards at small n (strongly so for 2048-d features at n = 500), so compare values only at equal n.
At n <= 1000 every KID subset is the whole set, hence a zero KID spread.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import ganforge
import ganforge.metrics  # registers the feature extractors
from ganforge.data.mnist import load_mnist_raw
from ganforge.metrics.fid import fid_from_features
from ganforge.metrics.kid import kid
from ganforge.metrics.reference import extractor_provenance
from ganforge.registry import FEATURES

EXTRACTORS = ("mnist-classifier", "inception-fid")


def measure(name: str, n: int, batch_size: int, device: str) -> dict[str, Any]:
    """FID/KID(MNIST test[:n], MNIST train[:n]) with extractor ``name``, plus wall times."""
    test, _ = load_mnist_raw("test")
    train, _ = load_mnist_raw("train")
    n_test, n_train = min(n, test.shape[0]), min(n, train.shape[0])
    cls = FEATURES.get(name)
    extractor = cls(device=device, batch_size=batch_size, progress=True) if name == "inception-fid" else cls(
        device=device, batch_size=batch_size)
    t0 = time.perf_counter()
    f_test = extractor(test[:n_test]).numpy()
    t1 = time.perf_counter()
    f_train = extractor(train[:n_train]).numpy()
    t2 = time.perf_counter()
    fid = fid_from_features(f_test, f_train)
    kid_mean, kid_std = kid(f_test, f_train, seed=0)
    t3 = time.perf_counter()
    return {
        "extractor": name, "n_test": n_test, "n_train": n_train, "fid": fid, "kid": kid_mean, "kid_std": kid_std,
        "seconds": {"features_test": round(t1 - t0, 2), "features_train": round(t2 - t1, 2),
                    "metrics": round(t3 - t2, 2), "total": round(t3 - t0, 2)},
        "images_per_second": round((n_test + n_train) / max(t2 - t0, 1e-9), 2),
        **extractor_provenance(extractor),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", nargs="+", default=list(EXTRACTORS), choices=EXTRACTORS)
    parser.add_argument("--n", type=int, default=10000, help="images per split (first n of test and of train)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--out", type=Path, default=Path("runs") / "bench" / "fid_reference.json")
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error("--n must be >= 2")
    torch.set_num_threads(max(1, args.threads))
    results = []
    for name in args.features:
        r = measure(name, args.n, args.batch_size, args.device)
        results.append(r)
        print(f"{name:<17} n={r['n_test']:>5}+{r['n_train']:<5} FID(test, train) = {r['fid']:.4f}  "
              f"KID = {r['kid']:.6f} ± {r['kid_std']:.6f}  ({r['seconds']['total']:.1f} s, "
              f"{r['images_per_second']:.1f} img/s)", flush=True)
    record = {
        "benchmark": "FID(MNIST test[:n], MNIST train[:n])", "results": results,
        "environment": {"ganforge": ganforge.__version__, "torch": str(torch.__version__), "numpy": np.__version__,
                        "python": sys.version.split()[0], "platform": platform.platform(),
                        "cpu_threads": torch.get_num_threads(), "device": args.device},
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
