"""Per-sample checks: the answer's <think> block and action, and the token length under the template.

Reusable outside the converter (eval scores format with the same rules):

- :func:`check_answer` — ``<think>`` present, balanced, non-empty, first; exactly one
  ``Action: NAME(args)`` line after it that parses with the ``ordebug`` grammar (strictly, or only
  leniently: legacy forms such as ``DROP_CONSTRAINT(c, 0.0)`` are kept and counted).
- :class:`TokenCounter` — tokens of (system, user, answer) as LLaMA-Factory will train them: the
  real Qwen3 tokenizer and the ``qwen3_think`` template.
- :func:`length_stats` — p50/p95/max and how many exceed a cutoff.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from converters.core.errors import ConvertError
from foundation.paths import qwen3_tokenizer_dir  # honours QWEN3_TOKENIZER_DIR
from ordebug.actions import parse_action
from ordebug.answer import ACTION_PREFIX, THINK_CLOSE, THINK_OPEN, parse_answer
from ordebug.errors import ActionParseError

#: Drop reasons of answer checks (the card explains each).
REASON_TEXT: dict[str, str] = {
    "think_missing": "no <think> block",
    "think_unbalanced": "<think>/</think> not one ordered pair",
    "think_empty": "empty <think> block",
    "think_not_first": "text before <think>",
    "action_missing": "no 'Action: NAME(args)' line after </think>",
    "action_invalid": "action line does not parse with the ordebug grammar (or extra text)",
    "over_cutoff": "prompt + answer tokens exceed the cutoff (dropped with --drop-over-cutoff)",
    "duplicate": "same user turn and answer as an earlier sample (after normalisation)",
    "reasoning_has_tags": "trajectory reasoning itself contains <think> tags",
    "step_without_action": "trajectory step has no parsed action (parse error)",
    "trajectory_failed": "trajectory did not recover the model (kept with --keep-failures)",
    "holdout": "moved to the holdout split",
    "mix_weight": "left out by a --mix weight below 1",
    "mix_cap": "left out by a --cap",
    "bad_line": "malformed input line skipped (--skip-bad-lines)",
    "torn_tail": "last trajectory line without newline (a write torn by a crash)",
    "not_utf8": "input line (or .json record) is not valid UTF-8 (skipped with --skip-bad-lines)",
    "already_optimal": "trajectory of a model already OPTIMAL at reset: not a debugging problem",
    "collector_skipped": "trajectory the collector marked skipped (no attempt to learn from)",
    "unknown_target": "action names a constraint/variable the model does not have",
    "ungrounded": "answer states a number or name its prompt does not show (dropped with --require-grounded)",
}


@dataclass(frozen=True, slots=True)
class AnswerCheck:
    """The verdict on one answer text."""

    ok: bool
    reason: str | None  # drop-reason code (REASON_TEXT) when not ok
    detail: str | None  # the parser's own words
    lenient: bool  # the action parses only with the lenient (legacy) grammar
    action_name: str  # "" when no action parsed


def check_answer(output: str) -> AnswerCheck:
    """Check one answer: well-formed <think> block, then exactly one parseable action line.

    Same rules as ``ordebug.answer.parse_answer`` (strict): the think block is checked here, the
    text after ``</think>`` by ``parse_answer`` itself on a stand-in think block, cached by that
    tail (actions repeat across samples; tests/test_convert.py proves the two agree).
    """
    n_open, n_close = output.count(THINK_OPEN), output.count(THINK_CLOSE)
    i, j = output.find(THINK_OPEN), output.find(THINK_CLOSE)
    if n_open == 0 and n_close == 0:
        return AnswerCheck(False, "think_missing", "no <think> block", False, "")
    if n_open != 1 or n_close != 1 or j < i:
        return AnswerCheck(
            False, "think_unbalanced", f"{n_open} <think> and {n_close} </think> tags", False, ""
        )
    if output[:i].strip():
        return AnswerCheck(False, "think_not_first", "text before <think>", False, "")
    if not output[i + len(THINK_OPEN) : j].strip():
        return AnswerCheck(False, "think_empty", "empty <think> block", False, "")
    return _check_tail(output[j + len(THINK_CLOSE) :])


@lru_cache(maxsize=100_000)
def _check_tail(tail: str) -> AnswerCheck:
    parsed = parse_answer(f"{THINK_OPEN}\nx\n{THINK_CLOSE}{tail}")
    if parsed.action is not None:
        return AnswerCheck(True, None, None, False, str(parsed.action.name))
    lines = [line for line in tail.splitlines() if line.strip()]
    if not any(line.startswith(ACTION_PREFIX) for line in lines):
        return AnswerCheck(False, "action_missing", parsed.action_error, False, "")
    if len(lines) == 1:
        try:
            action = parse_action(lines[0][len(ACTION_PREFIX) :], lenient=True)
        except ActionParseError as err:
            return AnswerCheck(False, "action_invalid", err.reason, False, "")
        return AnswerCheck(True, None, parsed.action_error, True, str(action.name))
    return AnswerCheck(False, "action_invalid", parsed.action_error, False, "")


# ---------------------------------------------------------------- token length


def load_template(name: str, tokenizer: Any) -> Any:
    """LLaMA-Factory's template object ``name`` (``qwen3_think`` is registered by recipes.template)."""
    if name == "qwen3_think":
        try:
            from recipes.template import register
        except ImportError as exc:
            raise ConvertError(
                f"template 'qwen3_think' is unavailable ({exc})", fix="install the project"
            ) from None
        register()
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments

    return get_template_and_fix_tokenizer(tokenizer, DataArguments(template=name))


