"""Generated model families: small, feasible OR models with meaningful names.

Every builder draws its data from a ``numpy.random.Generator`` and constructs the model
around a known feasible plan (why: the model is feasible by construction, so injection
starts from a real optimum, never from a lucky draw). Data are integers or short decimals
so the MPS files and the IIS read like a textbook model.

| family              | type | objective         | variables                   | constraints                                       |
|---------------------|------|-------------------|-----------------------------|---------------------------------------------------|
| production_planning | LP   | max profit        | make_<product>              | cap_<resource>, demand_<product>, min_total_output|
| blending            | LP   | min cost          | use_<ingredient>            | batch_size (=), min_<nutrient>, max_<nutrient>    |
| transportation      | LP   | min cost          | ship_<plant>_<city>         | supply_<plant>, demand_<city>                     |
| assignment          | MIP  | min cost          | assign_<worker>_<task> (0/1)| task_<task> (=1), hours_<worker>, max_tasks_<w>   |
| shift_scheduling    | MIP  | min cost          | staff_<shift> (int), open_<shift> (0/1) | cover_<hhmm>, link_<shift>, headcount |
| capacity_loading    | MIP  | max value         | load_<item> (int)           | cap_<dimension>, contract_<item>, min_total_load  |

Sizes (``small``/``medium``/``large``) scale the index sets; the largest instances stay far
below the pip licence's 2000 variables/constraints (at most ~60 variables).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import gurobipy as gp
import numpy as np
from gurobipy import GRB

SIZES = ("small", "medium", "large")
#: Probability of each size tier when a generator draws one.
SIZE_WEIGHTS = (0.4, 0.35, 0.25)

Builder = Callable[[np.random.Generator, str, gp.Env], gp.Model]

_PRODUCTS = [
    "chairs",
    "tables",
    "desks",
    "shelves",
    "cabinets",
    "beds",
    "sofas",
    "stools",
    "benches",
    "lamps",
    "doors",
    "frames",
]
_RESOURCES = ["assembly", "machining", "labor", "painting", "packaging", "testing", "welding", "storage"]
_INGREDIENTS = [
    "corn",
    "wheat",
    "barley",
    "soymeal",
    "oats",
    "fishmeal",
    "alfalfa",
    "sorghum",
    "rye",
    "canola",
    "peas",
    "millet",
    "bran",
]
_NUTRIENTS = ["protein", "fat", "fiber", "calcium", "phosphorus", "energy"]
_PLANTS = ["seattle", "denver", "dallas", "atlanta", "chicago", "boston"]
_CITIES = ["newyork", "miami", "phoenix", "detroit", "portland", "houston", "omaha", "tampa", "reno"]
_WORKERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]
_TASKS = ["audit", "billing", "cleanup", "delivery", "editing", "filing", "grading", "hiring"]
_ITEMS = [
    "pallets",
    "drums",
    "crates",
    "boxes",
    "coils",
    "tanks",
    "rolls",
    "bales",
    "sacks",
    "cartons",
    "reels",
    "kegs",
    "bins",
    "tubes",
    "sheets",
    "blocks",
    "bags",
    "cases",
]
_DIMENSIONS = ["weight", "volume", "budget", "floor"]


def _count(rng: np.random.Generator, size: str, ranges: dict[str, tuple[int, int]]) -> int:
    lo, hi = ranges[size]
    return int(rng.integers(lo, hi + 1))


def _pick(rng: np.random.Generator, pool: list[str], k: int) -> list[str]:
    """k names from pool, kept in pool order (why: models read better in a stable order)."""
    idx = np.sort(rng.choice(len(pool), size=min(k, len(pool)), replace=False))
    return [pool[i] for i in idx]


def _new_model(env: gp.Env, name: str, sense: int) -> gp.Model:
    m = gp.Model(name, env=env)
    m.ModelSense = sense
    return m


def production_planning(rng: np.random.Generator, size: str, env: gp.Env) -> gp.Model:
    products = _pick(rng, _PRODUCTS, _count(rng, size, {"small": (3, 4), "medium": (5, 7), "large": (8, 12)}))
    resources = _pick(
        rng, _RESOURCES, _count(rng, size, {"small": (2, 3), "medium": (3, 4), "large": (4, 6)})
    )
    m = _new_model(env, "production_planning", GRB.MAXIMIZE)
    market = {p: int(rng.integers(20, 81)) for p in products}
    make = {p: m.addVar(ub=market[p], obj=int(rng.integers(5, 41)), name=f"make_{p}") for p in products}
    demand = {p: int(rng.integers(2, market[p] // 3 + 1)) for p in products if rng.random() < 0.6}
    for p, d in demand.items():
        m.addConstr(make[p] >= d, name=f"demand_{p}")
    for r in resources:
        use = {p: int(rng.integers(1, 6)) if rng.random() < 0.8 else 0 for p in products}
        base = sum(use[p] * demand.get(p, 0) for p in products)
        span = sum(use[p] * (market[p] - demand.get(p, 0)) for p in products)
        # most resources bind; about one in four is plentiful (never binding)
        frac = rng.uniform(1.05, 1.3) if rng.random() < 0.25 else rng.uniform(0.3, 0.8)
        m.addConstr(
            gp.quicksum(use[p] * make[p] for p in products if use[p]) <= math.ceil(base + frac * span),
            name=f"cap_{r}",
        )
    if demand:
        floor = math.floor(0.5 * sum(demand.values()))
        m.addConstr(gp.quicksum(make.values()) >= floor, name="min_total_output")
    return m


def blending(rng: np.random.Generator, size: str, env: gp.Env) -> gp.Model:
    ingredients = _pick(
        rng, _INGREDIENTS, _count(rng, size, {"small": (4, 5), "medium": (6, 8), "large": (9, 13)})
    )
    nutrients = _pick(
        rng, _NUTRIENTS, _count(rng, size, {"small": (2, 3), "medium": (3, 4), "large": (4, 6)})
    )
    m = _new_model(env, "blending", GRB.MINIMIZE)
    batch = 100
    stock = np.array([int(rng.integers(15, 61)) for _ in ingredients], dtype=float)
    if stock.sum() < 1.3 * batch:
        stock *= 1.3 * batch / stock.sum()
        stock = np.ceil(stock)
    use = {
        i: m.addVar(ub=float(stock[k]), obj=int(rng.integers(20, 121)), name=f"use_{i}")
        for k, i in enumerate(ingredients)
    }
    # a reference blend inside the stocks: the bounds below are drawn around its contents
    weights = stock * rng.uniform(0.2, 1.0, size=len(ingredients))
    ref = weights * batch / weights.sum()
    if np.any(ref > stock):
        ref = stock * batch / stock.sum()
    m.addConstr(gp.quicksum(use.values()) == batch, name="batch_size")
    for n in nutrients:
        content = {i: round(float(rng.uniform(0, 40)), 1) for i in ingredients}
        level = sum(content[i] * ref[k] for k, i in enumerate(ingredients))
        expr = gp.quicksum(content[i] * use[i] for i in ingredients if content[i])
        m.addConstr(expr >= math.floor(level * (1 - rng.uniform(0.05, 0.3))), name=f"min_{n}")
        if rng.random() < 0.5:
            m.addConstr(expr <= math.ceil(level * (1 + rng.uniform(0.05, 0.3))), name=f"max_{n}")
    return m


def transportation(rng: np.random.Generator, size: str, env: gp.Env) -> gp.Model:
    plants = _pick(rng, _PLANTS, _count(rng, size, {"small": (2, 3), "medium": (3, 4), "large": (4, 6)}))
    cities = _pick(rng, _CITIES, _count(rng, size, {"small": (2, 3), "medium": (4, 5), "large": (6, 9)}))
    m = _new_model(env, "transportation", GRB.MINIMIZE)
    ship = {
        (p, c): m.addVar(obj=int(rng.integers(2, 21)), name=f"ship_{p}_{c}") for p in plants for c in cities
    }
    demand = {c: int(rng.integers(10, 61)) for c in cities}
    total = sum(demand.values()) * rng.uniform(1.1, 1.5)
    share = rng.dirichlet(np.ones(len(plants)))
    for k, p in enumerate(plants):
        m.addConstr(
            gp.quicksum(ship[p, c] for c in cities) <= math.ceil(total * share[k]) + 1, name=f"supply_{p}"
        )
    for c in cities:
        m.addConstr(gp.quicksum(ship[p, c] for p in plants) >= demand[c], name=f"demand_{c}")
    return m


def assignment(rng: np.random.Generator, size: str, env: gp.Env) -> gp.Model:
    workers = _pick(rng, _WORKERS, _count(rng, size, {"small": (3, 3), "medium": (4, 5), "large": (6, 7)}))
    tasks = _pick(rng, _TASKS, _count(rng, size, {"small": (3, 4), "medium": (5, 6), "large": (7, 8)}))
    m = _new_model(env, "assignment", GRB.MINIMIZE)
    x = {
        (w, t): m.addVar(vtype=GRB.BINARY, obj=int(rng.integers(10, 51)), name=f"assign_{w}_{t}")
        for w in workers
        for t in tasks
    }
    hours = {(w, t): int(rng.integers(2, 9)) for w in workers for t in tasks}
    owner = {t: workers[k % len(workers)] for k, t in enumerate(rng.permutation(tasks).tolist())}
    for t in tasks:
        m.addConstr(gp.quicksum(x[w, t] for w in workers) == 1, name=f"task_{t}")
    limit = math.ceil(len(tasks) / len(workers)) + 1
    for w in workers:
        load = sum(hours[w, t] for t in tasks if owner[t] == w)
        m.addConstr(
            gp.quicksum(hours[w, t] * x[w, t] for t in tasks) <= load + int(rng.integers(2, 9)),
            name=f"hours_{w}",
        )
        m.addConstr(gp.quicksum(x[w, t] for t in tasks) <= limit, name=f"max_tasks_{w}")
    return m


def shift_scheduling(rng: np.random.Generator, size: str, env: gp.Env) -> gp.Model:
    n_periods = {"small": 4, "medium": 6, "large": 8}[size]
    periods = [f"{6 + 2 * k:02d}00" for k in range(n_periods)]  # two-hour blocks from 06:00
    m = _new_model(env, "shift_scheduling", GRB.MINIMIZE)
    shifts: dict[str, list[str]] = {}
    for k, start in enumerate(periods):
        for length in sorted({int(rng.integers(2, 5)), 2}):
            if k + length <= n_periods:
                shifts[f"{start}_{2 * length}h"] = periods[k : k + length]
        if k + 2 > n_periods:
            shifts[f"{start}_{2 * (n_periods - k)}h"] = periods[k:]
    need = {p: int(rng.integers(3, 16)) for p in periods}
    plan = dict.fromkeys(shifts, 0)  # a feasible staffing, built greedily period by period
    for p in periods:
        deficit = need[p] - sum(n for s, n in plan.items() if p in shifts[s])
        if deficit > 0:
            plan[str(rng.choice([s for s in shifts if p in shifts[s]]))] += deficit
    staff, opened = {}, {}
    for s, covered in shifts.items():
        ub = max(int(rng.integers(8, 21)), plan[s])
        staff[s] = m.addVar(
            vtype=GRB.INTEGER, ub=ub, obj=int(rng.integers(8, 15)) * len(covered), name=f"staff_{s}"
        )
        opened[s] = m.addVar(vtype=GRB.BINARY, obj=int(rng.integers(20, 61)), name=f"open_{s}")
        m.addConstr(staff[s] - ub * opened[s] <= 0, name=f"link_{s}")
    for p in periods:
        m.addConstr(gp.quicksum(staff[s] for s in shifts if p in shifts[s]) >= need[p], name=f"cover_{p}")
    m.addConstr(
        gp.quicksum(staff.values()) <= sum(plan.values()) + int(rng.integers(3, 11)), name="headcount"
    )
    return m


def capacity_loading(rng: np.random.Generator, size: str, env: gp.Env) -> gp.Model:
    items = _pick(rng, _ITEMS, _count(rng, size, {"small": (5, 6), "medium": (8, 11), "large": (13, 18)}))
    dims = _DIMENSIONS[: _count(rng, size, {"small": (1, 2), "medium": (2, 3), "large": (3, 4)})]
    m = _new_model(env, "capacity_loading", GRB.MAXIMIZE)
    most = {i: int(rng.integers(3, 13)) for i in items}
    load = {
        i: m.addVar(vtype=GRB.INTEGER, ub=most[i], obj=int(rng.integers(10, 61)), name=f"load_{i}")
        for i in items
    }
    contract = {i: int(rng.integers(1, most[i] // 3 + 2)) for i in items if rng.random() < 0.35}
    for d in dims:
        w = {i: int(rng.integers(1, 16)) for i in items}
        committed = sum(w[i] * n for i, n in contract.items())
        cap = max(
            math.floor(rng.uniform(0.35, 0.7) * sum(w[i] * most[i] for i in items)),
            committed + max(w.values()),
        )
        m.addConstr(gp.quicksum(w[i] * load[i] for i in items) <= cap, name=f"cap_{d}")
    for i, n in contract.items():
        m.addConstr(load[i] >= n, name=f"contract_{i}")
    if contract:
        m.addConstr(
            gp.quicksum(load.values()) >= math.floor(0.5 * sum(contract.values())), name="min_total_load"
        )
    return m


@dataclass(frozen=True)
class Family:
    """A named model family: its builder, LP/MIP, and whether it has general integers (type B)."""

    name: str
    title: str
    problem_type: str
    build: Builder
    general_integers: bool = False


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("production_planning", "production planning", "lp", production_planning),
        Family("blending", "blending", "lp", blending),
        Family("transportation", "transportation", "lp", transportation),
        Family("assignment", "assignment", "mip", assignment),
        Family("shift_scheduling", "shift scheduling", "mip", shift_scheduling, general_integers=True),
        Family(
            "capacity_loading", "capacity/knapsack loading", "mip", capacity_loading, general_integers=True
        ),
    )
}


def build(family: str, rng: np.random.Generator, size: str, env: gp.Env) -> gp.Model:
    """Build one instance of ``family`` at ``size`` (model updated, ready to solve)."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")
    model = FAMILIES[family].build(rng, size, env)
    model.update()
    return model
