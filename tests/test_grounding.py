"""converters.grounding: every number and name of an answer is shown in the prompt or derived in writing.

The prompts are real observations (ordebug.observation.render in the rich layout, OR-Debug-Bench's legacy
samples); the rules are those of the module doc and docs/grounding.md.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from converters.sft.grounding import check_grounding
from converters.sft.grounding_report import ground, read_samples
from ordebug.answer import format_answer

# The rich layout's lines for one IIS member (the example) and a legacy name list.
PROMPT = """## IIS (Irreducible Infeasible Subsystem)
Conflicting Constraints: ['c3', 'c_key_lower']
Conflicting Bounds: ['x0']
c_key_lower: 1.38 x0 + 2 x1 >= 25.9609
c3: x0 + x8 <= 12.5
x0: [0, 10]
tolerance 1e-06, scale 8.0"""


def answer(think: str, action: str = "SUBMIT()") -> str:
    return format_answer(think, action)


def bad(g) -> list[tuple[str, str]]:
    return [(f.text, f.reason) for f in g.ungrounded]


def test_a_correct_derivation_grounds_its_result_and_the_action_amount() -> None:
    g = check_grounding(
        PROMPT,
        answer(
            "c_key_lower needs 25.9609 but x1 gives at most 2 * 10 = 20 with x0 at 0. "
            "So 25.9609 - 2 * 10 = 5.9609 is missing; relax c_key_lower by 5.9609.",
            "RELAX_CONSTRAINT(c_key_lower, 5.9609)",
        ),
    )
    assert g.ok, bad(g)
    # derived: 20, 5.9609 (the derivation), 5.9609 (the mention), 5.9609 (the action's amount)
    assert g.grounded_by == {"shown": 7, "derived": 4}  # 0 is shown too (x0: [0, 10])
    assert g.numbers_total == g.numbers_grounded == 11
    assert g.names_total == g.names_grounded == 5  # c_key_lower x3 in think, x1, x0, + the action target


@pytest.mark.parametrize(
    ("think", "reason"),
    [
        ("25.9609 - 2 * 10 = 6.9609", "wrong derivation: 25.9609 - 2 * 10 = 5.9609, not 6.9609"),
        ("25.9609 - 2 * 10 = 5.97", "wrong derivation"),  # 5.9609 printed to 2 places is 5.96
        ("(25.9609 - 2) * 10 = 5.9609", "wrong derivation"),  # precedence and parentheses count
        ("12.5 / 0 = 3", "a division by zero"),
        ("25.9609 - 7.5 = 18.4609", "derived from ungrounded 7.5"),  # 7.5 is not on the screen
    ],
)
def test_a_wrong_or_unsupported_derivation_is_ungrounded(think: str, reason: str) -> None:
    g = check_grounding(PROMPT, answer(think))
    assert not g.ok
    assert any(reason in why for _, why in bad(g)), bad(g)


def test_rounding_is_a_derivation_with_a_lone_number() -> None:
    assert check_grounding(PROMPT, answer("25.9609 = 25.96, so relax by 25.96")).ok
    assert check_grounding(PROMPT, answer("25.9609 - 2 * 10 = 5.96")).ok  # within half a unit of 0.01
    g = check_grounding(PROMPT, answer("25.9609 = 25.95"))
    assert bad(g) == [("25.95", "wrong derivation: 25.9609 = 25.9609, not 25.95")]


def test_a_derived_value_must_come_from_derivations_before_it_as_operand() -> None:
    # 20 is used as an operand before it is derived: the operand is not grounded by a later line
    g = check_grounding(PROMPT, answer("25.9609 - 20 = 5.9609\n2 * 10 = 20"))
    assert ("20", "operand not in the prompt") in bad(g)
    assert check_grounding(PROMPT, answer("2 * 10 = 20\n25.9609 - 20 = 5.9609")).ok


def test_numbers_match_by_value_and_digits_inside_names_are_not_numbers() -> None:
    assert check_grounding(PROMPT, answer("scale 8, tolerance 0.000001, c3 rhs 12.50, bound -10")).ok
    g = check_grounding(PROMPT, answer("x8 is at most 8.5"))  # 8 shows only inside the name x8
    assert bad(g) == [("8.5", "not in the prompt")]
    g = check_grounding("Constraint Names: ['c5', 'x5']", answer("relax c5 by 5"))
    assert bad(g) == [("5", "not in the prompt")]


def test_a_made_up_amount_and_a_name_not_in_the_model_are_flagged() -> None:
    # the example: a probe result the student never saw
    g = check_grounding(
        PROMPT,
        answer(
            "relax c_key_lower by at least 8.20228 (objective 16.6752); c_ghost is slack",
            "RELAX_CONSTRAINT(c_key_lower, 8.20229)",
        ),
    )
    assert [(f.kind, f.text, f.part) for f in g.ungrounded] == [
        ("number", "8.20228", "think"),
        ("number", "16.6752", "think"),
        ("name", "c_ghost", "think"),
        ("number", "8.20229", "action"),
    ]
    g = check_grounding(PROMPT, answer("drop it", "DROP_CONSTRAINT(c_missing)"))
    assert bad(g) == [("c_missing", "not in the prompt")]
    assert (g.names_total, g.names_grounded) == (1, 0)


def test_counts_of_shown_lists_constants_and_labels() -> None:
    # a legacy observation shows names only: 2 = len(['c3', 'c_key_lower']), 0 and 1 are constants,
    # and "Step 4:", "1." and "2." label the answer's own text
    legacy = "Conflicting Constraints: ['c3', 'c_key_lower']\nConflicting Bounds: []"
    text = "Step 4: the IIS holds 2 constraints and 0 bounds; relax by 1.\n1. c3 first\n2. then c_key_lower"
    g = check_grounding(legacy, answer(text))
    assert g.ok, bad(g)
    assert g.grounded_by == {"count": 2, "constant": 1}  # 0 = len([]) is a count first
    assert bad(check_grounding(legacy, answer("the IIS holds 3 constraints"))) == [("3", "not in the prompt")]
    # a step number mid-sentence is a fact about the history, which this prompt does not show
    g = check_grounding(PROMPT, answer("at step 3 I relaxed c3"))
    assert bad(g) == [("3", "not in the prompt")]


def test_action_names_and_words_are_not_names_and_algebra_is_not_arithmetic() -> None:
    g = check_grounding(
        PROMPT, answer("DROP_CONSTRAINT and relax_constraint are actions; x0 + 3 = 5 is algebra")
    )
    assert g.names_total == 1  # x0 only
    assert bad(g) == [("3", "not in the prompt"), ("5", "not in the prompt")]


def test_the_users_teacher_data_is_measured_with_its_made_up_amounts(shared_data: Path) -> None:
    path = shared_data / "legacy_sft" / "sft_gpt52chat.json"
    samples = list(read_samples(path))
    verdicts = [ground(s) for s in samples]
    # "Relaxing by 5.0" names an amount the legacy observation shows only by chance: as a number
    # ("Variables: 5") or as the length of a list of five names. "Relaxing by 1.0" is the unit step.
    shows_five = re.compile(r"(?<![\w.])5(?![\w.])|\[(?:'[^']*', ){4}'[^']*'\]")
    fives = [
        (shows_five.search(s.input) is not None, g)
        for s, g in zip(samples, verdicts, strict=True)
        if "Relaxing by 5.0" in s.output
    ]
    assert sum(not shown for shown, _ in fives) >= len(samples) // 10  # over a hundred in the full data
    for shown, g in fives:
        assert (("5.0", "not in the prompt") not in bad(g)) is shown
    assert all(g.ok for s, g in zip(samples, verdicts, strict=True) if "Relaxing by 1.0" in s.output)
    # every name the teacher wrote is in its prompt
    assert sum(g.names_total for g in verdicts) == sum(g.names_grounded for g in verdicts) > 0


def test_cli_prints_a_table_per_agent(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from converters.sft.grounding_report import main

    assert main([str(shared_data / "legacy_sft" / "sft_qwen_chat.val.jsonl"), "--examples", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["agent", "samples", "grounded"]
    assert "grounding: numbers" in out
    assert main(["/nonexistent.jsonl"]) == 2
    assert "/nonexistent.jsonl does not exist" in capsys.readouterr().err


# ------------------------------------------------------------------ in the converter and its card


def _teacher_rows(shared_data: Path, n: int) -> list[dict]:
    """n of OR-Debug-Bench's legacy samples that are grounded ("Relaxing by 1.0"), each a distinct problem."""
    rows = json.loads((shared_data / "legacy_sft" / "sft_gpt52chat.json").read_text())["data"]
    return [r for r in rows if "Relaxing by 1.0" in r["output"]][:n]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _made_up(row: dict, amount: str = "7.31", target: str | None = None) -> dict:
    """The same sample with an amount (and maybe a target) the prompt never shows."""
    out = row["output"].replace("Relaxing by 1.0", f"Relaxing by {amount}").replace(", 1.0)", f", {amount})")
    if target:
        name = out.rsplit("(", 1)[1].split(",")[0]
        out = out.replace(name, target)
    return {**row, "output": out}


