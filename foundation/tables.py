"""Markdown tables through ``tabulate`` (pipe format, columns aligned), not string joins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tabulate import tabulate

_ALIGN = {"l": "left", "r": "right", "c": "center"}


def cell(value: Any) -> str:
    """A table cell as printed: ``str()``, pipes escaped (``1-|Z-Z0|/|Z0|`` would split the row),
    newlines folded into spaces."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], *, align: str | Sequence[str] | None = None
) -> list[str]:
    """The lines of a Markdown (pipe) table.

    Cells are printed as given, never reformatted (numbers keep the caller's format).
    ``align`` is one letter per column (``"lrr"``: l, r or c) or tabulate's words; default
    all left.
    """
    colalign = None
    if align is not None:
        colalign = tuple(_ALIGN.get(a, a) for a in align)
    text = tabulate(
        [[cell(c) for c in row] for row in rows],
        headers=[cell(h) for h in header],
        tablefmt="pipe",
        disable_numparse=True,
        colalign=colalign,
    )
    return text.splitlines()
