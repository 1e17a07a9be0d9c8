"""The NR paper's (pNR x strength) grids: printed Figures 11 and 12 and Table 2, best_period, one cell."""

import math

import matplotlib
import pandas as pd
import pytest
import torch

from freqlib.data import ImageDataset
from freqlib.experiments.nr import grids as nr_grids

matplotlib.use("Agg")


def tiny_digits(n: int = 40, seed: int = 0) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    return ImageDataset(images, torch.arange(n) % 10, "random digits")


def small_net() -> torch.nn.Module:
    net = torch.nn.Sequential()
    net.add_module("fc1", torch.nn.Linear(30, 20))
    net.add_module("relu", torch.nn.ReLU())
    net.add_module("fc2", torch.nn.Linear(20, 10))
    return net.double()


@pytest.mark.parametrize("figure", ["fig11", "fig12"])
def test_printed_grids_have_the_papers_axes(figure):
    long = nr_grids.paper_grids(figure)
    assert len(long) == 3 * 15 * 16 and sorted(set(long.lr)) == [1.0, 1.5, 2.0]
    for lr in (1.0, 1.5, 2.0):
        table = nr_grids.paper_grid(figure, lr)
        assert table.shape == (15, 16)
        assert list(table.columns) == list(nr_grids.FIG11_PERIODS)
        assert table.index.to_numpy() == pytest.approx(nr_grids.FIG11_STRENGTHS)
        assert (table.fillna(0) >= 0).all().all()


def test_printed_grids_spot_checked_against_the_text():
    fig11 = {lr: nr_grids.paper_grid("fig11", lr) for lr in (1.0, 1.5, 2.0)}
    fig12 = {lr: nr_grids.paper_grid("fig12", lr) for lr in (1.0, 1.5, 2.0)}
    assert fig11[1.0].loc[5e-5, 1] == 111.2 and fig11[1.0].loc[3e-1, 1161] == 102.4
    assert fig11[1.5].loc[1e-2, 10] == 97.0 and fig11[1.5].loc[2e-2, 30] == 96.8
    assert fig11[2.0].loc[3e-1, 2323] == 103.1 and fig11[2.0].loc[5e-2, 100] == 96.7
    assert fig12[1.0].loc[1e-2, 1] == 499.9 and fig12[1.5].loc[3e-1, 290] == 809.1
    assert fig12[2.0].loc[3e-1, 2323] == 115.6 and fig12[2.0].loc[5e-5, 1] == 115.5
    # panel (a) of Fig. 11 prints 15 values per row: the 2323 column is empty, and only it
    assert fig11[1.0][2323].isna().all() and not fig11[1.0].drop(columns=2323).isna().any().any()
    assert not any(t.isna().any().any() for t in (fig11[1.5], fig11[2.0], *fig12.values()))


def test_table2_lstm_row_is_read_off_figure_11b():
    table2 = nr_grids.paper_table2()
    lstm = table2[(table2.model == "LSTM on PTB") & (table2.theta > 0)].set_index("theta")
    resnet = table2[(table2.model == "ResNet-32") & (table2.theta > 0)].set_index("theta")
    assert list(lstm.index) == pytest.approx(nr_grids.TABLE2_FACTORS)
    assert list(resnet.optimal_pNR) == [2, 5, 20, 100, 200, 1000]
    assert table2[table2.theta == 0].value.tolist() == [92.6, 114.6]
    long = nr_grids.paper_grids("fig11")
    best = nr_grids.best_period(long[long.lr == 1.5], "perplexity", higher_is_better=False)
    best = best.loc[list(nr_grids.TABLE2_FACTORS)]
    assert list(best.period) == list(lstm.optimal_pNR.astype(int))  # 1, 1, 1, 5, 10, 100
    gaps = (best.perplexity.to_numpy() - lstm.value.to_numpy()).round(1)
    assert list(gaps) == [-0.1, 0, 0, 0, 0, 0]  # theta 1e-4: the figure's minimum is 108.0, the table prints 108.1


def test_best_period_on_a_hand_made_frame():
    frame = pd.DataFrame(
        {
            "kind": "decay",
            "strength": [0.1, 0.1, 0.1, 0.01, 0.01, 0.01],
            "period": [1, 10, 100, 1, 10, 100],
            "accuracy": [0.5, 0.8, 0.9, 0.9, 0.9, float("nan")],
        }
    )
    best = nr_grids.best_period(frame)
    assert list(best.index) == [0.01, 0.1]
    assert list(best.period) == [1, 100]  # a tie goes to the shorter pNR; NaN is skipped
    assert list(best.accuracy) == [0.9, 0.9]
    worst = nr_grids.best_period(frame, higher_is_better=False)
    assert list(worst.period) == [1, 1]
    table = nr_grids.grid_table(frame, "decay")
    assert table.shape == (2, 3) and table.loc[0.1, 10] == 0.8 and math.isnan(table.loc[0.01, 100])
    with pytest.raises(ValueError, match="lacks columns \\['perplexity'\\]"):
        nr_grids.best_period(frame, "perplexity")
    with pytest.raises(ValueError, match="several kinds"):
        nr_grids.best_period(pd.concat([frame, frame.assign(kind="noise")]))


