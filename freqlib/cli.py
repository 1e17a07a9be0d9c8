"""The ``freqlib`` command: run notebooks under profiles, build the book, list runs, run experiments,
sweep a notebook over a parameter grid (:mod:`freqlib.sweep`).

``freqlib experiment NAME [-p FIELD VALUE ...] [--out results.csv]`` builds the experiment's
``Config.for_profile(profile, params)`` (``-p profile cpu``; default smoke), calls ``run(cfg)``, prints
the ``"results"`` table of the ChapterResult it returns (see :func:`result_table`)
and works under ``torchrun`` (one process per GPU)::

    torchrun --nproc_per_node 4 -m freqlib.cli experiment resnet \\
        -p profile paper -p data_dir /data --out resnet.csv
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
import time
from pathlib import Path
from types import ModuleType

import pandas as pd
import yaml

from .book import PROFILES, Book, build_html, list_runs, repo_root, run_all, summary
from .experiment import ChapterResult, ConfigError

_SCIENTIFIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")


def parse_value(text: str):
    """A command-line value as YAML (3 -> int, [1, 2] -> list, null -> None), with ``none`` -> None and
    scientific notation without a dot (``1e-3``, a string to YAML 1.1) -> float."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        if value.lower() == "none":
            return None
        if _SCIENTIFIC.fullmatch(value):
            return float(value)
    return value


def _overrides(pairs: list[list[str]] | None) -> dict:
    """``-p NAME VALUE`` pairs, values read by :func:`parse_value`."""
    return {name: parse_value(value) for name, value in (pairs or [])}


class ExperimentError(ValueError):
    """A bad ``freqlib experiment`` request: unknown module or unknown run() parameter."""


def known_experiments() -> list[str]:
    """The chapters (:data:`freqlib.experiments.CHAPTERS`) and experiment modules
    (:data:`freqlib.experiments.EXPERIMENTS`) the command runs by name, sorted."""
    from .experiments import CHAPTERS, EXPERIMENTS

    return sorted(set(EXPERIMENTS) | set(CHAPTERS))


def result_table(result, where: str = "run()") -> pd.DataFrame:
    """The table of what an experiment's ``run()`` returned: a DataFrame itself, the ``table`` attribute
    of a result object, or the first item of a tuple such as ``(table, histories, label)``.

    Raises ``TypeError`` naming ``where`` for anything else.
    """
    if isinstance(result, ChapterResult):  # the contract: its "results" table, else its first
        return result.tables.get("results", next(iter(result.tables.values()), None))
    if isinstance(result, tuple) and result:
        result = result[0]
    table = result if isinstance(result, pd.DataFrame) else getattr(result, "table", result)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{where} returned {type(result).__name__}, not a pandas DataFrame (or a result with one)")
    return table


def load_experiment(name: str) -> ModuleType:
    """The module registered as ``name`` (:data:`freqlib.experiments.EXPERIMENTS`), or a dotted path
    of your own (``mypkg.myexp``).

    Raises :class:`ExperimentError` naming the known experiments when there is no such module, or
    when it has no ``run`` function.
    """
    known = ", ".join(known_experiments()) or "none"
    parts = name.split(".")
    if not name or not all(part.isidentifier() for part in parts):
        raise ExperimentError(f"experiment {name!r} is not a module name; known experiments: {known}")
    from .experiments import CHAPTERS, EXPERIMENTS

    if len(parts) == 1 and name not in EXPERIMENTS and name not in CHAPTERS:
        raise ExperimentError(f"unknown experiment {name!r}; known experiments: {known}")
    where = EXPERIMENTS.get(name) or CHAPTERS.get(name, "").partition(":")[0]
    qualified = f"freqlib.experiments.{where}" if len(parts) == 1 else name
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as err:
        if err.name == qualified or qualified.startswith(f"{err.name}."):  # the module itself, not its imports
            raise ExperimentError(f"unknown experiment {name!r}; known experiments: {known}") from None
        raise
    if not callable(getattr(module, "run", None)):
        raise ExperimentError(f"experiment module {qualified} has no run(**params) function")
    return module


