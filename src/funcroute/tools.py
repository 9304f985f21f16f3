"""Tools and ToolSets: register functions, render the prompt, parse replies into calls, dispatch.

A :class:`ToolSet` is the registry every other part of funcroute works from::

    tools = ToolSet()

    @tools.tool
    def file_analytics(action: str, filters: Filters) -> str:
        "This tool performs various operations on a text file."

    call = tools.parse(reply)   # -> Call, validated
    tools.dispatch(call)        # -> the handler's result

Reads (prompt, parse, dispatch) are thread-safe and lock-free; registration takes a lock and
invalidates the rendering caches.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import functools
import hashlib
import inspect
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from funcroute._install import install_hint
from funcroute._signature import analyse_function
from funcroute._validators import ArgumentValidator, InvalidArguments, PydanticValidator, Validated
from funcroute.exceptions import (
    CallRefusedError,
    CallValidationError,
    HandlerError,
    HandlerNotBoundError,
    HandlerTimeoutError,
    ModelOutputError,
    OutputParseError,
    PartialCallsError,
    ToolDefinitionError,
    UnknownFunctionError,
    UsageError,
    ValidationProblem,
)
from funcroute.formats.base import ToolCallFormat, check_size
from funcroute.formats.llama3 import concatenated_json_calls
from funcroute.formats.reasoning import has_reasoning, strip_reasoning
from funcroute.formats.registry import get_format, sniff
from funcroute.parsing import (
    ParseLimits,
    RawCall,
    iter_documents,
    json_problem,
    raw_calls,
    whole_json,
    whole_yaml,
)
from funcroute.prompts.selection import Format, render_tool, selection_prompt

if TYPE_CHECKING:
    from funcroute.mcp.client import MCPToolSet

__all__ = ["Approver", "Call", "Tool", "ToolSet"]

F = TypeVar("F", bound=Callable[..., Any])
_R = TypeVar("_R")
#: Called with a validated call to a ``confirm=True`` tool; the handler runs only if it returns True.
Approver = Callable[["Call"], bool]
_NAME = re.compile(r"^[A-Za-z_][\w.\-]{0,127}$")
_AIROBOROS = frozenset({"airoboros-json", "airoboros-yaml"})
_YAML_CALL_LIST = ("- function:", "- name:")
_DATA_FENCES = ("```json", "```yaml", "```yml", "```JSON", "```YAML")


def _unfenced(text: str) -> str:
    """The body of a reply that is one fenced block, else the reply itself."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```") and "\n" in stripped:
        return stripped[stripped.find("\n") + 1 : -3]
    return stripped


