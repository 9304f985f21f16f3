"""Reading a plan a model wrote: reWOO steps (``#E1 = tool[input]`` or ``:evidence1: = ...``).

Readers are tolerant of what small models write around a plan (numbering, bullets, bold, a
``Plan:`` line before each step, the step on the same line as its reason) and strict about the
call itself: a tool name, then its input in brackets whose closer is found even when the input holds
brackets of its own.
"""

from __future__ import annotations

import re

from funcroute.errors import PlanParseError
from funcroute.plans.plan import _REF, Plan, PlanStep, _canonical, _references

__all__ = ["parse_plan"]

_LEAD = r"^[ \t>]*(?:#+[ \t]+)?(?:(?:\d+[.)]|[-*+•])[ \t]+)?[*_`]*[ \t]*"
_STEP_RE = re.compile(_LEAD + _REF + r"[ \t]*[*_`]*[ \t]*=[ \t]*[*_`]*[ \t]*")
_INLINE_STEP_RE = re.compile(_REF + r"[ \t]*[*_`]*[ \t]*=[ \t]*[*_`]*[ \t]*")
_PLAN_RE = re.compile(
    _LEAD + r"(?:step[ \t]*\d+[ \t]*[:.-]?[ \t]*)?plan(?:[ \t]*\d+)?[ \t]*[*_]*[ \t]*:[*_]*[ \t]*", re.I
)
_ANSWER_RE = re.compile(_LEAD + r"(?:final[ \t]+)?answer[ \t]*[*_]*[ \t]*:[*_]*[ \t]*", re.I)
_TOOL_RE = re.compile(r"[A-Za-z_][\w.\-]*")
_TRAILER = " \t\r*`."


def _line_closer(text: str, start: int, end: int, wrappers: int, *, strict: bool) -> int | None:
    """The ``]`` closing an input on the line ``text[start:end]``.

    It is the last of the trailing ``]`` run once markdown and wrapper brackets are set aside; when
    the line does not end with ``]``, the last ``]`` on it (or ``None`` when ``strict``).
    """
    stop = end
    while stop > start and text[stop - 1] in _TRAILER:
        stop -= 1
    run = 0
    while stop - run > start and text[stop - run - 1] == "]":
        run += 1
    if run:
        return stop - 1 - min(wrappers, run - 1)
    if strict:
        return None
    found = text.rfind("]", start, end)
    return found if found >= 0 else None


def _closer(text: str, start: int, end: int, wrappers: int) -> int | None:
    """Index of the ``]`` that ends the input starting at ``start`` (``None`` if unterminated)."""
    depth = 1
    line = start
    while line < end:
        eol = text.find("\n", line, end)
        eol = end if eol < 0 else eol
        for index in range(line, eol):
            char = text[index]
            depth += char == "["
            depth -= char == "]"
            if depth == 0:
                rest, closed = text[index + 1 : eol].lstrip(_TRAILER), 0
                while closed < wrappers and rest.startswith("]"):
                    rest, closed = rest[1:].lstrip(_TRAILER), closed + 1
                if "]" not in rest and closed == wrappers:
                    return index
                return _line_closer(text, line, eol, wrappers, strict=False)
        if line == start and (found := _line_closer(text, line, eol, wrappers, strict=True)) is not None:
            return found
        line = eol + 1
    line = start
    while line < end:
        eol = text.find("\n", line, end)
        eol = end if eol < 0 else eol
        if (found := _line_closer(text, line, eol, wrappers, strict=True)) is not None:
            return found
        line = eol + 1
    return None


def _read_call(text: str, pos: int, end: int, evidence: str, reply: str) -> tuple[str, str, int]:
    """Read ``Tool[input]`` (optionally wrapped in brackets) at ``pos``; return tool, input, end."""
    wrappers = 0
    while pos < end and text[pos] in " \t[`*":
        wrappers += text[pos] == "["
        pos += 1
    name = _TOOL_RE.match(text, pos, end)
    eol = text.find("\n", pos, end)
    shown = text[pos : end if eol < 0 else eol].strip()
    if name is None:
        raise PlanParseError(f"{evidence} is not followed by a Tool[input] call: {shown!r}", reply)
    pos = name.end()
    while pos < end and text[pos] in " \t`*":
        pos += 1
    if pos >= end or text[pos] != "[":
        raise PlanParseError(f"{evidence} = {name.group()} has no [input] in brackets: {shown!r}", reply)
    closer = _closer(text, pos + 1, end, wrappers)
    if closer is None:
        raise PlanParseError(f"the input of {evidence} = {name.group()}[... has no closing ']'", reply)
    return name.group(), text[pos + 1 : closer].strip(), closer


def parse_plan(reply: str, *, max_steps: int = 20) -> Plan:
    """Read a plan from a model reply in either dialect.

    Args:
        reply: the raw reply.
        max_steps: recorded on the plan; validation rejects plans with more steps.

    Returns:
        The plan (not yet validated against any tools).

    Raises:
        PlanParseError: no step could be read, or a step's call cannot be read.
    """
    text = reply.replace("\r\n", "\n")
    starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
    bounds = [(s, (starts[n + 1] - 1) if n + 1 < len(starts) else len(text)) for n, s in enumerate(starts)]

    structural = [any(r.match(text[s:e]) for r in (_STEP_RE, _PLAN_RE, _ANSWER_RE)) for s, e in bounds]

    steps: list[PlanStep] = []
    plan_sentence = ""
    answer_text: str | None = None
    n = 0
    while n < len(bounds):
        start, eol = bounds[n]
        line = text[start:eol]
        step_at: int | None = None
        if (match := _STEP_RE.match(line)) is not None:
            step_at = start
        elif (match := _PLAN_RE.match(line)) is not None:
            sentence = line[match.end() :]
            inline = _INLINE_STEP_RE.search(sentence)
            plan_sentence = (sentence[: inline.start()] if inline else sentence).strip().strip("*_ ")
            if inline is not None:
                step_at, match = start + match.end(), inline
        elif (match := _ANSWER_RE.match(line)) is not None:
            answer_text = line[match.end() :].strip()
            following = (text[s:e].strip() for s, e in bounds[n + 1 :])
            if not answer_text:
                answer_text = next((f for f in following if f), "")
            break
        if step_at is None or match is None:
            n += 1
            continue
        evidence = _canonical(match)
        region = next((bounds[m][0] for m in range(n + 1, len(bounds)) if structural[m]), len(text))
        tool, tool_input, closer = _read_call(text, step_at + match.end(), region, evidence, reply)
        steps.append(PlanStep(evidence, tool, tool_input, plan_sentence, n + 1))
        plan_sentence = ""
        n += 1
        while n < len(bounds) and bounds[n][0] <= closer:
            n += 1
    if not steps:
        raise PlanParseError("the reply holds no plan step (e.g. ':evidence0: = Tool[input]')", reply)
    refs = _references(answer_text or "")
    return Plan(tuple(steps), refs[-1] if refs else None, reply, answer_text, max_steps)
