"""``freqlib experiment MODULE``: every experiment module with a ``run()`` is reachable and prints a table."""

from __future__ import annotations

import importlib
import pkgutil
from types import SimpleNamespace

import pandas as pd
import pytest

from freqlib import cli, experiments

EXPERIMENTS = ["classify", "dct_zigzag", "fr_tables", "gan", "lenet5", "nr_architectures", "nr_grids", "nr_lowrank",
               "nr_lstm", "nr_pruning", "pointwise_imagenet", "pointwise_train", "segment", "spectrum",
               "vae"]  # fmt: skip


def test_known_experiments_are_the_modules_with_a_run_function():
    assert cli.known_experiments() == sorted(set(EXPERIMENTS) | set(experiments.CHAPTERS))
    for name in EXPERIMENTS:
        assert callable(cli.load_experiment(name).run)
    walked = pkgutil.walk_packages(experiments.__path__, "freqlib.experiments.")
    modules = [importlib.import_module(info.name) for info in walked if not info.ispkg]
    with_run = sorted(
        m.__name__.removeprefix("freqlib.experiments.") for m in modules if callable(getattr(m, "run", None))
    )
    assert with_run == sorted(experiments.EXPERIMENTS.values())  # the registry lists every module with a run()


def test_result_table_accepts_a_frame_a_result_object_or_a_tuple():
    frame = pd.DataFrame({"a": [1]})
    assert cli.result_table(frame) is frame
    with_column = pd.DataFrame({"table": ["t5"], "accuracy": [0.9]})  # a column named "table" is not a result
    assert cli.result_table(with_column) is with_column
    assert cli.result_table(SimpleNamespace(table=frame)) is frame
    assert cli.result_table((frame, {}, "label")) is frame
    with pytest.raises(TypeError, match=r"toy.run\(\) returned str, not a pandas DataFrame"):
        cli.result_table("oops", "toy.run()")
    with pytest.raises(TypeError, match="returned tuple"):
        cli.result_table(())


def test_pointwise_imagenet_from_the_command_line(capsys, tmp_path):
    out = tmp_path / "macs.csv"
    args = ["experiment", "pointwise_imagenet", "-p", "widths", "[1.0]", "-p", "resolutions", "[224]"]
    assert cli.main([*args, "--out", str(out)]) == 0
    assert "1.0-224" in capsys.readouterr().out
    row = pd.read_csv(out).iloc[0]
    assert row.dense == pytest.approx(300.8e6, rel=0.01)  # MobileNetV2 1.0-224: 300M MACs (Sandler et al.)


def test_pointwise_train_from_the_command_line(capsys, tmp_path):
    out = tmp_path / "train.csv"
    params = {"train_subset": "64", "test_subset": "32", "size": "8", "batch_size": "32", "max_steps": "2",
              "targets": "[1.5]", "strategies": "[channel]", "schemes": "[learn-then-refine]", "mask_steps": "2",
              "refine_steps": "2", "cycles": "1", "profile_images": "16"}  # fmt: skip
    args = ["experiment", "pointwise_train", *[a for name, value in params.items() for a in ("-p", name, value)]]
    assert cli.main([*args, "--out", str(out)]) == 0
    table = pd.read_csv(out)  # the "results" table: dense, sweep and learned rows
    assert table.columns[0] == "part" and table.columns[-1] == "model"
    assert table.part.tolist() == ["dense", "sweep", "sweep", "learned"]  # one strategy and the resolution baseline
    assert table.scheme.iloc[-1] == "learn-then-refine"


def test_nr_lowrank_from_the_command_line(capsys, tmp_path):
    out = tmp_path / "lowrank.csv"
    params = {"train_subset": "64", "test_subset": "32", "blocks": "1", "pretrain_steps": "2", "steps": "2",
              "period": "2", "probe_size": "16", "tiles": "[4]", "vgg_pretrain_steps": "2", "vgg_fc_steps": "2",
              "vgg_steps": "2", "vgg_period": "2"}  # fmt: skip
    args = ["experiment", "nr_lowrank", *[a for name, value in params.items() for a in ("-p", name, value)]]
    assert cli.main([*args, "--out", str(out)]) == 0
    table = pd.read_csv(out)  # the "results" table: every trained row, labelled by its part
    assert table.part.tolist() == ["models"] * 2 + ["fig7"] * 2 + ["table5"] + ["fig18"] * 3 + ["table6"] * 2
    assert table["fc compression"].iloc[1] == 8.0  # VGG19's two hidden FC layers at 8x
    assert table.scheme.iloc[-2:].tolist() == ["Tucker (typical)", "tiled SVD 8x8 (occasional)"]
    assert table.data.iloc[0].startswith("stand-in: Fashion-MNIST")
    assert cli.main(["experiment", "nr_lowrank", "-p", "model", "vgg"]) == 2
    assert "unknown parameter(s) 'model'" in capsys.readouterr().err


def test_parts_table_labels_and_unites_the_columns():
    from freqlib.experiments import parts_table

    table = parts_table({"b": pd.DataFrame({"x": [1, 2]}), "a": pd.DataFrame({"y": [3.0]})})
    assert list(table.columns) == ["part", "x", "y"] and table.part.tolist() == ["b", "b", "a"]
    assert table.index.tolist() == [0, 1, 2] and table.y.isna().tolist() == [True, True, False]


def test_a_chapter_runs_by_its_name_and_a_shared_module_names_its_chapters(capsys, tmp_path):
    out = tmp_path / "resnet.csv"
    params = {"train_subset": 4, "test_subset": 4, "batch_size": 4}
    table = cli.run_experiment("resnet", params, out)
    assert table.variant.tolist() == ["dense", "resnet-v3"] and set(table.family) == {"resnet"}
    assert pd.read_csv(out).variant.tolist() == ["dense", "resnet-v3"]
    with pytest.raises(cli.ExperimentError, match="'classify' serves several chapters: name one of alexnet, vgg"):
        cli.run_experiment("classify", {})
    with pytest.raises(cli.ExperimentError, match="sets unknown parameter\\(s\\) 'family'"):
        cli.run_experiment("resnet", {"family": "vgg"})
