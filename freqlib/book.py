"""Running the book: papermill executions under profiles, a content-hash cache, run records,
the reproduction-status page, and the Jupyter Book build.

Layout (relative to the repository root): sources in ``notebooks/<name>.ipynb`` (committed with
smoke outputs), profiles in ``notebooks/profiles.yml``, executed copies for the book in
``book/executed/<name>.ipynb``, the generated status page ``book/status.md``, HTML in ``_build/html``.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pandas as pd
import yaml

from .claims import HEADLINES, KINDS, VERDICTS
from .experiment import PROFILES
from .report import CLAIM_FIELDS, CLAIMS_MIME, RESULTS_MIME

META_KEY = "freqlib"
RUN_INFO_TAG = "freqlib-run-info"


def repo_root(start: Path | None = None) -> Path:
    """The directory above ``start`` (default: cwd) that holds ``notebooks/profiles.yml``."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "notebooks" / "profiles.yml").is_file():
            return d
    raise FileNotFoundError(f"no notebooks/profiles.yml above {here}: run freqlib inside the book's repository")


@dataclass
class Book:
    """The book's files under ``root``."""

    root: Path

    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    @property
    def executed_dir(self) -> Path:
        return self.root / "book" / "executed"

    def profiles(self) -> dict:
        with open(self.notebooks_dir / "profiles.yml") as f:
            data = yaml.safe_load(f) or {}
        unknown = set(data.get("profiles", {})) - set(PROFILES)
        if unknown:
            raise ValueError(f"profiles.yml: unknown profiles {sorted(unknown)}; known: {PROFILES}")
        return data

    def names(self) -> list[str]:
        """Notebook names in the order of profiles.yml (the order `freqlib build` runs them)."""
        return list(self.profiles().get("notebooks", {}))

    def source(self, name: str) -> Path:
        path = self.notebooks_dir / f"{name}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(f"notebook {name!r}: {path} does not exist (known: {self.names()})")
        return path

    def executed(self, name: str) -> Path:
        return self.executed_dir / f"{name}.ipynb"

    def parameters(self, name: str, profile: str, overrides: Mapping | None = None) -> dict:
        """Papermill parameters: ``profile``, the profile's entry for ``name``, then ``overrides``.

        A chapter whose parameters cell takes a Config (it assigns ``overrides``, see
        :mod:`freqlib.experiment`) gets ``{"profile": ..., "overrides": {...}}``: the profile's values
        and ``overrides`` by field name, which ``Config.for_profile`` checks; any other notebook gets
        them as papermill parameters of their own.
        """
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
        entry = self.profiles().get("notebooks", {}).get(name)
        if entry is None:
            raise KeyError(f"notebook {name!r} has no entry in notebooks/profiles.yml")
        values = {**(entry.get(profile) or {}), **dict(overrides or {})}
        if self.takes_config(name):
            return {"profile": profile, "overrides": values}
        return {"profile": profile, **values}

    def takes_config(self, name: str) -> bool:
        """Whether the parameters cell of ``name`` assigns ``overrides`` (a Config chapter)."""
        for cell in nbformat.read(self.source(name), as_version=4).cells:
            if "parameters" in cell.metadata.get("tags", []):
                tree = ast.parse(cell.source)
                targets = [t for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
                return any(isinstance(t, ast.Name) and t.id == "overrides" for t in targets)
        return False

    def uses(self, name: str) -> list[str]:
        """The notebooks whose stored results ``name`` reads (its ``uses:`` list in profiles.yml)."""
        entry = self.profiles().get("notebooks", {}).get(name) or {}
        used = list(entry.get("uses") or [])
        unknown = [u for u in used if u not in self.names()]
        if unknown:
            raise ValueError(f"profiles.yml: {name} uses unknown notebooks {unknown}")
        return used

    def freqlib_digest(self) -> str:
        """Hash of freqlib's source files and the paper data the notebooks read."""
        h = hashlib.sha256()
        pkg = Path(__file__).parent
        files = sorted(pkg.rglob("*.py")) + sorted((self.root / "data").rglob("*.csv"))
        for path in files:
            h.update(str(path.relative_to(path.parents[1])).encode())
            h.update(path.read_bytes())
        return h.hexdigest()

    def content_hash(self, name: str, params: Mapping) -> str:
        """Hash of the notebook's cell sources, its parameters and freqlib's code."""
        nb = nbformat.read(self.source(name), as_version=4)
        h = hashlib.sha256()
        for cell in nb.cells:
            h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
        h.update(json.dumps(dict(params), sort_keys=True, default=str).encode())
        h.update(self.freqlib_digest().encode())
        for used in self.uses(name):  # a rerun of a notebook this one reads invalidates it
            path = self.executed(used)
            meta = nbformat.read(path, as_version=4).metadata.get(META_KEY, {}) if path.is_file() else {}
            h.update(f"{used}:{meta.get('hash', 'missing')}:{meta.get('date', '')}".encode())
        return h.hexdigest()


@dataclass
class RunResult:
    name: str
    profile: str
    status: str  # "ok", "cached" or "failed"
    wall_s: float = 0.0
    error: str = ""
    path: Path | None = None
    parameters: dict = field(default_factory=dict)


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "freqlib", "notebooks"], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    commit = out.stdout.strip() or "unknown"
    return commit + ("+dirty" if dirty.stdout.strip() else "")


