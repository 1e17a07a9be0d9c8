"""freqlib.claims: kinds, verdicts, power (baselines against targets, standard error against tolerance)."""

import math

import pytest

from freqlib import claims
from freqlib.claims import Baseline, ClaimError, Target

TARGET = Target("dense LeNet-5", "mnist5k", "accuracy", 0.95, "our choice: test")


def drop_claim(drop, se, dense=0.97, **kw):
    return claims.trained(
        "LeNet-5 loses < 2%",
        "< 2 points",
        f"{drop} points",
        value=drop,
        expected=2.0,
        tolerance=1.0,
        se=se,
        baselines=[TARGET.baseline(dense)],
        relation="at most",
        unit=" pp",
        **kw,
    )


def test_trained_reproduced_when_powered():
    c = drop_claim(1.2, 0.4)
    assert (c.kind, c.verdict) == ("trained", "reproduced")
    assert "0.97 meets its target 0.95" in c.reason and "standard error 0.4 pp" in c.reason


def test_trained_not_reproduced_when_powered():
    c = drop_claim(4.5, 0.4)
    assert c.verdict == "not reproduced"
    assert "4.5 pp is not at most 2 pp" in c.reason


def test_trained_close_within_tolerance_beyond_the_bound():
    assert drop_claim(2.6, 0.4).verdict == "close"


def test_trained_undecided_when_a_baseline_misses_its_target():
    c = drop_claim(4.5, 0.4, dense=0.2075)
    assert c.verdict == "undecided"
    assert "dense LeNet-5 accuracy 0.2075 below its target 0.95 (our choice: test)" in c.reason


def test_trained_undecided_when_the_standard_error_is_too_large():
    c = drop_claim(0.5, 1.6)
    assert c.verdict == "undecided"
    assert "standard error 1.6 pp is not below the tolerance 1 pp" in c.reason


def test_trained_undecided_names_every_failed_condition():
    c = drop_claim(0.5, math.nan, dense=math.nan)
    assert c.verdict == "undecided"
    assert "nan below its target" in c.reason and "standard error nan" in c.reason


def test_trained_without_standard_error_is_undecided():
    assert "no standard error" in drop_claim(0.5, None).reason


def test_lower_is_better_baseline():
    ppl = Target("dense LSTM", "kjv", "perplexity", 150.0, "our choice", higher_is_better=False)
    assert ppl.baseline(120.0).met and not ppl.baseline(180.0).met
    assert "180 above its target 150" in ppl.baseline(180.0).describe()
    assert ppl.baseline(120.0).as_dict() == {
        "model": "dense LSTM",
        "metric": "perplexity",
        "value": 120.0,
        "target": 150.0,
        "source": "our choice",
        "higher_is_better": False,
        "met": True,
    }


@pytest.mark.parametrize(
    "gain, se, verdict",
    [(1.0, 0.2, "reproduced"), (-1.0, 0.2, "not reproduced"), (0.3, 0.2, "close")],
)
def test_direction_needs_two_standard_errors(gain, se, verdict):
    c = claims.trained(
        "A beats B", "A > B", str(gain), value=gain, expected=0.0, tolerance=0.5, se=se, relation="greater"
    )
    assert c.verdict == verdict


def test_within_relation():
    assert claims.compare(10.2, 10.0, 0.3)[0] == "reproduced"
    assert claims.compare(10.5, 10.0, 0.3)[0] == "close"
    assert claims.compare(11.0, 10.0, 0.3)[0] == "not reproduced"
    assert claims.compare(math.nan, 10.0, 0.3)[0] == "not reproduced"
    assert claims.compare(3.0, 2.0, 1.0, "at least")[0] == "reproduced"
    assert claims.compare(1.5, 2.0, 1.0, "at least")[0] == "close"


def test_exact_claims():
    c = claims.exact("kept numbers", "776", "776", value=776, expected=776)
    assert (c.kind, c.verdict) == ("exact", "reproduced")
    c = claims.exact("kept numbers", "776", "777", value=777, expected=776, tolerance=0)
    assert c.verdict == "not reproduced" and "777 is 1 from 776" in c.reason
    c = claims.exact("ratio", "> 1100x", "1109x", holds=True, reason="1109 > 1100")
    assert c.verdict == "reproduced" and c.reason == "1109 > 1100"
    with pytest.raises(ClaimError, match="needs value= and expected=, or holds="):
        claims.exact("x", "1", "1")
    with pytest.raises(ClaimError, match="needs the reason"):
        claims.exact("x", "1", "1", holds=True)


