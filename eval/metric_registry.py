"""Every metric the project reports, declared once in one table: name, direction, aggregation,
unit, description (as lm-evaluation-harness registers metrics).

How to add a metric: add one ``MetricSpec`` row to :data:`TABLE` (and a view below if a table
should show it). An episode metric (``kind="episode"``) also needs its per-episode function in
``ordebug.metrics.EPISODE_METRICS`` under the same name — the benchmark's definitions live with
the benchmark; importing this module fails if the two disagree. Everything else reads from here:
eval's summary and results.json definitions (``eval.scoring``), the offline scorers, every table,
CSV, plot and terminal summary (:data:`VIEWS`), the studies' defaults and directions
(:data:`DEFAULT_METRICS`), and the demo's REPORT.md. An unknown name is an error with "did you
mean" and the known list, never a silent higher-is-better.

Aggregations (how per-unit values become the summary value, and which bootstrap of
``foundation.stats`` gives its interval):

- ``mean`` — mean over the episodes (or rows) where the metric is defined; plain bootstrap.
- ``pooled`` — share over all steps of the scored episodes; clustered bootstrap over episodes.
  Per episode (a study's paired comparison), the share of that episode's steps.
- ``micro`` — a ratio of sums over episodes, Σ value·weight / Σ weight, each episode weighted by
  the metric its ``weight`` names (e.g. ``da_recall`` by ``iis_size``: Σ|B ∩ I| / Σ|I|); clustered
  bootstrap over episodes. Per episode (a study's paired comparison), the episode's own value.
- ``count`` — a count; no interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eval.errors import EvalConfigError
from eval.schema import RENAMED_METRICS, MetricInfo
from foundation.errors import unknown_name
from ordebug.metrics import EPISODE_METRICS

Level = Literal["episode", "step", "row"]
Kind = Literal["episode", "repair", "format", "action", "tool_call", "count"]
Aggregation = Literal["mean", "pooled", "micro", "count"]

#: Prefix of the per-reason tool-call failure shares (``invalid:<reason code>``).
INVALID_PREFIX = "invalid:"

#: Names that a metric used to have: an old results.json reads under the current name
#: (eval.schema); asking for an old name is an error that names the new one.
RENAMED = RENAMED_METRICS

_AGGREGATION_TEXT = {
    "mean": "mean over {unit}s where defined (CI: bootstrap over {unit}s)",
    "pooled": "pooled over all steps (CI: bootstrap over episodes)",
    "micro": "ratio of sums over {unit}s, weighted by {weight} (CI: bootstrap over {unit}s)",
    "count": "count",
}


@dataclass(frozen=True)
class MetricSpec:
    """One registered metric."""

    name: str
    higher_is_better: bool
    aggregation: Aggregation
    level: Level
    kind: Kind
    description: str
    short: str = ""  # column title when it differs from the name (the paper's abbreviations)
    weight: str | None = None  # aggregation "micro": the episode metric each episode weighs by

    @property
    def title(self) -> str:
        """Column title with its direction, e.g. ``RR@5 ↑``."""
        return f"{self.short or self.name} {'↑' if self.higher_is_better else '↓'}"

    def aggregation_text(self, unit: str | None = None) -> str:
        """results.json's words for the aggregation (``unit``: episode or row)."""
        return _AGGREGATION_TEXT[self.aggregation].format(unit=unit or self.level, weight=self.weight)


def _m(name: str, up: bool, aggregation: Aggregation, level: Level, kind: Kind, description: str,
       short: str = "", weight: str | None = None) -> MetricSpec:
    return MetricSpec(name, up, aggregation, level, kind, description, short, weight)


UP, DOWN = True, False

