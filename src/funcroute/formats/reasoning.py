"""Reasoning blocks (``<think>...</think>`` and friends) removed before a reply is read.

Reasoning models (Qwen 3, DeepSeek R1, QwQ, Magistral, Kimi...) think aloud first, and their
thoughts often mention the call they are weighing (``I should call get_weather with {"city":
"Rome"}``). A call is only what comes outside the thought.

A tag counts only where a model writes one, never inside a value (``"keyword": "<think>"``): an
opening tag starts the reply or a line; a closing tag without an opening one (the chat template
wrote ``<think>`` into the prompt) ends a line or is followed directly by the call (``<``, ``[``,
``{`` or a fence). Closed blocks are dropped, a lone closing tag drops everything before it, and an
opening tag never closed (generation stopped mid-thought) drops the rest. Linear time.
"""

from __future__ import annotations

import re

__all__ = ["REASONING_TAGS", "has_reasoning", "strip_reasoning"]

#: (opening, closing) tag pairs of reasoning blocks.
REASONING_TAGS: tuple[tuple[str, str], ...] = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<reasoning>", "</reasoning>"),
    ("[THINK]", "[/THINK]"),
    ("◁think▷", "◁/think▷"),
)
_ANY = re.compile("|".join(re.escape(tag) for pair in REASONING_TAGS for tag in pair))
_OPENING = {opening: re.compile(r"(?:\A|\n)[ \t]*" + re.escape(opening)) for opening, _ in REASONING_TAGS}
_LONE_CLOSING = {
    closing: re.compile(re.escape(closing) + r"(?=[ \t]*(?:\r?\n|\Z)|[<\[{`])")
    for _, closing in REASONING_TAGS
}


# A YAML key right before a tag on its line: "keyword: </thinking>" is a value, not the end of a thought.
_YAML_KEY_PREFIX = re.compile(r"^[ \t]*(?:- )?[\w.-]+:[ \t]*$")


def _lone_closing(text: str, closing: str) -> re.Match[str] | None:
    """The first closing tag that ends a line as the end of a thought does (not a YAML value)."""
    for found in _LONE_CLOSING[closing].finditer(text):
        line_start = text.rfind("\n", 0, found.start()) + 1
        if not _YAML_KEY_PREFIX.match(text[line_start : found.start()]):
            return found
    return None


def has_reasoning(text: str) -> bool:
    """Whether ``text`` holds any reasoning tag (a cheap test; :func:`strip_reasoning` decides)."""
    return _ANY.search(text) is not None


def strip_reasoning(text: str) -> str:
    """``text`` without its reasoning blocks (unchanged when it has none)."""
    changed = False
    for opening, closing in REASONING_TAGS:
        if opening not in text and closing not in text:
            continue
        first_open = _OPENING[opening].search(text)
        lone = _lone_closing(text, closing)
        if lone is not None and (first_open is None or lone.start() < first_open.start()):
            text, changed = text[lone.end() :], True
        kept: list[str] = []
        pos = 0
        while True:
            found = _OPENING[opening].search(text, pos)
            if found is None:
                kept.append(text[pos:])
                break
            start = found.end() - len(opening)
            kept.append(text[pos:start])
            changed = True
            end = text.find(closing, found.end())
            if end == -1:
                break  # an unclosed thought: the rest is thinking
            pos = end + len(closing)
        text = "".join(kept)
    return text.strip() if changed else text
