"""The thread-safe LRU behind the backends' grammar caches (``funcroute._lru``)."""

from __future__ import annotations

import threading

import pytest

from funcroute._lru import LRUCache, schema_key


def test_builds_once_and_reuses() -> None:
    cache: LRUCache[str] = LRUCache(4)
    calls: list[str] = []

    def build(value: str) -> str:
        calls.append(value)
        return value.upper()

    assert cache.get_or_build("a", lambda: build("a")) == "A"
    assert cache.get_or_build("a", lambda: build("again")) == "A"
    assert calls == ["a"]
    assert "a" in cache and "b" not in cache and len(cache) == 1


def test_least_recently_used_is_dropped_first() -> None:
    cache: LRUCache[int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2


def test_put_keeps_the_first_value() -> None:
    cache: LRUCache[int] = LRUCache(2)
    assert cache.put("a", 1) == 1
    assert cache.put("a", 2) == 1
    cache.clear()
    assert len(cache) == 0 and cache.get("a") is None


def test_a_failed_build_stores_nothing() -> None:
    cache: LRUCache[int] = LRUCache(2)

    def broken() -> int:
        raise ValueError("no grammar")

    with pytest.raises(ValueError, match="no grammar"):
        cache.get_or_build("a", broken)
    assert "a" not in cache


def test_maxsize_is_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LRUCache(0)


def test_concurrent_builds_keep_the_bound_and_agree() -> None:
    """Threads that all build before any stores (a barrier) never push the cache past its bound."""
    threads, maxsize = 8, 4
    cache: LRUCache[object] = LRUCache(maxsize)
    barrier = threading.Barrier(threads, timeout=20)
    got: dict[int, object] = {}
    shared: list[object] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        def build() -> object:
            barrier.wait()
            value = object()
            with lock:
                shared.append(value)
            return value

        # half the threads build the same key: all of them must get the one value stored
        got[i] = cache.get_or_build("same" if i % 2 else f"k{i}", build)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(30)
    assert len(got) == threads
    assert len(cache) <= maxsize
    same = {id(got[i]) for i in range(1, threads, 2)}
    assert len(same) == 1
    assert len(shared) == threads  # every thread built (outside the lock), one value won


def test_schema_key_keeps_property_order() -> None:
    ab = {"properties": {"a": {}, "b": {}}}
    ba = {"properties": {"b": {}, "a": {}}}
    assert schema_key(ab) != schema_key(ba)
    assert schema_key(ab) == schema_key({"properties": {"a": {}, "b": {}}})
    assert schema_key({"x": b"1"}) == schema_key({"x": b"1"})  # non-JSON values still key
