"""A validated function call: the value every stage after parsing hands on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Call"]


@dataclass(eq=False)
class Call:
    """A validated function call.

    Attributes:
        function: the tool's name.
        arguments: validated, JSON-compatible arguments (only those the model gave; defaults apply
            at dispatch).
        reply: the raw model reply the call was read from ("" when built by hand).
        provenance: where each top-level argument came from, when the selector tracked it (a span
            of the command, a choice, the default, or generated:
            :class:`funcroute.constrain.grounding.Provenance`); ``None`` otherwise.

    Treat a Call as read-only. (It is not frozen because frozen dataclasses cost a microsecond per
    construction on the hot path.) Dispatch re-validates any Call this ToolSet did not validate.
    """

    function: str
    arguments: dict[str, Any]
    reply: str = field(default="", repr=False)
    _tool: Any = field(default=None, repr=False)
    _validated: Any = field(default=None, repr=False)
    provenance: dict[str, Any] | None = field(default=None, repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Call):
            return NotImplemented
        return self.function == other.function and self.arguments == other.arguments

    def __hash__(self) -> int:
        return hash((self.function, json.dumps(self.arguments, sort_keys=True, default=str)))

    def to_dict(self) -> dict[str, Any]:
        """The call in the Airoboros reply shape: ``{"function": ..., "params": {...}}``."""
        return {"function": self.function, "params": self.arguments}
