"""A small, reproducible training loop for image classifiers, dense or frequency-regularized.

:func:`train_classifier` trains with cross-entropy, optionally stepping a
:class:`~freqlib.FrequencySchedule` after every optimizer step, and returns the per-epoch history;
:func:`train_fr` converts a model to FR and trains it with progressive dropping;
:func:`evaluate` gives the accuracy; :func:`keep_budget` splits a total number of kept
coefficients over a model's weights with the paper's keep rule.

Data-parallel training: under ``torchrun`` (``WORLD_SIZE`` > 1) :func:`train_classifier` joins the
process group (lazily, through :func:`freqlib.distributed.init_from_env`), wraps the model in
DistributedDataParallel and gives each rank its shard of every epoch; ``batch_size`` stays the
*global* batch (each of ``W`` ranks takes ``batch_size / W`` examples per step), so the number of
optimizer steps, the learning-rate schedule and the FR schedule are those of a single-process run.
Outside ``torchrun`` nothing changes. See ``book/rerun.md`` ("Several GPUs").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
)

from . import distributed
from .augment import RandomCropFlip
from .data import ImageDataset
from .fr import SUPPORTED_LAYERS, frequency_regularize, layer_kind
from .loop import Stepper, check_positive_int, checked_kept, fit, kept_note, optimizer_step
from .schedule import check_fraction, drop_schedule
from .zigzag import DEFAULT_MIN_KEEP, RATE_OFFSET

HISTORY_COLUMNS = ["epoch", "steps", "train_loss", "train_accuracy", "test_accuracy", "kept", "lr"]


def _batched(dataset: Dataset) -> bool:
    """Whether ``dataset[list_of_indices]`` returns a whole batch (TensorDataset, ImageDataset)."""
    return isinstance(dataset, (TensorDataset, ImageDataset))


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    shard: bool = False,
):
    """A DataLoader over ``dataset``; batch-indexable data sets are sliced a batch at a time.

    ``shard=True`` under a process group (``torchrun``): each rank iterates its own share
    (:func:`freqlib.distributed.shard`: a DistributedSampler padded to equal size, shuffled from
    ``generator``'s seed) in batches of ``batch_size / world_size``, so one step over all ranks sees
    ``batch_size`` examples; call :func:`set_epoch` before each epoch to reshuffle. Without a process
    group ``shard`` changes nothing.
    """
    sampler = None
    if shard:
        sampler = distributed.shard(dataset, shuffle=shuffle, seed=generator.initial_seed() if generator else 0)
        if sampler is not None:
            batch_size = distributed.local_batch_size(batch_size)
    if _batched(dataset):
        if sampler is not None:
            base = sampler
        else:
            base = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        sampler = BatchSampler(base, batch_size, drop_last=False)
        return DataLoader(dataset, sampler=sampler, batch_size=None, generator=generator)
    if sampler is not None:
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def steps_per_epoch(dataset: Dataset, batch_size: int) -> int:
    """Optimizer steps in one epoch (the last, partial batch included)."""
    return math.ceil(len(dataset) / batch_size)


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, device: torch.device | str = "cpu", batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on ``dataset``, a fraction in [0, 1]. Leaves the model in eval mode.

    Under a process group every rank must call it: rank ``r`` of ``W`` scores examples
    ``r, r + W, ...`` (no padding, so nothing is counted twice) with the unwrapped model, the correct
    counts are summed over ranks and every rank gets the accuracy on the whole data set.
    """
    model = distributed.unwrap(model)
    model.eval()
    if distributed.active():
        device = distributed.local_device(device)
        indices = list(range(distributed.rank(), len(dataset), distributed.world_size()))
        if _batched(dataset):
            loader = DataLoader(dataset, sampler=BatchSampler(indices, batch_size, drop_last=False), batch_size=None)
        else:
            loader = DataLoader(Subset(dataset, indices), batch_size=batch_size)
    else:
        loader = make_loader(dataset, batch_size, shuffle=False)
    correct = 0
    with parametrize.cached():
        for x, y in loader:
            correct += int((model(x.to(device)).argmax(1) == y.to(device)).sum())
    if distributed.active():
        correct = int(distributed.all_sum(torch.tensor(correct, dtype=torch.int64, device=device)))
    return correct / len(dataset)


#: The optimizers the training loops accept by name, with their fixed settings.
OPTIMIZERS = {
    "adam": lambda params, lr, wd: torch.optim.Adam(params, lr=lr, weight_decay=wd),
    "sgd": lambda params, lr, wd: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd),
    # Pytorch-UNet's settings
    "rmsprop": lambda params, lr, wd: torch.optim.RMSprop(params, lr=lr, weight_decay=wd, momentum=0.999, foreach=True),
}


