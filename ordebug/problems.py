"""Problems: a Gurobi model plus metadata, from OR-Debug-Bench sets or plain model files.

On-disk layout of a benchmark set (OR-Debug-Bench's own, which its old tools read)::

    SET/dataset.json        header keys + "problems": [ {problem_id, model_file, ...}, ... ]
    SET/models/<id>.mps
    SET/report.txt          human summary (written by write_benchmark, never read)

``load_problems`` accepts a set directory, a ``dataset.json``, a folder of .mps/.lp
files, a single model file, a glob, a folder of sets, or a list of any of these.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import gurobipy as gp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ordebug import solver
from ordebug.errors import OrDebugError, ProblemLoadError

#: OR-Debug-Bench's names for the error types (taken from their problem_nl texts).
ERROR_TYPE_NAMES: dict[str, str] = {
    "A": "Constraint Direction Error",
    "B": "Variable Type Error",
    "C": "Logic Error (Missing Term)",
    "D": "Conflicting Constraint",
    "E": "Multi-Constraint Conflict (requires 2+ fixes)",
    "F": "Hidden Dependency (root cause not directly visible)",
    "G": "Cascading Conflict (fixing one constraint causes another to conflict)",
    "H": "IIS-Incomplete (IIS shows symptom, not root cause)",
    "I": "Optimal Selection (multiple fixes possible, one preserves objective)",
}

#: Per-problem keys of OR-Debug-Bench's dataset.json, in their order.
PROBLEM_KEYS = (
    "problem_id", "model_file", "problem_nl", "error_type", "error_description", "ground_truth_fix",
    "target_name", "target_type", "initial_status", "original_status", "original_objective",
    "n_variables", "n_constraints", "iis_constraints", "iis_bounds", "iis_size", "difficulty",
    "problem_type", "use_robust", "created_at",
)  # fmt: skip

#: Header keys of OR-Debug-Bench's dataset.json, in their order ("problems" comes last).
HEADER_KEYS = (
    "dataset_name", "description", "created_at", "num_problems", "num_failed", "error_types",
    "problem_types", "seed", "use_robust", "success_by_type", "fail_by_type", "success_rates",
    "difficulty_distribution",
)  # fmt: skip


def difficulty_for_iis_size(n: int) -> str:
    """The benchmark's difficulty by IIS size: 1-2 easy, 3-5 medium, 6+ hard."""
    return "easy" if n <= 2 else "medium" if n <= 5 else "hard"


class Problem(BaseModel):
    """One infeasible model to debug, with whatever ground truth its source records."""

    model_config = ConfigDict(extra="forbid")

    problem_id: str
    model_path: Path
    error_type: str | None = Field(None, description="A-I for benchmark problems, None for raw files")
    difficulty: str | None = None
    problem_type: str | None = Field(None, description="'lp' or 'mip'")
    target_name: str = Field("", description="ground-truth element(s); comma-separated, 'constr:var' for C")
    target_type: str | None = None
    ground_truth_fix: str = ""
    original_objective: float | None = None
    iis_constraints: list[str] = Field(default_factory=list)
    iis_bounds: list[str] = Field(default_factory=list)
    n_variables: int | None = None
    n_constraints: int | None = None
    source: str = Field("", description="dataset_name of the set, or 'files:<folder>' for raw files")
    metadata: dict[str, Any] = Field(default_factory=dict, description="the dataset.json entry verbatim")

    def read_model(self, env: gp.Env | None = None) -> gp.Model:
        """A fresh copy of the model (ProblemLoadError / LicenseLimitError naming the file)."""
        model = solver.read_model(self.model_path, env)
        model.ModelName = self.problem_id
        return model

    def target_names(self) -> list[str]:
        """Ground-truth constraint/variable names: split on commas, 'constr:var' -> 'constr'."""
        return [part.strip().split(":")[0] for part in self.target_name.split(",") if part.strip()]

    def meta(self) -> dict[str, Any]:
        """Metadata for Trajectory.problem (JSON-safe)."""
        return {
            "error_type": self.error_type,
            "difficulty": self.difficulty,
            "problem_type": self.problem_type,
            "target_name": self.target_name,
            "target_type": self.target_type,
            "ground_truth_fix": self.ground_truth_fix,
            "original_objective": self.original_objective,
            "iis_constraints": list(self.iis_constraints),
            "iis_bounds": list(self.iis_bounds),
            "n_variables": self.n_variables,
            "n_constraints": self.n_constraints,
            "source": self.source,
            "model_path": str(self.model_path),
        }


