"""The SFT conversion, end to end: read -> check -> dedup -> length -> holdout -> mix -> split -> write.

``convert(ConvertOptions(...))`` is the API behind ``python -m converters.sft``; it returns the
dataset card (also written to ``data/<name>/card.json``).
"""

from __future__ import annotations

import gc
import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from converters.core.errors import ConvertError
from converters.core.files import dataset_lock
from converters.core.registry import (
    alpaca_entry,
    load_dataset_info,
    messages_entry,
    register_datasets,
    relative_file_name,
    unregister_datasets,
)
from converters.core.samples import Sample
from converters.core.split import SPLITS, assign_splits, check_fractions, check_holdout, holdout_mask
from converters.sft import card as card_mod
from converters.sft.checks import REASON_TEXT, check_answer, measure_lengths, token_counter
from converters.sft.grounding import Grounding
from converters.sft.grounding_report import Tally, ground
from converters.sft.mix import dedup, repeat_train, select
from converters.sft.sources import LEGACY_SOURCE, ReadStats, detect_kind, read_alpaca, read_messages
from converters.sft.targets import unknown_target
from converters.sft.trajectories import read_trajectories
from converters.sft.writer import staged_dir, write_split
from foundation.hashing import sha256_file
from ordebug.actions import parse_action
from ordebug.answer import ACTION_PREFIX
from ordebug.benchmark_actions import Compatibility, check_benchmark_action
from ordebug.layouts import Layout
from ordebug.prompts import system_prompt

DEFAULT_INPUT_GLOB = "trajectories/*.jsonl"


class ConvertOptions(BaseModel):
    """Every knob of a conversion (the CLI maps its flags onto these)."""

    model_config = ConfigDict(extra="forbid")
    inputs: list[str] = Field(
        default_factory=list, description="files, or SOURCE=FILE to set the mixing label"
    )
    name: str = "ordebug"
    format: Literal["alpaca", "sharegpt"] = "alpaca"
    file_format: Literal["jsonl", "parquet"] = "jsonl"
    val: float = 0.1
    test: float = 0.1
    seed: int = 0
    layout: Layout | None = None
    keep_failures: bool = False
    skip_bad_lines: bool = False
    length_check: bool = True
    cutoff: int = 2048
    length_sample: int = 5_000
    drop_over_cutoff: bool = False
    template: str = "qwen3_think"
    tokenizer_dir: str | None = None
    holdout_types: list[str] = Field(default_factory=list)
    holdout_families: list[str] = Field(default_factory=list)
    weights: dict[str, float] = Field(default_factory=dict)
    caps: dict[str, float] = Field(default_factory=dict)
    canonical_actions: bool = False
    require_grounded: bool = False  # drop samples whose answer is not grounded (converters.grounding)
    # drop samples the benchmark's RL stage would not parse (ordebug.benchmark_actions);
    # None: on for the rich layout (the default for new data), off for the legacy one
    require_benchmark_actions: bool | None = None
    root: Path = Path(".")
    update_registry: bool = True
    progress: bool = True
    command: list[str] = Field(default_factory=list)


