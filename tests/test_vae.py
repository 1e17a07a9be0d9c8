import math

import pytest
import torch
from torch import nn
from torch.distributions import Bernoulli, Normal, kl_divergence
from torch.utils.data import TensorDataset

import freqlib
from freqlib.data import DatasetMissing
from freqlib.experiment import ConfigError
from freqlib.experiments import RESULT_COLUMNS
from freqlib.experiments.fr import vae
from freqlib.models import VAE
from freqlib.paper import VARIANTS as PAPER_VARIANTS
from freqlib.zigzag import keep_count

TINY = {"latent_dim": 2, "hidden": 16, "width": 4, "image_size": 8}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one thread is faster than two on a shared machine (and bitwise results need a fixed count)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def weights(model: nn.Module) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))


def toy_images(n: int = 64, size: int = 8, seed: int = 0) -> TensorDataset:
    """Blobs in [0, 1]: a random bright square on a dark background, with labels (ignored)."""
    g = torch.Generator().manual_seed(seed)
    x = 0.1 * torch.rand(n, 1, size, size, generator=g)
    corners = torch.randint(0, size - 3, (n, 2), generator=g)
    for i, (r, c) in enumerate(corners.tolist()):
        x[i, 0, r : r + 3, c : c + 3] = 0.9
    return TensorDataset(x, torch.zeros(n, dtype=torch.int64))


def tiny_model(seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(**TINY)


# --- the model ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"latent_dim": 20, "hidden": 400, "width": 16}, {"channels": 3, "image_size": 32}, TINY],
)
def test_weight_count_formula(kwargs):
    model = VAE(**kwargs)
    assert weights(model) == VAE.weight_count(**kwargs)
    assert int(freqlib.parameter_table(model).loc["total", "Org. NoP."]) == VAE.weight_count(**kwargs)


def test_default_counts_as_documented():
    model = VAE()
    assert VAE.weight_count() == 1_684_480 == weights(model)
    assert sum(p.numel() for n, p in model.named_parameters() if n.endswith("bias")) == 3_809
    kinds = freqlib.parameter_table(model)["Layer Type"].value_counts().to_dict()
    assert kinds == {"Linear": 5, "Conv2d": 2, "ConvTranspose2d": 2, "total": 1}


