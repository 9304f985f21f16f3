"""Reply text → candidate calls: fences, JSON, YAML, repair, and limits.

Models wrap their calls in prose, code fences and small mistakes. This module finds every
plausible call in a reply, cheapest reading first, and hands them out lazily so the usual case
(a clean JSON object) costs one ``json.loads``:

1. the whole reply as JSON (the fast path);
2. each fenced code block, as JSON, then YAML;
3. JSON objects embedded in prose (``raw_decode`` at each ``{``);
4. a YAML mapping starting at a ``function:`` / ``name:`` line;
5. repaired JSON (``json_repair``: single quotes, Python literals, trailing commas, missing braces).

Safety: replies over ``max_chars`` are refused before any parsing; YAML is read with a safe loader
that refuses aliases (no billion-laughs expansion), knows no Python tags and reads ``yes``/``no``/
dates as strings; nesting deeper than ``max_depth``, non-finite numbers and non-string keys are
refused. Nothing here can raise anything but :class:`OutputParseError`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import json_repair
import yaml

from funcroute.errors import OutputParseError

__all__ = [
    "ParseLimits",
    "RawCall",
    "closing_index",
    "end_of_first_call",
    "end_of_first_yaml_call",
    "iter_documents",
    "json_problem",
    "load_yaml",
    "raw_calls",
    "whole_json",
    "whole_yaml",
]


@dataclass(frozen=True)
class ParseLimits:
    """Bounds applied to every reply before and after parsing.

    Attributes:
        max_chars: longest reply accepted (characters of text; 64 KiB by default).
        max_depth: deepest nesting of lists/objects accepted.
        max_candidates: most candidate documents tried per reply (bounds time on hostile text).
    """

    max_chars: int = 65536
    max_depth: int = 32
    max_candidates: int = 16


# The defaults, for callers without a ToolSet. Readers take the limits (or their max_depth) as an
# argument everywhere: a class attribute read in a helper would ignore a ToolSet's own limits.
_DEFAULT_LIMITS = ParseLimits()


class RawCall(NamedTuple):
    """A call as the model wrote it, before validation."""

    name: str
    arguments: Any


class _Unusable(Exception):
    """A candidate that parsed but breaks a limit; skipped, and reported if nothing else works."""


# ---------------------------------------------------------------------------------------------- YAML


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader without aliases, YAML 1.1 booleans (``no`` → False) or timestamps."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", mark)
        return super().compose_node(parent, index)


_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SafeLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SafeLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


class _UniqueKeyLoader(_SafeLoader):
    """The safe loader, refusing a key repeated in one mapping (for tool files, where it loses a tool)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue  # unhashable keys are refused later, with a clearer message
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, *, unique_keys: bool = False) -> Any:
    """Parse YAML safely (see :class:`_SafeLoader`); raises ``yaml.YAMLError`` or RecursionError.

    Model replies keep the last of repeated keys, as JSON does; ``unique_keys=True`` refuses them.
    """
    return yaml.load(text, Loader=_UniqueKeyLoader if unique_keys else _SafeLoader)  # both are SafeLoaders


# ------------------------------------------------------------------------------------------ checking


_SCALARS = (int, bool, type(None))


