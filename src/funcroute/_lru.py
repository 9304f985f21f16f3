"""A small thread-safe LRU cache for values that are costly to build (compiled grammars).

``functools.lru_cache`` cannot serve here: the inputs are JSON Schemas (unhashable dicts), the
cache lives on an object rather than a function, and backends fill it from worker threads
(``complete_many``'s pool). Keys are strings, e.g. :func:`schema_key` of a schema.

Values are built *outside* the lock, so a slow compile never blocks lookups of other keys; when two
threads build the same key at once, the first value stored wins and both get it (unless stores of
other keys evicted it in between: then the later value is stored too, an equal build). The size
bound holds at every moment another thread can observe.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["LRUCache", "schema_key"]

V = TypeVar("V")


def schema_key(schema: Mapping[str, Any]) -> str:
    """A cache key for a JSON Schema: its JSON text, keys in their own order.

    Key order is kept on purpose: it is the property order a grammar built from the schema follows.
    """
    return json.dumps(schema, default=str)


class LRUCache(Generic[V]):
    """At most ``maxsize`` values by string key; the least recently used one is dropped first.

    Values are never ``None`` (``None`` means "not cached").

    Args:
        maxsize: how many values to keep (at least 1).

    Raises:
        ValueError: ``maxsize`` is below 1.

    Example:
        >>> cache: LRUCache[int] = LRUCache(2)
        >>> cache.get_or_build("a", lambda: 1), cache.get_or_build("a", lambda: 2)
        (1, 1)
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._items: OrderedDict[str, V] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: str) -> V | None:
        """The value for ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: V) -> V:
        """Store ``value`` unless ``key`` is already there; return the value the cache now holds."""
        with self._lock:
            held = self._items.get(key)
            if held is not None:
                self._items.move_to_end(key)
                return held
            self._items[key] = value
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
            return value

    def get_or_build(self, key: str, build: Callable[[], V]) -> V:
        """The value for ``key``, built with ``build()`` (outside the lock) when it is missing.

        Args:
            key: the cache key.
            build: makes the value; an exception it raises propagates and nothing is stored.

        Returns:
            The cached value (the first one stored when two threads built it at once).
        """
        found = self.get(key)
        if found is not None:
            return found
        return self.put(key, build())

    def clear(self) -> None:
        """Drop every value."""
        with self._lock:
            self._items.clear()
