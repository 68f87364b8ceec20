"""The docs a person finds their way in: every make target is listed by `make help` and shown in
README.md or docs/; every relative link and #anchor in them resolves; every `make TARGET` they name
exists; every CLI answers --help."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parents[1]
MAKEFILE = (REPO / "Makefile").read_text()
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
TEXT = {page: page.read_text() for page in PAGES}
TARGETS = re.findall(r"^([a-z][a-z-]*):.*?## ", MAKEFILE, flags=re.MULTILINE)
#: every rule in the Makefile, documented with `##` or not
ALL_TARGETS = set(re.findall(r"^([a-z][a-z0-9-]*):", MAKEFILE, flags=re.MULTILINE))
#: The CLI behind each target (and the helper CLIs users call directly).
CLIS = sorted(set(re.findall(r"\$\(PY\) -m ([a-z_.]+)", MAKEFILE)))
#: `make TARGET` in code; options (`make -s help`) and VAR=value before the target are skipped
MAKE_CALL = re.compile(r"(?:^|[\s;&|(`])make\s+(?:-\S+\s+(?:\S+\s+)?)*(?:[A-Z_]+=\S*\s+)*([a-z][a-z0-9-]*)")
MD = MarkdownIt("commonmark").enable("table")


def _tokens(page: Path) -> list:
    """Block and inline tokens of a page, flattened."""
    out = []
    for token in MD.parse(TEXT[page]):
        out.append(token)
        out.extend(token.children or [])
    return out


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors: set[str] = set()
    tokens = MD.parse(TEXT[page])
    for opening, inline in itertools.pairwise(tokens):
        if opening.type == "heading_open":
            text = "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))
            slug, n = _slug(text), 1
            while slug in anchors:  # GitHub numbers repeated headings: x, x-1, x-2
                slug, n = f"{_slug(text)}-{n}", n + 1
            anchors.add(slug)
    return anchors


def test_every_target_is_in_make_help_and_in_the_docs() -> None:
    assert len(TARGETS) >= 20
    listed = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    docs = "\n".join(TEXT.values())
    for target in TARGETS:
        assert re.search(rf"^\s+{re.escape(target)}\s", listed, flags=re.MULTILINE), f"`make help` misses {target}"
        assert f"make {target}" in docs, f"neither README.md nor docs/*.md shows `make {target}`"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for token in _tokens(page):
        href = token.attrs.get("href") if token.type == "link_open" else None
        if not href or re.match(r"[a-z]+:", href):  # http:, https:, mailto: are not checked (no network)
            continue
        path, _, anchor = href.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{href}: no file {target.relative_to(REPO)}")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{href}: no heading #{anchor} in {target.relative_to(REPO)}")
    assert not broken, f"{page.relative_to(REPO)}: broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_make_target_named_exists(page: Path) -> None:
    code = "\n".join(t.content for t in _tokens(page) if t.type in ("fence", "code_block", "code_inline"))
    unknown = sorted({m for m in MAKE_CALL.findall(code) if m not in ALL_TARGETS})
    assert not unknown, f"{page.relative_to(REPO)} names make targets the Makefile lacks: {unknown}"


def test_readme_is_a_front_page_that_maps_every_docs_page() -> None:
    lines = TEXT[README].count("\n")
    assert lines <= 300, f"README.md has {lines} lines; move the detail to a page under docs/ (at most 300)"
    linked = {t.attrs.get("href", "").partition("#")[0] for t in _tokens(README) if t.type == "link_open"}
    missing = [p.name for p in PAGES[1:] if f"docs/{p.name}" not in linked]
    assert not missing, f"README.md's documentation map misses {missing}"


@pytest.mark.parametrize("module", CLIS)
def test_every_cli_has_help(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
