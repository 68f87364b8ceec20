"""One SFT sample (one observation -> one answer) and the metadata kept beside it.

Metadata has a fixed key set with fixed types in every row (strings "" and ints 0 when
unknown, never null): the ``datasets`` JSON reader infers a column type per block and
fails when a block of nulls meets a block of strings, which would break LLaMA-Factory's
loading of a file mixing sources.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from ordebug.prompts import user_message

#: Metadata keys and their type (the default is the "unknown" value).
META_DEFAULTS: dict[str, Any] = {
    "problem_id": "",  # group key of the split
    "error_type": "",  # benchmark error type A-I
    "difficulty": "",  # easy / medium / hard
    "family": "",  # model family (see converters.core.split.family_of)
    "step": 0,  # 1-based step within the attempt (0: unknown)
    "steps": 0,  # steps of the attempt (0: unknown)
    "agent": "",  # agent that produced the answer
    "source": "",  # mixing label: teacher / heuristic / oracle / legacy / ...
    "success": True,  # whether the attempt recovered the model
    "layout": "",  # observation layout of `input`
    "whatif": False,  # the episode offered the what-if actions (WHATIF_*; rich layout only)
    "action": "",  # action name of the answer (for counts)
    "origin": "",  # file:line the sample came from
}
META_KEYS: tuple[str, ...] = tuple(META_DEFAULTS)
_INT_KEYS = frozenset(k for k, v in META_DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool))


def make_meta(**values: Any) -> dict[str, Any]:
    """A metadata dict with every key, in order, typed (None -> the key's default)."""
    meta = dict(META_DEFAULTS)
    for key, value in values.items():
        if key not in META_DEFAULTS:
            raise KeyError(f"unknown metadata key {key!r}; known: {', '.join(META_KEYS)}")
        if value is None:
            continue
        default = META_DEFAULTS[key]
        if type(value) is not type(default):
            value = (
                bool(value) if isinstance(default, bool) else int(value) if key in _INT_KEYS else str(value)
            )
        meta[key] = value
    return meta


@dataclass(slots=True)
class Sample:
    """An Alpaca-shaped sample; ``user`` is the user turn LLaMA-Factory builds from it."""

    instruction: str
    input: str
    output: str
    system: str
    meta: dict[str, Any] = field(default_factory=make_meta)
    #: check_answer's verdict when already known (answers built from a checked frame), else None
    verdict: Any = None

    @property
    def user(self) -> str:
        return user_message(self.input, self.instruction)

    @property
    def group(self) -> str:
        """Split group: the problem id, or the sample's own key when it has none."""
        return self.meta["problem_id"] or f"sample:{self.key}"

    @property
    def text_key(self) -> tuple[str, str]:
        """What makes two samples the same: the normalised user turn and answer (not the system prompt)."""
        return normalise(self.user), normalise(self.output)

    @property
    def key(self) -> str:
        """A stable digest of ``text_key`` (seeded rankings and groups of samples without a problem id)."""
        user, output = self.text_key
        return hashlib.blake2b(f"{user}\x1f{output}".encode(), digest_size=16).hexdigest()


_TRAILING_WS = re.compile(r"[ \t]+(?=\n|$)")


def normalise(text: str) -> str:
    """What "the same sample" means for dedup: CRLF -> LF, no trailing blanks per line, no outer blanks."""
    if "\r" in text or " \n" in text or "\t\n" in text:  # the regex only when there is work for it
        text = _TRAILING_WS.sub("", text.replace("\r\n", "\n"))
    if text[:1].isspace() or text[-1:].isspace():
        text = text.strip()
    return text


def family_of(problem_id: str, problem: dict) -> str:
    """Model family: ``problem["family"]`` (generated sets), else ``problem_type`` (lp/mip),
    else the problem id's prefix before the first '_' ("mip_typeA_000" -> "mip")."""
    fam = problem.get("family") or problem.get("problem_type")
    if fam:
        return str(fam)
    return problem_id.split("_", 1)[0] if "_" in problem_id else ""
