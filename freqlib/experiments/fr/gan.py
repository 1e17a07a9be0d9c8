"""The GAN chapter: a DCGAN (the FR appendix's GAN-v1, Tables 13-14) trained densely and with FR.

The FR paper lists GAN among the architectures FR applies to and prints the per-layer kept counts
of its GAN-v1 generator and discriminator (rate 1%), but no training schedule and no quality
number. The schedule here is ours: the DCGAN recipe of Radford et al. (weights drawn from
N(0, 0.02), BatchNorm scales from N(1, 0.02); Adam, betas (0.5, 0.999); images scaled to [-1, 1];
the non-saturating loss: D minimizes BCE(D(x), 1) + BCE(D(G(z)), 0), G minimizes BCE(D(G(z)), 1)).

Quality: the Fréchet distance (:mod:`freqlib.metrics`) between the penultimate-layer features of
:class:`BookClassifier` (a LeNet-5 behind a resize to 28x28, trained in the chapter on the GAN's own
training images) for generated and for real test images. It is an FID-like score, **not**
comparable with Inception FID numbers; :func:`run` gives, for scale, the distance between two
disjoint halves of real test images (the *floor*: finite-sample noise) and of the untrained
generator (the *ceiling*).

Variants (:data:`VARIANTS`), applied to generator and discriminator alike: ``dense``; ``gan-v1``
the appendix's keep rule at rate 1% (:func:`freqlib.zigzag.keep_count`, as
``freqlib.paper.build("gan-v1-generator")`` does: at width 64 the generator keeps 35,750 and the
discriminator 27,785 coefficients, Tables 14 and 13); ``gan-v3`` the per-kind floors only
(32 per transposed conv, 128 per conv), which is *not* in the paper (ours, as the other families'
v3 tables). FR models start from the full spectrum of the same initialization as the dense ones
and a :class:`~freqlib.FrequencySchedule` per model lowers each weight to its target over the first
``schedule_fraction`` of the optimizer steps.

:func:`train_gan` runs under ``torchrun`` through :mod:`freqlib.distributed` (both models in DDP,
the data sharded, rank 0 prints). The chapter's contract (:mod:`freqlib.experiment`): :class:`Config`,
:func:`run` (a ``ChapterResult`` whose ``"results"`` table has :data:`~freqlib.experiments.RESULT_COLUMNS`
rows describing the generator, the deliverable, then :data:`EXTRA_COLUMNS`: the discriminator's counts,
the floor and ceiling, ...), :func:`claims`; :func:`plot_samples` draws its figure.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.utils.data import Dataset

from ... import distributed as dist
from ... import experiment, paper
from ...claims import Baseline, Claim, Target, difference_se, not_comparable, seed_se, trained
from ...data import ImageDataset
from ...experiment import ChapterResult
from ...fr import frequency_regularize
from ...io import load_compact, save_compact
from ...loop import check_positive_int, checked_kept, fit
from ...metrics import feature_statistics, frechet_distance
from ...models.gan import DCGANDiscriminator, DCGANGenerator
from ...models.lenet import LeNet5
from ...schedule import FrequencySchedule, check_fraction, drop_schedule
from ...tables import parameter_table
from ...train import make_loader, steps_per_epoch, train_classifier
from .. import MNIST_LABELS, RESULT_COLUMNS, check_run, load_labelled, result_row

FAMILY = "gan"
METRIC = "Fréchet distance (book classifier)"
#: Variant name -> FR keep for both networks (None: dense). A float is a rate; the int 1 means
#: "floors only". ``gan-v3`` is ours: the paper prints GAN-v1 only.
VARIANTS: dict[str, float | int | None] = {"dense": None, "gan-v1": 0.01, "gan-v3": 1}
NOT_IN_PAPER = ("gan-v3",)
#: Columns :func:`run` adds after :data:`RESULT_COLUMNS`: "file value" (the metric of the generator
#: read back from its compact file), the discriminator's "D kept" / "D original" / "D compression",
#: "floor" (two halves of real test images) and "ceiling" (the untrained generator) of the metric,
#: the book classifier's test accuracy, and the last epoch's mean D(x) and D(G(z)) (probabilities).
EXTRA_COLUMNS = (
    "file value",
    "D kept",
    "D original",
    "D compression",
    "floor",
    "ceiling",
    "classifier accuracy",
    "D(x)",
    "D(G(z))",
)
HISTORY_COLUMNS = ["epoch", "steps", "loss_d", "loss_g", "d_real", "d_fake", "kept_g", "kept_d"]
#: What each data set stands for in this chapter (the paper's GAN data is not stated; MNIST-like
#: 1x64x64 images follow from the architecture).
DATA_LABELS = MNIST_LABELS


# --- models ---------------------------------------------------------------------------------------


@torch.no_grad()
def dcgan_init(model: nn.Module) -> nn.Module:
    """DCGAN's initialization, in place: (transposed) conv weights ~ N(0, 0.02), BatchNorm scales
    ~ N(1, 0.02) and shifts 0. Call it before FR conversion (the spectrum is the DCT of these weights)."""
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            if parametrize.is_parametrized(m):
                raise ValueError(f"dcgan_init: {name or 'model'} is already FR; initialize before converting")
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return model


def make_pair(
    variant: str, seed: int = 0, *, width: int = 64, latent_dim: int = 100, channels: int = 1
) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """(generator, discriminator) of ``variant``: DCGAN at ``width`` (64: the paper's GAN-v1) with
    :func:`dcgan_init` from ``torch.manual_seed(seed)`` (the same weights for every variant), both
    converted to FR with the variant's keep (:data:`VARIANTS`) unless dense."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown GAN variant {variant!r}; valid: {', '.join(VARIANTS)}")
    check_positive_int("width", width)
    torch.manual_seed(seed)
    generator = dcgan_init(DCGANGenerator(latent_dim, channels, width))
    discriminator = dcgan_init(DCGANDiscriminator(channels, width))
    keep = VARIANTS[variant]
    if keep is not None:
        frequency_regularize(generator, keep)
        frequency_regularize(discriminator, keep)
    return generator, discriminator


@torch.no_grad()
def multiply_accumulates(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulates of the (transposed) convolutions and linear layers of one forward pass
    of ``model`` on ``example`` (a batch), per example: a Conv2d does ``weight.numel()`` per output
    pixel, a ConvTranspose2d per input pixel, a Linear ``weight.numel()``. BatchNorm and activations
    are not counted. A training step costs about three forward passes per network."""
    total = [0]

    def count(module: nn.Module, inputs, output) -> None:
        n = module.weight.numel()
        if isinstance(module, nn.ConvTranspose2d):
            total[0] += n * inputs[0][0].shape[-1] * inputs[0][0].shape[-2]
        elif isinstance(module, nn.Conv2d):
            total[0] += n * output[0].shape[-1] * output[0].shape[-2]
        else:
            total[0] += n

    hooks = [
        m.register_forward_hook(count)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
    ]
    training = model.training
    try:
        model.eval()
        model(example[:1])
    finally:
        model.train(training)
        for h in hooks:
            h.remove()
    return total[0]


class BookClassifier(nn.Module):
    """The chapter's feature extractor: LeNet-5 (:class:`freqlib.models.LeNet5`) behind a bilinear,
    antialiased resize to ``size`` x ``size``.

    Input (N, C, H, W) in [0, 1] (any H, W); :meth:`forward` gives logits (N, classes),
    :meth:`features` the penultimate layer, ReLU(fc1): (N, 500).
    """

    def __init__(self, num_classes: int = 10, channels: int = 1, size: int = 28):
        super().__init__()
        self.size = size
        self.net = LeNet5(num_classes, channels)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N, 500) penultimate-layer activations."""
        if tuple(x.shape[-2:]) != (self.size, self.size):
            x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True)
        n = self.net
        x = torch.max_pool2d(torch.relu(n.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(n.conv2(x)), 2)
        return torch.relu(n.fc1(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> logits (N, classes)."""
        return self.net.fc2(self.features(x))


@torch.no_grad()
def classifier_features(
    classifier: BookClassifier, images: torch.Tensor, *, batch_size: int = 500, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """:meth:`BookClassifier.features` of ``images`` (N, C, H, W) in [0, 1], batch by batch: (N, 500)
    float64 on the CPU. Leaves the classifier in eval mode."""
    classifier = dist.unwrap(classifier).to(device).eval()
    out = [
        classifier.features(images[i : i + batch_size].to(device)).double().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out)


def noise(n: int, latent_dim: int = 100, seed: int = 0) -> torch.Tensor:
    """(n, latent_dim) standard normal noise from a CPU generator seeded with ``seed`` (device independent)."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def sample(
    generator: nn.Module,
    n: int | None = None,
    *,
    z: torch.Tensor | None = None,
    seed: int = 0,
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Images of ``generator`` in eval mode (BatchNorm running statistics: see
    :func:`recalibrate_batchnorm`), scaled from [-1, 1] to
    [0, 1]: (n, C, 64, 64) float32 on the CPU. The noise is ``z`` or :func:`noise` (n, seed)."""
    generator = dist.unwrap(generator).to(device).eval()
    if z is None:
        if n is None:
            raise ValueError("sample: give n (with seed) or z")
        z = noise(n, generator.latent_dim, seed)
    out = []
    with parametrize.cached():
        for i in range(0, len(z), batch_size):
            out.append(generator(z[i : i + batch_size].to(device)).float().cpu())
    return torch.cat(out).add_(1).div_(2).clamp_(0, 1)


@torch.no_grad()
def recalibrate_batchnorm(
    generator: nn.Module,
    *,
    batches: int = 10,
    batch_size: int = 64,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> nn.Module:
    """Replace the BatchNorm running statistics of ``generator`` by their average over ``batches``
    batches of ``batch_size`` fresh noise vectors (:func:`noise` with ``seed``; through
    :func:`torch.optim.swa_utils.update_bn`): the "standing statistics" of the trained network, so that
    eval-mode samples look like the training-mode (batch-statistics) ones. The running averages of a
    short training lag behind the weights (an untrained generator's are the initial 0 / 1, which make
    it draw flat grey). In place; returns the generator in eval mode. Every rank computes the same
    statistics.
    """
    check_positive_int("batches", batches)
    check_positive_int("batch_size", batch_size)
    net = dist.unwrap(generator).to(device)
    z = noise(batches * batch_size, net.latent_dim, seed).to(device)
    with parametrize.cached():
        torch.optim.swa_utils.update_bn(z.split(batch_size), net)
    return net.eval()


# --- training -------------------------------------------------------------------------------------


def _images(batch) -> torch.Tensor:
    """The images of a batch: ``(x, y)`` pairs give ``x``, a bare tensor is itself."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def train_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    data: Dataset,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    device: torch.device | str | None = None,
    seed: int = 0,
    schedules: Sequence[FrequencySchedule] | None = None,
    progress: bool = True,
    desc: str = "gan",
) -> pd.DataFrame:
    """Train a GAN with the standard DCGAN non-saturating BCE loss; return one history row per epoch.

    ``data`` yields images (N, C, H, W) in [0, 1] of the generator's output shape (labels ignored);
    they are scaled to [-1, 1]. Per step, with ``z`` ~ N(0, I) (``generator.latent_dim``): one Adam
    step (``lr``, ``betas``) of the discriminator on BCE(D(x), 1) + BCE(D(G(z)), 0) (real and fake in
    separate batches, as in the DCGAN recipe), then one of the generator on BCE(D(G(z)), 1) (same
    ``z``), then ``schedule.step()`` for each of ``schedules`` (e.g. one
    :class:`~freqlib.FrequencySchedule` per FR network). The batch order comes from a generator
    seeded with ``seed``, the noise from one seeded with ``seed + 1 + rank``, and
    ``torch.manual_seed(seed + rank)`` is set, so two runs from the same initial models are bitwise
    equal on the same device and thread count.

    Under ``torchrun`` both models are wrapped in DDP on the process's device, each rank trains on
    its shard with ``batch_size / W`` images per step (``batch_size`` is the global batch), rank 0's
    BatchNorm statistics are broadcast after each epoch and the history sums over ranks; the models
    themselves are trained in place. History columns: ``epoch``, ``steps``, ``loss_d`` and
    ``loss_g`` (epoch means), ``d_real`` and ``d_fake`` (mean D(x) and D(G(z)) as probabilities, the
    latter before the D step), ``kept_g`` and ``kept_d`` (FR coefficients at the epoch's end; 0 for
    dense). Only rank 0 shows the tqdm bar (stderr) and prints one summary line.
    """
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
    latent = getattr(dist.unwrap(generator), "latent_dim", None)
    if not isinstance(latent, int):
        raise ValueError("generator must have an int attribute latent_dim (the noise size)")
    schedules = list(schedules or [])
    device = dist.local_device(dist.init_from_env(device))
    torch.manual_seed(seed + dist.rank())
    loader = make_loader(data, batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed), shard=True)
    noise_rng = torch.Generator(device=device).manual_seed(seed + 1 + dist.rank())
    net_g, net_d = dist.wrap(generator, device), dist.wrap(discriminator, device)
    opt_g = torch.optim.Adam([p for p in generator.parameters() if p.requires_grad], lr=lr, betas=tuple(betas))
    opt_d = torch.optim.Adam([p for p in discriminator.parameters() if p.requires_grad], lr=lr, betas=tuple(betas))
    bce = nn.functional.binary_cross_entropy_with_logits

    def step(batch):
        x = _images(batch).to(device).mul(2).sub(1)
        n = len(x)
        z = torch.randn(n, latent, generator=noise_rng, device=device)
        fake = net_g(z)
        if fake.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"data: images are {tuple(x.shape[1:])} but the generator makes {tuple(fake.shape[1:])}; "
                "resize the data (ImageDataset.adapted)"
            )
        ones, zeros = torch.ones(n, device=device), torch.zeros(n, device=device)
        opt_d.zero_grad(set_to_none=True)  # two optimizers: this step owns its zero_grad/backward/step
        out_real = net_d(x)
        loss_real = bce(out_real, ones)
        loss_real.backward()
        out_fake = net_d(fake.detach())
        loss_fake = bce(out_fake, zeros)
        loss_fake.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce(net_d(fake), ones)
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():
            return {
                "loss_d": ((loss_real + loss_fake).double() * n, n),
                "loss_g": (loss_g.double() * n, n),
                "d_real": (torch.sigmoid(out_real).double().sum(), n),
                "d_fake": (torch.sigmoid(out_fake).double().sum(), n),
            }

    def end_epoch(epoch: int) -> dict:
        where = f"{desc}, epoch {epoch}"
        return {"kept_g": checked_kept(generator, where), "kept_d": checked_kept(discriminator, where)}

    def summary(last) -> str:
        kept = f", kept G {int(last.kept_g):,} / D {int(last.kept_d):,}" if last.kept_g or last.kept_d else ""
        return (
            f"loss D {last.loss_d:.3f}, loss G {last.loss_g:.3f}, D(x) {last.d_real:.3f}, D(G(z)) {last.d_fake:.3f}"
            f"{kept}"
        )

    history = fit(
        [net_g, net_d],
        step,
        loader,
        epochs=epochs,
        steps_per_epoch=len(loader),
        after_step=schedules,
        end_epoch=end_epoch,
        columns=HISTORY_COLUMNS,
        desc=desc,
        progress=progress,
        summary=summary,
        postfix=lambda row: {"loss_d": f"{row['loss_d']:.3f}", "loss_g": f"{row['loss_g']:.3f}"},
        device=device,
    )
    return history


# --- the chapter's experiment ---------------------------------------------------------------------


def load_data(
    name: str = "fashion_mnist",
    data_dir=None,
    *,
    train_subset: int | None = None,
    test_subset: int | None = None,
    image_size: int = 64,
    fallback: str | None = "fashion_mnist",
) -> tuple[ImageDataset, ImageDataset, str]:
    """(train, test, label): data set ``name`` (:func:`freqlib.data.load`), subsets drawn with seeds
    0 / 1, resized to ``image_size`` (:meth:`~freqlib.data.ImageDataset.adapted`, after the subset).

    ``label`` says what the data stands for (:data:`DATA_LABELS`: "stand-in: ..." unless full
    MNIST) and the subset sizes. When ``name`` is not on disk and ``fallback`` is given, the
    fallback is used instead, said so in a printed line and in the label.
    """
    train, test, label = load_labelled(
        name, data_dir, train_subset=train_subset, test_subset=test_subset, fallback=fallback, labels=DATA_LABELS
    )
    label = f"{label}; {train.shape[-1]}x{train.shape[-2]} resized to {image_size}x{image_size}"
    return train.adapted(image_size), test.adapted(image_size), label


def fit_classifier(train: Dataset, test: Dataset, *, seed: int = 0, **options) -> tuple[BookClassifier, float]:
    """Train a :class:`BookClassifier` (seed ``seed``; Adam, cosine decay, cross-entropy:
    :func:`freqlib.train.train_classifier` with ``options``: ``epochs``, ``batch_size``, ``lr``, ``device``,
    ``progress``) on ``train`` and return it (on the CPU, eval mode) with its test accuracy on ``test`` (a
    fraction)."""
    torch.manual_seed(seed)
    classifier = BookClassifier(channels=train[0][0].shape[0])
    history = train_classifier(classifier, train, test, cosine=True, seed=seed, desc="book classifier", **options)
    return classifier.cpu().eval(), float(history.test_accuracy.iloc[-1])


#: The appendix tables of the chapter's GAN-v1 (Tables 13 and 14), names of :data:`freqlib.paper.NAMES`.
PAPER_TABLES = ("gan-v1-discriminator", "gan-v1-generator")
#: Keep rule of each variant, for the tables.
KEEP_RULES = {"dense": "all weights", "gan-v1": "rate 1% (Tables 13-14)", "gan-v3": "floors only (not in the paper)"}


@dataclass(frozen=True)
class Config(experiment.Config):
    """The GAN chapter's parameters (smoke values as defaults; ``notebooks/profiles.yml`` sets the others).

    ``data``: a name of :data:`freqlib.data.LOADERS` ("mnist", full, needs ``data_dir``: MNIST/raw/ or the
    four IDX files; else Fashion-MNIST, labelled), resized to ``image_size``; ``variants``: names of
    :data:`VARIANTS` (gan-v3 is not in the paper); ``train_subset``: training images (None: all);
    ``eval_samples``: generated images per score, also the size of each half of real test images;
    ``width``: DCGAN channel width (64 is the paper's GAN-v1; 16: 1/16 of the weights and of the cost).
    Adam (``betas``) with ``lr`` for both networks (DCGAN's recipe says 2e-4) and ``fr_lr`` for the FR
    variants (None: ``lr``), global batches of ``batch_size``; FR reaches its keep by a ``schedule_mode``
    :class:`~freqlib.FrequencySchedule` over the first ``schedule_fraction`` of the steps. The book
    classifier trains ``classifier_epochs`` at ``classifier_lr``; ``calibration_batches`` noise batches
    give the generators' BatchNorm statistics before sampling.
    """

    chapter = "gan"
    data: str = "fashion_mnist"
    data_dir: str | None = None
    variants: Sequence[str] = ("dense", "gan-v1", "gan-v3")
    train_subset: int | None = 256
    eval_samples: int = 200
    image_size: int = 64
    width: int = 16
    epochs: int = 1
    batch_size: int = 32
    lr: float = 5e-4
    fr_lr: float | None = 2e-3
    betas: tuple[float, float] = (0.5, 0.999)
    schedule_fraction: float = 0.3
    schedule_mode: str = "geometric"
    classifier_epochs: int = 1
    classifier_lr: float = 1e-3
    calibration_batches: int = 10
    seed: int = 0


def cost_table(widths: Sequence[int], batch_size: int, trained: int) -> pd.DataFrame:
    """Per DCGAN width: the (transposed) convolution weights of G and D, their multiply-accumulates per
    image (:func:`multiply_accumulates`), GMAC per training step, about ``3 (G + 3 D)`` per image times
    ``batch_size``, and whether it is the ``trained`` width."""
    rows = []
    for w in sorted(set(widths)):
        g, d = DCGANGenerator(width=w), DCGANDiscriminator(width=w)
        macs = multiply_accumulates(g, torch.zeros(1, 100)), multiply_accumulates(d, torch.zeros(1, 1, 64, 64))
        rows.append(
            {
                "width": w,
                "G weights": sum(p.numel() for p in g.parameters() if p.dim() == 4),
                "D weights": sum(p.numel() for p in d.parameters() if p.dim() == 4),
                "G MAC / image": macs[0],
                "D MAC / image": macs[1],
                f"GMAC / step (batch {batch_size})": round(3 * (macs[0] + 3 * macs[1]) * batch_size / 1e9, 1),
                "trained here": "yes" if w == trained else "",
            }
        )
    return pd.DataFrame(rows)


def variants_table(variants: Sequence[str], width: int) -> pd.DataFrame:
    """Per variant its keep rule and the kept coefficients and compression of generator and discriminator."""
    rows = []
    for v in variants:
        tg, td = (parameter_table(m).loc["total"] for m in make_pair(v, width=width))
        rows.append(
            {
                "variant": v,
                "keep rule": KEEP_RULES[v],
                "G kept": int(tg["Rem. NoP."]),
                "G compression": tg["Compress Rate"],
                "D kept": int(td["Rem. NoP."]),
                "D compression": td["Compress Rate"],
            }
        )
    return pd.DataFrame(rows)


def run(cfg: Config, *, device: torch.device | str | None = None, progress: bool = True) -> ChapterResult:
    """Train each of ``cfg.variants`` on ``cfg.data``: a :class:`~freqlib.experiment.ChapterResult` with

    - tables :data:`PAPER_TABLES` (``freqlib.paper.compare`` of the paper's GAN-v1 at width 64: Tables
      13-14), ``"cost"`` (:func:`cost_table` of widths 16, 64 and ``cfg.width``), ``"variants"``
      (:func:`variants_table`), ``"data"`` (sizes and label), ``"results"`` (one row per trained GAN:
      :data:`RESULT_COLUMNS` for the generator, metric :data:`METRIC`, lower is better, then
      :data:`EXTRA_COLUMNS`) and ``"history"`` (every epoch of every variant, a ``variant`` column);
    - ``baselines``: :func:`baselines` of the results; ``timings``: training seconds per variant;
    - ``objects``: ``"models"`` ({variant: trained generator}, CPU, eval mode), ``"discriminators"``,
      ``"classifier"``, ``"untrained"`` (the initial generator) and ``"test"`` (the test images).

    Data: :func:`load_data` (``train_subset`` training images; ``2 * eval_samples`` test images, split
    at random into a *reference* half and a *floor* half). The book classifier (:func:`fit_classifier`)
    is trained on the GAN's training images; the metric of a generator is the Fréchet distance between
    the classifier features of ``eval_samples`` generated images (noise seed ``seed + 1000``) and of the
    reference half. Every variant starts from the same initialization (:func:`make_pair`) and sees the
    same batches and noise (:func:`train_gan`). Before scoring and saving, each generator's BatchNorm
    statistics are recomputed over ``calibration_batches`` batches of noise
    (:func:`recalibrate_batchnorm`), the untrained one's too; each trained generator is written as a
    compact file (float16 coefficients for FR, float32 for dense), read back and scored again ("file
    value"). Profile "smoke" trains on the CPU (deterministic committed outputs), the others on CUDA
    when present (``device`` overrides).
    """
    check_run(cfg.profile, cfg.variants, VARIANTS, what="GAN")
    check_fraction(cfg.schedule_fraction)
    check_positive_int("eval_samples", cfg.eval_samples)
    n_eval, seed = cfg.eval_samples, cfg.seed
    if n_eval < 2:
        raise ValueError(f"eval_samples must be at least 2 (a covariance needs 2 samples), got {n_eval}")
    device = dist.init_from_env("cpu" if cfg.profile == "smoke" and device is None else device)
    comparisons = {name: paper.compare(name, paper.build(name)) for name in PAPER_TABLES}
    train, test, label = load_data(
        cfg.data, cfg.data_dir, train_subset=cfg.train_subset, test_subset=2 * n_eval, image_size=cfg.image_size
    )
    if len(test) < 2 * n_eval:
        raise ValueError(f"eval_samples={n_eval} needs {2 * n_eval} test images; {cfg.data} has {len(test)}")
    classifier, accuracy = fit_classifier(
        train,
        test,
        epochs=cfg.classifier_epochs,
        batch_size=cfg.batch_size,
        lr=cfg.classifier_lr,
        device=device,
        seed=seed,
        progress=progress,
    )
    real = test[:][0]
    halves = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed + 2))
    stats = [feature_statistics(classifier_features(classifier, real[h], device=device)) for h in halves.split(n_eval)]
    floor = frechet_distance(*stats[0], *stats[1])

    def score(generator: nn.Module, calibrate: bool = False) -> float:
        if calibrate:
            recalibrate_batchnorm(
                generator, batches=cfg.calibration_batches, batch_size=cfg.batch_size, seed=seed + 2000, device=device
            )
        images = sample(generator, n_eval, seed=seed + 1000, device=device)
        return frechet_distance(*stats[0], *feature_statistics(classifier_features(classifier, images, device=device)))

    untrained, _ = make_pair("dense", seed, width=cfg.width)
    ceiling = score(untrained, calibrate=True)
    if dist.is_main():
        print(
            f"book classifier: test accuracy {100 * accuracy:.1f}%; Fréchet distance of real vs real "
            f"(floor) {floor:.2f}, of the untrained generator (ceiling) {ceiling:.2f} ({n_eval} samples each)"
        )
    steps = cfg.epochs * steps_per_epoch(train, cfg.batch_size)
    rows, histories, models, discriminators, timings = [], [], {}, {}, {}
    for variant in cfg.variants:
        generator, discriminator = make_pair(variant, seed, width=cfg.width)
        fr = VARIANTS[variant] is not None
        schedules = None
        if fr and round(cfg.schedule_fraction * steps) > 0:
            schedules = [
                drop_schedule(m, cfg.schedule_fraction, steps, mode=cfg.schedule_mode)
                for m in (generator, discriminator)
            ]
        started = time.perf_counter()
        history = train_gan(
            generator,
            discriminator,
            train,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            lr=(cfg.fr_lr or cfg.lr) if fr else cfg.lr,
            betas=cfg.betas,
            device=device,
            seed=seed,
            schedules=schedules,
            progress=progress,
            desc=variant,
        )
        timings[variant] = time.perf_counter() - started
        histories.append(history.assign(variant=variant))
        value = score(generator, calibrate=True)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{variant}_generator.frq"
            save_compact(generator, path, dtype=torch.float16 if fr else torch.float32)
            restored = load_compact(DCGANGenerator(generator.latent_dim, train[0][0].shape[0], cfg.width), path)
        d_table = parameter_table(discriminator).loc["total"]
        d_org, d_rem = int(d_table["Org. NoP."]), int(d_table["Rem. NoP."])
        row = result_row(FAMILY, variant, label, generator, METRIC, value, timings[variant], higher_is_better=False)
        last = history.iloc[-1]
        row.update(
            {
                "file value": score(restored),
                "D kept": d_rem,
                "D original": d_org,
                "D compression": d_org / d_rem,
                "floor": floor,
                "ceiling": ceiling,
                "classifier accuracy": accuracy,
                "D(x)": float(last.d_real),
                "D(G(z))": float(last.d_fake),
            }
        )
        rows.append(row)
        discriminators[variant], models[variant] = discriminator.cpu().eval(), generator.cpu().eval()
    results = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, *EXTRA_COLUMNS])
    sizes = {"data set": cfg.data, "train": len(train), "test (reference + floor)": len(test)}
    data = pd.DataFrame([{**sizes, "image": "x".join(map(str, train.shape[1:])), "label": label}])
    tables = {
        "cost": cost_table((16, 64, cfg.width), cfg.batch_size, cfg.width),
        "variants": variants_table(cfg.variants, cfg.width),
    }
    return ChapterResult(
        tables={
            **comparisons,
            **tables,
            "data": data,
            "results": results,
            "history": pd.concat(histories, ignore_index=True),
        },
        baselines=list(baselines(results).values()),
        timings=timings,
        objects={
            "models": models,
            "discriminators": discriminators,
            "classifier": classifier,
            "untrained": untrained.cpu().eval(),
            "test": test,
        },
    )


