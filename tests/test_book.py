"""Build the book from the notebooks' committed smoke outputs and check it as a reader would."""

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import nbformat
import pytest
import yaml

from freqlib.book import PROFILES, Book, build_html
from freqlib.experiments import CHAPTERS, chapter

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,1600", "--virtual-time-budget=8000",
]  # fmt: skip


def toc_files() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [c["file"] for c in part["chapters"]]
    return files


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns("executed", "status.md"))
    for stray in (".pytest_cache", ".ruff_cache", "benchmarks"):  # what `make test` leaves behind
        (root / stray).mkdir()
        (root / stray / "README.md").write_text("# not a page of the book\n")
    book = Book(root)
    book.executed_dir.mkdir()
    for name in book.names():  # the committed smoke outputs stand in for executed copies
        shutil.copy(book.source(name), book.executed(name))
    result = build_html(book)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return root / "_build" / "html"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.scripts = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])


def _parse(page: Path) -> _Tags:
    tags = _Tags()
    tags.feed(page.read_text())
    return tags


def test_toc_and_profiles_agree():
    chapters = {f.removeprefix("book/executed/") for f in toc_files() if f.startswith("book/executed/")}
    assert chapters == set(Book(REPO).names())


@pytest.mark.parametrize("name", Book(REPO).names())
def test_parameters_cell_parses_and_names_every_profile_knob(name, caplog):
    """papermill must read every line of the parameters cell (a comment holding a second ``=``
    makes it skip the line with a warning), and every knob a profile sets must be one of them."""
    from papermill.translators import PythonTranslator

    book = Book(REPO)
    cells = [
        c for c in nbformat.read(book.source(name), as_version=4).cells if "parameters" in c.metadata.get("tags", [])
    ]
    assert len(cells) == 1, f"{name}: exactly one cell must be tagged 'parameters'"
    with caplog.at_level("WARNING", logger="papermill"):
        names = {p.name for p in PythonTranslator.inspect(cells[0])}
    assert not caplog.records, f"{name}: " + "; ".join(r.getMessage() for r in caplog.records)
    entry = book.profiles()["notebooks"][name]
    for profile in [p for p in PROFILES if p == "smoke" or p in entry]:
        params = book.parameters(name, profile)
        unknown = set(params) - names
        assert not unknown, f"{name}: profile {profile} sets {sorted(unknown)}, not in the parameters cell"
        if "overrides" in params:  # a Config chapter: every knob of the profile is one of its fields
            chapter(name).Config.for_profile(profile, params["overrides"])


def test_every_config_chapter_is_registered():
    book = Book(REPO)
    takes_config = [name for name in book.names() if book.takes_config(name)]
    assert not [n for n in takes_config if n not in CHAPTERS], "a Config chapter is missing from CHAPTERS"
    for name in CHAPTERS:
        assert book.takes_config(name), f"{name}: registered, but its parameters cell has no overrides"
        found = chapter(name)
        assert found.Config.chapter == name and callable(found.run) and callable(found.claims), name


def test_every_toc_page_is_built_with_its_images_and_no_errors(html):
    for file in toc_files():
        page = html / f"{file}.html"
        assert page.is_file(), f"{file} missing from the HTML"
        text = page.read_text()
        assert "Traceback (most recent call last)" not in text and "output traceback" not in text, f"{file}: error"
        for src in _parse(page).images:
            if not src.startswith("data:"):
                assert (page.parent / src).resolve().is_file(), f"{file}: image {src} does not exist"
    status = (html / "book" / "status.html").read_text()
    assert "Reproduction status" in status and "reproduced" in status


def test_math_is_served_offline(html):
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for page in html.rglob("*.html"):
        for src in _parse(page).scripts:
            assert not re.match(r"https?://", src), f"{page.name} loads {src} from the network"


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Chromium is needed for this test: sudo apt-get install chromium (make test does it as root)"
    return exe


@pytest.mark.parametrize("page", ["book/intro", "book/executed/dct_zigzag"])
def test_pages_render_in_headless_chromium(html, page, tmp_path):
    exe = _chromium()
    url = (html / f"{page}.html").as_uri()
    profile = tmp_path / "profile"
    shot = tmp_path / f"{page.replace('/', '_')}.png"
    subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1600, 1280) and pixels.std() > 0.05  # not a blank page
    dom = subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "mjx-container" in dom, f"{page}: MathJax did not typeset the math"
    if page.startswith("book/executed/"):
        assert len(re.findall(r"<img [^>]*src=\"[^\"]+\.png\"", dom)) >= 4, f"{page}: figures missing"
    saved = REPO / "_build" / "screenshots"
    saved.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, saved / shot.name)  # kept for a person to look at
