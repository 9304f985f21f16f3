"""BFCL data for the benchmarks and floor tests: entries, ground truth, and the AST answer check.

The AST check follows BFCL's rules for single-call categories (``ast_checker.py`` upstream): the
function name must match; every required parameter must be present; every parameter given must be
one the function has, with a value among the acceptable ones; a parameter left out must list ``""``
among its acceptable values. Strings compare case-insensitively with spaces and ``,./-_*^`` removed;
an int is accepted where a float is expected; lists compare element by element; dicts key by key.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from funcroute import ToolSet

__all__ = ["Entry", "bfcl_dir", "check_call", "load"]


def bfcl_dir() -> Path:
    """The BFCL corpus folder (``$FUNCROUTE_BFCL_DIR`` or the shared one beside the repo)."""
    env = os.environ.get("FUNCROUTE_BFCL_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "shared/corpora/bfcl", here.parent / "shared/corpora/bfcl"):
        if candidate.is_dir():
            return candidate
    return Path("/work/shared/corpora/bfcl")


@dataclass
class Entry:
    """One BFCL question with its functions (as a ToolSet) and its ground truth."""

    id: str
    question: str
    functions: list[dict[str, Any]]
    truth: list[dict[str, dict[str, list[Any]]]]

    def toolset(self) -> ToolSet:
        """The entry's functions as a ToolSet (unbound, JSON-Schema validated)."""
        return ToolSet.from_bfcl(self.functions)

    @property
    def expected(self) -> str | None:
        """The expected function name (first call of the ground truth), if any."""
        return next(iter(self.truth[0])) if self.truth else None


def _question(turns: list[list[dict[str, str]]]) -> str:
    messages = [m for turn in turns for m in turn]
    users = [m["content"] for m in messages if m.get("role") == "user"]
    return users[-1] if users else messages[-1]["content"]


def load(category: str, directory: Path | None = None) -> list[Entry]:
    """Every entry of ``BFCL_v4_<category>.json``, with ground truth where there is any."""
    root = directory or bfcl_dir()
    truth: dict[str, Any] = {}
    answers = root / "possible_answer" / f"BFCL_v4_{category}.json"
    if answers.exists():
        for line in answers.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            truth[row["id"]] = row["ground_truth"]
    entries = []
    for line in (root / f"BFCL_v4_{category}.json").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        entries.append(
            Entry(row["id"], _question(row["question"]), row["function"], truth.get(row["id"], []))
        )
    return entries


_STRIP = re.compile(r"[ ,./\-_*^]")


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return _STRIP.sub("", value).lower()
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def _same(given: Any, acceptable: Any) -> bool:
    if isinstance(acceptable, dict) and isinstance(given, dict):
        for key, options in acceptable.items():
            if key not in given:
                if "" not in options:
                    return False
                continue
            if not any(_same(given[key], o) for o in options):
                return False
        return set(given) <= set(acceptable)
    if isinstance(acceptable, bool) or isinstance(given, bool):
        return given is acceptable
    if isinstance(acceptable, int | float) and isinstance(given, int | float):
        return float(given) == float(acceptable)
    if isinstance(acceptable, list) and isinstance(given, list | tuple):
        return len(given) == len(acceptable) and all(
            _same(g, a) for g, a in zip(given, acceptable, strict=True)
        )
    return _norm(given) == _norm(acceptable)


def check_call(function: str, arguments: dict[str, Any], entry: Entry) -> bool:
    """Whether a call matches the entry's first ground-truth call by BFCL's AST rules."""
    if not entry.truth:
        return False
    expected_name, params = next(iter(entry.truth[0].items()))
    if function != expected_name:
        return False
    doc = next((f for f in entry.functions if f["name"] == function), None)
    required = set((doc or {}).get("parameters", {}).get("required", []))
    if not required <= set(arguments):
        return False
    for name, value in arguments.items():
        if name not in params or not any(_same(value, option) for option in params[name]):
            return False
    return all("" in options for name, options in params.items() if name not in arguments)
