"""Reasoning blocks (``<think>...</think>`` and friends) removed before a reply is read.

Reasoning models (Qwen 3, DeepSeek R1, QwQ, Magistral, Kimi...) think aloud first, and their
thoughts often mention the call they are weighing (``I should call get_weather with {"city":
"Rome"}``). A call is only what comes outside the thought. Closed blocks are dropped; a closing tag
without an opening one (the chat template wrote ``<think>`` into the prompt) drops everything
before it; an opening tag never closed (generation stopped mid-thought) drops the rest.
Linear time: each tag is searched for once from where the previous search ended.
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


def has_reasoning(text: str) -> bool:
    """Whether ``text`` holds any reasoning tag."""
    return _ANY.search(text) is not None


def strip_reasoning(text: str) -> str:
    """``text`` without its reasoning blocks (unchanged when it has none)."""
    for opening, closing in REASONING_TAGS:
        if opening not in text and closing not in text:
            continue
        first_close = text.find(closing)
        first_open = text.find(opening)
        if first_close != -1 and (first_open == -1 or first_close < first_open):
            text = text[first_close + len(closing) :]
        kept: list[str] = []
        pos = 0
        while True:
            start = text.find(opening, pos)
            if start == -1:
                kept.append(text[pos:])
                break
            kept.append(text[pos:start])
            end = text.find(closing, start + len(opening))
            if end == -1:
                break  # an unclosed thought: the rest is thinking
            pos = end + len(closing)
        text = "".join(kept)
    return text.strip()
