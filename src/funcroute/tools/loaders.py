"""Tools from files: tool files (YAML/JSON) read safely, checked against their schema, handlers bound.

Every loader collects all problems and raises one :class:`ToolSpecError`; nothing from ``yaml``,
``json`` or ``jsonschema`` escapes. Tools validate with :class:`JsonSchemaValidator`. Tool files are
described in ``schemas/toolset.schema.json``: an Airoboros parameter is a description string, a JSON
Schema fragment (a JSON ``type``, ``enum``, ``const``, ``anyOf``/``oneOf``/``allOf``, or annotations
only) or a mapping of nested parameters; it is required unless it has a ``default`` or
``required: false``. Handlers (``package.module:function``) are imported only when asked for.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from funcroute.errors import ToolSpecError
from funcroute.parsing import load_yaml
from funcroute.tools.specs import _finish, _message, _where, spec_tool
from funcroute.tools.tool import Tool

__all__ = ["tools_from_file"]

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 48


def tools_from_file(path: Path, *, bind_handlers: bool, unbound: list[str] | None = None) -> list[Tool]:
    """Load the tools of a YAML/JSON tool file (``.json`` is read as JSON, anything else as YAML).

    Handler modules are looked up next to the tool file first, then on ``sys.path``: a file
    ``tools.yaml`` saying ``handler: handlers:turn_on`` finds ``handlers.py`` beside it.

    Args:
        path: the tool file.
        bind_handlers: import each ``handler: package.module:function`` (the file is trusted like code).
        unbound: when given, a handler that cannot be imported is not an error: its problem is
            appended here and the tool loads without a handler (for commands that never dispatch).

    Raises:
        ToolSpecError: listing every problem, with line numbers for syntax errors.
    """
    source = str(path)
    data = _read(path)
    problems = _tree_problems(data)
    if problems:
        return _finish(source, [], problems)
    wrapped = isinstance(data, Mapping) and isinstance(data.get("tools"), list)
    depth = 2 if wrapped else 1  # path length naming one entry: ["tools", 3], [3] or [name]
    broken: set[str] = set()  # entries with structural problems are listed, not built
    for error in sorted(_file_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        at = list(error.absolute_path)
        if "propertyNames" in error.absolute_schema_path:
            at.append(str(error.instance))  # a bad tool name: point at the name itself
        problems.append(f"{_entry_where(data, at)}: {_message(error)}")
        broken.add(_where(at[:depth]) if len(at) >= depth else "")
    if "" in broken:
        return _finish(source, [], problems)
    labels: dict[str, str] = {}
    if isinstance(data, Mapping) and not wrapped:
        entries = [(str(name), {"name": name, **spec}) for name, spec in data.items() if name not in broken]
    else:
        items = enumerate(data["tools"] if wrapped else data)
        entries = [(_where(["tools", i] if wrapped else [i]), e) for i, e in items]
        # A list entry's problems name its tool too ("tools[3] ('wipe_disk').timeout"), as keys do.
        labels = {where: _named(where, entry) for where, entry in entries}
    mode = "file" if isinstance(data, list) or wrapped else "airoboros"
    tools: list[Tool] = []
    for key, entry in entries:
        where = labels.get(key, key)
        tool = None if key in broken else spec_tool(entry, where, f"{source}#", problems, mode)
        if tool is not None:
            tool = _policy(tool, entry, where, problems)
        if tool is not None and bind_handlers and "handler" in entry:
            failed: list[str] = []
            bound = _bind(tool, entry["handler"], where, failed, path.resolve().parent)
            if failed and unbound is not None:
                unbound += failed  # the tool stays, without a handler
            else:
                problems += failed
                tool = bound
        tools += [tool] if tool is not None else []
    return _finish(source, tools, problems)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        repeated = sorted({k for k, _ in pairs if sum(1 for kk, _ in pairs if kk == k) > 1})
        raise ValueError(f"duplicate keys {repeated}: a tool file must name each tool and parameter once")
    return found


def _read(path: Path) -> Any:
    source, is_json = str(path), path.suffix.lower() == ".json"
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ToolSpecError(source, [f"the file is larger than the {MAX_FILE_BYTES}-byte limit"])
        text = raw.decode("utf-8-sig")
        if not text.strip():
            raise ToolSpecError(source, ["the file is empty; expected a YAML or JSON mapping of tools"])
        return (
            json.loads(text, object_pairs_hook=_unique_pairs)
            if is_json
            else load_yaml(text, unique_keys=True)
        )
    except OSError as exc:
        problem = f"cannot read the file: {exc.strerror or exc}"
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = f"line {line}: not valid UTF-8 text (byte {exc.start})"
    except json.JSONDecodeError as exc:
        problem = f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
    except yaml.reader.ReaderError as exc:  # a control character: no mark, but a position
        problem = f"line {text.count(chr(10), 0, exc.position) + 1}: invalid YAML: {str(exc).splitlines()[0]}"
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = f"{at}invalid YAML: {' '.join(p for p in (exc.context, exc.problem) if p)}"
    except (yaml.YAMLError, ValueError) as exc:
        problem = f"invalid {'JSON' if is_json else 'YAML'}: {exc}"
    except RecursionError:
        problem = f"the document is nested deeper than {MAX_DEPTH} levels"
    raise ToolSpecError(source, [problem])


def _tree_problems(data: Any) -> list[str]:  # depth, key and value types (YAML sets, bytes, NaN...)
    problems: list[str] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= MAX_DEPTH:
            return [f"{_entry_where(data, path)}: nested deeper than {MAX_DEPTH} levels"]
        if isinstance(node, dict):
            problems += [
                f"{_entry_where(data, path)}: key {k!r} is not a string"
                for k in node
                if not isinstance(k, str)
            ]
            stack += [(value, (*path, str(key))) for key, value in node.items()]
        elif isinstance(node, list):
            stack += [(value, (*path, index)) for index, value in enumerate(node)]
        elif isinstance(node, float) and not math.isfinite(node):
            problems.append(f"{_entry_where(data, path)}: {node} is not a finite number")
        elif node is not None and not isinstance(node, (str, int, float)):
            problems.append(
                f"{_entry_where(data, path)}: a value of type {type(node).__name__} is not JSON data"
            )
    return problems


@cache
def _file_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((resources.files("funcroute") / "schemas" / "toolset.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _named(where: str, entry: Any) -> str:
    """``where`` of a list entry, with the entry's tool name when it has a usable one."""
    spec = entry.get("function", entry) if isinstance(entry, Mapping) else None
    name = spec.get("name") if isinstance(spec, Mapping) else None
    return f"{where} ({name!r:.80})" if isinstance(name, str) and name else where