class _Entry(BaseModel):
    """Validation schema of one dataset.json problem entry (extra keys are kept, not checked)."""

    model_config = ConfigDict(extra="allow")
    problem_id: str = Field(min_length=1)
    model_file: str | None = None
    error_type: str | None = None
    difficulty: str | None = None
    problem_type: str | None = None
    target_name: str | None = ""
    target_type: str | None = None
    ground_truth_fix: str | None = ""
    original_objective: float | None = None
    iis_constraints: list[str] = Field(default_factory=list)
    iis_bounds: list[str] = Field(default_factory=list)
    n_variables: int | None = None
    n_constraints: int | None = None


def _read_dataset_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProblemLoadError(
            "no dataset.json here", where=str(path), fix="point at a benchmark set folder or a folder of .mps/.lp files"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemLoadError(f"cannot read ({exc})", where=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProblemLoadError(
            f"not valid JSON ({exc.msg})", where=f"{path}:{exc.lineno}", fix="fix or regenerate the file"
        ) from None
    if not isinstance(data, dict):
        raise ProblemLoadError(f"expected a JSON object, got {type(data).__name__}", where=str(path))
    if "problems" not in data:
        raise ProblemLoadError("missing key 'problems'", where=str(path), fix="a benchmark set lists its problems there")
    if not isinstance(data["problems"], list):
        raise ProblemLoadError("key 'problems' must be a list", where=str(path))
    return data


def load_benchmark(directory: str | os.PathLike) -> list[Problem]:
    """Load every problem of an OR-Debug-Bench set with all of its metadata.

    Every entry is validated and every model file must exist before anything is
    returned (why: fail before a long batch starts, not half-way through it).
    """
    directory = Path(directory)
    if directory.is_file() and directory.name == "dataset.json":
        directory = directory.parent
    path = directory / "dataset.json"
    data = _read_dataset_json(path)
    source = str(data.get("dataset_name") or directory.name)
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["problems"]):
        where = f"{path}: problems[{i}]"
        if not isinstance(raw, dict):
            raise ProblemLoadError(f"expected an object, got {type(raw).__name__}", where=where)
        try:
            entry = _Entry.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise ProblemLoadError(
                f"key {key!r}: {first['msg']} (got {first.get('input')!r})", where=where
            ) from None
        if entry.problem_id in seen:
            raise ProblemLoadError(f"duplicate problem_id {entry.problem_id!r}", where=where)
        seen.add(entry.problem_id)
        model_path = directory / (entry.model_file or f"models/{entry.problem_id}.mps")
        if not model_path.is_file():
            raise ProblemLoadError(
                f"key 'model_file': {model_path} does not exist", where=f"{where} ({entry.problem_id})",
                fix="restore the models/ folder or fix model_file",
            )
        problems.append(
            Problem(
                problem_id=entry.problem_id,
                model_path=model_path,
                error_type=entry.error_type,
                difficulty=entry.difficulty,
                problem_type=entry.problem_type,
                target_name=entry.target_name or "",
                target_type=entry.target_type,
                ground_truth_fix=entry.ground_truth_fix or "",
                original_objective=entry.original_objective,
                iis_constraints=entry.iis_constraints,
                iis_bounds=entry.iis_bounds,
                n_variables=entry.n_variables,
                n_constraints=entry.n_constraints,
                source=source,
                metadata=dict(raw),
            )
        )
    return problems


def _is_model_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(solver.MODEL_SUFFIXES)


def _model_stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(solver.MODEL_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def load_model_files(path: str | os.PathLike) -> list[Problem]:
    """Problems without metadata from one model file or a folder of them (sorted by name).

    Models are not opened here (why: an unreadable or over-size file then fails its
    own episode with a clear error instead of stopping the whole batch).
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if _is_model_file(p))
        if not files:
            raise ProblemLoadError(
                "no dataset.json and no .mps/.lp files", where=str(path), fix="point at a benchmark set or model files"
            )
    elif _is_model_file(path):
        files = [path]
    elif path.exists():
        raise ProblemLoadError(f"not a model file (expected {', '.join(solver.MODEL_SUFFIXES)})", where=str(path))
    else:
        raise ProblemLoadError("no such file or folder", where=str(path))
    return [
        Problem(problem_id=_model_stem(f), model_path=f, source=f"files:{f.parent.name}") for f in files
    ]


def _load_one(spec: Path) -> list[Problem]:
    if spec.is_dir():
        if (spec / "dataset.json").exists():
            return load_benchmark(spec)
        sets = sorted(p for p in spec.iterdir() if (p / "dataset.json").is_file())
        if sets and not any(_is_model_file(p) for p in spec.iterdir()):
            return [problem for s in sets for problem in load_benchmark(s)]  # a folder of sets
        return load_model_files(spec)
    if spec.name == "dataset.json":
        return load_benchmark(spec.parent)
    return load_model_files(spec)


def load_problems(spec: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Problem]:
    """Load problems from any supported source (see the module docstring).

    Problem ids must be unique across everything loaded (why: trajectories and
    results are keyed by problem_id).
    """
    if isinstance(spec, (str, os.PathLike)):
        specs: list[str | os.PathLike] = [spec]
    else:
        specs = list(spec)
    paths: list[Path] = []
    for item in specs:
        text = os.fspath(item)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise ProblemLoadError(f"the pattern {text!r} matches nothing", fix="check the path")
            paths.extend(Path(m) for m in matches)
        else:
            paths.append(Path(text))
    problems = [p for path in paths for p in _load_one(path)]
    counts = Counter(p.problem_id for p in problems)
    dupes = sorted(pid for pid, n in counts.items() if n > 1)
    if dupes:
        where = [str(p.model_path) for p in problems if p.problem_id == dupes[0]]
        raise ProblemLoadError(
            f"problem_id {dupes[0]!r} appears {counts[dupes[0]]} times ({', '.join(where)})",
            fix="load these sources separately or rename the files",
        )
    return problems


# ---------------------------------------------------------------------------------------------
# writing a set in OR-Debug-Bench's layout


def _problem_nl(entry: dict[str, Any], n_vars: int, n_cons: int) -> str:
    kind = ERROR_TYPE_NAMES.get(str(entry.get("error_type")), "modelling error")
    # OR-Debug-Bench's tool says "Linear programming problem" for LP and MIP alike; keep it.
    return (
        f"Linear programming problem {entry['problem_id']} with {n_vars} variables and {n_cons} "
        f"constraints. Contains a {kind} that makes the model infeasible."
    )


def _complete_entry(meta: dict[str, Any], model: gp.Model, now: str) -> dict[str, Any]:
    """One dataset.json entry in OR-Debug-Bench's key order, missing keys computed from the model."""
    if not meta.get("problem_id"):
        raise OrDebugError("write_benchmark: an entry has no 'problem_id'", fix="give every entry a problem_id")
    model.update()
    pid = str(meta["problem_id"])
    n_vars, n_cons = model.NumVars, model.NumConstrs
    out: dict[str, Any] = {}
    if "iis_constraints" not in meta or "iis_bounds" not in meta or "initial_status" not in meta:
        result = solver.solve(model, source=pid)
        iis = solver.compute_iis(model) if result.infeasible else solver.IIS()
        meta = {"initial_status": result.status, "iis_constraints": iis.constraints, "iis_bounds": iis.bounds} | meta
    iis_size = len(meta["iis_constraints"]) + len(meta["iis_bounds"])
    defaults: dict[str, Any] = {
        "problem_id": pid,
        "model_file": f"models/{pid}.mps",
        "problem_nl": None,
        "error_type": None,
        "error_description": "",
        "ground_truth_fix": "",
        "target_name": "",
        "target_type": "constraint",
        "initial_status": None,
        "original_status": "OPTIMAL",
        "original_objective": None,
        "n_variables": n_vars,
        "n_constraints": n_cons,
        "iis_constraints": [],
        "iis_bounds": [],
        "iis_size": iis_size,
        "difficulty": difficulty_for_iis_size(iis_size),
        "problem_type": "mip" if model.IsMIP else "lp",
        "use_robust": True,
        "created_at": now,
    }
    for key in PROBLEM_KEYS:
        out[key] = meta.get(key, defaults[key])
    out["model_file"] = f"models/{pid}.mps"  # the model is written exactly there
    if out["problem_nl"] is None:
        out["problem_nl"] = _problem_nl(out, n_vars, n_cons)
    out.update({k: v for k, v in meta.items() if k not in out})
    return out


def _header(header: dict[str, Any], problems: list[dict[str, Any]], now: str) -> dict[str, Any]:
    types = sorted({str(p["error_type"]) for p in problems if p.get("error_type")})
    by_type = Counter(str(p["error_type"]) for p in problems if p.get("error_type"))
    fail = dict(header.get("fail_by_type") or {t: 0 for t in types})
    difficulty = Counter(p["difficulty"] for p in problems)
    computed: dict[str, Any] = {
        "dataset_name": "ordebug_generated",
        "description": "OR-Debug-Bench set written by ordebug",
        "created_at": now,
        "num_problems": len(problems),
        "num_failed": sum(fail.values()),
        "error_types": types,
        "problem_types": sorted({str(p["problem_type"]) for p in problems}),
        "seed": None,
        "use_robust": True,
        "success_by_type": {t: by_type[t] for t in types},
        "fail_by_type": fail,
        "success_rates": {
            t: round(by_type[t] / (by_type[t] + fail.get(t, 0)), 4) if by_type[t] + fail.get(t, 0) else 0.0
            for t in types
        },
        "difficulty_distribution": {d: difficulty.get(d, 0) for d in ("easy", "medium", "hard")},
    }
    out = {key: header.get(key, computed[key]) for key in HEADER_KEYS}
    out.update({k: v for k, v in header.items() if k not in out and k != "problems"})
    out["problems"] = problems
    return out


def _report(data: dict[str, Any]) -> str:
    """report.txt in OR-Debug-Bench's format."""
    problems = data["problems"]
    lines = ["=" * 60, f"Dataset Report: {data['dataset_name']}", "=" * 60, ""]
    lines += [f"Created: {data['created_at']}", f"Total Problems: {data['num_problems']}"]
    lines += [f"Failed: {data['num_failed']}", f"Use Robust Methods: {data['use_robust']}", ""]
    lines.append("Success Rates by Type:")
    for t in data["error_types"]:
        ok, bad = data["success_by_type"].get(t, 0), data["fail_by_type"].get(t, 0)
        total = ok + bad
        lines.append(f"  Type {t}: {100 * ok / total if total else 0:.1f}% ({ok}/{total})")
    lines += ["", "Error Type Distribution:"]
    lines += [f"  Type {t}: {data['success_by_type'].get(t, 0)}" for t in data["error_types"]]
    lines += ["", "Difficulty Distribution:"]
    n = max(len(problems), 1)
    for d, c in sorted(data["difficulty_distribution"].items()):
        lines.append(f"  {d}: {c} ({100 * c / n:.1f}%)")
    lines += ["", "Initial Status Distribution:"]
    lines += [f"  {s}: {c}" for s, c in sorted(Counter(p["initial_status"] for p in problems).items())]

    def stats(key: str) -> str:
        values = [p[key] for p in problems] or [0]
        return f"min={min(values)}, max={max(values)}, avg={sum(values) / len(values):.1f}"

    lines += ["", "IIS Size:", f"  {stats('iis_size')}", "", "Problem Size:"]
    lines += [f"  Variables: {stats('n_variables')}", f"  Constraints: {stats('n_constraints')}"]
    return "\n".join(lines) + "\n"


def write_benchmark(
    out_dir: str | os.PathLike,
    entries: Sequence[tuple[dict[str, Any], gp.Model]],
    header: dict[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a benchmark set (dataset.json + models/<id>.mps + report.txt) in OR-Debug-Bench's layout.

    ``entries`` pairs each problem's metadata dict (``problem_id`` required; any key of
    ``PROBLEM_KEYS`` given is kept verbatim, missing ones are computed from the model,
    extra keys are appended) with its infeasible model. ``header`` overrides the computed
    dataset-level keys (dataset_name, description, seed, fail_by_type, ...).

    The set is built in a temporary folder beside ``out_dir`` and renamed into place, so
    a crash never leaves half a set. Returns the path of dataset.json.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OrDebugError("exists and is not a folder", where=str(out_dir), fix="choose another --out")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise OrDebugError("folder exists and is not empty", where=str(out_dir), fix="pass overwrite=True (--overwrite)")
    ids = Counter(str(meta.get("problem_id")) for meta, _ in entries)
    dupes = [pid for pid, n in ids.items() if n > 1]
    if dupes:
        raise OrDebugError(f"write_benchmark: duplicate problem_id {dupes[0]!r}", fix="make ids unique")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now().isoformat()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (tmp / "models").mkdir()
        problems = []
        for meta, model in entries:
            entry = _complete_entry(dict(meta), model, now)
            model.write(str(tmp / entry["model_file"]))
            problems.append(entry)
        data = _header(dict(header or {}), problems, now)
        (tmp / "dataset.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "report.txt").write_text(_report(data), encoding="utf-8")
        if out_dir.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            out_dir.rename(trash / out_dir.name)
            tmp.rename(out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "dataset.json"