def test_shapes():
    model = VAE()
    x = torch.rand(3, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == (3, 1, 28, 28) and mu.shape == logvar.shape == (3, 16)
    m2, lv2 = model.encode(x)
    assert torch.equal(m2, mu) and torch.equal(lv2, logvar)
    assert model.decode(mu).shape == (3, 1, 28, 28)
    s = model.sample(5, torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 28, 28) and 0.0 <= s.min() and s.max() <= 1.0
    assert torch.equal(s, model.sample(5, torch.Generator().manual_seed(0)))
    rgb = VAE(channels=3, image_size=32)
    assert rgb(torch.rand(2, 3, 32, 32))[0].shape == (2, 3, 32, 32)


def test_forward_noise_comes_from_the_generator():
    model = VAE()
    x = torch.rand(2, 1, 28, 28)
    a = model(x, torch.Generator().manual_seed(3))[0]
    b = model(x, torch.Generator().manual_seed(3))[0]
    c = model(x, torch.Generator().manual_seed(4))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_arguments():
    with pytest.raises(ValueError, match="image_size must be a positive multiple of 4, got 30"):
        VAE(image_size=30)
    with pytest.raises(ValueError, match="latent_dim must be a positive int, got 0"):
        VAE(latent_dim=0)
    with pytest.raises(ValueError, match="n must be a positive int"):
        VAE().sample(0)


# --- the loss -------------------------------------------------------------------------------------


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = (
        torch.randn(7, 5, generator=g, dtype=torch.float64),
        torch.randn(7, 5, generator=g, dtype=torch.float64),
    )
    ref = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1)
    ours = vae.kl_standard_normal(mu, logvar)
    assert ours.shape == (7,)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    assert torch.equal(vae.kl_standard_normal(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


class Fixed(nn.Module):
    """A stand-in 'VAE' whose outputs are given tensors (broadcast to the batch)."""

    def __init__(self, logits, mu, logvar):
        super().__init__()
        self.out = (logits, mu, logvar)

    def forward(self, x, generator=None):
        return tuple(t.expand(len(x), *t.shape[1:]) for t in self.out)


def test_elbo_of_hand_built_cases():
    x = torch.rand(4, 1, 28, 28)
    # logits 0: every pixel costs ln 2 whatever its value; posterior = prior: KL 0
    flat = Fixed(torch.zeros(1, 1, 28, 28), torch.zeros(1, 3), torch.zeros(1, 3))
    torch.testing.assert_close(vae.elbo(flat, x), torch.full((4,), 784 * math.log(2.0)))
    assert vae.bits_per_dim(784 * math.log(2.0)) == pytest.approx(1.0, abs=1e-15)
    # mu = 1, logvar = 0 in 3 dims: KL = 3 / 2; logvar = ln 4 in 1 dim: KL = (4 - 1 - ln 4) / 2
    shifted = Fixed(torch.zeros(1, 1, 28, 28), torch.ones(1, 3), torch.zeros(1, 3))
    recon, kl = vae.elbo_terms(shifted, x)
    torch.testing.assert_close(kl, torch.full((4,), 1.5))
    wide = Fixed(torch.zeros(1, 1, 28, 28), torch.zeros(1, 1), torch.full((1, 1), math.log(4.0)))
    torch.testing.assert_close(vae.elbo_terms(wide, x)[1], torch.full((4,), (3.0 - math.log(4.0)) / 2))
    # binary pixels: the reconstruction term is the Bernoulli negative log-likelihood
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(1, 1, 28, 28, generator=g)
    xb = (torch.rand(4, 1, 28, 28, generator=g) > 0.5).float()
    recon, _ = vae.elbo_terms(Fixed(logits, torch.zeros(1, 2), torch.zeros(1, 2)), xb)
    torch.testing.assert_close(recon, -Bernoulli(logits=logits).log_prob(xb).flatten(1).sum(1))


def test_elbo_is_recon_plus_kl_for_the_model():
    model, x = VAE(), torch.rand(3, 1, 28, 28)
    recon, kl = vae.elbo_terms(model, x, torch.Generator().manual_seed(0))
    assert torch.equal(vae.elbo(model, x, torch.Generator().manual_seed(0)), recon + kl)
    assert (recon > 0).all() and (kl >= 0).all()


# --- training and evaluation ----------------------------------------------------------------------


def test_train_vae_changes_weights_lowers_loss_and_is_deterministic():
    data = toy_images(96)
    m1, m2, m3 = tiny_model(), tiny_model(), tiny_model()
    before = {k: v.clone() for k, v in m1.state_dict().items()}
    h1 = vae.train_vae(m1, data, epochs=3, batch_size=16, lr=1e-2, device="cpu", seed=5, progress=False)
    h2 = vae.train_vae(m2, data, epochs=3, batch_size=16, lr=1e-2, device="cpu", seed=5, progress=False)
    vae.train_vae(m3, data, epochs=3, batch_size=16, lr=1e-2, device="cpu", seed=6, progress=False)
    assert list(h1.columns) == vae.HISTORY_COLUMNS
    assert h1.steps.tolist() == [6, 12, 18] and (h1.kept == 0).all()
    assert h1.train_nelbo.iloc[-1] < h1.train_nelbo.iloc[0]
    assert h1.equals(h2)
    for k, v in m1.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k]), k
        assert not torch.equal(v, before[k]), k
    assert any(not torch.equal(v, m3.state_dict()[k]) for k, v in m1.state_dict().items())


