"""OpenAIBackend against a real llama-cpp-python server and against a scripted fake server.

Everything listens on 127.0.0.1 only; every loop is bounded in tries and time.
"""

from __future__ import annotations

import asyncio
import http.server
import importlib.util
import json
import pathlib
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema
import pytest

from funcroute.backends.base import Request
from funcroute.backends.openai import OpenAIBackend
from funcroute.errors import BackendError, UsageError
from llama_servers import wait_until_serving  # tests/ is on sys.path (rootdir conftest)

# llama_cpp.server runs in a subprocess; only check that it and its [server] extras are installed.
HAVE_LLAMA_CPP = all(
    importlib.util.find_spec(name) is not None
    for name in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
)

needs_llama_cpp = pytest.mark.skipif(
    not HAVE_LLAMA_CPP,
    reason='llama-cpp-python[server] is not installed (pip install "funcroute-llm[llamacpp]")',
)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SECRET = "sk-test-SECRET-4242"

CALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "function": {"enum": ["search", "get_weather", "file_analytics"]},
        "params": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "maxLength": 24},
                "limit": {"type": "integer", "minimum": 1},
                "exact": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    },
    "required": ["function", "params"],
    "additionalProperties": False,
}
PROMPTS = [
    f"A chat. USER: {text} ASSISTANT: "
    for text in [
        "What is the weather in Paris?",
        "Count the words in report.txt",
        "search for python asyncio",
        "How many lines are in notes.md?",
        "Find GPU prices",
        "weather in Tokyo tomorrow",
        "Search the web for São Paulo news",
        "Summarize data/sales_2023.csv",
        "tell me the time",
        "Zürich weather please",
        "grouped count of column city",
        "find the word 'error' in /var/log/syslog",
        "",
        "{",
        '"function": "',
        "Résumé ünïcödé 漢字 😀",
        "1 2 3 4 5 6 7 8 9",
        "\t\n",
        "ASSISTANT: ASSISTANT:",
        "please please please please please please",
    ]
]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep any proxy settings of the environment away from these 127.0.0.1-only tests."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------------
# A real llama-cpp-python server on the tiny model
# --------------------------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    log: pathlib.Path
    start_s: float


@pytest.fixture(scope="module")
def llama_server(tiny_model_dir: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not HAVE_LLAMA_CPP:
        pytest.skip('llama-cpp-python[server] is not installed (pip install "funcroute-llm[llamacpp]")')
    from funcroute.testing.gguf import convert_to_gguf

    workdir = tmp_path_factory.mktemp("llama_server")
    model = convert_to_gguf(tiny_model_dir, workdir / "tiny.gguf")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "1024", "--n_threads", "1", "--n_threads_batch", "1",
    ]  # fmt: skip
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(proc, url, log_path, 60.0)
        elapsed = time.perf_counter() - start
        print(f"\nllama_cpp.server ready in {elapsed:.2f}s")
        yield Server(url=url, log=log_path, start_s=elapsed)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if the server hangs
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def real(llama_server: Server) -> Iterator[OpenAIBackend]:
    with OpenAIBackend(
        llama_server.url, "tiny", structured="grammar", timeout=30.0, max_retries=1
    ) as backend:
        assert isinstance(backend, OpenAIBackend)
        yield backend


@needs_llama_cpp
def test_real_server_completion(real: OpenAIBackend, llama_server: Server) -> None:
    assert llama_server.start_s < 60
    result = real.complete(Request(prompt=PROMPTS[0], max_new_tokens=12))
    assert result.text
    assert result.finish_reason == "length"
    assert result.completion_tokens == 12
    assert result.prompt_tokens is not None and result.prompt_tokens > 5
    assert result.elapsed_s > 0
    assert real.complete(Request(prompt=PROMPTS[0], max_new_tokens=12)).text == result.text  # greedy


@needs_llama_cpp
def test_real_server_base_url_with_v1(llama_server: Server) -> None:
    with OpenAIBackend(llama_server.url + "/v1/", "tiny") as backend:
        assert backend.url == llama_server.url + "/v1/completions"
        assert backend.complete(Request(prompt="hi", max_new_tokens=3)).completion_tokens == 3