def _text_ok(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates from JSON escapes)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(node: Any, max_depth: int, depth: int = 1, *, fix_keys: bool = True) -> None:
    """Refuse deep nesting, non-finite numbers, lone surrogates and non-JSON values.

    With ``fix_keys``, non-string keys (YAML ``200: ok``) become strings; otherwise they are refused.
    Recursive on purpose: recursion stops at ``max_depth``, and plain calls beat an explicit stack
    on the tiny trees of typical replies (this runs on every parse).
    """
    if isinstance(node, dict):
        if depth > max_depth:
            raise _Unusable(f"nesting deeper than {max_depth} levels")
        for key in node:
            if type(key) is not str:
                if not fix_keys:
                    raise _Unusable(f"a mapping key of type {type(key).__name__}")
                fixed = {_key(k): v for k, v in node.items()}
                node.clear()
                node.update(fixed)
                break
        for key in node:
            if not key.isascii() and not _text_ok(key):
                raise _Unusable("text with a lone surrogate (not valid Unicode)")
        children: Any = node.values()
    elif isinstance(node, list):
        if depth > max_depth:
            raise _Unusable(f"nesting deeper than {max_depth} levels")
        children = node
    elif isinstance(node, str):
        if not _text_ok(node):
            raise _Unusable("text with a lone surrogate (not valid Unicode)")
        return
    elif isinstance(node, float):
        if not math.isfinite(node):
            raise _Unusable("a non-finite number (NaN or Infinity)")
        return
    elif isinstance(node, _SCALARS):
        return
    else:
        raise _Unusable(f"a value of unsupported type {type(node).__name__}")
    for child in children:
        kind = type(child)
        if kind is str:
            if not child.isascii() and not _text_ok(child):
                raise _Unusable("text with a lone surrogate (not valid Unicode)")
        elif kind not in _SCALARS:
            _check(child, max_depth, depth + 1, fix_keys=fix_keys)


def json_problem(value: Any, max_depth: int) -> str | None:
    """Why ``value`` is not plain JSON data (for arguments given by hand), or ``None`` if it is."""
    try:
        _check(value, max_depth, fix_keys=False)
    except _Unusable as exc:
        return str(exc)
    except RecursionError:
        return f"nesting deeper than {max_depth} levels"
    return None


def _key(key: Any) -> str:
    if isinstance(key, (dict, list)):
        raise _Unusable("a mapping key that is itself a mapping or list")
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


# strict=False: models put raw newlines in strings. One decoder, built once: json.loads with options
# builds a new decoder per call, which costs more than parsing a typical reply.
_DECODER = json.JSONDecoder(strict=False)


def _loads_json(text: str) -> Any:
    return _DECODER.decode(text)


# ------------------------------------------------------------------------------------------ readers

# A block ends at a fence line (up to 3 spaces of indent, as in Markdown) or at ``` closing a line of
# content ("...}```"): not at ``` inside a JSON string or an indented code sample in a YAML value.
_FENCE = re.compile(
    r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^ {0,3}```|(?<=\S)```[ \t]*$|\Z)", re.DOTALL | re.MULTILINE
)
_YAML_START = re.compile(r"^[ \t]*(?:-[ \t]+)?[\"']?(?:function|name|tool)[\"']?[ \t]*:", re.MULTILINE)
_YAML_KEY_LINE = re.compile(r"^(?:-[ \t]+)?([\w\"'.-]+)[ \t]*:")
# Readings that are slow on deeply nested text (pure-Python YAML, json_repair) only run on text of
# bounded bracket nesting: a hostile reply cannot buy seconds of CPU. (Size is bounded before.)
_BRACKETS = re.compile(r"[\[\]{}]")
_QUOTE = re.compile("[\"']")
_LONG_REPAIR = 16384
_MAX_RAW_DECODES = 8
_YAML_TOKENS = re.compile(r"[:,\-\[\]{}?\n]")
_YAML_TOKEN_BUDGET = 6_000  # structure characters handed to PyYAML: about 0.3 s at worst
_REPAIR_BUDGET = 60_000  # characters x nesting levels handed to json_repair: about 0.5 s at worst


def _read_block(block: str, max_depth: int) -> Iterator[Any]:
    """Readings of one fenced block: JSON, then YAML."""
    stripped = block.strip(" \t\r\n")  # not str.strip(): a value may be a lone no-break space
    if not stripped:
        return
    if stripped[0] in "{[":
        try:
            yield _loads_json(stripped)
            return
        except ValueError:
            pass
    if not _slow_path_ok(stripped, max_depth):
        return
    try:
        doc = load_yaml(stripped)
    except (yaml.YAMLError, RecursionError, ValueError):
        return
    if isinstance(doc, (dict, list)):
        yield doc


def _embedded_json(text: str, max_depth: int) -> Iterator[Any]:
    """JSON objects embedded in prose, in order of appearance (``max_depth``: checked by the caller)."""
    pos = text.find("{")
    tries = 0
    while pos != -1 and tries < _MAX_RAW_DECODES:
        tries += 1
        try:
            doc, end = _DECODER.raw_decode(text, pos)
        except ValueError:
            pos = text.find("{", pos + 1)
            continue
        yield doc
        pos = text.find("{", end)


