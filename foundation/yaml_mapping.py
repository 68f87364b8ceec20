"""Reading a YAML file whose top level is a mapping: one place for the checks and the error wording."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from foundation.errors import ToolkitError


def read_yaml_mapping(
    path: str | os.PathLike[str],
    *,
    error: type[ToolkitError] = ToolkitError,
    fix: str | None = None,
) -> dict[str, Any]:
    """The file's mapping (an empty file is ``{}``); an unreadable file, bad YAML or another top-level
    value raises ``error`` naming the file, what is wrong and ``fix``."""
    where = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot be read ({' '.join(str(exc).split())[:160]})", where=where, fix=fix) from None
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML ({' '.join(str(exc).split())[:160]})", where=where, fix=fix) from None
    if not isinstance(data, dict):
        raise error(f"expected a mapping at the top level, got {type(data).__name__}", where=where, fix=fix)
    return data
