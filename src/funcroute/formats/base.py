"""The one interface every tool-call format implements, and the helpers readers share.

A format is a small object with a reader (reply text → raw calls, in order), a writer (calls →
the text that model family writes, for prompts, cassettes and round-trip tests) and a grammar
(the format's own delimiters around the call schema, for constrained decoding). Readers never
validate: :class:`~funcroute.tools.ToolSet` does that, call by call, so one bad call is reported
with its index instead of hiding the others.

Every reader obeys the same bounds as the Airoboros readers (:class:`~funcroute.parsing.ParseLimits`):
the size is checked before any reading, scans are linear (``str.find`` loops, no backtracking
regexes over the whole reply), at most :data:`MAX_CALLS` calls are read, and every value is checked
for depth, non-finite numbers and lone surrogates. Nothing raises but
:class:`~funcroute.errors.OutputParseError`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from funcroute._schema import json_type as type_name  # re-exported: the readers' name for it
from funcroute.errors import OutputParseError
from funcroute.formats.grammar import Node
from funcroute.parsing import ParseLimits, RawCall, iter_documents, json_problem, raw_calls, whole_json

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_CALLS",
    "ArgHints",
    "BlockFormat",
    "CallSpec",
    "ToolCallFormat",
    "ToolSpec",
    "blocks",
    "call_object_schema",
    "check_size",
    "checked_call",
    "coerce_text",
    "json_calls",
    "object_call",
    "param_schema",
    "params_schema",
    "type_name",
]

#: The limits readers apply when none are given.
DEFAULT_LIMITS = ParseLimits()
#: The most calls read from one reply; more are ignored (a reply is not a batch job).
MAX_CALLS = 64
#: The parameters schema of a tool by name (``None`` for an unknown tool): lets readers of untyped
#: formats (XML parameters) turn ``"3"`` into ``3`` only where the schema wants a number.
ArgHints = Callable[[str], "Mapping[str, Any] | None"]
#: A call to write: ``(function name, arguments)``.
CallSpec = tuple[str, Mapping[str, Any]]
#: A tool for a grammar: ``(name, JSON Schema of its arguments)``.
ToolSpec = tuple[str, Mapping[str, Any]]


class ToolCallFormat(ABC):
    """A way models write tool calls: a reader, a writer and a grammar.

    Attributes:
        name: registry name (``"hermes"``, ``"pythonic"``...).
        markers: substrings whose presence in a reply identifies the format (for sniffing).
        template_markers: substrings whose presence in a model's chat template means the model
            writes this format.
        description: one line for docs and ``funcroute formats``.
    """

    name: ClassVar[str] = ""
    markers: ClassVar[tuple[str, ...]] = ()
    template_markers: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    @abstractmethod
    def read(
        self, text: str, limits: ParseLimits = DEFAULT_LIMITS, hints: ArgHints | None = None
    ) -> list[RawCall]:
        """Every call in ``text`` written in this format, in order (``[]`` when there is none).

        Args:
            text: the reply, reasoning blocks already removed.
            limits: size and depth bounds.
            hints: parameters schema by tool name, for formats whose values carry no type.

        Raises:
            OutputParseError: the reply breaks a limit, or the format's call is unreadable.
        """

    @abstractmethod
    def write(self, calls: Sequence[CallSpec]) -> str:
        """The reply a model of this family writes for ``calls`` (one or more)."""

    @abstractmethod
    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """A grammar of the replies that call one of ``tools`` (several calls if ``parallel``)."""

    def __repr__(self) -> str:
        return f"<format {self.name}>"


# ---------------------------------------------------------------------------------------- helpers


class BlockFormat(ToolCallFormat):
    """A format whose calls stand in delimited blocks: :meth:`read` walks the blocks in order.

    Subclasses set :attr:`opening` and :attr:`closing` and read one block in :meth:`read_block`;
    finding the blocks (unclosed last block, the :data:`MAX_CALLS` bound) is :func:`blocks`' job.
    """

    #: what starts a block, and what ends it
    opening: ClassVar[str] = ""
    closing: ClassVar[str] = ""

    def read(
        self, text: str, limits: ParseLimits = DEFAULT_LIMITS, hints: ArgHints | None = None
    ) -> list[RawCall]:
        """Every block's calls, in order."""
        found: list[RawCall] = []
        for body in blocks(text, self.opening, self.closing):
            found.extend(self.read_block(body, text, limits, hints))
        return found

    @abstractmethod
    def read_block(self, body: str, text: str, limits: ParseLimits, hints: ArgHints | None) -> list[RawCall]:
        """The calls in one block's ``body`` (``text`` is the whole reply, for error messages)."""


def check_size(text: Any, limits: ParseLimits) -> str:
    """Refuse non-text and replies over the size limit before any reading."""
    if not isinstance(text, str):
        raise OutputParseError(f"a reply must be text, got {type(text).__name__}", repr(text)[:200])
    if len(text) > limits.max_chars or (
        len(text) * 4 > limits.max_chars and len(text.encode("utf-8", "surrogatepass")) > limits.max_chars
    ):
        raise OutputParseError(f"reply is larger than the {limits.max_chars}-byte limit", text)
    return text


