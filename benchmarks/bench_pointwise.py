"""Single-thread CPU speed of dense frequency-band pointwise convolutions (paper 3), measured side by side.

(a) one 1x1 layer 256 -> 256 at 64x64, batch 1, 4x4 macroblocks: compiled banded layer against
nn.Conv2d over kept fractions 1/16 .. 16/16, every channel keeping the same band ("uniform") or
band lengths spread around the same mean ("varying"); goal: 0.8x the plain conv at a quarter kept.
(b) MobileNetV2 (CIFAR, 32x32) with bands removing 20% of the MACs (transforms included), dense
compiled against plain, at batch 1, 32 and 128; paper anchor: 22.1% faster at 20% fewer FLOPs on
one thread. ``--device cuda`` times both on a GPU instead (not yet run: no GPU so far). Writes
results/pointwise_<device>.csv and .png.
"""

from __future__ import annotations

import argparse

import matplotlib
import pandas as pd
from common import RESULTS, device_label

from freqlib.models import mobilenetv2_cifar
from freqlib.pointwise import bench

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--min-run-time", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128])
    parser.add_argument("--device", default="cpu", help="cpu (one thread by default) or cuda")
    args = parser.parse_args()
    layer = bench.layer_speed(
        min_run_time=args.min_run_time, repeats=args.repeats, threads=args.threads, device=args.device
    )
    for _, r in layer.iterrows():
        print(f"layer {r.kind:8s} kept {r.kept:2d}/16  ratio {r.ratio:.2f}x  (MACs {r.mac_ratio:.2f}x)", flush=True)
    net = bench.network_speed(
        mobilenetv2_cifar,
        batches=args.batches,
        min_run_time=2 * args.min_run_time,
        repeats=args.repeats,
        threads=args.threads,
        device=args.device,
    )
    for _, r in net.iterrows():
        print(
            f"MobileNetV2 batch {r.batch:3d} fallback {r.fallback:4s} ({r.banded_layers} banded layers, "
            f"MACs {r.mac_ratio:.2f}x): {r.plain_s * 1e3:.1f} ms -> {r.banded_s * 1e3:.1f} ms, ratio {r.ratio:.2f}x"
        )
    device_kind = "cuda" if args.device.startswith("cuda") else "cpu"
    device = (
        device_label(device_kind)
        if device_kind == "cuda"
        else device_label("cpu").rsplit(",", 1)[0] + f", {args.threads} thread(s)"
    )
    rows = pd.concat(
        [
            layer.assign(part="layer 256->256 64x64 batch 1", batch=1),
            net.assign(part="MobileNetV2 CIFAR 32x32", kind=net.bands + ", fallback " + net.fallback),
        ],
        ignore_index=True,
    ).assign(device=device)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"pointwise_{device_kind}.csv"
    rows.to_csv(path, index=False)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    for kind, g in layer.groupby("kind"):
        ax1.plot(g.fraction, g.ratio, "o-", label=f"{kind} bands: time")
    g = layer[layer.kind == "uniform"]
    ax1.plot(g.fraction, g.mac_ratio, "k--", lw=1, label="MACs (uniform)")
    ax1.axhline(1.0, color="gray", lw=0.8)
    ax1.axhline(0.8, color="gray", ls=":", lw=1, label="goal 0.8x")
    ax1.set_xlabel("kept fraction of coefficients")
    ax1.set_ylabel("banded / plain conv")
    ax1.set_title("1x1 conv 256->256, 64x64, batch 1", fontsize=9)
    ax1.legend(fontsize=7)
    labels = [f"batch {r.batch}, {r.fallback}" for r in net.itertuples()]
    ax2.barh(range(len(net)), net.ratio, color=["C2" if v < 1 else "C3" for v in net.ratio])
    for i, r in enumerate(net.itertuples()):
        ax2.annotate(f" {r.ratio:.2f}x ({r.banded_layers} banded)", (r.ratio, i), va="center", fontsize=7)
    ax2.axvline(1.0, color="gray", lw=0.8)
    ax2.axvline(1 / 1.221, color="gray", ls=":", lw=1, label="paper: 22.1% faster")
    ax2.set_yticks(range(len(net)), labels, fontsize=7)
    ax2.set_xlabel("dense banded / plain time (20% fewer MACs)")
    ax2.set_title("MobileNetV2 CIFAR, fallback to plain by MACs / by time", fontsize=9)
    ax2.set_xlim(0, 1.35 * max(1.0, net.ratio.max()))
    ax2.legend(fontsize=7, loc="best")
    fig.suptitle(f"Frequency-band pointwise convolutions, {device_kind.upper()} ({device})", fontsize=9)
    fig.tight_layout()
    fig.savefig(RESULTS / f"pointwise_{device_kind}.png", dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
