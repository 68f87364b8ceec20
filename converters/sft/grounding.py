"""Grounding: is every number and name in a training answer one the student can see?

``check_grounding(prompt, answer)`` decides it for one sample. ``prompt`` is everything the model
is shown before it answers (system prompt, instruction, observation, earlier turns); ``answer`` is
the ``<think>`` block plus the ``Action:`` line. Nothing here reads files; the CLI
(``python -m converters.grounding FILE...``) and the dataset card use ``converters.sft.grounding_report``.

The contract (agents and teachers write to it; docs/grounding.md explains it with examples)
-----------------------------------------------------------------------------------------------
A number in the answer is *grounded* when one of these holds:

- **shown**: the prompt contains the same value. Values compare numerically after parsing
  (``8.0`` = ``8``, ``1e-06`` = ``0.000001``) and without their sign (reading ``5`` off ``-5`` is
  not a new fact). Digits inside identifiers are part of a name, never a number: ``x0``, ``c_12``
  and ``x[1,2]`` show no number.
- **count**: it equals the number of items of a list of quoted names the prompt shows
  (``Conflicting Constraints: ['c0', 'c2', 'c3']`` grounds "the IIS holds 3 constraints").
  Counting a shown list is a step anyone can check; any other count must be shown or derived.
- **constant**: it is 0 or 1 (default bounds, the binary domain, a unit step) or an infinite bound
  (an action's ``inf``); 100 only as an operand of a derivation (the percent factor). No other constant.
- **derived**: the answer writes ``EXPR = RESULT`` (``≈`` is accepted for ``=``) where EXPR is
  numbers, ``+ - * /`` (``×``, ``−`` too) and parentheses with the usual precedence, e.g.
  ``25.9609 - 2 * 10 = 5.9609``. EXPR is evaluated by a small parser (never ``eval``). RESULT is
  grounded when every operand is grounded by what comes before it (shown, count, constant, or a
  result derived earlier in the answer) and ``|EXPR - RESULT| <= half a unit in RESULT's last
  printed digit + 1e-9 * max(1, |RESULT|)``. A lone number is an EXPR too, so rounding is written
  ``25.9609 = 25.96``. A wrong derivation is ungrounded, and so is a right one from an ungrounded
  operand. A derived value grounds every other mention of it in the answer (the action's too).
  An ``=`` whose left side is not pure arithmetic (``slack = ...``, ``x0 + 3 = 5``) is no
  derivation; its numbers are judged one by one.

Not counted at all (labels of the answer's own text, not facts about the model): a list marker at
the start of a line (``1.``, ``2)``, ``(3)``) and a ``Step N`` heading at the start of a line
(``Step 2: ...``). "at step 3 I relaxed c1" mid-sentence is a fact and is counted.

A name in the answer is grounded when the prompt contains it as a whole token. Names are:

- every name argument of the ``Action:`` (the constraint or variable it targets);
- identifiers in ``<think>`` that are model element names the prompt shows (quoted list items,
  name-like tokens) or look like one: a digit, an underscore or an index in brackets
  (``x0``, ``c_key_lower``, ``x[1,2]``). Action names (``DROP_CONSTRAINT``, any case) and ordinary
  words are not names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

from ordebug.actions import Action, ActionName, parse_action
from ordebug.answer import ACTION_PREFIX, THINK_CLOSE, THINK_OPEN
from ordebug.errors import ActionParseError

#: Numbers that need no evidence: default bounds, the binary domain, a unit step.
CONSTANTS: frozenset[float] = frozenset({0.0, 1.0, float("inf")})  # inf: no bound (UPDATE_BOUNDS)
#: Further constants, as operands of a derivation only: the percent factor (``a / b * 100 = p``).
OPERAND_CONSTANTS: frozenset[float] = frozenset({100.0})

Kind = Literal["number", "name"]
Part = Literal["think", "action"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One ungrounded number or name: what, where in the answer, and why."""

    kind: Kind
    text: str
    part: Part
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} {self.text!r} ({self.part}): {self.reason}"


