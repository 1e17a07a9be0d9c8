"""Weight reconstruction time: freqlib's FR forward (truncated separable inverse DCT) against an
FFT-based full inverse DCT as the authors' frereg computes it, and scipy's pocketfft idctn.

Writes results/reconstruction_<device>.csv and .png. Goal (issue 2): at 1% keep on a 2048x4608
linear weight, freqlib at least 10x faster than the FFT-based full inverse (CPU, 2 threads).
"""

from __future__ import annotations

import argparse
import math
from functools import partial

import matplotlib
import scipy.fft
import torch
from common import RESULTS, device_label, median_seconds, write_csv

import freqlib
from freqlib.fr import FrequencyRegularization
from freqlib.zigzag import keep_count

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SHAPES = {"conv 512x512x3x3": (512, 512, 3, 3), "linear 2048x4608": (2048, 4608), "linear 4096x9216": (4096, 9216)}
KEEPS = [1.0, 0.01, 0.001]


def frereg_full_idct(X: torch.Tensor) -> torch.Tensor:
    """frereg 0.1.0's inverse: its FFT-based 1-d idct applied along every axis (idct_4d for 4-d)."""
    from frereg._dct import idct, idct_4d

    if X.dim() == 4:
        return idct_4d(X)
    return idct(idct(X, norm="ortho").transpose(-1, -2), norm="ortho").transpose(-1, -2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for label, shape in SHAPES.items():
        spectrum = torch.randn(shape, device=args.device)
        for keep in KEEPS:
            k = keep_count(math.prod(shape), keep, kind="conv" if len(shape) == 4 else "linear")
            fr = FrequencyRegularization(shape, k)
            masked = spectrum * freqlib.zigzag_mask(shape, k, box=shape).to(args.device)
            err = (fr(masked) - frereg_full_idct(masked)).abs().max().item()  # the same weight
            t_ours = median_seconds(partial(fr, masked))
            t_fft = median_seconds(partial(frereg_full_idct, masked))
            t_scipy = float("nan")
            if args.device == "cpu":
                t_scipy = median_seconds(partial(scipy.fft.idctn, masked.numpy(), norm="ortho", workers=args.threads))
            rows.append({
                "weight": label, "keep": keep, "kept": k, "box": "x".join(map(str, fr.box)),
                "freqlib_s": t_ours, "frereg_fft_s": t_fft, "scipy_idctn_s": t_scipy,
                "speedup_vs_frereg": t_fft / t_ours, "speedup_vs_scipy": t_scipy / t_ours,
                "max_abs_diff": err, "device": device_label(args.device),
            })  # fmt: skip
            print(
                f"{label:18s} keep={keep:<6} k={k:>8} freqlib {t_ours * 1e3:9.2f} ms  frereg-FFT {t_fft * 1e3:9.2f} ms"
                f"  scipy {t_scipy * 1e3:9.2f} ms  speedup {t_fft / t_ours:7.1f}x  |diff| {err:.1e}"
            )
    path = write_csv(rows, f"reconstruction_{args.device}.csv")
    plot(rows, RESULTS / f"reconstruction_{args.device}.png")
    print(f"wrote {path}")


def plot(rows: list[dict], path) -> None:
    fig, axes = plt.subplots(1, len(SHAPES), figsize=(4 * len(SHAPES), 4.0), sharey=True)
    for ax, label in zip(axes, SHAPES):
        sub = [r for r in rows if r["weight"] == label]
        xs = range(len(sub))
        w = 0.27
        ax.bar([x - w for x in xs], [r["freqlib_s"] * 1e3 for r in sub], w, label="freqlib (truncated matmul)")
        ax.bar(list(xs), [r["frereg_fft_s"] * 1e3 for r in sub], w, label="frereg FFT full inverse")
        ax.bar([x + w for x in xs], [r["scipy_idctn_s"] * 1e3 for r in sub], w, label="scipy idctn (pocketfft)")
        ax.set_xticks(list(xs), [f"{r['keep']:.1%}" for r in sub])
        ax.set_yscale("log")
        ax.set_title(label)
        ax.set_xlabel("kept coefficients")
        for x, r in zip(xs, sub):
            ax.annotate(
                f"{r['speedup_vs_frereg']:.0f}×", (x - w, r["freqlib_s"] * 1e3), ha="center", va="bottom", fontsize=8
            )
    axes[0].set_ylabel("weight reconstruction time (ms)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle(f"Inverse DCT of one weight ({rows[0]['device']}); labels: speedup over frereg")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
