"""The LLM selector: render the tools into a prompt, ask a backend, read and repair its reply.

One command is a :class:`~funcroute.routing.repair.Conversation`: the selection prompt inside the
chat template (or the model's own template and tool format), the reply read with
:meth:`ToolSet.parse`, and on a model mistake a repair turn that quotes the exact errors.
:meth:`LLMSelector.select_many` sends every unfinished conversation to the backend at once, round
after round, so repairs are batched too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from funcroute.backends.base import Backend, Completion, Request
from funcroute.errors import BackendError, FuncRouteError, ModelOutputError, UsageError
from funcroute.formats import ToolCallFormat
from funcroute.parsing import end_of_first_call, end_of_first_yaml_call
from funcroute.prompts.native import NativeTemplate
from funcroute.prompts.selection import Format, selection_prompt
from funcroute.prompts.templates import ChatTemplate, get_template
from funcroute.routing.native import REPAIR as NATIVE_REPAIR
from funcroute.routing.native import NativeSetup
from funcroute.routing.repair import Conversation, RepairLoop
from funcroute.routing.selector import Outcome, Selection, Selector, checked_command
from funcroute.tools.call import Call
from funcroute.tools.toolset import _RENDER_KEYS, ToolSet

__all__ = ["LLMSelector", "ToolSelector"]

#: Chooses which tool names to show the model for a command (``None``: all of them).
ToolSelector = Callable[[str], Sequence[str] | None]

_REPAIR = (
    "Your previous response was not a valid function call.\n{error}\n\n"
    "Respond again with only the corrected function call in {fmt} format."
)


class LLMSelector(Selector):
    """Choose calls by asking a language model, with a repair loop on its mistakes.

    Args:
        backend: the model.
        format: ask the model for ``"json"`` or ``"yaml"`` replies.
        template: chat template name or object (see :mod:`funcroute.prompts.templates`).
        max_retries: repair turns after the first attempt.
        max_new_tokens: generation budget per attempt.
        constrained: whether requests carry the call JSON Schema (or the tool format's grammar), so
            backends that can constrain decoding emit only valid calls. ``None``: with JSON format.
            ``True`` needs JSON format (the grammar describes JSON).
        show_types: append type notes to parameter lines in the prompt.
        tool_selector: chooses which tools to show the model per command (retrieval for large
            catalogs); the validator still knows every tool.
        max_tools: show only the ``max_tools`` tools most similar to each command (retrieval with
            the bundled sentence encoder, built only when the catalog is larger).
        max_prompt_tokens: also keep the rendered tools under this many (estimated) tokens.
        schema_for: the reply schema for a command (e.g. grounded arguments); ``None`` from it, or no
            function: the whole ToolSet's schema.
        chat_template: a model's own chat template: tools rendered its way, replies read in its tool
            format, constrained decoding with that format's grammar.
        tool_format: the format replies are read in (``"auto"`` sniffs).
    """

    name = "llm"

    def __init__(
        self,
        backend: Backend,
        *,
        format: Format = "json",
        template: str | ChatTemplate = "airoboros-2",
        max_retries: int = 2,
        max_new_tokens: int = 256,
        constrained: bool | None = None,
        show_types: bool = False,
        tool_selector: ToolSelector | None = None,
        max_tools: int | None = None,
        max_prompt_tokens: int | None = None,
        schema_for: Callable[[str], dict[str, Any] | None] | None = None,
        chat_template: NativeTemplate | None = None,
        tool_format: str | ToolCallFormat | None = None,
    ) -> None:
        if not isinstance(backend, Backend):
            raise UsageError(f"LLMSelector needs a Backend, got {type(backend).__name__}")
        if format not in ("json", "yaml"):
            raise UsageError(f"format must be 'json' or 'yaml', got {format!r}")
        if max_retries < 0:
            raise UsageError(f"max_retries must be >= 0, got {max_retries}")
        if constrained and format != "json":
            raise UsageError(
                "constrained decoding produces JSON calls: use format='json' with constrained=True"
            )
        self.backend = backend
        self.deterministic = getattr(backend, "deterministic", False) is True
        self.format: Format = format
        self.template = get_template(template)
        self.max_retries = max_retries
        self.max_new_tokens = max_new_tokens
        self.constrained = format == "json" if constrained is None else constrained
        self.show_types = show_types
        self.tool_selector = tool_selector
        self._retrieval = (max_tools, max_prompt_tokens)
        self._index: tuple[ToolSet, ToolSelector] | None = None
        self._lock = threading.Lock()
        self.schema_for = schema_for
        self.native = NativeSetup.build(chat_template, tool_format) if chat_template is not None else None
        self.tool_format: str | ToolCallFormat = (
            self.native.parse_format if self.native is not None else (tool_format or "auto")
        )
        self._valid_reason: tuple[str | None, str] = (None, "")
        self.loop: RepairLoop[Call] = RepairLoop(
            backend, max_retries, self._request, self._read, self._repair_turn
        )

    # ------------------------------------------------------------------------------ one command

    def start(
        self,
        tools: ToolSet,
        command: str,
        *,
        names: Sequence[str] | None = None,
        schema: dict[str, Any] | None = None,
    ) -> Conversation[Call]:
        """A new conversation for ``command`` (``names``/``schema``: the tools shown, the reply schema)."""
        if not isinstance(command, str) or not command.strip():  # checked_command(), inlined
            checked_command(command)
        if names is not None:
            shown: list[str] | None = list(names)
        elif self.tool_selector is None and self._retrieval == (None, None):
            shown = None  # every tool is shown (the usual case: no selector, no retrieval)
        else:
            shown = self._shown(tools, command)
        unknown = [n for n in shown if n not in tools] if shown else None
        if unknown:
            raise UsageError(
                "tool_selector chose tools this router does not have (unknown, or not allowed): "
                + ", ".join(map(str, unknown))
            )
        if self.native is not None:
            turn = command
        else:
            # tools.prompt()'s usual case without its frame: every tool shown, the block cached.
            block = None if shown is not None else tools._derived.get(_RENDER_KEYS[bool(self.show_types)])
            if block:
                turn = selection_prompt(command, (block,), self.format)
            else:
                turn = tools.prompt(command, self.format, tools=shown, show_types=self.show_types)
        context = {"tools": tools, "names": shown, "schema": schema}
        return Conversation(command, turn, context=context)

    def select(
        self,
        tools: ToolSet,
        command: str,
        *,
        names: Sequence[str] | None = None,
        schema: dict[str, Any] | None = None,
    ) -> Selection:
        """Ask the model for a call of ``tools`` (of ``names`` only, under ``schema``, when given)."""
        conv = self.start(tools, command, names=names, schema=schema)
        call = self.loop.run(conv)
        valid = self._valid_reason
        if len(conv.attempts) == 1 and valid[0] is self.backend.name:  # _why()'s usual case, inlined
            return Selection(call, conv.attempts, "model", valid[1])
        return Selection(call, conv.attempts, "model", self._why(conv))

    async def aselect(
        self,
        tools: ToolSet,
        command: str,
        *,
        names: Sequence[str] | None = None,
        schema: dict[str, Any] | None = None,
    ) -> Selection:
        """Async twin of :meth:`select` (the backend's ``acomplete``)."""
        conv = self.start(tools, command, names=names, schema=schema)
        call = await self.loop.arun(conv)
        return Selection(call, conv.attempts, "model", self._why(conv))

    def _why(self, conv: Conversation[Call]) -> str:
        repairs = len(conv.attempts) - 1
        name = self.backend.name
        if self._valid_reason[0] is not name:  # built once per backend name, not per command
            self._valid_reason = (name, f"{name} replied with a valid call")
        reason = self._valid_reason[1]
        return reason + f" after {repairs} repair{'s' * (repairs > 1)}" if repairs else reason

    # ----------------------------------------------------------------------------------- batches

    def select_many(
        self,
        tools: ToolSet,
        commands: Sequence[str],
        on_done: Callable[[int, Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Decide many commands; each round sends every unfinished conversation to the backend at once."""
        outcomes: list[Outcome | None] = [None] * len(commands)

        def settle(index: int, outcome: Outcome) -> None:
            outcomes[index] = outcome
            if on_done is not None:
                on_done(index, outcome)

        live: dict[int, Conversation[Call]] = {}
        for index, command in enumerate(commands):
            try:
                live[index] = self.start(tools, command)
            except FuncRouteError as exc:
                settle(index, exc)
        while live:
            order = list(live)
            requests = [self._request(live[i]) for i in order]
            start = time.perf_counter()
            completions = self._complete_all(requests)
            elapsed = (time.perf_counter() - start) / max(len(requests), 1)
            for index, request, completion in zip(order, requests, completions, strict=True):
                conv = live[index]
                if isinstance(completion, FuncRouteError):
                    del live[index]
                    settle(index, completion)
                    continue
                self.loop.absorb(conv, request, completion, elapsed)
                if self.loop.done(conv):
                    del live[index]
                    try:
                        call = self.loop.finish(conv)
                    except ModelOutputError as exc:
                        settle(index, exc)
                    else:
                        settle(index, Selection(call, conv.attempts, "model", self._why(conv)))
        return [o for o in outcomes if o is not None]

    def _complete_all(self, requests: Sequence[Request]) -> list[Completion | FuncRouteError]:
        """One batch; after a failed batch each request is retried alone (one bad request fails alone)."""
        try:
            completions: list[Completion | FuncRouteError] = list(self.backend.complete_many(requests))
        except FuncRouteError:
            completions = []
            for request in requests:
                try:
                    completions.append(self.backend.complete(request))
                except FuncRouteError as exc:
                    completions.append(exc)
        if len(completions) != len(requests):
            raise BackendError(
                self.backend.name, f"returned {len(completions)} completions for {len(requests)} requests"
            )
        return completions

    # ----------------------------------------------------------------------------- the loop's steps

    def _request(self, conv: Conversation[Call]) -> Request:
        tools: ToolSet = conv.context["tools"]
        names: list[str] | None = conv.context["names"]
        native = self.native
        if native is not None:
            return Request(
                prompt=native.prompt(tools, names, conv.command, conv.history, conv.user_turn),
                stop=native.stop,
                max_new_tokens=self.max_new_tokens,
                user_input=conv.command,
                grammar=native.grammar(tools, names) if self.constrained else None,
            )
        schema: dict[str, Any] | None = None
        if self.constrained:
            schema = conv.context["schema"]
            if schema is None and self.schema_for is None:
                # The usual case, without the two calls: tools.json_schema(copy=False)'s cache hit.
                schema = tools._derived.get("json_schema")
            if schema is None:
                schema = self._schema(tools, conv)
        template = self.template
        if conv.history or template.format_string is not None or type(template) is not ChatTemplate:
            prompt = template.render(conv.user_turn, conv.history)
        else:  # render()'s first turn, without its frame: the prompt of every command's first request
            head, tail = template._first_turn
            prompt = head + conv.user_turn + tail
        # Positional (in Request's field order): this runs once per model round trip.
        return Request(
            prompt,
            template.stop,  # stop
            self.max_new_tokens,
            end_of_first_call if self.format == "json" else end_of_first_yaml_call,  # stop_when
            conv.command,  # user_input
            self.format,
            schema,
        )

    def _schema(self, tools: ToolSet, conv: Conversation[Call]) -> dict[str, Any]:
        schema = conv.context["schema"]
        if schema is None and self.schema_for is not None:
            schema = self.schema_for(conv.command)
        return schema if schema is not None else tools.json_schema(copy=False)

    def _read(self, conv: Conversation[Call], text: str) -> Call:
        tools: ToolSet = conv.context["tools"]
        if type(tools) is ToolSet:  # ToolSet.parse is one line, skipped; a subclass may override it
            return tools._reader.parse(text, format=self.tool_format)
        return tools.parse(text, format=self.tool_format)

    def _repair_turn(self, error: ModelOutputError) -> str:
        repair = NATIVE_REPAIR if self.native is not None else _REPAIR
        return repair.format(error=error.feedback, fmt=self.format.upper())

    def _shown(self, tools: ToolSet, command: str) -> list[str] | None:
        chosen: Sequence[str] | None
        if self.tool_selector is not None:
            chosen = self.tool_selector(command)
        else:
            chosen = self._retrieved(tools, command)
        return None if chosen is None else list(chosen)

    def _retrieved(self, tools: ToolSet, command: str) -> Sequence[str] | None:
        """Retrieval for ``max_tools``/``max_prompt_tokens``: the index is built on first need only."""
        k, max_tokens = self._retrieval
        if k is None and max_tokens is None:
            return None
        if max_tokens is None and k is not None and len(tools) <= k:
            return None  # everything fits: the encoder is never loaded
        with self._lock:
            if self._index is None or self._index[0] is not tools:  # one ToolSet per router, in practice
                from funcroute.offline.retrieval import ToolIndex

                self._index = (tools, ToolIndex(tools).selector(k=k, max_tokens=max_tokens))
            select = self._index[1]
        return select(command)