@needs_llama_cpp
def test_real_server_stop_sequences(real: OpenAIBackend) -> None:
    for prompt in PROMPTS[:4]:
        free = real.complete(Request(prompt=prompt, max_new_tokens=24)).text
        assert len(free) > 6, free
        stop = free[3:6]
        cut = real.complete(Request(prompt=prompt, max_new_tokens=24, stop=("never-produced", stop)))
        assert cut.text == free[: free.index(stop)]
        assert cut.finish_reason == "stop"


@needs_llama_cpp
def test_real_server_grammar_output_always_valid(real: OpenAIBackend) -> None:
    for prompt in PROMPTS:
        result = real.complete(Request(prompt=prompt, max_new_tokens=160, schema=CALL_SCHEMA))
        assert result.finish_reason == "stop", result
        assert not CONTROL.search(result.text), repr(result.text)
        jsonschema.validate(json.loads(result.text), CALL_SCHEMA)
    assert len(PROMPTS) == 20


@needs_llama_cpp
def test_real_server_without_grammar_is_not_json(llama_server: Server) -> None:
    with OpenAIBackend(llama_server.url, "tiny", structured="none") as backend:
        text = backend.complete(Request(prompt=PROMPTS[0], max_new_tokens=16, schema=CALL_SCHEMA)).text
    with pytest.raises(ValueError):
        json.loads(text)


@needs_llama_cpp
def test_real_server_many_and_async(real: OpenAIBackend) -> None:
    requests = [Request(prompt=p, max_new_tokens=6) for p in PROMPTS[:6]]
    expected = [real.complete(r).text for r in requests]
    assert [c.text for c in real.complete_many(requests)] == expected

    async def run() -> list[str]:
        return [c.text for c in await asyncio.gather(*(real.acomplete(r) for r in requests))]

    assert asyncio.run(run()) == expected
    assert asyncio.run(run()) == expected  # a second event loop works too


def test_server_down_is_retryable_after_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    start = time.perf_counter()
    with OpenAIBackend(url, "m", max_retries=2, backoff=0.01, timeout=2.0) as backend:
        with pytest.raises(BackendError) as info:
            backend.complete(Request(prompt="x"))
    assert time.perf_counter() - start < 5
    error = info.value
    assert error.retryable is True
    assert "gave up after 3 tries" in str(error)
    assert f"{url}/v1/completions" in str(error)
    assert "connect" in str(error).lower()


# --------------------------------------------------------------------------------------------------
# A scripted fake server
# --------------------------------------------------------------------------------------------------

Action = Callable[["FakeHandler", dict[str, Any]], None]


