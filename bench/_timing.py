"""Microsecond timers shared by the overhead benches (bench/overhead.py, bench/route.py)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["best_us", "load_average", "median_us"]


def median_us(fn: Callable[[], Any], runs: int, repeat: int = 7) -> float:
    """Median over ``repeat`` rounds of the mean wall time per call, in microseconds (after a warm-up)."""
    fn()
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(runs):
            fn()
        rounds.append((time.perf_counter() - start) / runs * 1e6)
    return statistics.median(rounds)


def best_us(fn: Callable[[], Any], runs: int, repeat: int = 15) -> float:
    """CPU microseconds per call of this thread, fastest of ``repeat`` rounds.

    For the stage tables: CPU time does not count the moments another process holds the core, so
    sub-microsecond stages stay readable on a shared machine (cache misses it causes still count).
    """
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        for _ in range(runs):
            fn()
        best = min(best, (time.thread_time() - start) / runs * 1e6)
    return best


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, for the table header (timings depend on it)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # not on every platform
        return "unknown"
