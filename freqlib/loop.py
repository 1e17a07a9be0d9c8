"""The one training loop of freqlib: :func:`fit` owns epochs and steps, progress, history, the
summary line and the data-parallel bookkeeping; what one step does is a small task function.

A *step* takes one batch, does one optimizer step (or two, for a GAN) and returns what to average
over the epoch as ``{column: (sum, count)}``, e.g. ``{"train_loss": (loss * n, n)}``; sums may be
tensors on the device (no synchronization per step). :func:`optimizer_step` is the usual
zero-grad/backward/step of a task with one optimizer. Between steps, ``after_step`` objects are
stepped in order (a learning-rate scheduler, a :class:`~freqlib.FrequencySchedule`, an
:class:`~freqlib.occasional.OccasionalRegularizer`, pruning masks: anything with ``.step()``).
After each epoch, ``end_epoch(epoch)`` returns more columns (an evaluation, the kept count, the
learning rate). :func:`progress_bar` is the one tqdm bar of the library.

Under ``torchrun`` (:mod:`freqlib.distributed`) the epoch's sums are added over ranks, rank 0's
buffers (BatchNorm statistics) are broadcast to every rank after each epoch, only rank 0 shows the
bar and prints the summary, and the ranks' RNGs are re-synchronized at the end
(:func:`freqlib.distributed.sync_rng`); every rank returns the same history.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import pandas as pd
import torch
import tqdm
from torch import nn
from torch.utils.data import BatchSampler, DistributedSampler

from . import distributed
from .fr import kept_coefficients

#: What a step returns: ``{column: (sum, count)}``, averaged over the epoch as sum / count.
StepSums = Mapping[str, tuple[Any, Any]]


class Stepper(Protocol):
    """Anything stepped after each optimizer step (a FrequencySchedule, an OccasionalRegularizer)."""

    def step(self) -> object: ...


def progress_bar(total: int | None, desc: str, enabled: bool = True, **kwargs) -> tqdm.tqdm:
    """The library's progress bar: tqdm on stderr, ASCII, shown only when ``enabled`` and on the main
    process (``progress=False`` everywhere makes a run quiet)."""
    show = enabled and distributed.is_main()
    return tqdm.tqdm(total=total, desc=desc, disable=not show, file=sys.stderr, leave=True, ascii=True, **kwargs)


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, clip: tuple[Iterable, float] | None = None):
    """Zero the gradients, backpropagate ``loss``, clip the gradient norm of ``clip = (params, max_norm)``
    if given, and step ``optimizer``."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(clip[0], clip[1])
    optimizer.step()


def set_epoch(loader, epoch: int) -> None:
    """Reshuffle a sharded loader (:func:`freqlib.train.make_loader`) for ``epoch``; no-op for any other."""
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, BatchSampler):
        sampler = sampler.sampler
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(epoch)


def checked_kept(models: nn.Module | Sequence[nn.Module], where: str) -> int:
    """FR coefficients kept by ``models`` (summed), checked to agree over ranks (``where`` names the check)."""
    models = [models] if isinstance(models, nn.Module) else models
    kept = sum(kept_coefficients(m) for m in models)
    distributed.check_same(kept, f"{where}: kept FR coefficients")
    return kept


def kept_note(kept: int) -> str:
    """``", kept 1,234 coefficients"`` for an FR model, ``""`` for a dense one (0), for summary lines."""
    return f", kept {int(kept):,} coefficients" if kept else ""


