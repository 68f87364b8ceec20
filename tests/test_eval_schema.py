"""The results.json schema documents every key, and run-directory / card errors name the fix."""

from __future__ import annotations

import json

import pytest
import yaml

from eval.errors import EvalConfigError
from eval.problem_sets import run_test_problems
from eval.run_dir import load_run
from eval.schema import Results


def _refs(node):
    """Every $ref under a property's schema (items, anyOf, nested additionalProperties…)."""
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"].split("/")[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _properties(schema: dict, defs: dict, path: str = "Results"):
    for name, prop in (schema.get("properties") or {}).items():
        yield f"{path}.{name}", prop
        for ref in set(_refs(prop)):
            yield from _properties(defs[ref], defs, f"{path}.{name}")


def test_every_results_key_has_a_description():
    schema = Results.model_json_schema()
    missing = [p for p, prop in _properties(schema, schema["$defs"]) if not prop.get("description")]
    assert missing == []


def test_run_dir_errors_name_the_fix(tmp_path):
    with pytest.raises(EvalConfigError, match="recipe.resolved.yaml: missing"):
        load_run(tmp_path)
    (tmp_path / "recipe.resolved.yaml").write_text(yaml.safe_dump({"model_name_or_path": "m"}))
    with pytest.raises(EvalConfigError, match="no trained model .*make train"):
        load_run(tmp_path).model_spec()
    with pytest.raises(EvalConfigError, match="names no dataset"):
        run_test_problems(load_run(tmp_path))


def test_card_problems_that_cannot_be_located_are_named(tmp_path):
    data = tmp_path / "data" / "d"
    data.mkdir(parents=True)
    (data / "card.json").write_text(
        json.dumps(
            {
                "layout": "legacy",
                "splits": {"test": {"problem_ids": ["p1", "p2"]}},
                "problem_sources": {"p1": "or_debug_bench_test"},
            }
        )
    )
    (tmp_path / "dataset_info.json").write_text(json.dumps({"d_train": {"file_name": "data/d/train.jsonl"}}))
    run = tmp_path / "run"
    run.mkdir()
    (run / "recipe.resolved.yaml").write_text(
        yaml.safe_dump({"dataset": "d_train", "dataset_dir": str(tmp_path)})
    )
    with pytest.raises(EvalConfigError, match=r"2 test problem\(s\) .* p1, p2.*--problems DIR"):
        run_test_problems(load_run(run))
