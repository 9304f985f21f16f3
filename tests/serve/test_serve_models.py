"""`funcroute serve` with real models: SmolLM2-135M (GGUF, llama.cpp, grammar) and the offline router.

Clients we did not write: the openai SDK and a pydantic-ai agent with two tools.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

openai = pytest.importorskip("openai", reason="the openai SDK is not installed (dev extra)")
pytest.importorskip("uvicorn", reason='uvicorn is not installed (pip install "funcroute-llm[serve]")')

from funcroute.errors import UsageError  # noqa: E402
from funcroute.serve import create_app  # noqa: E402
from funcroute.serve.thread import running  # noqa: E402
from serve_tools import ADD  # noqa: E402  (tests/ is on sys.path)

pytestmark = pytest.mark.funcroute_real_backend

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name."}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def smollm2_url() -> Iterator[str]:
    pytest.importorskip(
        "llama_cpp", reason='llama-cpp-python is not installed (pip install "funcroute-llm[llamacpp]")'
    )
    from funcroute.backends.bundled import bundled_gguf
    from funcroute.backends.llamacpp import LlamaCppBackend

    try:
        path = bundled_gguf("smollm2")
    except UsageError as exc:
        pytest.skip(f"SmolLM2 is not installed: {exc}")
    # One thread: on a shared 2-core box a second one spin-waits and makes decoding ~7x slower.
    backend = LlamaCppBackend(path, n_ctx=2048, n_threads=1)
    try:
        with running(create_app(backend, template="chatml", model_name="smollm2")) as url:
            yield url
    finally:
        backend.close()


def test_smollm2_streamed_call_is_live_and_equals_the_plain_one(smollm2_url: str) -> None:
    client = openai.OpenAI(base_url=smollm2_url, api_key="x", max_retries=0)
    ask: dict[str, Any] = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [WEATHER, ADD],
        "tool_choice": "required",
        "max_tokens": 48,
    }
    plain = client.chat.completions.create(**ask).choices[0].message.tool_calls[0]  # type: ignore[index]
    parts: list[str] = []
    names: list[str] = []
    for chunk in client.chat.completions.create(**ask, stream=True):
        for call in chunk.choices[0].delta.tool_calls or () if chunk.choices else ():
            names += [call.function.name] if call.function and call.function.name else []
            parts += [call.function.arguments] if call.function and call.function.arguments else []
    assert names == [plain.function.name]
    assert "".join(parts) == plain.function.arguments
    assert len(parts) > 2  # deltas while the call was generated, not one block at the end
    spec = next(t for t in (WEATHER, ADD) if t["function"]["name"] == plain.function.name)  # type: ignore[index]
    jsonschema.validate(json.loads(plain.function.arguments), spec["function"]["parameters"])  # type: ignore[index]


def test_pydantic_ai_agent_with_two_tools_runs_to_completion(smollm2_url: str) -> None:
    pydantic_ai = pytest.importorskip("pydantic_ai", reason="pydantic-ai is not installed (dev extra)")
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    client = openai.AsyncOpenAI(base_url=smollm2_url, api_key="x", max_retries=0)
    model = OpenAIChatModel("smollm2", provider=OpenAIProvider(openai_client=client))
    agent = pydantic_ai.Agent(model, model_settings={"max_tokens": 48, "temperature": 0.0})
    ran: list[tuple[str, Any]] = []

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Get the current weather for a city.

        Args:
            city: The city name.
        """
        ran.append(("get_weather", city))
        return f"It is 12 degrees and sunny in {city}."

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two integers."""
        ran.append(("add", (a, b)))
        return a + b

    async def main() -> Any:
        try:
            limits = pydantic_ai.UsageLimits(request_limit=6)
            return await agent.run("What is the weather in Paris?", usage_limits=limits)
        finally:
            await client.close()

    result = asyncio.run(main())
    assert ran, "the agent never called a tool"
    name, value = ran[0]
    assert name in ("get_weather", "add")
    assert isinstance(value, str) if name == "get_weather" else all(isinstance(v, int) for v in value)
    assert isinstance(result.output, str) and result.output.strip()


# ------------------------------------------------------------------------------ offline router


@pytest.fixture(scope="module")
def offline_url() -> Iterator[str]:
    pytest.importorskip("funcroute.offline.encoder", reason="the offline router needs the semantic extra")
    with running(create_app(None)) as url:  # None: the offline semantic router
        yield url


def test_offline_router_behind_the_server(offline_url: str) -> None:
    client = openai.OpenAI(base_url=offline_url, api_key="x", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "What is the weather in 'Paris'?"}]
    reply = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER, ADD])
    call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    # A client loop: the tool result comes back; the offline router answers with it.
    messages += [reply.choices[0].message.model_dump(exclude_none=True)]
    messages += [{"role": "tool", "tool_call_id": call.id, "content": "12 degrees, sunny"}]
    final = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER, ADD])
    assert final.choices[0].message.content == "12 degrees, sunny"
    assert final.choices[0].message.tool_calls is None


def test_offline_router_declines_under_auto_and_refuses_under_required(offline_url: str) -> None:
    client = openai.OpenAI(base_url=offline_url, api_key="x", max_retries=0)
    odd = [{"role": "user", "content": "Compose a sonnet about the sea at dawn."}]
    reply = client.chat.completions.create(model="m", messages=odd, tools=[WEATHER])
    assert reply.choices[0].message.tool_calls is None
    assert (reply.choices[0].message.content or "").startswith("No suitable function:")
    with pytest.raises(openai.UnprocessableEntityError, match="no suitable function"):
        client.chat.completions.create(model="m", messages=odd, tools=[WEATHER], tool_choice="required")
    with pytest.raises(openai.BadRequestError, match="writes no text"):
        client.chat.completions.create(model="m", messages=odd)


# ------------------------------------------------------------------- transformers (tiny model)


def test_transformers_backend_batches_concurrent_constrained_calls(tiny_backend: Any) -> None:
    """The tiny random Llama: its calls are valid only because the grammar makes them so."""
    app = create_app(tiny_backend, template="airoboros-2")
    ask = {"model": "m", "tools": [ADD], "tool_choice": "required", "max_tokens": 64}

    async def main(url: str) -> list[Any]:
        client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0)
        try:
            calls = [
                client.chat.completions.create(
                    messages=[{"role": "user", "content": f"Add {i} and {i + 1}"}], **ask
                )
                for i in range(4)
            ]
            return list(await asyncio.gather(*calls))
        finally:
            await client.close()

    with running(app) as url:
        replies = asyncio.run(main(url))
    for reply in replies:
        call = reply.choices[0].message.tool_calls[0]
        assert call.function.name == "add"
        jsonschema.validate(json.loads(call.function.arguments), ADD["function"]["parameters"])  # type: ignore[index]
    assert max(app.state.engine.dispatcher.sizes) > 1  # at least one batch held several requests


# ------------------------------------------------------------- upstream llama.cpp server


def test_upstream_llama_cpp_server_behind_funcroute_serve() -> None:
    """funcroute serve → OpenAIBackend(structured="grammar") → llama-cpp-python's own server (SmolLM2)."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")
    from funcroute.backends.bundled import bundled_gguf
    from funcroute.backends.openai import OpenAIBackend

    try:
        path = bundled_gguf("smollm2")
    except UsageError as exc:
        pytest.skip(f"SmolLM2 is not installed: {exc}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # llama-cpp-python's server, loading without AMX repacking where that crashes (its only change).
    server = "funcroute.backends.llama_server"
    command = [sys.executable, "-m", server, "--model", str(path), "--model_alias", "smollm2"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_ctx", "2048"]
    upstream = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)
                break
            except httpx.TransportError:
                assert upstream.poll() is None and time.monotonic() < deadline, "upstream did not start"
                time.sleep(0.3)
        backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "smollm2", structured="grammar", timeout=120)
        with running(create_app(backend, template="chatml")) as url:
            client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
            reply = client.chat.completions.create(
                model="smollm2",
                messages=[{"role": "user", "content": "Add 2 and 3."}],
                tools=[WEATHER, ADD],
                tool_choice={"type": "function", "function": {"name": "add"}},
                max_tokens=48,
            )
        backend.close()
    finally:
        upstream.terminate()
        upstream.wait(30)
    call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "add"
    jsonschema.validate(json.loads(call.function.arguments), ADD["function"]["parameters"])  # type: ignore[index]
