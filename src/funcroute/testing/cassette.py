"""Cassettes: record a real model's replies once, replay them in every later test run.

A cassette is a readable YAML file of interactions, each a full prompt and the reply it got::

    version: 1
    interactions:
    - prompt: |-
        A chat between a curious user and an assistant. ...
      reply: '{"function": "get_weather", "params": {"city": "Paris"}}'
      finish_reason: stop

Replay is keyed by the full prompt, so anything that changes what the model sees (a tool's
description, a parameter, the template) is a failure that names what changed and shows the diff,
never a silent re-record. Recording happens only when asked for (``--funcroute-record``).

Modes: ``none`` replays and fails on a missing cassette; ``new`` records cassettes that do not exist
yet and replays the rest; ``all`` records every cassette again.
"""

from __future__ import annotations

import collections
import contextlib
import difflib
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal, NoReturn, Protocol

import yaml

from funcroute.backends.base import Backend, Completion, Request
from funcroute.tools.tool import NAME

__all__ = [
    "Cassette",
    "CassetteBackend",
    "RealBackendGate",
    "RecordMode",
    "RecordingBackend",
    "describe_change",
    "dump_interactions",
    "load_interactions",
]

RecordMode = Literal["none", "new", "all"]
_VERSION = 1
_HEADER = (
    "# funcroute cassette: real model replies keyed by the full prompt they answered.\n"
    "# Replayed by the funcroute pytest plugin; re-record with: pytest --funcroute-record=all\n"
)
_DIFF_LINES = 60


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as ``|`` blocks, so prompts read (and diff) as the model saw them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_interactions(interactions: Sequence[dict[str, Any]], backend: str) -> str:
    """The cassette file text for ``interactions``."""
    body = {"version": _VERSION, "backend": backend, "interactions": list(interactions)}
    text = yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096)
    return _HEADER + text


def load_interactions(path: Path) -> list[dict[str, Any]]:
    """The interactions of a cassette file (a ValueError names a malformed one)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = data.get("interactions") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and isinstance(r.get("prompt"), str) and isinstance(r.get("reply"), str)
        for r in rows
    ):
        raise ValueError(f"{path} is not a funcroute cassette (expected interactions of prompt and reply)")
    return rows


def _completion(row: dict[str, Any]) -> Completion:
    def count(key: str) -> int | None:
        value = row.get(key)
        return value if isinstance(value, int) else None

    reason = row.get("finish_reason")
    return Completion(
        row["reply"],
        reason if isinstance(reason, str) else "stop",
        count("prompt_tokens"),
        count("completion_tokens"),
    )


class CassetteBackend(Backend):
    """Replays recorded replies by exact prompt; an unknown prompt fails the test with a diff.

    A prompt recorded several times replays its replies in order, then repeats the last one.
    """

    name = "cassette"
    __funcroute_offline__ = True

    def __init__(self, interactions: Sequence[dict[str, Any]], source: str = "cassette") -> None:
        self.source = source
        self._replies: dict[str, collections.deque[dict[str, Any]]] = {}
        for row in interactions:
            self._replies.setdefault(row["prompt"], collections.deque()).append(row)
        self._lock = threading.Lock()
        self.requests: list[Request] = []

    def complete(self, request: Request) -> Completion:
        """The recorded reply to ``request.prompt``."""
        with self._lock:
            self.requests.append(request)
            queue = self._replies.get(request.prompt)
            if queue is None:
                _fail(_unknown_prompt(self.source, request.prompt, list(self._replies)))
            row = queue.popleft() if len(queue) > 1 else queue[0]
        return _completion(row)


class RecordingBackend(Backend):
    """Passes requests to a real backend and records each prompt with its reply."""

    __funcroute_offline__ = True  # the wrapped backend is what the guard checks

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = f"recording:{getattr(inner, 'name', type(inner).__name__)}"
        self.interactions: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _keep(self, request: Request, completion: Completion) -> Completion:
        row: dict[str, Any] = {"prompt": request.prompt, "reply": completion.text}
        row["finish_reason"] = completion.finish_reason
        if completion.prompt_tokens is not None:
            row["prompt_tokens"] = completion.prompt_tokens
        if completion.completion_tokens is not None:
            row["completion_tokens"] = completion.completion_tokens
        with self._lock:
            self.interactions.append(row)
        return completion

    def complete(self, request: Request) -> Completion:
        """Ask the real backend and record the answer."""
        return self._keep(request, self.inner.complete(request))

    def complete_many(self, requests: Sequence[Request]) -> list[Completion]:
        """Batch through the real backend (keeping its batching) and record every answer."""
        completions = self.inner.complete_many(requests)
        for request, completion in zip(requests, completions, strict=False):  # the router checks counts
            self._keep(request, completion)
        return completions

    async def acomplete(self, request: Request) -> Completion:
        """Async twin of :meth:`complete`."""
        return self._keep(request, await self.inner.acomplete(request))

    def close(self) -> None:
        """Close the real backend."""
        self.inner.close()


BackendSource = Backend | Callable[[], Backend] | None


class RealBackendGate(Protocol):
    """What a cassette needs from the plugin's real-backend guard to record."""

    def allowed(self) -> AbstractContextManager[None]:
        """A context in which real backends may be constructed."""

    def permit(self, backend: Backend) -> None:
        """Let this one real backend instance be called for the rest of the test."""