def ok(text: str = "hello", finish: str | None = "stop", usage: bool = True) -> Action:
    def act(handler: FakeHandler, body: dict[str, Any]) -> None:
        payload: dict[str, Any] = {
            "id": "x",
            "object": "text_completion",
            "choices": [{"index": 0, "text": text, "finish_reason": finish}],
        }
        if usage:
            payload["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        handler.reply(200, json.dumps(payload).encode())

    return act


def echo(delay: float = 0.0) -> Action:
    def act(handler: FakeHandler, body: dict[str, Any]) -> None:
        handler.server.stall.wait(delay)  # type: ignore[attr-defined]
        ok(text="echo:" + body["prompt"])(handler, body)

    return act


def status(
    code: int, body: bytes = b'{"error": {"message": "bad things", "code": 0}}', **headers: str
) -> Action:
    def act(handler: FakeHandler, _: dict[str, Any]) -> None:
        handler.reply(code, body, headers)

    return act


def raw(body: bytes, content_type: str = "application/json") -> Action:
    def act(handler: FakeHandler, _: dict[str, Any]) -> None:
        handler.reply(200, body, {"Content-Type": content_type})

    return act


def stall(seconds: float) -> Action:
    def act(handler: FakeHandler, body: dict[str, Any]) -> None:
        handler.server.stall.wait(seconds)  # type: ignore[attr-defined]
        ok()(handler, body)

    return act


def drop() -> Action:
    """Promise 1000 bytes, send 10, hang up."""

    def act(handler: FakeHandler, _: dict[str, Any]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(b'{"choices"')
        handler.wfile.flush()
        handler.close_connection = True

    return act


class FakeHandler(http.server.BaseHTTPRequestHandler):
    server: FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        with self.server.lock:
            self.server.requests.append((self.path, dict(self.headers), body))
            action = self.server.script.pop(0) if self.server.script else self.server.default
        try:
            action(self, body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass


class FakeHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.lock = threading.Lock()
        self.script: list[Action] = []
        self.default: Action = ok()
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.stall = threading.Event()  # set at teardown, so stalled handlers end at once

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@dataclass
class Fake:
    server: FakeHTTPServer
    backends: list[OpenAIBackend] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        return self.server.requests

    def script(self, *actions: Action, default: Action | None = None) -> None:
        self.server.script[:] = list(actions)
        if default is not None:
            self.server.default = default

    def backend(self, **kwargs: Any) -> OpenAIBackend:
        options: dict[str, Any] = {"max_retries": 2, "backoff": 0.01, "timeout": 5.0, **kwargs}
        backend = OpenAIBackend(self.url, "fake-model", **options)
        self.backends.append(backend)
        return backend


@pytest.fixture
def fake() -> Iterator[Fake]:
    server = FakeHTTPServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    handle = Fake(server)
    try:
        yield handle
    finally:
        for backend in handle.backends:
            backend.close()
        server.stall.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_success_and_request_body(fake: Fake) -> None:
    fake.script(ok(text="world", finish="length"))
    backend = fake.backend(api_key=SECRET)
    result = backend.complete(Request(prompt="Say hi", max_new_tokens=7, stop=("USER:",)))
    assert result.text == "world"
    assert result.finish_reason == "length"
    assert (result.prompt_tokens, result.completion_tokens) == (3, 2)
    path, headers, body = fake.requests[0]
    assert path == "/v1/completions"
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert body == {
        "model": "fake-model",
        "prompt": "Say hi",
        "max_tokens": 7,
        "temperature": 0.0,
        "stream": False,
        "stop": ["USER:"],
    }


def test_500_then_success_retries(fake: Fake) -> None:
    fake.script(status(500), status(502, b"<html>bad gateway</html>"), ok(text="fine"))
    result = fake.backend().complete(Request(prompt="x"))
    assert result.text == "fine"
    assert len(fake.requests) == 3


def test_5xx_until_retries_run_out(fake: Fake) -> None:
    fake.script(default=status(503))
    with pytest.raises(BackendError) as info:
        fake.backend(max_retries=3).complete(Request(prompt="x"))
    assert len(fake.requests) == 4
    message = str(info.value)
    assert info.value.retryable is True
    assert "gave up after 4 tries" in message and "HTTP 503" in message and "bad things" in message
    assert f"{fake.url}/v1/completions" in message


def test_429_is_retried_with_retry_after(fake: Fake) -> None:
    fake.script(status(429, **{"Retry-After": "0"}), ok(text="ok"))
    assert fake.backend().complete(Request(prompt="x")).text == "ok"
    assert len(fake.requests) == 2


def test_400_fails_at_once(fake: Fake) -> None:
    fake.script(default=status(400, b'{"error": {"message": "max_tokens must be positive"}}'))
    with pytest.raises(BackendError) as info:
        fake.backend().complete(Request(prompt="x"))
    assert len(fake.requests) == 1
    assert info.value.retryable is False
    message = str(info.value)
    assert "HTTP 400" in message and "max_tokens must be positive" in message and fake.url in message


def test_404_hints_at_the_url(fake: Fake) -> None:
    fake.script(default=status(404, b"Not Found"))
    with pytest.raises(BackendError, match="base_url") as info:
        fake.backend().complete(Request(prompt="x"))
    assert info.value.retryable is False


def test_api_key_never_shown(fake: Fake) -> None:
    fake.script(default=status(401, f'{{"error": "invalid key {SECRET}"}}'.encode()))
    backend = fake.backend(api_key=SECRET)
    with pytest.raises(BackendError) as info:
        backend.complete(Request(prompt="x"))
    assert SECRET not in str(info.value) and "***" in str(info.value)
    assert "api_key" in str(info.value)
    assert SECRET not in repr(backend) and SECRET not in str(vars(backend).get("url"))


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"<html>hello</html>", "text/html", "not JSON"),
        (b'{"choices": [{"text": "trunc', "application/json", "not JSON"),
        (b"", "application/json", "not JSON"),
        (b'{"choices": []}', "application/json", r"no choices\[0\]\.text"),
        (b'{"result": "hi"}', "application/json", r"no choices\[0\]\.text"),
        (b'{"choices": [{"message": {"content": "hi"}}]}', "application/json", r"no choices\[0\]\.text"),
        (b'{"choices": [{"text": null}]}', "application/json", r"no choices\[0\]\.text"),
        (b"[1, 2]", "application/json", r"no choices\[0\]\.text"),
    ],
)
def test_malformed_responses(fake: Fake, body: bytes, content_type: str, expected: str) -> None:
    fake.script(default=raw(body, content_type))
    with pytest.raises(BackendError, match=expected) as info:
        fake.backend().complete(Request(prompt="x"))
    assert info.value.retryable is False
    assert len(fake.requests) == 1
    assert "HTTP 200" in str(info.value) and fake.url in str(info.value)


