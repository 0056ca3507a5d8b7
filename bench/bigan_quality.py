"""BiGAN / ALI on MNIST: how well G(E(x)) reconstructs held-out digits, and how good G's samples are.

Reads a trained run (``ganforge train bigan-mnist --run-dir R``) and prints, for the EMA networks and the raw ones:

    reconstruction accuracy = share of the first N MNIST *test* digits x whose reconstruction G(E(x)) the shipped
                              mnist-classifier assigns to x's label (BiGAN never minimises a reconstruction loss:
                              at the optimum E = G⁻¹, Donahue et al. 2017, Theorem 2)
    reconstruction L1       = mean |G(E(x)) − x| on pixels in [0, 1]
    confident % / entropy   = the digit quality of 10,000 samples G(z) (``evaluation.evaluate_digits``)

    1-NN accuracy of E     = the BiGAN paper's feature-learning measure (Donahue et al. 2017, Table 1: 97.39 % on
                              permutation-invariant MNIST with their 1024-unit nets): each test digit gets the label of
                              the training digit whose encoding E(x) is nearest in cosine distance (first N of each)

next to two references: the classifier on the real test digits (its ceiling) and on G(E(x')) for shuffled x'
(chance: what a reconstruction that ignores its input would score).

    OMP_NUM_THREADS=1 ganforge train bigan-mnist --run-dir runs/bigan-mnist
    OMP_NUM_THREADS=1 python bench/bigan_quality.py runs/bigan-mnist --n 10000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ganforge.builder import build_dataset, build_models, build_objective
from ganforge.checkpoint import load_checkpoint
from ganforge.config import config_from_dict
from ganforge.data.base import DataSpec, scale_images, to_uint8
from ganforge.kinds.image import evaluate_digits
from ganforge.metrics.classifier import classify, load_mnist_classifier
from ganforge.sampling import EVAL_SEED_OFFSET


def load_networks(run: Path, ema: bool) -> tuple[dict[str, torch.nn.Module], dict]:
    state = load_checkpoint(run / "checkpoints" / "latest.pt" if run.is_dir() else run)
    cfg = config_from_dict(state["config"])
    spec = DataSpec(tuple(state["spec"]["shape"]), int(state["spec"]["num_classes"]))
    nets = build_models(cfg, spec, build_objective(cfg))
    for name, net in nets.items():
        key = f"{name}_ema" if ema and state["models"].get(f"{name}_ema") is not None else name
        net.load_state_dict(state["models"][key])
        net.eval()
    return nets, state


@torch.no_grad()
def reconstruction_scores(nets: dict[str, torch.nn.Module], x_uint8: torch.Tensor, labels: torch.Tensor,
                          classifier: torch.nn.Module, batch: int = 1000) -> dict[str, float]:
    G, E = nets["G"], nets["E"]
    rng = getattr(G, "output_range", (-1.0, 1.0))
    correct = l1 = 0.0
    for i in range(0, len(x_uint8), batch):
        xb = x_uint8[i : i + batch]
        rec = to_uint8(G(E(scale_images(xb, rng))), rng)  # uint8 [n, 1, 28, 28]
        correct += (classify(classifier, rec).argmax(1) == labels[i : i + batch]).sum().item()
        l1 += (rec.float() - xb.float()).abs().mean(dim=(1, 2, 3)).sum().item() / 255.0
    return {"reconstruction_accuracy": 100.0 * correct / len(x_uint8), "reconstruction_l1": l1 / len(x_uint8)}


@torch.no_grad()
def nearest_neighbour_accuracy(E: torch.nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                               test: tuple[torch.Tensor, torch.Tensor], output_range: tuple[float, float]) -> float:
    """1-NN (cosine) accuracy of test encodings against train encodings, in percent."""
    def encode(x: torch.Tensor) -> torch.Tensor:
        z = torch.cat([E(scale_images(x[i : i + 1000], output_range)) for i in range(0, len(x), 1000)])
        return torch.nn.functional.normalize(z, dim=1)

    a, b = encode(train[0]), encode(test[0])
    nearest = torch.cat([(b[i : i + 1000] @ a.T).argmax(1) for i in range(0, len(b), 1000)])
    return 100.0 * (train[1][nearest] == test[1]).float().mean().item()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a bigan run directory or checkpoint")
    p.add_argument("--n", type=int, default=10_000, help="test digits reconstructed (first n of the test split)")
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    classifier = load_mnist_classifier()
    rows = {}
    for ema in (True, False):
        nets, state = load_networks(args.run, ema)
        cfg = config_from_dict(state["config"])
        test = build_dataset(cfg, "test")
        x, y = test.x[: args.n], test.y[: args.n]
        row = reconstruction_scores(nets, x, y, classifier)
        shuffled = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        row["chance_accuracy"] = reconstruction_scores(nets, x[shuffled], y, classifier)["reconstruction_accuracy"]
        row["real_accuracy"] = 100.0 * (classify(classifier, x).argmax(1) == y).float().mean().item()
        train = build_dataset(cfg, "train")
        row["encoder_1nn_accuracy"] = nearest_neighbour_accuracy(
            nets["E"], (train.x[: args.n], train.y[: args.n]), (x, y), getattr(nets["G"], "output_range", (-1, 1)))
        row["pixel_1nn_accuracy"] = nearest_neighbour_accuracy(  # the same protocol on raw pixels: a baseline
            torch.nn.Flatten(), (train.x[: args.n], train.y[: args.n]), (x, y), (0.0, 1.0))
        row.update(evaluate_digits(nets["G"], cfg.train.seed + EVAL_SEED_OFFSET, torch.device("cpu"), n=10_000,
                                   classifier=classifier))
        row.update({"step": int(state["trainer"]["step"]), "images_seen": int(state["trainer"]["images_seen"])})
        rows["ema" if ema else "G"] = row
        if not any(k.endswith("_ema") for k in state["models"]):
            break
    print(f"{'nets':5s} {'step':>6s} {'rec acc %':>9s} {'rec L1':>7s} {'chance %':>8s} {'real %':>7s} "
          f"{'E 1-NN %':>8s} {'pixel 1-NN %':>12s} {'confident %':>11s} {'entropy':>7s}")
    for name, r in rows.items():
        print(f"{name:5s} {r['step']:6d} {r['reconstruction_accuracy']:9.1f} {r['reconstruction_l1']:7.3f} "
              f"{r['chance_accuracy']:8.1f} {r['real_accuracy']:7.1f} {r['encoder_1nn_accuracy']:8.1f} "
              f"{r['pixel_1nn_accuracy']:12.1f} "
              f"{r['confident_percent']:11.1f} {r['class_entropy']:7.3f}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
