"""YAML in and out for recipes: numbers as a person means them, duplicate keys refused, line numbers kept.

PyYAML reads `5e-5` as a string (YAML 1.1 wants `5.0e-5`); a learning rate that is secretly a
string fails deep inside the optimizer, so the loader here reads it as a float, as
LLaMA-Factory's own OmegaConf loader does. A key written twice in one mapping silently keeps
the last value in PyYAML; here it is an error naming both lines. Booleans are YAML 1.2's (`true`,
`false`): `save_strategy: no` is the string "no", not False.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from recipes.errors import RecipeFormatError

_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)


class _Loader(yaml.SafeLoader):
    """SafeLoader with `1e-5` floats and duplicate-key errors."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (lines {seen[key]} and {line}); keep one",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
# SafeLoader's own float and bool (yes/no/on/off) resolvers would win for these characters: drop them.
for _ch, _resolvers in list(_Loader.yaml_implicit_resolvers.items()):
    _Loader.yaml_implicit_resolvers[_ch] = [
        r for r in _resolvers
        if not (r[0] == "tag:yaml.org,2002:float" and r[1] is not _FLOAT)
        and not (r[0] == "tag:yaml.org,2002:bool" and r[1] is not _BOOL)
    ]


def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    """Record the line of every mapping key, by key path (list items by index)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, key_node.value)
            out[key_path] = key_node.start_mark.line + 1
            _lines(value_node, key_path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _lines(item, (*path, i), out)


def load_text(text: str, source: str = "<string>") -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML text; returns the data and the line of every key path."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err)
        if isinstance(err, yaml.constructor.ConstructorError):
            raise RecipeFormatError(f"{where}: {problem}") from None
        raise RecipeFormatError(f"{where}: invalid YAML: {problem}; fix the syntax at that line") from None
    finally:
        loader.dispose()
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, lines


def load_file(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RecipeFormatError(f"{path}: cannot read: {err.strerror}") from None
    return load_text(text, str(path))


def parse_scalar(text: str) -> Any:
    """A command-line value as YAML reads it: `5e-5` → float, `true` → bool, `[a, b]` → list, else str."""
    if text == "":
        return ""
    data, _ = load_text(text, "<override>")
    return data


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