@dataclass(frozen=True, slots=True)
class Grounding:
    """The verdict on one answer. ``grounded_by`` counts grounded numbers by rule (shown/count/...)."""

    numbers_total: int
    numbers_grounded: int
    names_total: int
    names_grounded: int
    ungrounded: tuple[Finding, ...] = ()
    grounded_by: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every number and name grounded (a sample with none is grounded too)."""
        return not self.ungrounded


# --- tokens ------------------------------------------------------------------------------------
# One left-to-right scan: an identifier (with an attached [index]) is taken whole before any digit
# inside it could be read as a number; numbers have no sign (signs are operators, see _evaluate).
_TOKEN = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]\s]*\])?)"
    r"|(?P<num>(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<eq>(?<![<>=!])(?:=|≈)(?!=))"
    r"|(?P<op>[-+*/×−])"
    r"|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<ws>[ \t]+)"
    r"|(?P<other>.)"
)
# Names and numbers only: what a line without '=' (and a prompt) needs; same tokens as _TOKEN gives.
_WORDS = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]\s]*\])?)|(?P<num>(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?)"
)
_NAMES = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]\s]*\])?")
_NUMBERS = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAME_MARK = re.compile(r"[\d_\]]")
_LABEL = re.compile(
    r"^[ \t>*•-]*(?:(?P<marker>\(?\d+[.)])[ \t]|(?i:step)[ \t]+(?P<step>\d+)\b)", re.MULTILINE
)
_BRACKETS = re.compile(r"\[([^\[\]\n]*)\]")
_QUOTED = re.compile(r"""'([^'\n]+)'|"([^"\n]+)\"""")
_QUOTED_ITEMS = re.compile(r"""\s*(?:(?:'[^'\n]*'|"[^"\n]*")\s*(?:,\s*|$))*""")
_ACTION_WORDS = frozenset(a.value.lower() for a in ActionName)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    start: int


def _tokens(line: str) -> list[_Tok]:
    if "=" not in line and "≈" not in line:  # no derivation: names and numbers are all that count
        return [_Tok(m.lastgroup, m.group(), m.start()) for m in _WORDS.finditer(line)]  # type: ignore[arg-type]
    return [
        _Tok(m.lastgroup or "other", m.group(), m.start())
        for m in _TOKEN.finditer(line)
        if m.lastgroup != "ws"
    ]


def _key(value: float) -> float:
    """The value without its sign. Every value compared was parsed from printed decimals, and equal
    decimals parse to the same float (8.0 = 8, 1e-06 = 0.000001)."""
    return abs(value) + 0.0


def _looks_like_name(token: str) -> bool:
    return _NAME_MARK.search(token) is not None and token.lower() not in _ACTION_WORDS


