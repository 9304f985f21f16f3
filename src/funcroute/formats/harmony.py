"""gpt-oss Harmony: messages on channels; calls go to ``functions.NAME`` on the commentary channel.

A gpt-oss reply looks like::

    <|channel|>analysis<|message|>The user wants the weather...<|end|>
    <|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>
    {"city": "Paris"}<|call|>

(shown on two lines; the arguments follow ``<|message|>`` directly).

The analysis channel (the model's reasoning) is skipped; every message addressed ``to=functions.X``
(in the channel header or the role header) is a call whose body is JSON arguments. When no message
is a call, the final channel's text is read as an ordinary reply.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from funcroute.formats.base import (
    DEFAULT_LIMITS,
    MAX_CALLS,
    ArgHints,
    CallSpec,
    ToolCallFormat,
    ToolSpec,
    checked_call,
    json_calls,
    params_schema,
)
from funcroute.formats.grammar import Json, Lit, Many, Node, Opt, Text, alt, seq
from funcroute.parsing import ParseLimits, RawCall, iter_documents

__all__ = ["Harmony"]

START, MESSAGE, CHANNEL = "<|start|>", "<|message|>", "<|channel|>"
_ENDS = ("<|end|>", "<|call|>", "<|return|>")


def _recipient(header: str) -> str | None:
    at = header.find("to=")
    if at == -1:
        return None
    name = header[at + 3 :].split(None, 1)[0] if header[at + 3 :].strip() else ""
    name = name.split("<|", 1)[0]
    return name.removeprefix("functions.") or None


class Harmony(ToolCallFormat):
    """``<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{...}<|call|>``."""

    name = "harmony"
    markers = (CHANNEL, "to=functions.")
    template_markers = ("<|channel|>", "<|constrain|>")
    description = "gpt-oss Harmony: to=functions.NAME on the commentary channel; analysis skipped"

    def read(
        self, text: str, limits: ParseLimits = DEFAULT_LIMITS, hints: ArgHints | None = None
    ) -> list[RawCall]:
        """Every message addressed to a function, in order; else the final channel's call."""
        found: list[RawCall] = []
        final: list[str] = []
        for part in text.split(START, MAX_CALLS * 4)[: MAX_CALLS * 4]:
            header, has_message, content = part.partition(MESSAGE)
            if not has_message:
                continue
            for end in _ENDS:
                content = content.split(end, 1)[0]
            name = _recipient(header)
            if name is not None:
                args = next((d for d in iter_documents(content, limits) if isinstance(d, dict)), None)
                found.append(
                    checked_call(name, args, limits, text) if args is not None else RawCall(name, content)
                )
            elif "analysis" not in header:
                final.append(content)
            if len(found) >= MAX_CALLS:
                break
        if found:
            return found
        return json_calls("\n".join(final), limits) if final else []

    def write(self, calls: Sequence[CallSpec]) -> str:
        """One commentary message per call (the first continues the prompt's ``<|start|>assistant``)."""
        parts = []
        for index, (name, args) in enumerate(calls):
            head = "" if index == 0 else f"{START}assistant"
            body = json.dumps(dict(args), ensure_ascii=False)
            parts.append(
                f"{head}{CHANNEL}commentary to=functions.{name} <|constrain|>json{MESSAGE}{body}<|call|>"
            )
        return "".join(parts)

    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """Free analysis until ``<|end|>``, then one commentary message per call with JSON arguments."""
        analysis = seq(
            Lit(f"{CHANNEL}analysis{MESSAGE}"),
            Text("<|end|>", max_chars=16384),
            Lit(f"{START}assistant"),
        )
        call = alt(
            [
                seq(
                    Lit(f"{CHANNEL}commentary to=functions.{name} <|constrain|>json{MESSAGE}"),
                    Json(params_schema(schema)),
                    Lit("<|call|>"),
                )
                for name, schema in tools
            ]
        )
        return seq(Opt(analysis), Many(call, f"{START}assistant") if parallel else call)