def device_description() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name()}"
    return f"cpu: {platform.machine()}, {torch.get_num_threads()} threads"


def _run_info_cell(info: Mapping) -> nbformat.NotebookNode:
    params = ", ".join(f"`{k}={v!r}`" for k, v in info["parameters"].items())
    text = (
        f"```{{admonition}} Run info\n:class: note\n"
        f"profile **{info['profile']}** · parameters {params} · freqlib {info['freqlib_version']} · "
        f"commit `{info['git_commit']}` · {info['device']} · wall time {info['wall_s']:.1f} s · {info['date']}\n```"
    )
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": [RUN_INFO_TAG]})


def _record(path: Path, info: Mapping) -> None:
    """Store the run record in the notebook's metadata and as a visible cell after the title."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata[META_KEY] = dict(info)
    nb.cells = [c for c in nb.cells if RUN_INFO_TAG not in c.get("metadata", {}).get("tags", [])]
    nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0, _run_info_cell(info))
    nbformat.write(nb, path)


def _error_of(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    return f"{ename}: {evalue}" + (f" (cell [{cell}])" if cell is not None else "")


#: CPU instruction sets pinned for the smoke profile, whose outputs are committed and re-executed by
#: nbval on other machines: oneDNN's AVX-512 convolution kernels round differently from its AVX2 ones
#: (a training loss printed to 3 decimals moved from 2.376 to 2.373 between two x86-64 hosts), so
#: every smoke kernel runs with AVX2 (x86-64 CPUs since 2013), in oneDNN, ATen and MKL alike.
PORTABLE_CPU_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def portable_cpu_env() -> dict[str, str]:
    """:data:`PORTABLE_CPU_ENV` on x86-64, else ``{}`` (the variables name x86 instruction sets)."""
    return dict(PORTABLE_CPU_ENV) if platform.machine().lower() in ("x86_64", "amd64") else {}


@contextlib.contextmanager
def portable_cpu(enabled: bool = True):
    """Inside the block, kernels started by this process get :func:`portable_cpu_env` (with ``enabled``
    False nothing changes); the environment is restored afterwards."""
    pinned = portable_cpu_env() if enabled else {}
    saved = {k: os.environ.get(k) for k in pinned}
    os.environ.update(pinned)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_notebook(
    book: Book,
    name: str,
    profile: str = "cpu",
    overrides: Mapping | None = None,
    *,
    inplace: bool = False,
    force: bool = False,
    timeout: int | None = None,
    out: Path | None = None,
) -> RunResult:
    """Execute one notebook with papermill under ``profile``.

    Writes the executed copy to ``out`` (default ``book/executed/<name>.ipynb``; a sweep gives
    each run its own), or back into the source with ``inplace``, for refreshing committed smoke
    outputs: no parameter cell is injected and no run record is added, so the source stays clean.
    Smoke runs pin the CPU instruction sets (:func:`portable_cpu`). Skips the run when the executed
    copy was made from the same content hash and succeeded.
    """
    import papermill as pm

    src = book.source(name)
    params = book.parameters(name, profile, overrides)
    digest = book.content_hash(name, params)
    if inplace and out is not None:
        raise ValueError("inplace writes back into the source: give no out path")
    out = src if inplace else Path(out) if out is not None else book.executed(name)
    if not inplace and not force and out.is_file():
        meta = nbformat.read(out, as_version=4).metadata.get(META_KEY, {})
        if meta.get("hash") == digest and meta.get("status") == "ok":
            return RunResult(name, profile, "cached", meta.get("wall_s", 0.0), path=out, parameters=params)
    if inplace and (profile != "smoke" or overrides):
        raise ValueError("--inplace refreshes the committed smoke outputs: use it with the smoke profile and no -p")
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        with portable_cpu(profile == "smoke"):
            pm.execute_notebook(
                src,
                out,
                parameters=None if inplace else params,
                cwd=book.notebooks_dir,
                progress_bar=False,
                request_save_on_cell_execute=False,
                execution_timeout=timeout,
                kernel_name="python3",
            )
    except Exception as exc:  # a failing notebook is reported; the caller runs the others
        status, error = "failed", _error_of(exc)
    wall = time.perf_counter() - start
    if inplace:
        _strip_papermill_metadata(out)
    else:
        from . import __version__

        info = {
            "profile": profile,
            "parameters": params,
            "freqlib_version": __version__,
            "git_commit": git_commit(book.root),
            "device": device_description(),
            "wall_s": round(wall, 1),
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "hash": digest,
            "status": status,
            "error": error,
        }
        if out.is_file():
            _record(out, info)
    return RunResult(name, profile, status, wall, error, out, params)


def _strip_papermill_metadata(path: Path) -> None:
    """Remove papermill's per-run timestamps so committed notebooks only change when outputs do."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def run_all(
    book: Book,
    profile: str = "cpu",
    names: Sequence[str] | None = None,
    overrides: Mapping | None = None,
    *,
    force: bool = False,
    inplace: bool = False,
    echo=print,
) -> list[RunResult]:
    """Run several notebooks (all by default), reporting each; failures do not stop the others."""
    results = []
    for name in names or book.names():
        echo(f"[{profile}] {name} ...")
        r = run_notebook(book, name, profile, overrides, force=force, inplace=inplace)
        echo(f"[{profile}] {name}: {r.status} ({r.wall_s:.1f} s){'  ' + r.error if r.error else ''}")
        results.append(r)
    return results


