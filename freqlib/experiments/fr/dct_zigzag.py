"""The chapter "DCT and zigzag, seen": how much energy a zigzag prefix of the DCT holds, whether
freqlib's zigzag order is the authors' (``frereg`` 0.1.0), and the chapter's claims (all exact: no
training, fixed pictures and seeded noise).

The chapter's contract (:mod:`freqlib.experiment`): :class:`Config`, :func:`run` (a ``ChapterResult``
with the zigzag order, the frereg comparison, kernels and a photograph rebuilt from zigzag prefixes,
and the energy of those prefixes), :func:`claims`; :func:`plot_zigzag`, :func:`plot_basis`,
:func:`plot_kernels`, :func:`plot_photo` and :func:`plot_energy` draw its figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ... import experiment
from ...claims import Claim, exact
from ...dct import dct_matrix
from ...experiment import ChapterResult
from ...spectrum import psnr, truncate, zigzag_energy
from ...zigzag import zigzag_order

#: How many times a white-noise signal's share the image's zigzag prefix must hold, besides most of the
#: energy, for the premise to hold (our reading of "high frequency components ... less critical").
NOISE_FACTOR = 10.0
#: The share of the zigzag coefficients whose energy the premise is judged on.
FRACTION = 0.01
#: Shares of the photograph's coefficients it is rebuilt from.
PHOTO_FRACTIONS = (0.001, 0.01, 0.05, 0.2)
#: The weight shape whose frereg ZMAT ranks are compared with freqlib's.
FREREG_SHAPE = (6, 5, 3, 3)


@dataclass(frozen=True)
class Config(experiment.Config):
    """The chapter's parameters: ``photo_size``, the side of the photograph in pixels; ``zigzag_side``,
    the side of the 2-D zigzag figure."""

    chapter = "dct_zigzag"
    photo_size: int = 128
    zigzag_side: int = 8


def kernels() -> dict[str, tuple[torch.Tensor, list[int]]]:
    """Two hand-designed kernels (synthetic, not trained) and the prefixes each is rebuilt from: a 3x3
    Sobel edge detector and a 5x5 Laplacian of Gaussian (mean removed), float64."""
    sobel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], dtype=torch.float64)
    g = torch.arange(-2, 3, dtype=torch.float64)
    r2 = g[:, None] ** 2 + g[None, :] ** 2
    log5 = (r2 / 2 - 1) * torch.exp(-r2 / 2)
    return {"Sobel 3x3": (sobel, [1, 2, 3, 5, 9]), "LoG 5x5": (log5 - log5.mean(), [1, 3, 6, 10, 25])}


def photograph(size: int) -> torch.Tensor:
    """scikit-image's ``camera`` photograph resized (antialiased) to ``size`` x ``size``, float64 in [0, 1]."""
    from skimage import data
    from skimage.transform import resize

    return torch.from_numpy(resize(data.camera(), (size, size), anti_aliasing=True)).double()


