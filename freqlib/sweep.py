"""Parameter sweeps: one notebook run per grid point, on a Dask distributed cluster.

``freqlib sweep NOTEBOOK --grid NAME=V1,V2 ...`` (or :func:`sweep`) executes the notebook through
papermill once per point of the Cartesian product of the grids, each on a worker of a Dask cluster:
a :class:`distributed.LocalCluster` of ``workers`` processes by default, or the scheduler at
``address`` (``tcp://host:8786``, started with ``dask scheduler`` / ``dask worker`` on the machines
of a cluster, each with this repository and its environment). Dask distributed rather than Ray:
a grid point is one coarse task (a notebook run of minutes), which Dask's futures express
directly; it is pure Python (one pip dependency, no separate runtime to install), has per-task
retries built in, and its scheduler/worker commands run on any cluster or batch system.

A failed run (an exception in the notebook) is retried once (Dask's ``retries=1``); if it fails
again it is reported (printed, and a row with ``status`` "failed" and the error in the table),
never dropped. Each run's executed notebook is kept in ``out_dir``. The runs' stored result tables
(:func:`freqlib.report.results`) are gathered into one tidy table, one row per stored row, with the
grid parameters, ``run``, ``status``, ``attempts``, ``wall s`` and ``error`` in front, written to
``out_dir/results.csv``; a chapter reads it with :func:`read_results`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .book import Book, notebook_results, repo_root, run_notebook
from .loop import progress_bar

#: Columns every sweep table starts with (after the grid parameters).
RUN_COLUMNS = ("run", "status", "attempts", "wall s", "error", "notebook")


class RunFailed(RuntimeError):
    """A notebook run of a sweep failed; its message is papermill's error."""


def grid_points(grid: Mapping[str, Sequence]) -> list[dict]:
    """The Cartesian product of ``grid`` ({name: values}) as a list of {name: value}, last name fastest."""
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"grid {name!r}: give a non-empty list of values, got {values!r}")
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def run_point(root: str, name: str, profile: str, params: dict, out: str, timeout: int | None) -> dict:
    """Run notebook ``name`` of the book at ``root`` with ``params`` into ``out`` (a worker's task).

    Returns {"wall s", "attempts", "results": the stored result rows as records}; raises
    :class:`RunFailed` when the notebook fails, so that Dask retries it.
    """
    out_path = Path(out)
    attempts = 2 if out_path.exists() else 1  # papermill leaves the output of a failed attempt
    result = run_notebook(Book(Path(root)), name, profile, params, force=True, timeout=timeout, out=out_path)
    if result.status != "ok":
        raise RunFailed(result.error)
    frame = notebook_results(out_path)
    return {"wall s": round(result.wall_s, 1), "attempts": attempts, "results": frame.to_dict("records")}


def sweep(
    notebook: str,
    grid: Mapping[str, Sequence],
    *,
    profile: str = "cpu",
    parameters: Mapping | None = None,
    out_dir: str | Path | None = None,
    address: str | None = None,
    workers: int = 2,
    threads_per_worker: int = 1,
    retries: int = 1,
    timeout: int | None = None,
    progress: bool = True,
    root: str | Path | None = None,
) -> pd.DataFrame:
    """Run ``notebook`` once per point of ``grid`` on a Dask cluster and return the tidy result table.

    ``parameters``: fixed overrides for every run (after the profile's entry in profiles.yml; the
    grid values come last). ``out_dir`` (default ``book/sweeps/<notebook>``) receives
    ``<notebook>-<run>.ipynb`` per run and ``results.csv``. ``address``: a running Dask scheduler;
    without it a local cluster of ``workers`` processes is started and closed. ``timeout``: seconds
    per cell. A run that fails ``retries + 1`` times gets one row with status "failed".
    """
    from distributed import Client, LocalCluster, as_completed

    book = Book(Path(root) if root is not None else repo_root())
    book.source(notebook)  # fails early, naming the known notebooks
    points = grid_points(grid)
    overlap = set(grid) & set(parameters or {})
    if overlap:
        raise ValueError(f"parameters {sorted(overlap)} are both fixed and in the grid")
    out_dir = Path(out_dir) if out_dir is not None else book.root / "book" / "sweeps" / notebook
    out_dir.mkdir(parents=True, exist_ok=True)
    width = len(str(len(points) - 1))
    outputs = [out_dir / f"{notebook}-{i:0{width}d}.ipynb" for i in range(len(points))]
    for path in outputs:  # a stale output would count as a first failed attempt
        path.unlink(missing_ok=True)
    started = time.perf_counter()
    cluster = None
    if address is None:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=threads_per_worker, processes=True, dashboard_address=None
        )
    client = Client(address or cluster)
    try:
        futures = {}
        for i, point in enumerate(points):
            params = {**(parameters or {}), **point}
            future = client.submit(
                run_point,
                str(book.root),
                notebook,
                profile,
                params,
                str(outputs[i]),
                timeout,
                key=f"{notebook}-run-{i}",
                retries=retries,
                pure=False,
            )
            futures[future] = i
        done: dict[int, dict] = {}
        bar = progress_bar(len(points), f"sweep {notebook}", progress)
        for future in as_completed(futures):
            i = futures[future]
            if future.status == "finished":
                done[i] = {"status": "ok", **future.result()}
            else:
                error = future.exception()
                done[i] = {"status": "failed", "attempts": retries + 1, "error": f"{error}", "results": []}
                print(f"sweep {notebook}: run {i} {points[i]} failed after {retries + 1} attempts: {error}")
            bar.update(1)
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    table = _tidy(points, done, outputs, book.root)
    table.to_csv(out_dir / "results.csv", index=False)
    failed = int((table.drop_duplicates("run").status == "failed").sum())
    print(
        f"sweep {notebook}: {len(points)} runs ({failed} failed) on "
        f"{address or f'a local cluster of {workers} workers'}, {time.perf_counter() - started:.1f} s; "
        f"table: {out_dir / 'results.csv'}"
    )
    return table


def _tidy(points: list[dict], done: Mapping[int, dict], outputs: list[Path], root: Path) -> pd.DataFrame:
    """One row per stored result row of each run (one row for a run that stored none or failed)."""
    rows = []
    for i, point in enumerate(points):
        d = done[i]
        run = {
            **point,
            "run": i,
            "status": d["status"],
            "attempts": d.get("attempts", 1),
            "wall s": d.get("wall s", float("nan")),
            "error": d.get("error", ""),
            "notebook": str(outputs[i].relative_to(root)) if outputs[i].is_relative_to(root) else str(outputs[i]),
        }
        # the grid's names win over result columns of the same name
        rows += [{**run, **{k: v for k, v in r.items() if k not in run}} for r in d["results"]] or [run]
    return pd.DataFrame(rows)


def read_results(path: str | Path) -> pd.DataFrame:
    """A sweep's table (``results.csv``); raises naming ``path`` when it is missing or not a sweep table."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep table at {path}: run `freqlib sweep` first")
    table = pd.read_csv(path)
    missing = [c for c in RUN_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path} is not a sweep table: missing columns {missing}")
    table["error"] = table["error"].fillna("")
    return table
