"""Shared helpers for the benchmarks: timing with torch.utils.benchmark, CSV and device info."""

from __future__ import annotations

import csv
import platform
from pathlib import Path

import torch
from torch.utils import benchmark

RESULTS = Path(__file__).parent / "results"


def median_seconds(fn, min_run_time: float = 2.0) -> float:
    """Median wall time of ``fn()`` in seconds (torch.utils.benchmark, CUDA-synchronized)."""
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def device_label(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def write_csv(rows: list[dict], name: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
