"""The router's side of native prompts: a model's own chat template, tool format and grammar.

With ``Router(chat_template=NativeTemplate...)`` the router renders the tools through the model's
template (instead of the Airoboros selection prompt), reads replies in the template's format, and,
when constrained, sends the format's grammar (a free thought first for reasoning models).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from funcroute.formats import AUTO, ToolCallFormat, get_format
from funcroute.formats.grammar import Node, reasoning_then
from funcroute.prompts.native import NativeTemplate
from funcroute.tools.toolset import ToolSet

__all__ = ["NativeSetup"]

REPAIR = (
    "Your previous response was not a valid tool call.\n{error}\n\n"
    "Call the tool again with corrected arguments, in the same format."
)


@dataclass
class NativeSetup:
    """What a router needs to talk to a model in its own format.

    Attributes:
        template: the model's chat template.
        format: the format replies are read in (``None``: sniffed, ``format="auto"``).
    """

    template: NativeTemplate
    format: ToolCallFormat | None

    @classmethod
    def build(cls, template: NativeTemplate, tool_format: str | ToolCallFormat | None) -> NativeSetup:
        """The setup for ``template``; ``tool_format`` overrides the format the template shows."""
        if tool_format is not None and tool_format != AUTO:
            return cls(template, get_format(tool_format))
        return cls(template, None if tool_format == AUTO else template.format)

    @property
    def parse_format(self) -> str | ToolCallFormat:
        """The ``format=`` argument for :meth:`ToolSet.parse`."""
        return self.format if self.format is not None else AUTO

    def prompt(
        self,
        tools: ToolSet,
        names: Sequence[str] | None,
        command: str,
        history: Sequence[tuple[str, str]],
        turn: str,
    ) -> str:
        """The whole prompt: earlier turns, then ``turn`` (the command, or repair feedback)."""
        shown = tools if names is None else tools.subset(names)
        messages: list[dict[str, Any]] = []
        for user, reply in history:
            messages.append({"role": "user", "content": user})
            messages.append({"role": "assistant", "content": reply})
        messages.append({"role": "user", "content": turn})
        return self.template.render(messages, shown.openai_tools())

    def grammar(self, tools: ToolSet, names: Sequence[str] | None) -> Node | None:
        """The format's grammar over the shown tools (``None`` when the format is unknown)."""
        if self.format is None:
            return None
        shown = list(tools) if names is None else [tools[n] for n in names]
        node = self.format.grammar([(t.name, t.schema) for t in shown])
        return reasoning_then(node) if self.template.reasoning else node

    @property
    def stop(self) -> tuple[str, ...]:
        """Stop strings: the template's end of turn."""
        return (self.template.eos_token,) if self.template.eos_token else ()