def test_timeout(fake: Fake) -> None:
    fake.script(default=stall(5.0))
    start = time.perf_counter()
    with pytest.raises(BackendError) as info:
        fake.backend(timeout=0.2, max_retries=1).complete(Request(prompt="x"))
    assert time.perf_counter() - start < 3.0
    assert info.value.retryable is True
    assert "timed out" in str(info.value) and "gave up after 2 tries" in str(info.value)
    assert len(fake.requests) == 2


def test_stall_then_success(fake: Fake) -> None:
    fake.script(stall(5.0), ok(text="late but fine"))
    assert fake.backend(timeout=0.2).complete(Request(prompt="x")).text == "late but fine"


def test_connection_dropped_mid_response(fake: Fake) -> None:
    fake.script(drop(), ok(text="second try"))
    assert fake.backend().complete(Request(prompt="x")).text == "second try"
    assert len(fake.requests) == 2

    fake.script(default=drop())
    with pytest.raises(BackendError) as info:
        fake.backend(max_retries=1).complete(Request(prompt="x"))
    assert info.value.retryable is True and "gave up after 2 tries" in str(info.value)


def test_stop_strings_also_applied_client_side(fake: Fake) -> None:
    fake.script(default=ok(text="alpha END beta STOP5 gamma", finish="length"))
    stops = ("S1", "S2", "S3", "S4", "STOP5", "END")
    result = fake.backend().complete(Request(prompt="x", stop=stops))
    assert result.text == "alpha "
    assert result.finish_reason == "stop"
    assert fake.requests[0][2]["stop"] == ["S1", "S2", "S3", "S4"]  # the server limit
    assert "stop" not in fake.backend(max_stop=0).build_body(Request(prompt="x", stop=stops))
    assert (
        len(fake.backend(max_stop=10).build_body(Request(prompt="x", stop=(*stops, "", "END")))["stop"]) == 6
    )


def test_stop_when_applied_client_side(fake: Fake) -> None:
    fake.script(default=ok(text='{"a":1} trailing junk', finish=None, usage=False))
    result = fake.backend().complete(Request(prompt="x", stop_when=lambda t: t.find("}") + 1 or None))
    assert result.text == '{"a":1}'
    assert result.finish_reason == "stop"
    assert result.prompt_tokens is None and result.completion_tokens is None


def test_finish_reasons(fake: Fake) -> None:
    for given, expected in [
        ("eos_token", "stop"),
        ("stop_sequence", "stop"),
        ("length", "length"),
        (None, "unknown"),
    ]:
        fake.script(ok(finish=given))
        assert fake.backend().complete(Request(prompt="x")).finish_reason == expected


