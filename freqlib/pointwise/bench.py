"""Wall-clock speed of dense frequency-band pointwise convolutions against plain ``nn.Conv2d``.

Used by ``benchmarks/bench_pointwise.py`` and ``notebooks/pointwise_speed.ipynb``. Timings are
single-threaded CPU (the paper's setting: "22.1% faster at 20% fewer FLOPs on one thread"),
medians of blocked runs of ``torch.utils.benchmark``; the two sides of every ratio are measured in
the same call, alternating, and the median of the repeats is kept, with a standard error from the
spread of the per-round ratios (:func:`round_se`).

- :func:`band_counts_for` : per-channel band lengths with a given mean, uniform or varying.
- :func:`layer_speed` : one 1x1 layer over band levels (ratio banded / plain).
- :func:`prune_to_macs` : band lengths for a whole converted model so that its MACs (transforms
  included, :func:`count_macs`) are a target fraction of the plain model's, with layers where
  banding cannot pay left plain (by MACs) or, optionally, where it measured slower (by time).
- :func:`network_speed` : a whole model, dense-compiled against plain, over batch sizes.

Both take ``device`` (``"cpu"``: one thread by default, the paper's setting; ``"cuda"``: models and
inputs moved there, timings synchronized by ``torch.utils.benchmark``) and ``compiler``: ``None`` times
the eager modules; a ``torch.compile`` backend (``"inductor"``, or ``"eager"`` to test the plumbing)
compiles *both* sides of the ratio (:func:`compiled`), warmed up before timing.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence

import pandas as pd
import torch
from torch import nn

from ..claims import seed_se
from .convert import compile_dense, convert, pointwise_layers
from .dense import DenseBandPointwise
from .layer import FrequencyBandPointwise
from .macs import band_layer_macs, count_macs
from .masks import band_mask

# torch.utils.benchmark imports cpp_extension, which logs a timestamped CUDA_HOME notice on
# machines without CUDA: silenced, so notebook outputs stay reproducible
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


@contextlib.contextmanager
def num_threads(n: int):
    """Set ``torch.set_num_threads(n)`` inside the block and restore the previous value afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def median_seconds(fn: Callable[[], object], min_run_time: float = 1.0) -> float:
    """Median wall time of ``fn()`` in seconds (torch.utils.benchmark, blocked runs, current threads)."""
    from torch.utils import benchmark

    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def rounds(fns: dict[str, Callable[[], object]], min_run_time: float, repeats: int = 3) -> dict[str, list[float]]:
    """``repeats`` rounds of :func:`median_seconds` per function (seconds), alternating the functions
    within each round, so that round ``i`` of every function is measured side by side."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(median_seconds(fn, min_run_time))
    return times


def compare(fns: dict[str, Callable[[], object]], min_run_time: float, repeats: int = 3) -> dict[str, float]:
    """Median over ``repeats`` rounds of :func:`median_seconds` per function, alternating the functions."""
    return {k: _median(v) for k, v in rounds(fns, min_run_time, repeats).items()}


def _median(values: Sequence[float]) -> float:
    return sorted(values)[len(values) // 2]


def round_se(plain: Sequence[float], banded: Sequence[float]) -> tuple[float, float]:
    """Standard errors of the ratio banded / plain (x) and of the speed-up 100 (plain / banded - 1) (%)
    from the spread of the per-round values (:func:`freqlib.claims.seed_se`: std / sqrt(rounds));
    infinity for a single round."""
    ratios = [b / p for p, b in zip(plain, banded)]
    speedups = [100 * (p / b - 1) for p, b in zip(plain, banded)]
    return seed_se(ratios), seed_se(speedups)


def compiled(module: nn.Module, compiler: str | None, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``module`` itself (``compiler`` None) or ``torch.compile(module, backend=compiler, dynamic=False)``
    called once on ``example`` (compilation is not timed)."""
    if compiler is None:
        return module
    fn = torch.compile(module, backend=compiler, dynamic=False)
    fn(example)
    return fn


