"""LLaMA-Factory's training keys and their types, saved as JSON so a recipe is checked without importing it.

Importing `llamafactory.hparams` pulls in torch and transformers: seconds before the first
"unknown key" could be said. `recipes/lf_schema.json` holds every key of the dataclasses its
training parser uses (`_TRAIN_ARGS`), with the type written as data and the default. It is used
only when the installed LLaMA-Factory and transformers versions are those it was made from;
otherwise the keys are read from the live dataclasses (slower, same answers). Regenerate after
an upgrade (a test fails until you do):

    python -m recipes.schema_snapshot
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import sys
import types
import typing
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, Literal

SNAPSHOT = Path(__file__).with_name("lf_schema.json")
#: The packages whose dataclasses define the keys (LLaMA-Factory's TrainingArguments extends transformers').
PACKAGES = ("llamafactory", "transformers")

_PLAIN: dict[Any, str] = {bool: "bool", int: "int", float: "float", str: "str", dict: "dict", list: "list",
                          type(None): "null", Any: "any"}
_FROM_NAME: dict[str, Any] = {v: k for k, v in _PLAIN.items()}


def type_to_data(hint: Any) -> Any:
    """A type annotation as JSON: "int", {"literal": [...]}, {"union": [...]}, {"list": ...}; "any" otherwise."""
    if hint in _PLAIN:
        return _PLAIN[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):  # validated by value, like the Literal of its values
        return {"literal": [m.value for m in hint]}
    if origin is Literal:
        return {"literal": list(args)}
    if origin is list:
        return {"list": type_to_data(args[0])} if args else "list"
    if origin is dict:
        return "dict"
    if args and origin in (typing.Union, types.UnionType):
        return {"union": [type_to_data(a) for a in args]}
    return "any"  # a class of LLaMA-Factory's or transformers' own: left to their parser


def type_from_data(data: Any) -> Any:
    """The inverse of type_to_data: a typing annotation pydantic can validate against."""
    if isinstance(data, str):
        return _FROM_NAME[data]
    if "literal" in data:
        return Literal[tuple(data["literal"])]
    if "list" in data:
        return list[type_from_data(data["list"])]  # type: ignore[misc]
    members = tuple(type_from_data(d) for d in data["union"])
    return typing.Union[members]  # noqa: UP007 (built from data)


def installed_versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in PACKAGES}


def live_fields() -> dict[str, tuple[Any, Any]]:
    """name -> (type annotation, default) from the dataclasses LLaMA-Factory's training parser uses (slow)."""
    from llamafactory.hparams.parser import _TRAIN_ARGS

    fields: dict[str, tuple[Any, Any]] = {}
    for dtype in _TRAIN_ARGS:
        hints = typing.get_type_hints(dtype)
        for f in dataclasses.fields(dtype):
            if f.init:
                default = f.default if f.default is not dataclasses.MISSING else None
                fields.setdefault(f.name, (hints.get(f.name, Any), default))
    return fields


def _json_default(default: Any) -> Any:
    if isinstance(default, Enum):
        default = default.value
    return default if isinstance(default, str | int | float | bool | type(None)) else None


def live_templates() -> list[str]:
    """LLaMA-Factory's own template names (the project's qwen3_think is not among them until registered)."""
    from llamafactory.data.template import TEMPLATES

    from recipes.template import NAME  # registered by this project in-process: not LLaMA-Factory's

    return sorted(t for t in TEMPLATES if t != NAME)


def build() -> dict[str, Any]:
    fields = live_fields()  # before the templates: importing the parser registers them
    return {"versions": installed_versions(), "templates": live_templates(),
            "fields": {name: {"type": type_to_data(hint), "default": _json_default(default)}
                       for name, (hint, default) in fields.items()}}


@cache
def _read() -> dict[str, Any] | None:
    try:
        data = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
        return data if data["versions"] == installed_versions() else None
    except (OSError, ValueError, KeyError, importlib.metadata.PackageNotFoundError):
        return None


def load() -> dict[str, tuple[Any, Any]] | None:
    """name -> (annotation, default) from the snapshot, or None when it was made from other versions."""
    data = _read()
    if data is None:
        return None
    return {name: (type_from_data(f["type"]), f["default"]) for name, f in data["fields"].items()}


def load_templates() -> list[str] | None:
    """LLaMA-Factory's template names from the snapshot, or None when it was made from other versions."""
    data = _read()
    return None if data is None else list(data["templates"])


def dumps(data: dict[str, Any]) -> str:
    """One key per line: a LLaMA-Factory upgrade shows as a readable diff."""
    rows = [f"  {json.dumps(name)}: {json.dumps(f, sort_keys=True)}" for name, f in sorted(data["fields"].items())]
    head = (f'{{\n "versions": {json.dumps(data["versions"], sort_keys=True)},\n'
            f' "templates": {json.dumps(data["templates"])},\n "fields": {{\n')
    return head + ",\n".join(rows) + "\n }\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recipes.schema_snapshot",
                                     description=f"rewrite {SNAPSHOT.name} from the installed LLaMA-Factory")
    parser.parse_args(argv)
    data = build()
    SNAPSHOT.write_text(dumps(data), encoding="utf-8")
    print(f"wrote {SNAPSHOT} ({len(data['fields'])} keys, {data['versions']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
