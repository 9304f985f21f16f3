"""Progress lines for a streamed batch: done, failed, rate, and each replica's in-flight and latency."""

from __future__ import annotations

import asyncio
import time
from typing import Any, TextIO

from funcroute.batch.jsonl import BatchSummary

__all__ = ["Progress", "describe_replicas"]


def describe_replicas(replicas: list[dict[str, Any]]) -> str:
    """One short human-readable clause per replica, joined by `` | ``."""
    parts = []
    for r in replicas:
        latency = "-" if r.get("latency_s") is None else f"{r['latency_s']:.3f}s"
        text = f"{r['url']} {r['state']} {r['in_flight']}/{r['limit']} in flight, {latency}, {r['ok']} ok"
        if r.get("failed"):
            text += f", {r['failed']} failed"
        if r.get("throttled"):
            text += f", {r['throttled']} throttled"
        if r["state"] != "up":
            text += f" (back in {r['retry_in_s']:.1f}s: {r.get('last_error') or '?'})"
        parts.append(text)
    return " | ".join(parts)


class Progress:
    """Formats progress for one run; ``in_flight`` is a one-item list the runner keeps current."""

    def __init__(self, summary: BatchSummary, backend: Any, in_flight: list[int], stream: TextIO) -> None:
        self.summary = summary
        self.backend = backend
        self.in_flight = in_flight
        self.stream = stream
        self.started = time.perf_counter()

    def replicas(self) -> list[dict[str, Any]]:
        """Per-replica statistics, when the backend is a fleet (empty otherwise)."""
        stats = getattr(self.backend, "stats", None)
        if not callable(stats):
            return []
        return [s.to_dict() for s in stats()]

    def line(self) -> str:
        """The current progress line."""
        s = self.summary
        finished = s.ok + s.failed
        rate = finished / max(time.perf_counter() - self.started, 1e-9)
        text = (
            f"funcroute batch: {finished + s.skipped} done ({s.ok} ok, {s.failed} failed, "
            f"{s.skipped} earlier), {self.in_flight[0]} in flight, {rate:.1f}/s"
        )
        replicas = self.replicas()
        return f"{text} | {describe_replicas(replicas)}" if replicas else text

    async def tick_every(self, interval: float) -> None:
        """Print :meth:`line` every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            print(self.line(), file=self.stream, flush=True)