def band_counts_for(channels: int, num_coefs: int, mean: int, kind: str = "uniform", seed: int = 0) -> torch.Tensor:
    """Band lengths (channels,) int64 with exactly the given integer ``mean``.

    ``uniform``: every channel keeps ``mean`` coefficients. ``varying``: lengths spread evenly over
    ``mean - d .. mean + d`` with ``d = min(mean - 1, num_coefs - mean)`` (all in [1, num_coefs]),
    symmetric around the mean, in a random channel order (``seed``).
    """
    if not 0 <= mean <= num_coefs:
        raise ValueError(f"band_counts_for: mean must be in [0, {num_coefs}], got {mean}")
    if kind == "uniform" or mean in (0, num_coefs):
        return torch.full((channels,), mean, dtype=torch.int64)
    if kind != "varying":
        raise ValueError(f"band_counts_for: kind must be 'uniform' or 'varying', got {kind!r}")
    d = min(mean - 1, num_coefs - mean)
    offsets = torch.linspace(-d, d, channels, dtype=torch.float64).round().to(torch.int64)
    offsets = offsets - (offsets.sum() // channels)  # exact symmetry already gives sum 0
    g = torch.Generator().manual_seed(seed)
    return (mean + offsets)[torch.randperm(channels, generator=g)]


def layer_speed(
    channels: int = 256,
    size: int = 64,
    block: int = 4,
    batch: int = 1,
    levels: Iterable[int] | None = None,
    kinds: Sequence[str] = ("uniform", "varying"),
    min_run_time: float = 0.5,
    repeats: int = 3,
    threads: int = 1,
    seed: int = 0,
    compiler: str | None = None,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Time one ``channels -> channels`` 1x1 layer at ``size x size``: compiled banded vs plain Conv2d.

    One row per (kind, kept level): ``kept`` coefficients per channel on average out of b*b,
    ``fraction``, ``plain_s``, ``banded_s``, ``ratio`` (banded / plain; medians over the ``repeats``
    rounds), ``ratio_se`` (its standard error from the rounds, :func:`round_se`), ``mac_ratio`` (banded MACs
    with transforms / plain MACs), ``compiler`` (``"none"`` or the backend: :func:`compiled`). Float32,
    inference mode, ``threads`` threads (restored after).
    """
    num = block * block
    levels = list(range(1, num + 1)) if levels is None else list(levels)
    torch.manual_seed(seed)
    conv = nn.Conv2d(channels, channels, 1, bias=False).eval()
    x = torch.randn(batch, channels, size, size, device=device)
    plain_macs = batch * channels * channels * size * size
    rows = []
    with num_threads(threads), torch.inference_mode():
        plain = compiled(copy.deepcopy(conv).to(device), compiler, x)
        for kind in kinds:
            for k in levels:
                counts = band_counts_for(channels, num, k, kind, seed)
                layer = FrequencyBandPointwise.from_conv(conv, block)
                layer.set_bands(counts)
                dense = compiled(layer.compile_dense().to(device), compiler, x)
                macs = sum(band_layer_macs(band_mask(counts, num), channels, block, x.shape).values())
                r = rounds(
                    {"plain": functools.partial(plain, x), "banded": functools.partial(dense, x)}, min_run_time, repeats
                )
                t = {side: _median(v) for side, v in r.items()}
                rows.append({
                    "kind": kind, "kept": k, "fraction": k / num, "plain_s": t["plain"], "banded_s": t["banded"],
                    "ratio": t["banded"] / t["plain"], "ratio_se": round_se(r["plain"], r["banded"])[0],
                    "mac_ratio": macs / plain_macs, "compiler": compiler or "none",
                })  # fmt: skip
    return pd.DataFrame(rows)


def _layer_inputs(model: nn.Module, input_shape: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """{name: input shape} of the FrequencyBandPointwise layers of ``model`` for one forward pass."""
    shapes: dict[str, tuple[int, ...]] = {}

    def hook(name: str, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        shapes.setdefault(name, tuple(inputs[0].shape))

    handles = [m.register_forward_hook(functools.partial(hook, n)) for n, m in pointwise_layers(model).items()]
    try:
        with torch.no_grad():
            model(torch.zeros(tuple(input_shape)))
    finally:
        for h in handles:
            h.remove()
    return shapes


def _random_counts(channels: int, num: int, mean: float, g: torch.Generator) -> torch.Tensor:
    """Varying band lengths with mean about ``mean``: uniform on an interval around it, clipped to [1, num]."""
    d = min(mean - 1, num - mean)
    vals = mean + (torch.rand(channels, generator=g, dtype=torch.float64) * 2 - 1) * max(d, 0.0)
    return vals.round().clamp(1, num).to(torch.int64)


def prune_to_macs(
    model: nn.Module,
    input_shape: Sequence[int],
    target: float = 0.8,
    block: int = 4,
    varying: bool = True,
    seed: int = 0,
    exclude: Iterable[str] = (),
) -> dict:
    """Convert ``model`` in place and set bands so that its MACs are about ``target`` x the plain MACs.

    All layers share one mean band length m (found by bisection; per-channel lengths random around
    m if ``varying``, else all m rounded). A layer whose banded MACs (transforms included) at m are
    not below its plain conv MACs is left plain (reverted to nn.Conv2d), as are the names in
    ``exclude``. Returns {"macs_plain", "macs", "mean_band", "banded", "plain"} (layer names).
    """
    exclude = set(exclude)
    macs_plain = count_macs(model, input_shape)
    originals = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    convert(model, block)
    shapes = _layer_inputs(model, input_shape)
    layers = pointwise_layers(model)
    num = block * block

    def plan(mean: float):
        g = torch.Generator().manual_seed(seed)
        counts, saved = {}, 0
        for name, layer in layers.items():
            c = _random_counts(layer.in_channels, num, mean, g) if varying else None
            if c is None:
                c = torch.full((layer.in_channels,), round(mean), dtype=torch.int64)
            n, _, h, w = shapes[name]
            banded = sum(band_layer_macs(band_mask(c, num), layer.out_channels, block, shapes[name]).values())
            plain = n * layer.in_channels * layer.out_channels * h * w
            if name not in exclude and banded < plain:
                counts[name], saved = c, saved + plain - banded
        return counts, macs_plain - saved

    lo, hi = 1.0, float(num)
    for _ in range(40):
        mid = (lo + hi) / 2
        _, macs = plan(mid)
        lo, hi = (mid, hi) if macs < target * macs_plain else (lo, mid)
    counts, _ = plan(lo)
    for name in list(layers):
        if name in counts:
            layers[name].set_bands(counts[name])
        else:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, originals[name])
    return {
        "macs_plain": macs_plain,
        "macs": count_macs(model, input_shape),
        "mean_band": lo,
        "banded": sorted(counts),
        "plain": sorted(set(layers) - set(counts)),
    }


def slower_layers(
    model: nn.Module, input_shape: Sequence[int], min_run_time: float = 0.05, device: str | torch.device = "cpu"
) -> list[str]:
    """Names of the FrequencyBandPointwise layers of ``model`` whose dense form is slower than the plain conv.

    One-time measurement on the layer's own input shape (current thread count).
    """
    shapes = _layer_inputs(model, input_shape)
    slow = []
    with torch.inference_mode():
        for name, layer in pointwise_layers(model).items():
            x = torch.randn(shapes[name], device=device)
            dense = layer.compile_dense().to(device)
            conv = copy.deepcopy(_plain_conv(layer)).to(device)
            t = compare({"plain": functools.partial(conv, x), "dense": functools.partial(dense, x)}, min_run_time, 3)
            if t["dense"] >= t["plain"]:
                slow.append(name)
    return slow


def _plain_conv(layer: FrequencyBandPointwise) -> nn.Conv2d:
    conv = nn.Conv2d(layer.in_channels, layer.out_channels, 1, bias=layer.bias is not None)
    conv.weight, conv.bias = layer.weight, layer.bias
    return conv


def network_speed(
    build: Callable[[], nn.Module],
    input_size: Sequence[int] = (3, 32, 32),
    batches: Sequence[int] = (1, 32, 128),
    target: float = 0.8,
    block: int = 4,
    fallback: Sequence[str] = ("macs", "time"),
    varying: bool = True,
    min_run_time: float = 1.0,
    repeats: int = 3,
    threads: int = 1,
    seed: int = 0,
    compiler: str | None = None,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Whole-model inference time: dense-compiled banded model vs the plain model, per batch size.

    For every batch size and fallback mode: ``macs`` keeps plain the layers where banding costs more
    MACs than it saves (:func:`prune_to_macs`); ``time`` additionally keeps plain the layers whose
    dense form measured slower at that batch size, then re-prunes the rest to the same MAC target.
    ``varying``: random band lengths around the common mean (else one length for every channel).
    ``compiler``: see :func:`compiled` (the one-time measurement of the ``time`` fallback stays eager).
    Columns: batch, fallback, bands, banded_layers, mac_ratio, plain_s, banded_s, ratio, ratio_se,
    speedup_pct (100 * (plain / banded - 1), the paper's "x% faster"), speedup_se (standard errors
    from the ``repeats`` rounds, :func:`round_se`; infinite for one round), compiler, compile_s
    (seconds to compile the banded model; NaN without ``compiler``).
    """
    rows = []
    with num_threads(threads), torch.inference_mode():
        for batch in batches:
            shape = (batch, *input_size)
            torch.manual_seed(seed)
            plain = build().eval()
            x = torch.randn(shape, device=device)
            plain_fn = compiled(copy.deepcopy(plain).to(device), compiler, x)
            for mode in fallback:
                model = copy.deepcopy(plain)
                info = prune_to_macs(model, shape, target, block, varying, seed)
                if mode == "time":
                    slow = slower_layers(model, shape, min(0.05, min_run_time / 10), device)
                    model = copy.deepcopy(plain)
                    info = prune_to_macs(model, shape, target, block, varying, seed, slow)
                elif mode != "macs":
                    raise ValueError(f"network_speed: fallback must be 'macs' or 'time', got {mode!r}")
                dense = compile_dense(model).to(device)
                started = time.perf_counter()
                banded_fn = compiled(dense, compiler, x)
                compile_s = time.perf_counter() - started if compiler is not None else float("nan")
                r = rounds(
                    {"plain": functools.partial(plain_fn, x), "banded": functools.partial(banded_fn, x)},
                    min_run_time,
                    repeats,
                )
                t = {side: _median(v) for side, v in r.items()}
                ratio_se, speedup_se = round_se(r["plain"], r["banded"])
                rows.append({
                    "batch": batch, "fallback": mode, "bands": "varying" if varying else "uniform",
                    "banded_layers": sum(isinstance(m, DenseBandPointwise) for m in dense.modules()),
                    "mac_ratio": info["macs"] / info["macs_plain"], "plain_s": t["plain"], "banded_s": t["banded"],
                    "ratio": t["banded"] / t["plain"], "ratio_se": ratio_se,
                    "speedup_pct": 100 * (t["plain"] / t["banded"] - 1), "speedup_se": speedup_se,
                    "compiler": compiler or "none", "compile_s": compile_s,
                })  # fmt: skip
    return pd.DataFrame(rows)