def test_train_vae_with_schedule_reaches_targets():
    model = tiny_model()
    freqlib.frequency_regularize(model, 1)
    targets = [fr.k for *_, fr in freqlib.fr_weights(model)]
    schedule = freqlib.FrequencySchedule(model, 3, mode="geometric")
    assert freqlib.kept_coefficients(model) == VAE.weight_count(**TINY)
    h = vae.train_vae(model, toy_images(64), epochs=2, batch_size=16, device="cpu", schedule=schedule, progress=False)
    assert [fr.k for *_, fr in freqlib.fr_weights(model)] == targets
    assert h.kept.tolist() == [sum(targets)] * 2


def test_train_vae_rejects_bad_arguments():
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        vae.train_vae(tiny_model(), toy_images(8), epochs=0, device="cpu")
    with pytest.raises(ValueError, match="lr must be positive"):
        vae.train_vae(tiny_model(), toy_images(8), epochs=1, lr=0.0, device="cpu")


def test_evaluate_is_deterministic_and_matches_elbo():
    model, data = tiny_model(), toy_images(40)
    a = vae.evaluate_terms(model, data, batch_size=40, seed=2)
    assert a == vae.evaluate_terms(model, data, batch_size=40, seed=2)
    assert a != vae.evaluate_terms(model, data, batch_size=40, seed=3)
    with torch.no_grad():
        ref = vae.elbo(model, data.tensors[0], torch.Generator().manual_seed(2)).double().mean()
    assert a["negative ELBO"] == pytest.approx(float(ref), rel=1e-6)
    assert a["negative ELBO"] == pytest.approx(a["reconstruction"] + a["KL"], rel=1e-12)
    assert vae.evaluate_elbo(model, data, batch_size=40, seed=2) == a["negative ELBO"]
    assert not model.training


# --- FR on the VAE --------------------------------------------------------------------------------


def test_variants_use_the_appendix_keep_rule():
    assert [vae.VARIANTS[v] for v in ("v1", "v2", "v3")] == [
        PAPER_VARIANTS[f"alexnet-{v}"].keep for v in ("v1", "v2", "v3")
    ]
    expected = {
        "v1": [128, 329, 8029, 256, 256, 256, 8029, 328, 32],
        "v2": [128, 128, 804, 256, 256, 256, 804, 33, 32],
        "v3": [128, 128, 256, 256, 256, 256, 256, 32, 32],
    }
    for variant, counts in expected.items():
        table = freqlib.parameter_table(vae.make_model(variant)).drop(index="total")
        assert table["Rem. NoP."].tolist() == counts, variant
        kinds = {"Conv2d": "conv", "Linear": "linear", "ConvTranspose2d": "conv_transpose"}
        by_rule = [
            keep_count(n, vae.VARIANTS[variant], kind=kinds[t]) for t, n in zip(table["Layer Type"], table["Org. NoP."])
        ]
        assert by_rule == counts
    assert sum(expected["v1"]) == 17_643 and sum(expected["v2"]) == 2_697 and sum(expected["v3"]) == 1_600
    with pytest.raises(ValueError, match="unknown VAE variant 'v9'"):
        vae.make_model("v9")


def test_make_model_same_initialization_for_every_variant():
    dense, fr = vae.make_model("dense", seed=3, **TINY), vae.make_model("v1", seed=3, **TINY)
    freqlib.set_keep(fr, 1.0)
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(
        fr(x, torch.Generator().manual_seed(0))[0], dense(x, torch.Generator().manual_seed(0))[0], rtol=1e-4, atol=1e-5
    )