class Cassette:
    """One cassette file and how this run uses it (see the module docstring for the modes).

    Args:
        path: the YAML file.
        mode: ``none``, ``new`` or ``all``.
        gate: the plugin's real-backend guard, which lets the recorded backend through
            (``None`` where nothing blocks real backends).
    """

    def __init__(self, path: Path, mode: RecordMode = "none", gate: RealBackendGate | None = None) -> None:
        self.path = Path(path)
        self.mode: RecordMode = mode
        self._gate = gate
        self.recorder: RecordingBackend | None = None

    @property
    def recording(self) -> bool:
        """Whether this run records (rather than replays) the cassette."""
        return self.mode == "all" or (self.mode == "new" and not self.path.exists())

    def backend(self, real: BackendSource = None) -> Backend:
        """The backend for this test: a recorder around ``real``, or a replayer of the file.

        Args:
            real: the real backend, or better a zero-argument factory for it: when replaying, a
                factory is never called, so no model is loaded.
        """
        if not self.recording:
            if not self.path.exists():
                _fail(
                    f"cassette {self.path} does not exist. Record it once with a real backend: "
                    "pytest --funcroute-record (or FUNCROUTE_RECORD=new)"
                )
            try:
                rows = load_interactions(self.path)
            except (OSError, ValueError, yaml.YAMLError) as exc:
                _fail(f"cannot read cassette {self.path}: {exc}")
            return CassetteBackend(rows, str(self.path))
        if real is None:
            _fail(
                f"recording cassette {self.path} needs a real backend: pass one (or a factory) to backend()"
            )
        if self.recorder is not None:
            return self.recorder
        gate = self._gate
        with gate.allowed() if gate is not None else contextlib.nullcontext():
            inner = real if isinstance(real, Backend) else real()
        if gate is not None:
            gate.permit(inner)
        self.recorder = RecordingBackend(inner)
        return self.recorder

    def save(self) -> bool:
        """Write what was recorded (atomically); returns whether a file was written."""
        if self.recorder is None:
            return False
        text = dump_interactions(self.recorder.interactions, self.recorder.name.removeprefix("recording:"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, self.path)
        return True


def _fail(message: str) -> NoReturn:
    import pytest

    __tracebackhide__ = True
    pytest.fail(message, pytrace=False)


# ------------------------------------------------------------------------------ what changed

# A tool's line in the rendered function list: its name (the one NAME rule, unanchored), then ':'.
_TOOL_LINE = re.compile("^(" + NAME.pattern.removeprefix("^").removesuffix("$") + r"):\s*$")


def _sections(lines: Sequence[str]) -> list[str]:
    """For each prompt line, the part of the prompt it belongs to, in words."""
    names: list[str] = []
    current = "the instructions"
    in_tools = False
    for line in lines:
        if line.startswith("Input:"):
            current = "the user input"
        elif line.strip() == "Available functions:":
            in_tools, current = True, "the function list"
        elif in_tools and (match := _TOOL_LINE.match(line)):
            current = f"tool {match.group(1)!r}"
        elif in_tools and line and not line.startswith(" ") and not _TOOL_LINE.match(line):
            in_tools, current = False, "the chat template"
        names.append(current)
    return names


def describe_change(old: str, new: str) -> str:
    """Name the parts of a prompt that differ (``tool 'get_weather'``, ``the user input``...)."""
    a, b = old.splitlines(), new.splitlines()
    sections_a, sections_b = _sections(a), _sections(b)
    changed: dict[str, None] = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            for name in sections_a[i1:i2] + sections_b[j1:j2] or sections_a[max(i1 - 1, 0) : i1]:
                changed[name] = None
    return ", ".join(changed) or "whitespace only"


def _unknown_prompt(source: str, prompt: str, recorded: Sequence[str]) -> str:
    head = f"cassette {source} has no reply recorded for this prompt."
    advice = (
        "If the change is intended, re-record with a real backend: pytest --funcroute-record=all "
        "(or FUNCROUTE_RECORD=all), and review the cassette's diff."
    )
    if not recorded:
        return f"{head}\nThe cassette is empty. {advice}"
    closest = max(recorded, key=lambda p: difflib.SequenceMatcher(None, p, prompt, autojunk=False).ratio())
    diff = list(
        difflib.unified_diff(
            closest.splitlines(), prompt.splitlines(), "recorded prompt", "prompt now", lineterm="", n=2
        )
    )
    if len(diff) > _DIFF_LINES:
        diff = [*diff[:_DIFF_LINES], f"... ({len(diff) - _DIFF_LINES} more diff lines)"]
    what = describe_change(closest, prompt)
    return f"{head}\nThe prompt changed since recording: {what}.\n" + "\n".join(diff) + f"\n{advice}"
