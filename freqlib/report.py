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


def stand_in(note: str) -> str:
    """Print a visible label for stand-in data and return the short name for captions."""
    print(f"STAND-IN DATA: {note}")
    return f"stand-in: {note}"
