"""Watching occasional regularization: what each event does to the training loss and the test accuracy.

:class:`EventMonitor` steps a set of :class:`~freqlib.occasional.OccasionalRegularizer` (one period)
and measures the model right before and right after each of their events (NR paper, Figures 8
and 16); :func:`probe_losses` is its per-image loss on a fixed probe batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn

from ..train import evaluate
from .regularizer import OccasionalRegularizer


@torch.no_grad()
def probe_losses(model: nn.Module, probe: tuple[torch.Tensor, torch.Tensor], device="cpu") -> torch.Tensor:
    """Cross-entropy (nats) of ``model`` (eval mode) on each image of the probe batch (images (N, C, H, W),
    labels (N,)): a float64 tensor (N,) on the CPU."""
    was = model.training
    model.eval()
    x, y = probe
    losses = nn.functional.cross_entropy(model(x.to(device)), y.to(device), reduction="none")
    model.train(was)
    return losses.double().cpu()


def probe_loss(model: nn.Module, probe: tuple[torch.Tensor, torch.Tensor], device="cpu") -> float:
    """Mean cross-entropy of ``model`` (eval mode) on the probe batch (:func:`probe_losses`)."""
    return float(probe_losses(model, probe, device).mean())


def _mean_se(values: torch.Tensor) -> float:
    """Standard error of the mean of ``values`` (N,): std (ddof 1) / sqrt(N); infinity below 2."""
    return float(values.std() / math.sqrt(len(values))) if len(values) > 1 else math.inf


#: The columns of :meth:`EventMonitor.frame`.
MONITOR_COLUMNS = ["step", "loss_pre", "loss_post", "acc_pre", "acc_post", "dL/L", "dw", "loss_se", "gap_se"]


class EventMonitor:
    """A stepper that steps ``regularizers`` (all with one period) and, around each of their events,
    records the probe training loss and the test accuracy right before (``pre``) and right after
    (``post``) the event; with no regularizers it records the model every ``period`` steps (typical
    training, ``pre == post``).

    ``records``: one dict per event: ``step``, ``loss_pre``, ``loss_post``, ``acc_pre``, ``acc_post``
    (fractions; NaN without a test set), ``dL/L`` (``(loss_post - loss_pre) / loss_pre``), ``dw``
    (``||w - w~||_F^2 / N(w)`` over every regularized weight, Figure 16; 0 without regularizers),
    ``loss_se`` (standard error of ``loss_post`` over the probe images) and ``gap_se`` (that of
    ``loss_post - loss_pre``, paired per image; 0 without regularizers).
    """

    def __init__(
        self,
        model: nn.Module,
        regularizers: Sequence[OccasionalRegularizer],
        period: int,
        probe: tuple[torch.Tensor, torch.Tensor],
        test_set=None,
        device: str | torch.device = "cpu",
    ):
        periods = {r.period for r in regularizers}
        if periods - {period}:
            raise ValueError(f"regularizers have periods {sorted(periods)}; the monitor's period is {period}")
        self.model, self.regularizers, self.period = model, list(regularizers), int(period)
        self.probe, self.test_set, self.device = probe, test_set, device
        self.step_count = 0
        self.records: list[dict] = []

    def _measure(self) -> tuple[torch.Tensor, float]:
        was = self.model.training
        losses = probe_losses(self.model, self.probe, self.device)
        acc = evaluate(self.model, self.test_set, self.device) if self.test_set is not None else float("nan")
        self.model.train(was)
        return losses, acc

    def step(self) -> None:
        self.step_count += 1
        regs = self.regularizers
        due = any(r.due(r.step_count + 1) for r in regs) if regs else self.step_count % self.period == 0
        if not due:
            for r in regs:
                r.step()
            return
        pre, acc_pre = self._measure()
        for r in regs:
            r.step()
        post, acc_post = self._measure() if regs else (pre, acc_pre)
        sizes = [sum(getattr(m, p).numel() for _, m, p in r.targets) for r in regs]
        dw = sum(r.history[-1]["delta_w"] * n for r, n in zip(regs, sizes)) / sum(sizes) if regs else 0.0
        loss_pre, loss_post = float(pre.mean()), float(post.mean())
        self.records.append(
            {
                "step": self.step_count,
                "loss_pre": loss_pre,
                "loss_post": loss_post,
                "acc_pre": acc_pre,
                "acc_post": acc_post,
                "dL/L": (loss_post - loss_pre) / loss_pre,
                "dw": dw,
                "loss_se": _mean_se(post),
                "gap_se": _mean_se(post - pre) if regs else 0.0,
            }
        )

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.records, columns=MONITOR_COLUMNS)
