"""The legacy SFT outputs (OR-Debug-Bench's legacy SFT format, docs/datasets.md) and what is known about them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple


class LegacyCounts(NamedTuple):
    """How the legacy outputs parse: the data's documented quirks, counted."""

    canonical: int  # the action parses strictly and prints back to the same text
    drop_with_amount: int  # DROP_CONSTRAINT(name, 0.0): a surplus argument
    one_bound: int  # UPDATE_BOUNDS(var, value): one bound instead of two
    lenient_same: int  # the whole output re-formats to itself after a lenient parse


#: By number of outputs: the full data (774 Alpaca + 78 messages samples) and the excerpt in tests/data (120 + 78).
LEGACY_COUNTS = {
    774 + 78: LegacyCounts(canonical=824, drop_with_amount=12, one_bound=16, lenient_same=840),
    120 + 78: LegacyCounts(canonical=194, drop_with_amount=2, one_bound=2, lenient_same=196),
}


def legacy_outputs(shared_data: Path) -> list[str]:
    """Every assistant output of the legacy data: the Alpaca file's, then the messages file's."""
    root = shared_data / "legacy_sft"
    outputs = [s["output"] for s in json.loads((root / "sft_gpt52chat.json").read_text())["data"]]
    for line in (root / "sft_qwen_chat.val.jsonl").read_text().splitlines():
        outputs += [m["content"] for m in json.loads(line)["messages"] if m["role"] == "assistant"]
    return outputs


def legacy_counts(n_outputs: int) -> LegacyCounts:
    assert n_outputs in LEGACY_COUNTS, (
        f"legacy data of {n_outputs} outputs is neither the full data nor the excerpt"
    )
    return LEGACY_COUNTS[n_outputs]
