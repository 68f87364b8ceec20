"""argparse types the converters share: a bad value is a usage error naming the option (exit 2).

``--val`` is a share of the groups (tasks, traces, problems) in [0, 1), never a count: a count
of 2 silently meant "2 of 3 tasks" before. ``0`` means no val split.
"""

from __future__ import annotations

import argparse
import re


def fraction(text: str) -> float:
    """A share in [0, 1), e.g. ``0.1``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1) such as 0.1, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a share of the groups in [0, 1) such as 0.1 (0: no val split), got {text}; "
            "it is a fraction, not a count"
        )
    return value


def regex(text: str) -> str:
    """A pattern Python's ``re`` compiles (returned as text, compiled where it is used)."""
    try:
        re.compile(text)
    except re.error as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid regular expression ({err})") from None
    return text
