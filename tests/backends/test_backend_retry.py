"""The one retry policy behind the OpenAI backend's sync and async loops (``backends._retry``)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from funcroute.backends._retry import RetryPolicy
from funcroute.backends.base import Request
from funcroute.backends.openai import OpenAIBackend
from funcroute.errors import BackendError


def test_exponential_backoff_then_give_up() -> None:
    policy = RetryPolicy(max_retries=3, backoff=0.25)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.25, 0.5, 1.0, None]
    assert policy.tries == 4


def test_retry_after_wins_when_longer() -> None:
    policy = RetryPolicy(max_retries=2, backoff=1.0)
    assert policy.delay(1, retry_after=5.0) == 5.0
    assert policy.delay(1, retry_after=0.1) == 1.0
    assert policy.delay(3, retry_after=5.0) is None  # no retries left, whatever the server says


def test_no_retries() -> None:
    assert RetryPolicy(max_retries=0, backoff=1.0).delay(1) is None


def test_failures_start_at_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy().delay(0)


def _flaky(statuses: list[int]) -> tuple[httpx.MockTransport, list[int]]:
    """A transport answering the given statuses in turn (then 200), recording each status sent."""
    sent: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        status = statuses[len(sent)] if len(sent) < len(statuses) else 200
        sent.append(status)
        if status != 200:
            return httpx.Response(status, json={"error": "busy"}, headers={"retry-after": "0"})
        return httpx.Response(200, json={"choices": [{"text": "ok", "finish_reason": "stop"}]})

    return httpx.MockTransport(handle), sent


@pytest.mark.funcroute_real_backend
@pytest.mark.parametrize(("statuses", "outcome"), [([503, 429], "ok"), ([503, 503, 503], "gave up")])
def test_sync_and_async_loops_decide_alike(
    monkeypatch: pytest.MonkeyPatch, statuses: list[int], outcome: str
) -> None:
    """Both loops take the same number of tries and wait the same delays, from one policy."""
    waits: dict[str, list[float]] = {"sync": [], "async": []}

    async def fake_async_sleep(delay: float) -> None:
        waits["async"].append(delay)

    monkeypatch.setattr("funcroute.backends.openai.time.sleep", waits["sync"].append)
    monkeypatch.setattr("funcroute.backends.openai.asyncio.sleep", fake_async_sleep)
    results: dict[str, str] = {}
    tries: dict[str, int] = {}
    for mode in ("sync", "async"):
        transport, sent = _flaky(statuses)
        client = httpx.Client(transport=transport)
        backend = OpenAIBackend("http://127.0.0.1:9", "m", max_retries=2, backoff=0.5, client=client)
        aclient = httpx.AsyncClient(transport=transport)
        monkeypatch.setattr(backend, "_async_client", lambda async_client=aclient: async_client)
        try:
            if mode == "sync":
                results[mode] = backend.complete(Request(prompt="x")).text
            else:
                results[mode] = asyncio.run(backend.acomplete(Request(prompt="x"))).text
        except BackendError as exc:
            assert exc.retryable is True
            results[mode] = "gave up" if "gave up after 3 tries" in str(exc) else str(exc)
        finally:
            backend.close()
            client.close()
            asyncio.run(aclient.aclose())
        tries[mode] = len(sent)
    assert results == {"sync": outcome, "async": outcome}
    assert tries["sync"] == tries["async"] == min(len(statuses) + 1, 3)
    assert waits["sync"] == waits["async"] == [0.5, 1.0][: tries["sync"] - 1]
