"""The debugging MDP: an agent repairs an infeasible Gurobi model step by step."""

from __future__ import annotations

import difflib
import math
from typing import Any

import gurobipy as gp
from gurobipy import GRB
from pydantic import BaseModel, ConfigDict, Field

from ordebug import diagnostics, solver, whatif
from ordebug.actions import WHATIF_ACTIONS, Action, ActionName, parse_action
from ordebug.errors import ActionParseError, EpisodeError, InvalidActionError
from ordebug.observation import (
    Diagnostics,
    HistoryEntry,
    ObservationState,
    constraint_algebra,
    describe_iis,
    fmt_num,
    render,
)
from ordebug.problems import Problem, load_model_files

_SENSE = {GRB.LESS_EQUAL: "<=", GRB.GREATER_EQUAL: ">=", GRB.EQUAL: "="}
REWARD_SUCCESS = 1.0
REWARD_FAILURE = -1.0
REWARD_INVALID = -0.1


class StepRecord(BaseModel):
    """What one step did, for metrics and trajectories."""

    model_config = ConfigDict(extra="forbid")
    index: int
    action: str | None = Field(None, description="canonical action text; None when it did not parse")
    raw: str | None = Field(None, description="the text given to step() when it was a string")
    valid: bool
    error: str | None = None
    result: str
    status: str
    objective: float | None = None
    solver_calls: int = Field(0, description="Gurobi optimize/computeIIS calls this step made")


class EpisodeRecord(BaseModel):
    """Everything metrics need about one finished (or running) episode."""

    model_config = ConfigDict(extra="forbid")
    problem_id: str
    error_type: str | None = None
    layout: str
    whatif: bool = Field(False, description="the what-if extension actions were offered")
    diagnostics: bool = Field(False, description="observations carried the diagnostics section")
    max_steps: int
    steps: list[StepRecord] = Field(default_factory=list)
    initial_status: str
    initial_iis_constraints: list[str] = Field(default_factory=list)
    initial_iis_bounds: list[str] = Field(default_factory=list)
    final_status: str
    objective: float | None = None
    original_objective: float | None = None
    terminated: bool = False
    truncated: bool = False
    submitted: bool = False
    success: bool = Field(False, description="the episode ended (SUBMIT or step limit) with the model OPTIMAL")
    recovered_step: int | None = Field(None, description="first step from which the model stayed OPTIMAL to the end")
    solver_calls: int = Field(0, description="optimize/computeIIS calls made by the agent's steps (not reset)")
    blamed: list[str] = Field(default_factory=list, description="targets of valid model-changing actions")
    inspected: list[str] = Field(default_factory=list, description="targets of CHECK_SLACK")
    changes: list[str] = Field(default_factory=list, description="canonical text of valid model-changing actions")
    n_original_constraints: int = 0
    n_kept_constraints: int = 0
    n_invalid: int = 0

    @property
    def n_steps(self) -> int:
        return len(self.steps)


