"""A proposed change to ``funcroute.grounding.grounded_schema``, tried from the bench (src untouched).

Two failure patterns of the grounded grammar on BFCL ``simple_python`` (bench/cascade.py,
model+grounding against model only):

1. **An optional string parameter is forced onto a span of the command.** The grounded schema
   offers only spans for it, and a small model writes every parameter it is shown: ``unit:
   "kilometers"`` (its description says the default is ``km/h``), ``format: "DNA123"`` (default
   ``fasta``), ``match_format: "matches"`` (default ``T20``); BFCL tools state defaults in the
   description, so the schema's ``default`` cannot be offered instead. Two candidate changes:
   ``drop`` — an optional span-grounded string leaves the schema (the tool's default applies, as
   optional numbers already do when the command has no spare value); ``free`` — it stays, ungrounded,
   under its schema (the model may write the default it read in the description). E-mails, URLs,
   paths and numbers stay grounded either way, so the safety property is kept.
2. **The spare-number rule counts integers and numbers apart.** ``current``/``radius`` (integers)
   take the command's two numbers, yet the optional *number* ``permeability`` is still offered them
   (``needed`` counts only required *number* parameters: 0), and gets ``4``. Change: integer and
   number parameters count together.

:func:`grounded_schema_fixed` is ``grounded_schema`` with those edits (marked ``# FIX``);
:func:`install` swaps it in where the cascade looks it up.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Literal

import funcroute.cascade
from funcroute._mentions import find_mentions
from funcroute.grounding import _candidates, _grounding_kind
from funcroute.tools import ToolSet

__all__ = ["grounded_schema_fixed", "install", "variant"]

_NUMERIC = ("integer", "number")


Variant = Literal["drop", "free"]


def grounded_schema_fixed(
    tools: ToolSet, names: Sequence[str], command: str, optional_strings: Variant = "drop"
) -> dict[str, Any] | None:
    """``funcroute.grounding.grounded_schema`` with the two changes of this module's docstring."""
    mentions = find_mentions(command)
    variants = []
    for variant in tools.subset(list(names)).json_schema()["anyOf"]:
        params = variant["properties"]["params"]
        properties: dict[str, Any] = params.get("properties") or {}
        required = set(params.get("required") or ())
        callable_ = True
        kinds = {
            name: _grounding_kind(name, spec) if isinstance(spec, dict) else None
            for name, spec in properties.items()
        }
        for name, spec in list(properties.items()):
            kind = kinds[name]
            if kind is None:
                continue
            if name not in required and kind == "span":  # FIX 1
                if optional_strings == "drop":
                    del properties[name]
                continue
            values = _candidates(kind, mentions, spec, command, name in required)
            if name not in required and kind != "span" and values:
                same = _NUMERIC if kind in _NUMERIC else (kind,)  # FIX 2: integers and numbers together
                needed = sum(1 for other, k in kinds.items() if k in same and other in required)
                if len(values) <= needed:
                    values = []
            if values:
                properties[name] = {"enum": values, **{k: v for k, v in spec.items() if k == "description"}}
            elif name in required:
                callable_ = False
                break
            else:
                del properties[name]
        if callable_:
            variants.append(copy.deepcopy(variant))
    if not variants:
        return None
    return {"anyOf": variants}


def variant(optional_strings: Variant) -> Any:
    """:func:`grounded_schema_fixed` with ``optional_strings`` bound (the signature of the original)."""

    def schema(tools: ToolSet, names: Sequence[str], command: str) -> dict[str, Any] | None:
        return grounded_schema_fixed(tools, names, command, optional_strings)

    return schema


def install(optional_strings: Variant = "drop") -> Any:
    """Make :class:`funcroute.cascade.Cascade` use the fixed function; returns that function."""
    fixed = variant(optional_strings)
    funcroute.cascade.grounded_schema = fixed  # type: ignore[attr-defined]
    return fixed