def summary(results: Sequence[RunResult]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "notebook": r.name,
                "profile": r.profile,
                "wall time (s)": round(r.wall_s, 1),
                "status": r.status,
                "error": r.error,
            }
            for r in results
        ]
    )


def gather_claims(book: Book, names: Sequence[str] | None = None, *, reference: bool = False) -> pd.DataFrame:
    """Every claim row stored in the executed notebooks (with ``reference``, in the notebooks of the
    committed reference records, ``results/reference/NAME/NAME.ipynb``), with the notebook's name and title."""
    rows = []
    for name in names or book.names():
        path = book.root / "results" / "reference" / name / f"{name}.ipynb" if reference else book.executed(name)
        if not path.is_file():
            continue
        nb = nbformat.read(path, as_version=4)
        title = _title(nb, name)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                for row in output.get("data", {}).get(CLAIMS_MIME, []):
                    legacy = {"kind": "unclassified", "reason": "unclassified"}  # rows stored before freqlib.claims
                    fields = {k: row.get(k, legacy.get(k, "")) for k in CLAIM_FIELDS}
                    rows.append({"notebook": name, "chapter": title, **fields})
    return pd.DataFrame(rows, columns=["notebook", "chapter", *CLAIM_FIELDS])


def notebook_results(path: Path) -> pd.DataFrame:
    """The result tables a notebook stored with :func:`freqlib.report.results`, concatenated."""
    nb = nbformat.read(path, as_version=4)
    frames = [
        pd.DataFrame(output["data"][RESULTS_MIME]["data"], columns=output["data"][RESULTS_MIME]["columns"])
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if RESULTS_MIME in output.get("data", {})
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def gather_results(names: Sequence[str], source: str = "executed", book: Book | None = None) -> pd.DataFrame:
    """The stored result tables of the notebooks ``names``, with ``notebook`` and ``profile`` columns.

    ``source="executed"`` reads the book's executed copies (``book/executed/``, what ``freqlib build``
    ran at the chosen profile); ``"committed"`` reads the committed smoke outputs in ``notebooks/``.
    A notebook that is missing or stored no results raises FileNotFoundError naming it.
    """
    if source not in ("executed", "committed"):
        raise ValueError(f"source must be 'executed' or 'committed', got {source!r}")
    book = book or Book(repo_root())
    frames = []
    for name in names:
        path = book.executed(name) if source == "executed" else book.source(name)
        if not path.is_file():
            raise FileNotFoundError(f"no executed copy of {name!r} at {path}: run `freqlib run {name}` first")
        frame = notebook_results(path)
        if frame.empty:
            raise FileNotFoundError(f"{path} stored no results (freqlib.report.results)")
        meta = nbformat.read(path, as_version=4).metadata.get(META_KEY, {})
        frames.append(frame.assign(notebook=name, profile=meta.get("profile", "smoke")))
    return pd.concat(frames, ignore_index=True)


def _title(nb, default: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return default


def _md_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


#: Columns of the status page's full table, verdict early so that it stays in view on narrow windows.
STATUS_COLUMNS = ("Chapter", "Claim", "Verdict", "Kind", "Paper", "Ours", "Reason", "Profile", "Data", "Source")


def _md_table(header: Sequence[str], rows: Iterable[Sequence], css: str = "status-table") -> list[str]:
    """A Markdown table inside a container with class ``css`` (fixed layout, wrapped cells: see
    ``book/_static/freqlib.css``); the first cell of each row is written as is (a link), the rest escaped."""
    lines = [f":::{{container}} {css}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cells in rows:
        lines.append("| " + " | ".join(c if i == 0 else _md_cell(c) for i, c in enumerate(cells)) + " |")
    return [*lines, "", ":::", ""]


def _link(r) -> str:
    return f"[{_md_cell(r.chapter)}](executed/{r.notebook}.ipynb)"


def headline_rows(claims: pd.DataFrame, missing: str = "no executed chapter holds this claim") -> list[tuple]:
    """One row per headline claim of :data:`freqlib.claims.HEADLINES` (paper, headline, verdict, kind,
    ours, reason, chapter link, profile); a headline no chapter claims is ``not run`` (reason ``missing``)."""
    rows = []
    for key, (paper, what) in HEADLINES.items():
        found = claims[claims["headline"] == key] if "headline" in claims else claims.iloc[:0]
        if found.empty:
            rows.append((paper, what, "**not run**", "", "", missing, "", ""))
        for r in found.itertuples():
            rows.append((paper, what, f"**{r.verdict}**", r.kind, r.ours, r.reason, _link(r), r.profile))
    return rows


def write_status_page(book: Book) -> Path:
    """Generate ``book/status.md``: the headline claims, verdict counts by kind, then every
    paper-versus-reproduced row of every executed notebook."""
    claims = gather_claims(book)
    lines = [
        "# Reproduction status",
        "",
        "Every paper-versus-reproduced row of every chapter, gathered from the executed notebooks when",
        "the book was built. *Kind* says what a claim rests on: **trained** (a result of training or",
        "measurement), **exact** (counts, arithmetic, the architecture: decided at any profile) or",
        "**by construction** (a value the experiment sets, which confirms the setup, not the paper).",
        "A trained claim is decided only when every baseline it compares with meets its convergence",
        "target and the standard error of the compared quantity is below the claim's tolerance;",
        "otherwise it is **undecided** and the reason gives the numbers. *profile* says how the",
        "chapter ran (smoke: seconds, for CI; cpu: the default build on 2 cores; paper: the papers'",
        "scale on a GPU); *data* says what it ran on, and says **stand-in** where the paper's data was",
        "not used.",
        "",
    ]
    lines += _reference_section(book)
    if claims.empty:
        lines.append("No executed notebook holds claims yet: run `make book`.")
    else:
        lines += ["## Headline claims of this build", ""]
        header = ["Paper", "Headline claim", "Verdict", "Kind", "Ours", "Reason", "Chapter", "Profile"]
        lines += _md_table(header, [(_md_cell(r[0]), *r[1:]) for r in headline_rows(claims)], "status-headlines")
        lines += ["## Verdicts by kind", ""]
        counts = pd.crosstab(claims["kind"], claims["verdict"])
        counts = counts[[v for v in VERDICTS if v in counts.columns] + [v for v in counts.columns if v not in VERDICTS]]
        kinds = [k for k in (*KINDS, *sorted(set(counts.index) - set(KINDS))) if k in counts.index]
        lines += _md_table(
            ["Kind", *counts.columns, "all"],
            [(k, *(str(counts.loc[k, v]) for v in counts.columns), str(counts.loc[k].sum())) for k in kinds],
            "status-counts",
        )
        lines += ["## Every claim", ""]
        lines += _md_table(
            STATUS_COLUMNS,
            (
                (_link(r), r.claim, f"**{r.verdict}**", r.kind, r.paper, r.ours, r.reason, r.profile, r.data, r.source)
                for r in claims.itertuples()
            ),
        )
    path = book.root / "book" / "status.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _reference_section(book: Book) -> list[str]:
    """The status page's lead: the headline verdicts of the committed reference records and the records."""
    from .records import status_table

    lines = [
        "## Reference runs",
        "",
        "The reference profile trains each chapter until its dense baselines meet their convergence",
        "targets, within an hour on 2 cores; each run is committed in `results/reference/NAME/` with its",
        "executed notebook and a `record.json` (commit, date, wall time, host, parameters, data, baselines,",
        "claims). These verdicts lead; the build's own (usually the quicker cpu profile) follow.",
        "",
    ]
    table = status_table(book)
    if table.empty:
        return [*lines, "No chapter has a reference record yet (`freqlib run NAME --profile reference`).", ""]
    claims = gather_claims(book, list(table.chapter), reference=True)
    header = ["Paper", "Headline claim", "Verdict", "Kind", "Ours", "Reason", "Chapter", "Profile"]
    rows = headline_rows(claims, missing="no reference record holds this claim")
    lines += _md_table(header, [(_md_cell(r[0]), *r[1:]) for r in rows], "status-headlines")
    lines += _md_table(list(table.columns), [tuple(str(v) for v in r) for r in table.itertuples(index=False)])
    return lines


def build_html(book: Book, *, output: Path | None = None) -> subprocess.CompletedProcess:
    """``jupyter-book build`` of the repository root with warnings as errors (executes nothing)."""
    write_status_page(book)
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(book.root), "-W", "-n", "--keep-going"]
    if output is not None:
        cmd += ["--path-output", str(output)]
    return subprocess.run(cmd, capture_output=True, text=True)


def list_runs(book: Book) -> pd.DataFrame:
    """Notebooks, the profiles defined for them, and their last executed run."""
    rows = []
    profiles = book.profiles().get("notebooks", {})
    for name in book.names():
        row = {"notebook": name, "profiles": ", ".join(p for p in PROFILES if p in (profiles[name] or {}))}
        path = book.executed(name)
        meta = nbformat.read(path, as_version=4).metadata.get(META_KEY, {}) if path.is_file() else {}
        row.update(
            last_profile=meta.get("profile", "-"),
            status=meta.get("status", "never run"),
            wall_s=meta.get("wall_s", ""),
            date=meta.get("date", ""),
            commit=meta.get("git_commit", ""),
        )
        rows.append(row)
    return pd.DataFrame(rows)
