"""Does a ``z_code`` generator use its discrete code? The code ↔ digit table of a saved run.

For ``n`` latents z (seed ``--seed``), the code k = argmax(z[:, :K]) (what ``DCGANGenerator`` feeds G) is crossed with
the mnist-classifier's predicted digit of G(z). Printed and written as JSON:

    table[k][d] = #{i : k_i = k, argmax_j p(j | G(z_i)) = d}
    purity      = Σ_k max_d table[k][d] / n        (1: every code draws one digit; 0.1-ish: codes are ignored)
    confident % = per code, the share with max_j p(j | G(z_i)) >= 0.9 (the unconfident share is mass between digits)

    OMP_NUM_THREADS=1 python bench/dcgan_code.py RUN [--n 10000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from ganforge.data.base import to_uint8
from ganforge.kinds.image import CONFIDENCE
from ganforge.metrics.classifier import classify, load_mnist_classifier
from ganforge.training.rundir import RunError, load_run


def code_table(G: torch.nn.Module, n: int, seed: int) -> dict[str, Any]:
    """The code × predicted-digit table of ``n`` samples of the dcgan generator ``G`` (``G.z_code`` > 0)."""
    K = int(getattr(G, "z_code", 0))
    if K < 2:
        raise SystemExit("this run's generator has no discrete code (model.options.z_code is 0)")
    model = load_mnist_classifier(device="cpu")
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))  # [n, z_dim]
    with torch.no_grad():
        images = torch.cat([to_uint8(G(chunk), G.output_range) for chunk in z.split(1000)])  # uint8 [n, 1, 28, 28]
    probs = classify(model, images)  # [n, 10]
    k, digit, confident = z[:, :K].argmax(1), probs.argmax(1), probs.max(1).values >= CONFIDENCE
    table = torch.zeros(K, probs.shape[1], dtype=torch.long)
    table.index_put_((k, digit), torch.ones(n, dtype=torch.long), accumulate=True)
    per_code = [round(100.0 * float(confident[k == i].double().mean()), 2) if (k == i).any() else None
                for i in range(K)]
    return {"n": n, "seed": seed, "codes": K, "table": table.tolist(),
            "purity": round(float(table.max(1).values.sum()) / n, 4),
            "confident_percent_per_code": per_code,
            "confident_percent": round(100.0 * float(confident.double().mean()), 2)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python bench/dcgan_code.py", description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run directory or checkpoint of a dcgan run with z_code > 0")
    parser.add_argument("--n", type=int, default=10_000, help="samples (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    parser.add_argument("--no-ema", action="store_true", help="the raw G instead of its EMA copy")
    parser.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        _cfg, sampler, _spec, state = load_run(args.run, use_ema=not args.no_ema)
    except RunError as e:
        raise SystemExit(f"dcgan_code: error: {e}") from None
    result = {"run": str(args.run), "step": int(state.get("trainer", {}).get("step", -1)), "ema": not args.no_ema,
              **code_table(sampler.nets["G"], args.n, args.seed),
              "command": " ".join(["python", "bench/dcgan_code.py", *(argv if argv is not None else sys.argv[1:])])}
    print(f"step {result['step']}: purity {result['purity']}, confident {result['confident_percent']} %")
    print("code  " + " ".join(f"{d:>5}" for d in range(10)) + "   conf %")
    for i, row in enumerate(result["table"]):
        print(f"{i:>4}  " + " ".join(f"{c:>5}" for c in row) + f"   {result['confident_percent_per_code'][i]}")
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