class DebugEnv:
    """Repair an infeasible optimization model with solver-checked actions.

    **Description.** The environment holds a Gurobi model (a Problem read from disk). Every
    model-changing action edits a working copy, which is re-solved at once; while it is
    infeasible a fresh IIS is computed automatically (as the legacy environment did: its later
    observations show updated IIS lines), so each observation shows the current status and IIS.
    The original model is never modified (RESET restores it).

    **Action Space.** Text in the ``ordebug.actions`` grammar, or an ``Action``:

    ==============================  =================================================================
    ``GET_IIS()``                   recompute the IIS of the current model (1 call); no change
    ``DROP_CONSTRAINT(c)``          remove constraint ``c``
    ``RELAX_CONSTRAINT(c, a)``      a > 0 loosens ``c``: ``<=`` rhs += a; ``>=`` rhs -= a; ``=`` becomes
                                    the range rhs - a <= row <= rhs + a (still one constraint named c;
                                    relaxing a range widens both sides by a)
    ``UPDATE_RHS(c, v)``            set the rhs of ``c`` to v (a range collapses to row = v)
    ``UPDATE_BOUNDS(x, lb, ub)``    set the bounds of variable ``x`` (``inf``/``-inf`` allowed); the
                                    legacy 2-argument ``UPDATE_BOUNDS(x, lb)`` sets lb and keeps ub
    ``CHECK_SLACK(c)``              report activity, rhs and slack of ``c`` in the current solution
                                    (no change, no solver call; an infeasible model has no activity,
                                    so it reports the constraint's algebra and that fact)
    ``RESET()``                     restore the original model (its status/IIS are cached: no call)
    ``SUBMIT()``                    end the episode; success iff the current model is OPTIMAL
    ==============================  =================================================================

    With ``whatif=True`` (rich layout only) the what-if extension is offered too; each answers a
    question about a candidate repair in ``result`` (the next observation's "Last Result") and
    never changes the model; its probe solves count as solver calls:

    ==============================  =================================================================
    ``WHATIF_RELAX(c)``             the least ``RELAX_CONSTRAINT(c, a)`` that alone makes the model
                                    OPTIMAL, its objective, and the amount from which relaxing
                                    further no longer improves the objective; for a variable ``x``
                                    the same for the least ``UPDATE_BOUNDS(x, lb, ub)``
    ``WHATIF_DROP(c)``              status and objective of the model without ``c``
    ``WHATIF_IIS()``                ``WHATIF_RELAX`` of each member of the current IIS (the first 20)
                                    and, when none suffices alone, the least combined repair
    ==============================  =================================================================

    Without ``whatif`` a what-if action is an invalid step ("not offered in this episode").

    **Diagnostics.** With ``diagnostics`` (the default in the rich layout) every observation of an
    infeasible model carries a "Diagnostics" section the environment computes
    (``ordebug.diagnostics``): per IIS member the least single repair as the exact benchmark
    action, its relative size and objective, the action from which the member no longer limits
    the objective; when none suffices alone, combined repairs with their objectives. It answers
    what ``WHATIF_IIS()`` answers, without spending a step; its probe solves are the
    environment's, not the agent's (they do not count in ``solver_calls``). Evidence over the
    licence's size limit or ``diagnostics_time_limit`` is replaced by one line saying so.

    Unparseable text, unknown names (with a "did you mean"), a variable where a constraint is
    expected (or the reverse), NaN/inf amounts: a counted step with ``valid=False``, an
    ``error`` and an unchanged model, never an exception.

    **Observation Space.** ``str``: ``ordebug.observation.render(state, layout)``; the
    structured ``ObservationState`` is ``info["state"]``.

    **Rewards.** +1 on SUBMIT of an OPTIMAL model (or reaching OPTIMAL with ``auto_submit``),
    -1 on SUBMIT of any other status, -0.1 for an invalid step, 0 otherwise.

    **Starting State.** The problem's model as read, solved once, with its IIS (the legacy
    initial observation). These reset-time solver calls are not counted in ``solver_calls``.

    **Episode End.** ``terminated``: SUBMIT (or, with ``auto_submit``, a change that makes the
    model OPTIMAL). ``truncated``: ``max_steps`` steps taken without termination. ``step()``
    after the end, or before ``reset()``, raises ``EpisodeError``.

    **Arguments.**
    ``max_steps`` step budget (20); ``layout`` observation layout ("legacy" | "rich");
    ``env`` a started ``gp.Env`` (default: a private quiet env made at the first reset, so
    an episode may move between threads; one DebugEnv must not be stepped from two threads at
    once); ``time_limit`` seconds per
    solve (None = no limit; TIME_LIMIT is then a status the agent sees); ``lenient`` parse
    string actions leniently (legacy forms, "Action:" prefix); ``auto_submit`` end the episode
    as soon as a change makes the model OPTIMAL; ``whatif`` offer the what-if extension
    (needs ``layout="rich"``, the layout that shows its answers); ``auto_iis`` compute the IIS
    after every solve that leaves the model infeasible, as observations show it (default). With
    ``auto_iis=False`` only ``GET_IIS()`` computes one: observations and the record carry no
    IIS until then, results say "Status: INFEASIBLE." without IIS counts, and ``solver_calls``
    counts no automatic IIS; statuses, objectives, validity, errors and the model are the same.
    For a caller that reads the status, not the observation (the RL reward scores thousands
    of single actions); it cannot be combined with ``whatif`` or ``diagnostics``. The attribute
    may be switched between steps (the reward replays a prefix with it and scores the last action
    without).

    ``info`` (from reset and step) always has: ``state`` (ObservationState), ``status``,
    ``objective``, ``result`` (text shown to the agent), ``valid``, ``error``,
    ``solver_calls`` (cumulative), ``step``, ``action`` (canonical text or None).
    """

    def __init__(
        self,
        max_steps: int = 20,
        layout: str = "legacy",
        env: gp.Env | None = None,
        *,
        time_limit: float | None = None,
        lenient: bool = True,
        auto_submit: bool = False,
        whatif: bool = False,
        diagnostics: bool | None = None,
        diagnostics_time_limit: float = diagnostics.TIME_LIMIT_S,
        auto_iis: bool = True,
    ) -> None:
        if max_steps < 1:
            raise EpisodeError(f"max_steps must be at least 1, got {max_steps}")
        if not auto_iis and (whatif or diagnostics):
            raise EpisodeError(
                "what-if actions and the diagnostics section read the IIS of every infeasible state; "
                "pass auto_iis=True, or whatif=False and diagnostics=False"
            )
        self.auto_iis = auto_iis
        if whatif and layout != "rich":
            raise EpisodeError(
                f"what-if actions need the rich layout (the {layout!r} layout does not show their answers); "
                "pass layout='rich' or whatif=False"
            )
        self.whatif = whatif
        if diagnostics and layout != "rich":
            raise EpisodeError(
                f"the diagnostics section needs the rich layout (the {layout!r} layout does not show it); "
                "pass layout='rich' or diagnostics=False"
            )
        self.diagnostics = layout == "rich" if diagnostics is None else diagnostics
        self.diagnostics_time_limit = diagnostics_time_limit
        render(ObservationState(problem_id="", status="", n_constraints=0, n_variables=0), layout)  # validate
        self.max_steps = max_steps
        self.layout = layout
        self.time_limit = time_limit
        self.lenient = lenient
        self.auto_submit = auto_submit
        self._genv = env
        self._problem: Problem | None = None
        self._done = True

    # ------------------------------------------------------------------ public API

    def reset(self, problem: Problem | str, *, seed: int | None = None, options: dict | None = None):
        """Start an episode on ``problem``; returns ``(observation, info)``.

        ``seed`` is accepted for the Gymnasium signature; the episode is deterministic.
        ``options={"reuse_initial": True}``: when ``problem`` equals the previous reset's, keep its
        model as read and its initial solve and IIS (the same first state, without reading and
        solving again; the RL reward scores many completions of one state). Raises
        ProblemLoadError / LicenseLimitError for an unreadable model.
        """
        if isinstance(problem, str):
            problem = load_model_files(problem)[0]
        reuse = bool((options or {}).get("reuse_initial")) and not self._never_reset() and problem == self._problem
        self._problem = problem
        if self._genv is None:
            # a private env: the episode may be stepped from any thread (asyncio.to_thread)
            self._genv = solver.new_env()
        if not reuse:
            self._orig = problem.read_model(self._genv)
            self._orig.update()
            constr_names = self._orig.getAttr("ConstrName", self._orig.getConstrs())
            self._original_names = list(dict.fromkeys(constr_names))
            # read once: every working copy has the same names in the same order
            self._copy_names = (constr_names, self._orig.getAttr("VarName", self._orig.getVars()))
            self._calls = 0
            result = self._solve_current(model=self._orig)
            self._initial = self._snapshot
            self._initial_result = result
        self._calls = 0  # reset-time calls are free: every agent gets the same first observation
        self._load_working_copy()
        self._step = 0
        self._history: list[HistoryEntry] = []
        self._steps: list[StepRecord] = []
        self._blamed: list[str] = []
        self._inspected: list[str] = []
        self._changes: list[str] = []
        self._terminated = self._truncated = self._submitted = False
        self._done = False
        self._last_result: str | None = None
        state = self._state()
        return render(state, self.layout), self._info(state, "", True, None, None)

    def _never_reset(self) -> bool:
        return not hasattr(self, "_initial_result")

    def step(self, action: Action | str):
        """Apply one action; returns ``(observation, reward, terminated, truncated, info)``."""
        if self._problem is None:
            raise EpisodeError("Cannot call step() before reset(); call reset(problem) first")
        if self._done:
            raise EpisodeError("the episode has ended; call reset(problem) to start another")
        self._step += 1
        calls_before = self._calls
        raw = action if isinstance(action, str) else None
        reward = 0.0
        parsed: Action | None = None
        error: str | None = None
        try:
            parsed = action if isinstance(action, Action) else parse_action(action, lenient=self.lenient)
            result = self._apply(parsed)
            valid = True
        except (ActionParseError, InvalidActionError) as exc:
            error = str(exc)
            result = f"Invalid action: {error}"
            valid = False
            reward = REWARD_INVALID
        if valid and parsed is not None:
            if parsed.name is ActionName.SUBMIT:
                self._submitted = self._terminated = True
                reward = REWARD_SUCCESS if self._status == "OPTIMAL" else REWARD_FAILURE
            elif self.auto_submit and parsed.changes_model and self._status == "OPTIMAL":
                self._terminated = True
                reward = REWARD_SUCCESS
        if not self._terminated and self._step >= self.max_steps:
            self._truncated = True
        self._done = self._terminated or self._truncated
        shown = str(parsed) if parsed is not None else (raw or "")
        self._history.append(HistoryEntry(step=self._step, action=shown, result=result, valid=valid))
        self._last_result = result
        self._steps.append(
            StepRecord(
                index=self._step, action=str(parsed) if parsed is not None else None, raw=raw, valid=valid,
                error=error, result=result, status=self._status, objective=self._objective,
                solver_calls=self._calls - calls_before,
            )
        )
        state = self._state()
        info = self._info(state, result, valid, error, str(parsed) if parsed is not None else None)
        return render(state, self.layout), reward, self._terminated, self._truncated, info

    def record(self) -> EpisodeRecord:
        """The episode so far as an EpisodeRecord (call after the episode ends for final metrics)."""
        if self._problem is None:
            raise EpisodeError("Cannot call record() before reset()")
        recovered: int | None = None
        if self._status == "OPTIMAL":
            # the first step of the final OPTIMAL run (0: the model was never broken)
            recovered = 0 if self._initial_result.status == "OPTIMAL" else None
            for s in self._steps:
                if s.status != "OPTIMAL":
                    recovered = None
                elif recovered is None:
                    recovered = s.index
        ended = self._done
        return EpisodeRecord(
            problem_id=self._problem.problem_id,
            error_type=self._problem.error_type,
            layout=self.layout,
            whatif=self.whatif,
            diagnostics=self.diagnostics,
            max_steps=self.max_steps,
            steps=list(self._steps),
            initial_status=self._initial_result.status,
            initial_iis_constraints=list(self._initial["iis_constraints"]),
            initial_iis_bounds=list(self._initial["iis_bounds"]),
            final_status=self._status,
            objective=self._objective,
            original_objective=self._problem.original_objective,
            terminated=self._terminated,
            truncated=self._truncated,
            submitted=self._submitted,
            success=ended and self._status == "OPTIMAL",
            recovered_step=recovered,
            solver_calls=self._calls,
            blamed=list(self._blamed),
            inspected=list(self._inspected),
            changes=list(self._changes),
            n_original_constraints=len(self._original_names),
            n_kept_constraints=sum(1 for n in self._original_names if n in self._rows),
            n_invalid=sum(1 for s in self._steps if not s.valid),
        )

    def current_model(self) -> gp.Model:
        """A copy of the working model (e.g. for the oracle); changing it does not affect the episode."""
        if self._problem is None:
            raise EpisodeError("Cannot call current_model() before reset()")
        self._model.update()
        return self._model.copy()

    @property
    def problem(self) -> Problem | None:
        return self._problem

    @property
    def done(self) -> bool:
        return self._done

    # ------------------------------------------------------------------ internals

    def _load_working_copy(self) -> None:
        self._model = self._orig.copy()
        self._model.update()
        # name -> rows; a relaxed equality is two rows under one name (why: it stays one
        # constraint for the agent, FP and metrics). Gurobi allows duplicate names.
        self._rows: dict[str, list[gp.Constr]] = {}
        constr_names, var_names = self._copy_names
        for name, c in zip(constr_names, self._model.getConstrs(), strict=True):
            self._rows.setdefault(name, []).append(c)
        self._wvars = dict(zip(var_names, self._model.getVars(), strict=True))
        self._status = self._initial_result.status
        self._objective = self._initial_result.objective
        self._snapshot = dict(self._initial)

    def _solve_current(self, model: gp.Model | None = None) -> solver.SolveResult:
        model = model if model is not None else self._model
        result = solver.solve(model, time_limit=self.time_limit, source=self._problem.problem_id)
        self._calls += result.solver_calls
        snap: dict[str, Any] = {
            "iis_constraints": [], "iis_bounds": [], "iis_details": [], "bounds": [], "diagnostics": None,
        }  # fmt: skip
        if result.status == "INFEASIBLE" and self.auto_iis:
            iis = solver.compute_iis(model)
            self._calls += 1
            snap = self._iis_snapshot(model, iis)
        self._snapshot = snap
        self._status, self._objective = result.status, result.objective
        return result

    def _state(self) -> ObservationState:
        names = list(self._rows)
        return ObservationState(
            problem_id=self._problem.problem_id,
            error_type=self._problem.error_type or "?",
            status=self._status,
            iis_constraints=self._snapshot["iis_constraints"],
            iis_bounds=self._snapshot["iis_bounds"],
            n_constraints=len(names),
            n_variables=len(self._wvars),
            constraint_names=names,
            iis_details=self._snapshot["iis_details"],
            bounds=self._snapshot["bounds"],
            diagnostics=self._snapshot["diagnostics"],
            objective=self._objective,
            last_result=self._last_result,
            history=list(self._history),
            step=self._step,
            max_steps=self.max_steps,
        )

    def _info(self, state, result, valid, error, action) -> dict[str, Any]:
        return {
            "state": state, "status": self._status, "objective": self._objective, "result": result,
            "valid": valid, "error": error, "solver_calls": self._calls, "step": self._step, "action": action,
        }  # fmt: skip

    def _status_text(self) -> str:
        if self._status == "OPTIMAL" and self._objective is not None:
            return f"Status: OPTIMAL (objective {fmt_num(self._objective)})."
        if self._status == "INFEASIBLE" and self.auto_iis:
            n_c, n_b = len(self._snapshot["iis_constraints"]), len(self._snapshot["iis_bounds"])
            return f"Status: INFEASIBLE (IIS: {n_c} constraints, {n_b} bounds)."
        return f"Status: {self._status}."

    def _constraint(self, name: str) -> list[gp.Constr]:
        rows = self._rows.get(name)
        if rows:
            return rows
        if name in self._wvars:
            raise InvalidActionError(f"{name!r} is a variable, not a constraint; use UPDATE_BOUNDS for variables")
        if name in self._original_names:
            raise InvalidActionError(f"constraint {name!r} was already dropped (RESET() restores it)")
        raise InvalidActionError(
            f"unknown constraint {name!r}{_did_you_mean(name, list(self._rows))}; see Constraint Names"
        )

    def _variable(self, name: str) -> gp.Var:
        var = self._wvars.get(name)
        if var is not None:
            return var
        if name in self._rows or name in self._original_names:
            raise InvalidActionError(f"{name!r} is a constraint, not a variable; UPDATE_BOUNDS takes a variable")
        raise InvalidActionError(f"unknown variable {name!r}{_did_you_mean(name, list(self._wvars))}")

    def _blame(self, name: str) -> None:
        if name not in self._blamed:
            self._blamed.append(name)

    def _apply(self, action: Action) -> str:
        """Carry out a parsed action; raise InvalidActionError (model untouched) when it does not apply."""
        name, target = action.name, action.target
        if name is ActionName.SUBMIT:
            verdict = "success" if self._status == "OPTIMAL" else "failure: the model is not OPTIMAL"
            return f"Submitted. {self._status_text()} Episode over ({verdict})."
        if name is ActionName.GET_IIS:
            if self._status != "INFEASIBLE":
                return f"No IIS: the model is not infeasible. {self._status_text()}"
            self._recompute_iis()
            iis_c, iis_b = self._snapshot["iis_constraints"], self._snapshot["iis_bounds"]
            return f"IIS: constraints {iis_c!r}; bounds {iis_b!r}."
        if name in WHATIF_ACTIONS:
            return self._whatif(action)
        if name is ActionName.CHECK_SLACK:
            rows = self._constraint(target)
            if target not in self._inspected:
                self._inspected.append(target)
            return self._slack_text(target, rows)
        if name is ActionName.RESET:
            self._load_working_copy()
            self._changes.append(str(action))
            return f"Restored the original model. {self._status_text()}"
        # model-changing actions on one element
        if name is ActionName.UPDATE_BOUNDS:
            text = self._update_bounds(action)
        else:
            rows = self._constraint(target)
            if name is ActionName.DROP_CONSTRAINT:
                for row in rows:
                    self._model.remove(row)
                del self._rows[target]
                text = f"Dropped constraint {target}."
            elif name is ActionName.RELAX_CONSTRAINT:
                text = self._relax(target, rows, action.amount)
            elif name is ActionName.UPDATE_RHS:
                before = self._rhs_text(rows)
                for row in rows:
                    row.RHS = action.value
                self._model.update()
                text = f"Set rhs of {target}: {before} -> {self._rhs_text(rows)}."
            else:  # pragma: no cover - every ActionName is handled above
                raise InvalidActionError(f"unsupported action {name}")
        self._blame(target)
        self._changes.append(str(action))
        self._solve_current()
        return f"{text} {self._status_text()}"

    def _whatif(self, action: Action) -> str:
        """Answer a what-if question on copies of the working model (see ordebug.whatif)."""
        if not self.whatif:
            raise InvalidActionError(
                f"{action.name} is a what-if extension action that this episode does not offer; "
                "use GET_IIS, DROP_CONSTRAINT, RELAX_CONSTRAINT, CHECK_SLACK, UPDATE_RHS, UPDATE_BOUNDS, RESET or SUBMIT"
            )
        name, target = action.name, action.target
        if name is ActionName.WHATIF_IIS and self._status != "INFEASIBLE":
            return f"No IIS: the model is not infeasible. {self._status_text()}"
        self._model.update()
        before = solver.calls_made()
        if name is ActionName.WHATIF_IIS:
            text = whatif.answer_iis(self._model, self._snapshot["iis_constraints"], self._snapshot["iis_bounds"])
        elif name is ActionName.WHATIF_DROP:
            self._constraint(target)
            text = whatif.answer_drop(self._model, target)
        else:
            is_constraint = target in self._rows
            if not is_constraint:
                self._variable(target)  # unknown names: the same errors and "did you mean" as elsewhere
            text = whatif.answer_relax(self._model, target, is_constraint=is_constraint)
        self._calls += solver.calls_made() - before
        return text

    def _recompute_iis(self) -> None:
        iis = solver.compute_iis(self._model)
        self._calls += 1
        # GET_IIS changes nothing: the snapshot it replaces is of this same model (every change
        # re-snapshots), so an unchanged IIS keeps its diagnostics instead of probing them again
        before = self._snapshot
        unchanged = before["iis_constraints"] == list(dict.fromkeys(iis.constraints)) and before["iis_bounds"] == iis.bounds
        self._snapshot = self._iis_snapshot(self._model, iis, known=before["diagnostics"] if unchanged else None)

    def _iis_snapshot(
        self, model: gp.Model, iis: solver.IIS, *, known: Diagnostics | None = None
    ) -> dict[str, Any]:
        """What the observation shows of an infeasible model: the IIS, its algebra, the diagnostics
        (``known``: the diagnostics already computed for this model and IIS)."""
        details, bounds = describe_iis(model, iis)  # reads IISLB/IISUB: before any other solve
        constraints = list(dict.fromkeys(iis.constraints))
        diag = known
        if self.diagnostics and diag is None:  # probe solves of the environment: not in the agent's solver_calls
            diag = diagnostics.compute(model, constraints, iis.bounds, time_limit=self.diagnostics_time_limit)
        return {
            "iis_constraints": constraints, "iis_bounds": iis.bounds,
            "iis_details": details, "bounds": bounds, "diagnostics": diag,
        }  # fmt: skip

    def _relax(self, target: str, rows: list[gp.Constr], amount: float) -> str:
        before = self._rhs_text(rows)
        if len(rows) == 1 and rows[0].Sense == GRB.EQUAL:
            row = rows[0]
            rhs = row.RHS
            expr = self._model.getRow(row)
            row.Sense, row.RHS = GRB.GREATER_EQUAL, rhs - amount
            rows.append(self._model.addLConstr(expr, GRB.LESS_EQUAL, rhs + amount, name=target))
        else:
            for row in rows:
                row.RHS = row.RHS + amount if row.Sense == GRB.LESS_EQUAL else row.RHS - amount
        self._model.update()
        return f"Relaxed {target} by {fmt_num(amount)}: {before} -> {self._rhs_text(rows)}."

    @staticmethod
    def _rhs_text(rows: list[gp.Constr]) -> str:
        if len(rows) == 1:
            return f"{_SENSE[rows[0].Sense]} {fmt_num(rows[0].RHS)}"
        lo = max((r.RHS for r in rows if r.Sense in (GRB.GREATER_EQUAL, GRB.EQUAL)), default=-math.inf)
        hi = min((r.RHS for r in rows if r.Sense in (GRB.LESS_EQUAL, GRB.EQUAL)), default=math.inf)
        return f"in [{fmt_num(lo)}, {fmt_num(hi)}]"

    def _update_bounds(self, action: Action) -> str:
        var = self._variable(action.target)
        lb = action.lb
        ub = action.ub if action.ub is not None else var.UB
        if lb > ub:
            raise InvalidActionError(
                f"new lb {fmt_num(lb)} of {action.target} is above its ub {fmt_num(ub)}; give both bounds"
            )
        before = f"[{fmt_num(var.LB)}, {fmt_num(var.UB)}]"
        var.LB = -GRB.INFINITY if math.isinf(lb) else lb
        var.UB = GRB.INFINITY if math.isinf(ub) else ub
        self._model.update()
        return f"Set bounds of {action.target}: {before} -> [{fmt_num(var.LB)}, {fmt_num(var.UB)}]."

    def _slack_text(self, target: str, rows: list[gp.Constr]) -> str:
        if self._status == "OPTIMAL" and self._model.SolCount == 0:
            self._solve_current()  # a fresh working copy (after RESET) carries no solution yet
        if self._model.SolCount == 0 or self._status in ("INFEASIBLE", "INF_OR_UNBD", "UNBOUNDED"):
            algebra = "; ".join(constraint_algebra(self._model, r) for r in rows)
            return f"{algebra}. No activity to report: the model is {self._status} (no solution)."
        activity = self._model.getRow(rows[0]).getValue()
        parts = []
        for row in rows:
            sense = _SENSE[row.Sense]
            slack = row.RHS - activity if sense == "<=" else activity - row.RHS if sense == ">=" else 0.0
            parts.append(f"rhs {sense} {fmt_num(row.RHS)}, slack {fmt_num(slack)}")
        binding = any(abs(r.Slack) <= 1e-6 for r in rows)
        return f"{target}: activity {fmt_num(activity)}, {'; '.join(parts)} ({'binding' if binding else 'not binding'})."


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