def _embedded_yaml(text: str, max_depth: int) -> Iterator[Any]:
    """A YAML mapping starting at a ``function:`` line and ending where prose resumes."""
    match = _YAML_START.search(text)
    if match is None:
        return
    start = text.rfind("\n", 0, match.start()) + 1
    kept: list[str] = []
    top_keys: set[str] = set()
    for line in text[start:].splitlines():
        if line.startswith("```"):
            break
        key = _YAML_KEY_LINE.match(line) if line and not line[0].isspace() else None
        if kept and line and not line[0].isspace() and key is None:
            break  # prose resumes
        if key is not None and not line.startswith("-"):
            if key.group(1) in top_keys:
                break  # a second invented example begins: the first one wins
            top_keys.add(key.group(1))
        kept.append(line)
    block = "\n".join(kept)
    if _slow_path_ok(block, max_depth):
        yield from _read_block(block, max_depth)


def _long_open_string(text: str) -> bool:
    """A long text with an unclosed quote: json_repair's time grows with the square of its length."""
    if len(text) <= _LONG_REPAIR:
        return False
    doubles = text.count('"') - text.count('\\"')
    singles = text.count("'") - text.count("\\'")
    return doubles % 2 == 1 or singles % 2 == 1


def _slow_path_ok(text: str, max_depth: int) -> bool:
    """Whether PyYAML may read ``text``: shallow, and with few structure characters.

    PyYAML's cost follows its tokens (25-55 us each), not the text's length: a 60 KB plain or
    block-scalar value costs it milliseconds, 30,000 commas in a flow list a second or more.
    """
    return _nesting(text) <= max_depth and len(_YAML_TOKENS.findall(text)) <= _YAML_TOKEN_BUDGET


