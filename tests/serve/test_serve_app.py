"""`funcroute serve` against real clients: the official openai SDK (sync, async, streaming) and raw HTTP.

The server runs in a thread on a free loopback port (uvicorn, real sockets); the model is a fake
backend whose replies are computed from the request, so every assertion is about the server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

openai = pytest.importorskip("openai", reason="the openai SDK is not installed (dev extra)")
pytest.importorskip("uvicorn", reason='uvicorn is not installed (pip install "funcroute-llm[serve]")')

from funcroute.backends.base import Backend, Completion, Request  # noqa: E402
from funcroute.backends.scripted import FunctionBackend, ScriptedBackend  # noqa: E402
from funcroute.serve import Limits, create_app  # noqa: E402
from funcroute.serve.thread import running  # noqa: E402
from funcroute.testing.plugin import offline_backend  # noqa: E402
from serve_tools import ADD, function_tool  # noqa: E402  (tests/ is on sys.path)

WEATHER = function_tool(
    "get_weather",
    "Current weather for a city.",
    {
        "city": {"type": "string", "description": "The city."},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    ["city"],
)
TOOLS = [WEATHER, ADD]
USER = [{"role": "user", "content": "What is the weather in Paris?"}]


def _offered(schema: Any) -> list[str]:
    """The tool names a call schema allows (the request carries plain data, never a ToolSet)."""
    if isinstance(schema, dict):
        const = schema.get("properties", {}).get("function", {}).get("const")
        found = [const] if isinstance(const, str) else []
        return found + [n for v in [*schema.get("anyOf", []), schema.get("items")] for n in _offered(v)]
    return []


def smart(request: Request) -> str:
    """A fake model: answers text for text turns, the no-call tool once results are in, else a call."""
    if request.kind == "answer":
        return " It is 12 degrees in Paris. "
    names = _offered(request.schema)
    newest_turn = request.prompt.rsplit("USER:", 1)[-1]
    if "function: get_weather" in newest_turn and "none" in names:
        return '{"function": "none", "params": {}}'
    if names == ["add"] or ("plus" in (request.user_input or "") and "function: add" not in newest_turn):
        return '{"function": "add", "params": {"a": 2, "b": 3}}'
    return '{"function":"get_weather","params":{"city":"Paris","unit":"celsius"}}'


@pytest.fixture
def fake() -> FunctionBackend:
    return FunctionBackend(smart)


@pytest.fixture
def url(fake: FunctionBackend) -> Iterator[str]:
    with running(create_app(fake)) as base:
        yield base


@pytest.fixture
def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key="unused", max_retries=0)


def test_models_and_health(url: str, client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["funcroute"]
    assert httpx.get(url.removesuffix("/v1") + "/health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("choice", "name", "arguments"),
    [
        ("required", "get_weather", {"city": "Paris", "unit": "celsius"}),
        ("auto", "get_weather", {"city": "Paris", "unit": "celsius"}),
        ({"type": "function", "function": {"name": "add"}}, "add", {"a": 2, "b": 3}),
    ],
)
def test_tool_choice_gives_valid_calls(client: openai.OpenAI, choice: Any, name: str, arguments: Any) -> None:
    reply = client.chat.completions.create(model="m", messages=USER, tools=TOOLS, tool_choice=choice)
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.function.name == name and call.id.startswith("call_")
    assert json.loads(call.function.arguments) == arguments


def test_named_choice_offers_and_allows_only_that_tool(client: openai.OpenAI, fake: FunctionBackend) -> None:
    client.chat.completions.create(
        model="m", messages=USER, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "add"}}
    )
    request = fake.requests[-1]
    assert _offered(request.schema) == ["add"]
    assert [v["properties"]["function"]["const"] for v in request.schema["anyOf"]] == ["add"]  # type: ignore[index]
    assert "get_weather" not in request.prompt


def test_none_never_calls(client: openai.OpenAI, fake: FunctionBackend) -> None:
    reply = client.chat.completions.create(model="m", messages=USER, tools=TOOLS, tool_choice="none")
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].message.content == "It is 12 degrees in Paris."
    assert fake.requests[-1].kind == "answer" and fake.requests[-1].schema is None


def test_required_schema_is_the_union_and_auto_adds_the_no_call_tool(
    client: openai.OpenAI, fake: FunctionBackend
) -> None:
    client.chat.completions.create(model="m", messages=USER, tools=TOOLS, tool_choice="required")
    required = fake.requests[-1]
    client.chat.completions.create(model="m", messages=USER, tools=TOOLS)  # auto is the default with tools
    auto = fake.requests[-1]
    assert _offered(required.schema) == ["get_weather", "add"]
    assert _offered(auto.schema) == ["get_weather", "add", "none"]
    consts = [v["properties"]["function"]["const"] for v in auto.schema["anyOf"]]  # type: ignore[index]
    assert consts == ["get_weather", "add", "none"]
    assert (
        required.prompt.endswith("ASSISTANT:") and "Input: What is the weather in Paris?" in required.prompt
    )


def test_repair_loop_runs_server_side() -> None:
    backend = ScriptedBackend(
        [
            '{"function": "get_weather", "params": {"town": "Paris"}}',
            '{"function": "get_weather", "params": {"city": "Paris"}}',
        ]
    )
    with running(create_app(backend)) as base:
        client = openai.OpenAI(base_url=base, api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="m", messages=USER, tools=TOOLS, tool_choice="required")
    assert json.loads(reply.choices[0].message.tool_calls[0].function.arguments) == {"city": "Paris"}  # type: ignore[index]
    repair = backend.requests[1].prompt
    assert "not a valid function call" in repair and "city: Field required" in repair
    assert '"town": "Paris"' in repair  # the model sees its own reply


def test_no_valid_call_after_retries_is_an_error_not_a_bad_call() -> None:
    backend = ScriptedBackend(["I think Paris is nice."], cycle=True)
    with running(create_app(backend, limits=Limits(max_retries=1))) as base:
        client = openai.OpenAI(base_url=base, api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="m", messages=USER, tools=TOOLS, tool_choice="required")
    assert "no valid tool call after 2 attempt(s)" in str(caught.value)
    assert len(backend.requests) == 2


def test_three_turn_agent_loop(client: openai.OpenAI, fake: FunctionBackend) -> None:
    """A client loop: call → tool result → call → tool result → text answer."""
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris, and what is 2 plus 3?"}]
    results = {"add": "5", "get_weather": '{"temp": 12}'}
    used = []
    for _turn in range(3):
        reply = client.chat.completions.create(
            model="m", messages=messages, tools=TOOLS, tool_choice="required" if not used else "auto"
        )
        message = reply.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            break
        for call in message.tool_calls:
            used.append(call.function.name)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": results[call.function.name]})
    assert used == ["add", "get_weather"]
    assert messages[-1]["content"] == "It is 12 degrees in Paris."
    assert [r.kind for r in fake.requests] == ["call", "call", "call", "answer"]
    # Each call turn saw the newest result as a closed-context block; the answer turn used the last.
    second, answer_turn = fake.requests[1].prompt, fake.requests[-1].prompt
    assert (
        "BEGININPUT\nBEGINCONTEXT\nfunction: add\narguments: " in second
        and "ENDCONTEXT\n5\nENDINPUT" in second
    )
    assert second.endswith("Available functions:\n" + second.split("Available functions:\n")[-1])
    assert answer_turn.count('"function": "add"') == 1  # the earlier calls, as the assistant's turns
    assert answer_turn.count('"function": "get_weather"') == 1
    assert 'ENDCONTEXT\n{"temp": 12}\nENDINPUT' in answer_turn
    assert answer_turn.endswith(
        "BEGININSTRUCTION\nWhat is the weather in Paris, and what is 2 plus 3?\nENDINSTRUCTION ASSISTANT:"
    )


def _assemble(stream: Any) -> tuple[str, dict[int, dict[str, str]], list[str | None]]:
    content, calls, finishes = "", {}, []
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        finishes.append(chunk.choices[0].finish_reason)
        content += delta.content or ""
        for part in delta.tool_calls or ():
            entry = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += part.id or ""
            entry["name"] += (part.function.name or "") if part.function else ""
            entry["arguments"] += (part.function.arguments or "") if part.function else ""
    return content, calls, finishes


def test_streamed_call_reassembles_to_the_non_streamed_one(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="m", messages=USER, tools=TOOLS, tool_choice="required")
    stream = client.chat.completions.create(
        model="m", messages=USER, tools=TOOLS, tool_choice="required", stream=True
    )
    content, calls, finishes = _assemble(stream)
    expected = plain.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert content == "" and list(calls) == [0]
    assert calls[0]["name"] == expected.function.name
    assert calls[0]["arguments"] == expected.function.arguments
    assert calls[0]["id"].startswith("call_")
    assert finishes[-1] == "tool_calls" and finishes[:-1] == [None] * (len(finishes) - 1)


def test_streamed_text_and_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="m", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    content, calls, _ = _assemble(chunks)
    assert content == "It is 12 degrees in Paris." and calls == {}


def test_async_client_concurrent_requests(url: str) -> None:
    async def main() -> list[Any]:
        client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0)
        try:
            calls = [
                client.chat.completions.create(model="m", messages=USER, tools=TOOLS, tool_choice="required")
                for _ in range(8)
            ]
            replies = await asyncio.gather(*calls)
            stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            return [*replies, text]
        finally:
            await client.close()

    *replies, text = asyncio.run(main())
    assert {r.choices[0].message.tool_calls[0].function.name for r in replies} == {"get_weather"}
    assert text == "It is 12 degrees in Paris."


def test_parallel_calls_when_asked() -> None:
    backend = ScriptedBackend(
        [
            '[{"function": "add", "params": {"a": 1, "b": 2}},'
            ' {"function": "get_weather", "params": {"city": "Oslo"}}]'
        ]
    )
    with running(create_app(backend)) as base:
        client = openai.OpenAI(base_url=base, api_key="x", max_retries=0)
        reply = client.chat.completions.create(
            model="m", messages=USER, tools=TOOLS, tool_choice="required", parallel_tool_calls=True
        )
    calls = reply.choices[0].message.tool_calls
    assert calls is not None
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("add", {"a": 1, "b": 2}),
        ("get_weather", {"city": "Oslo"}),
    ]
    assert len({c.id for c in calls}) == 2
    schema = backend.requests[0].schema
    assert schema is not None and schema["anyOf"][1]["type"] == "array"
    assert "JSON array of calls" in backend.requests[0].prompt


def test_api_key_is_enforced(fake: FunctionBackend) -> None:
    with running(create_app(fake, api_key="s3cret")) as base:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).models.list()
        good = openai.OpenAI(base_url=base, api_key="s3cret", max_retries=0)
        assert good.chat.completions.create(model="m", messages=USER, tools=TOOLS).choices


# ------------------------------------------------------------------------------------ hostile


def _post(url: str, body: bytes | str, **headers: str) -> httpx.Response:
    return httpx.post(
        url + "/chat/completions",
        content=body,
        headers={"content-type": "application/json", **headers},
        timeout=30,
    )


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert "Traceback" not in body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}', "NaN is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"messages": []}', "messages"),
        ('{"messages": [{"role": "wizard", "content": "x"}]}', "unknown role 'wizard'"),
        ('{"messages": [{"role": "user", "content": "x"}], "n": 3}', "only n=1"),
        ('{"messages": [{"role": "user", "content": "x"}], "tool_choice": "always"}', "tool_choice"),
        (
            '{"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}',
            "tool_choice needs tools",
        ),
        ('{"messages": [{"role": "tool", "tool_call_id": "c1", "content": "x"}]}', "before any user message"),
        (
            '{"messages": [{"role": "user", "content": "x"},'
            ' {"role": "tool", "tool_call_id": "nope", "content": "5"}]}',
            "answers no earlier tool call",
        ),
        (
            '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}',
            "'image_url' is not supported",
        ),
        (
            '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 1000000}',
            "above this server's limit",
        ),
    ],
)
def test_bad_requests_are_400_in_openai_shape(url: str, body: str, needle: str) -> None:
    response = _post(url, body)
    assert response.status_code == 400, response.text
    assert needle in _error(response)["message"]


def test_bad_tool_schema_names_the_tool_and_path(url: str) -> None:
    bad = {
        "type": "function",
        "function": {
            "name": "broken",
            "parameters": {"type": "object", "properties": {"x": {"type": "strnig"}}},
        },
    }
    loop = {
        "type": "function",
        "function": {
            "name": "tree",
            "parameters": {
                "type": "object",
                "properties": {"root": {"$ref": "#/$defs/Node"}},
                "$defs": {
                    "Node": {
                        "type": "object",
                        "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                    }
                },
            },
        },
    }
    for tool, needles in (
        (bad, ["tools[1] ('broken')", "properties.x.type"]),
        (loop, ["tools[1] ('tree')", "recursive type 'Node'"]),
    ):
        response = _post(url, json.dumps({"messages": USER, "tools": [WEATHER, tool]}))
        assert response.status_code == 400
        error = _error(response)
        assert error["code"] == "invalid_tool_schema" and error["param"] == "tools[1].function"
        for needle in needles:
            assert needle in error["message"]


def test_ten_megabyte_body_is_413(url: str) -> None:
    big = json.dumps({"messages": [{"role": "user", "content": "x" * (10 * 1024 * 1024)}]})
    response = _post(url, big)
    assert response.status_code == 413 and "limit" in _error(response)["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts while reading
        for _ in range(10):
            yield b" " * (1024 * 1024)

    response = httpx.post(url + "/chat/completions", content=chunks(), timeout=30)
    assert response.status_code == 413


def test_a_thousand_tools(fake: FunctionBackend) -> None:
    many = [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": f"Tool number {i}.",
                "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}},
            },
        }
        for i in range(1000)
    ]
    body = json.dumps({"messages": USER, "tools": many, "tool_choice": "required"})
    with running(create_app(ScriptedBackend(['{"function": "tool_999", "params": {"x": 1}}']))) as base:
        assert _error(_post(base, body))["code"] == "too_many_tools"
    with running(
        create_app(
            ScriptedBackend(['{"function": "tool_999", "params": {"x": 1}}']), limits=Limits(max_tools=1000)
        )
    ) as base:
        reply = _post(base, body)
    assert reply.status_code == 200
    assert reply.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "tool_999"


def test_unknown_routes_and_methods(url: str) -> None:
    assert _error(httpx.get(url + "/nope"))["code"] == "404"
    assert _error(httpx.get(url + "/chat/completions"))["code"] == "405"


def test_backend_down_is_503() -> None:
    from funcroute.errors import BackendError

    def down(request: Request) -> str:
        raise BackendError("openai (http://127.0.0.1:9)", "cannot connect", retryable=True)

    with running(create_app(FunctionBackend(down))) as base:
        response = _post(base, json.dumps({"messages": USER, "tools": TOOLS}))
    assert response.status_code == 503
    assert "cannot connect" in _error(response)["message"]


@pytest.mark.funcroute_real_backend
def test_upstream_server_down_is_503() -> None:
    from funcroute.backends.openai import OpenAIBackend

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", timeout=2, max_retries=0)
    with running(create_app(backend)) as base:
        response = _post(base, json.dumps({"messages": USER, "tools": TOOLS}))
    backend.close()
    assert response.status_code == 503, response.text
    assert _error(response)["code"] == "backend_error"


@offline_backend
class _Tokens(Backend):
    """A fake model that writes one character every 10 ms and honours ``stop_when``, like real backends.

    It runs in a worker thread (the default ``acomplete``), as real backends do.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.generated: list[int] = []
        self.finished = threading.Event()

    def complete(self, request: Request) -> Completion:
        out = ""
        try:
            for char in self.text:
                time.sleep(0.01)
                out += char
                if request.stop_when is not None and request.stop_when(out) is not None:
                    break
                if len(out) >= request.max_new_tokens:  # one character per "token"
                    return Completion(out, finish_reason="length")
            return Completion(out)
        finally:
            self.generated.append(len(out))
            self.finished.set()


