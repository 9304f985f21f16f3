"""``funcroute demo``: route real commands to real tools, offline, with no language model.

Builds the demo tools (:mod:`funcroute.demo_tools`) over a sample text file, routes each command
through ``Router(tools)`` (whose default backend is the offline semantic router), runs the chosen
call, and prints a table: command -> call -> result. The last command fits no tool and is refused.
"""

from __future__ import annotations

import json
import tempfile
import textwrap
import time
from pathlib import Path
from typing import TextIO

from funcroute.demo_tools import SAMPLE_TEXT, build_demo_tools
from funcroute.exceptions import FuncRouteError, ModelOutputError

__all__ = ["COMMANDS", "REFUSED", "run"]

COMMANDS = (
    "I want to know how many times 'Python' is mentioned in my text file.",
    "On which lines of the text file does the word 'snake' appear?",
    "Convert 100 degrees fahrenheit to celsius",
    "What is the area of a triangle with a height of 5 and a base of 8?",
    "How many days are there between 2024-01-01 and March 15, 2024?",
    "Email alice@example.com with the subject 'Demo' and the body 'funcroute routes offline'",
)
#: A command no demo tool can serve: the router refuses it instead of guessing.
REFUSED = "Book a table for two at an Italian restaurant tonight."
_WIDTHS = (44, 58, 40)


def _cells(command: str, call: str, result: str) -> list[str]:
    columns = [
        textwrap.wrap(text, width) or [""]
        for text, width in zip((command, call, result), _WIDTHS, strict=True)
    ]
    height = max(len(c) for c in columns)
    lines = []
    for row in range(height):
        parts = [
            (col[row] if row < len(col) else "").ljust(w) for col, w in zip(columns, _WIDTHS, strict=True)
        ]
        lines.append(" | ".join(parts).rstrip())
    return lines


def run(out: TextIO) -> int:
    """Route the demo commands and print the table; returns the exit code."""
    from funcroute.router import Router

    with tempfile.TemporaryDirectory() as tmp:
        text_file = Path(tmp) / "notes.txt"
        text_file.write_text(SAMPLE_TEXT, encoding="utf-8")
        tools = build_demo_tools(text_file, outbox=Path(tmp) / "outbox")
        out.write(
            "No LLM is called here: the offline semantic router (all-MiniLM-L6-v2 sentence similarity,\n"
            "bundled with the package) chooses each tool and fills its parameters from the command;\n"
            "funcroute then validates the call and runs the real function.\n\n"
            f"Tools: {', '.join(tools.names)}\n"
            f"Text file ({text_file.name}):\n{textwrap.indent(SAMPLE_TEXT, '    ')}\n"
        )
        start = time.perf_counter()
        router = Router(tools)  # no backend given: the offline semantic router
        out.write("\n".join(_cells("command", "call", "result")) + "\n")
        out.write("-+-".join("-" * w for w in _WIDTHS) + "\n")
        failures = 0
        for command in (*COMMANDS, REFUSED):
            try:
                result = router.route(command)
            except ModelOutputError as exc:
                call_text, value = "(no call)", f"refused: {exc}"
                failures += command != REFUSED
            except FuncRouteError as exc:
                call_text, value = "(failed)", str(exc)
                failures += 1
            else:
                assert result.call is not None
                arguments = json.dumps(result.call.arguments, ensure_ascii=False)
                call_text, value = f"{result.call.function}({arguments})", str(result.value)
                failures += command == REFUSED
            out.write("\n".join(_cells(command, call_text, value)) + "\n")
        elapsed = time.perf_counter() - start
        out.write(f"\n{len(COMMANDS) + 1} commands in {elapsed:.1f} s (model load included).\n")
    return 0 if failures == 0 else 1
