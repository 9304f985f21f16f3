"""The home formats: an Airoboros JSON or YAML call, as the models were trained to write it.

Reading reuses :mod:`funcroute.parsing` unchanged (fences, prose, YAML, repair, cheapest first);
:meth:`ToolSet.parse <funcroute.tools.ToolSet.parse>` keeps its own fast path for these formats.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

from funcroute.formats.base import (
    DEFAULT_LIMITS,
    ArgHints,
    CallSpec,
    ToolCallFormat,
    ToolSpec,
    call_object_schema,
    json_calls,
)
from funcroute.formats.grammar import Json, Lit, Node, Opt, seq
from funcroute.formats.reasoning import has_reasoning
from funcroute.parsing import ParseLimits, RawCall

__all__ = ["AiroborosJson", "AiroborosYaml"]


class _NoAliasDumper(yaml.SafeDumper):
    """Writes repeated values out in full: the reader refuses aliases (no billion laughs)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # A plain scalar ending a line with "</thinking>" reads as the end of a reasoning block (the
    # reader drops what came before it); quoted, the tag is inside a value.
    style = '"' if has_reasoning(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_NoAliasDumper.add_representer(str, _represent_str)


def _docs(calls: Sequence[CallSpec]) -> Any:
    docs = [{"function": name, "params": dict(arguments)} for name, arguments in calls]
    return docs[0] if len(docs) == 1 else docs


class AiroborosJson(ToolCallFormat):
    """``{"function": ..., "params": {...}}`` in a ```json fence (a JSON list for several calls)."""

    name = "airoboros-json"
    description = 'Airoboros JSON: {"function": "name", "params": {...}}, fenced or not'

    def read(
        self, text: str, limits: ParseLimits = DEFAULT_LIMITS, hints: ArgHints | None = None
    ) -> list[RawCall]:
        """Every call of the first JSON/YAML document that holds any."""
        return json_calls(text, limits)

    def write(self, calls: Sequence[CallSpec]) -> str:
        """The model card's reply: pretty JSON in a ```json fence."""
        return "```json\n" + json.dumps(_docs(calls), indent=2, ensure_ascii=False) + "\n```"

    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """Compact JSON (``[call, ...]`` when parallel), one optional leading space."""
        call = Json(call_object_schema(tools, "function", "params"))
        if parallel:
            return seq(Opt(Lit(" ")), Json({"type": "array", "items": call.schema, "minItems": 1}))
        return seq(Opt(Lit(" ")), call)


_YAML_BREAKS = ("\x85", "\u2028", "\u2029")


class AiroborosYaml(AiroborosJson):
    """The YAML variant of the training data: ``function: name`` then ``params:``."""

    name = "airoboros-yaml"
    description = "Airoboros YAML: function: name / params: mapping"

    def write(self, calls: Sequence[CallSpec]) -> str:
        """The YAML reply (a YAML list for several calls)."""
        docs = _docs(calls)
        text = yaml.dump(docs, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True)
        # PyYAML writes NEL and the Unicode line/paragraph separators raw inside quoted scalars, and
        # reads them back as line breaks: then the values are written escaped (ASCII) instead.
        if any(c in text for c in _YAML_BREAKS):
            text = yaml.dump(docs, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=False)
        return text
