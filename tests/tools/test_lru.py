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


def _build_at_once(cache: LRUCache[object], keys: list[str]) -> tuple[list[object], list[object]]:
    """Each key built by its own thread, all building before any stores (a barrier).

    Returns:
        What each thread got, in the order of ``keys``, and every value built.
    """
    barrier = threading.Barrier(len(keys), timeout=20)
    got: dict[int, object] = {}
    built: list[object] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        def build() -> object:
            barrier.wait()
            value = object()
            with lock:
                built.append(value)
            return value

        got[i] = cache.get_or_build(keys[i], build)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(len(keys))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(30)
    assert len(got) == len(keys)
    return [got[i] for i in range(len(keys))], built


def test_concurrent_builds_keep_the_bound() -> None:
    cache: LRUCache[object] = LRUCache(4)
    got, built = _build_at_once(cache, [f"k{i}" for i in range(8)])
    assert len(cache) == 4
    assert len(built) == 8 and {id(value) for value in got} == {id(value) for value in built}


def test_concurrent_builds_of_one_key_agree_on_the_first_stored() -> None:
    # Room for every key: another key's store cannot evict the first value before the others look.
    cache: LRUCache[object] = LRUCache(8)
    keys = ["same" if i % 2 else f"k{i}" for i in range(8)]
    got, built = _build_at_once(cache, keys)
    assert len({id(got[i]) for i in range(1, 8, 2)}) == 1  # half the threads built "same": one won
    assert len(built) == 8  # every thread built (outside the lock)
    assert cache.get("same") is got[1]


def test_schema_key_keeps_property_order() -> None:
    ab = {"properties": {"a": {}, "b": {}}}
    ba = {"properties": {"b": {}, "a": {}}}
    assert schema_key(ab) != schema_key(ba)
    assert schema_key(ab) == schema_key({"properties": {"a": {}, "b": {}}})
    assert schema_key({"x": b"1"}) == schema_key({"x": b"1"})  # non-JSON values still key
