"""Qwen3-Coder XML calls: ``<function=name><parameter=key>value</parameter></function>``.

Qwen3-Coder (and Qwen3-Next / GLM-style templates that copied it) write::

    <tool_call>
    <function=get_weather>
    <parameter=city>
    Paris
    </parameter>
    </function>
    </tool_call>

Values carry no type: text stays text where the tool's schema admits a string, and is read as
JSON (numbers, booleans, lists, objects) where it wants something else, as Qwen's own parser does.
One newline after ``<parameter=...>`` and one before ``</parameter>`` belong to the markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from funcroute.formats.base import (
    ArgHints,
    BlockFormat,
    CallSpec,
    ToolSpec,
    blocks,
    checked_call,
    coerce_text,
    object_call,
)
from funcroute.formats.grammar import Json, Lit, Many, Node, Opt, Text, alt, seq
from funcroute.parsing import ParseLimits, RawCall

__all__ = ["QwenXml"]

FUNCTION, END_FUNCTION = "<function=", "</function>"
PARAMETER, END_PARAMETER = "<parameter=", "</parameter>"


def _value_text(raw: str) -> str:
    raw = raw.removeprefix("\r\n") if raw.startswith("\r\n") else raw.removeprefix("\n")
    return raw.removesuffix("\n")


class QwenXml(BlockFormat):
    """``<tool_call><function=name><parameter=key>value</parameter>...</function></tool_call>``."""

    name = "qwen3-xml"
    markers = (FUNCTION,)
    template_markers = ("<function=", "<parameter=")
    description = "Qwen3-Coder XML: <function=name><parameter=key>value</parameter></function>"

    opening, closing = FUNCTION, END_FUNCTION

    def read_block(self, body: str, text: str, limits: ParseLimits, hints: ArgHints | None) -> list[RawCall]:
        """The ``<function=...>`` element's call."""
        name, _, rest = body.partition(">")
        name = name.strip().strip("\"'")
        if PARAMETER not in rest and rest.lstrip().startswith("{"):
            # Llama 3.1's custom-tool form: <function=name>{"key": "value"}</function>
            return [object_call(name, rest, limits, text)]
        arguments: dict[str, Any] = {}
        schema = hints(name) if hints is not None else None
        props = schema.get("properties") if isinstance(schema, Mapping) else None
        for param in blocks(rest, PARAMETER, END_PARAMETER):
            key, _, raw = param.partition(">")
            key = key.strip().strip("\"'")
            prop = props.get(key) if isinstance(props, Mapping) else None
            arguments[key] = coerce_text(_value_text(raw), prop if isinstance(prop, Mapping) else None)
        return [checked_call(name, arguments, limits, text)]

    def write(self, calls: Sequence[CallSpec]) -> str:
        """One ``<tool_call>`` block per call; strings raw, other values as JSON."""
        out = []
        for name, args in calls:
            params = "".join(
                f"{PARAMETER}{key}>\n{_text(value)}\n{END_PARAMETER}\n" for key, value in args.items()
            )
            out.append(f"<tool_call>\n{FUNCTION}{name}>\n{params}{END_FUNCTION}\n</tool_call>")
        return "\n".join(out)

    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """The XML block with the tool's parameters in schema order (optional ones may be left out)."""
        block = alt([_block(name, schema) for name, schema in tools])
        return Many(block, "\n") if parallel else block


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _value(schema: Mapping[str, Any]) -> Node:
    if schema.get("enum") and all(isinstance(v, str) for v in schema["enum"]):
        return seq(alt([Lit(v) for v in schema["enum"]]), Lit("\n" + END_PARAMETER))
    if schema.get("type") == "string":
        return Text("\n" + END_PARAMETER, max_chars=schema.get("maxLength"))
    return seq(Json(schema), Lit("\n" + END_PARAMETER))


def _block(name: str, schema: Mapping[str, Any]) -> Node:
    props: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    items: list[Node] = [Lit(f"<tool_call>\n{FUNCTION}{name}>\n")]
    for key, prop in props.items():
        param = seq(Lit(f"{PARAMETER}{key}>\n"), _value(prop), Lit("\n"))
        items.append(param if key in required else Opt(param))
    items.append(Lit(f"{END_FUNCTION}\n</tool_call>"))
    return seq(*items)
