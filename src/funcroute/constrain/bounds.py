"""Bound a reply schema so that a constrained decoder always reaches the end of the call.

A grammar guarantees that every token keeps the text valid, not that the text ever ends: a weak
model happily writes one string, number or list forever. Before compiling, every open-ended node
gets a finite bound that a real call is far from: strings get ``maxLength``, integers and numbers a
range, arrays ``maxItems``, free-form objects ``maxProperties``, and an unconstrained value (``{}``,
BFCL's ``any``) becomes a scalar or a short list of scalars.

Non-integer numbers get no range: a range makes llguidance refuse exponents (``8.854e-12`` would
become ``8.854``). Their digit runs are bounded while decoding instead
(:class:`funcroute.constrain.decode.DigitGuard`), so a runaway number still ends.

Bounds only shape decoding. Validation still uses the tool's own schema, so a value the grammar
could produce is never rejected for a bound added here. User-given bounds are kept.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

__all__ = ["DecodeBounds", "bound_schema"]


@dataclass(frozen=True)
class DecodeBounds:
    """Limits added to open-ended schema nodes before compiling a grammar.

    Attributes:
        max_string_chars: ``maxLength`` for strings without one.
        max_abs_number: numbers and integers lie within ``±max_abs_number``.
        max_fraction_digits: unused (kept for compatibility); digit runs of numbers are bounded by
            :class:`funcroute.constrain.decode.DigitGuard` while decoding.
        max_items: ``maxItems`` for arrays without one.
        max_properties: ``maxProperties`` for objects that admit arbitrary keys.
    """

    max_string_chars: int = 256
    max_abs_number: int = 10**12
    max_fraction_digits: int = 8
    max_items: int = 32
    max_properties: int = 16


def bound_schema(schema: dict[str, Any], bounds: DecodeBounds) -> dict[str, Any]:
    """A copy of ``schema`` with every open-ended node bounded (see the module docstring)."""
    result = copy.deepcopy(schema)
    _bound(result, bounds)
    return result


_KEYWORDS_THAT_CONSTRAIN = ("type", "enum", "const", "anyOf", "oneOf", "allOf", "properties", "items", "$ref")
_CHILD_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_KEY_PATTERN = r"^[A-Za-z0-9_ .:/@+-]{1,64}$"


def _scalar_or_list(bounds: DecodeBounds) -> dict[str, Any]:
    scalar: list[dict[str, Any]] = [
        {"type": "string", "maxLength": bounds.max_string_chars},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
    ]
    return {"anyOf": [*scalar, {"type": "array", "items": {"anyOf": scalar}, "maxItems": bounds.max_items}]}


def _bound(node: Any, bounds: DecodeBounds) -> None:
    if not isinstance(node, dict):
        return
    if not any(key in node for key in _KEYWORDS_THAT_CONSTRAIN):
        description = node.get("description")
        node.clear()
        node.update(_scalar_or_list(bounds))
        if description is not None:
            node["description"] = description
        return
    kinds = node.get("type")
    types = {kinds} if isinstance(kinds, str) else set(kinds or ())
    if "string" in types and not {"enum", "const", "pattern", "format"} & node.keys():
        node.setdefault("maxLength", bounds.max_string_chars)
    if "integer" in types and "number" not in types:
        if "minimum" not in node and "exclusiveMinimum" not in node:
            node["minimum"] = -bounds.max_abs_number
        if "maximum" not in node and "exclusiveMaximum" not in node:
            node["maximum"] = bounds.max_abs_number
    if "array" in types or "items" in node:
        node.setdefault("maxItems", bounds.max_items)
        if "items" not in node and "prefixItems" not in node:
            node["items"] = _scalar_or_list(bounds)["anyOf"][0]
    if "object" in types or "properties" in node:
        extra = node.get("additionalProperties", True)
        if node.get("properties") and extra is True:
            # Unknown keys are dropped or refused by validation anyway; letting the model invent
            # them only gives it an unbounded key string to wander in.
            node["additionalProperties"] = False
        elif extra is not False and not node.get("patternProperties"):
            # A free-form mapping: bound its keys too (llguidance has no propertyNames), to 64
            # characters of the kinds keys are made of.
            node.setdefault("maxProperties", bounds.max_properties)
            value = extra if isinstance(extra, dict) else _scalar_or_list(bounds)
            node["patternProperties"] = {_KEY_PATTERN: value}
            node["additionalProperties"] = False
    for key in ("items", "additionalProperties", "not"):
        _bound(node.get(key), bounds)
    for key in _CHILD_LISTS:
        for sub in node.get(key) or ():
            _bound(sub, bounds)
    for key in ("properties", "patternProperties"):
        for sub in (node.get(key) or {}).values():
            _bound(sub, bounds)
