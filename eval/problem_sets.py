"""Which problems an evaluation plays, and with which prompt layout.

``--problems SPEC`` loads anything ``ordebug.problems.load_problems`` accepts. With ``--run``
and no ``--problems``, the default is the run's held-out test split: the dataset card
(``data/<name>/card.json``, found through ``dataset_info.json``) lists the test split's
problem ids and where each problem's model lives (``problem_sources``); a model path inside a
benchmark set's ``models/`` folder is resolved back to its ``dataset.json`` entry, so error
type, target and original objective stay known.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from eval.errors import EvalConfigError
from eval.run_dir import RunDir, from_repo
from ordebug.problems import Problem, load_benchmark, load_model_files, load_problems

DATASET_INFO = "dataset_info.json"


@dataclass
class DatasetCard:
    """The parts of a converters card eval uses."""

    path: Path
    data: dict[str, Any]

    @property
    def layout(self) -> str:
        return str(self.data.get("layout") or "legacy")

    @property
    def whatif(self) -> bool:
        """Whether the training episodes were offered the what-if actions (eval offers the same)."""
        return bool(self.data.get("whatif", False))

    @property
    def whatif_mixed(self) -> bool:
        """Some samples came from episodes offered the what-if actions, others did not."""
        counts = self.data.get("whatif_samples") or {}
        return 0 < int(counts.get("offered", 0)) < int(counts.get("total", 0))

    @property
    def system(self) -> str | None:
        return self.data.get("system")

    @property
    def multi_turn(self) -> bool:
        return bool(self.data.get("multi_turn", False))

    def test_ids(self) -> list[str]:
        split = (self.data.get("splits") or {}).get("test") or {}
        return list(split.get("problem_ids") or [])

    def sources(self) -> dict[str, str]:
        raw = self.data.get("problem_sources") or {}
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
        return {}


@dataclass
class ProblemSet:
    """Problems plus the prompt settings they must be shown with."""

    problems: list[Problem]
    spec: str
    layout: str | None = None
    whatif: bool | None = None
    whatif_mixed: bool = False
    system: str | None = None
    multi_turn: bool = False
    cards: list[str] = field(default_factory=list)
    original: int = 0


def card_for_dataset(name: str, dataset_dir: Path) -> DatasetCard:
    """The card of a registered LLaMA-Factory dataset name (its file's folder holds card.json)."""
    info_path = dataset_dir / DATASET_INFO
    candidates: list[Path] = []
    if info_path.is_file():
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise EvalConfigError(f"{info_path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        entry = info.get(name)
        if isinstance(entry, dict) and entry.get("file_name"):
            candidates.append(from_repo(entry["file_name"], dataset_dir).parent / "card.json")
    base = name.rsplit("_", 1)[0] if name.endswith(("_train", "_val", "_test")) else name
    candidates += [dataset_dir / "data" / base / "card.json", dataset_dir / "data" / name / "card.json"]
    for cand in candidates:
        if cand.is_file():
            try:
                return DatasetCard(cand, json.loads(cand.read_text(encoding="utf-8")))
            except json.JSONDecodeError as exc:
                raise EvalConfigError(f"{cand}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    raise EvalConfigError(
        f"no card.json for dataset {name!r} (looked at {', '.join(str(c) for c in candidates)})",
        fix="re-run the converter (make convert) or pass --problems DIR",
    )


@cache
def _benchmark(directory: str) -> dict[str, Problem]:
    return {p.problem_id: p for p in load_benchmark(directory)}


def resolve_source(problem_id: str, spec: str) -> Problem | None:
    """The problem ``problem_id`` from a card's source spec, or None when the spec is not a path."""
    path = from_repo(spec)
    if path.is_file():
        set_dir = path.parent.parent
        if path.parent.name == "models" and (set_dir / "dataset.json").is_file():
            found = _benchmark(str(set_dir)).get(problem_id)
            if found is not None:
                return found
        return load_model_files(path)[0].model_copy(update={"problem_id": problem_id})
    if path.is_dir():
        found = {p.problem_id: p for p in load_problems(path)}.get(problem_id)
        return found
    return None


def run_cards(run: RunDir) -> list[DatasetCard]:
    """The dataset cards of every dataset the run trained on (one layout among them)."""
    names = run.datasets()
    if not names:
        raise EvalConfigError(
            f"{run.path}: the recipe names no dataset", fix="pass --problems DIR and --layout"
        )
    cards: list[DatasetCard] = []
    for name in names:
        card = card_for_dataset(name, run.dataset_dir())
        if all(c.path != card.path for c in cards):
            cards.append(card)
    layouts = {c.layout for c in cards}
    if len(layouts) > 1:
        raise EvalConfigError(
            f"the run's datasets use different layouts {sorted(layouts)} "
            f"({', '.join(str(c.path) for c in cards)})",
            fix="pass --layout and --problems explicitly",
        )
    if len({c.whatif for c in cards}) > 1:
        raise EvalConfigError(
            "the run's datasets disagree on the what-if actions "
            f"({', '.join(f'{c.path}: {c.whatif}' for c in cards)})",
            fix="pass --whatif or --no-whatif and --problems explicitly",
        )
    return cards


def with_card_settings(ps: ProblemSet, cards: list[DatasetCard]) -> ProblemSet:
    """The prompt settings the run trained with (layout, system prompt, turns) on a problem set."""
    first = cards[0]
    ps.layout, ps.system, ps.multi_turn = first.layout, first.system, first.multi_turn
    ps.whatif, ps.whatif_mixed = first.whatif, any(c.whatif_mixed for c in cards)
    ps.cards = [str(c.path) for c in cards]
    return ps


def run_test_problems(run: RunDir, fallback: str | None = None) -> ProblemSet:
    """The held-out test problems of a run's datasets (see the module docstring)."""
    cards = run_cards(run)
    ids = list(dict.fromkeys(pid for c in cards for pid in c.test_ids()))
    if not ids:
        raise EvalConfigError(
            f"the dataset cards {[str(c.path) for c in cards]} list no test problems "
            "(splits.test.problem_ids)",
            fix="convert with a test fraction (make convert TEST=0.1) or pass --problems DIR",
        )
    sources: dict[str, str] = {}
    for c in cards:
        sources.update(c.sources())
    fallback_set = {p.problem_id: p for p in load_problems(fallback)} if fallback else {}
    problems, missing = [], []
    for pid in ids:
        found = resolve_source(pid, sources[pid]) if pid in sources else None
        found = found or fallback_set.get(pid)
        if found is None:
            missing.append(pid)
        else:
            problems.append(found)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise EvalConfigError(
            f"{len(missing)} test problem(s) of {cards[0].path} cannot be located: {shown}",
            fix="pass --problems DIR holding them (a benchmark set or model files)",
        )
    ps = ProblemSet(
        problems=problems, spec=f"test split of {', '.join(str(c.path) for c in cards)}", original=len(ids)
    )
    return with_card_settings(ps, cards)


def explicit_problems(spec: str | list[str]) -> ProblemSet:
    """Problems from one or several specs (``--problems dirA dirB``, as ``make collect`` takes them)."""
    problems = load_problems(spec)
    text = spec if isinstance(spec, str) else " ".join(str(s) for s in spec)
    return ProblemSet(problems=problems, spec=text, original=len(problems))