def make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Optimizer ``name`` (:data:`OPTIMIZERS`) over the trainable parameters of ``model``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}; got {name!r}")
    return OPTIMIZERS[name]([p for p in model.parameters() if p.requires_grad], lr, weight_decay)


def make_augmenter(augment: bool | int, seed: int = 0) -> RandomCropFlip | None:
    """The batch augmentation that ``augment`` asks for: False/0 none, True a 4-pixel
    :class:`~freqlib.augment.RandomCropFlip`, an int that padding."""
    if augment is False or augment == 0:
        return None
    if augment is True:
        return RandomCropFlip(4, seed=seed)
    if isinstance(augment, int) and augment > 0:
        return RandomCropFlip(augment, seed=seed)
    raise ValueError(f"augment must be a bool or a padding in pixels (int >= 0), got {augment!r}")


def train_classifier(
    model: nn.Module,
    train_set: Dataset,
    test_set: Dataset | None,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    cosine: bool = False,
    device: torch.device | str = "cpu",
    schedule: Stepper | Sequence[Stepper] | None = None,
    seed: int = 0,
    progress: bool = True,
    desc: str = "train",
    eval_batch_size: int = 1000,
    max_steps: int | None = None,
    augment: bool | int = False,
    quiet: bool = False,
) -> pd.DataFrame:
    """Train ``model`` (moved to ``device``) with cross-entropy; return one history row per epoch.

    Batches of ``train_set`` ((N, C, H, W) images, int64 labels) are shuffled by a
    ``torch.Generator`` seeded with ``seed`` (``torch.manual_seed(seed)`` is also set for anything
    random inside the model), so two runs from the same initial model and seed are bitwise equal
    on the same device and thread count. ``optimizer`` is ``"adam"`` or ``"sgd"`` (momentum 0.9).
    ``cosine=True`` anneals the learning rate to 0 over all steps (cosine, stepped per batch).
    ``schedule.step()`` is called after every optimizer step (``schedule`` may also be a sequence of
    such objects, e.g. one :class:`~freqlib.occasional.OccasionalRegularizer` per layer, stepped in
    order). ``max_steps`` ends training after that many optimizer steps, inside the last epoch,
    whose history row then covers the partial epoch (``epochs`` must reach it). ``augment``: True
    (4 pixels) or a padding in pixels augments each training batch on the device with
    :class:`~freqlib.augment.RandomCropFlip` (random translation and left-right mirror, He et al.'s
    CIFAR recipe), seeded from ``seed`` (and the rank). History columns: ``epoch``,
    ``steps`` (optimizer steps so far), ``train_loss`` (mean over the epoch's examples),
    ``train_accuracy`` (running, during the epoch), ``test_accuracy`` (after the epoch; NaN without
    ``test_set``), ``kept`` (FR coefficients kept at the end of the epoch; 0 for a dense model),
    ``lr`` (learning rate after the epoch's last step).
    Accuracies are fractions. A tqdm bar (stderr) shows progress; one summary line is printed
    (``quiet=True``: neither, for a phase of a longer run).

    Under ``torchrun`` (see the module docstring) the process group is joined here if the caller
    has not done so, a bare ``device="cuda"`` means this rank's GPU, and the model is wrapped in
    DistributedDataParallel: gradients are averaged over ranks, so a step of ``W`` ranks on
    ``batch_size / W`` examples each equals a single-process step on all ``batch_size``
    (``batch_size`` must be divisible by ``W``). ``schedule.step()`` acts on the unwrapped model, in
    the same step on every rank, so kept counts and masks agree (checked every epoch); rank 0's
    buffers (BatchNorm statistics) are broadcast to every rank at the end of each epoch, so every
    rank ends with the same model. ``seed`` shuffles the shards (DistributedSampler) and seeds the
    global RNG with ``seed + rank`` (dropout differs between ranks); after training the ranks' RNGs
    are reseeded from rank 0 (:func:`freqlib.distributed.sync_rng`), so what follows draws the same
    random numbers on every rank. The history is global:
    ``train_loss``/``train_accuracy`` are summed over ranks (a shard padded to equal size counts its
    few repeated examples), ``test_accuracy`` by :func:`evaluate` over all ranks. Only rank 0 shows
    the bar and prints the summary; every rank returns the same history.
    """
    check_positive_int("epochs", epochs)
    distributed.init_from_env(device)  # no-op outside torchrun, or when the caller already joined
    device = distributed.local_device(device)
    torch.manual_seed(seed + distributed.rank())
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    opt = make_optimizer(optimizer, model, lr, weight_decay)
    augmenter = make_augmenter(augment, seed + distributed.rank())
    loader = make_loader(train_set, batch_size, shuffle=True, generator=generator, shard=True)
    per_epoch = steps_per_epoch(train_set, batch_size)
    if len(loader) != per_epoch:  # pragma: no cover - guaranteed by local_batch_size
        raise AssertionError(f"{desc}: {len(loader)} batches per epoch on this rank, expected {per_epoch}")
    n_steps = max_steps or epochs * per_epoch
    steppers = [] if schedule is None else list(schedule) if isinstance(schedule, Sequence) else [schedule]
    net = distributed.wrap(model, device)
    lr_sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, n_steps) if cosine else None

    def step(batch):
        x, y = batch[0].to(device), batch[1].to(device)
        if augmenter is not None:
            x = augmenter(x)
        logits = net(x)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer_step(opt, loss)
        return {
            "train_loss": (loss.detach().double() * len(y), len(y)),
            "train_accuracy": ((logits.argmax(1) == y).sum(), len(y)),
        }

    def end_epoch(epoch: int) -> dict:
        kept = checked_kept(model, f"{desc}, epoch {epoch}")
        test_acc = evaluate(model, test_set, device, eval_batch_size) if test_set is not None else float("nan")
        return {"test_accuracy": test_acc, "kept": kept, "lr": opt.param_groups[0]["lr"]}

    def summary(last) -> str:
        tested = "no test set" if test_set is None else f"test accuracy {100 * last.test_accuracy:.1f}%"
        return f"train loss {last.train_loss:.3f}, {tested}{kept_note(last.kept)}"

    history = fit(
        net,
        step,
        loader,
        epochs=epochs,
        steps_per_epoch=per_epoch,
        max_steps=max_steps,
        after_step=[s for s in (lr_sched, *steppers) if s is not None],
        end_epoch=end_epoch,
        columns=HISTORY_COLUMNS,
        desc=desc,
        progress=progress and not quiet,
        summary=None if quiet else summary,
        postfix=lambda row: {"loss": f"{row['train_loss']:.3f}", "test": f"{row['test_accuracy']:.3f}"},
        device=device,
    )
    return history  # the DDP wrapper (and its gradient hooks) goes with this frame; the caller keeps the model


