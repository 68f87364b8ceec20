"""Tool schemas and the tool-call validity check (shared by converters.tool_traces and eval).

A tool call, as the model must write it (docs/workloads.md), is one JSON object:

    {"type":"tool_call","name":"read_file","args":{"rel_path":"a.py","max_chars":4000}}

``canonical_call`` writes it compact (no spaces) with a stable key order: ``type``, ``name``,
``args``; inside ``args`` the tool's declared argument order, then any extra keys sorted. Stable
text means one call has one target string, so the model never sees two spellings of one call.

``validate_call(text_or_dict, tools) -> (ok, reason)`` is the validity metric: the text parses, is
a tool call, names a known tool, has every required argument, each with the declared type, and no
undeclared argument (unless the tool allows extras). ``reason`` is "" when ok, else
"<code>: <detail>" with ``code`` one of ``REASON_CODES`` (``reason_code(reason)`` extracts it).
Model text may carry a leading ``<think>…</think>`` block and a ```json fence; both are stripped.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from converters.core.workload_errors import ToolSchemaError

DEFAULT_TOOLS_PATH = Path(__file__).resolve().parent / "tools" / "repo_agent.yaml"

REASON_CODES = (
    "malformed_json",  # not parseable JSON (or args given as a string that is not JSON)
    "not_object",  # JSON, but not an object
    "not_tool_call",  # an object whose type is not "tool_call" (e.g. a final answer)
    "unknown_tool",  # name missing or not in the schema
    "missing_arg",  # a required argument is absent
    "wrong_type",  # an argument has a type the schema does not allow
    "unexpected_arg",  # an argument the tool does not declare
)

JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")

_THINK_RE = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)
_FENCE_RE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.DOTALL)


class ArgSpec(BaseModel):
    """One argument: its JSON type(s), whether it is required, a description."""

    model_config = ConfigDict(extra="forbid")
    type: list[str]
    required: bool = True
    description: str = ""

    @field_validator("type", mode="before")
    @classmethod
    def _types(cls, value: Any) -> list[str]:
        types = [value] if isinstance(value, str) else list(value or [])
        bad = [t for t in types if t not in JSON_TYPES]
        if not types or bad:
            raise ValueError(f"type must be one or more of {', '.join(JSON_TYPES)}, got {value!r}")
        return types


class ToolSpec(BaseModel):
    """One tool the model may call."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    args: dict[str, ArgSpec] = Field(default_factory=dict)
    allow_extra_args: bool = False

    @property
    def required(self) -> list[str]:
        return [name for name, spec in self.args.items() if spec.required]


Tools = Mapping[str, ToolSpec]


