"""Reference-run records (freqlib.records): writing, loading damaged files, staleness, and the committed ones."""

import json
import subprocess
import sys
import types
from dataclasses import dataclass

import nbformat
import pytest
import yaml

from freqlib import experiments, records
from freqlib.book import Book, repo_root
from freqlib.experiment import Config
from freqlib.records import RECORD_FIELDS, RecordError, load_record, run_reference, stale_reasons

TOY = """
from dataclasses import dataclass

import pandas as pd
import yaml

from freqlib import claims, report
from freqlib.experiment import ChapterResult, Config


@dataclass(frozen=True)
class ToyConfig(Config):
    chapter = "toy"
    epochs: int = 1


cfg = ToyConfig.for_profile(profile, overrides, profiles=yaml.safe_load(open("profiles.yml")))
target = claims.Target("dense toy", "toy data", "accuracy", 0.5, "our choice")
result = ChapterResult(
    tables={"data": pd.DataFrame([{"data set": "toy", "train": 10 * cfg.epochs, "test": 5}])},
    baselines=[target.baseline(0.75)],
)
report.claims([claims.exact("epochs is given", "any", str(cfg.epochs), holds=True, reason="given",
                            profile=cfg.profile, data="toy")])
report.record(result, cfg)
"""


@dataclass(frozen=True)
class ToyConfig(Config):
    chapter = "toy"
    epochs: int = 1


def _git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def book(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    profiles = {
        "profiles": {"smoke": "s", "cpu": "c", "reference": "r", "paper": "p"},
        "notebooks": {"toy": {"smoke": {}, "cpu": {}, "reference": {"epochs": 3}, "paper": {}}, "plain": {}},
    }
    (tmp_path / "notebooks" / "profiles.yml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy"),
        nbformat.v4.new_code_cell('profile = "smoke"\noverrides = {}', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(TOY),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "notebooks" / "toy.ipynb")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "toy")
    module = types.ModuleType("freqlib.experiments.toy")
    module.Config, module.run, module.claims = ToyConfig, lambda cfg: None, lambda result, cfg: []
    monkeypatch.setitem(sys.modules, "freqlib.experiments.toy", module)
    monkeypatch.setitem(experiments.CHAPTERS, "toy", "toy")
    monkeypatch.chdir(tmp_path)
    return Book(tmp_path)


def test_a_reference_run_writes_the_notebook_and_a_complete_record(book):
    path = run_reference(book, "toy", echo=lambda *_: None)
    assert path == book.root / "results" / "reference" / "toy" / "record.json"
    assert (path.parent / "toy.ipynb").is_file()
    record = load_record(path)
    assert list(record) == list(RECORD_FIELDS)
    assert record["commit"] == _git(book.root, "rev-parse", "HEAD") and record["profile"] == "reference"
    assert record["parameters"] == {"profile": "reference", "epochs": 3}  # the reference entry
    assert record["data"] == [{"data set": "toy", "train": 30, "test": 5}]
    assert record["baselines"][0] | {"met": True} == record["baselines"][0] and record["baselines"][0]["value"] == 0.75
    assert [(c["claim"], c["kind"], c["ours"]) for c in record["claims"]] == [("epochs is given", "exact", "3")]
    assert record["tables"]["data"]["columns"] == ["data set", "train", "test"]
    assert record["wall_s"] > 0 and record["threads"] >= 1 and record["host"] and record["torch"]


def test_a_dirty_tree_or_a_chapter_without_a_reference_entry_is_refused(book):
    with pytest.raises(RecordError, match="no 'reference' entry"):
        run_reference(book, "plain", echo=lambda *_: None)
    (book.root / "notebooks" / "profiles.yml").write_text((book.root / "notebooks" / "profiles.yml").read_text() + "\n")
    with pytest.raises(RecordError, match="clean tree.*notebooks/profiles.yml"):
        run_reference(book, "toy", echo=lambda *_: None)
    assert not (book.root / "results").exists()


def test_a_damaged_record_fails_loudly_naming_the_file(tmp_path):
    path = tmp_path / "record.json"
    path.write_text('{"chapter": "toy", "profile"')
    with pytest.raises(RecordError, match=f"{path}: not a readable record"):
        load_record(path)
    path.write_text(json.dumps({k: None for k in RECORD_FIELDS if k != "claims"}))
    with pytest.raises(RecordError, match="record misses claims"):
        load_record(path)
    path.write_text(json.dumps({k: [] for k in RECORD_FIELDS}))
    with pytest.raises(RecordError, match="wrong type: parameters, tables, wall_s"):
        load_record(path)


def test_a_record_goes_stale_when_its_parameters_or_its_code_change(book):
    path = run_reference(book, "toy", echo=lambda *_: None)
    record = load_record(path)
    assert stale_reasons(book, "toy", record) == []
    _git(book.root, "add", ".")
    _git(book.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "record")
    assert stale_reasons(book, "toy", record) == []  # committing the record itself changes nothing
    assert stale_reasons(book, "toy", {**record, "parameters": {"profile": "reference", "epochs": 2}}) == [
        "parameters differ from the reference profile: epochs"
    ]
    nb_path = book.root / "notebooks" / "toy.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="refreshed outputs only")]
    nbformat.write(nb, nb_path)
    assert stale_reasons(book, "toy", record) == []  # outputs are not code
    nb.cells[2].source += "\nprint('changed')"
    nbformat.write(nb, nb_path)
    assert stale_reasons(book, "toy", record) == [f"changed since {record['commit'][:12]}: notebooks/toy.ipynb"]
    assert "not in this checkout's history" in stale_reasons(book, "toy", {**record, "commit": "0" * 40})[0]
    table = records.status_table(book)
    assert table.to_dict("records")[0] | {"stale": "x"} == {
        "chapter": "toy",
        "commit": record["commit"][:12],
        "started": record["started"],
        "wall s": record["wall_s"],
        "trained claims decided": "0/0",
        "baselines met": True,
        "stale": "x",
    }


def test_committed_reference_records_are_current():
    """Every record in results/reference matches the reference profile and the code since its commit."""
    book = Book(repo_root())
    for name, record in records.records(book).items():
        assert stale_reasons(book, name, record) == [], f"{name}: rerun freqlib run {name} --profile reference"


def test_a_chapter_record_depends_on_its_notebook_and_its_module():
    assert records.chapter_files(Book(repo_root()), "vae") == ["notebooks/vae.ipynb", "freqlib/experiments/fr/vae.py"]


def test_a_chapter_shows_its_reference_run_or_says_there_is_none(book, capsys):
    import matplotlib

    matplotlib.use("Agg")
    from freqlib import report

    assert report.reference_run("toy", root=book.root) is None
    assert "No reference run recorded for toy yet (results/reference/toy/record.json)" in capsys.readouterr().out
    run_reference(book, "toy", echo=lambda *_: None)
    record = report.reference_run("toy", root=book.root)
    out = capsys.readouterr().out
    assert record["parameters"]["epochs"] == 3
    assert f"reference run of toy: profile reference, commit {record['commit'][:12]}" in out
    assert "current: parameters and code match" in out and "epochs is given" in out and "dense toy" in out


def test_the_status_page_leads_with_the_reference_runs(book):
    from freqlib.book import write_status_page

    assert "No chapter has a reference record yet" in write_status_page(book).read_text()
    run_reference(book, "toy", echo=lambda *_: None)
    page = write_status_page(book).read_text()
    assert page.index("## Reference runs") < page.index("No executed notebook holds claims yet")
    assert "no reference record holds this claim" in page  # the toy claims no headline
    assert "| toy | " in page and "| 0/0 | True | no |" in page