class _Drops:
    """Dropped samples by reason, with a few locations each (for the card)."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, reason: str, where: str, detail: str | None = None) -> None:
        self.count[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < 5:
            ex.append(f"{where}: {detail}" if detail else where)

    def merge(self, stats: ReadStats) -> None:
        for reason, n in stats.skipped.items():
            self.count[reason] += n
            self.examples.setdefault(reason, []).extend(stats.skipped_at.get(reason, [])[:5])

    def as_dict(self) -> dict[str, Any]:
        return {
            r: {"count": n, "why": REASON_TEXT.get(r, r), "examples": self.examples.get(r, [])}
            for r, n in sorted(self.count.items())
        }


def resolve_inputs(items: list[str], root: Path) -> list[tuple[str | None, Path]]:
    """(label, path) pairs; no items -> every trajectories/*.jsonl under root."""
    if not items:
        found = sorted(root.glob(DEFAULT_INPUT_GLOB))
        if not found:
            raise ConvertError(
                f"no inputs: {root / DEFAULT_INPUT_GLOB} matches nothing",
                fix="run make collect first, or pass files with --in",
            )
        return [(None, p) for p in found]
    out = []
    for item in items:
        label, sep, rest = item.partition("=")
        if sep and label and "/" not in label and not Path(item).exists():
            out.append((label, Path(rest)))
        else:
            out.append((None, Path(item)))
    return out


def read_inputs(opts: ConvertOptions, drops: _Drops) -> tuple[list[Sample], list[dict[str, Any]], ReadStats]:
    samples: list[Sample] = []
    inputs: list[dict[str, Any]] = []
    stats = ReadStats()
    for label, path in resolve_inputs(opts.inputs, opts.root):
        kind = detect_kind(path)
        before, skipped_before = len(samples), sum(stats.skipped.values())
        digest = hashlib.sha256() if kind == "trajectories" else None
        if kind == "trajectories":
            it = read_trajectories(
                path,
                layout=opts.layout,
                keep_failures=opts.keep_failures,
                skip_bad=opts.skip_bad_lines,
                stats=stats,
                source=label,
                digest=digest,
            )
        else:
            reader = read_alpaca if kind == "alpaca" else read_messages
            it = reader(path, source=label or LEGACY_SOURCE, stats=stats, skip_bad=opts.skip_bad_lines)
        samples.extend(
            tqdm(it, desc=f"read {path.name}", unit=" samples", disable=not opts.progress, leave=False)
        )
        if kind == "trajectories":
            # Collectors append episodes as they finish, in an order that changes from run to run; by
            # problem id (stable: one problem's attempts and steps keep their order) the same episodes
            # always give the same files, and the same training.
            samples[before:] = sorted(samples[before:], key=lambda s: s.meta["problem_id"])
        inputs.append(
            {
                "path": str(path),
                "kind": kind,
                "sha256": digest.hexdigest() if digest else sha256_file(path),
                "samples": len(samples) - before,
                "skipped": sum(stats.skipped.values()) - skipped_before,
                "sources": sorted({s.meta["source"] for s in samples[before:]}),
            }
        )
    drops.merge(stats)
    return samples, inputs, stats


def _choose_layout(samples: list[Sample], wanted: str | None) -> str:
    layouts = Counter(s.meta["layout"] for s in samples)
    if wanted:
        wrong = next((s for s in samples if s.meta["layout"] != wanted), None)
        if wrong is not None:
            raise ConvertError(
                f"holds {wrong.meta['layout']!r}-layout observations without a structured state to re-render",
                where=wrong.meta["origin"],
                fix=f"legacy SFT files can only be converted with --layout {wrong.meta['layout']}",
            )
        return wanted
    if len(layouts) > 1:
        raise ConvertError(
            f"inputs mix observation layouts {dict(layouts)}", fix="pass --layout legacy or rich"
        )
    return next(iter(layouts))


def _canonical_output(output: str) -> str:
    head, _, line = output.rpartition("\n")
    action = parse_action(line[len(ACTION_PREFIX) :], lenient=True)
    return f"{head}\n{ACTION_PREFIX} {action}"


def clear_caches() -> None:
    """Forget per-process caches (answer checks, action frames, grounding indexes, token counts): for benchmarks."""
    from converters.sft import grounding
    from converters.sft.checks import _COUNTERS, _check_tail
    from converters.sft.trajectories import _answer_frame

    grounding.clear_caches()
    _check_tail.cache_clear()
    _answer_frame.cache_clear()
    for counter in _COUNTERS.values():
        counter.clear_cache()


class _Clock:
    """Seconds per stage (in the card: where a big conversion spends its time)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._t, 3)
        self._t = now


def convert(opts: ConvertOptions) -> dict[str, Any]:
    """Run the whole conversion; return the dataset card. Nothing is written unless it all succeeds."""
    # Hundreds of thousands of live samples (acyclic dicts and strings) make the cyclic garbage
    # collector rescan an ever larger heap; pausing it for the run is several times faster.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _convert(opts)
    finally:
        if was_enabled:
            gc.enable()


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _convert(opts: ConvertOptions) -> dict[str, Any]:
    check_fractions(opts.val, opts.test)
    if opts.cutoff <= 0:
        raise ConvertError(f"--cutoff {opts.cutoff} must be positive")
    if not _NAME.fullmatch(opts.name):
        raise ConvertError(f"--name {opts.name!r} is not a dataset name", fix="use letters, digits, _ . -")
    if opts.update_registry:
        load_dataset_info(opts.root)  # an unreadable registry fails now, before anything is written
    with dataset_lock(opts.root, opts.name):  # a second convert of this name fails, never replaces
        return _convert_locked(opts)


def _convert_locked(opts: ConvertOptions) -> dict[str, Any]:
    clock, drops = _Clock(), _Drops()
    samples, inputs, stats = read_inputs(opts, drops)
    clock.lap("read")
    if not samples:
        raise ConvertError(
            f"no samples in {len(inputs)} input file(s): {drops.count.most_common()}",
            fix="--keep-failures keeps unsuccessful trajectories"
            if drops.count["trajectory_failed"]
            else None,
        )
    layout = _choose_layout(samples, opts.layout)
    n_whatif = sum(1 for s in samples if s.meta["whatif"])
    system = system_prompt(layout, whatif=n_whatif > 0)  # the prompt lists what the answers use
    checked, lenient, replaced = _check(samples, system, opts, drops, stats.problem_sources)
    clock.lap("check")
    left_out = [opts.weights.get(s.meta["source"], 1.0) == 0 for s in checked]  # --mix SOURCE=0
    kept, duplicates = dedup([s.text_key for s in checked], last=left_out)
    for i in duplicates:
        drops.add("duplicate", checked[i].meta["origin"])
    clock.lap("dedup")
    kept, verdicts, n_ungrounded = _ground(checked, kept, opts, drops)
    clock.lap("grounding")
    required = opts.require_benchmark_actions if opts.require_benchmark_actions is not None else layout == "rich"
    kept, compat = _benchmark_compatible(checked, kept, required, drops)
    kept, lengths, length = _lengths(checked, kept, opts, drops)
    clock.lap("length")
    parts, notes = _split(checked, kept, opts, drops)
    clock.lap("split")

    # absolute: registry paths are relative to the root, not to the working directory (--root demo)
    out_dir = opts.root.resolve() / "data" / opts.name
    split_samples = {name: [checked[i] for i in idx] for name, idx in parts.items()}
    files: dict[str, tuple[Path, str]] = {}
    with staged_dir(out_dir) as tmp:  # everything is written here, then renamed into place
        for name, rows in split_samples.items():
            if rows:
                files[name] = write_split(tmp, name, rows, opts.format, opts.file_format)
        entries = {
            f"{opts.name}_{name}": _entry(out_dir / path.name, opts) for name, (path, _) in files.items()
        }
        card = card_mod.build_card(
            opts=opts.model_dump(mode="json"),
            layout=layout,
            system=system,
            inputs=inputs,
            split_samples=split_samples,
            split_lengths={n: [lengths[i] for i in idx if i in lengths] for n, idx in parts.items()},
            length=length,
            files={
                n: (relative_file_name(out_dir / p.name, opts.root), sha) for n, (p, sha) in files.items()
            },
            drops=drops.as_dict(),
            notes=notes,
            lenient_actions=lenient,
            system_replaced=replaced,
            problem_sources=stats.problem_sources,
            entries=entries,
        )
        card["grounding"] = _grounding_summary(checked, parts, verdicts, n_ungrounded)
        card["benchmark_actions"] = _compat_summary(checked, parts, compat, required)
        card["first_step_repair"] = {
            agent: {"repaired": a, "problems": n, "rate": round(a / n, 4)} for agent, (a, n) in stats.first_step.items()
        }
        clock.lap("write")
        card["timings_s"] = clock.laps
        # eval offers exactly these actions (eval.problem_sets reads it); "mixed": some samples' episodes
        # were not offered the what-if actions, yet all are shown the prompt that lists them
        card["whatif"] = n_whatif > 0
        card["whatif_samples"] = {"offered": n_whatif, "total": len(samples)}
        card_mod.write_card(tmp, card)
    if opts.update_registry:
        register_datasets(entries, root=opts.root)
        stale = [f"{opts.name}_{n}" for n in (*SPLITS, "holdout") if f"{opts.name}_{n}" not in entries]
        unregister_datasets(stale, root=opts.root)
    return card


def _check(
    samples: list[Sample], system: str, opts: ConvertOptions, drops: _Drops, models: dict[str, str]
) -> tuple[list[Sample], int, int]:
    """Samples whose answer passes check_answer and whose action names an element the model has
    (converters.sft.targets; ``models``: problem id -> model file), each given the layout's system
    prompt. Returns them, how many actions parsed only leniently, and how many system prompts changed."""
    checked: list[Sample] = []
    lenient = replaced = 0
    for s in samples:
        verdict = s.verdict or check_answer(s.output)
        if not verdict.ok:
            drops.add(verdict.reason or "invalid", s.meta["origin"], verdict.detail)
            continue
        unknown = unknown_target(s.output, s.input, models.get(s.meta["problem_id"]))
        if unknown:
            drops.add("unknown_target", s.meta["origin"], unknown)
            continue
        if verdict.lenient:
            lenient += 1
            if opts.canonical_actions:
                s.output = _canonical_output(s.output)
        s.meta["action"] = verdict.action_name
        if s.system and s.system != system:
            replaced += 1
        s.system = system
        checked.append(s)
    return checked, lenient, replaced


def _refuse_an_emptied_source(
    checked: list[Sample], kept: list[int], ok: Callable[[int], bool], option: str, example: Callable[[int], str],
    *, fix: str,
) -> None:
    """A check that would drop every sample of a source is an error naming the source (and the
    others it would empty), one example and the fix, not an empty dataset."""
    by_source: dict[str, list[int]] = {}
    for i in kept:
        by_source.setdefault(checked[i].meta["source"], []).append(i)
    empty = sorted(src for src, idx in by_source.items() if not any(ok(i) for i in idx))
    if empty:
        idx = by_source[empty[0]]
        raise ConvertError(
            f"{option} would drop all {len(idx)} samples of source {empty[0]!r}"
            + (f" (and of {', '.join(map(repr, empty[1:]))})" if len(empty) > 1 else "")
            + f"; e.g. {example(idx[0])}",
            where=checked[idx[0]].meta["origin"],
            fix=fix,
        )


def _ground(
    checked: list[Sample], kept: list[int], opts: ConvertOptions, drops: _Drops
) -> tuple[list[int], dict[int, Grounding], int]:
    """Grounding verdicts of the kept samples; with --require-grounded the ungrounded ones are dropped,
    and a source that would lose every sample is an error naming it (not an empty dataset)."""
    verdicts = {i: ground(checked[i]) for i in kept}
    if not opts.require_grounded:
        return kept, verdicts, 0
    _refuse_an_emptied_source(
        checked, kept, lambda i: verdicts[i].ok, "--require-grounded", lambda i: str(verdicts[i].ungrounded[0]),
        fix="convert this source without --require-grounded (the card reports its grounding), or "
        "collect it with agents that write only what the prompt shows (docs/grounding.md)",
    )
    dropped = [i for i in kept if not verdicts[i].ok]
    for i in dropped:
        drops.add("ungrounded", checked[i].meta["origin"], str(verdicts[i].ungrounded[0]))
    return [i for i in kept if verdicts[i].ok], verdicts, len(dropped)


def _benchmark_compatible(
    checked: list[Sample], kept: list[int], required: bool, drops: _Drops
) -> tuple[list[int], dict[int, Compatibility]]:
    """Each kept sample parsed as the benchmark's RL stage parses it; when ``required`` the ones it
    rejects are dropped (counted by reason), and a source that would lose every sample is an error."""
    verdicts = {i: check_benchmark_action(checked[i].output) for i in kept}
    if not required:
        return kept, verdicts
    _refuse_an_emptied_source(
        checked, kept, lambda i: verdicts[i].ok, "--require-benchmark-actions",
        lambda i: f"{verdicts[i].reason}: {verdicts[i].detail}",
        fix="collect this source with the benchmark's eight actions (collectors without --whatif), or "
        "convert with --no-require-benchmark-actions (the card then reports how many samples the RL stage rejects)",
    )
    for i in kept:
        if not verdicts[i].ok:
            drops.add(f"benchmark_action:{verdicts[i].reason}", checked[i].meta["origin"], verdicts[i].detail)
    return [i for i in kept if verdicts[i].ok], verdicts


def _compat_summary(
    checked: list[Sample], parts: dict[str, list[int]], verdicts: dict[int, Compatibility], required: bool
) -> dict[str, Any]:
    """The card's ``benchmark_actions`` section: how many checked samples the RL stage accepts
    (``compatible`` of ``total``), why the others not (``by_reason``, a few ``examples``), and how
    many were dropped (``required``: --require-benchmark-actions was on)."""
    reasons = Counter(v.reason for v in verdicts.values() if not v.ok)
    examples = [
        {"where": checked[i].meta["origin"], "reason": v.reason, "detail": v.detail}
        for i, v in verdicts.items()
        if not v.ok
    ][:5]
    written = {i for idx in parts.values() for i in idx}
    return {
        "compatible": sum(1 for v in verdicts.values() if v.ok),
        "total": len(verdicts),
        "by_reason": dict(reasons.most_common()),
        "examples": examples,
        "required": required,
        "dropped": sum(reasons.values()) if required else 0,
        "written_compatible": sum(1 for i in written if i in verdicts and verdicts[i].ok),
        "written": len(written),
    }


def _grounding_summary(
    checked: list[Sample], parts: dict[str, list[int]], verdicts: dict[int, Grounding], dropped: int
) -> dict[str, Any]:
    """The card's grounding section over the samples written (each once; train repeats not recounted)."""
    tally = Tally()
    for i in sorted({i for idx in parts.values() for i in idx}):
        tally.add(checked[i], verdicts[i])
    return tally.as_dict(dropped=dropped)


def _lengths(
    checked: list[Sample], kept: list[int], opts: ConvertOptions, drops: _Drops
) -> tuple[list[int], dict[int, int], dict[str, Any]]:
    """Token lengths (exact over-cutoff verdicts, stats maybe on a sample); drops over-cutoff if asked."""
    if not opts.length_check or not kept:
        return kept, {}, {"mode": "off"}
    counter = token_counter(opts.template, opts.tokenizer_dir)
    triples = [(checked[i].system, checked[i].user, checked[i].output) for i in kept]
    report = measure_lengths(counter, triples, opts.cutoff, sample=opts.length_sample, seed=opts.seed)
    lengths = {kept[pos]: report.counts[pos] for pos in report.sampled}
    if opts.drop_over_cutoff:
        over = {kept[pos] for pos in report.over}
        for pos in report.over:
            drops.add("over_cutoff", checked[kept[pos]].meta["origin"], f"{report.counts[pos]} tokens")
        kept = [i for i in kept if i not in over]
    return kept, lengths, report.stats


def _split(
    checked: list[Sample], kept: list[int], opts: ConvertOptions, drops: _Drops
) -> tuple[dict[str, list[int]], list[str]]:
    """Holdout first, then --mix/--cap selection, the grouped split, and train repeats."""
    check_holdout(checked, kept, types=opts.holdout_types, families=opts.holdout_families)
    mask = holdout_mask(checked, types=opts.holdout_types, families=opts.holdout_families)
    holdout = [i for i in kept if mask[i]]
    pool = [i for i in kept if not mask[i]]
    pool, mix_drops = select(pool, checked, weights=opts.weights, caps=opts.caps, seed=opts.seed)
    for source, reasons in mix_drops.items():
        for reason, n in reasons.items():
            if n:
                drops.count[reason] += n
                drops.examples.setdefault(reason, []).append(f"source {source}: {n}")
    groups = [checked[i].group for i in pool]
    assignment, notes = assign_splits(set(groups), seed=opts.seed, val=opts.val, test=opts.test)
    parts: dict[str, list[int]] = {name: [] for name in SPLITS}
    for i, group in zip(pool, groups, strict=True):
        parts[assignment[group]].append(i)
    parts["train"] = repeat_train(parts["train"], checked, weights=opts.weights, seed=opts.seed)
    if holdout:
        parts["holdout"] = holdout
    if not parts["train"]:
        raise ConvertError(f"no training samples left; dropped: {dict(drops.count)}")
    return parts, notes


def _entry(path: Path, opts: ConvertOptions) -> dict[str, Any]:
    file_name = relative_file_name(path, opts.root)
    return alpaca_entry(file_name) if opts.format == "alpaca" else messages_entry(file_name)