def _from_openai(item: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI function spec -> our tool dict (JSON-schema `parameters` -> `args`)."""
    fn = item.get("function", item)
    params = fn.get("parameters") or {}
    required = set(params.get("required") or [])
    args = {
        arg: {"type": prop.get("type", "string"), "required": arg in required,
              "description": prop.get("description", "")}
        for arg, prop in (params.get("properties") or {}).items()
    }
    extra = params.get("additionalProperties", False) is not False
    return {"name": fn.get("name"), "description": fn.get("description", ""), "args": args,
            "allow_extra_args": extra}


def parse_tools(data: Any, *, where: str = "tools") -> dict[str, ToolSpec]:
    """Tools from parsed YAML/JSON: ``{tools: {name: spec}}``, ``{tools: [spec]}`` or an OpenAI list."""
    raw = data.get("tools") if isinstance(data, Mapping) else data
    if isinstance(raw, Mapping):
        items = [{"name": name, **(spec or {})} for name, spec in raw.items()]
    elif isinstance(raw, list):
        items = [_from_openai(it) if isinstance(it, Mapping) and ("function" in it or "parameters" in it)
                 else it for it in raw]
    else:
        raise ToolSchemaError("no `tools:` mapping or list found", where=where,
                              fix="see converters/tool_traces/tools/repo_agent.yaml for the format")
    tools: dict[str, ToolSpec] = {}
    for index, item in enumerate(items):
        try:
            spec = ToolSpec.model_validate(item)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise ToolSchemaError(f"tool #{index} key `{key}`: {first['msg']}", where=where,
                                  fix="see converters/tool_traces/tools/repo_agent.yaml for the format") from None
        if spec.name in tools:
            raise ToolSchemaError(f"tool `{spec.name}` is declared twice", where=where, fix="keep one")
        tools[spec.name] = spec
    if not tools:
        raise ToolSchemaError("declares no tools", where=where, fix="add at least one tool")
    return tools


def load_tools(path: str | Path | None = None) -> dict[str, ToolSpec]:
    """Read a tools YAML (or JSON) file; None reads the shipped repo-agent schema."""
    path = Path(path) if path is not None else DEFAULT_TOOLS_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ToolSchemaError(f"cannot read tools file: {err.strerror}", where=str(path),
                              fix="pass an existing file with --tools") from None
    except UnicodeDecodeError as err:
        raise ToolSchemaError(f"not valid UTF-8 at byte offset {err.start}", where=str(path),
                              fix="re-encode the file as UTF-8") from None
    except yaml.YAMLError as err:
        raise ToolSchemaError(f"not valid YAML: {' '.join(str(err).split())}", where=str(path),
                              fix="fix the syntax") from None
    return parse_tools(data, where=str(path))


def _type_ok(value: Any, types: list[str]) -> bool:
    for t in types:
        if t == "string" and isinstance(value, str):
            return True
        if t == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return math.isfinite(value)
        if t == "boolean" and isinstance(value, bool):
            return True
        if t == "array" and isinstance(value, list):
            return True
        if t == "object" and isinstance(value, dict):
            return True
        if t == "null" and value is None:
            return True
    return False


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def parse_call_text(text: str) -> tuple[Any, str]:
    """Model text -> (parsed JSON, "") or (None, reason). Strips a leading think block and a fence."""
    body = _THINK_RE.sub("", text, count=1).strip()
    fence = _FENCE_RE.match(body)
    if fence:
        body = fence.group(1).strip()
    try:
        return json.loads(body), ""
    except json.JSONDecodeError as err:
        return None, f"malformed_json: {err.msg} at char {err.pos}"


def check_args(name: str, args: Any, tools: Tools) -> str:
    """"" when ``args`` fit tool ``name``, else the first reason (sorted by argument order)."""
    if name not in tools:
        known = ", ".join(sorted(tools))
        return f"unknown_tool: {name!r} (known: {known})"
    if not isinstance(args, dict):
        return f"wrong_type: args must be an object, got {_json_type(args)}"
    spec = tools[name]
    for arg in spec.required:
        if arg not in args:
            return f"missing_arg: {name} needs `{arg}`"
    for arg, value in args.items():
        arg_spec = spec.args.get(arg)
        if arg_spec is None:
            if not spec.allow_extra_args:
                return f"unexpected_arg: {name} has no argument `{arg}`"
            continue
        if not _type_ok(value, arg_spec.type):
            want = "|".join(arg_spec.type)
            return f"wrong_type: {name}.{arg} must be {want}, got {_json_type(value)}"
    return ""


def validate_call(call: str | Mapping[str, Any], tools: Tools) -> tuple[bool, str]:
    """Is ``call`` (model text or a parsed object) a valid tool call? -> (ok, reason)."""
    obj: Any = call
    if isinstance(call, str):
        obj, reason = parse_call_text(call)
        if reason:
            return False, reason
    if not isinstance(obj, Mapping):
        return False, f"not_object: got {_json_type(obj)}"
    if obj.get("type") != "tool_call":
        return False, f"not_tool_call: type is {obj.get('type')!r}, expected 'tool_call'"
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return False, "unknown_tool: no `name`"
    if "args" not in obj:
        args: Any = {}
    else:
        args = obj["args"]
    reason = check_args(name, args, tools)
    return (not reason), reason


def reason_code(reason: str) -> str:
    """The code part of a ``validate_call`` reason ("" for ok)."""
    return reason.split(":", 1)[0].strip()


def canonical_call(name: str, args: Mapping[str, Any], tools: Tools) -> str:
    """Compact JSON of a call with stable key order (see the module docstring)."""
    declared = list(tools[name].args) if name in tools else []
    ordered = {k: args[k] for k in declared if k in args}
    ordered.update({k: args[k] for k in sorted(args) if k not in ordered})
    return json.dumps({"type": "tool_call", "name": name, "args": ordered},
                      ensure_ascii=False, separators=(",", ":"))
