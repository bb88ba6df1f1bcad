"""Whole storefront pages cached for anonymous visitors (shop/web/page_cache.py).

The cache must never show one visitor what belongs to another: no customer's
name or account links (R2.1), no guest's cart or messages, no other visitor's
CSRF token. Prices on cached pages may lag by PAGE_CACHE_SECONDS, but the
cart always prices from the database (T2.1), and a change made through the
catalogue service shows at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop import create_app
from shop.services import cache, catalog
from shop.services.cache import BoundedCache
from shop.web import page_cache
from shop.web.page_cache import (
    CSRF_PLACEHOLDER,
    DEFAULT_PAGE_CACHE_SECONDS,
    EXTENSION,
    MAX_KEY_LENGTH,
    CachedPage,
    page_cache_seconds,
)
from tests.conftest import csrf_token_from, make_test_config, new_client, post_form
from tests.factories import PASSWORD, make_customer
from tests.web.test_cart import header_count
from tests.web.test_catalogue import add_product, text

TTL = 60
_TOKEN_VALUE_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]*(")')


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(app: Flask, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> BoundedCache:
    """Turn the page cache on, as in production (tests run with it off), with a fake clock."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", TTL)
    fresh = BoundedCache(max_entries=page_cache.MAX_ENTRIES, clock=clock)
    monkeypatch.setitem(app.extensions, EXTENSION, fresh)
    return fresh


def x_cache(response: Any) -> str | None:
    value = response.headers.get("X-Cache")
    return None if value is None else str(value)


def without_tokens(html: str) -> str:
    return _TOKEN_VALUE_RE.sub(r"\1TOKEN\2", html)


def tokens_in(html: str) -> set[str]:
    return set(re.findall(r'name="csrf_token"[^>]*value="([^"]*)"', html))


def stored_pages(store: BoundedCache) -> list[CachedPage]:
    return [entry[3] for entry in store._entries.values()]


# --------------------------------------------------------------------------- switching on


def test_the_page_cache_is_on_in_production_and_off_under_test(app: Flask, tmp_path: Path) -> None:
    assert page_cache_seconds() == 0
    config = make_test_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    config["TESTING"] = False
    with create_app(config).app_context():
        assert page_cache_seconds() == DEFAULT_PAGE_CACHE_SECONDS
    config["PAGE_CACHE_SECONDS"] = 0
    with create_app(config).app_context():
        assert page_cache_seconds() == 0


def test_with_the_cache_off_nothing_is_stored(app: Flask, client: FlaskClient) -> None:
    add_product("Etyd")
    for _ in range(2):
        assert x_cache(client.get("/katalog/noter")) is None
    assert EXTENSION not in app.extensions or len(app.extensions[EXTENSION]) == 0


# --------------------------------------------------------------------------- CSRF tokens


def test_a_second_anonymous_visit_is_a_hit_with_the_visitors_own_token(
    app: Flask, client: FlaskClient, store: BoundedCache
) -> None:
    """T2.1: a cached product page's form still adds to the cart at the database's price."""
    product = add_product("Sonat i A", price_ore=14900)
    url = f"/produkt/{product.slug}"
    first = client.get(url)
    assert x_cache(first) == "miss"
    assert len(store) == 1
    (page,) = stored_pages(store)
    assert tokens_in(page.body) == {CSRF_PLACEHOLDER}
    assert csrf_token_from(text(first)) not in page.body

    again = client.get(url)
    assert x_cache(again) == "hit"
    assert without_tokens(text(again)) == without_tokens(text(first))

    other = new_client(app)
    seen_by_other = other.get(url)
    assert x_cache(seen_by_other) == "hit"
    assert without_tokens(text(seen_by_other)) == without_tokens(text(first))
    own_token = csrf_token_from(text(seen_by_other))
    (first_token,) = tokens_in(text(first))
    assert own_token != first_token
    assert tokens_in(text(seen_by_other)) == {own_token}
    assert CSRF_PLACEHOLDER not in text(seen_by_other)

    # Another visitor's token is refused; the visitor's own, from the cached page, works.
    data = {"product_id": product.id, "quantity": 1, "next": url}
    refused = other.post("/varukorg/lagg-till", data=data | {"csrf_token": first_token})
    assert refused.status_code == 400
    added = other.post("/varukorg/lagg-till", data=data | {"csrf_token": own_token})
    assert added.status_code == 302
    cart_page = text(other.get("/varukorg/"))
    assert "Sonat i A" in cart_page
    assert "149,00" in cart_page
    # The first visitor's token from the hit works for them too.
    mine = client.post("/varukorg/lagg-till", data=data | {"csrf_token": first_token})
    assert mine.status_code == 302