def check_parameters(run, params: dict, where: str = "") -> None:
    """Raise :class:`ExperimentError` naming the entries of ``params`` that ``run`` does not accept
    (and listing those it does); a ``run(**kwargs)`` accepts anything. ``where`` names the module."""
    signature = inspect.signature(run)
    kinds = {p.kind for p in signature.parameters.values()}
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return
    accepted = [
        n
        for n, p in signature.parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    unknown = [n for n in params if n not in accepted]
    if unknown:
        where = where or run.__module__
        raise ExperimentError(
            f"{where}.run() has no parameter(s) {', '.join(unknown)}; it accepts: {', '.join(accepted)}"
        )


def run_experiment(name: str, params: dict, out: str | Path | None = None) -> pd.DataFrame:
    """Check ``name`` and ``params``, join ``torchrun``'s process group if launched, call
    ``run(**params)`` on every rank and, on rank 0, print the table and write it as CSV to ``out``.

    Every rank runs the same experiment (training is data-parallel; see :mod:`freqlib.distributed`);
    only rank 0 prints and writes. Returns the table (on every rank).
    """
    from . import distributed
    from .experiments import CHAPTERS, chapter

    module = load_experiment(name)
    config = chapter(name).Config if name in CHAPTERS else getattr(module, "Config", None)
    if config is not None and not config.chapter:  # a module that serves several chapters
        package = module.__name__.removeprefix("freqlib.experiments.")
        serves = [c for c, where in CHAPTERS.items() if where.partition(":")[0] == package]
        raise ExperimentError(f"{name!r} serves several chapters: name one of {', '.join(serves)}")
    if config is not None:  # the experiment contract: run(Config) -> ChapterResult
        params = dict(params)
        try:
            cfg = config.for_profile(params.pop("profile", "smoke"), params)
        except ConfigError as err:
            raise ExperimentError(str(err)) from None
    else:
        check_parameters(module.run, params, module.__name__)
    distributed.init_from_env()
    try:
        result = module.run(cfg) if config is not None else module.run(**params)
        table = result_table(result, f"{module.__name__}.run()")
        if distributed.is_main():
            print(table.to_string(index=False))
            if out is not None:
                out = Path(out)
                out.parent.mkdir(parents=True, exist_ok=True)
                table.to_csv(out, index=False)
                print(f"wrote {out} ({len(table)} rows)")
    finally:
        distributed.shutdown()
    return table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="freqlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks through papermill into the book's executed copies")
    run.add_argument("notebooks", nargs="*", help="notebook names (default: all, in book order)")
    run.add_argument("--profile", choices=PROFILES, default="cpu")
    run.add_argument(
        "-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), help="override a parameter"
    )
    run.add_argument("--force", action="store_true", help="run even when the cached executed copy is current")
    run.add_argument("--inplace", action="store_true", help="refresh the committed smoke outputs of the sources")
    run.add_argument(
        "--allow-dirty",
        action="store_true",
        help="reference profile: run on a tree with uncommitted changes (the record's commit says +dirty)",
    )
    build = sub.add_parser("build", help="run every notebook (cached) and build the HTML book")
    build.add_argument("--profile", choices=PROFILES, default="cpu")
    build.add_argument("--force", action="store_true")
    sub.add_parser("list", help="notebooks, their profiles and last runs")
    sub.add_parser(
        "status", help="regenerate book/status.md from the executed notebooks; list the reference records, stale ones"
    )
    exp = sub.add_parser(
        "experiment",
        help="call freqlib.experiments.MODULE.run(**params); works under torchrun (rank 0 prints and writes)",
    )
    exp.add_argument(
        "module", help=f"experiment module ({', '.join(known_experiments()) or 'none yet'}) or a.dotted.path"
    )
    exp.add_argument(
        "-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), help="a run() parameter (YAML value)"
    )
    exp.add_argument("--out", help="write the result table here as CSV (rank 0)")
    sw = sub.add_parser("sweep", help="run a notebook over a parameter grid on a Dask cluster (freqlib.sweep)")
    sw.add_argument("notebook", help="notebook name (as in notebooks/profiles.yml)")
    sw.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="NAME=V1,V2",
        help="a swept parameter and its values (each read as YAML); repeat for a Cartesian product",
    )
    sw.add_argument("--profile", choices=PROFILES, default="cpu")
    sw.add_argument(
        "-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), help="a fixed parameter (YAML value)"
    )
    sw.add_argument("--address", help="a running Dask scheduler (tcp://host:8786); default: a local cluster")
    sw.add_argument("--workers", type=int, default=2, help="processes of the local cluster (default 2)")
    sw.add_argument("--out", help="folder for the executed notebooks and results.csv (default book/sweeps/NOTEBOOK)")
    sw.add_argument("--timeout", type=int, help="seconds per cell")
    return parser