@pytest.mark.parametrize(
    ("mode", "keys"),
    [
        ("none", set()),
        ("grammar", {"grammar", "grammar_string"}),
        ("json_schema", {"response_format", "json_schema"}),
        ("guided_json", {"guided_json"}),
        ("structured_outputs", {"structured_outputs"}),
    ],
)
def test_structured_modes(fake: Fake, mode: Any, keys: set[str]) -> None:
    backend = fake.backend(structured=mode)
    base = {"model", "prompt", "max_tokens", "temperature", "stream"}
    assert set(backend.build_body(Request(prompt="x"))) == base  # no schema: nothing extra
    body = backend.build_body(Request(prompt="x", schema=CALL_SCHEMA))
    assert set(body) - base == keys
    if mode == "grammar":
        assert body["grammar"].startswith("root ::= ") and body["grammar"] == body["grammar_string"]
    elif mode == "json_schema":
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"] == CALL_SCHEMA == body["json_schema"]
    elif mode == "guided_json":
        assert body["guided_json"] == CALL_SCHEMA
    elif mode == "structured_outputs":
        assert body["structured_outputs"] == {"json": CALL_SCHEMA}


def test_grammar_follows_property_order(fake: Fake) -> None:
    backend = fake.backend(structured="grammar")
    ab = {
        "type": "object",
        "properties": {"a": {"type": "null"}, "b": {"type": "null"}},
        "required": ["a", "b"],
    }
    ba = {
        "type": "object",
        "properties": {"b": {"type": "null"}, "a": {"type": "null"}},
        "required": ["a", "b"],
    }
    first = backend.build_body(Request(prompt="x", schema=ab))["grammar"]
    second = backend.build_body(Request(prompt="x", schema=ba))["grammar"]
    assert first.index('\\"a\\"') < first.index('\\"b\\"')
    assert second.index('\\"b\\"') < second.index('\\"a\\"')


def test_undecodable_body_is_not_retried(fake: Fake) -> None:
    def bad_gzip(handler: FakeHandler, _: dict[str, Any]) -> None:
        handler.reply(200, b"definitely not gzip", {"Content-Encoding": "gzip"})

    fake.script(default=bad_gzip)
    with pytest.raises(BackendError, match="DecodingError") as info:
        fake.backend().complete(Request(prompt="x"))
    assert info.value.retryable is False and len(fake.requests) == 1


def test_extra_body_merges(fake: Fake) -> None:
    backend = fake.backend(extra_body={"top_k": 1, "temperature": 0.5})
    body = backend.build_body(Request(prompt="x", extra={"extra_body": {"seed": 7, "top_k": 2}}))
    assert (body["temperature"], body["top_k"], body["seed"]) == (0.5, 2, 7)


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://h:1", "http://h:1/v1/completions"),
        ("http://h:1/", "http://h:1/v1/completions"),
        ("http://h:1/v1", "http://h:1/v1/completions"),
        ("https://h/api/v1/", "https://h/api/v1/completions"),
        ("http://h/proxy", "http://h/proxy/v1/completions"),
    ],
)
def test_url(base: str, url: str) -> None:
    with OpenAIBackend(base, "m") as backend:
        assert backend.url == url


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "127.0.0.1:8080"},
        {"structured": "regex"},
        {"timeout": 0},
        {"max_retries": -1},
        {"concurrency": 0},
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"base_url": "http://127.0.0.1:1", "model": "m", **kwargs}
    with pytest.raises(UsageError):
        OpenAIBackend(**options)


def test_complete_many_keeps_order_and_bounds_concurrency(fake: Fake) -> None:
    # The bound is shown without timing: every request is held at the server until the test lets go.
    # While none has been answered, the client has no free slot, so a fourth arrival would be a real
    # breach of concurrency=3, not a race between a response being written and a counter going down.
    arrived = threading.Semaphore(0)
    release = threading.Event()
    seen: list[int] = []
    lock = threading.Lock()

    def held(handler: FakeHandler, body: dict[str, Any]) -> None:
        with lock:
            seen.append(int(body["prompt"]))
        arrived.release()
        release.wait(10)
        delay = 0.02 * (int(body["prompt"]) % 3)  # later requests may finish first
        echo(delay)(handler, body)

    fake.script(default=held)
    backend = fake.backend(concurrency=3)
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.extend(backend.complete_many([Request(prompt=str(i)) for i in range(12)]))
    )
    worker.start()
    try:
        for _ in range(3):
            assert arrived.acquire(timeout=10), "fewer than 3 requests were sent at once"
        # Give a fourth request every chance to arrive; none may while three are unanswered.
        assert not arrived.acquire(timeout=0.3)
        with lock:
            assert len(seen) == 3
    finally:
        release.set()
        worker.join(30)
    assert [r.text for r in results] == [f"echo:{i}" for i in range(12)]
    assert sorted(seen) == list(range(12))
    assert backend.complete_many([]) == []