def test_cached_pages_keep_the_security_headers(client: FlaskClient, store: BoundedCache) -> None:
    add_product("Etyd")
    client.get("/katalog/noter")
    hit = client.get("/katalog/noter")
    assert x_cache(hit) == "hit"
    assert hit.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in hit.headers["Content-Security-Policy"]
    assert hit.headers["X-Frame-Options"] == "DENY"
    assert hit.headers["X-Content-Type-Options"] == "nosniff"


def test_a_head_request_is_answered_from_the_cache(
    client: FlaskClient, store: BoundedCache
) -> None:
    add_product("Etyd")
    assert x_cache(client.get("/")) == "miss"
    head = client.head("/")
    assert x_cache(head) == "hit"
    assert head.get_data() == b""


# --------------------------------------------------------------------------- who bypasses


def test_a_logged_in_customer_neither_gets_nor_fills_the_cache(
    app: Flask, client: FlaskClient, store: BoundedCache
) -> None:
    """R2.1: a customer's account never shows on a page served to someone else."""
    add_product("Etyd")
    make_customer("greta@example.se", name="Greta Garbo")
    login = {"email": "greta@example.se", "password": PASSWORD}
    assert post_form(client, "/konto/logga-in", login).status_code == 302
    for url in ("/", "/katalog/noter", "/sok?q=etyd"):
        own = client.get(url)
        assert own.status_code == 200
        assert x_cache(own) is None
        assert "Mitt konto" in text(own)
    assert len(store) == 0

    guest = new_client(app)
    for url in ("/", "/katalog/noter", "/sok?q=etyd"):
        assert x_cache(guest.get(url)) == "miss"
        hit = guest.get(url)
        assert x_cache(hit) == "hit"
        assert "Mitt konto" not in text(hit)
        assert "Greta" not in text(hit)
        assert "Logga in" in text(hit)
    for url in ("/", "/katalog/noter", "/sok?q=etyd"):
        own = client.get(url)
        assert x_cache(own) is None
        assert "Mitt konto" in text(own)
    for page in stored_pages(store):
        assert "Mitt konto" not in page.body
        assert "Greta" not in page.body


def test_a_guest_with_items_in_the_cart_gets_a_fresh_page_with_the_right_badge(
    app: Flask, client: FlaskClient, store: BoundedCache
) -> None:
    product = add_product("Etyd")
    assert x_cache(client.get("/katalog/noter")) == "miss"
    shopper = new_client(app)
    response = post_form(
        shopper,
        "/varukorg/lagg-till",
        {"product_id": product.id, "quantity": 2, "next": "/katalog/noter"},
        form_url="/katalog/noter",
    )
    assert response.status_code == 302
    for _ in range(2):
        page = shopper.get("/katalog/noter")
        assert x_cache(page) is None
        assert header_count(text(page)) == 2
    other = client.get("/katalog/noter")
    assert x_cache(other) == "hit"
    assert header_count(text(other)) == 0
    for stored in stored_pages(store):
        assert header_count(stored.body) == 0