# A pre-tokenizer boundary: Qwen's split regex never lets a pre-token run from a newline into a
# following non-space character, so token counts add up over these chunks exactly.
_CHUNK = re.compile(r"(?<=\n)(?=\S)")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2 byte-level alphabet (what the ByteLevel pre-tokenizer maps bytes to)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


_BYTE_LEVEL = _bytes_to_unicode()
# ASCII control characters other than tab and newline: whitespace classes differ between regex
# engines there, so such text takes the tokenizer's own pre-tokenizer.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _split_pattern(tokenizer_dir: Path) -> str | None:
    """The Split regex of a byte-level BPE tokenizer.json (None when it is not that shape)."""
    try:
        spec = json.loads((tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))["pre_tokenizer"]
        parts = spec["pretokenizers"] if spec.get("type") == "Sequence" else [spec]
        split, level = parts
        ok = split["type"] == "Split" and split["behavior"] == "Isolated" and not split["invert"]
        ok = ok and level["type"] == "ByteLevel" and not level["add_prefix_space"] and not level["use_regex"]
        return split["pattern"]["Regex"] if ok else None
    except (OSError, KeyError, TypeError, ValueError):
        return None


class _PieceCounter:
    """Exact token count of a text without building encodings: added tokens (``<think>``,
    ``<|im_end|>``…) count one each; the rest is normalised, pre-tokenised by the tokenizer's own
    pre-tokenizer, and BPE lengths are cached per pre-token (byte-level BPE never merges across
    pre-tokens)."""

    def __init__(self, backend: Any, split_pattern: str | None = None) -> None:
        self.pre = backend.pre_tokenizer
        self.model = backend.model
        self.normalizer = backend.normalizer
        added = sorted(
            (t.content for t in backend.get_added_tokens_decoder().values()), key=len, reverse=True
        )
        self.added = re.compile("|".join(map(re.escape, added))) if added else None
        self.cache: dict[str, int] = {}
        # Plain ASCII text (the bulk of observations) is split in-process with the pre-tokenizer's own
        # regex: the same pieces, without a round trip through the tokenizers library per chunk.
        self.split = None
        if split_pattern:
            import regex

            self.split = regex.compile(split_pattern).findall
        self.ascii_cache: dict[str, int] = {}
        self.byte_level = {i: _BYTE_LEVEL[i] for i in range(128)}

    def __call__(self, text: str) -> int:
        if self.added is None or "<" not in text:
            return self._plain(text)
        n, pos = 0, 0
        for m in self.added.finditer(text):
            n += self._plain(text[pos : m.start()]) + 1
            pos = m.end()
        return n + self._plain(text[pos:])

    def _plain(self, text: str) -> int:
        if not text:
            return 0
        if self.split is not None and text.isascii() and not _CONTROL.search(text):
            cache, n = self.ascii_cache, 0
            for piece in self.split(text):
                c = cache.get(piece)
                if c is None:
                    c = cache[piece] = len(self.model.tokenize(piece.translate(self.byte_level)))
                n += c
            return n
        if self.normalizer is not None and not text.isascii():
            text = self.normalizer.normalize_str(text)
        cache, n = self.cache, 0
        for piece, _ in self.pre.pre_tokenize_str(text):
            c = cache.get(piece)
            if c is None:
                c = cache[piece] = len(self.model.tokenize(piece))
            n += c
        return n