def _nesting(text: str) -> int:
    """Deepest bracket nesting in ``text`` (brackets inside strings count too: an upper bound)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(text):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _repair_ok(text: str, max_depth: int) -> bool:
    """Whether json_repair may read ``text``: bounded by length x nesting, not by nesting alone.

    json_repair rescans the rest of the text once per level it fails at (3-8 us per character and
    level): ``{`` x 32 + ``"`` + 60 KB costs it 5 s, while a long but well-nested string value costs
    it almost nothing.
    """
    depth = _nesting(text)
    return depth <= max_depth and len(text) * max(depth, 1) <= _REPAIR_BUDGET


def _repaired(text: str, max_depth: int) -> Iterator[Any]:
    start = min((i for i in (text.find("{"), text.find("[")) if i != -1), default=-1)
    if start == -1:
        return
    body = text[start:]
    if not _repair_ok(body, max_depth) or not _QUOTE.search(body, 0, 256) or _long_open_string(body):
        return  # too deep, prose rather than JSON, or a huge unclosed string: slow to "repair"
    if "\\_" in body:  # escaped underscores (send\_message) are a markdown habit, not JSON
        try:
            yield _loads_json(body.replace("\\_", "_"))
            return
        except ValueError:
            body = body.replace("\\_", "_")
    try:
        doc = json_repair.loads(body, skip_json_loads=True)
    except Exception:  # a third-party repairer fed hostile text: any failure just means "no reading"
        return
    if isinstance(doc, (dict, list)) and doc:
        yield doc


def whole_json(text: str, limits: ParseLimits) -> Any:
    """The reply as one clean JSON object or list, or ``None``: the fast path, with every check.

    A reply that is exactly one fenced block of JSON (the model card's shape) counts as clean too.

    Callers fall back to :func:`iter_documents` (with ``skip_whole=True``) when this gives ``None``
    or its document does not validate.
    """
    if type(text) is not str or len(text) * 4 > limits.max_chars:
        return None  # long or odd replies take the careful path, which measures bytes exactly
    stripped = text.strip()
    if stripped[:3] == "```":
        stripped = _single_fence_body(stripped)
    if stripped[:1] not in ("{", "["):
        return None
    try:
        doc = _DECODER.decode(stripped)
        _check(doc, limits.max_depth)
    except (ValueError, RecursionError, _Unusable):
        return None
    return doc


def _single_fence_body(text: str) -> str:
    """The body of a reply that is exactly one fenced block (the model card's shape), else ``""``.

    Only the unambiguous case: an opening ```/```json line, a closing fence at the very end, and no
    other ``` in between; then the body is what :data:`_FENCE` would capture, found without the regex.
    """
    newline = text.find("\n")
    if newline < 0 or not text.endswith("```") or len(text) < newline + 4:
        return ""
    if text[3:newline].strip().lower() not in ("", "json"):
        return ""  # a fence of another language (or format): the careful path decides
    body = text[newline + 1 : -3]
    if "```" in body or not body.endswith("\n"):
        return ""
    return body.strip(" \t\r\n")


def whole_yaml(text: str, limits: ParseLimits) -> Any:
    """The reply as one YAML document (a list or mapping of calls), or ``None``; bounded and checked.

    For replies that are a bare YAML list of calls: a code fence quoted inside one of its values
    must not make the fenced reader see a block that starts mid-list.
    """
    if type(text) is not str or len(text) > limits.max_chars or not _slow_path_ok(text, limits.max_depth):
        return None
    try:
        doc = load_yaml(text)
        _check(doc, limits.max_depth)
    except (yaml.YAMLError, RecursionError, ValueError, _Unusable):
        return None
    return doc if isinstance(doc, (dict, list)) else None


def iter_documents(
    text: str, limits: ParseLimits = _DEFAULT_LIMITS, *, skip_whole: bool = False
) -> Iterator[Any]:
    """Yield every JSON/YAML document found in ``text``, cheapest and most likely first.

    Raises:
        OutputParseError: when the reply is over the size limit, or (lazily) when a document
            breaks a limit and no other candidate exists.
    """
    if not isinstance(text, str):
        raise OutputParseError(f"a reply must be text, got {type(text).__name__}", repr(text)[:200])
    if len(text) > limits.max_chars or (
        len(text) * 4 > limits.max_chars and len(text.encode("utf-8", "surrogatepass")) > limits.max_chars
    ):
        raise OutputParseError(f"reply is larger than the {limits.max_chars}-byte limit", text)
    seen = 0
    problem: str | None = None
    readers: tuple[Any, ...] = (_fenced, _embedded_json, _embedded_yaml, _repaired)
    if text.lstrip().startswith("["):
        # A list of calls that is not clean JSON: repair it whole before picking objects out of it.
        readers = (_fenced, _repaired, _embedded_json, _embedded_yaml)
    for reader in readers if skip_whole else (_whole, *readers):
        if reader is _repaired and problem is not None:
            break  # repairing text already refused (NaN, depth...) would only launder the problem
        try:
            for doc in reader(text, limits.max_depth):
                seen += 1
                if seen > limits.max_candidates:
                    return
                try:
                    _check(doc, limits.max_depth)
                except _Unusable as exc:
                    problem = problem or str(exc)
                    continue
                yield doc
        except RecursionError:
            problem = problem or f"nesting deeper than {limits.max_depth} levels"
    if problem is not None:
        raise OutputParseError(f"the reply's call is unusable: {problem}", text)


def _whole(text: str, max_depth: int) -> Iterator[Any]:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            yield _loads_json(stripped)
        except ValueError:
            return


def _fenced(text: str, max_depth: int) -> Iterator[Any]:
    if "```" not in text:
        return
    for match in _FENCE.finditer(text):
        yield from _read_block(match.group(2), max_depth)


# ---------------------------------------------------------------------------------------- call shape

_NAME_KEYS = ("function", "name", "tool", "function_name", "tool_name")
_ARG_KEYS = ("params", "parameters", "arguments", "args", "input", "inputs")


def raw_calls(doc: Any, limits: ParseLimits = _DEFAULT_LIMITS) -> list[RawCall]:
    """The calls a parsed document describes (a list gives each of its calls), in order.

    ``limits`` bounds arguments sent as a JSON string (OpenAI's shape), parsed here.
    """
    if type(doc) is dict:
        # Fast path: the canonical {"function": "name", "params": {...}} shape.
        name = doc.get("function")
        params = doc.get("params")
        if type(name) is str and type(params) is dict and name.isidentifier():
            return [RawCall(name, params)]
        found: list[RawCall] = []
        _calls_in(doc, 0, found, limits.max_depth)
        return found
    found = []
    if isinstance(doc, list):
        for item in doc[:64]:
            if isinstance(item, dict):
                _calls_in(item, 0, found, limits.max_depth)
    return found


def _calls_in(doc: dict[str, Any], depth: int, found: list[RawCall], max_depth: int) -> None:
    name: Any = None
    for key in _NAME_KEYS:
        if key in doc:
            name = doc[key]
            break
    if isinstance(name, dict) and depth < 4:
        # {"function": {"name": ..., "arguments": ...}} (OpenAI shape, or an extra wrapper).
        inner = dict(name)
        for key in _ARG_KEYS:
            if key in doc and not any(k in inner for k in _ARG_KEYS):
                inner[key] = doc[key]
        _calls_in(inner, depth + 1, found, max_depth)
        return
    if name is None and depth < 2:
        # A whole chat-completions response or message left in the reply text.
        choices = doc.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else doc.get("message")
        if isinstance(message, dict):
            _calls_in(message, depth + 1, found, max_depth)
            return
    if isinstance(doc.get("tool_calls"), list) and depth < 3:
        for item in doc["tool_calls"][:64]:
            if isinstance(item, dict):
                _calls_in(item, depth + 1, found, max_depth)
        return
    if not isinstance(name, str) or not name.strip():
        return
    arguments: Any = {}
    for key in _ARG_KEYS:
        if key in doc:
            arguments = doc[key]
            break
    if arguments is None:
        arguments = {}
    elif isinstance(arguments, str) and arguments.lstrip().startswith("{"):
        try:  # OpenAI sends arguments as a JSON string
            parsed = _loads_json(arguments)
            _check(parsed, max_depth)
        except (ValueError, RecursionError, _Unusable):
            pass  # left as a string, it fails validation with a clear "must be a mapping"
        else:
            arguments = parsed
    found.append(RawCall(_clean_name(name), arguments))


def _clean_name(name: str) -> str:
    name = name.strip().replace("\\_", "_")
    return name[:-2] if name.endswith("()") else name


# ------------------------------------------------------------------------------------------ stopping


def end_of_first_yaml_call(text: str) -> int | None:
    """Like :func:`end_of_first_call` for YAML replies: a closing fence, or a blank line after keys."""
    fence = text.find("```")
    if fence != -1:
        body_start = text.find("\n", fence)
        close = text.find("```", body_start) if body_start != -1 else -1
        return close + 3 if close != -1 else None
    match = _YAML_START.search(text)
    if match is None:
        return None
    blank = text.find("\n\n", match.end())
    return blank if blank != -1 else None


def end_of_first_call(text: str) -> int | None:
    """Index just past the first complete call in ``text`` generated so far, else ``None``.

    A JSON call ends at the brace that closes its first ``{``; a fenced block ends at its closing
    fence. Used as a stop detector so generation ends with the call, not at ``max_new_tokens``.
    """
    fence = text.find("```")
    brace = text.find("{")
    if fence != -1 and (brace == -1 or fence < brace):
        body_start = text.find("\n", fence)
        if body_start == -1:
            return None
        close = text.find("```", body_start)
        if close != -1:
            return close + 3
        if brace == -1:
            return None
    if brace == -1:
        return None
    return closing_index(text, brace, "{", "}")


def closing_index(text: str, start: int, opening: str = "{[", closing: str = "}]") -> int | None:
    """Index just past the bracket that closes ``text[start]``, or ``None`` while it is open.

    Brackets inside JSON strings (escapes honoured) do not count; ``opening`` and ``closing`` are
    the characters that nest (braces only for a call object, braces and brackets for any value).
    """
    depth = 0
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in opening:
            depth += 1
        elif char in closing:
            depth -= 1
            if depth == 0:
                return index + 1
    return None
