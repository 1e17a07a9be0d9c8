"""The GAN chapter: the Fréchet distance against independent references, DCGAN training, FR GAN-v1."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from torch.utils.data import TensorDataset

import freqlib
from freqlib import paper
from freqlib.experiment import ConfigError
from freqlib.experiments import RESULT_COLUMNS
from freqlib.experiments.fr import gan
from freqlib.metrics import feature_statistics, features_distance, frechet_distance


@pytest.fixture(autouse=True)
def _threads():
    """The tests below set the thread count; give the next test file the one it had."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _covariance(d: int, seed: int, rank: int | None = None) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(d, rank or d + 3))
    return a @ a.T / a.shape[1]


# --- metrics --------------------------------------------------------------------------------------


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    for d in (1, 3, 8, 20):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _covariance(d, 1), _covariance(d, 2)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
        got = frechet_distance(torch.tensor(mu1), torch.tensor(s1), mu2, s2)  # tensors and arrays alike
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_frechet_distance_exact_cases():
    s = _covariance(6, 3)
    mu = np.arange(6.0)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)
    # 1-d Gaussians: (s1 - s2)^2 + (m1 - m2)^2 with standard deviations s1, s2
    assert frechet_distance([1.5], [[4.0]], [-0.5], [[9.0]]) == pytest.approx((2 - 3) ** 2 + 2.0**2, abs=1e-12)
    # commuting (diagonal) covariances, singular ones included: sum of (sqrt a - sqrt b)^2
    a, b = np.array([0.0, 1.0, 4.0, 2.0]), np.array([1.0, 0.0, 9.0, 2.0])
    expected = float(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    assert frechet_distance(np.zeros(4), np.diag(a), np.zeros(4), np.diag(b)) == pytest.approx(expected, abs=1e-12)


def test_frechet_distance_rank_deficient_covariances():
    # N < d samples, as with few generated images: still real, finite and symmetric
    s1, s2 = _covariance(30, 4, rank=10), _covariance(30, 5, rank=12)
    mu = np.zeros(30)
    d12, d21 = frechet_distance(mu, s1, mu, s2), frechet_distance(mu, s2, mu, s1)
    # zero eigenvalues come out as +-1e-16 and their square roots as 1e-8: sqrt(eps) accuracy
    assert math.isfinite(d12) and d12 > 0 and d12 == pytest.approx(d21, rel=1e-6)
    assert frechet_distance(mu, s1, mu, s1) == pytest.approx(0.0, abs=1e-6)


def test_feature_statistics_and_distance_of_features():
    f = np.random.default_rng(1).normal(size=(50, 4)) * [1.0, 2.0, 0.5, 3.0]
    mu, sigma = feature_statistics(torch.tensor(f, dtype=torch.float32))
    assert mu.dtype == sigma.dtype == torch.float64 and sigma.shape == (4, 4)
    np.testing.assert_allclose(mu.numpy(), f.astype(np.float32).mean(0), rtol=1e-6)
    np.testing.assert_allclose(sigma.numpy(), np.cov(f.astype(np.float32).T), rtol=1e-6)
    g = f + [1.0, 0.0, 0.0, 0.0]  # a shift of the mean only
    assert features_distance(f, g) == pytest.approx(1.0, rel=1e-9)


def test_metric_errors_name_the_argument():
    s = np.eye(3)
    with pytest.raises(ValueError, match="sigma2 is \\(2, 2\\) but the means have d = 3"):
        frechet_distance(np.zeros(3), s, np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="mu1 must be a \\(d,\\) vector"):
        frechet_distance(np.zeros((3, 1)), s, np.zeros(3), s)
    with pytest.raises(ValueError, match="sigma1 has non-finite"):
        frechet_distance(np.zeros(3), s * np.nan, np.zeros(3), s)
    with pytest.raises(ValueError, match="at least 2 rows"):
        feature_statistics(np.zeros((1, 3)))


# --- models and training --------------------------------------------------------------------------


def _images(n: int, size: int = 64, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.rand(n, 1, size, size, generator=g), torch.zeros(n, dtype=torch.long))


def _train(seed: int, variant: str = "dense"):
    generator, discriminator = gan.make_pair(variant, 0, width=4)
    start = {k: v.clone() for k, v in generator.state_dict().items()}
    history = gan.train_gan(
        generator, discriminator, _images(8), epochs=1, batch_size=4, lr=1e-3, seed=seed, progress=False
    )
    return generator, discriminator, start, history


def test_train_gan_two_steps_deterministic():
    torch.set_num_threads(1)
    g1, d1, start, history = _train(0)
    assert list(history.columns) == gan.HISTORY_COLUMNS and history.steps.tolist() == [2]
    assert 0 < history.d_real.iloc[0] < 1 and 0 < history.d_fake.iloc[0] < 1
    assert history.kept_g.iloc[0] == history.kept_d.iloc[0] == 0
    moved = max(float((v - start[k]).abs().max()) for k, v in g1.state_dict().items() if v.is_floating_point())
    assert moved > 1e-4
    g2, d2, _, history2 = _train(0)
    for a, b in ((g1, g2), (d1, d2)):
        for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(v, w), k
    assert history.equals(history2)
    g3, *_ = _train(1)
    assert not torch.equal(g1.net[0].weight, g3.net[0].weight)


def test_train_gan_with_fr_schedules_reaches_the_targets():
    torch.set_num_threads(1)
    generator, discriminator = gan.make_pair("gan-v1", 0, width=4)
    targets = (freqlib.kept_coefficients(generator), freqlib.kept_coefficients(discriminator))
    schedules = [freqlib.FrequencySchedule(m, 1, mode="geometric") for m in (generator, discriminator)]
    assert freqlib.kept_coefficients(generator) > targets[0]  # starts from the full spectrum
    history = gan.train_gan(
        generator, discriminator, _images(8), epochs=1, batch_size=4, schedules=schedules, progress=False
    )
    assert (history.kept_g.iloc[0], history.kept_d.iloc[0]) == targets


def test_train_gan_errors():
    generator, discriminator = gan.make_pair("dense", 0, width=4)
    with pytest.raises(ValueError, match="images are \\(1, 28, 28\\) but the generator makes \\(1, 64, 64\\)"):
        gan.train_gan(generator, discriminator, _images(4, 28), epochs=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        gan.train_gan(generator, discriminator, _images(4), epochs=0, progress=False)
    with pytest.raises(ValueError, match="unknown GAN variant 'v9'"):
        gan.make_pair("v9")
    with pytest.raises(ValueError, match="already FR"):
        gan.dcgan_init(freqlib.frequency_regularize(torch.nn.Conv2d(1, 2, 3), 0.5))


def test_variants_share_the_initialization_and_follow_the_paper_rule():
    dense, _ = gan.make_pair("dense", 3, width=8)
    fr, _ = gan.make_pair("gan-v1", 3, width=8)
    freqlib.set_keep(fr, 1.0)
    for a, b in zip(dense.net, fr.net):
        if isinstance(a, torch.nn.ConvTranspose2d):
            torch.testing.assert_close(b.weight, a.weight, atol=1e-6, rtol=1e-5)
        elif isinstance(a, torch.nn.BatchNorm2d):
            assert torch.equal(a.weight, b.weight)
    floors_g, floors_d = gan.make_pair("gan-v3", 0, width=8)
    assert freqlib.kept_coefficients(floors_g) == 5 * 32 and freqlib.kept_coefficients(floors_d) == 5 * 128


def test_fr_gan_v1_is_the_papers_and_trains_and_materializes():
    torch.set_num_threads(2)
    z, x = torch.randn(2, 100), torch.rand(2, 1, 64, 64) * 2 - 1
    generator, discriminator = gan.make_pair("gan-v1", 0, width=64)
    for name, model, inp, shape in (
        ("gan-v1-generator", generator, z, (2, 1, 64, 64)),
        ("gan-v1-discriminator", discriminator, x, (2,)),
    ):
        # every layer's kept count is the printed one (Tables 14 and 13), as freqlib.paper.build converts
        assert paper.summary(name, model)["verdict"] == "reproduced"
        assert freqlib.kept_coefficients(model) == paper.paper_table(name).loc["total", "Rem. NoP."]
        out = model(inp)
        assert out.shape == shape
        out.square().sum().backward()
        spectra = [m.parametrizations.weight.original for _, m, _, _ in freqlib.fr_weights(model)]
        assert all(s.grad is not None and torch.isfinite(s.grad).all() for s in spectra)
        model.eval()
        with torch.no_grad():
            before = model(inp)
            freqlib.materialize(model)
            after = model(inp)
        assert not list(freqlib.fr_weights(model))
        torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-4)


def test_recalibrate_batchnorm_and_sample():
    torch.set_num_threads(1)
    generator, _ = gan.make_pair("dense", 0, width=4)
    gan.recalibrate_batchnorm(generator, batches=1, batch_size=6, seed=5)
    with torch.no_grad():
        pre = generator.net[0](gan.noise(6, 100, 5)[:, :, None, None])
    torch.testing.assert_close(generator.net[1].running_mean, pre.mean(dim=(0, 2, 3)))
    assert int(generator.net[1].num_batches_tracked) == 1 and generator.net[1].momentum == 0.1
    assert not generator.training
    images = gan.sample(generator, 5, seed=1, batch_size=2)
    assert images.shape == (5, 1, 64, 64) and 0 <= float(images.min()) and float(images.max()) <= 1
    torch.testing.assert_close(images, gan.sample(generator, z=gan.noise(5, 100, 1)))


def test_multiply_accumulates_of_the_papers_dcgan():
    generator, discriminator = freqlib.models.dcgan_generator(), freqlib.models.dcgan_discriminator()
    # transposed conv: weights x input pixels; conv: weights x output pixels
    assert gan.multiply_accumulates(generator, torch.randn(2, 100)) == (
        819_200 * 1 + 2_097_152 * 16 + 524_288 * 64 + 131_072 * 256 + 1_024 * 1_024
    )
    assert gan.multiply_accumulates(discriminator, torch.rand(2, 1, 64, 64)) == (
        1_024 * 1_024 + 131_072 * 256 + 524_288 * 64 + 2_097_152 * 16 + 8_192
    )
    assert gan.multiply_accumulates(freqlib.models.LeNet5(), torch.rand(1, 1, 28, 28)) == (
        500 * 576 + 25_000 * 64 + 400_000 + 5_000
    )


def test_book_classifier_shapes():
    clf = gan.BookClassifier()
    x = torch.rand(3, 1, 64, 64)
    assert clf(x).shape == (3, 10) and clf.features(x).shape == (3, 500)
    feats = gan.classifier_features(clf, x, batch_size=2)
    assert feats.dtype == torch.float64 and feats.shape == (3, 500) and float(feats.min()) >= 0


def test_run_on_a_tiny_config():
    torch.set_num_threads(1)
    cfg = gan.Config(
        variants=("dense", "gan-v1"), train_subset=8, eval_samples=6, width=4, batch_size=4, calibration_batches=2
    )
    result = gan.run(cfg, progress=False)
    table, models, objects = result.table("results"), result.objects["models"], result.objects
    assert list(table.columns) == [*RESULT_COLUMNS, *gan.EXTRA_COLUMNS]
    assert table.variant.tolist() == ["dense", "gan-v1"] and set(models) == {"dense", "gan-v1"}
    assert (table.metric == gan.METRIC).all() and not table["higher is better"].any()
    dense, fr = table.iloc[0], table.iloc[1]
    assert dense.kept == dense.original == sum(p.numel() for p in models["dense"].parameters() if p.dim() == 4)
    assert fr.kept == freqlib.kept_coefficients(models["gan-v1"]) and fr.compression == fr.original / fr.kept
    assert fr["D kept"] == freqlib.kept_coefficients(objects["discriminators"]["gan-v1"])
    assert dense["file value"] == pytest.approx(dense.value, rel=1e-5)  # float32 file: the same model
    assert np.isfinite(table[["value", "file value", "floor", "ceiling"]].to_numpy(float)).all()
    assert (table.floor >= 0).all() and table.floor.nunique() == 1
    label = result.table("data")["label"].iloc[0]
    assert label.startswith("stand-in: Fashion-MNIST") and "resized to 64x64" in label
    assert result.table("history").variant.tolist() == ["dense", "gan-v1"] and set(result.timings) == set(models)
    for name in gan.PAPER_TABLES:  # Tables 13-14 at the paper's width, whatever width is trained
        assert (result.table(name)["status"] == "match").all()
    assert (
        result.table("cost").width.tolist() == [4, 16, 64] and result.table("cost")["trained here"].tolist()[0] == "yes"
    )
    assert result.table("variants")["G kept"].tolist() == table.kept.tolist()
    assert [b.value for b in result.baselines][0] == dense["classifier accuracy"]
    assert len(gan.plot_samples(result, cfg, n=4).axes) == 4
    rows = gan.claims(result, cfg)
    assert [r.verdict for r in rows[:2]] == ["reproduced", "reproduced"] and rows[-1].verdict == "undecided"


def test_run_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown: \\['v7'\\]"):
        gan.run(gan.Config(variants=("v7",)))
    with pytest.raises(ValueError, match="eval_samples must be at least 2"):
        gan.run(gan.Config(eval_samples=1))
    with pytest.raises(ConfigError, match=r"Config \(gan\): profile 'cpu' sets unknown parameter\(s\) 'epoch'"):
        gan.Config.for_profile("cpu", {"epoch": 3})
    assert gan.Config.for_profile("cpu").train_subset == 4096  # notebooks/profiles.yml


def test_recalibrate_batchnorm_is_update_bn_over_noise_batches():
    torch.set_num_threads(1)
    ours, _ = gan.make_pair("dense", 0, width=4)
    theirs, _ = gan.make_pair("dense", 0, width=4)
    gan.recalibrate_batchnorm(ours, batches=3, batch_size=5, seed=2)
    z = gan.noise(15, 100, 2)
    theirs.train()
    norms = [m for m in theirs.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:  # the cumulative average by hand: mean over the batches of each batch's statistics
        m.reset_running_stats()
        m.momentum = None
    with torch.no_grad():
        for chunk in z.split(5):
            theirs(chunk)
    for a, b in zip(norms, (m for m in ours.modules() if isinstance(m, torch.nn.BatchNorm2d))):
        torch.testing.assert_close(b.running_mean, a.running_mean, rtol=0, atol=0)
        torch.testing.assert_close(b.running_var, a.running_var, rtol=0, atol=0)
        assert b.momentum == 0.1