def parse_grid(specs: list[str]) -> dict[str, list]:
    """``["lr=1e-3,1e-2", "period=1,10"]`` -> {"lr": [0.001, 0.01], "period": [1, 10]} (values as YAML)."""
    grid = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise ValueError(f"--grid {spec!r}: expected NAME=V1,V2,...")
        if name.strip() in grid:
            raise ValueError(f"--grid {name.strip()!r} given twice")
        grid[name.strip()] = [parse_value(v) for v in values.split(",")]
    return grid


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "experiment":
        try:
            run_experiment(args.module, _overrides(args.parameter), args.out)
        except ExperimentError as err:
            print(f"freqlib experiment: {err}", file=sys.stderr)
            return 2
        return 0
    if args.command == "sweep":
        from .sweep import sweep

        try:
            grid = parse_grid(args.grid)
        except ValueError as err:
            print(f"freqlib sweep: {err}", file=sys.stderr)
            return 2
        table = sweep(
            args.notebook,
            grid,
            profile=args.profile,
            parameters=_overrides(args.parameter),
            out_dir=args.out,
            address=args.address,
            workers=args.workers,
            timeout=args.timeout,
        )
        return 1 if (table.status == "failed").any() else 0
    book = Book(repo_root())
    if args.command == "list":
        print(list_runs(book).to_string(index=False))
        return 0
    if args.command == "status":
        from .book import write_status_page
        from .records import status_table

        print(f"wrote {write_status_page(book).relative_to(book.root)}")
        table = status_table(book)
        print(table.to_string(index=False) if len(table) else "no reference records (results/reference/)")
        stale = table[table.stale != "no"]
        if len(stale):
            print(f"{len(stale)} stale record(s): rerun with freqlib run NAME --profile reference")
        return 1 if len(stale) else 0
    started = time.perf_counter()
    if args.command == "run" and args.profile == "reference":
        from .records import RecordError, run_reference

        if not args.notebooks:
            print("freqlib run: name the chapters of a reference run (they take up to an hour each)", file=sys.stderr)
            return 2
        for name in args.notebooks:
            try:
                run_reference(book, name, _overrides(args.parameter), allow_dirty=args.allow_dirty)
            except RecordError as err:
                print(f"freqlib run: {err}", file=sys.stderr)
                return 1
        return 0
    if args.command == "build" and args.profile == "reference":
        print("freqlib build: reference runs are recorded one chapter at a time: freqlib run NAME --profile reference")
        return 2
    if args.command == "run":
        results = run_all(
            book,
            args.profile,
            args.notebooks or None,
            _overrides(args.parameter),
            force=args.force,
            inplace=args.inplace,
        )
        print(summary(results).to_string(index=False))
        return 1 if any(r.status == "failed" for r in results) else 0
    # build
    results = run_all(book, args.profile, force=args.force)
    print("building the HTML book (jupyter-book, warnings as errors) ...")
    built = build_html(book)
    table = summary(results)
    print(built.stdout[-3000:] if built.returncode else "")
    print(built.stderr[-3000:] if built.returncode else "")
    print(table.to_string(index=False))
    failed = [r.name for r in results if r.status == "failed"]
    total = time.perf_counter() - started
    if built.returncode == 0:
        print(f"\nbook: {book.root / '_build' / 'html' / 'index.html'}  (open it in a browser; works offline)")
    else:
        print("\njupyter-book build FAILED (see above)")
    print(f"{len(results) - len(failed)} notebooks ok, {len(failed)} failed, wall time: {total:.0f} s")
    return 1 if failed or built.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
