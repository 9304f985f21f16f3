"""FleetBackend against loopback fake replicas and fault proxies (real HTTP, real sockets)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from funcroute.backends.base import Request
from funcroute.backends.fleet import FleetBackend
from funcroute.errors import BackendError, UsageError
from funcroute.testing.fleet import FakeReplica, FaultProxy

pytestmark = pytest.mark.funcroute_real_backend


def echo(body: dict[str, Any]) -> str:
    match = re.search(r"#(\d+)", body["prompt"])
    return f"reply {match.group(1) if match else '?'}"


def req(n: int) -> Request:
    return Request(prompt=f"USER: request #{n} ASSISTANT:")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


class Servers:
    def __init__(self) -> None:
        self.started: list[FakeReplica | FaultProxy] = []
        self.fleets: list[FleetBackend] = []

    def replica(self, latency: float = 0.0, reply: Any = echo) -> FakeReplica:
        server = FakeReplica(reply, latency=latency)
        server.start()
        self.started.append(server)
        return server

    def proxy(self, upstream: FakeReplica, **kwargs: Any) -> FaultProxy:
        proxy = FaultProxy(upstream.url, **kwargs)
        proxy.start()
        self.started.append(proxy)
        return proxy

    def fleet(self, urls: list[str], **kwargs: Any) -> FleetBackend:
        options: dict[str, Any] = {"timeout": 5.0, "backoff": 0.05, "max_backoff": 0.2, **kwargs}
        fleet = FleetBackend(urls, "fake", **options)
        self.fleets.append(fleet)
        return fleet


@pytest.fixture
def servers() -> Iterator[Servers]:
    handle = Servers()
    try:
        yield handle
    finally:
        for fleet in handle.fleets:
            fleet.close()
        for server in handle.started:
            if isinstance(server, FaultProxy):
                server.close()
            else:
                server.stop()


def test_requests_spread_over_replicas_in_order_with_bounded_in_flight(servers: Servers) -> None:
    replicas = [servers.replica(latency=0.05) for _ in range(3)]
    fleet = servers.fleet([r.url for r in replicas], max_in_flight=3, initial_in_flight=3)
    completions = fleet.complete_many([req(n) for n in range(36)])
    assert [c.text for c in completions] == [f"reply {n}" for n in range(36)]
    assert sum(r.served for r in replicas) == 36
    # Every replica works. A fair share is 12, but on a loaded box one replica's latency may climb
    # past the tolerance and its limit shrink, so it gets less (this test failed once under load).
    assert all(r.served >= 3 for r in replicas), [r.served for r in replicas]
    assert all(1 <= r.peak_in_flight <= 3 for r in replicas), [r.peak_in_flight for r in replicas]
    stats = fleet.stats()
    assert [s.state for s in stats] == ["up"] * 3
    assert sum(s.ok for s in stats) == 36 and all(s.in_flight == 0 for s in stats)
    assert all(s.latency_s is not None and s.latency_s >= 0.05 for s in stats)


def test_a_slow_replica_gets_less_work_than_round_robin_would_give_it(servers: Servers) -> None:
    fast, slow = servers.replica(latency=0.01), servers.replica(latency=0.3)
    fleet = servers.fleet([slow.url, fast.url], max_in_flight=2, initial_in_flight=2)
    fleet.complete_many([req(n) for n in range(60)])
    assert fast.served + slow.served == 60
    assert slow.served < 15, (fast.served, slow.served)  # round-robin would give it 30


def test_in_flight_limit_adapts_up_on_a_replica_that_batches(servers: Servers) -> None:
    replica = servers.replica(latency=0.03)
    fleet = servers.fleet([replica.url], max_in_flight=6, initial_in_flight=1)
    fleet.complete_many([req(n) for n in range(80)])
    assert fleet.stats()[0].limit > 1
    assert replica.peak_in_flight > 1


def test_in_flight_limit_shrinks_on_a_replica_that_serialises(servers: Servers) -> None:
    serial = FakeReplica(echo, latency=0.03, slots=1)  # one request at a time, the rest queue
    serial.start()
    servers.started.append(serial)
    fleet = servers.fleet([serial.url], max_in_flight=8, initial_in_flight=8)
    completions = fleet.complete_many([req(n) for n in range(60)])
    assert [c.text for c in completions] == [f"reply {n}" for n in range(60)]
    assert fleet.stats()[0].limit <= 4, fleet.stats()[0]


def test_async_api_from_a_user_event_loop(servers: Servers) -> None:
    replicas = [servers.replica(latency=0.01) for _ in range(2)]
    fleet = servers.fleet([r.url for r in replicas])

    async def run() -> list[str]:
        done = await asyncio.gather(*(fleet.acomplete(req(n)) for n in range(10)))
        return [c.text for c in done]

    assert asyncio.run(run()) == [f"reply {n}" for n in range(10)]
    assert fleet.complete(req(99)).text == "reply 99"  # sync and async share one fleet


@pytest.mark.parametrize("fault", ["drop", "garbage", "500", "stall"])
def test_a_failing_replica_is_taken_out_retried_elsewhere_and_probed_back(
    servers: Servers, fault: str
) -> None:
    good, behind = servers.replica(latency=0.02), servers.replica(latency=0.02)
    proxy = servers.proxy(behind, stall_s=30.0)
    proxy.inject(fault, fault)
    fleet = servers.fleet([proxy.url, good.url], timeout=1.0, max_in_flight=2, initial_in_flight=2)
    completions = fleet.complete_many([req(n) for n in range(30)])
    assert [c.text for c in completions] == [f"reply {n}" for n in range(30)]
    assert proxy.served[fault] == 2
    flaky = fleet.stats()[0]
    assert flaky.failed == 2 and flaky.last_error is not None
    # it came back: a probe passed and later requests were forwarded to it
    deadline = time.monotonic() + 5
    while proxy.served["pass"] == 0 and time.monotonic() < deadline:
        fleet.complete_many([req(n) for n in range(4)])
    assert proxy.served["pass"] > 0
    assert fleet.stats()[0].state == "up"


def test_429_and_503_pause_the_replica_for_retry_after(servers: Servers) -> None:
    behind, other = servers.replica(), servers.replica(latency=0.02)
    proxy = servers.proxy(behind, retry_after=0.6)
    proxy.inject("429", "503")
    fleet = servers.fleet([proxy.url, other.url], max_in_flight=1, initial_in_flight=1)
    completions = fleet.complete_many([req(n) for n in range(40)])
    assert [c.text for c in completions] == [f"reply {n}" for n in range(40)]
    log = proxy.log
    assert [fault for _, fault in log[:2]] == ["429", "503"]
    # nothing was sent to it while it had asked us to wait
    assert log[1][0] - log[0][0] >= 0.55
    if len(log) > 2:
        assert log[2][0] - log[1][0] >= 0.55
    stats = fleet.stats()[0]
    assert stats.throttled == 2 and stats.failed == 0


def test_a_server_that_always_says_later_ends_after_max_wait(servers: Servers) -> None:
    proxy = servers.proxy(servers.replica(), retry_after=0.1)
    proxy.inject(default="429")
    fleet = servers.fleet([proxy.url], max_wait=0.5)
    with pytest.raises(BackendError, match=r"no replica could take the request for 0\.5s") as info:
        fleet.complete(req(1))
    assert "paused" in str(info.value) and "HTTP 429" in str(info.value)
    assert 2 <= proxy.served["429"] <= 8  # it waited as asked between tries, not hundreds of times


def test_a_request_failing_on_every_replica_fails_with_every_reason(servers: Servers) -> None:
    proxies = [servers.proxy(servers.replica()) for _ in range(2)]
    for proxy in proxies:
        proxy.inject(default="500")
    fleet = servers.fleet([p.url for p in proxies], min_tries=2)
    with pytest.raises(BackendError) as info:
        fleet.complete(req(1))
    message = str(info.value)
    assert "failed on every replica (2, 2 tries)" in message
    assert all(p.url in message for p in proxies) and "HTTP 500" in message
    assert info.value.retryable


def test_one_replica_rides_out_a_blip_with_min_tries(servers: Servers) -> None:
    proxy = servers.proxy(servers.replica())
    proxy.inject("500", "drop")
    fleet = servers.fleet([proxy.url], min_tries=3)
    assert fleet.complete(req(7)).text == "reply 7"
    assert proxy.served == {"500": 1, "drop": 1, "pass": 1}


def test_a_refused_request_fails_at_once_without_penalising_the_replica(servers: Servers) -> None:
    proxy = servers.proxy(servers.replica())
    proxy.inject("400")
    fleet = servers.fleet([proxy.url, servers.replica().url])
    with pytest.raises(BackendError, match="HTTP 400") as info:
        fleet.complete(req(1))
    assert not info.value.retryable
    assert fleet.stats()[0].state == "up" and fleet.stats()[0].failed == 0


def test_no_reachable_replica_fails_after_max_wait(servers: Servers) -> None:
    dead = [servers.replica(), servers.replica()]
    for replica in dead:
        replica.stop()  # connections refused from now on
    fleet = servers.fleet([r.url for r in dead], max_wait=0.4)
    with pytest.raises(BackendError, match=r"no replica could take the request for 0\.4s") as info:
        fleet.complete(req(1))
    assert "down" in str(info.value)
    assert all(s.state == "down" for s in fleet.stats())


def test_a_killed_replica_restarted_on_its_port_comes_back(servers: Servers) -> None:
    victim, other = servers.replica(latency=0.05), servers.replica(latency=0.05)
    fleet = servers.fleet([victim.url, other.url], max_in_flight=2, initial_in_flight=2)
    fleet.complete_many([req(n) for n in range(8)])
    victim.stop()  # in-flight connections are cut, new ones refused
    completions = fleet.complete_many([req(n) for n in range(12)])
    assert [c.text for c in completions] == [f"reply {n}" for n in range(12)]
    assert fleet.stats()[0].state == "down"
    served = victim.served
    victim.start()
    deadline = time.monotonic() + 5
    while victim.served == served and time.monotonic() < deadline:
        fleet.complete_many([req(n) for n in range(4)])
    assert victim.served > served and fleet.stats()[0].state == "up"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"endpoints": []},
        {"endpoints": "http://127.0.0.1:1"},
        {"endpoints": ["http://127.0.0.1:1", "http://127.0.0.1:1"]},
        {"endpoints": ["ftp://x"]},
        {"max_in_flight": 0},
        {"backoff": 0},
        {"tolerance": 1.0},
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"endpoints": ["http://127.0.0.1:1"], "model": "m", **kwargs}
    with pytest.raises(UsageError):
        FleetBackend(**options)


def test_closed_fleet_refuses_and_close_twice_is_safe(servers: Servers) -> None:
    fleet = FleetBackend([servers.replica().url], "fake")
    assert fleet.complete(req(1)).text == "reply 1"
    fleet.close()
    fleet.close()
    with pytest.raises(BackendError, match="closed"):
        fleet.complete(req(2))
    assert "127.0.0.1" in repr(fleet)
