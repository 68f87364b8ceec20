"""Thin, quiet layer over gurobipy: environments, reading models, solving, IIS.

Everything else in ``ordebug`` talks to Gurobi through these helpers so that
status handling (INF_OR_UNBD, time limits, numeric trouble) and the pip
licence's size limit are dealt with in exactly one place.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import gurobipy as gp
from gurobipy import GRB

from ordebug.errors import LicenseLimitError, OrDebugError, ProblemLoadError

#: Sizes the size-limited pip licence accepts (variables, linear constraints).
PIP_LICENCE_LIMIT = 2000

#: File suffixes gurobipy reads as models (compressed variants too).
MODEL_SUFFIXES = (".mps", ".lp", ".mps.gz", ".lp.gz", ".mps.bz2", ".lp.bz2", ".rew", ".rlp")

_STATUS_NAMES = {
    getattr(GRB.Status, name): name for name in dir(GRB.Status) if name.isupper()
}

_local = threading.local()


def new_env() -> gp.Env:
    """A new started, silent Gurobi environment (about 1 ms).

    ``OutputFlag`` is set before ``start()`` so not even the licence banner is printed.
    """
    env = gp.Env(empty=True)
    env.setParam("OutputFlag", 0)
    # One thread per solve: models here are small and collectors run episodes in parallel.
    env.setParam("Threads", int(os.environ.get("ORDEBUG_GUROBI_THREADS", "1")))
    env.start()
    return env


def gurobi_env() -> gp.Env:
    """The calling thread's quiet Gurobi environment (cached).

    Why per thread: a gurobipy Env must not be used from two threads at once. Models
    built on it belong to this thread; code that hands a model to other threads (an
    episode stepped through asyncio.to_thread) should own an env from ``new_env()``.
    """
    env = getattr(_local, "env", None)
    if env is None:
        env = new_env()
        _local.env = env
    return env


@functools.cache
def size_limit() -> int | None:
    """The licence's model-size limit, or None for an unrestricted licence.

    ``ORDEBUG_SIZE_LIMIT`` overrides (an integer, or ``none``). Otherwise we probe
    once per process: optimizing an empty model with 2001 variables takes ~2 ms
    and fails with SIZE_LIMIT_EXCEEDED only under the size-limited licence, so a
    user with a full licence is never refused a large model.
    """
    override = os.environ.get("ORDEBUG_SIZE_LIMIT", "").strip().lower()
    if override:
        if override in {"none", "0", "off"}:
            return None
        try:
            return int(override)
        except ValueError:
            raise ProblemLoadError(
                f"ORDEBUG_SIZE_LIMIT={override!r} is not an integer; set a number or 'none'"
            ) from None
    probe = gp.Model(env=gurobi_env())
    try:
        probe.addVars(PIP_LICENCE_LIMIT + 1)
        probe.optimize()
    except gp.GurobiError as exc:
        if exc.errno == GRB.Error.SIZE_LIMIT_EXCEEDED:
            return PIP_LICENCE_LIMIT
        raise
    finally:
        probe.dispose()
    return None


def check_size(model: gp.Model, source: str | os.PathLike) -> None:
    """Refuse a model the licence cannot optimize, before any optimize() call."""
    limit = size_limit()
    if limit is None:
        return
    model.update()
    n_vars, n_cons = model.NumVars, model.NumConstrs
    if n_vars > limit or n_cons > limit:
        raise LicenseLimitError(
            f"{source}: model has {n_vars} variables and {n_cons} constraints, over the "
            f"size-limited Gurobi licence's {limit}/{limit}; use a smaller model or install a full "
            "licence (set ORDEBUG_SIZE_LIMIT=none if yours is unrestricted)"
        )


def read_model(path: str | os.PathLike, env: gp.Env | None = None) -> gp.Model:
    """Read an MPS/LP file into a new model; errors name the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise ProblemLoadError(f"{path}: model file not found; check the path (or dataset.json model_file)")
    if not path.name.lower().endswith(MODEL_SUFFIXES):
        raise ProblemLoadError(
            f"{path}: not a model file (expected one of {', '.join(MODEL_SUFFIXES)})"
        )
    try:
        model = gp.read(str(path), env=env or gurobi_env())
    except gp.GurobiError as exc:
        raise ProblemLoadError(f"{path}: Gurobi cannot read this model ({exc}); is it a valid MPS/LP file?") from None
    check_size(model, path)
    return model


