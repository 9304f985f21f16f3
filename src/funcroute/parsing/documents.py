"""Reply text → documents: fences, JSON, YAML, repair, each under the limits.

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

import re
from collections.abc import Iterator
from typing import Any

import json_repair
import yaml

from funcroute.errors import OutputParseError
from funcroute.parsing.checks import _DECODER, _check, _decode_checked, _loads_json, _Unusable
from funcroute.parsing.limits import DEFAULT_LIMITS, ParseLimits
from funcroute.parsing.safe_yaml import YAML_CALL_START, load_yaml

__all__ = ["iter_documents", "whole_json", "whole_yaml"]


# A block ends at a fence line (up to 3 spaces of indent, as in Markdown) or at ``` closing a line of
# content ("...}```"): not at ``` inside a JSON string or an indented code sample in a YAML value.
_FENCE = re.compile(
    r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^ {0,3}```|(?<=\S)```[ \t]*$|\Z)", re.DOTALL | re.MULTILINE
)
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
    match = YAML_CALL_START.search(text)
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
        return _decode_checked(stripped, limits.max_depth)
    except (ValueError, RecursionError, _Unusable):
        return None


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
    text: str, limits: ParseLimits = DEFAULT_LIMITS, *, skip_whole: bool = False
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