def test_decay_events_scale_as_the_paper_says():
    """With no gradient, N steps at pNR = p leave (1 - theta)^(N // p) w; and one event of theta * p
    every p steps removes e_w / pNR equal to one event of theta every step (the paper's constant e_w / pNR)."""
    torch.manual_seed(0)
    w0 = small_net().state_dict()
    changes = {}
    for theta, period in [(1e-3, 1), (1e-2, 10), (1e-1, 100)]:
        model = small_net()
        model.load_state_dict(w0)
        reg = nr_grids.regularizer(model, "decay", period, theta)
        for _ in range(250):
            reg.step()
        events = 250 // period
        assert len(reg.history) == events
        expected = w0["fc1.weight"] * (1 - theta) ** events
        assert torch.allclose(model.fc1.weight, expected, rtol=1e-12, atol=0)
        assert model.fc1.bias.equal(w0["fc1.bias"])  # biases are not regularized
        changes[period] = reg.history[0]["e_w"] / period
    assert changes[10] == pytest.approx(changes[1], rel=1e-12) and changes[100] == pytest.approx(changes[1], rel=1e-12)


def test_noise_events_are_seeded_and_bounded():
    torch.manual_seed(0)
    model = small_net()
    w = model.fc1.weight.detach().clone()
    reg = nr_grids.regularizer(model, "noise", 3, 0.2, seed=5)
    for _ in range(3):
        reg.step()
    ratio = model.fc1.weight.detach() / w
    assert ((ratio - 1).abs() <= 0.2 + 1e-12).all() and (ratio - 1).abs().max() > 0.19
    again = small_net()
    again.load_state_dict({**model.state_dict(), "fc1.weight": w})
    nr_grids.regularizer(again, "noise", 1, 0.2, seed=5).apply()  # another step: another draw
    assert not again.fc1.weight.equal(model.fc1.weight)


def test_one_tiny_cell_trains_and_is_reproducible():
    data = tiny_digits(20)
    args = {"steps": 6, "batch_size": 10, "lr": 1e-3}
    row = nr_grids.train_cell("decay", 2, 0.05, data, data, **args)
    assert row["kind"] == "decay" and row["period"] == 2 and row["strength"] == 0.05
    assert 0 <= row["accuracy"] <= 1 and math.isfinite(row["accuracy"])
    assert row["events"] == 2  # steps 2 and 4; none on the last step
    assert row["e_w"] > 0 and row["e_w/pNR"] == pytest.approx(row["e_w"] / 2)
    frame = nr_grids.run_grid([(None, 0, 0.0), *nr_grids.grid_cells("decay", [2], [0.05])], data, data, **args)
    base, again = frame.iloc[0], frame.iloc[1]
    assert (base.kind, base.period, base.events, base.e_w) == ("none", 0, 0, 0.0)
    assert again.accuracy == row["accuracy"] and again.e_w == row["e_w"]  # same seed: the same run


def test_bad_parameters_are_named():
    data = tiny_digits(20)
    with pytest.raises(ValueError, match="period \\(pNR\\) must be a positive int"):
        nr_grids.train_cell("decay", 0, 0.1, data, data, steps=4)
    with pytest.raises(ValueError, match="period \\(pNR\\) 4 must be below steps \\(4\\)"):
        nr_grids.train_cell("decay", 4, 0.1, data, data, steps=4)
    with pytest.raises(ValueError, match="strength \\(theta\\) must be a real number in \\[0, 1\\)"):
        nr_grids.train_cell("decay", 2, 1.5, data, data, steps=4)
    with pytest.raises(ValueError, match="strength \\(a\\)"):
        nr_grids.grid_cells("noise", [1], [-0.1])
    with pytest.raises(ValueError, match="kind must be one of decay, noise"):
        nr_grids.train_cell("dropout", 2, 0.1, data, data, steps=4)
    with pytest.raises(ValueError, match="model_name must be one of"):
        nr_grids.train_cell("decay", 2, 0.1, data, data, steps=4, model_name="vgg")
    with pytest.raises(ValueError, match="steps must be an int >= 2"):
        nr_grids.train_cell("decay", 1, 0.1, data, data, steps=1)
    with pytest.raises(ValueError, match="periods and strengths must be non-empty"):
        nr_grids.grid_cells("decay", [], [0.1])
    with pytest.raises(ValueError, match="lr must be one of"):
        nr_grids.paper_grid("fig11", 3.0)
    with pytest.raises(ValueError, match="figure must be 'fig11' or 'fig12'"):
        nr_grids.paper_grids("fig13")
    with pytest.raises(ValueError, match="profile must be one of"):
        nr_grids.Config(profile="gpu")
    with pytest.raises(ValueError, match="model must be one of"):
        nr_grids.Config(model="vgg")
    with pytest.raises(ValueError, match="grid variants must be a non-empty list of decay, noise"):
        nr_grids.Config(kinds=["dropout"])
    with pytest.raises(ValueError, match="period \\(pNR\\) 20 must be below steps \\(10\\)"):
        nr_grids.Config(steps=10)