def test_a_page_with_flashed_messages_is_neither_served_from_nor_put_in_the_cache(
    app: Flask, client: FlaskClient, store: BoundedCache
) -> None:
    add_product("Etyd")
    sold_out = add_product("Slutsåld", on_hand=0)
    assert x_cache(client.get("/katalog/noter")) == "miss"
    visitor = new_client(app)
    refused = post_form(
        visitor,
        "/varukorg/lagg-till",
        {"product_id": sold_out.id, "quantity": 1, "next": "/katalog/noter"},
        form_url="/katalog/noter",
    )
    assert refused.status_code == 302
    with visitor.session_transaction() as session:
        assert session.get("_flashes")
        assert not session.get("cart")
    with_message = visitor.get("/katalog/noter")
    assert x_cache(with_message) is None
    assert "slut i lager" in text(with_message)
    # The message was shown once; the next page is the shared one again, without it.
    after = visitor.get("/katalog/noter")
    assert x_cache(after) == "hit"
    assert "slut i lager" not in text(after)
    assert all("slut i lager" not in page.body for page in stored_pages(store))


# --------------------------------------------------------------------------- freshness


def test_a_change_through_the_catalogue_service_empties_the_cache_at_once(
    client: FlaskClient, store: BoundedCache
) -> None:
    """T2.1: the price shown follows a price change made in the shop at once."""
    product = add_product("Sonat i A", price_ore=14900)
    url = f"/produkt/{product.slug}"
    client.get(url)
    assert x_cache(client.get(url)) == "hit"
    catalog.update_product(product, price_ore=19900)
    after = client.get(url)
    assert x_cache(after) == "miss"
    assert "199,00" in text(after)
    assert "149,00" not in text(after)


