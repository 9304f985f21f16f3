"""Property tests: whatever a model (or attacker) writes, parsing ends fast in a Call or a FuncRouteError.

Every test checks the same contract on ``ToolSet.parse`` and ``ToolSet.parse_many``:

* the only exceptions are :class:`FuncRouteError` subclasses, and model-output errors carry the reply;
* each case finishes within ``CASE_LIMIT`` seconds (measured here, independent of hypothesis' deadline);
* a returned call names a registered tool and its arguments are strict JSON (no NaN/Infinity).

The default sizes keep this module well under a minute. For a long campaign::

    FUNCROUTE_FUZZ_PROFILE=long pytest tests/formats/test_fuzz.py -p no:cacheprovider
"""

import gc
import json
import math
import os
import string
import time
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from _tools import add_file_analytics  # tests/ is on sys.path (rootdir conftest)
from funcroute import Call, FuncRouteError, ParseLimits, ToolSet
from funcroute.errors import ModelOutputError

CASE_LIMIT = 1.0  # seconds of CPU per parse / parse_many call
WALL_FACTOR = 10  # wall-clock allowance on a loaded machine, as a multiple of CASE_LIMIT

settings.register_profile(
    "funcroute-ci",
    deadline=None,  # timing is asserted inside the tests, per call, with a clearer message
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.register_profile("long", parent=settings.get_profile("funcroute-ci"), max_examples=20_000)
PROFILE = os.environ.get("FUNCROUTE_FUZZ_PROFILE", "funcroute-ci")
_BASE = settings.get_profile(PROFILE)


def fuzz(max_examples: int) -> settings:
    """Settings for one property: ``max_examples`` in CI, the profile's (larger) count in a campaign."""
    return settings(
        _BASE, max_examples=max(max_examples, _BASE.max_examples if PROFILE != "funcroute-ci" else 0)
    )


def build_tools(**options: Any) -> ToolSet:
    tools = add_file_analytics(ToolSet(**options), limit=True)

    @tools.tool
    def send_message(to: str, text: str, urgent: bool = False) -> str:
        """Send a chat message."""
        return text

    @tools.tool
    def scale(factor: float, steps: list[int] | None = None) -> float:
        """Scale a value."""
        return factor

    @tools.tool
    def store(data: Any = None) -> Any:
        """Store arbitrary JSON data."""
        return data

    return tools


TOOLS = build_tools()
SMALL = build_tools(limits=ParseLimits(max_chars=2048, max_depth=6, max_candidates=4))


def timed(method: Any, reply: str) -> Any:
    """``method(reply)`` (its value or its FuncRouteError) with the time limit enforced.

    The limit is on the CPU time of this thread, which a busy CI machine does not inflate (a slow
    path burns CPU every time); wall-clock time only has to stay within ``WALL_FACTOR`` times it. A
    slow case is measured again before failing, in case of a stall.
    """
    cpu = wall = math.inf
    outcome: Any = None
    for _ in range(3):
        gc.disable()  # a collection of the test runner's heap is not the parser's time
        cpu_start, wall_start = time.thread_time(), time.perf_counter()
        try:
            outcome = method(reply)
        except FuncRouteError as exc:
            outcome = exc
        finally:
            gc.enable()
        cpu = min(cpu, time.thread_time() - cpu_start)
        wall = min(wall, time.perf_counter() - wall_start)
        if cpu < CASE_LIMIT and wall < WALL_FACTOR * CASE_LIMIT:
            return outcome
        if cpu > 5 * CASE_LIMIT:
            break  # far too slow to be a stall
    raise AssertionError(
        f"{method.__name__} took {cpu:.2f} s of CPU ({wall:.2f} s wall, fastest of up to 3 runs) "
        f"on a {len(reply)}-char reply"
    )


def check(reply: str, tools: ToolSet = TOOLS) -> list[Call]:
    """Run parse and parse_many on ``reply``; enforce the contract; return the calls that came back."""
    calls: list[Call] = []
    for method in (tools.parse, tools.parse_many):
        result = timed(method, reply)
        if isinstance(result, ModelOutputError):
            assert result.reply == reply
        for call in [result] if isinstance(result, Call) else result if isinstance(result, list) else []:
            assert isinstance(call, Call)
            assert call.function in tools.names
            assert call.reply == reply
            # Strict JSON, encodable as UTF-8: no NaN/Infinity, no lone surrogates.
            json.dumps(call.arguments, allow_nan=False, ensure_ascii=False).encode("utf-8")
            calls.append(call)
    return calls


# ------------------------------------------------------------------------------------- generated data

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def valid_calls(draw: st.DrawFn) -> dict[str, Any]:
    which = draw(st.sampled_from(["file_analytics", "send_message", "scale", "store"]))
    if which == "file_analytics":
        params: dict[str, Any] = {
            "action": draw(st.text(max_size=30)),
            "filters": {"keyword": draw(st.text())},
        }
    elif which == "send_message":
        params = {"to": draw(st.text(max_size=20)), "text": draw(st.text()), "urgent": draw(st.booleans())}
    elif which == "scale":
        params = {"factor": draw(st.floats(allow_nan=False, allow_infinity=False, width=64))}
    else:
        params = {"data": draw(json_values)}
    return {"function": which, "params": params}


def render(call: dict[str, Any], style: str) -> str:
    if style == "json":
        return json.dumps(call)
    if style == "json-pretty":
        return json.dumps(call, indent=2, ensure_ascii=False)
    if style == "json-fenced":
        return "```json\n" + json.dumps(call, indent=2) + "\n```"
    if style == "json-prose":
        return "Sure, here is the call:\n" + json.dumps(call) + "\nLet me know if you need anything else."
    if style == "yaml":
        return yaml.safe_dump(call, allow_unicode=True, sort_keys=False)
    if style == "yaml-fenced":
        return "```yaml\n" + yaml.safe_dump(call, sort_keys=False) + "```"
    if style == "python":
        return repr(call)
    raise AssertionError(style)


# PyYAML's emitter writes these unescaped with allow_unicode, and its reader folds them: not our bug.
YAML_LINE_BREAKS = frozenset("\x85\u2028\u2029")
STYLES = ["json", "json-pretty", "json-fenced", "json-prose", "yaml", "yaml-fenced", "python"]
EXACT_STYLES = STYLES[:6]  # Python repr goes through repair: values may legitimately change


def expected_arguments(call: dict[str, Any]) -> dict[str, Any]:
    """What validation makes of generated params (coercions the tools apply)."""
    params = dict(call["params"])
    if call["function"] == "scale":
        params["factor"] = float(params["factor"])
    return params


# ------------------------------------------------------------------------------------------- properties


@fuzz(300)
@given(st.text(max_size=3000))
def test_random_text(reply: str) -> None:
    check(reply)


@fuzz(150)
@given(st.binary(max_size=3000), st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_random_bytes_decoded(data: bytes, encoding: str) -> None:
    check(data.decode(encoding, errors="replace") if encoding != "latin-1" else data.decode("latin-1"))


@fuzz(150)
@given(valid_calls(), st.sampled_from(EXACT_STYLES))
def test_valid_replies_round_trip(call: dict[str, Any], style: str) -> None:
    reply = render(call, style)
    assume(len(reply.encode()) <= TOOLS.limits.max_chars)
    assume(not (style.startswith("yaml") and YAML_LINE_BREAKS.intersection(reply)))
    calls = check(reply)
    assert calls, f"no call read from {reply!r}"
    first = calls[0]
    assert first.function == call["function"]
    assert first.arguments == expected_arguments(call)
    assert [c.to_dict() for c in calls[1:]] == [first.to_dict()]  # parse_many sees the same single call


@fuzz(300)
@given(valid_calls(), st.sampled_from(STYLES), st.data())
def test_truncated_replies(call: dict[str, Any], style: str, data: st.DataObject) -> None:
    reply = render(call, style)
    cut = data.draw(st.integers(min_value=0, max_value=len(reply)))
    check(reply[:cut])
    check(reply[cut:])


MUTATIONS = ["insert", "delete", "replace", "duplicate", "swap"]
NOISE = st.lists(
    st.sampled_from(
        [*"{}[]:,\"'`\\\n\t -#&*!|>?%@", "```", "NaN", "Infinity", "True", "None", "\\_", "\\ud800"]
    ),
    min_size=1,
    max_size=12,
).map("".join)


@fuzz(300)
@given(
    valid_calls(),
    st.sampled_from(STYLES),
    st.lists(st.tuples(st.sampled_from(MUTATIONS), st.data()), max_size=4),
)
def test_mutated_replies(call: dict[str, Any], style: str, edits: list[tuple[str, st.DataObject]]) -> None:
    reply = render(call, style)
    for kind, data in edits:
        at = data.draw(st.integers(min_value=0, max_value=len(reply)))
        end = data.draw(st.integers(min_value=at, max_value=min(len(reply), at + 20)))
        if kind == "insert":
            reply = reply[:at] + data.draw(NOISE) + reply[at:]
        elif kind == "delete":
            reply = reply[:at] + reply[end:]
        elif kind == "replace":
            reply = reply[:at] + data.draw(NOISE) + reply[end:]
        elif kind == "duplicate":
            reply = reply[:end] + reply[at:end] + reply[end:]
        else:
            reply = reply[at:] + reply[:at]
    check(reply)


@fuzz(60)
@given(
    st.integers(min_value=1, max_value=20_000),
    st.sampled_from(["[", "{", "{[", '{"a":', "[{", '{"function": "store", "params": {"data": ', "- ", "? "]),
    st.sampled_from(["", '"', "'", '"a": "', '"a" ', "`"]),
    st.sampled_from(["", "]", "}", "x", "word ", '"s"', "1,"]),
    st.integers(min_value=0, max_value=60_000),
    st.sampled_from(["", "```json\n", "function: store\nparams:\n  data: ", "Sure!\n"]),
)
def test_deep_nesting(depth: int, opener: str, joint: str, filler: str, fill: int, prefix: str) -> None:
    reply = prefix + opener * depth + joint + filler * fill
    reply = reply[: TOOLS.limits.max_chars]
    check(reply)


@fuzz(40)
@given(
    st.integers(min_value=60_000, max_value=70_000),
    st.sampled_from(["a", "é", "日", "😀", "\\n", "\\u00e9", " "]),
    st.sampled_from(["json", "yaml", "fenced", "prose", "unclosed"]),
)
def test_huge_strings_near_the_limit(size: int, unit: str, shape: str) -> None:
    body = (unit * (size // len(unit) + 1))[:size]
    if shape == "json":
        reply = '{"function": "send_message", "params": {"to": "x", "text": "' + body + '"}}'
    elif shape == "yaml":
        reply = 'function: send_message\nparams:\n  to: x\n  text: "' + body + '"\n'
    elif shape == "fenced":
        reply = '```json\n{"function": "store", "params": {"data": "' + body + '"}}\n```'
    elif shape == "prose":
        reply = body + '\n{"function": "store", "params": {"data": 1}}'
    else:
        reply = '{"function": "send_message", "params": {"to": "x", "text": "' + body
    calls = check(reply)
    if len(reply.encode()) > TOOLS.limits.max_chars:
        assert not calls


@fuzz(100)
@given(st.data())
def test_unicode_everywhere(data: st.DataObject) -> None:
    name = data.draw(
        st.sampled_from(["send_message", "send\\_message", "sènd_message", "send_message\u200b"])
    )
    to = data.draw(st.text(max_size=30))
    text = data.draw(st.text(st.characters(codec="utf-8"), max_size=60))
    around = data.draw(st.text(max_size=40))
    reply = (
        around
        + json.dumps({"function": name, "params": {"to": to, "text": text}}, ensure_ascii=False)
        + around
    )
    check(reply)


YAML_TAGS = [
    "!!python/object/apply:os.system ['true']",
    "!!python/object/new:builtins.list [[1]]",
    "!!python/name:builtins.exit",
    "!!python/module:os",
    "!!python/tuple [1, 2]",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [{a: 1}]",
    "!!timestamp 2024-01-01",
    "!!float .nan",
    "!!int 0x1F",
    "!custom value",
    "!<tag:example.com,2024:thing> value",
    "!!str 3",
    "!!null ''",
]


@fuzz(150)
@given(
    st.sampled_from(YAML_TAGS),
    st.sampled_from(["  data: {}\n", "  data: [{}]\n", "  data:\n    k: {}\n", "{}\n"]),
    st.booleans(),
)
def test_yaml_tags(tag: str, slot: str, fenced: bool) -> None:
    body = slot.format(tag)
    reply = (
        ("function: store\nparams:\n" + body)
        if not body.startswith("!")
        else f"function: store\nparams: {body}"
    )
    if fenced:
        reply = f"```yaml\n{reply}```"
    for call in check(reply):
        assert type(call.arguments.get("data")) in (str, int, float, bool, list, dict, type(None))


@fuzz(100)
@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12), st.booleans())
def test_anchors_and_aliases(width: int, levels: int, fenced: bool) -> None:
    lines = ["function: store", "params:", "  data:"]
    lines.append("    l0: &l0 [" + ", ".join(['"lol"'] * width) + "]")
    for level in range(1, levels):
        lines.append(f"    l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    lines.append("    merged:\n      <<: {a: 1}\n    ref: *l0")
    reply = "\n".join(lines) + "\n"
    if fenced:
        reply = f"```yaml\n{reply}```"
    check(reply)


NON_FINITE = [
    "NaN",
    "Infinity",
    "-Infinity",
    "nan",
    "inf",
    "1e309",
    "-1e400",
    "1.8e308",
    ".nan",
    ".inf",
    "-.Inf",
]


@fuzz(150)
@given(
    st.sampled_from(NON_FINITE),
    st.sampled_from(
        [
            '{{"function": "scale", "params": {{"factor": {}}}}}',
            '{{"function": "scale", "params": {{"factor": "{}"}}}}',
            '{{"function": "scale", "params": {{"factor": 1, "steps": [1, {}]}}}}',
            '{{"function": "store", "params": {{"data": {{"x": [{}]}}}}}}',
            '[{{"function": "scale", "params": {{"factor": 1}}}}, '
            '{{"function": "scale", "params": {{"factor": {}}}}}]',
            "function: scale\nparams:\n  factor: {}\n",
            "```yaml\nfunction: store\nparams:\n  data: [{}]\n```",
            "{{'function': 'scale', 'params': {{'factor': {}}}}}",
        ]
    ),
)
def test_nan_and_infinity_never_accepted(token: str, template: str) -> None:
    for call in check(template.format(token)):
        assert not any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(call.arguments))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for child in value.values() for leaf in _leaves(child)]
    if isinstance(value, list):
        return [leaf for child in value for leaf in _leaves(child)]
    return [value]


@fuzz(100)
@given(
    st.lists(
        st.sampled_from(["function", "params", "name", "arguments", "data", "to", "text"]),
        min_size=2,
        max_size=8,
    ),
    st.lists(json_scalars, min_size=8, max_size=8),
    st.booleans(),
)
def test_duplicate_keys(keys: list[str], values: list[Any], as_yaml: bool) -> None:
    if as_yaml:
        inner = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in zip(keys, values, strict=False))
        reply = f"function: store\nfunction: send_message\nparams:\n{inner}\nparams:\n{inner}\n"
    else:
        inner = ", ".join(f'"{k}": {json.dumps(v)}' for k, v in zip(keys, values, strict=False))
        reply = f'{{"function": "store", "function": "send_message", "params": {{{inner}}}, {inner}}}'
    check(reply)


