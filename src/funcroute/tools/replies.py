"""Reading a model reply into validated calls: sniff the format, read its calls, validate, rank errors.

A reply is read the cheap way first (one clean JSON call), then the careful ways (every JSON/YAML
document, a sniffed format's delimiters, a pythonic call after prose). Of several invalid
candidates, the error that tells the model most about its mistake is the one raised.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from funcroute.errors import (
    CallValidationError,
    ModelOutputError,
    OutputParseError,
    PartialCallsError,
    UnknownFunctionError,
)
from funcroute.formats.base import ToolCallFormat, check_size
from funcroute.formats.llama3 import concatenated_json_calls
from funcroute.formats.reasoning import has_reasoning, strip_reasoning
from funcroute.formats.registry import get_format, sniff
from funcroute.parsing import ParseLimits, RawCall, iter_documents, raw_calls, whole_json, whole_yaml
from funcroute.tools.call import Call

__all__ = ["Catalog", "ReplyReader"]

_R = TypeVar("_R")
_AIROBOROS = frozenset({"airoboros-json", "airoboros-yaml"})
_YAML_CALL_LIST = ("- function:", "- name:")
_DATA_FENCES = ("```json", "```yaml", "```yml", "```JSON", "```YAML")


class Catalog(Protocol):
    """What reading a reply needs of a ToolSet: its limits, its schemas and its validator."""

    limits: ParseLimits

    def _schema_of(self, name: str) -> dict[str, Any] | None: ...

    def _validate(self, function: str, arguments: Any, reply: str, *, checked: bool) -> Call: ...


class ReplyReader:
    """Reads replies against one catalog of tools (see :meth:`parse` and :meth:`parse_many`)."""

    def __init__(self, tools: Catalog) -> None:
        self._tools = tools

    def parse(self, reply: str, *, format: str | ToolCallFormat = "auto") -> Call:
        """The first valid call of ``reply``; see :meth:`funcroute.tools.ToolSet.parse`."""
        if format != "auto":
            fmt = get_format(format)
            if fmt.name not in _AIROBOROS:
                return self._first_valid(self._read_format(fmt, reply), reply)
            if isinstance(reply, str) and has_reasoning(reply):
                return self._parse_documents(strip_reasoning(reply), reply, None)
            return self._parse_documents(reply, reply, whole_json(reply, self._tools.limits))
        fast = whole_json(reply, self._tools.limits)  # also the body of a reply that is one ```json block
        if type(fast) is dict:
            # The usual reply, clean or in one ```json fence: {"function": name, "params": {...}}.
            # Validated straight away; any other shape, or a failure, takes the careful path
            # (which validates this document again, first, so the outcome is the same).
            name = fast.get("function")
            params = fast.get("params")
            if type(name) is str and type(params) is dict and name.isidentifier():
                try:
                    return self._tools._validate(name, params, reply, checked=True)
                except ModelOutputError:
                    pass
        return self._careful(reply, fast)

    def _careful(self, reply: str, fast: Any) -> Call:
        """``format="auto"`` without the straight line: every reading, cheapest first.

        ``fast``: the reply's :func:`whole_json` reading (``None`` if it has none).
        """
        fenced = type(reply) is str and reply.lstrip().startswith("```")
        if fast is not None and not fenced:
            return self._parse_documents(reply, reply, fast)
        if type(reply) is str and (fast is not None or reply.startswith(_DATA_FENCES)):
            # The model card's own reply shape: read it the Airoboros way first, sniffing nothing.
            try:
                return self._parse_documents(reply, reply, fast)
            except OutputParseError:
                pass  # not an Airoboros call after all; another format's call may be fenced
        text = reply
        unreadable: OutputParseError | None = None
        if isinstance(reply, str):
            call, text, unreadable = self._sniffed(
                reply,
                lambda raws: self._first_valid(raws, reply),
                lambda: self._parse_documents(reply, reply, None),
            )
            if call is not None:
                return call
        try:
            return self._parse_documents(text, reply, None)
        except OutputParseError:
            raws = self._pythonic_in_prose(text, reply)
            if not raws:
                if unreadable is not None:
                    raise unreadable from None  # the sniffed format's own complaint says more
                raise
        return self._first_valid(raws, reply)

    def _sniffed(
        self, reply: str, accept: Callable[[list[RawCall]], _R], airoboros: Callable[[], _R]
    ) -> tuple[_R | None, str, OutputParseError | None]:
        """The calls of the format sniffed in ``reply``, as ``accept`` validates them.

        Returns ``(result, text, unreadable)``: ``result`` is ``None`` when no sniffed format holds
        a call (``unreadable`` is its reading error, if any), and ``text`` is the reply the
        Airoboros fallback should read (the sniffed format's lead removed).

        Raises:
            ModelOutputError: the sniffed calls are invalid and so is the Airoboros reading.
        """
        fmt_found, text = sniff(reply)
        if fmt_found is None:
            return None, text, None
        try:
            raws = self._read(fmt_found, text, reply)
        except OutputParseError as exc:
            return None, text, exc
        if not raws:
            return None, text, None
        try:
            return accept(raws), text, None
        except ModelOutputError as sniffed:
            # Delimiters quoted inside an Airoboros call's strings are not a call: when the
            # Airoboros reading gives valid calls, it wins; otherwise the sniffed error does.
            try:
                return airoboros(), text, None
            except ModelOutputError:
                raise sniffed from None

    def _pythonic_in_prose(self, text: str, reply: str) -> list[RawCall]:
        """Last resort: a pythonic call after some prose (``Sure! [get_weather(city="Paris")]``)."""
        if type(text) is not str or "(" not in text:
            return []
        try:
            return self._read(get_format("pythonic"), text, reply)
        except OutputParseError:
            return []

    def _parse_documents(self, text: str, reply: str, fast: Any) -> Call:
        """The Airoboros path: every JSON/YAML document of ``text``, cheapest first."""
        best: ModelOutputError | None = None
        tried: list[Any] = []  # documents already validated: several readers may find the same one
        if type(fast) is dict:
            # The usual reply: one clean call. Validate it before building the careful reader.
            tried.append(fast)
            for raw in raw_calls(fast, self._tools.limits):
                try:
                    return self._tools._validate(raw.name, raw.arguments, reply, checked=True)
                except ModelOutputError as exc:
                    best = _more_telling(best, exc)
        documents = iter_documents(text, self._tools.limits, skip_whole=fast is not None)
        for doc in itertools.chain(() if fast is None or tried else (fast,), documents):
            if doc in tried:
                continue
            tried.append(doc)
            for raw in raw_calls(doc, self._tools.limits):
                try:
                    return self._tools._validate(raw.name, raw.arguments, reply, checked=True)
                except ModelOutputError as exc:
                    best = _more_telling(best, exc)
        if best is not None:
            raise best
        if tried:
            raise OutputParseError(
                'the reply holds JSON/YAML but no call: expected {"function": ..., "params": {...}}', reply
            )
        if not text.strip() and reply.strip():
            raise OutputParseError(
                "the reply is only reasoning (<think>...</think>): no call after it", reply
            )
        raise OutputParseError("the reply holds no JSON or YAML function call", reply)

    def _read_format(self, fmt: ToolCallFormat, reply: str) -> list[RawCall]:
        """The raw calls of ``reply`` read in one explicit format (reasoning blocks skipped)."""
        text = strip_reasoning(check_size(reply, self._tools.limits))
        raws = self._read(fmt, text, reply)
        if not raws:
            raise OutputParseError(f"the reply holds no call in the {fmt.name!r} format", reply)
        return raws

    def _read(self, fmt: ToolCallFormat, text: str, reply: str) -> list[RawCall]:
        """``fmt``'s reading of ``text``; its errors carry the whole reply, as every parse error does."""
        try:
            return fmt.read(check_size(text, self._tools.limits), self._tools.limits, self._tools._schema_of)
        except OutputParseError as exc:
            if exc.reply is reply:
                raise
            raise OutputParseError(str(exc), reply) from None

    def _first_valid(self, raws: Sequence[RawCall], reply: str) -> Call:
        best: ModelOutputError | None = None
        for raw in raws:
            try:
                return self._tools._validate(raw.name, raw.arguments, reply, checked=True)
            except ModelOutputError as exc:
                best = _more_telling(best, exc)
        assert best is not None  # raws is never empty here
        raise best

    def parse_many(self, reply: str, *, format: str | ToolCallFormat = "auto") -> list[Call]:
        """Every call of ``reply``, validated; see :meth:`funcroute.tools.ToolSet.parse_many`."""
        text = reply
        if format != "auto":
            fmt = get_format(format)
            if fmt.name not in _AIROBOROS:
                return self._validate_all(self._read_format(fmt, reply), reply)
            if isinstance(reply, str) and has_reasoning(reply):
                text = strip_reasoning(reply)
            return self._validate_all(self._airoboros_many(text, reply, pythonic=False), reply)
        unreadable: OutputParseError | None = None
        if isinstance(reply, str) and whole_json(reply, self._tools.limits) is None:
            calls, text, unreadable = self._sniffed(
                reply,
                lambda raws: self._validate_all(raws, reply),
                lambda: self._validate_all(self._airoboros_many(reply, reply, pythonic=False), reply),
            )
            if calls is not None:
                return calls
        try:
            return self._validate_all(self._airoboros_many(text, reply, pythonic=True), reply)
        except OutputParseError:
            if unreadable is not None:
                raise unreadable from None
            raise

    def _validate_all(self, raws: Sequence[RawCall], reply: str) -> list[Call]:
        calls: list[Call | None] = []
        errors: list[tuple[int, ModelOutputError]] = []
        for index, raw in enumerate(raws):
            try:
                calls.append(self._tools._validate(raw.name, raw.arguments, reply, checked=True))
            except ModelOutputError as exc:
                calls.append(None)
                errors.append((index, exc))
        if errors:
            if len(raws) == 1:
                raise errors[0][1]
            raise PartialCallsError(calls, errors, reply)
        return [c for c in calls if c is not None]

    def _airoboros_many(self, text: str, reply: str, *, pythonic: bool) -> list[RawCall]:
        """Every call of the first JSON/YAML document of ``text`` holding any (the Airoboros path)."""
        if text.lstrip().startswith(_YAML_CALL_LIST) and "```" in text:
            listed = raw_calls(whole_yaml(text, self._tools.limits), self._tools.limits)
            if listed:
                return listed
        documents = 0
        for doc in iter_documents(text, self._tools.limits):
            documents += 1
            raws = raw_calls(doc, self._tools.limits)
            if raws:
                if len(raws) == 1:
                    # Calls written back to back ({...}\n{...}, Llama 3 style, fenced or not).
                    more = concatenated_json_calls(_unfenced(text), self._tools.limits)
                    if len(more) > 1:
                        return more
                return raws
        if not text.strip() and reply.strip():
            raise OutputParseError(
                "the reply is only reasoning (<think>...</think>): no call after it", reply
            )
        raws = self._pythonic_in_prose(text, reply) if pythonic else []
        if raws:
            return raws
        if documents:  # the same words as parse(): data was there, but not in the shape of a call
            raise OutputParseError(
                'the reply holds JSON/YAML but no call: expected {"function": ..., "params": {...}}', reply
            )
        raise OutputParseError("the reply holds no JSON or YAML function call", reply)


def _unfenced(text: str) -> str:
    """The body of a reply that is one fenced block, else the reply itself."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```") and "\n" in stripped:
        return stripped[stripped.find("\n") + 1 : -3]
    return stripped


def _rank(error: ModelOutputError) -> int:
    if isinstance(error, CallValidationError):
        return 3
    if isinstance(error, UnknownFunctionError):
        return 2
    return 1


def _more_telling(current: ModelOutputError | None, new: ModelOutputError) -> ModelOutputError:
    """Keep the first error of the most specific kind: it tells the model most about its mistake."""
    if current is None or _rank(new) > _rank(current):
        return new
    return current
