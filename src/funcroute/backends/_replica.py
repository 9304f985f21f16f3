"""One replica's health and in-flight limit, as the fleet client sees it (no I/O here).

The limit is sized from the replica's own answers, additive-increase / multiplicative-decrease on
latency: while answers come back about as fast as the fastest seen (the server is not queueing),
the limit grows by about one per round trip; when latency climbs past ``tolerance`` times that
floor, or the server answers 429/503, it shrinks. A server that batches (vLLM, TGI) keeps a high
limit; one that serialises requests (a single-slot llama.cpp server) settles near its slot count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

__all__ = ["Replica", "ReplicaStats"]

State = Literal["up", "down", "paused"]

_EWMA = 0.3  # weight of the newest latency in the moving average
_FLOOR_DRIFT = 1.002  # the latency floor creeps up, so a replica that got slower is re-measured


@dataclass(frozen=True)
class ReplicaStats:
    """A snapshot of one replica, for progress lines and summaries.

    Attributes:
        url: the replica's base URL (user info removed).
        state: ``up``, ``down`` (failing: out of rotation until a probe answers) or ``paused``
            (it asked us to wait: 429, or 503 with ``Retry-After``).
        in_flight: requests sent and not yet answered.
        limit: how many requests it may have in flight now.
        latency_s: moving average of its successful answers' latency (``None`` before the first).
        ok: successful answers.
        failed: failed tries (each retried elsewhere, or reported).
        throttled: 429/503 answers that asked us to wait.
        retry_in_s: seconds until it is probed or unpaused (0 when up).
        last_error: the most recent failure, for humans.
    """

    url: str
    state: State
    in_flight: int
    limit: int
    latency_s: float | None
    ok: int
    failed: int
    throttled: int
    retry_in_s: float
    last_error: str | None

    def to_dict(self) -> dict[str, object]:
        """The snapshot as JSON-ready data."""
        return {
            "url": self.url,
            "state": self.state,
            "in_flight": self.in_flight,
            "limit": self.limit,
            "latency_s": None if self.latency_s is None else round(self.latency_s, 4),
            "ok": self.ok,
            "failed": self.failed,
            "throttled": self.throttled,
            "retry_in_s": round(self.retry_in_s, 2),
            "last_error": self.last_error,
        }


class Replica:
    """Mutable state of one replica; every method is called on the fleet's event loop thread."""

    def __init__(
        self,
        url: str,
        *,
        initial_in_flight: int,
        max_in_flight: int,
        backoff: float,
        max_backoff: float,
        tolerance: float,
    ) -> None:
        self.url = url
        self.max_in_flight = max_in_flight
        self.limit = float(min(initial_in_flight, max_in_flight))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.tolerance = tolerance
        self.in_flight = 0
        self.ewma: float | None = None
        self.floor: float | None = None
        self.ok = 0
        self.failed = 0
        self.throttled = 0
        self.consecutive_failures = 0
        self.down_until = 0.0  # monotonic time of the next probe while down
        self.paused_until = 0.0
        self.down = False
        self.last_error: str | None = None

    def state(self, now: float) -> State:
        """Where the replica stands at ``now``."""
        if self.down:
            return "down"
        return "paused" if now < self.paused_until else "up"

    def has_slot(self, now: float) -> bool:
        """Whether a request may be sent to it now."""
        return self.state(now) == "up" and self.in_flight < max(1, int(self.limit))

    def succeeded(self, latency: float) -> None:
        """Record an answer; grow or shrink the limit by what its latency shows."""
        self.ok += 1
        self.consecutive_failures = 0
        self.ewma = latency if self.ewma is None else _EWMA * latency + (1 - _EWMA) * self.ewma
        self.floor = latency if self.floor is None else min(self.floor * _FLOOR_DRIFT, latency)
        # Judge the moving average, not one answer: a single slow reply is noise, not a queue.
        if self.ewma <= self.tolerance * self.floor:
            # Grow only while the limit is what holds requests back: an idle replica proves nothing.
            if self.in_flight + 1 >= int(self.limit):
                self.limit = min(float(self.max_in_flight), self.limit + 1.0 / max(self.limit, 1.0))
        else:
            self.limit = max(1.0, self.limit * 0.9)

    def failed_now(self, reason: str, now: float, *, answered: bool = False) -> bool:
        """Record a failed try; returns whether the replica is now out of rotation.

        A replica that could not be reached, or answered garbage, goes out at once. One that
        answered a 5xx is alive, and the fault may be the request's: it goes out on the second
        failure in a row, so one poisonous request cannot take a whole fleet down.
        """
        self.failed += 1
        self.consecutive_failures += 1
        self.last_error = reason
        if answered and self.consecutive_failures < 2:
            self.limit = max(1.0, self.limit / 2.0)
            return False
        self.down = True
        self.limit = 1.0  # slow start again once it is back
        delay = min(self.max_backoff, self.backoff * 2.0 ** (self.consecutive_failures - 1))
        self.down_until = now + delay
        return True

    def probe_failed(self, reason: str, now: float) -> float:
        """A probe found it still down: back off further; returns the next probe time."""
        self.consecutive_failures += 1
        self.last_error = reason
        delay = min(self.max_backoff, self.backoff * 2.0 ** (self.consecutive_failures - 1))
        self.down_until = now + delay
        return self.down_until

    def probe_passed(self) -> None:
        """A probe answered: back in rotation with one request in flight at first."""
        self.down = False
        self.down_until = 0.0
        self.limit = 1.0

    def throttle(self, retry_after: float, reason: str, now: float) -> None:
        """The server asked us to wait (429, or 503 with ``Retry-After``): pause and halve the limit."""
        self.throttled += 1
        self.last_error = reason
        self.paused_until = max(self.paused_until, now + retry_after)
        self.limit = max(1.0, self.limit / 2.0)

    def retry_in(self, now: float) -> float:
        """Seconds until the replica is probed (down) or unpaused (paused); 0 when up."""
        if self.down:
            return max(0.0, self.down_until - now)
        return max(0.0, self.paused_until - now)

    def stats(self, now: float | None = None) -> ReplicaStats:
        """A snapshot for progress and summaries."""
        now = time.monotonic() if now is None else now
        return ReplicaStats(
            url=self.url,
            state=self.state(now),
            in_flight=self.in_flight,
            limit=max(1, int(self.limit)),
            latency_s=self.ewma,
            ok=self.ok,
            failed=self.failed,
            throttled=self.throttled,
            retry_in_s=self.retry_in(now),
            last_error=self.last_error,
        )
