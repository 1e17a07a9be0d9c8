"""freqlib.loop.fit: epochs and steps, epoch means, hooks in order, shared bars, the summary line."""

import pytest
import torch
from torch import nn

from freqlib import loop


class Counter:
    def __init__(self, log, name):
        self.log, self.name = log, name

    def step(self):
        self.log.append(self.name)


def test_fit_averages_per_epoch_and_steps_hooks_in_order(capsys):
    log, seen = [], []
    model = nn.Linear(2, 1)

    def step(batch):
        seen.append(batch)
        log.append("step")
        return {"loss": (torch.tensor(float(batch) * 2), 2), "value": (batch, 1)}

    history = loop.fit(
        model,
        step,
        lambda epoch: [10 * epoch + 1, 10 * epoch + 2, 10 * epoch + 3],
        epochs=3,
        steps_per_epoch=3,
        max_steps=7,
        after_step=[Counter(log, "a"), Counter(log, "b")],
        end_epoch=lambda epoch: {"tag": f"e{epoch}"},
        columns=["epoch", "steps", "value", "loss", "tag"],
        desc="toy",
        progress=False,
        summary=lambda last: f"value {last.value:g}",
    )
    assert seen == [1, 2, 3, 11, 12, 13, 21]  # max_steps cuts the last epoch short
    assert log[:3] == ["step", "a", "b"]
    assert list(history.columns) == ["epoch", "steps", "value", "loss", "tag"]
    assert history.steps.tolist() == [3, 6, 7] and history.value.tolist() == [2.0, 12.0, 21.0]
    assert history.loss.tolist() == history.value.tolist() and history.tag.tolist() == ["e1", "e2", "e3"]
    assert history.attrs["train_s"] >= 0 and model.training
    assert capsys.readouterr().out.startswith("toy: 3 epochs, 7 steps, value 21, wall time: ")


def test_fit_takes_a_loader_and_a_shared_bar(capsys):
    loader = torch.utils.data.DataLoader(torch.arange(6.0), batch_size=2)
    bar = loop.progress_bar(12, "shared")
    for _ in range(2):
        history = loop.fit(
            nn.Linear(1, 1), lambda b: {"x": (b.sum(), len(b))}, loader, epochs=1, steps_per_epoch=3, bar=bar
        )
        assert history.x.tolist() == [2.5]
    assert bar.n == 6 and capsys.readouterr().out == ""  # no summary= prints nothing
    bar.close()


def test_optimizer_step_clips_and_steps():
    model = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    loss = (model(torch.full((1, 3), 100.0)) ** 2).sum()
    loop.optimizer_step(opt, loss, clip=(model.parameters(), 1.0))
    assert torch.linalg.vector_norm(1.0 - model.weight.detach()) == pytest.approx(1.0, rel=1e-4)


def test_bad_counts_are_named():
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        loop.fit(nn.Linear(1, 1), lambda b: {}, [], epochs=0, steps_per_epoch=1)
    with pytest.raises(ValueError, match=r"max_steps must be an int in \[1, epochs \* batches per epoch = 4\]"):
        loop.fit(nn.Linear(1, 1), lambda b: {}, [], epochs=2, steps_per_epoch=2, max_steps=5)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got True"):
        loop.check_positive_int("batch_size", True)


def test_kept_helpers():
    import freqlib

    fr = freqlib.frequency_regularize(nn.Linear(4, 4), keep=3, min_keep=0)
    assert loop.checked_kept([fr, nn.Linear(2, 2)], "here") == 3
    assert loop.kept_note(1234) == ", kept 1,234 coefficients" and loop.kept_note(0) == ""
