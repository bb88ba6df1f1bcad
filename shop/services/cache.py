"""A tiny per-process cache for slow-changing, shared numbers and lists (facets).

What it is for: values every visitor sees alike and that may lag the
database by a few seconds: the instruments offered in a category's filter,
how many products a listing or a search has, the top-level categories.
Never for anything that belongs to one visitor (carts, accounts, tokens).

How fresh a value is:

* in the process that changed the catalogue, at once: the catalogue service
  calls :func:`invalidate` for its topic on every create and update, and an
  entry stored before that no longer counts;
* in the other processes (gunicorn workers), within the cache's ``ttl``
  seconds, after which an entry is read again from the database.

Time is :func:`time.monotonic` unless a ``clock`` is passed in (tests). The
cache is thread-safe; two threads missing the same key at once may both
compute it, and the later one wins, which is harmless for these values.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

V = TypeVar("V")

#: Topic of everything derived from categories, products and stock.
CATALOGUE = "catalogue"

_generations: dict[str, int] = {}
_generations_lock = threading.Lock()


def generation(topic: str) -> int:
    """How many times ``topic`` has been invalidated in this process."""
    return _generations.get(topic, 0)


def invalidate(topic: str) -> None:
    """Forget every cached value of ``topic`` in this process (all caches on that topic)."""
    with _generations_lock:
        _generations[topic] = _generations.get(topic, 0) + 1


class TTLCache:
    """Values by key, each kept for ``ttl`` seconds or until its topic is invalidated.

    ``ttl <= 0`` turns the cache off: every lookup computes afresh. At most
    ``max_entries`` values are kept; when full, expired entries are dropped
    first and, if that is not enough, everything is.
    """

    def __init__(
        self,
        ttl: float,
        *,
        topic: str = CATALOGUE,
        max_entries: int = 2048,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = float(ttl)
        self.topic = topic
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, int, Any]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value for ``key``, or ``compute()`` stored under it."""
        if not self.enabled:
            return compute()
        now = self._clock()
        current = generation(self.topic)
        entry = self._entries.get(key)
        if entry is not None:
            expires, stored_generation, value = entry
            if now < expires and stored_generation == current:
                result: V = value
                return result
        value = compute()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._evict(now, current)
            self._entries[key] = (now + self.ttl, current, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _evict(self, now: float, current: int) -> None:
        live = {
            key: entry
            for key, entry in self._entries.items()
            if now < entry[0] and entry[1] == current
        }
        if len(live) >= self.max_entries:
            live = {}
        self._entries = live
