"""The per-process facet cache and the listing totals that lean on it."""

from __future__ import annotations

import pytest

from shop.services import cache
from shop.services.cache import TTLCache
from shop.services.catalog import PageNotFound, page_total


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counter:
    """A compute function that counts its calls and returns the call number."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_a_value_is_computed_once_within_its_time_to_live() -> None:
    clock, compute = FakeClock(), Counter()
    facets = TTLCache(30, topic="test-ttl", clock=clock)
    assert facets.get_or_compute("k", compute) == 1
    clock.now += 29.9
    assert facets.get_or_compute("k", compute) == 1
    assert compute.calls == 1


def test_a_value_is_computed_again_after_its_time_to_live() -> None:
    clock, compute = FakeClock(), Counter()
    facets = TTLCache(30, topic="test-expiry", clock=clock)
    facets.get_or_compute("k", compute)
    clock.now += 30
    assert facets.get_or_compute("k", compute) == 2


def test_keys_are_kept_apart() -> None:
    facets = TTLCache(30, topic="test-keys", clock=FakeClock())
    assert facets.get_or_compute(("count", 1), lambda: "one") == "one"
    assert facets.get_or_compute(("count", 2), lambda: "two") == "two"
    assert facets.get_or_compute(("count", 1), lambda: "changed") == "one"


def test_invalidating_the_topic_forgets_values_in_every_cache_on_it() -> None:
    clock = FakeClock()
    first = TTLCache(30, topic="test-topic", clock=clock)
    second = TTLCache(30, topic="test-topic", clock=clock)
    other = TTLCache(30, topic="test-other-topic", clock=clock)
    for facets in (first, second, other):
        facets.get_or_compute("k", lambda: "old")
    cache.invalidate("test-topic")
    assert first.get_or_compute("k", lambda: "new") == "new"
    assert second.get_or_compute("k", lambda: "new") == "new"
    assert other.get_or_compute("k", lambda: "new") == "old"


def test_a_value_computed_while_the_topic_is_invalidated_is_not_trusted() -> None:
    """A change committed during a slow computation must not be hidden for a whole TTL."""
    facets = TTLCache(30, topic="test-race", clock=FakeClock())

    def compute_while_someone_changes_the_catalogue() -> str:
        cache.invalidate("test-race")
        return "read before the change"

    facets.get_or_compute("k", compute_while_someone_changes_the_catalogue)
    assert facets.get_or_compute("k", lambda: "fresh") == "fresh"


def test_a_zero_time_to_live_turns_the_cache_off() -> None:
    compute = Counter()
    facets = TTLCache(0, topic="test-off", clock=FakeClock())
    assert not facets.enabled
    assert [facets.get_or_compute("k", compute) for _ in range(3)] == [1, 2, 3]
    assert len(facets) == 0


def test_a_full_cache_drops_expired_entries_first_then_everything() -> None:
    clock = FakeClock()
    facets = TTLCache(10, topic="test-full", max_entries=3, clock=clock)
    facets.get_or_compute("old", lambda: 0)
    clock.now += 11
    facets.get_or_compute("a", lambda: 1)
    facets.get_or_compute("b", lambda: 2)
    facets.get_or_compute("c", lambda: 3)  # full: "old" has expired and goes
    assert len(facets) == 3
    assert facets.get_or_compute("a", lambda: -1) == 1
    facets.get_or_compute("d", lambda: 4)  # full of live entries: start afresh
    assert len(facets) == 1


# --------------------------------------------------------------------------- page totals


def _no_count() -> int:
    raise AssertionError("the total was clear from the page itself")


def test_a_page_that_is_not_full_is_the_last_and_needs_no_count() -> None:
    assert page_total(1, 24, 0, _no_count) == 0
    assert page_total(1, 24, 7, _no_count) == 7
    assert page_total(3, 10, 4, _no_count) == 24


def test_a_full_page_asks_for_the_count() -> None:
    assert page_total(1, 24, 24, lambda: 100) == 100


def test_a_count_lagging_behind_the_rows_never_hides_what_the_page_shows() -> None:
    assert page_total(2, 24, 24, lambda: 30) == 48


def test_an_empty_page_after_the_first_is_not_found() -> None:
    with pytest.raises(PageNotFound):
        page_total(2, 24, 0, _no_count)