@dataclass(frozen=True, eq=False)
class Tool:
    """One callable tool.

    Attributes:
        name: the name the model calls it by.
        description: one paragraph shown to the model.
        schema: JSON Schema of the arguments object (``$ref``-free).
        handler: the function that runs the call; ``None`` for tools loaded from data unbound.
        validator: turns raw arguments into validated ones (pydantic or jsonschema based).
        source: where the tool came from (a qualified name or a spec path), for error messages.
        confirm: dispatch needs an approval callback that accepts the validated call.
        timeout: seconds the handler may run before the call fails with HandlerTimeoutError.
    """

    name: str
    description: str
    schema: dict[str, Any]
    handler: Callable[..., Any] | None = None
    validator: ArgumentValidator | None = field(default=None, repr=False)
    source: str = ""
    confirm: bool = False
    timeout: float | None = None

    @functools.cached_property
    def parameters(self) -> frozenset[str]:
        """Names of the top-level parameters."""
        return frozenset(self.schema.get("properties") or ())

    @functools.cached_property
    def is_async(self) -> bool:
        """Whether the handler is a coroutine function."""
        return self.handler is not None and inspect.iscoroutinefunction(self.handler)

    def replace(self, **changes: Any) -> Tool:
        """A copy with some fields changed (e.g. ``handler=...``)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        confirm: bool = False,
        timeout: float | None = None,
    ) -> Tool:
        """Build a tool from a type-hinted function (see :mod:`funcroute._signature`)."""
        qualname = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
        tool_name: str = name or str(getattr(fn, "__name__", ""))
        if not _NAME.match(tool_name or ""):
            raise ToolDefinitionError(qualname, [f"tool name {tool_name!r} is not a valid identifier"])
        signature = analyse_function(fn, qualname=qualname)
        return cls(
            name=tool_name,
            description=" ".join((description or signature.description).split()),
            schema=signature.schema,
            handler=fn,
            validator=PydanticValidator(signature),
            source=qualname,
            confirm=confirm,
            timeout=_check_timeout(timeout, qualname),
        )


@dataclass(eq=False)
class Call:
    """A validated function call.

    Attributes:
        function: the tool's name.
        arguments: validated, JSON-compatible arguments (only those the model gave; defaults apply
            at dispatch).
        reply: the raw model reply the call was read from ("" when built by hand).

    Treat a Call as read-only. (It is not frozen because frozen dataclasses cost a microsecond per
    construction on the hot path.) Dispatch re-validates any Call this ToolSet did not validate.
    """

    function: str
    arguments: dict[str, Any]
    reply: str = field(default="", repr=False)
    _tool: Tool | None = field(default=None, repr=False)
    _validated: Validated | None = field(default=None, repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Call):
            return NotImplemented
        return self.function == other.function and self.arguments == other.arguments

    def __hash__(self) -> int:
        return hash((self.function, json.dumps(self.arguments, sort_keys=True, default=str)))

    def to_dict(self) -> dict[str, Any]:
        """The call in the Airoboros reply shape: ``{"function": ..., "params": {...}}``."""
        return {"function": self.function, "params": self.arguments}


class ToolSet:
    """A registry of tools with prompt rendering, reply parsing, validation and dispatch.

    Args:
        tools: tools (or type-hinted functions) to register.
        extra: what to do with parameters a tool does not have: ``"forbid"`` (a validation error)
            or ``"ignore"`` (dropped silently).
        limits: size/depth limits applied to every reply.
    """

    def __init__(
        self,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        *,
        extra: Literal["forbid", "ignore"] = "forbid",
        limits: ParseLimits | None = None,
    ) -> None:
        if extra not in ("forbid", "ignore"):
            raise UsageError(f"extra must be 'forbid' or 'ignore', got {extra!r}")
        self.extra = extra
        self.limits = limits or ParseLimits()
        self._tools: dict[str, Tool] = {}
        self._lock = threading.Lock()
        self._blocks: dict[tuple[str, bool], str] = {}
        self._joined: dict[bool, str] = {}
        self._derived: dict[str, Any] = {}
        for item in tools:
            self.add(item if isinstance(item, Tool) else Tool.from_function(item))

    # ----------------------------------------------------------------------------- registration

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        confirm: bool = False,
        timeout: float | None = None,
    ) -> Callable[[F], F]: ...

    def tool(  # type: ignore[misc]  # mypy 2.x misreads "/" in overload implementations
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        confirm: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """Register a function as a tool; usable as ``@tools.tool`` or ``@tools.tool(name=...)``.

        Args:
            fn: the function (when used without parentheses).
            name: the name the model sees (default: the function's name).
            description: overrides the docstring's description.
            confirm: dispatch requires an approval callback that accepts the call.
            timeout: seconds the handler may run (async handlers are cancelled; sync handlers run
                in a watchdog thread that is abandoned, not killed, when time runs out).

        The function is returned unchanged.
        """

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_function(func, name=name, description=description, confirm=confirm, timeout=timeout)
            return func

        return register(fn) if fn is not None else register

    def add_function(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        confirm: bool = False,
        timeout: float | None = None,
    ) -> Tool:
        """Register ``fn`` as a tool and return it."""
        tool = Tool.from_function(fn, name=name, description=description, confirm=confirm, timeout=timeout)
        return self.add(tool)

    def add(self, tool: Tool) -> Tool:
        """Register a prepared :class:`Tool`; duplicate names are an error."""
        with self._lock:
            if tool.name in self._tools:
                existing = self._tools[tool.name].source or "another tool"
                raise ToolDefinitionError(
                    tool.source or tool.name,
                    [f"a tool named {tool.name!r} is already registered ({existing})"],
                )
            self._tools[tool.name] = tool
            self._joined.clear()
            self._derived.clear()
        return tool

    # -------------------------------------------------------------------------------- container

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __getitem__(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise KeyError(f"no tool named {name!r}") from None

    def __repr__(self) -> str:
        return f"ToolSet({', '.join(self._tools)})"

    @property
    def names(self) -> list[str]:
        """Tool names in registration order."""
        return list(self._tools)

    def subset(self, names: Iterable[str]) -> ToolSet:
        """A new ToolSet holding only ``names`` (same tools, same settings)."""
        chosen = ToolSet(extra=self.extra, limits=self.limits)
        for name in names:
            chosen.add(self[name])
        return chosen

    # ----------------------------------------------------------------------------------- prompt

    def render_tools(self, names: Sequence[str] | None = None, *, show_types: bool = False) -> str:
        """The ``Available functions:`` block for all tools (cached) or for ``names`` in that order."""
        if names is None:
            joined = self._joined.get(show_types)
            if joined is None:
                joined = "\n".join(self._block(t, show_types) for t in list(self._tools.values()))
                self._joined[show_types] = joined
            return joined
        return "\n".join(self._block(self[n], show_types) for n in names)

    def _block(self, tool: Tool, show_types: bool) -> str:
        key = (tool.name, show_types)
        block = self._blocks.get(key)
        if block is None:
            block = render_tool(tool.name, tool.description, tool.schema, show_types=show_types)
            self._blocks[key] = block
        return block

    def prompt(
        self,
        user_input: str,
        format: Format = "json",
        *,
        tools: Sequence[str] | None = None,
        show_types: bool = False,
    ) -> str:
        """The bare Airoboros function-selection prompt (no chat template).

        Args:
            user_input: the user's command.
            format: ask for a ``"json"`` or ``"yaml"`` reply.
            tools: render only these tools, in this order (the validator still knows all tools).
            show_types: append type notes to parameter lines.
        """
        if not self._tools:
            raise UsageError("the ToolSet is empty: register at least one tool before rendering a prompt")
        return selection_prompt(user_input, [self.render_tools(tools, show_types=show_types)], format)

    # ------------------------------------------------------------------------ parse and validate

    def parse(self, reply: str, *, format: str | ToolCallFormat = "auto") -> Call:
        """Read the first valid call from a model reply.

        Args:
            reply: the model's text.
            format: ``"auto"`` (sniff: Airoboros JSON/YAML unless another format's delimiters or a
                reasoning block are there), or a format name from :mod:`funcroute.formats`
                (``"hermes"``, ``"pythonic"``...) to read only that format.

        Raises:
            OutputParseError: no call could be read.
            UnknownFunctionError: the best candidate names an unknown function.
            CallValidationError: the best candidate's arguments are invalid.
        """
        if format != "auto":
            fmt = get_format(format)
            if fmt.name not in _AIROBOROS:
                return self._first_valid(self._read_format(fmt, reply), reply)
            if isinstance(reply, str) and has_reasoning(reply):
                return self._parse_documents(strip_reasoning(reply), reply, None)
            return self._parse_documents(reply, reply, whole_json(reply, self.limits))
        fast = whole_json(reply, self.limits)  # also the body of a reply that is one ```json block
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
            for raw in raw_calls(fast):
                try:
                    return self._validate(raw.name, raw.arguments, reply, checked=True)
                except ModelOutputError as exc:
                    best = _more_telling(best, exc)
        documents = iter_documents(text, self.limits, skip_whole=fast is not None)
        for doc in itertools.chain(() if fast is None or tried else (fast,), documents):
            if doc in tried:
                continue
            tried.append(doc)
            for raw in raw_calls(doc):
                try:
                    return self._validate(raw.name, raw.arguments, reply, checked=True)
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
        text = strip_reasoning(check_size(reply, self.limits))
        raws = self._read(fmt, text, reply)
        if not raws:
            raise OutputParseError(f"the reply holds no call in the {fmt.name!r} format", reply)
        return raws

    def _read(self, fmt: ToolCallFormat, text: str, reply: str) -> list[RawCall]:
        """``fmt``'s reading of ``text``; its errors carry the whole reply, as every parse error does."""
        try:
            return fmt.read(check_size(text, self.limits), self.limits, self._schema_of)
        except OutputParseError as exc:
            if exc.reply is reply:
                raise
            raise OutputParseError(str(exc), reply) from None

    def _first_valid(self, raws: Sequence[RawCall], reply: str) -> Call:
        best: ModelOutputError | None = None
        for raw in raws:
            try:
                return self._validate(raw.name, raw.arguments, reply, checked=True)
            except ModelOutputError as exc:
                best = _more_telling(best, exc)
        assert best is not None  # raws is never empty here
        raise best

    def _schema_of(self, name: str) -> dict[str, Any] | None:
        tool = self._tools.get(name)
        return tool.schema if tool is not None else None

    def parse_many(self, reply: str, *, format: str | ToolCallFormat = "auto") -> list[Call]:
        """Read every call from a reply, in order (parallel calls, a list of calls, or one call).

        Every call is validated. When some fail, :class:`PartialCallsError` reports each failure
        with its index (``.errors``) and keeps the valid calls in place (``.calls``); a reply with a
        single call raises that call's own error.
        """
        text = reply
        if format != "auto":
            fmt = get_format(format)
            if fmt.name not in _AIROBOROS:
                return self._validate_all(self._read_format(fmt, reply), reply)
            if isinstance(reply, str) and has_reasoning(reply):
                text = strip_reasoning(reply)
            return self._validate_all(self._airoboros_many(text, reply, pythonic=False), reply)
        unreadable: OutputParseError | None = None
        if isinstance(reply, str) and whole_json(reply, self.limits) is None:
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
                calls.append(self._validate(raw.name, raw.arguments, reply, checked=True))
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
            listed = raw_calls(whole_yaml(text, self.limits))
            if listed:
                return listed
        documents = 0
        for doc in iter_documents(text, self.limits):
            documents += 1
            raws = raw_calls(doc)
            if raws:
                if len(raws) == 1:
                    # Calls written back to back ({...}\n{...}, Llama 3 style, fenced or not).
                    more = concatenated_json_calls(_unfenced(text), self.limits)
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

    def validate(self, function: str, arguments: Any, reply: str = "") -> Call:
        """Validate a call given as a name and an arguments mapping (plain JSON data only)."""
        return self._validate(function, arguments, reply, checked=False)

    def _validate(self, function: str, arguments: Any, reply: str, *, checked: bool) -> Call:
        """``checked``: the arguments come from the reply parser, which already refused non-JSON data."""
        tool = self._tools.get(function)
        if tool is None:
            raise UnknownFunctionError(function, self.names, self._closest(function), reply)
        if type(arguments) is not dict and not isinstance(arguments, Mapping):
            problem = ValidationProblem(
                "", f"arguments must be a mapping, got {type(arguments).__name__}", "type"
            )
            raise CallValidationError(function, arguments, [problem], reply)
        if not checked:
            trouble = json_problem(arguments, self.limits.max_depth)
            if trouble is not None:
                problem = ValidationProblem("", f"arguments must be plain JSON data: {trouble}", "json_type")
                raise CallValidationError(function, arguments, [problem], reply)
        problems: list[ValidationProblem] = []
        unknown = arguments.keys() - tool.parameters
        if unknown:
            if self.extra == "forbid":
                problems.extend(
                    ValidationProblem(str(k), "unexpected parameter", "extra_forbidden")
                    for k in sorted(map(str, unknown))
                )
            arguments = {k: v for k, v in arguments.items() if k not in unknown}
        validator = tool.validator
        if validator is None:
            raise UsageError(f"tool {function!r} has no validator")
        try:
            validated = validator(arguments if isinstance(arguments, dict) else dict(arguments))
        except InvalidArguments as exc:
            problems.extend(exc.problems)
            raise CallValidationError(function, arguments, problems, reply) from None
        if problems:
            raise CallValidationError(function, arguments, problems, reply)
        return Call(function, validated.arguments, reply, tool, validated)

    def _closest(self, name: str) -> str | None:
        lowered = {n.lower().replace(".", "_"): n for n in self._tools}
        key = name.lower().replace(".", "_")
        if key in lowered:
            return lowered[key]
        matches = difflib.get_close_matches(name, self.names, n=1, cutoff=0.6)
        return matches[0] if matches else None

    # --------------------------------------------------------------------------------- dispatch

    def _prepare(self, call: Call, approve: Approver | None) -> tuple[Tool, Validated, Call]:
        tool = self._tools.get(call.function)
        if tool is None or call._tool is not tool or call._validated is None:
            # A call built by hand, or validated by another ToolSet: validate it here first.
            call = self.validate(call.function, call.arguments, call.reply)
            tool = self._tools[call.function]
        validated = call._validated
        if validated is None:  # pragma: no cover - validate() always sets it
            raise UsageError(f"call to {call.function!r} was not validated")
        if tool.handler is None:
            raise HandlerNotBoundError(
                f"tool {tool.name!r} has no handler (loaded from data without one); it can validate "
                "calls but not run them",
                call,
            )
        if tool.confirm:
            _require_approval(tool, call, approve)
        return tool, validated, call

    def dispatch(self, call: Call, *, approve: Approver | None = None) -> Any:
        """Run the call's handler with typed arguments and return its result.

        Args:
            call: a call (re-validated here unless this ToolSet validated it).
            approve: for tools registered with ``confirm=True``: called with the validated call;
                the handler runs only if it returns ``True``.

        Async handlers are run to completion with ``asyncio.run`` (use :meth:`adispatch` inside an
        event loop). Handler exceptions surface as :class:`HandlerError` with the call attached.
        """
        tool, validated, call = self._prepare(call, approve)
        handler = tool.handler
        assert handler is not None
        if tool.is_async:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(_run_async(tool, validated, call))
            raise UsageError(
                f"tool {tool.name!r} is async: use 'await tools.adispatch(call)' inside an event loop"
            )
        if tool.timeout is not None:
            return _run_with_watchdog(tool, validated, call)
        try:
            return handler(*validated.args, **validated.kwargs)
        except Exception as exc:
            raise HandlerError(f"tool {tool.name!r} raised {type(exc).__name__}: {exc}", call) from exc

    async def adispatch(self, call: Call, *, approve: Approver | None = None) -> Any:
        """Async twin of :meth:`dispatch`; sync handlers run in a worker thread."""
        tool, validated, call = self._prepare(call, approve)
        return await _run_async(tool, validated, call)

    # ---------------------------------------------------------------------------------- schemas

    def json_schema(self, *, copy: bool = True) -> dict[str, Any]:
        """JSON Schema of a valid reply for this ToolSet.

        A union over tools of ``{"function": <const name>, "params": <that tool's arguments schema>}``.
        """
        cached = self._derived.get("json_schema")
        if cached is None:
            variants = []
            for tool in list(self._tools.values()):
                params = dict(tool.schema)
                params.setdefault("type", "object")
                if self.extra == "forbid":
                    params["additionalProperties"] = False
                variants.append(
                    {
                        "type": "object",
                        "properties": {"function": {"const": tool.name}, "params": params},
                        "required": ["function", "params"],
                        "additionalProperties": False,
                    }
                )
            cached = {"$schema": "https://json-schema.org/draft/2020-12/schema", "anyOf": variants}
            self._derived["json_schema"] = cached
        if not copy:
            return cached  # shared: callers must not mutate it
        copied: dict[str, Any] = json.loads(json.dumps(cached))
        return copied

    @property
    def fingerprint(self) -> str:
        """A hash of everything the model sees or the grammar depends on (names, texts, schemas)."""
        cached = self._derived.get("fingerprint")
        if cached is None:
            payload = [(t.name, t.description, t.schema) for t in list(self._tools.values())]
            text = json.dumps([payload, self.extra], sort_keys=True, default=str)
            cached = hashlib.sha256(text.encode()).hexdigest()[:32]
            self._derived["fingerprint"] = cached
        return str(cached)

    # ------------------------------------------------------------------------------ from data

    @classmethod
    def from_file(cls, path: str | Path, *, bind_handlers: bool = True, **options: Any) -> ToolSet:
        """Load tools from a YAML/JSON tool file (see ``schemas/toolset.schema.json``).

        Handlers named as ``package.module:function`` are imported when ``bind_handlers`` is true:
        a tool file is trusted like code. Pass ``bind_handlers=False`` for files from elsewhere.
        """
        from funcroute import _specs

        return cls(_specs.tools_from_file(Path(path), bind_handlers=bind_handlers), **options)

    @classmethod
    def from_openai(cls, specs: Iterable[Mapping[str, Any]], **options: Any) -> ToolSet:
        """Import OpenAI-style tool specs (``{"type": "function", "function": {...}}``), unbound."""
        from funcroute import _specs

        return cls(_specs.tools_from_openai(specs), **options)

    @classmethod
    def from_bfcl(cls, function_docs: Iterable[Mapping[str, Any]], **options: Any) -> ToolSet:
        """Import BFCL function docs (an entry's ``"function"`` list), unbound."""
        from funcroute import _specs

        return cls(_specs.tools_from_bfcl(function_docs), **options)

    @classmethod
    def from_mcp(cls, server: Any, **options: Any) -> MCPToolSet:
        """Import the tools of a running MCP server; their handlers call the server back over MCP.

        ``server`` is an ``http(s)://`` URL (streamable HTTP), a command line (string or list: run as
        a stdio subprocess) or an in-process SDK server. The result is an
        :class:`funcroute.mcp.MCPToolSet`: close it (or use ``with``) to disconnect. Options are
        those of :func:`funcroute.mcp.tools_from_mcp` (``prefix``, ``confirm``, ``timeout``...).
        Needs ``pip install "funcroute-llm[mcp]"``.
        """
        try:
            from funcroute.mcp.client import tools_from_mcp
        except ImportError as exc:
            raise UsageError(f"ToolSet.from_mcp needs the MCP SDK: {install_hint('mcp')} ({exc})") from exc
        return tools_from_mcp(server, **options)

    def openai_tools(self) -> list[dict[str, Any]]:
        """Export every tool as an OpenAI-style tool spec."""
        from funcroute import _specs

        return [_specs.tool_to_openai(t) for t in list(self._tools.values())]

    def bind(self, name: str, handler: Callable[..., Any]) -> None:
        """Attach a handler to a tool loaded from data (replacing any existing one)."""
        with self._lock:
            self._tools[name] = self[name].replace(handler=handler)
            self._derived.clear()


def _check_timeout(timeout: float | None, qualname: str) -> float | None:
    if timeout is not None and not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
        raise ToolDefinitionError(
            qualname, [f"timeout must be a positive number of seconds, got {timeout!r}"]
        )
    return None if timeout is None else float(timeout)


def _require_approval(tool: Tool, call: Call, approve: Approver | None) -> None:
    if approve is None:
        raise CallRefusedError(
            f"tool {tool.name!r} requires approval: pass approve=<callback> to dispatch or the router "
            "(CLI: --yes); "
            "the handler was not run",
            call,
        )
    try:
        approved = approve(call)
    except Exception as exc:
        raise CallRefusedError(f"the approval callback for {tool.name!r} raised {exc!r}", call) from exc
    if approved is not True:
        raise CallRefusedError(f"the call to {tool.name!r} was not approved; the handler was not run", call)


def _handler_failed(tool: Tool, call: Call, exc: BaseException) -> HandlerError:
    return HandlerError(f"tool {tool.name!r} raised {type(exc).__name__}: {exc}", call)


async def _run_async(tool: Tool, validated: Validated, call: Call) -> Any:
    handler = tool.handler
    assert handler is not None
    try:
        if tool.is_async:
            running = handler(*validated.args, **validated.kwargs)
        elif tool.timeout is not None:
            running = _in_daemon_thread(tool, validated)  # abandoned, not joined, if it overruns
        else:
            running = asyncio.to_thread(handler, *validated.args, **validated.kwargs)
        if tool.timeout is None:
            return await running
        return await asyncio.wait_for(running, tool.timeout)
    except asyncio.TimeoutError:
        raise HandlerTimeoutError(
            f"tool {tool.name!r} did not finish within {tool.timeout} s", call
        ) from None
    except Exception as exc:
        raise _handler_failed(tool, call, exc) from exc


def _in_daemon_thread(tool: Tool, validated: Validated) -> asyncio.Future[Any]:
    """Run a sync handler in a daemon thread the event loop does not own; a future settles with its result.

    ``asyncio.to_thread`` would use the loop's executor, which ``asyncio.run`` joins at shutdown: a
    handler that overran its time limit would then block the caller after all.
    """
    handler = tool.handler
    assert handler is not None
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():  # cancelled by the time limit
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def run() -> None:
        try:
            value, error = handler(*validated.args, **validated.kwargs), None
        except BaseException as exc:
            value, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    threading.Thread(target=run, name=f"funcroute-{tool.name}", daemon=True).start()
    return future


def _run_with_watchdog(tool: Tool, validated: Validated, call: Call) -> Any:
    """Run a sync handler in a daemon thread and stop waiting for it after ``tool.timeout``.

    Python cannot kill a thread: a handler that overruns keeps running in the background, but the
    caller is never blocked by it.
    """
    handler = tool.handler
    assert handler is not None
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = handler(*validated.args, **validated.kwargs)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"funcroute-{tool.name}", daemon=True).start()
    if not done.wait(tool.timeout):
        raise HandlerTimeoutError(f"tool {tool.name!r} did not finish within {tool.timeout} s", call)
    if "error" in outcome:
        raise _handler_failed(tool, call, outcome["error"]) from outcome["error"]
    return outcome.get("value")


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
