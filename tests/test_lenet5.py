"""The LeNet-5 chapter's experiment (freqlib.experiments.fr.lenet5) on a tiny config; its claims are
tested on hand-made tables in test_claims_fr_classify.py."""

import pytest

from freqlib.experiment import ConfigError
from freqlib.experiments.fr import lenet5


def test_run_on_a_tiny_config():
    cfg = lenet5.Config(datasets=("mnist5k",), train_subset=64, test_subset=40, batch_size=32, keep_totals=(200, 776))
    result = lenet5.run(cfg, progress=False)
    df = result.table("results")
    assert list(df.columns) == lenet5.RESULTS_COLUMNS
    assert df.model.tolist() == ["dense", "FR 200", "FR 776"] and (df.data == "mnist5k").all()
    assert df.kept.tolist() == [430_500, 200, 776] and (df["test images"] == 40).all()
    assert df["float16 file accuracy"].isna().tolist() == [True, False, False]
    assert df["file bytes"].iloc[0] > 400 * df["file bytes"].iloc[2]
    assert result.table("weights").values.tolist() == [[430_500, 580]]
    assert result.table("splits").loc[776].iloc[:4].tolist() == [128, 128, 264, 256]
    assert result.table("FR 776 parameters").loc["total", "Rem. NoP."] == 776
    assert result.table("data")[["train", "test"]].values.tolist() == [[64, 40]]
    assert result.table("data").label.iloc[0].startswith("stand-in: MNIST-5k")
    accuracy = result.table("accuracy")
    assert accuracy["drop (pp)"].iloc[0] == 0 and accuracy["coefficient bytes"].tolist()[1:] == [400, 1552]
    history = result.table("history")
    assert len(history) == 3 and history.steps.tolist() == [2, 2, 2]  # one epoch of two batches each
    assert [b.value for b in result.baselines] == [df.accuracy.iloc[0]]
    assert set(result.timings) == {"mnist5k dense", "mnist5k FR 200", "mnist5k FR 776", "run"}
    kinds = [c.kind for c in lenet5.claims(result, cfg)]
    assert kinds == ["exact", "by construction", "exact", "trained"]
    assert len(lenet5.plot_accuracy(result, cfg).axes) == 1 and len(lenet5.plot_history(result, cfg).axes) == 2


def test_the_same_initialization_for_every_model():
    train, test, _ = lenet5.load_data("mnist5k", train_subset=8, test_subset=8)
    kwargs = dict(epochs=1, batch_size=8, lr=0.0, fr_lr=0.0, progress=False)
    dense, _ = lenet5.train_model(None, train, test, **kwargs)
    fr, _ = lenet5.train_model(776, train, test, **kwargs)
    assert (dense.conv1.weight == lenet5.train_model(None, train, test, **kwargs)[0].conv1.weight).all()
    assert fr.conv1.weight.shape == dense.conv1.weight.shape


def test_run_rejects_bad_arguments():
    with pytest.raises(ValueError, match="no convergence target for data set 'kmnist'"):
        lenet5.run(lenet5.Config(datasets=("kmnist",)))
    with pytest.raises(ValueError, match="keep_totals"):
        lenet5.run(lenet5.Config(keep_totals=(0,)))
    with pytest.raises(ConfigError, match=r"Config \(lenet5\): profile 'cpu' sets unknown parameter\(s\) 'epoch'"):
        lenet5.Config.for_profile("cpu", {"epoch": 3})
    cfg = lenet5.Config.for_profile("cpu")  # notebooks/profiles.yml
    assert (
        cfg.epochs_of("mnist5k") == 10 and cfg.epochs_of("fashion_mnist") == 2 and lenet5.Config().epochs_of("x") == 1
    )