def _convert(root: Path, inputs: list[str], **kw) -> dict:
    from converters.sft.pipeline import ConvertOptions, convert

    return convert(
        ConvertOptions(inputs=inputs, root=root, progress=False, length_check=False, val=0, test=0, **kw)
    )


def test_the_card_reports_grounding_and_require_grounded_drops_and_counts(
    shared_data: Path, tmp_path: Path
) -> None:
    rows = _teacher_rows(shared_data, 12)
    good, made_up = rows[:10], _made_up(rows[10])
    # A name the model lacks, in the think only: an action naming it is dropped earlier, as an unknown
    # target (converters.sft.targets), so the grounding checker meets it where only it can catch it.
    think, action = rows[11]["output"].split("</think>")
    name = action.rsplit("(", 1)[1].split(",")[0]
    ghost = {**rows[11], "output": think.replace(name, "c_ghost") + "</think>" + action}
    path = _write(tmp_path / "teacher.jsonl", [*good, made_up, ghost])
    card = _convert(tmp_path, [f"teacher={path}"])
    g = card["grounding"]
    assert (g["samples_total"], g["samples_grounded"], g["samples_grounded_share"]) == (12, 10, 0.8333)
    assert g["by_source"]["teacher"]["samples_grounded"] == 10 and g["dropped_ungrounded"] == 0
    assert g["names_total"] - g["names_grounded"] == 1  # c_ghost in the think
    assert {e["where"] for e in g["examples"]} == {f"{path}:11", f"{path}:12"}
    assert "number '7.31' (think): not in the prompt" in g["examples"][0]["findings"]
    assert g["warning"] is None
    readme = (tmp_path / "data" / "ordebug" / "README.md").read_text()
    assert "## Grounding" in readme and f"`{path}:11`" in readme

    card = _convert(tmp_path, [f"teacher={path}"], require_grounded=True)
    g = card["grounding"]
    assert (g["samples_total"], g["samples_grounded"], g["dropped_ungrounded"]) == (10, 10, 2)
    assert card["dropped"]["ungrounded"]["count"] == 2
    assert card["total"]["samples"] == 10
    written = [
        json.loads(x) for x in (tmp_path / "data" / "ordebug" / "train.jsonl").read_text().splitlines()
    ]
    assert sorted(r["output"] for r in written) == sorted(r["output"] for r in good)


