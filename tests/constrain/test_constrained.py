"""Grammar-constrained decoding on the tiny random model: every call valid on the first attempt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from funcroute import ToolSet
from funcroute.backends.base import Request
from funcroute.backends.scripted import ScriptedBackend
from funcroute.constrain.bounds import DecodeBounds, bound_schema
from funcroute.errors import UsageError
from funcroute.prompts.templates import get_template
from funcroute.routing.llm import LLMSelector
from funcroute.routing.router import Router

pytest.importorskip("llguidance")
pytest.importorskip("transformers")

BFCL = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "bfcl"
# The random model never ends a string or a list by itself: bound both so a call fits the budget.
BOUNDS = DecodeBounds(max_string_chars=24, max_items=4)
BUDGET = 512


def _entries(category: str) -> list[dict[str, Any]]:
    path = BFCL / f"BFCL_v4_{category}.json"
    if not path.exists():
        pytest.skip(f"BFCL corpus not found at {BFCL}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _question(entry: dict[str, Any]) -> str:
    return str(entry["question"][0][-1]["content"])


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> Any:
    from funcroute.backends.transformers import TransformersBackend

    return TransformersBackend(tiny_model_dir, device="cpu", decode_bounds=BOUNDS)


@pytest.fixture(scope="module")
def token_by_token(tiny_model_dir: Path) -> Any:
    from funcroute.backends.transformers import TransformersBackend

    return TransformersBackend(tiny_model_dir, device="cpu", decode_bounds=BOUNDS, jump_forward=False)


def _no_raw_control_characters(reply: str) -> bool:
    return not any(ord(c) < 0x20 for c in reply)


@pytest.mark.timeout(1500)  # 600 real generations on a 2-core CPU
@pytest.mark.parametrize("category", ["simple_python", "multiple"])
def test_every_bfcl_toolset_routes_on_the_first_attempt(backend: Any, category: str) -> None:
    entries = _entries(category)
    failures = []
    for entry in entries:
        tools = ToolSet.from_bfcl(entry["function"])
        router = Router(tools, backend, max_retries=0, max_new_tokens=BUDGET)
        try:
            result = router.route(_question(entry), dry_run=True)
        except Exception as exc:  # collected, so one run lists every failure
            failures.append((entry["id"], repr(exc)[:300]))
            continue
        assert len(result.attempts) == 1
        assert _no_raw_control_characters(result.replies[0]), result.replies[0]
    assert not failures, f"{len(failures)}/{len(entries)} failed: {failures[:5]}"
    print(f"\n{category}: {len(entries)}/{len(entries)} valid calls on the first attempt")


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("category", ["simple_python", "multiple"])
def test_route_many_batches_over_the_pooled_catalog_are_all_valid(backend: Any, category: str) -> None:
    entries = _entries(category)
    pooled: dict[str, dict[str, Any]] = {}
    for entry in entries:
        for doc in entry["function"]:
            pooled.setdefault(doc["name"], doc)
    tools = ToolSet.from_bfcl(list(pooled.values()))
    # Retrieval is not under test here: show each command the first tools of its own entry.
    first_tool = {_question(e): [e["function"][0]["name"]] for e in entries}
    router = Router(
        tools,
        backend,
        max_retries=0,
        max_new_tokens=BUDGET,
        tool_selector=lambda command: first_tool[command],
    )
    commands = list(first_tool)
    results = router.route_many(commands, dry_run=True)
    bad = [(r.command[:60], str(r.error)[:200]) for r in results if not r.ok or len(r.attempts) != 1]
    assert not bad, f"{len(bad)}/{len(results)} invalid: {bad[:3]}"
    assert all(_no_raw_control_characters(r.replies[0]) for r in results)


def test_jump_forward_gives_the_same_text_with_fewer_forward_passes(
    backend: Any, token_by_token: Any
) -> None:
    passes_jf = passes_tbt = 0
    for entry in _entries("simple_python")[:25]:
        tools = ToolSet.from_bfcl(entry["function"])
        prompt = get_template("airoboros-2").render(tools.prompt(_question(entry)))
        request = Request(prompt=prompt, max_new_tokens=BUDGET, schema=tools.json_schema())
        fast = backend.complete(request)
        slow = token_by_token.complete(request)
        assert fast.text == slow.text
        assert fast.forward_passes is not None and slow.forward_passes is not None
        assert slow.forward_passes == slow.completion_tokens  # one pass per token
        assert fast.forward_passes < slow.forward_passes
        passes_jf += fast.forward_passes
        passes_tbt += slow.forward_passes
    # The optional space after ":" and "," is the model's choice, so less text is forced than with a
    # whitespace-free grammar (2x there); jump-forward still saves a large share of the passes.
    assert passes_tbt >= 1.5 * passes_jf, (passes_tbt, passes_jf)


def test_batched_constrained_generation_equals_one_at_a_time(backend: Any) -> None:
    tools = ToolSet.from_bfcl(_entries("multiple")[0]["function"])
    router = Router(tools, backend, max_retries=0, max_new_tokens=BUDGET)
    commands = [_question(e) for e in _entries("multiple")[:6]]
    one_by_one = [router.route(c, dry_run=True).replies for c in commands]
    batched = [r.replies for r in router.route_many(commands, dry_run=True)]
    assert batched == one_by_one


def test_a_second_route_with_the_same_tools_reuses_the_compiled_grammar(tiny_model_dir: Path) -> None:
    from funcroute.backends.transformers import TransformersBackend
    from funcroute.constrain.engine import GrammarCache

    cache = GrammarCache()
    backend = TransformersBackend(tiny_model_dir, device="cpu", decode_bounds=BOUNDS, grammar_cache=cache)
    tools = ToolSet.from_bfcl(_entries("simple_python")[0]["function"])
    router = Router(tools, backend, max_retries=0, max_new_tokens=BUDGET)
    router.route("first", dry_run=True)
    assert (cache.stats.compiles, cache.stats.hits) == (1, 0)
    router.route("second", dry_run=True)
    Router(tools, backend, max_retries=0, max_new_tokens=BUDGET).route("third", dry_run=True)
    assert (cache.stats.compiles, cache.stats.hits) == (1, 2)
    other = ToolSet.from_bfcl(_entries("simple_python")[1]["function"])
    Router(other, backend, max_retries=0, max_new_tokens=BUDGET).route("fourth", dry_run=True)
    assert cache.stats.compiles == 2


def test_sampled_constrained_decoding_is_valid_and_reproducible(tiny_model_dir: Path) -> None:
    from funcroute.backends.transformers import TransformersBackend

    def replies(seed: int) -> list[str]:
        backend = TransformersBackend(
            tiny_model_dir,
            device="cpu",
            decode_bounds=BOUNDS,
            seed=seed,
            do_sample=True,
            temperature=1.5,
            top_p=0.95,
        )
        out = []
        for entry in _entries("multiple")[:8]:
            tools = ToolSet.from_bfcl(entry["function"])
            result = Router(tools, backend, max_retries=0, max_new_tokens=BUDGET).route(
                _question(entry), dry_run=True
            )
            out.append(result.replies[0])
        return out

    first = replies(1)
    assert first == replies(1)
    assert first != replies(2)


def test_requests_without_a_schema_are_not_constrained(backend: Any) -> None:
    completion = backend.complete(Request(prompt="USER: hello ASSISTANT:", max_new_tokens=12))
    assert completion.forward_passes == completion.completion_tokens
    assert completion.finish_reason in ("length", "stop")


def test_constrained_mode_requires_json_format() -> None:
    tools = ToolSet()

    @tools.tool
    def ping(host: str) -> str:
        """Ping a host."""
        return host

    with pytest.raises(UsageError, match="JSON"):
        Router(tools, backend=_NullBackend(), format="yaml", constrained=True)
    yaml_router = Router(tools, backend=_NullBackend(), format="yaml")
    assert isinstance(yaml_router.selector, LLMSelector) and yaml_router.selector.constrained is False
    json_router = Router(tools, backend=_NullBackend())
    assert isinstance(json_router.selector, LLMSelector) and json_router.selector.constrained is True


class _NullBackend(ScriptedBackend):
    """Never asked: these tests only build routers."""

    def __init__(self) -> None:
        super().__init__([])


def test_bounds_close_every_open_ended_value_and_keep_user_bounds() -> None:
    schema = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "code": {"type": "string", "maxLength": 5},
            "count": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
            "anything": {"description": "BFCL any"},
            "nested": {"type": "object", "properties": {"x": {"type": "number"}}},
        },
    }
    bounded = bound_schema(schema, DecodeBounds(max_string_chars=10, max_abs_number=99, max_items=3))
    props = bounded["properties"]
    assert props["text"]["maxLength"] == 10
    assert props["code"]["maxLength"] == 5
    assert props["count"] == {"type": "integer", "minimum": 0, "maximum": 99}
    assert props["tags"]["maxItems"] == 3 and props["tags"]["items"]["maxLength"] == 10
    assert props["meta"]["additionalProperties"] is False
    assert list(props["meta"]["patternProperties"].values()) == [
        {"type": "integer", "minimum": -99, "maximum": 99}
    ]
    assert props["nested"]["properties"]["x"] == {"type": "number"}  # no range: exponents stay possible
    assert "anyOf" in props["anything"] and props["anything"]["description"] == "BFCL any"
    assert props["nested"]["additionalProperties"] is False
    assert bounded["additionalProperties"] is False
    assert "maxLength" not in schema["properties"]["text"]  # the input is not modified


# (Harmony's free analysis channel would let the random model think until the budget runs out.)
@pytest.mark.parametrize("fmt", ["hermes", "pythonic", "mistral", "qwen3-xml", "functiongemma", "deepseek"])
def test_format_grammars_constrain_the_tiny_model(backend: Any, fmt: str) -> None:
    from funcroute.formats import get_format

    tools = ToolSet()

    @tools.tool
    def get_weather(city: str, days: int = 1) -> str:
        """Get the weather."""
        return city

    grammar = get_format(fmt).grammar([(t.name, t.schema) for t in tools], parallel=fmt == "pythonic")
    completion = backend.complete(Request("Weather in Paris? ", max_new_tokens=BUDGET, grammar=grammar))
    assert completion.completion_tokens is not None and completion.completion_tokens < BUDGET, completion
    # Whatever the random model wrote inside the format's delimiters is a valid call.
    calls = tools.parse_many(completion.text, format=fmt)
    assert calls and all(c.function == "get_weather" for c in calls)


def test_router_in_the_models_own_format_routes_the_tiny_model_first_time(backend: Any) -> None:
    from funcroute.prompts.native import NativeTemplate

    template_file = Path(__file__).resolve().parents[1] / "templates" / "qwen2.5.jinja"
    template = NativeTemplate(template_file.read_text(encoding="utf-8"), variables={"enable_thinking": False})
    tools = ToolSet()

    @tools.tool
    def get_weather(city: str, days: int = 1) -> str:
        """Get the weather."""
        return city

    router = Router(tools, backend, chat_template=template, max_retries=0, max_new_tokens=BUDGET)
    result = router.route("Weather in Paris?", dry_run=True)
    assert result.call is not None and result.call.function == "get_weather"
    assert len(result.attempts) == 1
    assert result.attempts[0].reply.startswith("<tool_call>\n{")
    assert "<tools>" in result.attempts[0].prompt