def _entry_where(data: Any, at: Iterable[Any]) -> str:
    """:func:`_where` of a path in a tool file, naming a list entry's tool (see :func:`_named`)."""
    at = list(at)
    wrapped = isinstance(data, Mapping) and isinstance(data.get("tools"), list)
    items, depth = (data["tools"], 2) if wrapped else (data, 1)
    if not isinstance(items, list) or len(at) < depth or not isinstance(at[depth - 1], int):
        return _where(at)
    head = _named(_where(at[:depth]), items[at[depth - 1]])
    return head + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in at[depth:])


def _policy(tool: Tool, entry: Any, where: str, problems: list[str]) -> Tool | None:
    """``confirm`` and ``timeout`` of a tool entry, as ``@tools.tool(confirm=, timeout=)`` takes them."""
    if not isinstance(entry, Mapping):
        return tool
    confirm, timeout = entry.get("confirm", False), entry.get("timeout")
    if not isinstance(confirm, bool):
        problems.append(f"{where}.confirm: must be true or false, got {confirm!r:.40}")
        return None
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf
    ):
        problems.append(f"{where}.timeout: must be a positive number of seconds, got {timeout!r:.40}")
        return None
    if not confirm and timeout is None:
        return tool
    return tool.replace(confirm=confirm, timeout=None if timeout is None else float(timeout))


def _bind(tool: Tool, spec: str, where: str, problems: list[str], folder: Path | None = None) -> Tool | None:
    module_name, _, attribute = spec.partition(":")
    added = folder is not None and str(folder) not in sys.path
    if added:
        sys.path.insert(0, str(folder))  # the handlers module beside the tool file, as documented
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
        if not callable(target):
            raise TypeError(f"{attribute!r} is a {type(target).__name__}, not a function")
    except Exception as exc:  # missing module or attribute, or the module's own code failed
        problems.append(f"{where}.handler: cannot bind {spec!r}: {type(exc).__name__}: {exc}")
        return None
    finally:
        if added:
            sys.path.remove(str(folder))
    return tool.replace(handler=target)