class TokenCounter:
    """Tokens of (system, user, answer) as LLaMA-Factory trains them with ``template``.

    ``exact()`` runs the template's own ``encode_oneturn``. ``count()`` is the fast path for
    large datasets: per-chunk counts (:class:`_PieceCounter`, cached) added up with the
    template's constant overhead, which is calibrated on a probe and re-verified against
    ``exact()`` on a spread of the samples of every call; on any mismatch it falls back to
    ``exact()`` for all (``mode`` says which ran). Use :func:`token_counter` to share one.
    """

    def __init__(
        self,
        template: str = "qwen3_think",
        tokenizer_dir: str | os.PathLike[str] | None = None,
        *,
        verify: int = 64,
    ) -> None:
        from transformers import AutoTokenizer

        self.template_name = template
        self.tokenizer_dir = Path(tokenizer_dir) if tokenizer_dir else qwen3_tokenizer_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.tokenizer_dir))
        self.template = load_template(template, self.tokenizer)
        self.verify = verify
        self.mode = "fast"
        self._pieces = _PieceCounter(self.tokenizer.backend_tokenizer, _split_pattern(self.tokenizer_dir))
        self._chunks: dict[str, int] = {}
        self._system_tokens: dict[str, int] = {}
        probe = ("System.", "User turn.", "<think>\nReason.\n</think>\n\nAction: GET_IIS()")
        self._overhead = {
            True: self.exact(*probe) - sum(map(self.text_tokens, probe)),
            False: self.exact("", *probe[1:]) - sum(map(self.text_tokens, probe[1:])),
        }

    def exact(self, system: str, user: str, answer: str) -> int:
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        prompt, response = self.template.encode_oneturn(self.tokenizer, messages, system or None)
        return len(prompt) + len(response)

    def text_tokens(self, text: str) -> int:
        """Tokens of a bare text (no template), summed over cached chunks."""
        chunks = self._chunks
        n = 0
        for c in _CHUNK.split(text):
            k = chunks.get(c)
            if k is None:
                if len(chunks) > 2_000_000:  # bound memory on huge runs
                    chunks.clear()
                k = chunks[c] = self._pieces(c)
            n += k
        return n

    def count(self, triples: Sequence[tuple[str, str, str]]) -> list[int]:
        """Token length of every (system, user, answer) triple."""
        if self.mode == "exact":
            return [self.exact(*t) for t in triples]
        out: list[int] = []
        known: dict[str, int] = {}  # whole texts seen in this call (the system prompt repeats)
        tokens = self.text_tokens
        for system, user, answer in triples:
            if _starts_blank(system) or _starts_blank(user) or _starts_blank(answer):
                out.append(self.exact(system, user, answer))  # a leading blank can merge across slots
                continue
            s = known.get(system)
            if s is None:
                s = known[system] = tokens(system)
            out.append(self._overhead[bool(system)] + s + tokens(user) + tokens(answer))
        step = max(1, len(triples) // self.verify) if self.verify else 0
        if step and any(out[i] != self.exact(*triples[i]) for i in range(0, len(triples), step)):
            self.mode = "exact"
            return [self.exact(*t) for t in triples]
        return out

    def clear_cache(self) -> None:
        self._chunks.clear()
        self._pieces.cache.clear()
        self._pieces.ascii_cache.clear()
        self._system_tokens.clear()

    def upper_bound(self, system: str, user: str, answer: str) -> int:
        """A cheap bound no smaller than the token count: byte-level BPE tokens hold at least one
        byte each, so user and answer count at most their UTF-8 bytes (the system prompt, shared by
        every sample, is counted exactly once)."""
        s = self._system_tokens.get(system)
        if s is None:
            s = self._system_tokens[system] = self.text_tokens(system)
        return self._overhead[bool(system)] + s + _utf8_len(user) + _utf8_len(answer)


_COUNTERS: dict[tuple[str, str], TokenCounter] = {}


def token_counter(
    template: str = "qwen3_think", tokenizer_dir: str | os.PathLike[str] | None = None
) -> TokenCounter:
    """A shared counter per (template, tokenizer): loading the tokenizer and template takes seconds."""
    key = (template, str(tokenizer_dir or ""))
    if key not in _COUNTERS:
        _COUNTERS[key] = TokenCounter(template, tokenizer_dir)
    return _COUNTERS[key]


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


@dataclass
class LengthReport:
    """Token lengths of a dataset: exact over-cutoff verdicts for every sample, stats from a sample."""

    counts: dict[int, int]  # exact counts we have, by sample position
    sampled: list[int]  # positions the distribution was computed on
    over: list[int]  # positions of samples over the cutoff (exact: every candidate was counted)
    stats: dict[str, Any]


def measure_lengths(
    counter: TokenCounter,
    triples: Sequence[tuple[str, str, str]],
    cutoff: int,
    *,
    sample: int = 5_000,
    seed: int = 0,
) -> LengthReport:
    """Which samples exceed ``cutoff`` (exactly), and p50/p95/max/mean.

    Every sample whose cheap upper bound exceeds the cutoff is counted exactly, so the over-cutoff
    verdicts (and ``--drop-over-cutoff``) are exact for all samples. The distribution is counted on
    all samples when there are at most ``sample`` of them (``sample=0``: always all), else on a
    uniform random subset of that size (seeded): tokenising is far slower than the conversion.
    """
    n = len(triples)
    if sample and n > sample:
        chosen = sorted(random.Random(seed).sample(range(n), sample))
    else:
        chosen = list(range(n))
    counts = dict(zip(chosen, counter.count([triples[i] for i in chosen]), strict=True))
    if counter.mode == "exact" or len(chosen) == n:  # no trusted bound: count everything
        rest = [i for i in range(n) if i not in counts]
    else:
        rest = [i for i in range(n) if i not in counts and counter.upper_bound(*triples[i]) > cutoff]
    counts.update(zip(rest, counter.count([triples[i] for i in rest]), strict=True))
    over = sorted(i for i, c in counts.items() if c > cutoff)
    stats = length_stats([counts[i] for i in chosen], cutoff)
    stats.update(
        over_cutoff=len(over),
        counted=len(counts),
        total=n,
        distribution="all samples" if len(chosen) == n else f"uniform sample of {len(chosen)} (seed {seed})",
        mode=counter.mode,
    )
    return LengthReport(counts, chosen, over, stats)


def _starts_blank(text: str) -> bool:
    return bool(text) and text[0].isspace()


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return int(sorted_values[rank - 1])


def length_stats(lengths: Sequence[int], cutoff: int) -> dict[str, Any]:
    """p50/p95/max/mean of token lengths and how many exceed ``cutoff``."""
    values = sorted(lengths)
    return {
        "n": len(values),
        "cutoff": cutoff,
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": values[-1] if values else 0,
        "mean": round(sum(values) / len(values), 1) if values else 0.0,
        "over_cutoff": sum(1 for v in values if v > cutoff),
    }