#: The one table. Order is the order of results.json's definitions.
TABLE: tuple[MetricSpec, ...] = (
    # the benchmark's episode metrics (per-episode functions: ordebug.metrics.EPISODE_METRICS)
    _m("rr@5", UP, "mean", "episode", "episode", "recovered to OPTIMAL within 5 steps", "RR@5"),
    _m("rr@10", UP, "mean", "episode", "episode", "recovered to OPTIMAL within 10 steps", "RR@10"),
    _m("rr@15", UP, "mean", "episode", "episode", "recovered to OPTIMAL within 15 steps", "RR@15"),
    _m("rr@20", UP, "mean", "episode", "episode", "recovered to OPTIMAL within 20 steps", "RR@20"),
    # the benchmark's own definitions, titled so no reader takes them for the project's
    *(_m(f"rr_first@{k}", UP, "mean", "episode", "episode",
         f"benchmark RR@{k}: some step <= {k} left the model OPTIMAL (first success, kept or not)",
         f"RR-first@{k} (bench)") for k in (5, 10, 15, 20)),
    _m("recovery", UP, "mean", "episode", "episode", "episode ended with the model OPTIMAL"),
    _m("da_iis", UP, "mean", "episode", "episode", "Jaccard of blamed constraints and the initial IIS", "DA-IIS"),
    _m("da_recall", UP, "micro", "episode", "episode",
       "benchmark DA: recall over the initial IIS, sum|blamed & IIS| / sum|IIS| over episodes",
       "DA-recall (bench)", weight="iis_size"),
    _m("iis_size", DOWN, "mean", "episode", "episode", "constraints in the initial IIS (the weight of da_recall)",
       "IIS size"),
    _m("da_target", UP, "mean", "episode", "episode", "share of ground-truth targets the agent changed",
       "DA-target"),
    _m("op", UP, "mean", "episode", "episode", "objective preservation 1-|Z-Z0|/|Z0| (denominator 1 when Z0=0)",
       "OP"),
    _m("te", UP, "mean", "episode", "episode", "1 / solver calls", "TE"),
    _m("fp", UP, "mean", "episode", "episode", "share of original constraints kept", "FP"),
    _m("first_step_repair", UP, "mean", "episode", "episode",
       "the first action alone made the model OPTIMAL (what a single-step RL stage rewards)", "1st-step repair"),
    _m("steps", DOWN, "mean", "episode", "episode", "steps taken"),
    # repair cost against the oracle (eval.scoring.episode_result)
    _m("repair_cost", DOWN, "mean", "episode", "repair",
       "elements (constraints/variables) the agent changed, recovered episodes only"),
    _m("oracle_cost", DOWN, "mean", "episode", "repair",
       "elements the oracle's minimal repair changes (ordebug.oracle.minimal_repair)"),
    _m("repair_excess", DOWN, "mean", "episode", "repair",
       "repair_cost - oracle_cost on recovered episodes (0 = as few changes as the oracle)"),
    # answer format per step: each name is a field of eval.format_metrics.StepFormat
    _m("format_ok", UP, "pooled", "step", "format",
       "share of steps whose answer is fully well-formed (think, one strict action, args)"),
    _m("think_present", UP, "pooled", "step", "format", "share of steps with a <think> tag"),
    _m("think_balanced", UP, "pooled", "step", "format", "share of steps with exactly one, ordered <think>…</think> pair"),
    _m("think_nonempty", UP, "pooled", "step", "format", "share of steps with a non-blank <think> block"),
    _m("action_strict", UP, "pooled", "step", "format", "share of steps with exactly one action parsed strictly"),
    _m("action_lenient", UP, "pooled", "step", "format", "share of steps with an action parsed leniently"),
    _m("one_action", UP, "pooled", "step", "format",
       "share of steps with exactly one parseable action outside <think> (lenient)"),
    _m("args_valid", UP, "pooled", "step", "format", "share of steps with a checkable action whose names exist in the model"),
    # the environment's verdict per step (also an episode value: ordebug.metrics)
    _m("invalid_action_rate", DOWN, "pooled", "step", "action",
       "share of steps the environment rejected (unparseable or not applicable action)"),
    # offline scoring of prediction files (eval.offline)
    _m("action_match", UP, "mean", "row", "format",
       "the answer's action equals the reference answer's action (rows with a label)"),
    _m("tool_call_valid", UP, "mean", "row", "tool_call",
       "share of calls that parse, name a known tool, carry every required argument with the declared "
       "type and no undeclared one (converters.tool_traces.schema.validate_call)"),
    _m("call_match", UP, "mean", "row", "tool_call", "the call's name and args equal the reference call's (rows with a label)"),
    # counts: not a contest, but listed with the direction results.json has always recorded
    _m("n", UP, "count", "episode", "count", "episodes (or rows) scored"),
    _m("n_steps", UP, "count", "step", "count", "steps scored"),
    _m("n_labelled", UP, "count", "row", "count", "rows with a reference answer"),
)  # fmt: skip

REGISTRY: dict[str, MetricSpec] = {s.name: s for s in TABLE}


