"""BFCL ground truth rendered in every tool-call format round-trips through the readers.

For every BFCL entry with a possible answer, the first acceptable value of each parameter is
rendered as a reply in each format (by that format's writer: Hermes blocks, a Mistral list,
pythonic calls, Qwen3 XML, FunctionGemma...), read back with ``parse_many`` both with the format
named and with ``format="auto"``, and compared call by call. Each format must accept at least 99%
of the entries the Airoboros JSON round-trip accepts; the misses are printed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from funcroute import ToolSet
from funcroute.errors import FuncRouteError
from funcroute.formats import format_names, get_format
from test_bfcl_conformance import CORPUS, EXCLUSIONS, SKIP_REASON, _lines, _render_map, _same

FORMATS = format_names()
CATEGORIES = [
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
]


def _entries() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    assert CORPUS is not None
    out = []
    for category in CATEGORIES:
        answers = {a["id"]: a for a in _lines(CORPUS / "possible_answer" / f"BFCL_v4_{category}.json")}
        for entry in _lines(CORPUS / f"BFCL_v4_{category}.json"):
            if entry["id"] in answers and entry["id"] not in EXCLUSIONS:
                out.append((entry, answers[entry["id"]]))
    return out


def _round_trip(tools: ToolSet, calls: list[tuple[str, dict[str, Any]]], fmt: str, mode: str) -> str | None:
    reply = get_format(fmt).write(calls)
    try:
        parsed = tools.parse_many(reply, format=fmt if mode == "named" else "auto")
    except FuncRouteError as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    got = [(c.function, c.arguments) for c in parsed]
    if len(got) != len(calls) or not all(
        f == g and _same(a, b, tools[f].schema) for (f, a), (g, b) in zip(calls, got, strict=True)
    ):
        return f"parsed {got!r:.200}, expected {calls!r:.200}"
    return None


@pytest.mark.skipif(CORPUS is None, reason=SKIP_REASON)
def test_every_format_round_trips_bfcl_ground_truth(capsys: pytest.CaptureFixture[str]) -> None:
    passed: Counter[str] = Counter()
    misses: dict[str, list[str]] = {f"{f} {m}": [] for f in FORMATS for m in ("named", "auto")}
    accepted = 0
    for entry, answer in _entries():
        try:
            tools = ToolSet.from_bfcl(entry["function"])
        except FuncRouteError:
            continue
        calls = [(n, _render_map(p)) for call in answer["ground_truth"] for n, p in call.items()]
        if _round_trip(tools, calls, "airoboros-json", "named") is not None:
            continue  # the baseline: only entries the JSON round-trip accepts count
        accepted += 1
        for fmt in FORMATS:
            for mode in ("named", "auto"):
                if fmt.startswith("airoboros") and mode == "auto":
                    continue
                problem = _round_trip(tools, calls, fmt, mode)
                if problem is None:
                    passed[f"{fmt} {mode}"] += 1
                else:
                    misses[f"{fmt} {mode}"].append(f"{entry['id']}: {problem}")
    assert accepted > 2000
    lines = [f"BFCL round trip per format ({accepted} entries the JSON round trip accepts)"]
    failing = []
    for key, problems in misses.items():
        if key.startswith("airoboros") and key.endswith("auto"):
            continue
        rate = passed[key] / accepted
        lines.append(f"  {key:<24} {passed[key]:>5} / {accepted}  {100 * rate:6.2f}%")
        lines.extend(f"      {p}" for p in problems[:3])
        if rate < 0.99:
            failing.append(key)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert not failing, "\n".join(lines)