@fuzz(80)
@given(
    st.sampled_from(
        ["1" + "0" * 5000, "-" + "9" * 5000, "1" + "0" * 4300, "1e5000", "0." + "0" * 5000 + "1", "1" * 400]
    ),
    st.sampled_from(["factor", "steps", "data", "to"]),
    st.sampled_from(["json", "yaml", "python"]),
)
def test_huge_numbers(number: str, slot: str, style: str) -> None:
    tool = {"factor": "scale", "steps": "scale", "data": "store", "to": "send_message"}[slot]
    value = f"[{number}]" if slot == "steps" else number
    if style == "json":
        reply = f'{{"function": "{tool}", "params": {{"{slot}": {value}}}}}'
    elif style == "yaml":
        reply = f"function: {tool}\nparams:\n  {slot}: {value}\n"
    else:
        reply = f"{{'function': '{tool}', 'params': {{'{slot}': {value},}}}}"
    check(reply)


@fuzz(150)
@given(st.text(string.printable, max_size=400), st.sampled_from(STYLES), valid_calls())
def test_replies_with_small_limits(noise: str, style: str, call: dict[str, Any]) -> None:
    reply = noise + render(call, style) + noise
    for found in check(reply, SMALL):
        assert len(reply.encode()) <= SMALL.limits.max_chars
        assert found.function == call["function"]


@fuzz(60)
@given(st.lists(valid_calls(), min_size=1, max_size=6), st.sampled_from(["json", "yaml", "json-fenced"]))
def test_parse_many_round_trip(calls: list[dict[str, Any]], style: str) -> None:
    if style == "yaml":
        reply = yaml.safe_dump(calls, allow_unicode=True, sort_keys=False)
    elif style == "json":
        reply = json.dumps(calls)
    else:
        reply = "```json\n" + json.dumps(calls, indent=2) + "\n```"
    assume(len(reply.encode()) <= TOOLS.limits.max_chars)
    assume(not (style == "yaml" and YAML_LINE_BREAKS.intersection(reply)))
    parsed = timed(TOOLS.parse_many, reply)
    assert isinstance(parsed, list), parsed
    assert [(c.function, c.arguments) for c in parsed] == [
        (c["function"], expected_arguments(c)) for c in calls
    ]
