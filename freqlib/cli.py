"""The ``freqlib`` command: run notebooks under profiles, build the book, list runs."""

from __future__ import annotations

import argparse
import sys
import time

import yaml

from .book import PROFILES, Book, build_html, list_runs, repo_root, run_all, summary


def _overrides(pairs: list[list[str]] | None) -> dict:
    """``-p NAME VALUE`` pairs; values parsed as YAML (3 -> int, [1, 2] -> list, none -> None)."""
    return {name: yaml.safe_load(value) for name, value in (pairs or [])}


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
    build = sub.add_parser("build", help="run every notebook (cached) and build the HTML book")
    build.add_argument("--profile", choices=PROFILES, default="cpu")
    build.add_argument("--force", action="store_true")
    sub.add_parser("list", help="notebooks, their profiles and last runs")
    sub.add_parser("status", help="regenerate book/status.md from the executed notebooks")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    book = Book(repo_root())
    if args.command == "list":
        print(list_runs(book).to_string(index=False))
        return 0
    if args.command == "status":
        from .book import write_status_page

        print(f"wrote {write_status_page(book).relative_to(book.root)}")
        return 0
    started = time.perf_counter()
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