@torch.no_grad()
def plot_samples(result: ChapterResult, cfg: Config, n: int = 36):
    """``n`` real test images, then ``n`` samples of the untrained and of each trained generator for the
    same noise (:func:`noise`, seed 7), each panel titled with its Fréchet distance."""
    import matplotlib.pyplot as plt
    from torchvision.utils import make_grid

    results = result.table("results")
    scores = results.set_index("variant")["value"]
    z = noise(n, 100, seed=7)
    panels = [("real test images", result.objects["test"][:n][0])]
    panels.append((f"untrained: {results.ceiling.iloc[0]:.2f}", sample(result.objects["untrained"], z=z)))
    panels += [(f"{v}: {scores[v]:.2f}", sample(g, z=z)) for v, g in result.objects["models"].items()]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 3.1), squeeze=False)
    for ax, (name, images) in zip(axes[0], panels):
        ax.imshow(make_grid(images, nrow=round(math.sqrt(n)), padding=1, pad_value=1).permute(1, 2, 0))
        ax.set(xticks=[], yticks=[], title=name)
        ax.title.set_fontsize(8)
    fig.suptitle(
        f"DCGAN (width {cfg.width}) samples for the same z, titled with the Fréchet distance (book classifier; "
        f"floor {results.floor.iloc[0]:.2f})\n{results.data.iloc[0]} ({cfg.profile} profile)",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


# --- convergence targets and the chapter's claims -------------------------------------------------

_FASHION = (
    "our choice: a linear classifier already reaches about 84% on Fashion-MNIST (the benchmark of Xiao et "
    "al., 2017), so a classifier whose features learned must exceed 85%"
)
_MNIST5K = (
    "our choice: a linear classifier reaches 88% on MNIST (LeCun et al., 1998: 12.0% test error), so a "
    "classifier that learned from MNIST-5k's digits must exceed 95%"
)
#: The generator's quality as a share of the scale the chapter measures: (Fréchet distance - floor) /
#: (ceiling - floor); 0 is a second sample of real images, 1 the untrained generator; lower is better.
SHARE = "Fréchet distance share (floor 0, untrained 1)"
_LEARNED = (
    "our choice: a generator that learned the data has closed at least three quarters of the Fréchet "
    "distance from the untrained generator (ceiling) to a second sample of real test images (floor)"
)
#: The targets a run must meet before a trained claim is decided, by (model, data): the book classifier's
#: test accuracy (a fraction; its features define the score) and the dense generator's :data:`SHARE`.
TARGETS = {
    ("classifier", "MNIST"): Target(
        "book classifier (LeNet-5)",
        "MNIST",
        "accuracy",
        0.98,
        "our choice: about 1 point under LeNet-5's 99.05% (LeCun et al., 1998: 0.95% test error), for a "
        "feature extractor trained a few epochs behind a resize",
    ),
    ("classifier", "MNIST-5k"): Target("book classifier (LeNet-5)", "MNIST-5k", "accuracy", 0.95, _MNIST5K),
    ("classifier", "Fashion-MNIST"): Target("book classifier (LeNet-5)", "Fashion-MNIST", "accuracy", 0.85, _FASHION),
    **{
        ("generator", data): Target("dense DCGAN generator", data, SHARE, 0.25, _LEARNED, higher_is_better=False)
        for data in ("MNIST", "MNIST-5k", "Fashion-MNIST")
    },
}
#: "FR keeps the dense generator's quality": FR's :data:`SHARE` at most this much above dense's (our
#: choice: a tenth of the scale from real images to the untrained generator) ...
QUALITY_BOUND = 0.1
#: ... decided when the difference's standard error (over seeds) is below this.
QUALITY_TOLERANCE = 0.1


def data_key(label: str) -> str:
    """The data set of :data:`TARGETS` a data label names: ``Fashion-MNIST``, ``MNIST-5k`` or ``MNIST``."""
    for key in ("Fashion-MNIST", "MNIST-5k", "MNIST"):
        if key in label:
            return key
    raise ValueError(f"no convergence target for data {label!r}")


def quality_share(results: pd.DataFrame) -> pd.Series:
    """:data:`SHARE` of each row of :func:`run`'s table, from its "file value" (the generator read back
    from its file), "floor" and "ceiling"; NaN where the ceiling is not above the floor."""
    scale = (results["ceiling"] - results["floor"]).where(lambda s: s > 0)
    return (results["file value"] - results["floor"]) / scale


def baselines(results: pd.DataFrame) -> dict[str, Baseline]:
    """``{"classifier": ..., "generator": ...}``: the book classifier's accuracy and the dense generator's
    :data:`SHARE` (means over the rows of :func:`run`'s ``results``; several seeds may be concatenated)
    against :data:`TARGETS` of the data the label names; NaN (never met) without a dense row."""
    key = data_key(str(results["data"].iloc[0]))
    dense = quality_share(results)[results.variant == "dense"]
    generator = TARGETS["generator", key]
    return {
        "classifier": TARGETS["classifier", key].baseline(float(results["classifier accuracy"].mean())),
        "generator": generator.baseline(
            float(dense.mean()) if len(dense) else math.nan,
            generator.model if len(dense) else f"{generator.model} (not trained)",
        ),
    }


def _quality_row(results: pd.DataFrame, profile: str) -> Claim:
    """The chapter's Fréchet distances, which the paper has nothing to compare with."""
    first = results.iloc[0]
    ours = "; ".join(
        f"{v} {r['file value']:.2f}" + (" (ours, not in the paper)" if v in NOT_IN_PAPER else "")
        for v, r in results.groupby("variant", sort=False).first().iterrows()
    )
    return not_comparable(
        "GAN sample quality: Fréchet distance of each generator",
        "GAN listed among the architectures evaluated (abstract); no quality number, data set or schedule printed",
        f"Fréchet distance (book classifier) {ours}; floor (real vs real) {first.floor:.2f}, ceiling (untrained "
        f"generator) {first.ceiling:.2f}",
        reason="the paper prints no GAN quality to compare with, and our score (book-classifier features, not "
        "Inception) is on no published scale",
        profile=profile,
        data=str(first.data),
        source="FR abstract",
    )


def claims(result: ChapterResult, cfg: Config) -> list[Claim]:
    """The chapter's claims against the FR paper, from :func:`run`'s tables.

    :data:`PAPER_TABLES` (``freqlib.paper.compare`` frames; Tables 13-14, exact; no row for a table the
    result lacks) and ``"results"`` (one row per variant; rows of several seeds may be concatenated,
    which gives the quality claims a standard error). Then the Fréchet distances (not comparable: the
    paper prints none) and, per FR variant, the trained claim that FR keeps the dense generator's
    quality: FR's :data:`SHARE` at most :data:`QUALITY_BOUND` above dense's, against the
    :func:`baselines` (book classifier and dense generator), decided only with a standard error over
    seeds below :data:`QUALITY_TOLERANCE` (one seed gives none: undecided).
    """
    results, profile = result.table("results"), cfg.profile
    comparisons = {name: result.tables[name] for name in PAPER_TABLES if name in result.tables}
    rows = paper.claims(comparisons, profile=profile)
    rows.append(_quality_row(results, profile))
    shares = results.assign(share=quality_share(results)).groupby("variant", sort=False)["share"].agg(list)
    if "dense" not in shares.index:
        return rows
    bases = list(baselines(results).values())
    dense = shares["dense"]
    label = str(results["data"].iloc[0])
    for v, fr in shares.drop(index="dense").items():
        gap = sum(fr) / len(fr) - sum(dense) / len(dense)
        se = difference_se(seed_se(fr), seed_se(dense)) if min(len(fr), len(dense)) >= 2 else None
        runs = f"{len(fr)} seeds" if se is not None else "one training seed: no standard error"
        ours_note = ", ours, not in the paper" if v in NOT_IN_PAPER else ""
        rows.append(
            trained(
                f"FR keeps the dense DCGAN's sample quality ({v}{ours_note})",
                f"FR is effective on GAN (abstract; no number); bound ours: FR's Fréchet distance share at most "
                f"{QUALITY_BOUND:g} above dense's, decided when its standard error is below {QUALITY_TOLERANCE:g}",
                f"share {sum(fr) / len(fr):.3f} vs dense {sum(dense) / len(dense):.3f} ({gap:+.3f}); {runs}",
                value=gap,
                expected=QUALITY_BOUND,
                tolerance=QUALITY_TOLERANCE,
                se=se,
                baselines=bases,
                relation="at most",
                profile=profile,
                data=label,
                source="FR abstract, Tables 13-14",
            )
        )
    return rows
