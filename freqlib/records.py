"""Reference-run records: a chapter executed at the ``reference`` profile, committed with its provenance.

``freqlib run NAME --profile reference`` (:func:`run_reference`) executes ``notebooks/NAME.ipynb`` into
``results/reference/NAME/NAME.ipynb`` and writes ``results/reference/NAME/record.json``:

- provenance: ``chapter``, ``profile``, ``commit`` (the full HEAD hash when the run started, on a clean
  tree), ``started`` (UTC, ISO 8601), ``wall_s``, ``threads``, ``host`` (CPU model), ``torch``;
- what the chapter stored with :func:`freqlib.report.record`: ``parameters`` (its Config), ``data`` (each
  data set and its sizes), ``baselines`` (``{model, metric, value, target, source, met}``) and ``tables``;
- ``claims``: the rows the chapter stored with :func:`freqlib.report.claims` (kind and verdict of
  :mod:`freqlib.claims`).

:func:`load_record` checks a record's fields and fails loudly (:class:`RecordError`, naming the file) on
a damaged one; :func:`stale_reasons` says why a record no longer stands for the code (its parameters
differ from the profile's Config, or the chapter's code changed since its commit); ``freqlib status``
lists them (:func:`status_table`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path

import nbformat
import pandas as pd

from .book import Book, run_notebook
from .report import CLAIMS_MIME, RECORD_MIME

#: The profile whose runs are recorded.
REFERENCE = "reference"
#: Where the records live, relative to the repository root.
RECORDS_DIR = Path("results") / REFERENCE
#: The fields every record has.
RECORD_FIELDS = (
    "chapter",
    "profile",
    "commit",
    "started",
    "wall_s",
    "threads",
    "host",
    "torch",
    "parameters",
    "data",
    "baselines",
    "claims",
    "tables",
)


class RecordError(RuntimeError):
    """A reference run cannot start or finish, or a record file is damaged."""


def record_dir(book: Book, name: str) -> Path:
    """``results/reference/NAME`` under the book's root."""
    return book.root / RECORDS_DIR / name


def record_path(book: Book, name: str) -> Path:
    return record_dir(book, name) / "record.json"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def head_commit(book: Book, *, allow_dirty: bool = False) -> str:
    """The full hash of HEAD; :class:`RecordError` when tracked files differ from it (unless
    ``allow_dirty``), since the record would then not name the code that ran."""
    out = _git(book.root, "rev-parse", "HEAD")
    if out.returncode:
        raise RecordError(
            f"reference runs record their commit: {book.root} is not a git checkout ({out.stderr.strip()})"
        )
    dirty = _git(book.root, "status", "--porcelain", "--untracked-files=no").stdout.rstrip()
    if dirty and not allow_dirty:
        changed = ", ".join(line[3:] for line in dirty.splitlines()[:5])
        raise RecordError(f"reference runs start on a clean tree (the record names HEAD); commit first: {changed}")
    return out.stdout.strip()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else :func:`platform.processor`."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def outputs(path: Path, mime: str) -> list:
    """Every payload stored under ``mime`` in the outputs of the notebook at ``path``, in order."""
    nb = nbformat.read(path, as_version=4)
    return [o["data"][mime] for c in nb.cells for o in c.get("outputs", []) if mime in o.get("data", {})]


def build_record(executed: Path, provenance: Mapping) -> dict:
    """The record of the executed notebook at ``executed``: ``provenance`` plus what the chapter stored
    (:func:`freqlib.report.record`, :func:`freqlib.report.claims`); :class:`RecordError` when it stored
    no record."""
    stored = outputs(executed, RECORD_MIME)
    if len(stored) != 1:
        raise RecordError(f"{executed}: expected one report.record(...) output, found {len(stored)}")
    claims = [row for rows in outputs(executed, CLAIMS_MIME) for row in rows]
    record = {**dict(provenance), **stored[0], "claims": claims}
    return {k: record.get(k) for k in RECORD_FIELDS}


def write_record(record: Mapping, path: Path) -> None:
    """Write ``record`` as JSON at ``path`` atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def load_record(path: Path) -> dict:
    """The record at ``path``; :class:`RecordError` naming the file when it is not JSON, misses a field of
    :data:`RECORD_FIELDS`, or a field has the wrong type."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise RecordError(f"{path}: not a readable record ({err})") from None
    if not isinstance(record, dict):
        raise RecordError(f"{path}: a record is a JSON object, got {type(record).__name__}")
    missing = [k for k in RECORD_FIELDS if k not in record]
    if missing:
        raise RecordError(f"{path}: record misses {', '.join(missing)}")
    types = {"parameters": dict, "tables": dict, "baselines": list, "claims": list, "wall_s": (int, float)}
    wrong = [k for k, t in types.items() if not isinstance(record[k], t)]
    if wrong:
        raise RecordError(f"{path}: record fields of the wrong type: {', '.join(wrong)}")
    return record