def status_name(code: int) -> str:
    """Gurobi status code -> name, e.g. 2 -> 'OPTIMAL' (unknown codes -> 'STATUS_<n>')."""
    return _STATUS_NAMES.get(code, f"STATUS_{code}")


@dataclass(frozen=True)
class SolveResult:
    """Outcome of one (possibly two-pass) solve."""

    status: str
    objective: float | None = None
    solver_calls: int = 1
    runtime: float = 0.0

    @property
    def optimal(self) -> bool:
        return self.status == "OPTIMAL"

    @property
    def infeasible(self) -> bool:
        return self.status == "INFEASIBLE"


def solve(model: gp.Model, *, time_limit: float | None = None, source: str = "<model>") -> SolveResult:
    """Optimize ``model`` and report a definite status.

    * INF_OR_UNBD is resolved by re-solving once with DualReductions=0 (why:
      presolve may stop at "infeasible or unbounded"; the benchmark needs to know
      which), so ``solver_calls`` is 2 then.
    * TIME_LIMIT / NUMERIC / SUBOPTIMAL are returned as such; the objective is
      reported whenever a solution exists.
    * The licence's size limit is checked before optimizing.
    """
    check_size(model, source)
    if time_limit is not None:
        model.Params.TimeLimit = time_limit
    calls = 1
    runtime = 0.0
    try:
        model.optimize()
        runtime += model.Runtime
        if model.Status == GRB.INF_OR_UNBD:
            dual = model.Params.DualReductions
            model.Params.DualReductions = 0
            try:
                model.reset()
                model.optimize()
                calls += 1
                runtime += model.Runtime
            finally:
                model.Params.DualReductions = dual
    except gp.GurobiError as exc:
        if exc.errno == GRB.Error.SIZE_LIMIT_EXCEEDED:
            raise LicenseLimitError(f"{source}: {exc}") from None
        raise OrDebugError(f"{source}: Gurobi failed to optimize (error {exc.errno}: {exc})") from None
    status = status_name(model.Status)
    objective = None
    if model.SolCount > 0 and model.Status not in (GRB.INFEASIBLE, GRB.UNBOUNDED, GRB.INF_OR_UNBD):
        value = model.ObjVal
        objective = value if math.isfinite(value) else None
    _local.calls = getattr(_local, "calls", 0) + calls
    return SolveResult(status=status, objective=objective, solver_calls=calls, runtime=runtime)


def calls_made() -> int:
    """How many optimize calls ``solve`` has made on this thread (why: what-if actions probe many
    copies of a model, and the episode charges them all to the agent's solver calls)."""
    return getattr(_local, "calls", 0)


@dataclass(frozen=True)
class IIS:
    """An irreducible infeasible subsystem, names in model order."""

    constraints: list[str] = field(default_factory=list)
    bounds: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.constraints) + len(self.bounds)


def compute_iis(model: gp.Model) -> IIS:
    """Compute an IIS of an infeasible model.

    Names come out in model order (getConstrs()/getVars() order), which is the
    order OR-Debug-Bench's legacy observations list them in; ``bounds`` lists each
    variable whose lower or upper bound is in the IIS once.
    """
    try:
        model.computeIIS()
    except gp.GurobiError as exc:
        if exc.errno == GRB.Error.SIZE_LIMIT_EXCEEDED:
            raise LicenseLimitError(f"{model.ModelName or '<model>'}: {exc}") from None
        if exc.errno == GRB.Error.IIS_NOT_INFEASIBLE:
            return IIS()  # a feasible model has no IIS; callers check status anyway
        raise OrDebugError(f"{model.ModelName or '<model>'}: Gurobi failed to compute an IIS ({exc})") from None
    # bulk getAttr: one call per attribute instead of one per element (much faster in gurobipy)
    constrs, vars_ = model.getConstrs(), model.getVars()
    in_iis = model.getAttr("IISConstr", constrs)
    constraints = [n for n, flag in zip(model.getAttr("ConstrName", constrs), in_iis, strict=True) if flag]
    lb, ub = model.getAttr("IISLB", vars_), model.getAttr("IISUB", vars_)
    names = model.getAttr("VarName", vars_)
    bounds = [n for n, a, b in zip(names, lb, ub, strict=True) if a or b]
    return IIS(constraints=constraints, bounds=bounds)