def test_by_construction_and_other_verdicts():
    c = claims.by_construction("pruning rate", "92%", "92.0%", reason="pruned to the printed per-layer rates")
    assert (c.kind, c.verdict) == ("by construction", "by construction")
    c = claims.paper_inconsistent("r=9 row", "5.55M", "5.34M", reason="64/18 = 3.56x gives 5.34M")
    assert (c.kind, c.verdict) == ("exact", "paper inconsistent")
    c = claims.not_comparable("Dice > 97%", "97%", "88%", reason="stand-in data")
    assert (c.kind, c.verdict) == ("trained", "not comparable")


@pytest.mark.parametrize(
    "kind, verdict, message",
    [
        ("guess", "reproduced", "kind must be one of"),
        ("exact", "great", "verdict must be one of"),
        ("exact", "by construction", "belongs to kind 'by construction'"),
        ("by construction", "reproduced", "belongs to kind 'by construction'"),
        ("exact", "undecided", "only a trained claim can be undecided"),
    ],
)
def test_claim_validation(kind, verdict, message):
    with pytest.raises(ClaimError, match=message):
        claims.Claim("the claim", kind, "p", "o", verdict, "why")


def test_claim_needs_a_reason_and_a_known_headline():
    with pytest.raises(ClaimError, match="states the reason"):
        claims.Claim("c", "exact", "p", "o", "reproduced", "")
    with pytest.raises(ClaimError, match="headline must be one of"):
        claims.Claim("c", "exact", "p", "o", "reproduced", "r", headline="nope")
    row = claims.Claim("c", "exact", "p", "o", "reproduced", "r", headline="fr-unet-759").row()
    assert tuple(row) == claims.FIELDS and row["headline"] == "fr-unet-759"


def test_standard_errors():
    assert claims.binomial_se(0.9, 400) == pytest.approx(0.015)
    assert claims.binomial_se(0.5, 0) == math.inf
    assert claims.seed_se([1.0, 2.0, 3.0]) == pytest.approx(1 / math.sqrt(3))
    assert claims.seed_se([1.0]) == math.inf
    assert claims.difference_se(3.0, 4.0) == pytest.approx(5.0)


def test_unknown_relation():
    with pytest.raises(ClaimError, match="relation must be one of"):
        claims.compare(1.0, 1.0, 0.1, "about")


def test_baseline_is_frozen_and_reports_met():
    b = Baseline("dense", "Dice", 0.9, 0.95, "src")
    assert not b.met and b.as_dict()["met"] is False


def test_beats_everywhere_decides_on_the_weakest_cell():
    assert claims.weakest([2.0, 0.5, 3.0], [0.5, 0.5, 0.1]) == 1
    assert claims.weakest([2.0, math.nan], [0.5, 0.5]) == 1  # NaN decides (against)
    c = claims.beats_everywhere("A > B", "everywhere", "gains", gains=[2.0, 1.5], ses=[0.3, 0.3], tolerance=0.5)
    assert c.verdict == "reproduced"
    c = claims.beats_everywhere("A > B", "everywhere", "gains", gains=[2.0, -1.5], ses=[0.3, 0.3], tolerance=0.5)
    assert c.verdict == "not reproduced"
    c = claims.beats_everywhere(
        "A > B", "everywhere", "gains", gains=[2.0, 1.5], ses=[0.3, 0.6], tolerance=0.5, unit=" points"
    )
    assert c.verdict == "undecided" and "standard error 0.6 points is not below the tolerance 0.5 points" in c.reason
    with pytest.raises(ClaimError, match="as many standard errors as gains"):
        claims.weakest([1.0], [])


def test_baseline_table_and_units():
    table = claims.baseline_table([TARGET.baseline(0.97), TARGET.baseline(0.5, "other")])
    assert list(table.columns) == ["model", "metric", "value", "target", "met", "source"]
    assert table.met.tolist() == [True, False] and table.model.tolist() == ["dense LeNet-5", "other"]
    assert "1 point from 3 points" in claims.compare(4.0, 3.0, 0.5, unit=" points")[1]
