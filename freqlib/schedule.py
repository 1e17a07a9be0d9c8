"""Progressive dropping: each FR weight goes from its full spectrum down to its target count."""

from __future__ import annotations

import math

from torch import nn

from .fr import fr_weights


class FrequencySchedule:
    """Lower every FR weight's kept count from ``numel`` to its target over ``steps`` steps.

    The targets are the counts the weights hold when the schedule is made (set them with
    :func:`freqlib.frequency_regularize` first). After ``start`` calls to :meth:`step`, step ``t``
    of the descent keeps, per layer,

    - ``linear``: ``numel - (numel - target) * t / steps``
    - ``geometric``: ``numel * (target / numel) ** (t / steps)``

    rounded, and never below the target (which already includes the layer's floor). Call
    :meth:`step` once per optimizer step (or per epoch: the unit is yours).
    """

    def __init__(self, model: nn.Module, steps: int, *, mode: str = "linear", start: int = 0):
        if mode not in ("linear", "geometric"):
            raise ValueError(f"FrequencySchedule: mode must be 'linear' or 'geometric', got {mode!r}")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"FrequencySchedule: steps must be a positive int, got {steps!r}")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"FrequencySchedule: start must be a non-negative int, got {start!r}")
        self.layers = [(name, fr, fr.k) for name, _, _, fr in fr_weights(model)]
        if not self.layers:
            raise ValueError("FrequencySchedule: the model has no FR weights; call frequency_regularize first")
        self.steps, self.mode, self.start = steps, mode, start
        self.t = 0
        self._apply()

    def count(self, numel: int, target: int, t: int) -> int:
        """Kept count of a layer with ``numel`` weights and ``target`` at schedule step ``t``."""
        frac = min(max(t - self.start, 0) / self.steps, 1.0)
        if self.mode == "linear":
            k = numel - (numel - target) * frac
        else:
            k = numel * math.exp(math.log(target / numel) * frac)
        return max(target, min(numel, round(k)))

    def _apply(self) -> None:
        for _, fr, target in self.layers:
            fr.k = self.count(fr.numel, target, self.t)

    def step(self) -> None:
        self.t += 1
        self._apply()

    @property
    def done(self) -> bool:
        return self.t >= self.start + self.steps

    def kept(self) -> int:
        """Total kept coefficients right now."""
        return sum(fr.k for _, fr, _ in self.layers)

    def state_dict(self) -> dict:
        return {"t": self.t}

    def load_state_dict(self, state: dict) -> None:
        self.t = int(state["t"])
        self._apply()


def drop_schedule(
    model: nn.Module, fraction: float, total_steps: int, *, mode: str = "geometric"
) -> FrequencySchedule | None:
    """The schedule that drops ``model``'s FR weights to their targets over the first ``fraction`` of
    ``total_steps`` optimizer steps (``round(fraction * total_steps)`` steps), or None when that
    rounds to 0 steps: training then starts at the targets (no full-spectrum first steps)."""
    check_fraction(fraction)
    steps = round(fraction * total_steps)
    return FrequencySchedule(model, steps, mode=mode) if steps > 0 else None


def check_fraction(fraction: float, name: str = "schedule_fraction") -> None:
    """Raise ValueError naming ``name`` unless ``fraction`` is a number in [0, 1]."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {fraction!r}")