def test_fr_forward_backward_and_materialize_agree():
    small = {"hidden": 64, "width": 8}
    model = vae.make_model("v1", **small)
    x = torch.rand(4, 1, 28, 28)
    x_fr, x_mat = x.clone().requires_grad_(), x.clone().requires_grad_()
    loss_fr = vae.elbo(model, x_fr, torch.Generator().manual_seed(0)).sum()
    loss_fr.backward()
    assert all(p.grad is not None for p in model.parameters())
    plain = freqlib.materialize(vae.make_model("v1", **small))
    assert freqlib.kept_coefficients(plain) == 0 and weights(plain) == VAE.weight_count(**small)
    loss_mat = vae.elbo(plain, x_mat, torch.Generator().manual_seed(0)).sum()
    loss_mat.backward()
    torch.testing.assert_close(loss_fr, loss_mat, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(x_fr.grad, x_mat.grad, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(
            model.sample(3, torch.Generator().manual_seed(1)), plain.sample(3, torch.Generator().manual_seed(1))
        )


# --- the experiment -------------------------------------------------------------------------------


def test_run_on_a_tiny_config():
    cfg = vae.Config(
        variants=("dense", "v3"),
        train_subset=48,
        test_subset=20,
        batch_size=16,
        model_kwargs={"latent_dim": 2, "hidden": 16, "width": 4},
    )
    result = vae.run(cfg, progress=False)
    df, models = result.table("results"), result.objects["models"]
    assert set(result.timings) == {"dense", "v3"} and len(result.objects["test"]) == 20
    assert result.table("data")[["train", "test"]].values.tolist() == [[48, 20]]
    assert result.table("keep rules").variant.tolist() == ["v3"]
    assert result.table("keep rules").kept.tolist() == [df.kept.iloc[1]]
    assert [b.value for b in result.baselines] == [df["file value"].iloc[0]]
    assert len(vae.plot_reconstructions(result, cfg).axes) == 3 * 8 and len(vae.plot_samples(result, cfg).axes) == 16
    assert list(df.columns) == [*RESULT_COLUMNS, *vae.EXTRA_COLUMNS]
    assert df.variant.tolist() == ["dense", "v3"] and set(models) == {"dense", "v3"}
    assert (df.family == "vae").all() and (df.metric == vae.METRIC).all() and not df["higher is better"].any()
    n = VAE.weight_count(latent_dim=2, hidden=16, width=4)
    small = freqlib.parameter_table(models["v3"])["Rem. NoP."].drop("total").tolist()
    assert small == [64, 128, 256, 32, 32, 32, 256, 32, 32]  # the floors, or the whole weight when smaller
    assert df.kept.tolist() == [n, sum(small)] and df.original.tolist() == [n, n]
    assert df.compression.tolist() == pytest.approx([1.0, n / sum(small)])
    assert df.data.iloc[0] == "stand-in: Fashion-MNIST instead of MNIST; subset: 48 of 60,000 train, 20 of 10,000 test"
    dense, fr = df.iloc[0], df.iloc[1]
    assert dense["file value"] == dense["value"]  # float32 file: the same model
    assert fr["file value"] == pytest.approx(fr["value"], rel=1e-2)  # float16 coefficients
    assert dense["value"] == pytest.approx(dense["reconstruction"] + dense["KL"])
    assert dense["bits/dim"] == pytest.approx(dense["value"] / (784 * math.log(2)))
    assert fr["file bytes"] < dense["file bytes"]
    assert not models["v3"].training and next(models["v3"].parameters()).device.type == "cpu"


def test_run_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown: \\['v7'\\]"):
        vae.run(vae.Config(variants=["dense", "v7"]))
    with pytest.raises(ConfigError, match="profile must be one of"):
        vae.Config(profile="fast")
    with pytest.raises(ConfigError, match=r"Config \(vae\): profile 'cpu' sets unknown parameter\(s\) 'epoch'"):
        vae.Config.for_profile("cpu", {"epoch": 3})
    assert vae.Config.for_profile("cpu").train_subset == 20000  # notebooks/profiles.yml


def test_load_data_falls_back_when_mnist_is_missing(capsys):
    train, test, label = vae.load_data("mnist", None, train_subset=10, test_subset=10)
    assert "MNIST not found" in capsys.readouterr().out
    assert label.startswith("stand-in: Fashion-MNIST instead of MNIST (MNIST not found)")
    assert len(train) == len(test) == 10 and train.shape[1:] == (1, 28, 28)
    with pytest.raises(DatasetMissing):
        vae.load_data("mnist", None, fallback=None)