def run(cfg: Config, *, device=None, progress: bool = True) -> ChapterResult:
    """Everything the chapter shows (no training; ``device`` and ``progress`` are not used): a
    :class:`~freqlib.experiment.ChapterResult` with tables ``"energy"`` (the share of the energy in the
    first :data:`FRACTION` of the coefficients of the photograph, mean removed, and of white noise of its
    size, seed 0; what ``freqlib experiment dct_zigzag`` prints), ``"zigzag"`` (the first 10 positions of
    the 2-D order), ``"frereg"`` (:func:`frereg_matches` of :data:`FREREG_SHAPE`; None without frereg),
    ``"kernels"`` (relative error of each of :func:`kernels` rebuilt from its first k coefficients) and
    ``"photo"`` (PSNR of the photograph rebuilt from :data:`PHOTO_FRACTIONS` of its coefficients), and
    the figures' data.
    """
    n = cfg.zigzag_side
    order = zigzag_order((n, n)).numpy()
    rank = np.empty(n * n, dtype=int)
    rank[order] = np.arange(n * n)
    rows, cols = np.unravel_index(order, (n, n))
    zigzag = pd.DataFrame({"rank": range(10), "row": rows[:10], "col": cols[:10]})
    rebuilt, errors = {}, []
    for name, (kernel, ks) in kernels().items():
        for k in ks:
            rebuilt[name, k] = truncate(kernel, k)
            errors.append(
                {"kernel": name, "k": k, "relative error": float((rebuilt[name, k] - kernel).norm() / kernel.norm())}
            )
    photo = photograph(cfg.photo_size)
    photos, quality = {}, []
    for fraction in PHOTO_FRACTIONS:
        k = max(1, round(fraction * photo.numel()))
        photos[fraction] = truncate(photo, k).clamp(0, 1)
        quality.append({"fraction": fraction, "k": k, "PSNR (dB)": psnr(photos[fraction], photo)})
    noise = torch.randn(*photo.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    curves = {
        "photograph": zigzag_energy(photo - photo.mean()),
        "LoG 5x5 kernel": zigzag_energy(kernels()["LoG 5x5"][0]),
        "white noise": zigzag_energy(noise),
    }
    energy = pd.DataFrame(
        [
            {
                "signal": s,
                "coefficients": photo.numel(),
                "fraction": FRACTION,
                "energy share": prefix_energy(curves[s], FRACTION),
            }
            for s in ("photograph", "white noise")
        ]
    )
    return ChapterResult(
        tables={
            "energy": energy,
            "zigzag": zigzag,
            "frereg": pd.DataFrame({"shape": [FREREG_SHAPE], "matches": [frereg_matches(FREREG_SHAPE)]}, dtype=object),
            "kernels": pd.DataFrame(errors),
            "photo": pd.DataFrame(quality),
        },
        figures={
            "zigzag": {
                "rank": rank.reshape(n, n),
                "rows": rows,
                "cols": cols,
                "order3": zigzag_order((5, 5, 5)).numpy(),
            },
            "basis": dct_matrix(8).numpy(),
            "kernels": {"kernels": kernels(), "rebuilt": rebuilt},
            "photo": {"original": photo, "rebuilt": photos},
            "energy": curves,
        },
    )


def prefix_energy(curve: Sequence[float] | np.ndarray, fraction: float) -> float:
    """The share of the energy in the first ``fraction`` of the coefficients (at least one), read off a
    cumulative curve of :func:`freqlib.spectrum.zigzag_energy` (shares, length = number of coefficients)."""
    k = max(1, round(fraction * len(curve)))
    return float(curve[k - 1])


def frereg_matches(shape: Sequence[int] = (6, 5, 3, 3)) -> bool | None:
    """Whether ``frereg``'s ZMAT ranks of a convolution weight of ``shape`` equal freqlib's zigzag ranks
    element by element; None when ``frereg`` is not installed."""
    try:
        from frereg._freqreg_eva import ZIdx2Int, getZIdx_4d
    except ImportError:
        return None
    shape = tuple(shape)
    zmat = ZIdx2Int(getZIdx_4d(torch.empty(shape))).reshape(-1).long()
    ours = torch.empty(math.prod(shape), dtype=torch.long)
    ours[zigzag_order(shape)] = torch.arange(math.prod(shape))
    return bool(torch.equal(zmat, ours))


def claims(result: ChapterResult, cfg: Config) -> list[Claim]:
    """The chapter's claims, from :func:`run`'s tables: ``"energy"`` (the shares of the energy, fractions,
    that the first ``fraction`` of the zigzag coefficients hold for the photograph, mean removed, and for
    white noise of its size: :func:`prefix_energy`) and ``"frereg"`` (``matches``: :func:`frereg_matches`;
    no row when None). The premise holds when the photograph's prefix holds most of its energy (over half)
    and :data:`NOISE_FACTOR` times the noise's share."""
    energy = result.table("energy").set_index("signal")
    photo_energy, noise_energy = (float(energy.loc[s, "energy share"]) for s in ("photograph", "white noise"))
    fraction, frereg_match = float(energy["fraction"].iloc[0]), result.table("frereg")["matches"].iloc[0]
    profile, data = cfg.profile, f"skimage camera photo {cfg.photo_size}x{cfg.photo_size}"
    most, ahead = photo_energy > 0.5, photo_energy > NOISE_FACTOR * noise_energy
    rows = [
        exact(
            "FR premise: a zigzag prefix of the DCT holds most of a natural image's energy",
            "qualitative (FR abstract: high frequency components of images are less critical)",
            f"{fraction:.0%} of coefficients: {photo_energy:.1%} of the photo's energy vs {noise_energy:.1%} of "
            "white noise's",
            holds=most and ahead,
            reason=f"the photograph's first {fraction:.0%} holds {photo_energy:.1%} of its energy "
            f"({'over' if most else 'not over'} half) and {photo_energy / noise_energy:.3g}x white noise's share "
            f"({'at least' if ahead else 'under'} {NOISE_FACTOR:g}x)"
            if noise_energy > 0
            else f"white noise's prefix holds no energy; the photograph's {photo_energy:.1%}",
            profile=profile,
            data=data,
            source="FR abstract",
        )
    ]
    if frereg_match is not None:
        rows.append(
            exact(
                "Zigzag order equals the authors' frereg 0.1.0 (ZMAT)",
                "frereg's order",
                "identical ranks" if frereg_match else "ranks differ",
                holds=frereg_match,
                reason="ZMAT of a convolution weight compared with freqlib.zigzag_order element by "
                f"element: {'equal' if frereg_match else 'different'}",
                profile=profile,
                data="none (index order)",
                source="frereg 0.1.0",
            )
        )
    return rows


# --- figures --------------------------------------------------------------------------------------


def plot_zigzag(result: ChapterResult, cfg: Config):
    """The zigzag rank of every position of a ``zigzag_side`` x ``zigzag_side`` spectrum (its walk drawn
    over it) and the zigzag order of a 5x5x5 spectrum (the first 20 in red)."""
    import matplotlib.pyplot as plt

    z = result.figures["zigzag"]
    rank, n = z["rank"], cfg.zigzag_side
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    axes[0].imshow(rank, cmap="viridis")
    axes[0].plot(z["cols"], z["rows"], color="white", lw=1)
    for (i, j), r in np.ndenumerate(rank):
        axes[0].text(j, i, r, ha="center", va="center", fontsize=7, color="black" if r > n * n / 2 else "white")
    axes[0].set(title=f"zigzag rank of a {n}x{n} spectrum", xlabel="index 1 (frequency)", ylabel="index 0 (frequency)")
    i0, i1, i2 = np.unravel_index(z["order3"], (5, 5, 5))
    axes[1].remove()
    ax3 = fig.add_subplot(1, 2, 2, projection="3d")
    ax3.scatter(i0, i1, i2, c=np.arange(len(i0)), cmap="viridis", s=30)
    ax3.plot(i0[:20], i1[:20], i2[:20], color="red", lw=1.5, label="first 20")
    ax3.set(title="zigzag order of a 5x5x5 spectrum", xlabel="index 0", ylabel="index 1", zlabel="index 2")
    ax3.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def plot_basis(result: ChapterResult, cfg: Config):
    """The 8x8 DCT-II basis images: row k, column l is the outer product of rows k and l of the matrix."""
    import matplotlib.pyplot as plt

    c = result.figures["basis"]
    fig, axes = plt.subplots(len(c), len(c), figsize=(6, 6))
    for k in range(len(c)):
        for m in range(len(c)):
            axes[k, m].imshow(np.outer(c[k], c[m]), cmap="gray", vmin=-0.25, vmax=0.25)
            axes[k, m].set_axis_off()
    fig.suptitle("DCT-II basis images (row k, column l); zigzag keeps the upper-left first")
    fig.tight_layout()
    return fig


def plot_kernels(result: ChapterResult, cfg: Config):
    """Each kernel of :func:`kernels` rebuilt from its first k zigzag coefficients, titled with the error."""
    import matplotlib.pyplot as plt

    found, errors = result.figures["kernels"], result.table("kernels").set_index(["kernel", "k"])["relative error"]
    fig, axes = plt.subplots(len(found["kernels"]), 5, figsize=(11, 4.6), squeeze=False)
    for row, (name, (kernel, ks)) in enumerate(found["kernels"].items()):
        lim = float(kernel.abs().max())
        for col, k in enumerate(ks):
            axes[row, col].imshow(found["rebuilt"][name, k].numpy(), cmap="RdBu", vmin=-lim, vmax=lim)
            axes[row, col].set_title(f"{name}, k={k}\nrel. error {errors[name, k]:.2f}", fontsize=9)
            axes[row, col].set_axis_off()
    fig.tight_layout()
    return fig


def plot_photo(result: ChapterResult, cfg: Config):
    """The photograph and its rebuilds from :data:`PHOTO_FRACTIONS` of its coefficients, with their PSNR."""
    import matplotlib.pyplot as plt

    found, quality = result.figures["photo"], result.table("photo")
    fig, axes = plt.subplots(1, len(quality) + 1, figsize=(13, 3.2))
    axes[0].imshow(found["original"].numpy(), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"original {cfg.photo_size}x{cfg.photo_size}", fontsize=9)
    for ax, r in zip(axes[1:], quality.to_dict("records")):
        ax.imshow(found["rebuilt"][r["fraction"]].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"k={r['k']} ({r['fraction']:.1%}), PSNR {r['PSNR (dB)']:.1f} dB", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_energy(result: ChapterResult, cfg: Config):
    """The share of the energy held by a zigzag prefix against the prefix's share of the coefficients."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, e in result.figures["energy"].items():
        ax.plot(np.arange(1, len(e) + 1) / len(e), e, label=name)
    ax.set(
        xscale="log",
        xlabel="kept fraction of coefficients (zigzag prefix)",
        ylabel="fraction of energy",
        title="Energy captured by a zigzag prefix of the DCT spectrum",
    )
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
