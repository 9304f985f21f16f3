"""Tools from specs: one tool entry (Airoboros, OpenAI or bare), OpenAI tool lists and BFCL docs.

Shared by the tool-file loader (:mod:`funcroute.tools.loaders`) and by :meth:`ToolSet.from_openai`
/ :meth:`ToolSet.from_bfcl`. Every problem is collected with where it is (``tools[2].params.city``),
and the caller raises them together as one :class:`~funcroute.errors.ToolSpecError`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import jsonschema

from funcroute._schema import inline_refs
from funcroute.errors import ToolSpecError
from funcroute.tools.tool import NAME, Tool
from funcroute.tools.validators import JsonSchemaValidator

__all__ = ["bfcl_schema", "spec_tool", "tool_to_openai", "tools_from_bfcl", "tools_from_openai"]

_JSON_TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")
_ALIASES = {"dict": "object", "float": "number", "double": "number", "tuple": "array", "list": "array"}
_ALIASES |= {"int": "integer", "str": "string", "bool": "boolean", "none": "null", "any": ""}
_ANNOTATIONS = frozenset({"description", "default", "required", "optional", "title", "examples"})
_BFCL_KEEP = frozenset(
    "title format pattern minimum maximum exclusiveMinimum exclusiveMaximum multipleOf minLength "
    "maxLength minItems maxItems uniqueItems default examples const".split()
)
_BFCL_READ = frozenset({"type", "description", "properties", "required", "items", "enum", "optional"})


def _message(error: jsonschema.ValidationError | jsonschema.SchemaError) -> str:
    if error.context:
        error = jsonschema.exceptions.best_match(error.context) or error
    message = error.message
    if error.validator == "pattern" and isinstance(error.schema, Mapping) and "description" in error.schema:
        message = f"{error.instance!r:.80} does not match the expected form: {error.schema['description']}"
    return message if len(message) <= 200 else message[:197] + "..."


def _where(path: Iterable[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top level)"


def _finish(source: str, tools: list[Tool], problems: list[str]) -> list[Tool]:
    names = [t.name for t in tools]
    problems += [f"{n}: more than one tool has this name" for n in dict.fromkeys(names) if names.count(n) > 1]
    if len(problems) > 50:
        problems = [*problems[:50], f"... and {len(problems) - 50} more problems"]
    if problems:
        raise ToolSpecError(source, problems)
    return tools


def spec_tool(spec: Any, where: str, source: str, problems: list[str], mode: str) -> Tool | None:
    """One spec (mode ``airoboros``, ``file`` (sniffed), ``openai`` or ``bfcl``) as a Tool, or None.

    Problems go to ``problems``, each prefixed with ``where``; ``None`` when the spec is unusable.
    """
    if mode != "bfcl" and isinstance(spec, Mapping) and isinstance(spec.get("function"), Mapping):
        spec = spec["function"]  # {"type": "function", "function": {...}}
    if not isinstance(spec, Mapping) or ("params" in spec and "parameters" in spec):
        what = "give 'params' or 'parameters', not both" if isinstance(spec, Mapping) else "not a mapping"
        problems.append(f"{where}: {what}")
        return None
    params, name = spec.get("params", spec.get("parameters")), spec.get("name")
    kind = params.get("type") if isinstance(params, Mapping) else None
    whole = kind == "object" and "properties" in params  # a whole JSON Schema, even under "params"
    schema: dict[str, Any] | None
    if mode == "bfcl" or (mode in ("airoboros", "file") and kind == "dict"):
        if params is not None and not (isinstance(params, Mapping) and kind in ("dict", "object", None)):
            problems.append(f"{where}.parameters: must be a 'dict' schema, got {params!r:.80}")
            return None
        notes: list[str] = []
        schema = {"type": "object", "properties": {}, **bfcl_schema(params or {}, "parameters", notes)}
        for note in notes:
            logging.getLogger("funcroute").debug("BFCL %s %s: %s", where, name, note)
    elif (mode == "airoboros" or (mode == "file" and "params" in spec)) and not whole:
        schema = _airoboros_object(params or {}, f"{where}.params", problems)
    else:
        schema = _openai_parameters(params, where, problems)
    if not isinstance(name, str) or not NAME.match(name):
        problems.append(f"{where}: tool name {name!r} is not a valid name (letters, digits, _ . -)")
        return None
    try:
        validator = _validator(json.dumps(schema, sort_keys=True)) if schema is not None else None
    except jsonschema.SchemaError as exc:
        problems.append(f"{where}: invalid JSON Schema at {_where(exc.absolute_path)}: {_message(exc)}")
        return None
    description = " ".join(str(spec.get("description") or "").split())
    return Tool(name, description, schema, None, validator, f"{source}{name}") if schema else None


# Validators are immutable: tools with equal schemas share one (BFCL repeats docs a lot).
_validator = lru_cache(maxsize=4096)(lambda text: JsonSchemaValidator(json.loads(text)))


def _airoboros_object(params: Any, where: str, problems: list[str], nested: bool = False) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        problems.append(f"{where}: parameters must be a mapping, got {type(params).__name__}")
        return {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, value in params.items():
        if name in ("required", "optional") and isinstance(value, bool) and nested:
            continue  # the nested object's own requiredness, read by its parent
        if isinstance(value, str):
            properties[name], needed = {"type": "string", "description": value}, True
        elif isinstance(value, Mapping) and _is_fragment(value):
            properties[name], needed = _fragment(value, f"{where}.{name}", problems)
        elif isinstance(value, Mapping) and value:
            properties[name] = _airoboros_object(value, f"{where}.{name}", problems, nested=True)
            needed = value.get("required") is not False and value.get("optional") is not True
        else:
            problems.append(f"{where}.{name}: a parameter is a description or a mapping, got {value!r:.60}")
            continue
        required += [name] if needed else []
    return {"type": "object", "properties": properties, **({"required": required} if required else {})}


def _is_fragment(value: Mapping[str, Any]) -> bool:
    kinds = value.get("type") if isinstance(value.get("type"), list) else [value.get("type")]
    if kinds and all(isinstance(k, str) and re.fullmatch(r"\w+", k) for k in kinds):
        return True  # (an unknown one-word type is reported, not read as a nested parameter)
    if any(k in value for k in ("enum", "const", "anyOf", "oneOf", "allOf", "$ref")):
        return True
    return set(value) <= _ANNOTATIONS and isinstance(value.get("description"), str)


def _fragment(value: Mapping[str, Any], where: str, problems: list[str]) -> tuple[dict[str, Any], bool]:
    fragment = dict(value)
    required = fragment.pop("required", None)
    optional = fragment.pop("optional", None)
    if isinstance(required, list):
        fragment["required"] = required
    elif required is not None and not isinstance(required, bool):
        problems.append(f"{where}.required: must be true/false (or an object's list), got {required!r:.40}")
    if optional is not None and not isinstance(optional, bool):
        problems.append(f"{where}.optional: must be true or false, got {optional!r:.40}")
    elif isinstance(optional, bool):
        if isinstance(required, bool) and required == optional:
            problems.append(f"{where}: 'required: {str(required).lower()}' contradicts 'optional'")
        required = not optional if not isinstance(required, bool) else required
    if '"$ref"' in json.dumps(fragment):
        problems.append(f"{where}: $ref is not supported in tool files; write the schema inline")
    if "type" in fragment:
        kinds = [_ALIASES.get(str(k).lower(), str(k).lower()) for k in _listed(fragment.pop("type"))]
        unknown = [k for k in kinds if k not in _JSON_TYPES and k]
        if unknown:
            problems.append(f"{where}.type: unknown type {unknown[0]!r}; use one of {', '.join(_JSON_TYPES)}")
        kinds = [k for k in kinds if k in _JSON_TYPES]
        fragment = {"type": kinds[0] if len(kinds) == 1 else kinds, **fragment} if kinds else fragment
    _check_default(fragment, where, problems)
    return fragment, required if isinstance(required, bool) else "default" not in fragment


def _check_default(fragment: dict[str, Any], where: str, problems: list[str]) -> None:
    """A default must fit its own parameter (``null`` aside: Python's ``x: str = None``)."""
    if fragment.get("default") is None:
        return
    rules = {k: v for k, v in fragment.items() if k != "default"}
    try:
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(rules).iter_errors(fragment["default"])
        )
    except (jsonschema.SchemaError, TypeError, ValueError, RecursionError):
        return  # the schema itself is reported when the tool's validator is built
    if error is not None:
        problems.append(
            f"{where}.default: {fragment['default']!r:.60} does not fit the parameter: {_message(error)}"
        )


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def tools_from_openai(specs: Iterable[Mapping[str, Any]]) -> list[Tool]:
    """Tools from OpenAI specs (``{"type": "function", "function": {...}}`` or the bare function)."""
    problems: list[str] = []
    tools = [spec_tool(spec, f"[{i}]", "openai:", problems, "openai") for i, spec in enumerate(specs)]
    return _finish("(OpenAI tools)", [t for t in tools if t is not None], problems)


