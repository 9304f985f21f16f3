"""funcroute's own overhead: prompt rendering and parse + validate + dispatch.

Prints a table of median microseconds per operation, with the bare baseline (``json.loads`` +
``model_validate`` + a direct call, no tolerance at all) measured in the same run, then one row per
tool-call format: the seed call written by that format's writer, read with the format named and
with ``format="auto"``; then the goal of issue 15 (seed reply <= 10 µs and <= 3x the baseline),
where the seed reply's microseconds go, stage by stage, and the load average at start and end.

    .venv/bin/python bench/overhead.py [--runs 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import best_us, load_average, median_us

from funcroute import ToolSet
from funcroute.formats import format_names, get_format
from funcroute.parsing import load_yaml, whole_json
from funcroute.parsing.safe_yaml import _SafeLoader

SEED_INPUT = "I want to know how many times 'Python' is mentioned in my text file."
SEED_REPLY = """```json
{
  "function": "file_analytics",
  "params": {
    "action": "count_occurrences",
    "filters": {
      "keyword": "Python"
    }
  }
}
```"""
BARE_REPLY = json.dumps(json.loads(SEED_REPLY.strip("`").removeprefix("json")))


class Filters(BaseModel):
    keyword: str = Field(description="The word or phrase we want to search for.")


class Arguments(BaseModel):
    action: str
    filters: Filters


def file_analytics(
    action: Annotated[
        str, Field(description='The operation, such as "count_occurrences", "find_line", etc.')
    ],
    filters: Filters,
) -> str:
    """This tool performs various operations on a text file."""
    return action + filters.keyword


def seed_tools() -> ToolSet:
    tools = ToolSet()
    tools.tool(file_analytics)
    return tools


def many_tools(count: int) -> ToolSet:
    tools = ToolSet()
    for index in range(count):

        def handler(query: str, limit: int = 10, exact: bool = False) -> str:
            return query

        tools.add_function(handler, name=f"tool_{index}", description=f"Tool number {index} does a thing.")
    return tools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20000)
    runs = parser.parse_args().runs
    load = load_average()
    tools = seed_tools()

    rows: list[tuple[str, float]] = [
        ("bare json.loads + model_validate + call (baseline)", median_us(_bare, runs)),
        (
            "funcroute parse+validate+dispatch, clean JSON reply",
            median_us(lambda: tools.dispatch(tools.parse(BARE_REPLY)), runs),
        ),
        (
            "funcroute parse+validate+dispatch, seed reply (fenced)",
            median_us(lambda: tools.dispatch(tools.parse(SEED_REPLY)), runs),
        ),
        ("funcroute parse+validate only, clean JSON reply", median_us(lambda: tools.parse(BARE_REPLY), runs)),
    ]
    seed_call = [("file_analytics", {"action": "count_occurrences", "filters": {"keyword": "Python"}})]
    format_rows: list[tuple[str, float, float]] = []
    for name in format_names():
        reply = get_format(name).write(seed_call)
        named = median_us(lambda r=reply, n=name: tools.dispatch(tools.parse(r, format=n)), runs)
        auto = median_us(lambda r=reply: tools.dispatch(tools.parse(r)), runs)
        format_rows.append((name, named, auto))
    for count in (10, 100, 1000):
        catalog = many_tools(count)
        catalog.prompt(SEED_INPUT)  # the first render fills the cache; later ones reuse it
        cold = ToolSet(list(catalog))
        start = time.perf_counter()
        cold.prompt(SEED_INPUT)
        first = (time.perf_counter() - start) * 1e6
        rows.append((f"prompt(), {count} tools, first render", first))
        rows.append(
            (
                f"prompt(), {count} tools, cached",
                median_us(lambda c=catalog: c.prompt(SEED_INPUT), max(runs // 10, 100)),
            )
        )

    yaml_reply = get_format("airoboros-yaml").write(seed_call)
    rows.append(
        (
            "funcroute parse+validate+dispatch, YAML reply",
            median_us(lambda: tools.dispatch(tools.parse(yaml_reply)), runs // 10),
        )
    )
    rows.append(
        ("  YAML reply read by libyaml (load_yaml)", median_us(lambda: load_yaml(yaml_reply), runs // 10))
    )
    rows.append(
        (
            "  YAML reply read by the pure-Python safe loader",
            median_us(lambda: yaml.load(yaml_reply, Loader=_SafeLoader), runs // 10),
        )
    )

    print(f"load average at start: {load}")
    width = max(len(name) for name, _ in rows)
    print(f"{'operation':<{width}}  {'median µs':>10}")
    print(f"{'-' * width}  {'-' * 10}")
    for name, value in rows:
        print(f"{name:<{width}}  {value:>10.1f}")
    baseline = rows[0][1]
    print(
        f"\nfuncroute clean-reply path = {rows[1][1] / baseline:.1f}x the bare baseline ({baseline:.1f} µs)"
    )
    print("\nparse+validate+dispatch per tool-call format, clean seed call (median µs, x bare baseline)")
    fwidth = max(len(name) for name, _, _ in format_rows)
    print(f"{'format':<{fwidth}}  {'named':>8}  {'x':>5}  {'auto':>8}  {'x':>5}")
    print(f"{'-' * fwidth}  {'-' * 8}  {'-' * 5}  {'-' * 8}  {'-' * 5}")
    for name, named, auto in format_rows:
        ratios = f"{named:>8.1f}  {named / baseline:>5.1f}  {auto:>8.1f}  {auto / baseline:>5.1f}"
        print(f"{name:<{fwidth}}  {ratios}")

    seed = rows[2][1]
    verdict = "met" if seed <= 10 and seed <= 3 * baseline else "NOT met"
    print(f"\ngoal: seed reply <= 10 µs and <= 3x the bare baseline -> {verdict} ({seed / baseline:.1f}x)")
    stages = seed_stages(tools, runs)
    swidth = max(len(name) for name, _ in stages)
    print(
        "\nwhere the seed reply's parse+validate+dispatch goes"
        " (each stage timed alone: CPU time, fastest of 15 rounds)"
    )
    print(f"{'stage':<{swidth}}  {'µs':>6}")
    print(f"{'-' * swidth}  {'-' * 6}")
    for name, value in stages:
        print(f"{name:<{swidth}}  {value:>6.2f}")
    cpu_seed, cpu_bare = stages[-2][1], stages[-1][1]
    verdict = "met" if cpu_seed <= 10 and cpu_seed <= 3 * cpu_bare else "NOT met"
    print(f"CPU-time goal: seed {cpu_seed:.2f} µs = {cpu_seed / cpu_bare:.1f}x the baseline: {verdict}")
    print(f"load average at end: {load_average()}")


def seed_stages(tools: ToolSet, runs: int) -> list[tuple[str, float]]:
    """The seed reply's path, stage by stage, on the same reply; "the rest" joins them."""
    limits = tools.limits
    doc = whole_json(SEED_REPLY, limits)
    assert isinstance(doc, dict)
    params = doc["params"]
    tool = tools["file_analytics"]
    validator = tool.validator
    assert validator is not None
    call = tools.parse(SEED_REPLY)
    stages: list[tuple[str, Callable[[], Any]]] = [
        ("fence + JSON decode + checks (whole_json)", lambda: whole_json(SEED_REPLY, limits)),
        ("  of which json decode of the body alone", lambda: json.loads(BARE_REPLY)),
        ("tool's validator (pydantic validate + dump + typed kwargs)", lambda: validator(params)),
        ("  of which pydantic validate alone", lambda: Arguments.model_validate(params)),
        ("ToolSet checks + Call (validate minus the validator)", lambda: None),
        ("dispatch (prepare + handler)", lambda: tools.dispatch(call)),
    ]
    rows = [(label, best_us(fn, runs)) for label, fn in stages]
    validate = best_us(lambda: tools._validate("file_analytics", params, SEED_REPLY, checked=True), runs)
    rows[4] = (rows[4][0], validate - rows[2][1])
    total = best_us(lambda: tools.dispatch(tools.parse(SEED_REPLY)), runs)
    parts = rows[0][1] + validate + rows[5][1]
    rows.append(("the rest (parse's own checks and calls)", total - parts))
    rows.append(("= seed reply parse+validate+dispatch", total))
    rows.append(("(bare baseline, CPU time)", best_us(_bare, runs)))
    return rows


def _bare() -> str:
    """The baseline: no tolerance at all (a clean reply, known tool, one model)."""
    data = json.loads(BARE_REPLY)
    args = Arguments.model_validate(data["params"])
    return file_analytics(args.action, args.filters)


if __name__ == "__main__":
    main()
