"""The book runner: profiles, parameter injection, the content-hash cache, failure reporting."""

import os

import nbformat
import pytest
import yaml

from freqlib import cli
from freqlib.book import META_KEY, RUN_INFO_TAG, Book, gather_claims, run_notebook, write_status_page


def _notebook(path, body: str, params: str = 'profile = "smoke"\nsize = 1'):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A test chapter"),
        nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def book(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    profiles = {
        "profiles": {"smoke": "s", "cpu": "c", "paper": "p"},
        "notebooks": {
            "good": {"smoke": {}, "cpu": {"size": 10}, "paper": {"size": 100}},
            "bad": {"smoke": {}, "cpu": {}},
        },
    }
    (tmp_path / "notebooks" / "profiles.yml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    claim = (
        "from freqlib import claims, report\n"
        "print(f'size={size} profile={profile}')\n"
        "report.claims([claims.exact('size is given', 'any', str(size), holds=True, reason='given',"
        " profile=profile, data='none', headline='fr-unet-759'),"
        " claims.by_construction('size is set', 'any', str(size), reason='a parameter', profile=profile, data='none')])"
    )
    _notebook(tmp_path / "notebooks" / "good.ipynb", claim)
    _notebook(tmp_path / "notebooks" / "bad.ipynb", "raise RuntimeError('deliberate failure')")
    monkeypatch.chdir(tmp_path)
    return Book(tmp_path)


def _stdout(path):
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")


def test_profile_and_overrides_are_injected_and_recorded(book):
    r = run_notebook(book, "good", "cpu")
    assert r.status == "ok" and "size=10 profile=cpu" in _stdout(r.path)
    nb = nbformat.read(r.path, as_version=4)
    meta = nb.metadata[META_KEY]
    assert meta["profile"] == "cpu" and meta["parameters"] == {"profile": "cpu", "size": 10}
    assert {"freqlib_version", "git_commit", "device", "wall_s", "date", "hash"} <= set(meta)
    info = [c for c in nb.cells if RUN_INFO_TAG in c.metadata.get("tags", [])]
    assert len(info) == 1 and "profile **cpu**" in info[0].source and nb.cells[1] is not None
    r = run_notebook(book, "good", "paper", {"size": 7})
    assert "size=7 profile=paper" in _stdout(r.path)


def test_cache_hit_and_miss(book):
    assert run_notebook(book, "good", "cpu").status == "ok"
    assert run_notebook(book, "good", "cpu").status == "cached"
    assert run_notebook(book, "good", "cpu", {"size": 3}).status == "ok"  # new parameters
    assert run_notebook(book, "good", "cpu", {"size": 3}).status == "cached"
    nb = nbformat.read(book.source("good"), as_version=4)
    nb.cells[2].source += "\nprint('edited')"
    nbformat.write(nb, book.source("good"))
    assert run_notebook(book, "good", "cpu", {"size": 3}).status == "ok"  # edited source
    assert run_notebook(book, "good", "cpu", {"size": 3}, force=True).status == "ok"


def test_failing_notebook_is_reported_and_the_others_run(book, capsys):
    code = cli.main(["run", "--profile", "cpu"])
    out = capsys.readouterr().out
    assert code == 1
    assert "bad: failed" in out and "RuntimeError: deliberate failure" in out
    assert "good: ok" in out
    assert nbformat.read(book.executed("bad"), as_version=4).metadata[META_KEY]["status"] == "failed"
    # a failed run is never a cache hit
    assert run_notebook(book, "bad", "cpu").status == "failed"


def test_claims_are_gathered_into_the_status_page(book):
    run_notebook(book, "good", "cpu")
    claims = gather_claims(book)
    assert list(claims[["notebook", "chapter", "claim", "ours", "verdict", "profile"]].iloc[0]) == [
        "good", "A test chapter", "size is given", "10", "reproduced", "cpu",
    ]  # fmt: skip
    text = write_status_page(book).read_text()
    link = "[A test chapter](executed/good.ipynb)"
    assert f"| {link} | size is given | **reproduced** | exact | any | 10 | given | cpu |" in text
    headlines = text[text.index("## Headline claims") : text.index("## Verdicts by kind")]
    unet = "UNet in 759 float16 numbers (> 80000x) keeps Dice > 97% (Carvana)"
    assert f"| FR | {unet} | **reproduced** | exact | 10 | given | {link} | cpu |" in headlines
    assert headlines.count("**not run**") == 5  # the other headlines of freqlib.claims.HEADLINES
    counts = text[text.index("## Verdicts by kind") : text.index("## Every claim")]
    assert "| Kind | reproduced | by construction | all |" in counts
    assert "| exact | 1 | 0 | 1 |" in counts and "| by construction | 0 | 1 | 1 |" in counts


def test_cli_parameters_and_errors(book, capsys):
    assert cli.main(["run", "good", "--profile", "smoke", "-p", "size", "[1, 2]"]) == 0
    assert "size=[1, 2] profile=smoke" in _stdout(book.executed("good"))
    with pytest.raises(ValueError, match="unknown profile"):
        book.parameters("good", "huge")
    with pytest.raises(FileNotFoundError, match="notebook 'nope'"):
        run_notebook(book, "nope", "cpu")
    with pytest.raises(ValueError, match="--inplace"):
        run_notebook(book, "good", "cpu", inplace=True)
    assert cli.main(["list"]) == 0
    assert "good" in capsys.readouterr().out


def test_smoke_kernels_pin_the_cpu_instruction_sets(book, monkeypatch):
    """Committed smoke outputs must reproduce on other x86-64 hosts: smoke kernels run with AVX2 kernels."""
    import platform

    from freqlib.book import PORTABLE_CPU_ENV, portable_cpu, portable_cpu_env

    for name in PORTABLE_CPU_ENV:
        monkeypatch.delenv(name, raising=False)
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    assert portable_cpu_env() == (PORTABLE_CPU_ENV if x86 else {})
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
    with portable_cpu():
        assert os.environ["ONEDNN_MAX_CPU_ISA"] == ("AVX2" if x86 else "SSE41")
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "SSE41" and "ATEN_CPU_CAPABILITY" not in os.environ  # restored
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    _notebook(book.source("good"), "import os\nprint('isa', os.environ.get('ONEDNN_MAX_CPU_ISA'))")
    assert "isa " + ("AVX2" if x86 else "None") in _stdout(run_notebook(book, "good", "smoke").path)
    assert "isa None" in _stdout(run_notebook(book, "good", "cpu").path)
