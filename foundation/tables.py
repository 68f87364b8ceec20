"""Markdown tables through ``tabulate`` (GitHub pipe format), not string joins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tabulate import tabulate


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, align: Sequence[str] | None = None
) -> list[str]:
    """The lines of a GitHub-flavoured Markdown table; cells are printed as given (``str()``).

    Cells are not reformatted (numbers keep the caller's format) and a ``|`` inside a cell is
    escaped so it cannot split the row.
    """
    body = [[str(c).replace("|", "\\|") for c in row] for row in rows]
    text = tabulate(
        body,
        headers=[str(h).replace("|", "\\|") for h in header],
        tablefmt="github",
        disable_numparse=True,
        colalign=tuple(align) if align else None,
    )
    return text.splitlines()