def tools_from_bfcl(function_docs: Iterable[Mapping[str, Any]]) -> list[Tool]:
    """Tools from BFCL function docs, normalised by :func:`bfcl_schema` (notes logged at DEBUG)."""
    problems: list[str] = []
    tools = [spec_tool(doc, f"[{i}]", "bfcl:", problems, "bfcl") for i, doc in enumerate(function_docs)]
    return _finish("(BFCL function docs)", [t for t in tools if t is not None], problems)


def _openai_parameters(params: Any, where: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        empty = {"type": "object", "properties": {}}
        schema: Any = json.loads(json.dumps(empty if params is None else params, allow_nan=False))
        if isinstance(schema, dict) and ("$defs" in schema or '"$ref"' in json.dumps(schema)):
            schema = inline_refs(schema)
    except (TypeError, ValueError, RecursionError) as exc:
        problems.append(f"{where}.parameters: {exc}")
        return None
    if not isinstance(schema, dict) or schema.setdefault("type", "object") != "object":
        problems.append(f"{where}.parameters: must be an object schema, got {params!r:.60}")
        return None
    return schema


def tool_to_openai(tool: Tool) -> dict[str, Any]:
    """``{"type": "function", "function": {name, description, parameters}}`` for ``tool``."""
    parameters = {"type": "object", **json.loads(json.dumps(tool.schema))}
    function = {"name": tool.name, "description": tool.description, "parameters": parameters}
    return {"type": "function", "function": function}


def bfcl_schema(node: Any, where: str, notes: list[str]) -> dict[str, Any]:
    """Normalise one BFCL schema node (recursively) into JSON Schema 2020-12.

    ``dict``/``float``/``tuple``/``any`` become ``object``/``number``/``array``/no constraint; type
    names are case-folded, unknown ones dropped. Enum values are coerced to the declared type where
    they spell it (``"True"`` → ``true``, ``"3"`` → ``3``) and the type widened for the rest
    (``"dontcare"`` on a boolean); an enum on an array constrains its items. ``required`` names that
    are not properties are dropped, as are names flagged ``optional``. Defaults stay annotations that
    never fail validation; a ``null`` default admits ``null`` (Python's ``x: str = None``).
    Non-standard keys are dropped. Every change is described in ``notes``.
    """
    if not isinstance(node, Mapping):
        notes.append(f"{where}: schema {node!r:.40} is not a mapping; no constraint")
        return {}
    out = {"description": node["description"]} if isinstance(node.get("description"), str) else {}
    kinds = _bfcl_types(node.get("type"), where, notes)
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        kinds = kinds or ["object"]
        out["properties"] = {str(k): bfcl_schema(v, f"{where}.{k}", notes) for k, v in properties.items()}
    required = [r for r in _listed(node.get("required") or []) if isinstance(r, str)]
    if required:
        optional = {n for n in _listed(node.get("optional") or []) if isinstance(n, str)}
        for name, sub in (properties or {}).items():
            flag = sub.get("optional") if isinstance(sub, Mapping) else None
            optional |= {name} if flag is True or str(flag).strip().lower() in ("true", "yes", "1") else set()
        kept = [r for r in dict.fromkeys(required) if r in out.get("properties", {}) and r not in optional]
        if len(kept) < len(required):
            notes.append(f"{where}: dropped from required: {sorted(set(required) - set(kept))}")
        out |= {"required": kept} if kept else {}
    if isinstance(node.get("items"), Mapping):
        out["items"] = bfcl_schema(node["items"], f"{where}[]", notes)
    enum = node.get("enum")
    if isinstance(enum, list) and enum and kinds == ["array"] and "enum" not in out.get("items", {}):
        notes.append(f"{where}: enum on an array moved to its items")
        inner = out.setdefault("items", {})
        inner["enum"], inner_kinds = _enum(enum, _listed(inner.get("type", [])), where, notes)
        inner |= {"type": inner_kinds[0] if len(inner_kinds) == 1 else inner_kinds} if inner_kinds else {}
    elif isinstance(enum, list) and enum:
        out["enum"], kinds = _enum(enum, kinds, where, notes)
    out |= {k: v for k, v in node.items() if k in _BFCL_KEEP}
    if "default" in node and node["default"] is None and kinds and "null" not in kinds:
        kinds = [*kinds, "null"]  # Python's `x: str = None`: None is a valid value
        out |= {"enum": [*out["enum"], None]} if "enum" in out else {}
    dropped = sorted(map(str, set(node) - _BFCL_READ - _BFCL_KEEP))
    notes += [f"{where}: dropped non-standard keys {dropped}"] if dropped else []
    return {"type": kinds[0] if len(kinds) == 1 else kinds, **out} if kinds else out


def _bfcl_types(value: Any, where: str, notes: list[str]) -> list[str]:
    kinds: list[str] = []
    for raw in _listed(value) if value is not None else []:
        kind = _ALIASES.get(str(raw).lower(), str(raw).lower())
        if kind not in _JSON_TYPES:  # "any" (aliased to "") or unknown: no constraint at all
            notes += [f"{where}: unknown type {raw!r}; no type constraint"] if kind else []
            return []
        kinds += [kind] if kind not in kinds else []
    return kinds


def _enum(values: list[Any], kinds: list[str], where: str, notes: list[str]) -> tuple[list[Any], list[str]]:
    # Coerce enum values to the declared types where they spell them; widen the type for the rest.
    out: dict[str, Any] = {}
    for value in values:
        coerced = value
        if isinstance(value, str) and kinds and "string" not in kinds:
            with contextlib.suppress(ValueError, RecursionError):
                text = value.lower() if value.strip().lower() in ("true", "false") else value
                parsed = json.loads(text, parse_constant=str)  # NaN and Infinity stay strings
                coerced = parsed if _json_type(parsed, kinds) in kinds else value
        out.setdefault(f"{_json_type(coerced)}:{json.dumps(coerced)}", coerced)
    for value in out.values():
        if kinds and _json_type(value, kinds) not in kinds:
            notes.append(f"{where}: type widened to {_json_type(value)} for enum value {value!r}")
            kinds = [*kinds, _json_type(value)]
    return list(out.values()), kinds


def _json_type(value: Any, kinds: Iterable[str] = ()) -> str:
    # The JSON type of ``value``; an integer counts as ``number`` where ``kinds`` has no ``integer``.
    names = {"bool": "boolean", "int": "integer", "float": "number", "list": "array", "dict": "object"}
    kind = names.get(type(value).__name__, "null" if value is None else "string")
    return "number" if kind == "integer" and "number" in kinds and "integer" not in kinds else kind