def _check_table() -> None:
    """One row per name, and the episode rows are exactly the benchmark's per-episode functions."""
    if len(REGISTRY) != len(TABLE):
        dupes = sorted({s.name for s in TABLE if sum(t.name == s.name for t in TABLE) > 1})
        raise EvalConfigError(f"metric declared twice in eval.metric_registry.TABLE: {', '.join(dupes)}",
                              fix="keep one row per metric name")
    declared = {s.name for s in TABLE if s.kind == "episode"} | {"invalid_action_rate"}
    if declared != set(EPISODE_METRICS):
        raise EvalConfigError(
            f"episode metrics differ: only in the table {sorted(declared - set(EPISODE_METRICS))}, only in "
            f"ordebug.metrics.EPISODE_METRICS {sorted(set(EPISODE_METRICS) - declared)}",
            fix="declare each episode metric both as a TABLE row and as a function under the same name",
        )


_check_table()


def names(*, kind: Kind | None = None, level: Level | None = None) -> tuple[str, ...]:
    """Registered names of one kind and/or level, in table order."""
    return tuple(s.name for s in TABLE if (kind is None or s.kind == kind) and (level is None or s.level == level))


def get(name: str) -> MetricSpec:
    """The registered metric ``name``; an unknown name is an EvalConfigError naming the close one and the list."""
    spec = REGISTRY.get(name)
    if spec is not None:
        return spec
    if name in RENAMED:
        raise EvalConfigError(f"metric {name!r} was renamed to {RENAMED[name]!r}", fix=f"write {RENAMED[name]}")
    if name.startswith(INVALID_PREFIX) and len(name) > len(INVALID_PREFIX):
        code = name[len(INVALID_PREFIX) :]
        return MetricSpec(name, False, "mean", "row", "tool_call", f"share of calls whose first failed check is {code}")
    raise EvalConfigError(unknown_name("metric", name, tuple(REGISTRY)), fix="use a registered name (eval.metric_registry)")


def _view(*view_names: str) -> tuple[str, ...]:
    for name in view_names:
        get(name)  # a typo here fails at import, in every test, not in a report nobody reads
    return view_names


_RATES = ("rr@5", "rr@10", "rr@20", "da_iis", "da_target", "op", "te", "fp")
#: The benchmark's leaderboard definitions (first OPTIMAL within k; DA as recall over the IIS, micro).
_BENCH = ("rr_first@5", "rr_first@10", "rr_first@15", "rr@15", "da_recall")
#: The per-step answer-format rates, format_ok first, then the parts it is made of.
STEP_RATES = names(kind="format", level="step")
_FORMAT = STEP_RATES

#: Metrics a study compares by default: the benchmark's headline figures and the answer format.
DEFAULT_METRICS = _view(*_RATES, "format_ok")

#: The columns (rows) of every table, CSV, plot and summary the project writes, in order.
VIEWS: dict[str, tuple[str, ...]] = {
    # report.md of one evaluation
    "headline": _view(*_RATES, *_BENCH, "first_step_repair", "steps", "recovery", "repair_cost", "oracle_cost", "repair_excess",
                      "format_ok", "invalid_action_rate", "n", "n_steps"),
    "versus_baselines": _view("rr@5", "rr@20", "da_iis", "da_target", "op", "te", "fp", "steps", "format_ok",
                              "invalid_action_rate"),
    "breakdown": _view("n", *_RATES, "steps", "format_ok"),
    "answer_format": _view(*_FORMAT[1:], _FORMAT[0], "invalid_action_rate"),
    # the ablation table across runs (eval.report): markdown and CSV
    "ablation": _view(*_RATES, *_BENCH, "first_step_repair", "steps", "format_ok", "invalid_action_rate"),
    # the terminal summary of `python -m eval`
    "terminal": _view(*_RATES, "rr_first@5", "da_recall", "first_step_repair", "format_ok", "invalid_action_rate", "tool_call_valid", "action_match", "n"),
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


def info(name: str, aggregation: str | None = None, level: Level | None = None,
         description: str | None = None) -> MetricInfo:
    """results.json's definition of a metric (``Results.metrics``), all from the table unless overridden
    (an offline scorer states its own unit, e.g. a format rate over rows)."""
    spec = get(name)
    return MetricInfo(
        description=description or spec.description,
        higher_is_better=spec.higher_is_better,
        aggregation=aggregation or spec.aggregation_text(),
        level=level or spec.level,
    )
