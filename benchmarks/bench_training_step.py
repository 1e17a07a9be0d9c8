"""Training-step time of FR models against their plain versions, measured side by side.

One step = forward, cross-entropy, backward, SGD update, on random data of the model's input
size. Writes results/training_step_<device>.csv and .png. Goals (issue 2), ResNet-18 at 1% keep:
FR step at most 1.3x the plain step on CPU and 1.1x on GPU.
"""

from __future__ import annotations

import argparse

import matplotlib
import torch
from common import RESULTS, device_label, median_seconds, write_csv
from torch import nn

import freqlib
from freqlib.models import LeNet5, resnet18_cifar

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODELS = {
    "LeNet-5 (430k weights), batch 128": (LeNet5, (128, 1, 28, 28)),
    "ResNet-18 CIFAR (11.2M weights), batch 32": (resnet18_cifar, (32, 3, 32, 32)),
}


def make_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=float, default=0.01)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for label, (build, shape) in MODELS.items():
        torch.manual_seed(0)
        x = torch.randn(shape, device=args.device)
        y = torch.randint(0, 10, (shape[0],), device=args.device)
        plain = build().to(args.device)
        fr = freqlib.frequency_regularize(build().to(args.device), args.keep)
        step_plain, step_fr = make_step(plain, x, y), make_step(fr, x, y)
        # alternate the two so that drifts of the machine hit both alike
        t_plain, t_fr = [], []
        for _ in range(3):
            t_plain.append(median_seconds(step_plain, 1.5))
            t_fr.append(median_seconds(step_fr, 1.5))
        tp, tf = sorted(t_plain)[1], sorted(t_fr)[1]
        rows.append({
            "model": label, "keep": args.keep, "kept": freqlib.kept_coefficients(fr),
            "plain_step_s": tp, "fr_step_s": tf, "ratio": tf / tp, "device": device_label(args.device),
        })  # fmt: skip
        print(f"{label:45s} plain {tp * 1e3:8.1f} ms   FR {tf * 1e3:8.1f} ms   ratio {tf / tp:.2f}x")
    path = write_csv(rows, f"training_step_{args.device}.csv")
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ys = range(len(rows))
    ax.barh([i + 0.2 for i in ys], [1.0] * len(rows), 0.4, label="plain")
    ax.barh([i - 0.2 for i in ys], [r["ratio"] for r in rows], 0.4, label=f"FR, keep {args.keep:.0%}")
    for i, r in enumerate(rows):
        ax.annotate(f" {r['plain_step_s'] * 1e3:.0f} ms", (1.0, i + 0.2), va="center", fontsize=8)
        ax.annotate(
            f" {r['fr_step_s'] * 1e3:.0f} ms ({r['ratio']:.2f}×)", (r["ratio"], i - 0.2), va="center", fontsize=8
        )
    ax.axvline(1.3, color="gray", ls=":", lw=1)
    ax.set_yticks(list(ys), [r["model"] for r in rows], fontsize=8)
    ax.set_xlim(0, 1.8)
    ax.set_xlabel("training step time relative to the plain model (dotted: CPU goal 1.3×)")
    ax.set_title(f"FR training-step overhead ({rows[0]['device']})", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(RESULTS / f"training_step_{args.device}.png", dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
