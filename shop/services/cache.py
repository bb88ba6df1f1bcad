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

Time is :func:`time.monotonic` unless a ``clock`` is passed in (tests). Whole
rendered pages (:mod:`shop.web.page_cache`) live in a :class:`BoundedCache` on
the same topic, so the same invalidation forgets them too. The
cache is thread-safe; two threads missing the same key at once may both
compute it, and the later one wins, which is harmless for these values.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
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


class BoundedCache:
    """Values by key, each with its own time to live, bounded in count and in size.

    For values that are large and many (whole rendered pages): at most
    ``max_entries`` values and ``max_bytes`` of them in all (each ``put``
    says how big its value is); when either bound is reached the least
    recently used entries go first. A value stored under an older generation
    of ``topic`` than the current one is never returned (see
    :func:`invalidate`); the caller reads :func:`generation` *before*
    computing the value, so a change committed meanwhile is never hidden.
    """

    def __init__(
        self,
        *,
        topic: str = CATALOGUE,
        max_entries: int = 2000,
        max_bytes: int = 32 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topic = topic
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        # key -> (expires, generation, size, value), least recently used first.
        self._entries: OrderedDict[Hashable, tuple[float, int, int, Any]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_in_bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> Any | None:
        """The live value for ``key``, or None (an expired or outdated one is dropped)."""
        now = self._clock()
        current = generation(self.topic)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, stored_generation, _, value = entry
            if now >= expires or stored_generation != current:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any, *, ttl: float, size: int, generation: int) -> None:
        """Keep ``value`` for ``ttl`` seconds; ``generation`` is the topic's, read before
        ``value`` was computed. A value bigger than the whole cache is not kept."""
        if ttl <= 0 or size > self.max_bytes:
            return
        expires = self._clock() + ttl
        with self._lock:
            if key in self._entries:
                self._drop(key)
            while self._entries and (
                len(self._entries) >= self.max_entries or self._bytes + size > self.max_bytes
            ):
                self._drop(next(iter(self._entries)))
            self._entries[key] = (expires, generation, size, value)
            self._bytes += size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry[2]