def run_reference(
    book: Book, name: str, overrides: Mapping | None = None, *, allow_dirty: bool = False, echo=print
) -> Path:
    """Execute chapter ``name`` at the reference profile into ``results/reference/NAME/NAME.ipynb`` and
    write its ``record.json`` (returned). Refuses a dirty tree (:func:`head_commit`) and a chapter without
    a reference entry in ``notebooks/profiles.yml``; a failed run writes no record."""
    import torch

    commit = head_commit(book, allow_dirty=allow_dirty)
    entry = book.profiles().get("notebooks", {}).get(name) or {}
    if REFERENCE not in entry:
        raise RecordError(f"chapter {name!r} has no {REFERENCE!r} entry in notebooks/profiles.yml")
    folder = record_dir(book, name)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    echo(f"[{REFERENCE}] {name}: commit {commit[:12]}, writing {folder}")
    r = run_notebook(book, name, REFERENCE, overrides, force=True, out=folder / f"{name}.ipynb")
    if r.status != "ok":
        raise RecordError(f"reference run of {name} failed after {r.wall_s:.0f} s: {r.error} (see {r.path})")
    provenance = {
        "chapter": name,
        "profile": REFERENCE,
        "commit": commit + ("+dirty" if allow_dirty and _git(book.root, "diff", "--quiet", "HEAD").returncode else ""),
        "started": started,
        "wall_s": round(r.wall_s, 1),
        "threads": min(2, os.cpu_count() or 1),  # report.setup's CPU threads
        "host": cpu_model(),
        "torch": torch.__version__,
    }
    path = record_path(book, name)
    write_record(build_record(r.path, provenance), path)
    echo(f"[{REFERENCE}] {name}: {r.wall_s:.0f} s, wrote {path}")
    return path


def chapter_files(book: Book, name: str) -> list[str]:
    """The files whose change invalidates chapter ``name``'s record, relative to the repository root: its
    notebook and its experiment module (from :data:`freqlib.experiments.CHAPTERS`, when it lies in the
    repository)."""
    import importlib

    from .experiments import CHAPTERS

    files = [f"notebooks/{name}.ipynb"]
    if name in CHAPTERS:
        module = importlib.import_module(f"freqlib.experiments.{CHAPTERS[name].partition(':')[0]}")
        source = Path(getattr(module, "__file__", None) or "").resolve()
        if source.is_file() and source.is_relative_to(book.root.resolve()):
            files.append(str(source.relative_to(book.root.resolve())))
    return files


def _cell_sources(text: str) -> list[tuple[str, str]]:
    nb = nbformat.reads(text, as_version=4)
    return [(c.cell_type, c.source) for c in nb.cells]


def code_changes(book: Book, name: str, commit: str) -> list[str]:
    """The files of :func:`chapter_files` that differ between ``commit`` and the working tree (for the
    notebook, its cell sources: refreshed outputs do not count)."""
    commit = commit.removesuffix("+dirty")
    changed = []
    for file in chapter_files(book, name):
        old = _git(book.root, "show", f"{commit}:{file}")
        path = book.root / file
        if old.returncode or not path.is_file():
            changed.append(file)
        elif file.endswith(".ipynb"):
            if _cell_sources(old.stdout) != _cell_sources(path.read_text()):
                changed.append(file)
        elif old.stdout != path.read_text():
            changed.append(file)
    return changed


def stale_reasons(book: Book, name: str, record: Mapping) -> list[str]:
    """Why ``record`` no longer stands for chapter ``name`` (empty: it does): its commit is not in this
    checkout's history, its parameters differ from the reference profile's Config, or the chapter's code
    changed since its commit."""
    from .experiments import CHAPTERS, chapter

    reasons = []
    commit = str(record.get("commit", "")).removesuffix("+dirty")
    if _git(book.root, "merge-base", "--is-ancestor", commit, "HEAD").returncode:
        reasons.append(f"commit {commit[:12] or '?'} is not in this checkout's history")
        return reasons
    if name in CHAPTERS:
        config = chapter(name).Config.for_profile(REFERENCE, profiles=book.profiles())
        expected = json.loads(json.dumps(config.as_dict(), default=str))
        recorded = record.get("parameters", {})
        differ = sorted(k for k in set(expected) | set(recorded) if expected.get(k) != recorded.get(k))
        if differ:
            reasons.append(f"parameters differ from the reference profile: {', '.join(differ)}")
    changed = code_changes(book, name, commit)
    if changed:
        reasons.append(f"changed since {commit[:12]}: {', '.join(changed)}")
    return reasons


def records(book: Book) -> dict[str, dict]:
    """Every record under ``results/reference``, by chapter (loading fails loudly on a damaged one)."""
    root = book.root / RECORDS_DIR
    return {p.parent.name: load_record(p) for p in sorted(root.glob("*/record.json"))}


def status_table(book: Book) -> pd.DataFrame:
    """One row per record: chapter, commit, started, wall time, decided trained claims, and whether it is
    stale (with the reasons)."""
    rows = []
    for name, record in records(book).items():
        trained = [c for c in record["claims"] if c.get("kind") == "trained"]
        decided = [c for c in trained if c.get("verdict") in ("reproduced", "close", "not reproduced")]
        reasons = stale_reasons(book, name, record)
        rows.append(
            {
                "chapter": name,
                "commit": str(record["commit"])[:12],
                "started": record["started"],
                "wall s": record["wall_s"],
                "trained claims decided": f"{len(decided)}/{len(trained)}",
                "baselines met": all(b.get("met") for b in record["baselines"]),
                "stale": "; ".join(reasons) or "no",
            }
        )
    columns = ["chapter", "commit", "started", "wall s", "trained claims decided", "baselines met", "stale"]
    return pd.DataFrame(rows, columns=columns)
