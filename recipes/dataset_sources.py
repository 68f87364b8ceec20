"""Which converter registers a dataset, and which kind of rows it holds.

A recipe names datasets (``tool_calls_train``, ``search_multiturn_val``, ``oracle_train``...); when
one is missing, the fix must name the command that makes *that* dataset, and a dataset registered
under the name by another converter (Alpaca rows where a recipe trains on tool calls or whole
conversations) must fail validation rather than train on the wrong thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The splits converters register as ``<stem>_<split>``.
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DatasetSource:
    """A family of dataset names and the converter that makes them."""

    pattern: re.Pattern[str]  # matches the stem (the name without _train/_val/_test)
    command: str  # the command that registers it; {stem} and the pattern's groups are filled in
    kind: str  # what the rows are, in words
    messages: bool  # rows are ShareGPT/OpenAI messages (formatting: sharegpt), not Alpaca

    def fix(self, stem: str) -> str:
        match = self.pattern.fullmatch(stem)
        groups = match.groupdict() if match else {}
        return self.command.format(stem=stem, **groups)


SOURCES: tuple[DatasetSource, ...] = (
    DatasetSource(re.compile(r"tool_calls"), "convert the tool-call trace logs first: `make convert-traces IN=DIR` "
                  "registers tool_calls_train/_val", "tool-call samples (messages with tool calls)", True),
    DatasetSource(re.compile(r"(?P<prefix>\w+)_multiturn"), "convert the search-agent traces first: "
                  "`python -m converters.search_traces --in FILE --name {prefix}` (`make convert-search IN=FILE` "
                  "for the prefix search) registers {prefix}_multiturn_train/_val", "multi-turn conversations", True),
    DatasetSource(re.compile(r"(?P<prefix>\w+)_summary_(only|prefix)"), "summarize the step samples, then convert: "
                  "`make summarize IN=data/{prefix}_steps/steps.jsonl OUT=FILE` and `python -m "
                  "converters.search_traces --in FILE --name {prefix}` register {stem}_train/_val",
                  "search-step samples with summaries", False),
    DatasetSource(re.compile(r"(?P<prefix>\w+)_steps"), "convert the search-agent traces first: `python -m "
                  "converters.search_traces --in FILE --name {prefix}` registers {stem}_train/_val",
                  "search-step samples", False),
    DatasetSource(re.compile(r"(?P<agent>teacher|heuristic|oracle)"), "collect and convert first: `make collect "
                  "AGENT={agent} OUT=trajectories/{agent}.jsonl && make convert IN=trajectories/{agent}.jsonl "
                  "NAME={agent}` registers {agent}_train/_val/_test", "OR-Debug SFT samples", False),
)

#: Any other name: an OR-Debug dataset `make convert NAME=<stem>` makes.
DEFAULT = DatasetSource(re.compile(r".+"), "convert the data first: `make convert NAME={stem}` registers "
                        "{stem}_train/_val/_test", "OR-Debug SFT samples", False)


def split_name(name: str) -> tuple[str, str | None]:
    """(stem, split) of a registered name; split None when the name carries none."""
    stem, _, split = name.rpartition("_")
    return (stem, split) if stem and split in SPLITS else (name, None)


def source_of(name: str) -> DatasetSource:
    """The converter family a dataset name belongs to (DEFAULT when no family claims it)."""
    stem, _ = split_name(name)
    return next((s for s in SOURCES if s.pattern.fullmatch(stem)), DEFAULT)
