"""Result tables stored in notebook outputs, gathered by other chapters; the `uses:` cache key."""

import pandas as pd
import pytest
import yaml

from freqlib.book import Book, gather_results, notebook_results, run_notebook

from .test_runner import _notebook


@pytest.fixture
def book(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    profiles = {
        "profiles": {"smoke": "s", "cpu": "c", "paper": "p"},
        "notebooks": {
            "family": {"smoke": {}, "cpu": {"size": 3}},
            "silent": {"smoke": {}, "cpu": {}},
            "reader": {"uses": ["family"], "smoke": {}, "cpu": {}},
        },
    }
    (tmp_path / "notebooks" / "profiles.yml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    body = (
        "import pandas as pd\nfrom freqlib import report\n"
        "report.results(pd.DataFrame({'variant': ['dense', 'v1'], 'value': [0.5, size / 10]}))"
    )
    _notebook(tmp_path / "notebooks" / "family.ipynb", body)
    _notebook(tmp_path / "notebooks" / "silent.ipynb", "print('nothing stored')")
    _notebook(tmp_path / "notebooks" / "reader.ipynb", "print('reads family')")
    monkeypatch.chdir(tmp_path)
    return Book(tmp_path)


def test_results_round_trip_through_the_executed_notebook(book):
    assert run_notebook(book, "family", "cpu").status == "ok"
    frame = notebook_results(book.executed("family"))
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"variant": ["dense", "v1"], "value": [0.5, 0.3]}))
    gathered = gather_results(["family"], book=book)
    assert list(gathered.columns) == ["variant", "value", "notebook", "profile"]
    assert set(gathered.profile) == {"cpu"} and set(gathered.notebook) == {"family"}


def test_missing_or_empty_results_fail_naming_the_notebook(book):
    with pytest.raises(FileNotFoundError, match="family"):
        gather_results(["family"], book=book)
    run_notebook(book, "silent", "cpu")
    with pytest.raises(FileNotFoundError, match="silent.ipynb stored no results"):
        gather_results(["silent"], book=book)
    with pytest.raises(ValueError, match="source"):
        gather_results(["family"], source="elsewhere", book=book)


def test_a_rerun_of_a_used_notebook_invalidates_the_reader(book):
    assert book.uses("reader") == ["family"]
    run_notebook(book, "family", "cpu")
    assert run_notebook(book, "reader", "cpu").status == "ok"
    assert run_notebook(book, "reader", "cpu").status == "cached"
    run_notebook(book, "family", "cpu", {"size": 4})
    assert run_notebook(book, "reader", "cpu").status == "ok"


def test_uses_must_name_known_notebooks(book):
    path = book.notebooks_dir / "profiles.yml"
    data = yaml.safe_load(path.read_text())
    data["notebooks"]["reader"]["uses"] = ["nowhere"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="unknown notebooks"):
        book.uses("reader")