def test_adapt_and_heatmap():
    data = tiny_digits(4)
    assert nr_grids.adapt(data, "resnet-8").shape == (4, 3, 32, 32)
    assert nr_grids.adapt(data, "lenet-5") is data
    with pytest.raises(ValueError, match="takes 1x28x28 images"):
        nr_grids.adapt(data.adapted(32, 3), "lenet-5")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    table = nr_grids.paper_grid("fig11", 1.0)
    nr_grids.heatmap(ax, table, title="Fig. 11(a)", higher_is_better=False)
    assert len(ax.texts) == 15 * 15 and len(ax.patches) == 15  # the NaN column has no labels
    plt.close(fig)


def test_grows_with_strength():
    best = pd.DataFrame({"period": [1, 5, 5, 100]}, index=[1e-4, 1e-3, 1e-2, 5e-2])
    assert nr_grids.grows_with_strength(best)
    assert not nr_grids.grows_with_strength(best.assign(period=[5, 1, 5, 100]))
    assert not nr_grids.grows_with_strength(best.assign(period=5))
    table2 = nr_grids.paper_table2().dropna()
    resnet = table2[table2.model == "ResNet-32"].set_index("theta").rename(columns={"optimal_pNR": "period"})
    assert nr_grids.grows_with_strength(resnet)
    with pytest.raises(ValueError, match="at least 2 strengths"):
        nr_grids.grows_with_strength(best.iloc[:1])


def test_batch_grid_keeps_the_images_shown_and_decays_every_step():
    data = tiny_digits(20)
    assert nr_grids.steps_for_batch(40, 10) == 4 and nr_grids.steps_for_batch(40, 40) == 2
    assert nr_grids.batch_cells([10, 20], [0.0, 0.01]) == [(10, 0.0), (10, 0.01), (20, 0.0), (20, 0.01)]
    frame = nr_grids.run_batch_grid([5, 10], [0.0, 0.05], data, data, images=40, lr=1e-3)
    assert list(frame.batch_size) == [5, 5, 10, 10] and list(frame.steps) == [8, 8, 4, 4]
    assert (frame.period == 1).all() and (frame.kind == "decay").all()
    # pNR = 1: one event per step before the last; theta 0 trains without a regularizer
    assert list(frame.events) == [0, 7, 0, 3]
    assert frame.e_w.iloc[0] == 0.0 and frame.e_w.iloc[1] > 0
    # the theta 0 cell is the plain run of that batch size
    plain = nr_grids.train_cell(None, 1, 0.0, data, data, steps=8, batch_size=5, lr=1e-3)
    assert frame.accuracy.iloc[0] == plain["accuracy"]
    best = nr_grids.best_factor(
        pd.DataFrame(
            {"batch_size": [8, 8, 64, 64], "strength": [1e-4, 1e-3, 1e-4, 1e-3], "accuracy": [0.9, 0.8, 0.7, 0.75]}
        )
    )
    assert best.to_dict() == {8: 1e-4, 64: 1e-3}
    with pytest.raises(ValueError, match="batch_sizes: every batch size must be a positive int"):
        nr_grids.batch_cells([0], [0.1])
    with pytest.raises(ValueError, match="images must be a positive int"):
        nr_grids.steps_for_batch(0, 10)


def test_run_on_a_tiny_config_returns_the_chapter_tables_and_claims():
    cfg = nr_grids.Config(
        train_subset=40,
        test_subset=20,
        periods=[1, 2],
        factors=[0.05],
        amplitudes=[0.1],
        steps=4,
        batch_size=10,
        batch_sizes=[10, 20],
        batch_factors=[0.0, 0.05],
        batch_images=40,
    )
    result = nr_grids.run(cfg, progress=False)
    results = result.table("results")
    cells = [("none", 0), ("decay", 1), ("decay", 2), ("noise", 1), ("noise", 2)]
    assert list(zip(results.kind, results.period)) == cells
    assert (results["test images"] == 20).all()
    assert result.table("data")[["train", "test", "model"]].values.tolist() == [[40, 20, "lenet-5"]]
    assert list(result.table("by batch").steps) == [4, 4, 2, 2]
    assert list(result.table("fig10 best").index) == [10, 20]
    assert result.table("best decay").loc[0.05, "ours best pNR"] in (1, 2)
    assert list(result.table("best noise").index) == [0.1]
    assert [b.model for b in result.baselines] == ["LeNet-5 without regularization"] + [
        f"LeNet-5 without regularization, batch {b}" for b in (10, 20)
    ]
    assert set(result.timings) == {"grids", "fig10", "run"}
    claims = {c.claim: c for c in nr_grids.claims(result, cfg)}
    assert claims["Table 2 (LSTM row) is the row minimum of Fig. 11(b)"].kind == "exact"
    trained = [c for c in claims.values() if c.kind == "trained" and c.verdict != "not comparable"]
    assert trained and all(c.verdict == "undecided" for c in trained)  # 4 steps: far below the target
    stored = nr_grids.stored_results(results)
    assert "train s" not in stored and len(stored) == len(results)