def test_complete_many_raises_first_failure(fake: Fake) -> None:
    def by_prompt(handler: FakeHandler, body: dict[str, Any]) -> None:
        (status(400) if body["prompt"] == "bad" else echo())(handler, body)

    fake.script(default=by_prompt)
    with pytest.raises(BackendError, match="HTTP 400"):
        fake.backend().complete_many([Request(prompt="a"), Request(prompt="bad"), Request(prompt="c")])


def test_acomplete_with_retry(fake: Fake) -> None:
    fake.script(status(500), drop(), default=echo())
    backend = fake.backend()

    async def run() -> list[str]:
        first = await backend.acomplete(Request(prompt="one"))
        rest = await asyncio.gather(*(backend.acomplete(Request(prompt=str(i))) for i in range(5)))
        return [first.text] + [r.text for r in rest]

    assert asyncio.run(run()) == ["echo:one"] + [f"echo:{i}" for i in range(5)]
    assert asyncio.run(run())[0] == "echo:one"  # a new event loop gets a new client


def test_acomplete_errors(fake: Fake) -> None:
    fake.script(default=status(400))
    backend = fake.backend()
    with pytest.raises(BackendError, match="HTTP 400"):
        asyncio.run(backend.acomplete(Request(prompt="x")))
    fake.script(default=stall(5.0))
    with pytest.raises(BackendError, match="timed out"):
        asyncio.run(fake.backend(timeout=0.2, max_retries=0).acomplete(Request(prompt="x")))


def test_aclose_and_close(fake: Fake) -> None:
    fake.script(default=echo())
    backend = fake.backend()

    async def run() -> str:
        text = (await backend.acomplete(Request(prompt="a"))).text
        await backend.aclose()
        return text

    assert asyncio.run(run()) == "echo:a"
    backend.close()  # twice is fine
    with pytest.raises(BackendError, match="closed"):
        backend.complete(Request(prompt="x"))


def test_user_client_is_not_closed(fake: Fake) -> None:
    fake.script(default=echo())
    with httpx.Client() as client:
        backend = fake.backend(client=client)
        assert backend.complete(Request(prompt="a")).text == "echo:a"
        backend.close()
        assert not client.is_closed


def test_grammar_cache_is_bounded_under_concurrent_compiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """``complete_many`` compiles grammars from its thread pool; the cache must stay consistent.

    Every compile waits at a barrier until all threads are compiling, so every thread has checked
    the cache before any stores: the interleaving that broke the bound of an unlocked dict.
    """
    from funcroute.constrain import gbnf

    real = gbnf.schema_to_gbnf
    threads = 8
    barrier = threading.Barrier(threads, timeout=20)
    building = threading.local()

    def slow_compile(schema: Any) -> str:
        if getattr(building, "wait", False):
            barrier.wait()
        return real(schema)

    monkeypatch.setattr(gbnf, "schema_to_gbnf", slow_compile)
    backend = OpenAIBackend("http://127.0.0.1:9", "m", structured="grammar")

    def schema(i: int) -> dict[str, Any]:
        return {"type": "object", "properties": {f"p{i}": {"type": "integer"}}, "required": [f"p{i}"]}

    for i in range(64):  # fill the cache to its bound
        backend.build_body(Request(prompt="x", schema=schema(i)))
    assert len(backend._grammars) == 64
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        building.wait = True
        try:
            results[i] = backend.build_body(Request(prompt="x", schema=schema(i)))["grammar"]
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(100 + i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(30)
    backend.close()
    assert not errors, errors
    assert len(backend._grammars) <= 64
    assert sorted(results) == [100 + i for i in range(threads)]
    for i, grammar in results.items():
        assert grammar == real(schema(i))
