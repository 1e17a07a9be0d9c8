"""Sweeps on a real local Dask cluster of 2 worker processes: grid, retries, failures, the tidy table."""

import nbformat
import pytest
import yaml

from freqlib import cli
from freqlib.sweep import RUN_COLUMNS, grid_points, read_results, sweep

BODY = """
from pathlib import Path
import pandas as pd
from freqlib import report
if (a, b) == tuple(fail_at):
    raise RuntimeError(f"deliberate failure at a={a}, b={b}")
marker = Path(markers) / f"{a}-{b}"
if (a, b) == tuple(flaky_at) and not marker.exists():
    marker.touch()
    raise RuntimeError("fails on the first attempt only")
report.results(pd.DataFrame({"variant": ["x", "y"], "value": [a * b, a + b + offset], "profile": [profile] * 2}))
"""


@pytest.fixture
def book(tmp_path):
    (tmp_path / "notebooks").mkdir()
    profiles = {"profiles": {"smoke": "s", "cpu": "c", "paper": "p"}, "notebooks": {"tiny": {"cpu": {"offset": 100}}}}
    (tmp_path / "notebooks" / "profiles.yml").write_text(yaml.safe_dump(profiles))
    nb = nbformat.v4.new_notebook()
    params = 'profile = "smoke"\na = 0\nb = 0\noffset = 0\nfail_at = [-1, -1]\nflaky_at = [-1, -1]\nmarkers = "."'
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny"),
        nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(BODY),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "notebooks" / "tiny.ipynb")
    (tmp_path / "markers").mkdir()
    return tmp_path


def test_grid_points_is_the_cartesian_product_last_name_fastest():
    assert grid_points({"a": [1, 2], "b": ["x", "y", "z"]}) == [
        {"a": a, "b": b} for a in (1, 2) for b in ("x", "y", "z")
    ]
    with pytest.raises(ValueError, match="grid 'a': give a non-empty list"):
        grid_points({"a": []})
    assert cli.parse_grid(["lr=1e-3,0.01", "name=dense,fr"]) == {"lr": [0.001, 0.01], "name": ["dense", "fr"]}
    with pytest.raises(ValueError, match="expected NAME=V1,V2"):
        cli.parse_grid(["lr"])
    # YAML 1.1 reads 1e-3 as a string; -p and --grid read it as the number a user means
    values = ["1e-3", "2E5", "none", "null", "[1, 2]", "3", "dense", "1.5e-3"]
    assert [cli.parse_value(v) for v in values] == [0.001, 200000.0, None, None, [1, 2], 3, "dense", 0.0015]


def test_sweep_on_two_local_workers_retries_once_and_reports_failures(book, capsys):
    out = book / "sweep"
    table = sweep(
        "tiny",
        {"a": [1, 2], "b": [3, 4]},
        profile="cpu",
        parameters={"fail_at": [2, 4], "flaky_at": [1, 4], "markers": str(book / "markers")},
        out_dir=out,
        workers=2,
        progress=False,
        root=book,
    )
    assert list(table.columns[:2]) == ["a", "b"] and set(RUN_COLUMNS) <= set(table.columns)
    runs = table.drop_duplicates("run").set_index(["a", "b"])
    assert runs.loc[(2, 4), "status"] == "failed" and "deliberate failure at a=2, b=4" in runs.loc[(2, 4), "error"]
    assert runs.loc[(2, 4), "attempts"] == 2  # retried once, then reported
    assert runs.loc[(1, 4), "status"] == "ok" and runs.loc[(1, 4), "attempts"] == 2  # the retry succeeded
    assert (runs.loc[[(1, 3), (2, 3)], "attempts"] == 1).all()
    ok = table[table.status == "ok"]
    assert len(ok) == 6 and len(table) == 7  # two stored rows per successful run, one row for the failure
    x = ok[ok.variant == "x"].set_index(["a", "b"])["value"]
    y = ok[ok.variant == "y"].set_index(["a", "b"])["value"]
    assert x.to_dict() == {(1, 3): 3, (1, 4): 4, (2, 3): 6}
    assert y.to_dict() == {(1, 3): 104, (1, 4): 105, (2, 3): 105}  # cpu profile's offset from profiles.yml
    assert (ok.profile == "cpu").all()
    assert "run 3 {'a': 2, 'b': 4} failed after 2 attempts" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.ipynb")) == [f"tiny-{i}.ipynb" for i in range(4)]
    stored = read_results(out / "results.csv")
    assert stored[["a", "b", "run", "status", "value"]].equals(table[["a", "b", "run", "status", "value"]])


def test_sweep_rejects_unknown_notebooks_and_overlapping_parameters(book, tmp_path):
    with pytest.raises(FileNotFoundError, match="notebook 'nope'"):
        sweep("nope", {"a": [1]}, root=book, progress=False)
    with pytest.raises(ValueError, match=r"parameters \['a'\] are both fixed and in the grid"):
        sweep("tiny", {"a": [1]}, parameters={"a": 2}, root=book, progress=False)
    (tmp_path / "other.csv").write_text("x\n1\n")
    with pytest.raises(ValueError, match="is not a sweep table"):
        read_results(tmp_path / "other.csv")
    with pytest.raises(FileNotFoundError, match="no sweep table"):
        read_results(tmp_path / "missing.csv")