def test_client_disconnect_mid_stream_stops_generation() -> None:
    model = _Tokens("word " * 400)  # 4 s if nobody stops it (max_tokens is above 2000)
    app = create_app(model)
    with running(app) as base:
        body = {"model": "m", "messages": USER, "stream": True, "max_tokens": 4000}
        with httpx.stream("POST", base + "/chat/completions", json=body, timeout=30) as response:
            lines = response.iter_lines()
            seen = [next(lines) for _ in range(6)]
        assert '"delta":{"content":"w"}' in seen[2], seen  # the first character, streamed as generated
        assert model.finished.wait(10)
        assert model.generated[0] < len(model.text) / 2
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _pending(app):
            time.sleep(0.02)
        assert _pending(app) == 0


def _pending(app: Any) -> int:
    for route in app.routes:
        endpoint = getattr(route, "endpoint", None)
        server = getattr(endpoint, "__self__", None)
        if server is not None and hasattr(server, "pending"):
            return int(server.pending)
    raise AssertionError("no server found")


def test_a_failure_inside_a_stream_arrives_as_an_error_event() -> None:
    backend = ScriptedBackend(["not a call"], cycle=True)
    with running(create_app(backend, limits=Limits(max_retries=0))) as base:
        client = openai.OpenAI(base_url=base, api_key="x", max_retries=0)
        stream = client.chat.completions.create(
            model="m", messages=USER, tools=TOOLS, tool_choice="required", stream=True
        )
        with pytest.raises(openai.APIError, match="no valid tool call after 1 attempt"):
            list(stream)


def test_limits_on_messages_and_requests_in_flight() -> None:
    model = _Tokens("slow " * 200)
    with running(create_app(model, limits=Limits(max_pending=1, max_messages=2))) as base:
        many = json.dumps({"messages": USER * 3})
        assert "too many messages: 3 > 2" in _error(_post(base, many))["message"]
        body = {"model": "m", "messages": USER, "stream": True, "max_tokens": 4000}
        with httpx.stream("POST", base + "/chat/completions", json=body, timeout=30) as response:
            lines = response.iter_lines()  # kept: dropping the iterator closes the connection
            next(lines)  # the stream holds the only slot
            busy = _post(base, json.dumps({"messages": USER}))
            assert busy.status_code == 503 and _error(busy)["code"] == "busy"
            assert next(lines) == ""  # the stream is still going
        assert model.finished.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the slot comes back once the stream is gone
            again = _post(base, json.dumps({"messages": USER, "max_tokens": 3}))
            if again.status_code == 200:
                break
            time.sleep(0.05)
        assert again.status_code == 200
