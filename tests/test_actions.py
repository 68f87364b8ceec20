"""The action grammar: strict and lenient parsing, every error path, round-trips, legacy data."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pydantic
import pytest

from ordebug.actions import (
    CORE_ACTIONS,
    EXTENDED_ACTIONS,
    PARAMS,
    SIGNATURES,
    WHATIF_ACTIONS,
    Action,
    ActionName,
    parse_action,
)
from ordebug.errors import ActionParseError, OrDebugError
from tests.legacy_data import legacy_counts, legacy_outputs

A = ActionName


def legacy_actions(shared_data: Path) -> list[str]:
    """The action text of every legacy output (Alpaca file and messages file)."""
    return [o.rsplit("Action: ", 1)[1] for o in legacy_outputs(shared_data)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET_IIS()", Action(name=A.GET_IIS)),
        ("SUBMIT()", Action(name=A.SUBMIT)),
        ("RESET()", Action(name=A.RESET)),
        ("DROP_CONSTRAINT(c_key_lower)", Action(name=A.DROP_CONSTRAINT, target="c_key_lower")),
        ("CHECK_SLACK(c3)", Action(name=A.CHECK_SLACK, target="c3")),
        ("RELAX_CONSTRAINT(c5, 1.0)", Action(name=A.RELAX_CONSTRAINT, target="c5", values=(1.0,))),
        ("RELAX_CONSTRAINT( c5 ,5 )", Action(name=A.RELAX_CONSTRAINT, target="c5", values=(5.0,))),
        ("UPDATE_RHS(c_key_lower, 0.0)", Action(name=A.UPDATE_RHS, target="c_key_lower", values=(0.0,))),
        ("UPDATE_RHS(c1, -2.5e3)", Action(name=A.UPDATE_RHS, target="c1", values=(-2500.0,))),
        ("UPDATE_BOUNDS(x0, -inf, 10)", Action(name=A.UPDATE_BOUNDS, target="x0", values=(-math.inf, 10.0))),
        (
            "UPDATE_BOUNDS(x[1,2], 0, +inf)",
            Action(name=A.UPDATE_BOUNDS, target="x[1,2]", values=(0.0, math.inf)),
        ),
        ("DROP_CONSTRAINT('cap (north)')", Action(name=A.DROP_CONSTRAINT, target="cap (north)")),
        ('DROP_CONSTRAINT("it\'s")', Action(name=A.DROP_CONSTRAINT, target="it's")),
        ("DROP_CONSTRAINT(flow[a,b]:t-1)", Action(name=A.DROP_CONSTRAINT, target="flow[a,b]:t-1")),
        ("  SUBMIT( )  ", Action(name=A.SUBMIT)),
    ],
)
def test_strict_parses_the_grammar(text: str, expected: Action) -> None:
    assert parse_action(text) == expected
    assert parse_action(text, lenient=True) == expected


def test_action_lists_and_signatures() -> None:
    assert set(CORE_ACTIONS) | set(EXTENDED_ACTIONS) | set(WHATIF_ACTIONS) == set(ActionName)
    assert not set(CORE_ACTIONS) & set(EXTENDED_ACTIONS)
    assert SIGNATURES[A.RELAX_CONSTRAINT] == "RELAX_CONSTRAINT(name, amount)"
    assert SIGNATURES[A.UPDATE_BOUNDS] == "UPDATE_BOUNDS(var, lb, ub)"
    assert SIGNATURES[A.GET_IIS] == "GET_IIS()"


def test_canonical_text() -> None:
    assert str(parse_action("RELAX_CONSTRAINT(c3,1.5)")) == "RELAX_CONSTRAINT(c3, 1.5)"
    assert str(parse_action("RELAX_CONSTRAINT(c3, 1)")) == "RELAX_CONSTRAINT(c3, 1.0)"
    assert str(parse_action("UPDATE_RHS(c3, 1e16)")) == "UPDATE_RHS(c3, 1e+16)"
    assert str(parse_action("UPDATE_RHS(c3, -0.0)")) == "UPDATE_RHS(c3, 0.0)"
    assert str(parse_action("UPDATE_RHS(c3, 0.1)")) == "UPDATE_RHS(c3, 0.1)"
    assert str(parse_action("UPDATE_BOUNDS(x, -INF, Infinity)")) == "UPDATE_BOUNDS(x, -inf, inf)"
    assert str(parse_action('DROP_CONSTRAINT("a b")')) == "DROP_CONSTRAINT('a b')"
    assert str(parse_action("GET_IIS()")) == "GET_IIS()"


def test_accessors() -> None:
    relax = parse_action("RELAX_CONSTRAINT(c1, 2)")
    assert relax.amount == 2.0 and relax.changes_model
    assert relax.value is None and relax.lb is None and relax.ub is None
    bounds = parse_action("UPDATE_BOUNDS(x, -1, 4)")
    assert (bounds.lb, bounds.ub) == (-1.0, 4.0)
    assert parse_action("UPDATE_RHS(c, 3)").value == 3.0
    assert not parse_action("CHECK_SLACK(c)").changes_model
    assert not parse_action("GET_IIS()").changes_model


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty action text"),
        (
            "DROP_CONSTRAINT c3",
            "'DROP_CONSTRAINT c3' is not of the form NAME(arguments), e.g. DROP_CONSTRAINT(c3) or GET_IIS()",
        ),
        ("GET_IIS() SUBMIT()", "'GET_IIS() SUBMIT()' has text after the action's closing parenthesis"),
        ("DROP_CONSTRAINT(c1)\nSUBMIT()", "an action is one line"),
        ("FOO(x)", f"unknown action 'FOO'; known: {', '.join(ActionName)}"),
        ("drop_constraint(c1)", "unknown action 'drop_constraint' (action names are upper case); known:"),
        ("GET_IIS(c1)", "GET_IIS takes no arguments, got 1"),
        ("DROP_CONSTRAINT()", "DROP_CONSTRAINT takes 1 argument (name), got 0"),
        ("DROP_CONSTRAINT(c_key_lower, 0.0)", "DROP_CONSTRAINT takes 1 argument (name), got 2"),
        ("RELAX_CONSTRAINT(c1)", "RELAX_CONSTRAINT takes 2 arguments (name, amount), got 1"),
        ("RELAX_CONSTRAINT(c1, 1, 2)", "RELAX_CONSTRAINT takes 2 arguments (name, amount), got 3"),
        ("UPDATE_BOUNDS(x0, -1000000.0)", "UPDATE_BOUNDS takes 3 arguments (var, lb, ub), got 2"),
        ("RELAX_CONSTRAINT(c1, )", "argument 2 (amount) of RELAX_CONSTRAINT is empty"),
        ("RELAX_CONSTRAINT(c1, nan)", "amount 'nan' is not a finite number"),
        ("RELAX_CONSTRAINT(c1, inf)", "amount 'inf' is not a finite number"),
        ("RELAX_CONSTRAINT(c1, 1e999)", "amount '1e999' is not a finite number"),
        ("UPDATE_RHS(c1, -inf)", "value '-inf' is not a finite number"),
        ("RELAX_CONSTRAINT(c1, abc)", "amount 'abc' is not a number"),
        ("RELAX_CONSTRAINT(c1, '1.0')", "amount \"'1.0'\" is not a number"),
        ("RELAX_CONSTRAINT(c1, 1_000)", "amount '1_000' is not a number"),
        ("RELAX_CONSTRAINT(c1, 0)", "amount 0.0 must be positive (RELAX_CONSTRAINT loosens by the amount)"),
        ("RELAX_CONSTRAINT(c1, -1)", "amount -1.0 must be positive"),
        ("UPDATE_BOUNDS(x, nan, 1)", "lb 'nan' is not a finite number"),
        ("UPDATE_BOUNDS(x, inf, inf)", "lb 'inf' is not a lower bound; use -inf for no lower bound"),
        ("UPDATE_BOUNDS(x, 0, -inf)", "ub '-inf' is not an upper bound; use inf for no upper bound"),
        ("UPDATE_BOUNDS(x, 5, 1)", "lb 5.0 is greater than ub 1.0"),
        ("DROP_CONSTRAINT(a b)", "invalid name 'a b': unquoted names may contain only letters, digits and"),
        ("DROP_CONSTRAINT('c1)", "unterminated ' quote"),
        ("DROP_CONSTRAINT('')", "name is empty"),
        (
            "DROP_CONSTRAINT('" + "c" * 256 + "')",
            "name is 256 characters long; Gurobi names have at most 255",
        ),
        ("DROP_CONSTRAINT('a\tb')", "contains a control character or line break"),
        ("UPDATE_BOUNDS(x y, 0, 1)", "invalid var 'x y'"),
    ],
)
def test_strict_errors_say_why(text: str, reason: str) -> None:
    with pytest.raises(ActionParseError) as info:
        parse_action(text)
    assert reason in info.value.reason
    assert str(info.value) == info.value.reason
    assert "\n" not in str(info.value)
    assert isinstance(info.value, OrDebugError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "payload",
    [
        "DROP_CONSTRAINT(__import__('os').system('x'))",
        "DROP_CONSTRAINT(open('/etc/passwd').read())",
        "RELAX_CONSTRAINT(c1, __import__('os').getpid())",
        "RELAX_CONSTRAINT(c1, 1+1)",
        "UPDATE_RHS(c1, float('nan'))",
        "CHECK_SLACK(c1; rm -rf /)",
    ],
)
def test_never_evaluates(payload: str, tmp_path: Path) -> None:
    for lenient in (False, True):
        with pytest.raises(ActionParseError) as info:
            parse_action(payload, lenient=lenient)
        assert "invalid" in info.value.reason or "not a" in info.value.reason


def test_import_payload_is_an_invalid_name() -> None:
    with pytest.raises(ActionParseError, match=r"invalid name \"__import__\('os'\)\.system\('x'\)\"") as info:
        parse_action("DROP_CONSTRAINT(__import__('os').system('x'))")
    assert info.value.text == "DROP_CONSTRAINT(__import__('os').system('x'))"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DROP_CONSTRAINT(c_key_lower, 0.0)", "DROP_CONSTRAINT(c_key_lower)"),
        ("GET_IIS(0)", "GET_IIS()"),
        ("drop_constraint(c1)", "DROP_CONSTRAINT(c1)"),
        ("Relax_Constraint(c1, 2)", "RELAX_CONSTRAINT(c1, 2.0)"),
        ("Action: SUBMIT()", "SUBMIT()"),
        ("**Action:** `DROP_CONSTRAINT(c1)`.", "DROP_CONSTRAINT(c1)"),
        ("`CHECK_SLACK(c2)`;", "CHECK_SLACK(c2)"),
        ("RELAX_CONSTRAINT(name=c1, amount=1.5)", "RELAX_CONSTRAINT(c1, 1.5)"),
        ("RELAX_CONSTRAINT(amount=1.5, name=c1)", "RELAX_CONSTRAINT(c1, 1.5)"),
        ("RELAX_CONSTRAINT(c1, '2')", "RELAX_CONSTRAINT(c1, 2.0)"),
        ("UPDATE_BOUNDS(x0, -1000000.0)", "UPDATE_BOUNDS(x0, -1000000.0)"),
    ],
)
def test_lenient_accepts(text: str, expected: str) -> None:
    assert str(parse_action(text, lenient=True)) == expected


def test_lenient_one_bound_update_bounds_keeps_ub() -> None:
    action = parse_action("UPDATE_BOUNDS(x0, -1000000.0)", lenient=True)
    assert action.values == (-1000000.0,)
    assert (action.lb, action.ub) == (-1000000.0, None)  # ub None: keep the variable's upper bound
    assert parse_action(str(action), lenient=True) == action
    with pytest.raises(ActionParseError, match="takes 3 arguments"):
        parse_action(str(action))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "DROP_CONSTRAINT(c1, c2)",
            "DROP_CONSTRAINT takes 1 argument (name), got 2",
        ),  # surplus name: ambiguous
        ("RELAX_CONSTRAINT(c1, 1, 2)", "RELAX_CONSTRAINT takes 2 arguments (name, amount), got 3"),
        ("UPDATE_BOUNDS(x0)", "UPDATE_BOUNDS takes 3 arguments (var, lb, ub), got 1"),
        ("UPDATE_BOUNDS(x0, inf)", "lb 'inf' is not a lower bound"),
        ("RELAX_CONSTRAINT(c1, NaN)", "amount 'NaN' is not a finite number"),
        ("RELAX_CONSTRAINT(amount=1)", "keyword arguments leave a gap"),
        ("please drop c1", "is not of the form NAME(arguments)"),
    ],
)
def test_lenient_still_rejects(text: str, reason: str) -> None:
    with pytest.raises(ActionParseError) as info:
        parse_action(text, lenient=True)
    assert reason in info.value.reason


def test_direct_construction_is_validated() -> None:
    for bad in (
        {"name": A.RELAX_CONSTRAINT, "target": "c1", "values": (math.nan,)},
        {"name": A.RELAX_CONSTRAINT, "target": "c1"},
        {"name": A.DROP_CONSTRAINT},
        {"name": A.GET_IIS, "target": "c1"},
        {"name": A.DROP_CONSTRAINT, "target": "a\nb"},
        {"name": "NOPE"},
    ):
        with pytest.raises(pydantic.ValidationError):
            Action(**bad)
    with pytest.raises(pydantic.ValidationError):
        Action(name=A.GET_IIS).name = A.SUBMIT  # frozen


def _random_name(rng: random.Random) -> str:
    pools = [
        "c0",
        "c_key_lower",
        "x[1,2]",
        "flow[a,b]:t-1",
        "R09",
        "cap (north)",
        "it's",
        'say "hi"',
        "a, b",
        "x[1,2",
        "x]1,2[",
        "1.5",
        "inf",
        "DROP_CONSTRAINT(c1)",
        "ünïcode",
        "#$@/{}~!?|&^%<>",
    ]
    if rng.random() < 0.5:
        return rng.choice(pools)
    alphabet = "abcXYZ019_.[]:-+, ()'"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))).replace("'", "") or "n"


def _random_number(rng: random.Random) -> float:
    return rng.choice(
        [
            1.0,
            5.0,
            0.1,
            1e-7,
            1e16,
            123456.789,
            2.0**-30,
            rng.uniform(1e-3, 1e6),
            float(rng.randint(1, 10**9)),
        ]
    )


def test_round_trip_over_generated_actions() -> None:
    rng = random.Random(0)
    for _ in range(3000):
        name = rng.choice(list(ActionName))
        params = PARAMS[name]
        target = _random_name(rng) if params else None
        if name is A.UPDATE_BOUNDS:
            lb = rng.choice([-math.inf, -_random_number(rng), 0.0, _random_number(rng)])
            base = lb if math.isfinite(lb) else 0.0
            ub = rng.choice([math.inf, base + _random_number(rng), base])
            values: tuple[float, ...] = (lb, ub)
        elif name is A.UPDATE_RHS:
            values = (rng.choice([-1.0, 1.0, 0.0]) * _random_number(rng),)
        else:
            values = tuple(_random_number(rng) for _ in params[1:])
        action = Action(name=name, target=target, values=values)
        text = str(action)
        assert parse_action(text) == action, text
        assert parse_action(text, lenient=True) == action, text
        assert str(parse_action(text)) == text


def test_every_legacy_action_parses_leniently(shared_data: Path) -> None:
    texts = legacy_actions(shared_data)
    counts = legacy_counts(len(texts))
    strict_ok, strict_errors = 0, []
    for text in texts:
        action = parse_action(text, lenient=True)
        assert action.name in (A.DROP_CONSTRAINT, A.RELAX_CONSTRAINT, A.UPDATE_RHS, A.UPDATE_BOUNDS)
        try:
            assert parse_action(text) == action and str(action) == text
            strict_ok += 1
        except ActionParseError as err:
            strict_errors.append(err.reason)
    assert strict_ok == counts.canonical
    assert sorted(set(strict_errors)) == [
        "DROP_CONSTRAINT takes 1 argument (name), got 2",
        "UPDATE_BOUNDS takes 3 arguments (var, lb, ub), got 2",
    ]
    assert strict_errors.count("DROP_CONSTRAINT takes 1 argument (name), got 2") == counts.drop_with_amount
    assert strict_errors.count("UPDATE_BOUNDS takes 3 arguments (var, lb, ub), got 2") == counts.one_bound
