"""Every metric eval reports, declared once: name, direction, description, how it aggregates.

Episode metrics come from ``ordebug.metrics`` (the benchmark's definitions); the repair-cost,
per-step format, tool-call and count figures are declared here. Every table, CSV, plot and
terminal summary of ``eval/`` takes its columns from :data:`VIEWS` and each column's direction
and title from :func:`get`; a name that is not registered is an error with "did you mean"
and the known list, never a silent higher-is-better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eval.errors import EvalConfigError
from eval.format_metrics import STEP_RATES
from eval.schema import MetricInfo
from foundation.errors import unknown_name
from ordebug.metrics import METRICS as EPISODE_METRICS

Level = Literal["episode", "step", "row"]
Kind = Literal["episode", "repair", "format", "tool_call", "count"]

#: Prefix of the per-reason tool-call failure shares (``invalid:<reason code>``).
INVALID_PREFIX = "invalid:"
#: Display titles that differ from the metric's name (the paper's abbreviations).
_TITLES = {"rr@5": "RR@5", "rr@10": "RR@10", "rr@20": "RR@20", "op": "OP", "fp": "FP", "te": "TE",
           "da_iis": "DA-IIS", "da_target": "DA-target"}  # fmt: skip


@dataclass(frozen=True)
class MetricSpec:
    """One registered metric."""

    name: str
    higher_is_better: bool
    description: str
    kind: Kind
    level: Level = "episode"

    @property
    def title(self) -> str:
        """Column title with its direction, e.g. ``RR@5 ↑``."""
        return f"{_TITLES.get(self.name, self.name)} {'↑' if self.higher_is_better else '↓'}"


def _specs() -> list[MetricSpec]:
    specs = [MetricSpec(m.name, m.higher_is_better, m.description, "episode") for m in EPISODE_METRICS.values()]
    specs += [
        MetricSpec("repair_cost", False,
                   "elements (constraints/variables) the agent changed, recovered episodes only", "repair"),
        MetricSpec("oracle_cost", False,
                   "elements the oracle's minimal repair changes (ordebug.oracle.minimal_repair)", "repair"),
        MetricSpec("repair_excess", False,
                   "repair_cost - oracle_cost on recovered episodes (0 = as few changes as the oracle)", "repair"),
    ]  # fmt: skip
    specs += [MetricSpec(k, True, desc, "format", "step") for k, (_, desc) in STEP_RATES.items()]
    specs += [
        MetricSpec("invalid_action_rate", False,
                   "share of steps the environment rejected (unparseable or not applicable action)", "format", "step"),
        MetricSpec("action_match", True,
                   "the answer's action equals the reference answer's action (rows with a label)", "format", "row"),
        MetricSpec("tool_call_valid", True,
                   "share of calls that parse, name a known tool, carry every required argument with the declared "
                   "type and no undeclared one (converters.tool_traces.schema.validate_call)", "tool_call", "row"),
        MetricSpec("call_match", True,
                   "the call's name and args equal the reference call's (rows with a label)", "tool_call", "row"),
        # counts: not a contest, but listed with the direction results.json has always recorded
        MetricSpec("n", True, "episodes (or rows) scored", "count"),
        MetricSpec("n_steps", True, "steps scored", "count", "step"),
        MetricSpec("n_labelled", True, "rows with a reference answer", "count", "row"),
    ]  # fmt: skip
    return specs


REGISTRY: dict[str, MetricSpec] = {s.name: s for s in _specs()}


def get(name: str) -> MetricSpec:
    """The registered metric ``name``; an unknown name is an EvalConfigError naming the close one and the list."""
    spec = REGISTRY.get(name)
    if spec is not None:
        return spec
    if name.startswith(INVALID_PREFIX) and len(name) > len(INVALID_PREFIX):
        code = name[len(INVALID_PREFIX) :]
        return MetricSpec(name, False, f"share of calls whose first failed check is {code}", "tool_call", "row")
    raise EvalConfigError(unknown_name("metric", name, tuple(REGISTRY)), fix="use a registered name (eval.metric_registry)")


def _view(*names: str) -> tuple[str, ...]:
    for name in names:
        get(name)  # a typo here fails at import, in every test, not in a report nobody reads
    return names


_RATES = ("rr@5", "rr@10", "rr@20", "da_iis", "da_target", "op", "te", "fp")
_FORMAT = tuple(STEP_RATES)  # format_ok first, then the parts it is made of

#: The columns (rows) of every table, CSV, plot and summary eval writes, in order.
VIEWS: dict[str, tuple[str, ...]] = {
    # report.md of one evaluation
    "headline": _view(*_RATES, "first_step_repair", "steps", "recovery", "repair_cost", "oracle_cost", "repair_excess",
                      "format_ok", "invalid_action_rate", "n", "n_steps"),
    "versus_baselines": _view("rr@5", "rr@20", "da_iis", "da_target", "op", "te", "fp", "steps", "format_ok",
                              "invalid_action_rate"),
    "breakdown": _view("n", *_RATES, "steps", "format_ok"),
    "answer_format": _view(*_FORMAT[1:], _FORMAT[0], "invalid_action_rate"),
    # the ablation table across runs (eval.report): markdown and CSV
    "ablation": _view(*_RATES, "first_step_repair", "steps", "format_ok", "invalid_action_rate"),
    # the terminal summary of `python -m eval`
    "terminal": _view(*_RATES, "first_step_repair", "format_ok", "invalid_action_rate", "tool_call_valid", "action_match", "n"),
    # plots
    "plot_groups": _view("rr@5", "rr@20", "da_iis", "da_target", "op", "fp"),
    "plot_compare": _view("rr@5", "rr@20", "da_iis", "da_target", "op", "te", "fp", "format_ok"),
    "plot_format": _view(*_FORMAT[1:], _FORMAT[0]),
    # the demo's REPORT.md
    "demo_headline": _view("format_ok", "invalid_action_rate", "rr@5", "op", "fp", "da_iis", "da_target"),
    "demo_format": _view(*(k for k in _FORMAT[1:] if k != "one_action"), _FORMAT[0]),
}


def view(name: str) -> tuple[str, ...]:
    """The metric names of one view (KeyError names the known views)."""
    try:
        return VIEWS[name]
    except KeyError:
        raise KeyError(unknown_name("view", name, tuple(VIEWS))) from None


def info(name: str, aggregation: str, level: Level | None = None, description: str | None = None) -> MetricInfo:
    """results.json's definition of a metric (``Results.metrics``), direction and text from the registry."""
    spec = get(name)
    return MetricInfo(
        description=description or spec.description,
        higher_is_better=spec.higher_is_better,
        aggregation=aggregation,
        level=level or spec.level,
    )
