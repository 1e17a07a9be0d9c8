"""The Fréchet distance between two Gaussians fitted to feature vectors (the formula behind FID).

For features of real images with mean ``mu1`` and covariance ``S1`` and of generated images with
``mu2``, ``S2``::

    d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})

:func:`feature_statistics` gives (mean, covariance) of an (N, d) feature matrix and
:func:`frechet_distance` evaluates the formula, both in float64. The trace of the matrix square
root is computed without one: ``S1 S2`` has the same eigenvalues as the symmetric positive
semi-definite ``S1^{1/2} S2 S1^{1/2}``, so ``Tr (S1 S2)^{1/2}`` is the sum of the square roots of
the latter's eigenvalues (``torch.linalg.eigvalsh``), which stays real and stable where
``scipy.linalg.sqrtm`` of a singular product returns complex noise.

The number depends on the feature extractor: with Inception-v3 pool features it is the FID of
the literature; with any other network (as in this book's GAN chapter) it is an FID-like score
that is not comparable with published FID values. It is also biased upwards for finite samples,
so compare distances computed from the same number of samples.
"""

from __future__ import annotations

import torch


def _matrix(name: str, value, d: int | None = None) -> torch.Tensor:
    t = torch.as_tensor(value).detach().to("cpu", torch.float64)
    if t.dim() != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"{name} must be a square (d, d) matrix, got shape {tuple(t.shape)}")
    if d is not None and t.shape[0] != d:
        raise ValueError(f"{name} is {tuple(t.shape)} but the means have d = {d}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} has non-finite entries")
    return t


def _vector(name: str, value) -> torch.Tensor:
    t = torch.as_tensor(value).detach().to("cpu", torch.float64)
    if t.dim() != 1 or t.numel() < 1:
        raise ValueError(f"{name} must be a (d,) vector, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} has non-finite entries")
    return t


def _psd_sqrt(s: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric PSD matrix (eigenvalues below 0 from rounding clipped)."""
    vals, vecs = torch.linalg.eigh((s + s.T) / 2)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def trace_sqrt_product(sigma1: torch.Tensor, sigma2: torch.Tensor) -> float:
    """``Tr (sigma1 sigma2)^{1/2}`` for symmetric PSD (d, d) matrices, in float64."""
    root = _psd_sqrt(sigma1)
    inner = root @ sigma2 @ root
    vals = torch.linalg.eigvalsh((inner + inner.T) / 2)
    return float(vals.clamp(min=0).sqrt().sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    ``mu1``, ``mu2``: (d,) means; ``sigma1``, ``sigma2``: (d, d) symmetric positive semi-definite
    covariances (tensors or arrays). Returns ``||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1
    sigma2)^{1/2})`` (the FID formula; the units are those of the features, squared), clipped at 0
    (rounding can leave -1e-12 for identical statistics). ValueError names a malformed argument.
    """
    m1, m2 = _vector("mu1", mu1), _vector("mu2", mu2)
    if m1.shape != m2.shape:
        raise ValueError(f"mu1 and mu2 differ in shape: {tuple(m1.shape)} vs {tuple(m2.shape)}")
    d = m1.shape[0]
    s1, s2 = _matrix("sigma1", sigma1, d), _matrix("sigma2", sigma2, d)
    value = float((m1 - m2).pow(2).sum()) + float(torch.trace(s1) + torch.trace(s2)) - 2 * trace_sqrt_product(s1, s2)
    return max(value, 0.0)


def feature_statistics(features) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean (d,), covariance (d, d)) of ``features`` (N, d), float64 on the CPU.

    The covariance is the unbiased estimate (divided by N - 1), as ``numpy.cov(features.T)``.
    Needs N >= 2; with N <= d the covariance is singular, which the distance handles.
    """
    f = torch.as_tensor(features).detach().to("cpu", torch.float64)
    if f.dim() != 2:
        raise ValueError(f"features must be an (N, d) matrix, got shape {tuple(f.shape)}")
    if f.shape[0] < 2:
        raise ValueError(f"features: need at least 2 rows (samples) for a covariance, got {f.shape[0]}")
    if not torch.isfinite(f).all():
        raise ValueError("features has non-finite entries")
    mu = f.mean(dim=0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def features_distance(features1, features2) -> float:
    """:func:`frechet_distance` between the Gaussians fitted to two (N, d) feature matrices."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))
