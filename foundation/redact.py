"""Redaction: what may be written to a log, manifest, report or stderr about an endpoint and its key.

Two entry points:

- :func:`redact_url` shortens an endpoint URL to scheme, host, port and path (for manifests);
- :func:`redact` cleans free text (error messages, response bodies, fix hints): every piece of a
  secret of :data:`MIN_PIECE` characters or more, ``user:password@`` in URLs and secret-looking
  query parameters (``api_key=``, ``token=``, ``sig=``...) become ``***``.

Redact the whole text first and shorten it afterwards: a key cut in half by a shortened message
is no longer the key, so whole-key replacement misses it (issue 23, probe 1). :func:`redact`
also catches the pieces, so the order stays safe even where some caller shortens first.

Secrets the process holds (the LLM clients' keys) are registered once with :func:`register_secret`;
the CLI error printer and the JSON writers of summaries and results redact with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MIN_PIECE = 8  # a shorter run of key characters is not worth an attacker's time and matches ordinary words
MASK = "***"

# ``scheme://user:password@`` or ``scheme://token@`` anywhere in a text.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^\s/@'\"<>]+@")
# A query or fragment parameter whose name says it carries a credential.
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&;#](?:[\w.\-]*[_\-.])?"
    r"(?:api[_\-]?key|key|token|access[_\-]?token|refresh[_\-]?token|id[_\-]?token|secret|client[_\-]?secret"
    r"|password|passwd|pwd|sig|signature|auth|authorization|credential|credentials|session)=)"
    r"(?P<value>[^&\s#'\"<>]+)",
    re.IGNORECASE,
)

_registered: set[str] = set()


def register_secret(secret: str | None) -> None:
    """Remember a secret this process holds, so every later :func:`redact` hides it without being told."""
    if secret and secret != "EMPTY" and len(secret) >= 4:
        _registered.add(secret)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the pieces of ``secrets`` (and registered ones), URL credentials and key parameters masked."""
    text = str(text)
    for secret in {*(s for s in secrets if s and s != "EMPTY"), *_registered}:
        text = _mask_pieces(text, secret)
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m['name']}{MASK}", text)


def _mask_pieces(text: str, secret: str) -> str:
    """Mask every run of ``text`` made of ``MIN_PIECE``-long windows of ``secret`` (a key shown in part)."""
    if len(secret) < MIN_PIECE:  # too short to have pieces: only the whole of it
        return text.replace(secret, MASK) if len(secret) >= 4 else text
    if len(text) < MIN_PIECE:
        return text
    windows = {secret[i : i + MIN_PIECE] for i in range(len(secret) - MIN_PIECE + 1)}
    # One C-speed scan: a lookahead finds every (overlapping) start of a window.
    finder = re.compile("(?=(" + "|".join(map(re.escape, windows)) + "))")
    covered: list[tuple[int, int]] = []
    for match in finder.finditer(text):
        start, end = match.start(), match.start() + MIN_PIECE
        if covered and start <= covered[-1][1]:
            covered[-1] = (covered[-1][0], end)
        else:
            covered.append((start, end))
    if not covered:
        return text
    out, last = [], 0
    for start, end in covered:
        out.append(text[last:start])
        out.append(MASK)
        last = end
    out.append(text[last:])
    return "".join(out)


def redact_url(url: str) -> str:
    """The URL without user:password, query string and fragment (some gateways put keys there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets, or the port would read as part of it
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def redact_json(data: Any) -> Any:
    """A JSON-ready value with :func:`redact` applied to every string in it (keys included)."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {redact(str(k)) if isinstance(k, str) else k: redact_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_json(v) for v in data]
    return data
