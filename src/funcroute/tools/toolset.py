"""Tools and ToolSets: register functions, render the prompt, parse replies into calls, dispatch.

A :class:`ToolSet` is the registry every other part of funcroute works from::

    tools = ToolSet()

    @tools.tool
    def file_analytics(action: str, filters: Filters) -> str:
        "This tool performs various operations on a text file."

    call = tools.parse(reply)   # -> Call, validated
    tools.dispatch(call)        # -> the handler's result

Reads (prompt, parse, dispatch) are thread-safe and lock-free; registration takes a lock, bumps a
generation counter and invalidates the derived caches. A cache fill computed from the tools of one
generation is stored only if no registration happened meanwhile, so a reader racing ``add()`` may
return the value of the moment it started but never leaves a stale value behind.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from funcroute._frozen import freeze, thaw
from funcroute.errors import (
    CallValidationError,
    HandlerNotBoundError,
    ToolDefinitionError,
    UnknownFunctionError,
    UsageError,
    ValidationProblem,
)
from funcroute.formats.base import ToolCallFormat
from funcroute.parsing import ParseLimits, json_problem
from funcroute.prompts.selection import Format, render_tool, selection_prompt
from funcroute.tools import dispatch as _dispatch
from funcroute.tools import loaders
from funcroute.tools import specs as tool_specs
from funcroute.tools.call import Call
from funcroute.tools.replies import ReplyReader
from funcroute.tools.tool import Approver, Tool
from funcroute.tools.validators import InvalidArguments, Validated

__all__ = ["ToolSet"]

F = TypeVar("F", bound=Callable[..., Any])
_RENDER_KEYS = {False: ("render_tools", False), True: ("render_tools", True)}


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
        self._derived: dict[object, Any] = {}
        self._generation = 0
        self._reader = ReplyReader(self)
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
            self._generation += 1
            self._derived.clear()
        return tool

    def _cached(self, key: object, compute: Callable[[list[Tool]], Any]) -> Any:
        """The derived value ``key`` of the current tools, computed by ``compute`` on a miss.

        The hit path is one dict read (no lock). On a miss the generation is read before the tools
        are, and the result is stored only if the generation is unchanged when the lock is taken.
        """
        value = self._derived.get(key)
        if value is not None:
            return value
        generation = self._generation
        value = compute(list(self._tools.values()))
        with self._lock:
            if self._generation == generation:
                self._derived[key] = value
        return value

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
            key = _RENDER_KEYS[bool(show_types)]
            joined: str | None = self._derived.get(key)  # the hit: one dict read, no closure built
            if joined is None:
                joined = self._cached(key, lambda ts: self._join(ts, show_types))
            return joined
        return "\n".join(self._block(self[n], show_types) for n in names)

    def _join(self, tools: list[Tool], show_types: bool) -> str:
        return "\n".join(self._block(t, show_types) for t in tools)

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
        block = self._derived.get(_RENDER_KEYS[bool(show_types)]) if tools is None else None
        if block is None:
            block = self.render_tools(tools, show_types=show_types)
        return selection_prompt(user_input, (block,), format)

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
        return self._reader.parse(reply, format=format)

    def parse_many(self, reply: str, *, format: str | ToolCallFormat = "auto") -> list[Call]:
        """Read every call from a reply, in order (parallel calls, a list of calls, or one call).

        Every call is validated. When some fail, :class:`PartialCallsError` reports each failure
        with its index (``.errors``) and keeps the valid calls in place (``.calls``); a reply with a
        single call raises that call's own error.
        """
        return self._reader.parse_many(reply, format=format)

    def _schema_of(self, name: str) -> dict[str, Any] | None:
        tool = self._tools.get(name)
        return tool.schema if tool is not None else None

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
        problems: Sequence[ValidationProblem] = ()  # the usual case builds no list
        if not tool.parameters.issuperset(arguments):  # the usual case builds no set of extras
            unknown = arguments.keys() - tool.parameters
            if self.extra == "forbid":
                problems = [
                    ValidationProblem(str(k), "unexpected parameter", "extra_forbidden")
                    for k in sorted(map(str, unknown))
                ]
            arguments = {k: v for k, v in arguments.items() if k not in unknown}
        validator = tool.validator
        if validator is None:
            raise UsageError(f"tool {function!r} has no validator")
        try:
            validated = validator(arguments if isinstance(arguments, dict) else dict(arguments))
        except InvalidArguments as exc:
            raise CallValidationError(function, arguments, [*problems, *exc.problems], reply) from None
        if problems:
            raise CallValidationError(function, arguments, list(problems), reply)
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
            _dispatch.require_approval(tool, call, approve)
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
        tool = self._tools.get(call.function)
        validated = call._validated
        if tool is not None and call._tool is tool and validated is not None:
            handler = tool.handler
            if handler is not None and not tool.confirm:  # the usual call: nothing to prepare
                if tool.timeout is not None or tool.is_async:
                    return _dispatch.run(tool, validated, call)
                try:  # _dispatch.run()'s plain sync case, without its frame: once per routed command
                    return handler(*validated.args, **validated.kwargs)
                except Exception as exc:
                    raise _dispatch.handler_failed(tool, call, exc) from exc
        tool, validated, call = self._prepare(call, approve)
        return _dispatch.run(tool, validated, call)

    async def adispatch(self, call: Call, *, approve: Approver | None = None) -> Any:
        """Async twin of :meth:`dispatch`; sync handlers run in a worker thread."""
        tool, validated, call = self._prepare(call, approve)
        return await _dispatch.arun(tool, validated, call)

    # ---------------------------------------------------------------------------------- schemas

    def json_schema(self, *, copy: bool = True) -> dict[str, Any]:
        """JSON Schema of a valid reply for this ToolSet.

        A union over tools of ``{"function": <const name>, "params": <that tool's arguments schema>}``.

        Args:
            copy: ``True`` (default): a fresh plain dict the caller owns. ``False``: the cached
                schema itself, shared by every caller (each ``Request``), so it is deep-frozen
                (:class:`funcroute._frozen.FrozenDict`: a dict whose mutators raise ``TypeError``;
                ``json.dumps``, jsonschema and the grammar compilers read it as usual).
        """
        cached: dict[str, Any] | None = self._derived.get("json_schema")  # read for every request
        if cached is None:
            cached = self._cached("json_schema", self._reply_schema)
        if not copy:
            return cached
        copied: dict[str, Any] = thaw(cached)
        return copied

    @property
    def fingerprint(self) -> str:
        """A hash of everything the model sees or the grammar depends on (names, texts, schemas)."""
        cached = self._cached("fingerprint", self._fingerprint)
        return str(cached)

    def _reply_schema(self, tools: list[Tool]) -> dict[str, Any]:
        variants = []
        for tool in tools:
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
        frozen: dict[str, Any] = freeze(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "anyOf": variants}
        )
        return frozen

    def _fingerprint(self, tools: list[Tool]) -> str:
        payload = [(t.name, t.description, t.schema) for t in tools]
        text = json.dumps([payload, self.extra], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    # ------------------------------------------------------------------------------ from data

    @classmethod
    def from_file(cls, path: str | Path, *, bind_handlers: bool = True, **options: Any) -> ToolSet:
        """Load tools from a YAML/JSON tool file (see ``schemas/toolset.schema.json``).

        Handlers named as ``package.module:function`` are imported when ``bind_handlers`` is true:
        a tool file is trusted like code. Pass ``bind_handlers=False`` for files from elsewhere.
        """
        return cls(loaders.tools_from_file(Path(path), bind_handlers=bind_handlers), **options)

    @classmethod
    def from_openai(cls, specs: Iterable[Mapping[str, Any]], **options: Any) -> ToolSet:
        """Import OpenAI-style tool specs (``{"type": "function", "function": {...}}``), unbound."""
        return cls(tool_specs.tools_from_openai(specs), **options)

    @classmethod
    def from_bfcl(cls, function_docs: Iterable[Mapping[str, Any]], **options: Any) -> ToolSet:
        """Import BFCL function docs (an entry's ``"function"`` list), unbound."""
        return cls(tool_specs.tools_from_bfcl(function_docs), **options)

    def openai_tools(self) -> list[dict[str, Any]]:
        """Export every tool as an OpenAI-style tool spec."""
        return [tool_specs.tool_to_openai(t) for t in list(self._tools.values())]

    def bind(self, name: str, handler: Callable[..., Any]) -> None:
        """Attach a handler to a tool loaded from data (replacing any existing one)."""
        with self._lock:
            self._tools[name] = self[name].replace(handler=handler)
            self._generation += 1
            self._derived.clear()