def check_positive_int(name: str, value) -> int:
    """``value`` if it is an int >= 1 (not a bool); otherwise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def fit(
    modules: nn.Module | Sequence[nn.Module],
    step: Callable[[Any], StepSums],
    batches: Callable[[int], Iterable] | Iterable,
    *,
    epochs: int,
    steps_per_epoch: int,
    max_steps: int | None = None,
    after_step: Sequence[Stepper] = (),
    end_epoch: Callable[[int], Mapping[str, object]] | None = None,
    columns: Sequence[str] | None = None,
    desc: str = "train",
    progress: bool = True,
    summary: Callable[[pd.Series], str] | None = None,
    postfix: Callable[[Mapping], Mapping[str, str]] | None = None,
    device: torch.device | str = "cpu",
    bar: tqdm.tqdm | None = None,
) -> pd.DataFrame:
    """Train for ``epochs`` epochs of ``steps_per_epoch`` steps (or ``max_steps`` steps in all, the last
    epoch cut short); return one history row per epoch.

    ``modules``: the model(s) trained (possibly DDP-wrapped), set to train mode at each epoch's start;
    their unwrapped buffers are broadcast from rank 0 after each epoch under a process group.
    ``batches(epoch_index)`` gives the epoch's batches (``epoch_index`` from 0: reshuffle there); a
    DataLoader may stand for it (reshuffled with :func:`set_epoch`, then iterated);
    ``step(batch)`` trains on one and returns its :data:`StepSums`. History columns: ``epoch``,
    ``steps`` (optimizer steps so far), the step's columns (means over the epoch, all ranks), then
    ``end_epoch``'s; ``columns`` orders them. ``history.attrs["train_s"]``: seconds in the loop
    (evaluations included). ``summary(last_row)`` completes the printed line
    ``"{desc}: E epochs, S steps, <summary>, wall time: T s"``; without ``summary`` nothing is
    printed. ``batches`` is called at each epoch's start, so it may also set per-epoch state (a
    learning rate by epoch, a recurrent state to reset). ``bar``: a :func:`progress_bar` shared by
    several runs (a grid of cells under one bar), updated here and left open; by default the loop
    makes its own.
    """
    modules = [modules] if isinstance(modules, nn.Module) else list(modules)
    check_positive_int("epochs", epochs)
    if not callable(batches):
        loader = batches

        def batches(epoch_index: int):
            set_epoch(loader, epoch_index)
            return loader

    n_steps = epochs * steps_per_epoch
    if max_steps is not None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or not 1 <= max_steps <= n_steps:
            raise ValueError(
                f"max_steps must be an int in [1, epochs * batches per epoch = {n_steps}], got {max_steps!r}"
            )
        epochs, n_steps = math.ceil(max_steps / steps_per_epoch), max_steps
    rows, steps, started = [], 0, time.perf_counter()
    own_bar = bar is None
    bar = progress_bar(n_steps, desc, progress) if own_bar else bar
    try:
        for epoch in range(1, epochs + 1):
            for m in modules:
                m.train()
            sums: dict[str, list] = {}
            for batch in batches(epoch - 1):
                out = step(batch)
                for stepper in after_step:
                    stepper.step()
                steps += 1
                for name, (total, count) in out.items():
                    acc = sums.setdefault(name, [0.0, 0])
                    acc[0] = acc[0] + (total.detach().double() if isinstance(total, torch.Tensor) else total)
                    acc[1] = acc[1] + count
                bar.update(1)
                if steps == n_steps:
                    break
            means = _epoch_means(sums, modules, device)
            row = {"epoch": epoch, "steps": steps, **means, **(end_epoch(epoch) if end_epoch else {})}
            rows.append(row)
            if postfix is not None:
                bar.set_postfix(postfix(row), refresh=False)
    finally:
        if own_bar:
            bar.close()
    distributed.sync_rng()
    history = pd.DataFrame(rows, columns=list(columns) if columns else None)
    history.attrs["train_s"] = time.perf_counter() - started
    if summary is not None and distributed.is_main():
        procs = f" on {distributed.world_size()} processes" if distributed.active() else ""
        detail = f", {summary(history.iloc[-1])}"
        print(f"{desc}: {epochs} epochs, {steps} steps{procs}{detail}, wall time: {history.attrs['train_s']:.1f} s")
    return history


def _epoch_means(sums: Mapping[str, list], modules: Sequence[nn.Module], device) -> dict[str, float]:
    """sum / count per column, added over ranks (and buffers broadcast) under a process group."""
    names = list(sums)
    if distributed.active():
        for m in modules:
            distributed.broadcast_buffers(distributed.unwrap(m))
        if names:
            dev = distributed.local_device(device)
            flat = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=dev) for n in names for v in sums[n]])
            flat = distributed.all_sum(flat)
            sums = {n: [flat[2 * i], flat[2 * i + 1]] for i, n in enumerate(names)}
    return {n: float(sums[n][0]) / float(sums[n][1]) for n in names}
