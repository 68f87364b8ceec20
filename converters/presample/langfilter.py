"""Language filter for pre-sampling: ``lingua-language-detector`` (PyPI; ships its models, no download).

Low-accuracy mode by default: trigram models only, all preloaded (~0.7 s, ~25 MB), ~0.2-0.5 ms
per text, reliable on the sentence-length and longer texts of reasoning sets; high accuracy
loads every model (~0.9 GB, ~9 s) and is meant for short texts. Each configured field of a row is
cut to ``max_chars``; a field the detector can decide must be the wanted language, an undecidable
one (no letters, such as a numeric answer "42", or ``None`` from the detector) is passed over, and
a row needs at least one decided field. The detector is the costly part of pre-sampling, so
converters.presample.sampling calls it only on the candidates a sample needs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from converters.core.workload_errors import PresampleError

_LOCALE_RE = re.compile(r"^(C|POSIX)$|[._@]")


def looks_like_locale(value: str) -> bool:
    """True for shell locale strings (``C.UTF-8``, ``en_US.UTF-8``) that reach us via make's LANG."""
    return bool(_LOCALE_RE.search(value))


class LanguageFilter:
    """``matches(texts)``: every non-empty text is in language ``code`` (ISO 639-1, e.g. "en")."""

    def __init__(self, code: str, *, max_chars: int = 1000, high_accuracy: bool = False) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        try:
            self.language = Language.from_iso_code_639_1(IsoCode639_1.from_str(code.lower()))
        except ValueError:
            raise PresampleError(f"unknown language code {code!r}",
                                 fix="pass an ISO 639-1 code such as en, de, zh (LANG=en)") from None
        builder = LanguageDetectorBuilder.from_all_languages()
        if not high_accuracy:  # preloading every trigram model: ~0.7 s, ~25 MB; lazy loading costs more later
            builder = builder.with_low_accuracy_mode().with_preloaded_language_models()
        self._detector = builder.build()
        self.code = code.lower()
        self.max_chars = max_chars
        self.calls = 0  # texts run through the detector

    def warm(self) -> None:
        """Finish start-up now (high accuracy loads models lazily on first use), so timings exclude it."""
        self._detector.detect_language_of("A short English sentence to load the language models.")

    def matches(self, texts: Sequence[Any]) -> bool:
        """Every decidable text is in the language, and at least one is (module doc)."""
        decided = False
        for text in texts:
            if not isinstance(text, str) or not any(c.isalpha() for c in text):
                continue  # empty, or a number/formula: no language to veto with
            self.calls += 1
            found = self._detector.detect_language_of(text[: self.max_chars])
            if found is None:
                continue
            if found != self.language:
                return False
            decided = True
        return decided