def test_require_grounded_that_would_empty_a_source_is_an_error_naming_it(
    shared_data: Path, tmp_path: Path
) -> None:
    from converters.core.errors import ConvertError

    rows = _teacher_rows(shared_data, 8)
    good = _write(tmp_path / "good.jsonl", rows[:4])
    bad_rows = [_made_up(r, f"{7 + i}.31") for i, r in enumerate(rows[4:])]
    made_up = _write(tmp_path / "made_up.jsonl", bad_rows)
    with pytest.raises(ConvertError, match=r"would drop all 4 samples of source 'hallucinating'") as err:
        _convert(tmp_path, [f"teacher={good}", f"hallucinating={made_up}"], require_grounded=True)
    assert f"{made_up}:1" in str(err.value) and "7.31" in str(err.value)
    assert not (tmp_path / "data").exists()  # nothing half-written


def test_a_dataset_with_nothing_grounded_says_so_on_the_console_and_in_the_card(
    shared_data: Path, tmp_path: Path
) -> None:
    rows = [_made_up(r, f"{3 + i}.77") for i, r in enumerate(_teacher_rows(shared_data, 6))]
    path = _write(tmp_path / "made_up.jsonl", rows)
    done = subprocess.run(
        [sys.executable, "-m", "converters.sft", "--in", str(path), "--root", str(tmp_path), "--quiet",
         "--no-length-check"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "grounding: numbers" in done.stdout and "samples fully grounded 0.0% (0/6)" in done.stdout
    assert "warning: no sample is fully grounded" in done.stdout
    card = json.loads((tmp_path / "data" / "ordebug" / "card.json").read_text())
    assert card["grounding"]["warning"].startswith("no sample is fully grounded (numbers ")
    assert (
        "**Warning:** no sample is fully grounded"
        in (tmp_path / "data" / "ordebug" / "README.md").read_text()
    )


def test_a_percentage_derives_with_the_factor_100_which_alone_grounds_nothing() -> None:
    prompt = "c3: x0 >= 27.2892\nCHECK_SLACK(c3): violated by 0.0122971"
    assert check_grounding(prompt, answer("0.0122971 / 27.2892 * 100 = 0.0451, a small change")).ok
    assert bad(check_grounding(prompt, answer("relax c3 by 100"))) == [("100", "not in the prompt")]


def test_the_legacy_card_reports_what_the_checker_measures(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "legacy_sft" / "sft_gpt52chat.json"
    verdicts = [ground(s) for s in read_samples(path)]
    g = _convert(tmp_path, [str(path)])["grounding"]["by_source"]["legacy"]
    assert g["samples_total"] == len(verdicts) == len(json.loads(path.read_text())["data"])
    assert g["samples_grounded"] == sum(v.ok for v in verdicts)
    assert (g["numbers_total"], g["numbers_grounded"]) == (
        sum(v.numbers_total for v in verdicts),
        sum(v.numbers_grounded for v in verdicts),
    )
    assert 0.5 < g["numbers_grounded_share"] < 0.95  # made-up amounts, see the test above


def test_action_bounds_compare_by_value_and_an_infinite_bound_is_a_constant() -> None:
    g = check_grounding(PROMPT, answer("free x0 from above", "UPDATE_BOUNDS(x0, -10, inf)"))
    assert g.ok and g.numbers_total == 2, bad(g)
    g = check_grounding(PROMPT, answer("widen x0", "UPDATE_BOUNDS(x0, 0, 36.0398)"))
    assert bad(g) == [("36.0398", "not in the prompt or derived in <think>")]


def test_a_prompt_answers_from_its_text_as_its_full_index_would() -> None:
    """The checker answers most questions from the prompt's text and builds a prompt's index only when
    it must; every answer must be the full index's (``_NAMES`` tokens, shown values, quoted-name lists).
    Prompts mix the cases where a shortcut could go wrong: a name inside another name's index
    (``x[c1]``), digits glued to names (``3a5``, ``x1.5``), exponents, signs, quotes, non-ASCII letters."""
    import random

    from converters.sft import grounding as g

    pieces = ["x[c1]", "x[1,2]", "c1", "c_key", "3a5", "x1.5", "1e-06", "-4.5", "4.50", "e5", "'c2'",
              "['c3', 'demand']", '["d"]', "demand", "é7", "(3)", "2.", ".5", "c1[", "a_b", " ", ", ", "\n"]
    rng = random.Random(0)
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        tokens = frozenset(g._NAMES.findall(text))
        values = frozenset(map(float, g._NUMBERS.findall(g._NAMES.sub(" ", text))))
        lists = [g._QUOTED.findall(i) for i in g._BRACKETS.findall(text) if g._QUOTED_ITEMS.fullmatch(i)]
        counts = frozenset(float(len(items)) for items in lists)
        quoted = frozenset(a or b for items in lists for a, b in items) & tokens
        asked = "".join(rng.choice(pieces) for _ in range(6)) + " c9 demand d 7 12"
        words = {*g._NAMES.findall(asked), *(n for n, _ in g._WORDS.findall(asked))} - {""}
        numbers = {abs(float(n)) for n in g._NUMBERS.findall(asked)} | {1.0, 2.0, 3.0}
        part = g._Prompt(text)  # fresh: nothing indexed yet
        for w in sorted(words):
            assert part.has_token(w) == (w in tokens), (text, w)
            assert part.has_model_name(w) == (w in quoted), (text, w)
        assert part.model_names_among(frozenset(words)) == frozenset(words) & quoted
        for n in sorted(numbers):
            assert part.has_value(n) == (n in values), (text, n)
            assert part.has_count(n) == (n in counts), (text, n)