def train_steps(
    model: nn.Module, train_set: Dataset, test_set: Dataset | None, *, steps: int, batch_size: int = 64, **kwargs
) -> pd.DataFrame:
    """:func:`train_classifier` for exactly ``steps`` optimizer steps (as many epochs as they need,
    the last one cut short); ``kwargs`` go to :func:`train_classifier`."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"train_steps: steps must be a positive int, got {steps!r}")
    epochs = math.ceil(steps / steps_per_epoch(train_set, batch_size))
    return train_classifier(model, train_set, test_set, epochs=epochs, max_steps=steps, batch_size=batch_size, **kwargs)


def train_fr(
    model: nn.Module,
    keep: int | float | Mapping[str, int | float],
    train_set: Dataset,
    test_set: Dataset | None,
    *,
    epochs: int,
    batch_size: int = 64,
    schedule_fraction: float = 0.3,
    schedule_mode: str = "geometric",
    min_keep: int | None = 0,
    **kwargs,
) -> pd.DataFrame:
    """Convert ``model`` to FR with targets ``keep`` and train it with progressive dropping.

    ``frequency_regularize(model, keep, min_keep=min_keep)`` sets the targets; a
    :class:`~freqlib.FrequencySchedule` (``schedule_mode``) then lowers every weight from its full
    spectrum to its target over the first ``schedule_fraction`` of all optimizer steps (0: at the
    target from the first step), and the rest of training runs at the target. Other keyword
    arguments go to :func:`train_classifier`; returns its history.
    """
    check_fraction(schedule_fraction)
    frequency_regularize(model, keep, min_keep=min_keep)
    total_steps = epochs * steps_per_epoch(train_set, batch_size)
    schedule = drop_schedule(model, schedule_fraction, total_steps, mode=schedule_mode)
    return train_classifier(
        model, train_set, test_set, epochs=epochs, batch_size=batch_size, schedule=schedule, **kwargs
    )


def keep_budget(model: nn.Module, total: int, *, floors: bool = True) -> dict[str, int]:
    """Split ``total`` kept coefficients over the weights FR converts by default (module order).

    The paper's keep rule, one rate ``r`` for the whole model: a weight of ``n`` elements keeps
    ``min(n, max(floor, round(n * r) + offset))`` (floor 128 per conv, 256 per linear, offset as
    :data:`freqlib.zigzag.RATE_OFFSET`), with the largest ``r`` whose total does not exceed
    ``total``; what is left over goes to the largest weights. When ``total`` is below the sum of
    the floors (or ``floors=False``), the floors are scaled down in proportion (at least 1 each).
    Returns ``{qualified weight name: count}`` summing to ``total``, ready for
    ``frequency_regularize(model, counts, min_keep=0)``.
    """
    layers = []
    for mod_name, module in model.named_modules():
        if isinstance(module, SUPPORTED_LAYERS):
            fr_param = getattr(module, "parametrizations", None)
            numel = fr_param.weight.original.numel() if fr_param is not None else module.weight.numel()
            kind = layer_kind(module)
            layers.append((f"{mod_name}.weight" if mod_name else "weight", numel, kind))
    if not layers:
        raise ValueError("keep_budget: the model has no Conv/ConvTranspose/Linear weight")
    capacity = sum(n for _, n, _ in layers)
    if isinstance(total, bool) or not isinstance(total, int) or not len(layers) <= total <= capacity:
        raise ValueError(f"keep_budget: total must be an int in [{len(layers)}, {capacity}], got {total!r}")
    base = [min(n, DEFAULT_MIN_KEEP[kind]) if floors else 1 for _, n, kind in layers]
    if sum(base) > total:
        base = [max(1, b * total // sum(base)) for b in base]
        while sum(base) > total:  # the "at least 1" pushed it over: trim the largest
            base[base.index(max(base))] -= 1

    def counts(r: float) -> list[int]:
        return [min(n, max(b, round(n * r) + RATE_OFFSET[kind])) for (_, n, kind), b in zip(layers, base)]

    lo, hi = 0.0, 1.0
    if sum(counts(lo)) > total:  # offsets alone overshoot: start from the (scaled) floors
        chosen = list(base)
    else:
        for _ in range(100):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if sum(counts(mid)) <= total else (lo, mid)
        chosen = counts(lo)
    left = total - sum(chosen)
    for i in sorted(range(len(layers)), key=lambda i: -layers[i][1]):  # largest weights first
        add = min(left, layers[i][1] - chosen[i])
        chosen[i] += add
        left -= add
    if left or sum(chosen) != total:
        raise AssertionError(f"keep_budget: could not place {total} coefficients")  # pragma: no cover
    return {name: k for (name, _, _), k in zip(layers, chosen)}
