"""What a notebook shows: setup for reproducible runs, paper-versus-reproduced claim tables, and
labels for stand-in data. The book's "Reproduction status" page gathers every claim table."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch

from . import distributed
from .claims import FIELDS, Claim

#: MIME type under which :func:`claims` stores its rows in a notebook's outputs.
CLAIMS_MIME = "application/vnd.freqlib.claims+json"
#: MIME type under which :func:`results` stores a result table (records) in a notebook's outputs.
RESULTS_MIME = "application/vnd.freqlib.results+json"
#: MIME type under which :func:`record` stores a chapter's parameters, data, baselines and tables.
RECORD_MIME = "application/vnd.freqlib.record+json"
#: The fields of a stored claim (:class:`freqlib.claims.Claim`).
CLAIM_FIELDS = FIELDS


def setup(profile: str, seed: int = 0, threads: int | None = None) -> torch.device:
    """Fix seeds, turn on deterministic algorithms and return the device to run on.

    CPU for the ``smoke`` profile (so nbval outputs match everywhere); CUDA when present otherwise
    (under ``torchrun``, this process's GPU, after joining the process group).
    ``threads`` defaults to 2 on the CPU, the size of the book's reference machine.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = torch.device("cuda" if torch.cuda.is_available() and profile != "smoke" else "cpu")
    device = distributed.init_from_env(device)  # under torchrun: join the group, take cuda:LOCAL_RANK
    if device.type == "cpu":
        torch.set_num_threads(threads or min(2, os.cpu_count() or 1))
    return device


def claims(rows: Iterable[Claim]) -> None:
    """Display the claims (:class:`freqlib.claims.Claim`, made by the constructors of
    :mod:`freqlib.claims`) as a table and store them in the output for the status page.

    Returns nothing, so the table is shown once whether or not the cell ends with ``;``.
    """
    rows = list(rows)
    for r in rows:
        if not isinstance(r, Claim):
            raise TypeError(
                f"report.claims() takes freqlib.claims.Claim rows (see freqlib.claims), got {type(r).__name__}"
            )
    rows = [r.row() for r in rows]
    shown = [c for c in CLAIM_FIELDS if c != "headline"]
    _show(pd.DataFrame(rows, columns=list(CLAIM_FIELDS))[shown], CLAIMS_MIME, rows)


def results(frame: pd.DataFrame) -> None:
    """Display ``frame`` and store it (JSON, columns in order) in the output, so that other chapters
    (and :func:`freqlib.book.gather_results`) can read this chapter's results without rerunning it."""
    _show(frame, RESULTS_MIME, json.loads(frame.to_json(orient="split", index=False)))  # {"columns", "data"}


def _show(frame: pd.DataFrame, mime: str, payload) -> None:
    """Display ``frame`` as HTML and text, with ``payload`` stored under ``mime`` (printed outside IPython)."""
    try:
        from IPython.display import display
    except ImportError:  # plain Python
        print(frame.to_string(index=False))
        return
    display(
        {"text/html": frame.to_html(index=False), "text/plain": frame.to_string(index=False), mime: payload}, raw=True
    )


def record(result, cfg) -> None:
    """Store what a reference-run record keeps of a chapter (:mod:`freqlib.records`): ``parameters``
    (``cfg.as_dict()``), ``data`` (the rows of the result's ``"data"`` table, if any), ``baselines``
    (:meth:`freqlib.claims.Baseline.as_dict`) and every DataFrame of ``result.tables`` (split JSON).

    Call it once, last, in a chapter notebook: ``report.record(result, cfg)``. It shows one line.
    """
    tables = {k: json.loads(v.to_json(orient="split", index=False)) for k, v in result.tables.items()}
    data = result.tables.get("data")
    payload = {
        "parameters": json.loads(json.dumps(cfg.as_dict(), default=str)),
        "data": json.loads(data.to_json(orient="records")) if data is not None else [],
        "baselines": [json.loads(json.dumps(b.as_dict(), default=str)) for b in result.baselines],
        "tables": tables,
    }
    text = f"stored for the record: parameters, {len(payload['baselines'])} baseline(s), tables {', '.join(tables)}"
    try:
        from IPython.display import display
    except ImportError:  # plain Python
        print(text)
        return
    display({"text/plain": text, RECORD_MIME: payload}, raw=True)


def reference_run(name: str, root=None):
    """Show chapter ``name``'s committed reference record (:mod:`freqlib.records`): a label with profile,
    commit, date, wall time and host; whether it is stale; its data, baselines and claims; and a figure of
    each baseline against its convergence target. Prints that there is none when none is committed.

    Returns the record (a dict), or None. Tag the cell ``nbval-ignore-output``: it shows committed data,
    not what the smoke run computed.
    """
    from .book import Book, repo_root
    from .records import load_record, record_path, stale_reasons

    book = Book(root or repo_root())
    path = record_path(book, name)
    if not path.is_file():
        print(
            f"No reference run recorded for {name} yet ({path.relative_to(book.root)}): "
            f"freqlib run {name} --profile reference"
        )
        return None
    record = load_record(path)
    label = (
        f"reference run of {name}: profile {record['profile']}, commit {record['commit'][:12]}, "
        f"{record['started']}, wall time {record['wall_s']:.0f} s, {record['threads']} threads on {record['host']}, "
        f"torch {record['torch']}"
    )
    print(label)
    stale = stale_reasons(book, name, record)
    print(f"STALE: {'; '.join(stale)}" if stale else "current: parameters and code match the record's commit")
    display_frame(pd.DataFrame(record["data"]))
    baselines = pd.DataFrame(record["baselines"])
    display_frame(baselines)
    fields = [c for c in CLAIM_FIELDS if c not in ("headline", "profile", "source")]
    display_frame(pd.DataFrame(record["claims"], columns=list(CLAIM_FIELDS))[fields])
    if len(baselines):
        plot_baselines(baselines, f"Baselines against their targets, {label[: label.index(', wall')]}")
    return record


def plot_baselines(baselines: pd.DataFrame, title: str):
    """Bars of each baseline's value with its convergence target drawn in (green: met, red: missed)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(baselines)))
    y = np.arange(len(baselines))
    ax.barh(y, baselines["value"], color=["tab:green" if m else "tab:red" for m in baselines["met"]])
    ax.scatter(baselines["target"], y, marker="|", s=400, color="black", label="target", zorder=3)
    ax.set_yticks(y, list(baselines["model"]))
    ax.set_xlabel(" / ".join(dict.fromkeys(baselines["metric"])))
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    plt.show()
    return fig


def display_frame(frame: pd.DataFrame) -> None:
    """``display`` in IPython, else print."""
    try:
        from IPython.display import display
    except ImportError:
        print(frame.to_string(index=False))
        return
    display(frame)


def stand_in(note: str) -> str:
    """Print a visible label for stand-in data and return the short name for captions."""
    print(f"STAND-IN DATA: {note}")
    return f"stand-in: {note}"