def test_a_page_rendered_while_the_catalogue_changes_is_not_kept_as_fresh(
    client: FlaskClient, store: BoundedCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_product("Etyd")
    real = catalog.nav_categories

    def changed_meanwhile(*args: Any, **kwargs: Any) -> Any:
        cache.invalidate(cache.CATALOGUE)
        return real(*args, **kwargs)

    monkeypatch.setattr(catalog, "nav_categories", changed_meanwhile)
    assert x_cache(client.get("/")) == "miss"
    monkeypatch.setattr(catalog, "nav_categories", real)
    assert x_cache(client.get("/")) == "miss"
    assert x_cache(client.get("/")) == "hit"


def test_a_page_is_rendered_again_after_its_time_to_live(
    client: FlaskClient, store: BoundedCache, clock: FakeClock
) -> None:
    add_product("Etyd")
    assert x_cache(client.get("/katalog")) == "miss"
    clock.now += TTL - 0.1
    assert x_cache(client.get("/katalog")) == "hit"
    clock.now += 0.1
    assert x_cache(client.get("/katalog")) == "miss"
    assert x_cache(client.get("/katalog")) == "hit"


# --------------------------------------------------------------------------- keys


def test_query_string_variants_are_kept_apart(client: FlaskClient, store: BoundedCache) -> None:
    add_product("Adagio", price_ore=10000)
    add_product("Bolero", price_ore=20000)
    by_name = "/katalog/noter"
    by_price = "/katalog/noter?sort=price_desc"
    assert x_cache(client.get(by_name)) == "miss"
    assert x_cache(client.get(by_price)) == "miss"
    name_page, price_page = text(client.get(by_name)), text(client.get(by_price))
    assert name_page.index("Adagio") < name_page.index("Bolero")
    assert price_page.index("Bolero") < price_page.index("Adagio")
    assert x_cache(client.get("/sok?q=adagio")) == "miss"
    bolero = client.get("/sok?q=bolero")
    assert x_cache(bolero) == "miss"
    assert "Adagio" not in text(bolero)
    assert len(store) == 4


def test_the_order_of_parameters_is_part_of_the_key(
    client: FlaskClient, store: BoundedCache
) -> None:
    """The page echoes its own URL (the language switch's "next"), so each is kept as asked."""
    add_product("Etyd")
    first = client.get("/katalog/noter?sort=name&in_stock=1")
    second = client.get("/katalog/noter?in_stock=1&sort=name")
    assert x_cache(second) == "miss"
    assert 'value="/katalog/noter?sort=name&amp;in_stock=1"' in text(first)
    assert 'value="/katalog/noter?in_stock=1&amp;sort=name"' in text(second)


def test_each_language_has_its_own_pages(
    app: Flask, client: FlaskClient, store: BoundedCache
) -> None:
    add_product("Etyd")
    assert x_cache(client.get("/")) == "miss"
    english = new_client(app)
    post_form(english, "/sprak", {"lang": "en", "next": "/"}, form_url="/")
    first = english.get("/")
    assert x_cache(first) == "miss"
    assert '<html lang="en">' in text(first)
    again = english.get("/")
    assert x_cache(again) == "hit"
    assert '<html lang="en">' in text(again)
    swedish = client.get("/")
    assert x_cache(swedish) == "hit"
    assert '<html lang="sv">' in text(swedish)
    assert len(store) == 2


def test_a_not_found_page_is_not_cached(client: FlaskClient, store: BoundedCache) -> None:
    add_product("Etyd")
    for url in ("/produkt/finns-inte", "/katalog/finns-inte", "/katalog/noter?page=99"):
        for _ in range(2):
            response = client.get(url)
            assert response.status_code == 404
            assert x_cache(response) is None
    assert len(store) == 0


def test_long_query_strings_are_not_cached(client: FlaskClient, store: BoundedCache) -> None:
    add_product("Etyd")
    url = "/sok?q=etyd&x=" + "a" * MAX_KEY_LENGTH
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200
        assert x_cache(response) is None
    assert len(store) == 0


def test_hostile_query_strings_cannot_grow_the_cache_past_its_bound(
    app: Flask, client: FlaskClient, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", TTL)
    small = BoundedCache(max_entries=3, clock=clock)
    monkeypatch.setitem(app.extensions, EXTENSION, small)
    add_product("Etyd")
    for n in range(10):
        assert x_cache(client.get(f"/katalog?junk={n}")) == "miss"
        assert len(small) <= 3
    assert len(small) == 3
    assert x_cache(client.get("/katalog?junk=9")) == "hit"
    assert x_cache(client.get("/katalog?junk=0")) == "miss"


# --------------------------------------------------------------------------- the store


def test_the_store_drops_the_least_recently_used_entry_first(clock: FakeClock) -> None:
    pages = BoundedCache(topic="test-pages-lru", max_entries=2, clock=clock)
    pages.put("a", "A", ttl=10, size=1, generation=0)
    pages.put("b", "B", ttl=10, size=1, generation=0)
    assert pages.get("a") == "A"  # "b" is now the least recently used
    pages.put("c", "C", ttl=10, size=1, generation=0)
    assert [pages.get(k) for k in "abc"] == ["A", None, "C"]


def test_the_store_is_bounded_in_bytes(clock: FakeClock) -> None:
    pages = BoundedCache(topic="test-pages-bytes", max_entries=100, max_bytes=10, clock=clock)
    pages.put("big", "x" * 11, ttl=10, size=11, generation=0)
    assert len(pages) == 0
    for key in "abcd":
        pages.put(key, key, ttl=10, size=4, generation=0)
        assert pages.size_in_bytes <= 10
    assert [pages.get(k) for k in "abcd"] == [None, None, "c", "d"]


def test_the_store_forgets_on_invalidation_and_expiry(clock: FakeClock) -> None:
    topic = "test-pages-topic"
    pages = BoundedCache(topic=topic, clock=clock)
    pages.put("k", "v", ttl=10, size=1, generation=cache.generation(topic))
    assert pages.get("k") == "v"
    cache.invalidate(topic)
    assert pages.get("k") is None
    assert len(pages) == 0
    pages.put("k", "v", ttl=10, size=1, generation=cache.generation(topic))
    clock.now += 10
    assert pages.get("k") is None
    pages.put("k", "v", ttl=0, size=1, generation=cache.generation(topic))
    assert len(pages) == 0
    assert pages.size_in_bytes == 0


def test_a_session_holding_anything_unknown_bypasses_the_cache(
    client: FlaskClient, store: BoundedCache
) -> None:
    """E.g. a guest's own orders (R2.1) or a checkout in progress: render afresh."""
    add_product("Etyd")
    assert x_cache(client.get("/")) == "miss"
    with client.session_transaction() as session:
        session["guest_orders"] = ["2026-000001"]
    for _ in range(2):
        assert x_cache(client.get("/")) is None
    assert len(store) == 1
