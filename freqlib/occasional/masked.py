"""Gradual magnitude pruning with persistent binary masks (Zhu & Gupta 2017), the baseline that the
NR paper's occasional pruning is compared with (Table 4)."""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral

import torch
from torch import nn

from .regularizer import current_weight, select, write_weight
from .transforms import magnitude_prune


class MaskedPruner:
    """Zhu & Gupta (2017) gradual pruning with binary masks (Table 4's baseline).

    Every ``every`` steps (while the rate still rises, and at its end) the mask of each selected
    weight is recomputed by magnitude at ``rate(step)`` (a pruned weight, being zero, stays pruned);
    after **every** optimizer step the weights are multiplied by their masks, so a pruned weight never
    comes back: pruning at ``pNR`` = 1 with a persistent mask. Same selection rules as
    :class:`~freqlib.occasional.OccasionalRegularizer`; ``history`` records each mask update
    (``step``, ``rate``, ``e_w``: mean ``E|w - w'|`` of that update).
    """

    def __init__(self, model: nn.Module, rate: Callable[[int], float], every: int, *, modules=None, t_f: int):
        if isinstance(every, bool) or not isinstance(every, Integral) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.targets = select(model, modules)
        self.rate, self.every, self.t_f = rate, int(every), int(t_f)
        self.masks = {name: torch.ones_like(current_weight(m, p), dtype=torch.bool) for name, m, p in self.targets}
        self.step_count = 0
        self.history: list[dict] = []

    def due(self, step: int) -> bool:
        """Whether the masks are recomputed at ``step``: every ``every`` steps up to ``t_f``, and at ``t_f``."""
        return step > 0 and step <= self.t_f and (step % self.every == 0 or step == self.t_f)

    @torch.no_grad()
    def step(self) -> None:
        self.step_count += 1
        if self.due(self.step_count):
            self.update()
        for name, module, pname in self.targets:
            w = current_weight(module, pname)
            write_weight(module, pname, w * self.masks[name])

    @torch.no_grad()
    def update(self) -> dict:
        """Recompute every mask at the current rate; returns the history record."""
        rate = self.rate(self.step_count)
        prune = magnitude_prune(rate)
        diffs, sizes = [], []
        for name, module, pname in self.targets:
            w = current_weight(module, pname)
            kept = (prune(w) != 0) & self.masks[name]
            diffs.append(float((w * ~kept).abs().double().sum()))
            sizes.append(w.numel())
            self.masks[name] = kept
        record = {"step": self.step_count, "rate": rate, "e_w": math.fsum(diffs) / sum(sizes)}
        self.history.append(record)
        return record
