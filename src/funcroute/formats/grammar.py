"""A tiny grammar language that formats build and constrained-decoding engines render.

Each format describes its replies with a few node types: literal delimiters (``<tool_call>``),
JSON values of a schema (the call's arguments), free text that ends at a delimiter (a reasoning
block, a raw XML parameter), and sequence / choice / optional / repetition. The constrain package
renders the same tree as an llguidance Lark grammar (transformers backend) or a llama.cpp GBNF
grammar, so a format is described once and constrained everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

__all__ = [
    "Alt",
    "Json",
    "Lit",
    "Many",
    "Node",
    "Opt",
    "Seq",
    "Text",
    "alt",
    "argument_list",
    "reasoning_then",
    "seq",
]


@dataclass(frozen=True)
class Lit:
    """Exactly this text."""

    text: str


@dataclass(frozen=True)
class Json:
    """One compact JSON value valid against ``schema``."""

    schema: Mapping[str, Any]


@dataclass(frozen=True)
class Text:
    """Free text up to the first ``until``, which ends it (and is part of it).

    Attributes:
        until: the delimiter that ends the text (the text never contains it before the end).
        max_chars: an upper bound on its length in characters; ``None``: the decode bounds' string
            length; above 4096: unbounded (GBNF ignores it: it cannot bound text cheaply).
    """

    until: str
    max_chars: int | None = None


@dataclass(frozen=True)
class Seq:
    """The items one after another."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    """One of the options."""

    options: tuple[Node, ...]


@dataclass(frozen=True)
class Opt:
    """The item, or nothing."""

    item: Node


@dataclass(frozen=True)
class Many:
    """One or more items, with ``separator`` between them."""

    item: Node
    separator: str = ""


Node = Union[Lit, Json, Text, Seq, Alt, Opt, Many]  # noqa: UP007 - a runtime alias, read by isinstance


def seq(*items: Node) -> Seq:
    """A sequence, flattening nested sequences."""
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, Seq) else (item,))
    return Seq(tuple(flat))


def alt(options: Sequence[Node]) -> Node:
    """A choice (the option itself when there is only one)."""
    return options[0] if len(options) == 1 else Alt(tuple(options))


def reasoning_then(call: Node, opening: str = "<think>", closing: str = "</think>") -> Node:
    """Free thinking until ``closing``, then ``call``.

    The opening tag is optional: chat templates often write it into the prompt.

    The thought is unconstrained text; the call after it follows the format's grammar.
    """
    return seq(Opt(Lit(opening)), Text(closing, max_chars=16384), Opt(Lit("\n\n")), call)


def argument_list(required: Sequence[Node], optional: Sequence[Node], separator: str) -> Node:
    """Every required argument, then any in-order subset of the optional ones, ``separator`` between.

    With no required argument, each optional one may open the list, so no separator ever leads.
    """
    if required:
        items: list[Node] = [required[0]]
        items += [seq(Lit(separator), node) for node in required[1:]]
        items += [Opt(seq(Lit(separator), node)) for node in optional]
        return seq(*items)
    if not optional:
        return Seq(())
    chains = [
        seq(first, *(Opt(seq(Lit(separator), node)) for node in optional[i + 1 :]))
        for i, first in enumerate(optional)
    ]
    return Opt(alt(chains))