def blocks(text: str, opening: str, closing: str, limit: int = MAX_CALLS) -> Iterator[str]:
    """The bodies between ``opening`` and ``closing``, in order; the last may be unclosed.

    Linear in the length of ``text``: each search starts where the previous one ended, so a reply
    of thousands of unclosed openings costs one pass, not one pass per opening.
    """
    pos = text.find(opening)
    count = 0
    while pos != -1 and count < limit:
        start = pos + len(opening)
        end = text.find(closing, start) if closing else -1
        nxt = text.find(opening, start)
        if end == -1 or (nxt != -1 and nxt < end):
            # Unclosed (a stop token cut it, or the model forgot): the body runs to the next opening.
            end = nxt if nxt != -1 else len(text)
            yield text[start:end]
            pos = nxt
        else:
            yield text[start:end]
            pos = text.find(opening, end + len(closing))
        count += 1


def json_calls(body: str, limits: ParseLimits) -> list[RawCall]:
    """The calls of the first JSON document in ``body`` that holds any (tolerant, bounded reading)."""
    if not body.strip():
        return []
    fast = whole_json(body, limits)  # a clean JSON body costs one decode, as on the Airoboros path
    if fast is not None:
        found = raw_calls(fast, limits)
        if found:
            return found
    for doc in iter_documents(body, limits, skip_whole=fast is not None):
        found = raw_calls(doc, limits)
        if found:
            return found
    return []


def checked_call(name: str, arguments: Any, limits: ParseLimits, reply: str) -> RawCall:
    """A raw call whose arguments passed the depth / finite-number / Unicode checks."""
    problem = json_problem(arguments, limits.max_depth)
    if problem is not None:
        raise OutputParseError(f"the reply's call is unusable: {problem}", reply)
    return RawCall(name.strip(), arguments)


def object_call(name: str, body: str, limits: ParseLimits, reply: str) -> RawCall:
    """The call to ``name`` whose arguments are the first JSON object in ``body``.

    Without one, the call keeps ``body`` as its arguments, so validation reports "arguments must
    be a mapping" with the text the model wrote instead of a silent empty call.
    """
    args = next((doc for doc in iter_documents(body, limits) if isinstance(doc, dict)), None)
    return checked_call(name, args, limits, reply) if args is not None else RawCall(name.strip(), body)


def param_schema(hints: ArgHints | None, tool: str, param: str) -> Mapping[str, Any] | None:
    """The schema of ``tool``'s parameter ``param``, when known."""
    if hints is None:
        return None
    schema = hints(tool)
    if not isinstance(schema, Mapping):
        return None
    props = schema.get("properties")
    found = props.get(param) if isinstance(props, Mapping) else None
    return found if isinstance(found, Mapping) else None


def _types(schema: Mapping[str, Any] | None) -> set[str]:
    if schema is None:
        return set()
    kinds = schema.get("type")
    found = {kinds} if isinstance(kinds, str) else set(kinds) if isinstance(kinds, list) else set()
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key) or ():
            if isinstance(option, Mapping):
                found |= _types(option)
    if "enum" in schema and not found:
        found |= {type_name(v) for v in schema["enum"]}
    return found


_WORDS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


def coerce_text(text: str, schema: Mapping[str, Any] | None) -> Any:
    """A value written as bare text (XML parameter, FunctionGemma token), typed by its schema.

    Text stays text where the schema admits a string (or says nothing); otherwise a JSON reading
    (numbers, booleans, lists, objects) or a Python word (``True``, ``None``) is used when it fits.
    """
    if schema is not None and schema.get("type") == "string":
        return text  # the usual case, decided without collecting types
    kinds = _types(schema)
    stripped = text.strip()
    if "string" in kinds or (not kinds and stripped[:1] not in ("{", "[")):
        return text  # an untyped value is text unless it is clearly a JSON list or object
    if stripped in _WORDS:
        return _WORDS[stripped]
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        return text
    if "number" in kinds and isinstance(value, int) and not isinstance(value, bool):
        return value
    return value if not kinds or type_name(value) in kinds else text


def params_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's arguments schema made closed (no extra properties) for a grammar."""
    params = dict(schema)
    params.setdefault("type", "object")
    params.setdefault("additionalProperties", False)
    return params


def call_object_schema(
    tools: Sequence[ToolSpec], name_key: str, args_key: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """JSON Schema of one call object ``{name_key: <tool>, args_key: {...}}`` over ``tools``.

    ``extra`` adds constant keys written before the name (Llama 3's ``"type": "function"``).
    """
    variants = []
    for name, schema in tools:
        props: dict[str, Any] = {key: {"const": value} for key, value in (extra or {}).items()}
        props[name_key] = {"const": name}
        props[args_key] = params_schema(schema)
        variants.append(
            {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
        )
    return variants[0] if len(variants) == 1 else {"anyOf": variants}