# --- the prompt --------------------------------------------------------------------------------
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")  # _NAMES's [A-Za-z0-9_]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACKET_AFTER_WORD = re.compile(r"[A-Za-z0-9_]\[")


class _Prompt:
    """What one prompt part shows, indexed lazily: each index (identifier tokens, numbers, quoted-name
    lists) is built on the first question that needs it, and most questions are answered from the text
    itself without any index. The answers are those of the full index (set membership):

    - ``tokens``: every ``_NAMES`` match. Without a word character followed by ``[`` no match carries a
      bracket, so the tokens are exactly the maximal runs of ``[A-Za-z0-9_]`` that start with a letter
      or ``_``: an identifier is one iff it occurs with no word character on either side.
    - ``model_names``: items of quoted-name lists that are tokens, so a word that never occurs quoted is
      none; each item is asked as a token is, so the lists cost no full token index.
    - ``values`` (shown numbers) and ``counts`` (lengths of quoted-name lists): the full index.
    """

    __slots__ = ("_asked", "_lists", "_model_names", "_tokens", "_values", "simple", "text")

    #: After this many questions a part is shared (the system prompt): its full index answers faster.
    SHARED_AFTER = 64

    def __init__(self, text: str) -> None:
        self.text = text
        self.simple = _BRACKET_AFTER_WORD.search(text) is None
        self._tokens: frozenset[str] | None = None
        self._values: frozenset[float] | None = None
        self._lists: tuple[frozenset[float], frozenset[str]] | None = None
        self._model_names: frozenset[str] | None = None
        self._asked = 0

    def _shared(self) -> bool:
        self._asked += 1
        return self._asked > self.SHARED_AFTER

    def tokens(self) -> frozenset[str]:
        if self._tokens is None:
            self._tokens = frozenset(_NAMES.findall(self.text))
        return self._tokens

    def values(self) -> frozenset[float]:
        # the numbers of the text with the identifiers blanked out (the e of 1e-06 is no name)
        if self._values is None:
            self._values = frozenset(map(float, _NUMBERS.findall(_NAMES.sub(" ", self.text))))
        return self._values

    def lists(self) -> tuple[frozenset[float], frozenset[str]]:
        # lists of quoted names ("['c0', 'demand']"): their lengths (counts) and their items
        if self._lists is None:
            text = self.text
            lists = [_QUOTED.findall(inner) for inner in _BRACKETS.findall(text) if _QUOTED_ITEMS.fullmatch(inner)]
            counts = frozenset(float(len(items)) for items in lists)
            self._lists = counts, frozenset(a or b for items in lists for a, b in items)
        return self._lists

    def model_names(self) -> frozenset[str]:
        # quoted items that are tokens (name-like tokens are recognised by their shape wherever they stand)
        if self._model_names is None:
            quoted = self.lists()[1]
            if self._tokens is not None:
                self._model_names = quoted & self._tokens
            else:
                self._model_names = frozenset(q for q in quoted if self._is_token(q))
        return self._model_names

    def has_token(self, name: str) -> bool:
        if self._tokens is not None or self._shared():
            return name in self.tokens()
        return self._is_token(name)

    def _is_token(self, name: str) -> bool:
        text = self.text
        if name not in text:
            return False
        if not (self.simple and _IDENTIFIER.fullmatch(name)):
            return name in self.tokens()
        size, end, at = len(name), len(text), text.find(name)
        while at >= 0:
            after = at + size
            if (at == 0 or text[at - 1] not in _WORD_CHARS) and (after == end or text[after] not in _WORD_CHARS):
                return True
            at = text.find(name, at + 1)
        return False

    def has_model_name(self, name: str) -> bool:
        return bool(self.model_names_among(frozenset((name,))))

    def model_names_among(self, words: frozenset[str]) -> frozenset[str]:
        if self._model_names is not None or self._shared():
            return words & self.model_names()
        text = self.text
        words = frozenset(w for w in words if f"'{w}'" in text or f'"{w}"' in text)
        if not words:
            return words
        return frozenset(w for w in words & self.lists()[1] if self._is_token(w))

    def has_value(self, key: float) -> bool:
        return key in self.values()

    def has_count(self, key: float) -> bool:
        return key in self.lists()[0]


@lru_cache(maxsize=4096)
def _index(prompt: str) -> _Prompt:
    return _Prompt(prompt)


class _Shown:
    """What a prompt in parts shows: each part's cached index, asked in turn (no merged copy: the
    system prompt's index is shared by every sample, and most answers ask about a dozen tokens)."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[str, ...]) -> None:
        self.parts = tuple(map(_index, parts))

    def has_value(self, key: float) -> bool:
        return any(p.has_value(key) for p in self.parts)

    def has_count(self, key: float) -> bool:
        return any(p.has_count(key) for p in self.parts)

    def has_token(self, name: str) -> bool:
        return any(p.has_token(name) for p in self.parts)

    def has_model_name(self, name: str) -> bool:
        return any(p.has_model_name(name) for p in self.parts)

    def model_names_among(self, words: frozenset[str]) -> frozenset[str]:
        found: frozenset[str] = frozenset()
        for p in self.parts:
            found |= p.model_names_among(words)
        return found


# --- arithmetic --------------------------------------------------------------------------------
class _NotArithmetic(Exception):
    """The tokens are not one complete arithmetic expression."""


def _evaluate(toks: list[_Tok]) -> float:
    """Value of numbers, + - * / and parentheses with the usual precedence (recursive descent)."""
    pos = 0

    def peek() -> _Tok | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> _Tok:
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def expr() -> float:
        value = term()
        while (t := peek()) is not None and t.kind == "op" and t.text in "+-−":
            take()
            rhs = term()
            value = value + rhs if t.text == "+" else value - rhs
        return value

    def term() -> float:
        value = unary()
        while (t := peek()) is not None and t.kind == "op" and t.text in "*/×":
            take()
            rhs = unary()
            if t.text == "/":
                if rhs == 0:
                    raise ZeroDivisionError
                value /= rhs
            else:
                value *= rhs
        return value

    def unary() -> float:
        t = peek()
        if t is not None and t.kind == "op" and t.text in "-−+":
            take()
            return -unary() if t.text != "+" else unary()
        return atom()

    def atom() -> float:
        t = peek()
        if t is None:
            raise _NotArithmetic
        take()
        if t.kind == "num":
            return float(t.text)
        if t.kind == "lp":
            value = expr()
            if (r := peek()) is None or r.kind != "rp":
                raise _NotArithmetic
            take()
            return value
        raise _NotArithmetic

    value = expr()
    if pos != len(toks):
        raise _NotArithmetic
    return value


def _half_unit(text: str) -> float:
    """Half a unit in the last printed digit of a number (``5.9609`` -> 0.00005, ``12`` -> 0.5)."""
    try:
        exponent = Decimal(text).as_tuple().exponent
    except InvalidOperation:  # pragma: no cover - the token regex admits only decimals
        return 0.0
    return 0.5 * 10.0 ** int(exponent)


_ARITH = frozenset({"num", "op", "lp", "rp"})


def _unary(op: _Tok, before: _Tok, after: _Tok) -> bool:
    """A sign written as one ("then -(2 - 10)"): '-' spaced from the word before, touching what follows."""
    return op.text in "-−" and before.start + len(before.text) < op.start and after.start == op.start + 1


def _derivation_start(toks: list[_Tok], eq: int) -> int | None:
    """Index of the first token of the longest arithmetic expression ending just before ``toks[eq]``;
    None when the left side is not pure arithmetic (a name, an algebraic term, nothing)."""
    lo = eq
    while lo > 0 and toks[lo - 1].kind in _ARITH:
        lo -= 1
    start = lo
    while start < eq:
        first, before = toks[start], toks[start - 1] if start else None
        # "x0 + 3 = 5" is algebra, not arithmetic: an operator right after a name or number
        if first.kind == "rp" or (
            first.kind == "op"
            and before is not None
            and before.kind in {"name", "num", "rp"}
            and not _unary(first, before, toks[start + 1])
        ):
            return None
        try:
            _evaluate(toks[start:eq])
        except _NotArithmetic:
            if first.kind != "lp":
                return None
            start += 1  # "c1 (25.9609 - 20 = 5.9609)": the bracket opens a remark, not the expression
            continue
        except ZeroDivisionError:  # a complete expression; the caller reports the division
            pass
        return start
    return None


# --- the checker -------------------------------------------------------------------------------
class _Judge:
    """Judges the numbers and names of one answer against one prompt, in reading order."""

    def __init__(self, parts: tuple[str, ...]) -> None:
        self.p, self.parts = _Shown(parts), parts
        self.derived: set[float] = set()  # keys of verified, grounded results so far
        self.numbers = self.numbers_ok = self.names = self.names_ok = 0
        self.findings: list[Finding] = []
        self.by: dict[str, int] = {}  # a plain dict: a Counter per sample costs more than the counting

    def basis(self, value: float) -> str | None:
        key = _key(value)
        if self.p.has_value(key):
            return "shown"
        if self.p.has_count(key):
            return "count"
        if key in CONSTANTS:
            return "constant"
        if key in self.derived:
            return "derived"
        return None

    def number(self, text: str, value: float, part: Part, basis: str | None, why: str) -> None:
        self.numbers += 1
        if basis:
            self.numbers_ok += 1
            self.by[basis] = self.by.get(basis, 0) + 1
        else:
            self.findings.append(Finding("number", text, part, why))

    def name(self, text: str, part: Part, found: bool) -> None:
        self.names += 1
        if found:
            self.names_ok += 1
        else:
            self.findings.append(Finding("name", text, part, "not in the prompt"))

    def think(self, text: str) -> None:
        if "=" not in text and "≈" not in text:  # no derivation (most answers): one scan of the text
            mentions, words = _plain_mentions(text)
            for text_, value in mentions:
                if value is None:
                    self.name(text_, "think", self.p.has_token(text_))
                else:
                    self.number(text_, value, "think", self.basis(value), "not in the prompt")
            # a model name is a token of the prompt that quotes it, so each is a grounded name
            for word in self.p.model_names_among(frozenset(words)):
                self.names += words[word]
                self.names_ok += words[word]
            return
        # two passes: derivations first (their results ground mentions anywhere), then mentions
        lines = []
        for line in text.splitlines():
            toks = _tokens(line)
            skip = _labels(line, toks)
            lines.append((toks, skip, self._derivations(toks, skip)))
        for toks, skip, used in lines:
            for i, t in enumerate(toks):
                if t.kind in ("num", "name"):
                    self.mention(t.kind, t.text, i in skip or i in used)

    def mention(self, kind: str | None, text: str, skip: bool) -> None:
        if kind == "num":
            if not skip:
                value = float(text)
                self.number(text, value, "think", self.basis(value), "not in the prompt")
        elif _looks_like_name(text) or self.p.has_model_name(text):
            self.name(text, "think", self.p.has_token(text))

    def _derivations(self, toks: list[_Tok], skip: set[int]) -> set[int]:
        """Judge every ``EXPR = RESULT`` of a line; return the indices of the tokens they used."""
        used: set[int] = set()
        for eq, t in enumerate(toks):
            if t.kind != "eq":
                continue
            res = eq + 1
            negative = res < len(toks) and toks[res].kind == "op" and toks[res].text in "-−"
            res += negative
            if res >= len(toks) or toks[res].kind != "num":
                continue
            after = toks[res + 1] if res + 1 < len(toks) else None
            if after is not None and (after.kind == "lp" or (after.kind == "op" and after.text not in "-−")):
                continue  # "= 2 * 3": the right side is an expression, not a result
            start = _derivation_start(toks, eq)
            if start is None:
                continue
            missing = []
            for i in range(start, eq):
                if toks[i].kind != "num":
                    continue
                value = float(toks[i].text)
                basis = self.basis(value) or ("constant" if value in OPERAND_CONSTANTS else None)
                if i not in used:  # a result reused as an operand is counted once
                    self.number(toks[i].text, value, "think", basis, "operand not in the prompt")
                    used.add(i)
                if basis is None:
                    missing.append(toks[i].text)
            result_text = ("-" if negative else "") + toks[res].text
            result = float(result_text)
            expr_text = " ".join(x.text for x in toks[start:eq])
            try:
                value = _evaluate(toks[start:eq])
                right = abs(value - result) <= _half_unit(toks[res].text) + 1e-9 * max(1.0, abs(result))
            except ZeroDivisionError:
                value, right = None, False
            used.add(res)
            if not right:
                got = "a division by zero" if value is None else f"{value:.6g}"
                why = f"wrong derivation: {expr_text} = {got}, not {result_text}"
                self.number(result_text, result, "think", None, why)
            elif missing:
                self.number(
                    result_text, result, "think", None, f"derived from ungrounded {', '.join(missing)}"
                )
            else:
                self.number(result_text, result, "think", "derived", "")
                self.derived.add(_key(result))
        return used - skip

    def action(self, line: str) -> None:
        try:
            action = _parse(line)
        except ActionParseError:
            self.think(line)  # unparsable: judge its tokens like free text
            return
        if action.target is not None:
            self.name(action.target, "action", _in_prompt(action.target, self.p, self.parts))
        for value in action.values:
            text = f"{value:g}"
            self.number(text, value, "action", self.basis(value), "not in the prompt or derived in <think>")

    def result(self) -> Grounding:
        return Grounding(
            self.numbers, self.numbers_ok, self.names, self.names_ok, tuple(self.findings), self.by
        )


@lru_cache(maxsize=65_536)
def _plain_mentions(text: str) -> tuple[tuple[tuple[str, float | None], ...], dict[str, int]]:
    """What ``_Judge.mention`` asks of a think text without derivations, prepared once per text (many
    answers share theirs): the counted numbers (text, value) and name-shaped words (text, None) in
    reading order, and every other word with its number of occurrences (a name only if the prompt
    quotes it as a model element)."""
    # a label's number starts a line (after a marker prefix), so no token straddles it: the tokens
    # before it are those of the text up to it, and their count is the label's index among the tokens
    labels = {len(_WORDS.findall(text, 0, m.start("marker") + (m.group("marker")[0] == "(")
                                 if m.group("marker") else m.start("step")))
              for m in _LABEL.finditer(text)}  # fmt: skip
    mentions: list[tuple[str, float | None]] = []
    words: dict[str, int] = {}
    for i, (name, num) in enumerate(_WORDS.findall(text)):
        if num:
            if i not in labels:
                mentions.append((num, float(num)))
        elif _looks_like_name(name):
            mentions.append((name, None))
        else:
            words[name] = words.get(name, 0) + 1
    return tuple(mentions), words  # callers only read it


def _labels(line: str, toks: list[_Tok]) -> set[int]:
    """Index of the number of a line-start list marker or ``Step N`` heading (not counted)."""
    m = _LABEL.match(line)
    if not m:
        return set()
    at = m.start("marker") + (m.group("marker")[0] == "(") if m.group("marker") else m.start("step")
    return {i for i, t in enumerate(toks) if t.start == at}


def _in_prompt(name: str, prompt: _Shown, parts: tuple[str, ...]) -> bool:
    """Whether the prompt shows ``name`` as a whole token (names may hold any Gurobi character)."""
    if prompt.has_token(name):
        return True
    whole = re.compile(rf"(?<![\w.\[\]-]){re.escape(name)}(?![\w.\[\]-])")
    return any(whole.search(part) for part in parts)


def clear_caches() -> None:
    """Forget every prompt, line and answer indexed so far (benchmarks time a cold start)."""
    for cached in (_index, _plain_mentions, _parse):
        cached.cache_clear()


def split_answer(answer: str) -> tuple[str, str | None]:
    """(think text, the text after the last ``Action:`` prefix or None)."""
    head, sep, tail = answer.rpartition(ACTION_PREFIX)
    if not sep:
        return answer.replace(THINK_OPEN, " ").replace(THINK_CLOSE, " "), None
    return head.replace(THINK_OPEN, " ").replace(THINK_CLOSE, " "), tail.strip()


@lru_cache(maxsize=4096)
def _parse(line: str) -> Action:
    return parse_action(line, lenient=True)


def check_grounding(prompt: str | Sequence[str], answer: str) -> Grounding:
    """Judge every number and name of ``answer`` against ``prompt`` (see the module doc).

    ``prompt`` may be given in parts (system prompt, user turn, ...): the same as their concatenation
    with line breaks between, and a part shared by many samples is indexed once."""
    parts = (prompt,) if isinstance(prompt, str) else tuple(prompt)
    judge = _Judge(parts)
    think, action = split_answer(answer)
    judge.think(think)
    if action is not None:
        judge.action(action)
    return judge.result()
