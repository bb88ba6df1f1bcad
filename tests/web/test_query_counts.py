"""No N+1: catalogue, search, product and home pages issue a fixed, small number of queries.

Tests run with the facet cache off (their fixtures empty the database behind
the catalogue service's back), so the bounds here are a cold cache's: a
listing reads its rows, its total (only when the page is full), the filter's
instruments and the menu's categories. With the cache on, as in production,
only the product rows are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from shop.domain.catalog import ProductKind
from shop.extensions import db
from shop.services.cache import TTLCache
from shop.web.storefront.views import FACET_CACHE_EXTENSION
from tests.conftest import csrf_token_from
from tests.factories import make_product
from tests.web.test_catalogue import add_product
from tests.web.test_checkout import ADDRESS, BUYER, add_to_cart, place, to_summary

#: Rows, total, instruments, menu categories (an anonymous visitor's cart is in the session).
MAX_QUERIES = 4


@contextmanager
def counting_queries() -> Iterator[list[str]]:
    statements: list[str] = []

    def before_cursor_execute(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before_cursor_execute)


@pytest.fixture
def thirty_products(app: Flask) -> None:
    for n in range(30):
        kind = ProductKind.DOWNLOAD if n % 5 == 0 else ProductKind.PHYSICAL
        add_product(
            f"Sonat nr {n}",
            composer="Ludwig van Beethoven",
            instrumentation="Piano" if n % 2 else "Violin",
            difficulty=n % 5 + 1,
            kind=kind,
            on_hand=n % 4,
        )


def queries_for(client: FlaskClient, url: str) -> int:
    client.get(url)  # warm up (first-request work is not what we measure)
    with counting_queries() as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(statements)


@pytest.mark.usefixtures("thirty_products")
@pytest.mark.parametrize(
    "url",
    [
        "/katalog",
        "/katalog/noter",
        "/katalog/noter?in_stock=1&sort=price_desc",
        "/sok?q=beethoven",
        "/sok?q=sonat+nr",
    ],
)
def test_listing_queries_do_not_grow_with_page_size(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_SIZE", 6)
    small = queries_for(client, url)
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_SIZE", 24)
    large = queries_for(client, url)
    assert small == large
    assert large <= MAX_QUERIES


def _first_product_url(client: FlaskClient) -> str:
    html = client.get("/katalog/noter").get_data(as_text=True)
    start = html.index('href="/produkt/') + len('href="')
    return html[start : html.index('"', start)]


@pytest.mark.usefixtures("thirty_products")
def test_home_and_product_page_query_counts(client: FlaskClient) -> None:
    assert queries_for(client, "/") <= 2
    url = _first_product_url(client)
    assert queries_for(client, url) <= 2
    assert queries_for(client, url + "/bild.svg") <= 1


@pytest.mark.usefixtures("thirty_products")
def test_a_page_that_is_not_full_needs_no_count(client: FlaskClient) -> None:
    """The last page's rows give the total: rows, instruments and categories only."""
    assert queries_for(client, "/katalog?page=2") == 3
    assert queries_for(client, "/sok?q=sonat+nr+29") == 2


@pytest.mark.usefixtures("thirty_products")
@pytest.mark.parametrize(
    "url", ["/", "/katalog", "/katalog/noter?instrument=Piano&in_stock=1", "/sok?q=beethoven"]
)
def test_with_the_facet_cache_on_a_page_reads_only_its_products(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setitem(app.extensions, FACET_CACHE_EXTENSION, TTLCache(60))
    assert queries_for(client, url) == 1
    assert queries_for(client, _first_product_url(client)) == 1


# --- The checkout: the cart's products are read once per request -------------------------


def _statements_for(client: FlaskClient, method: str, url: str, data: Any = None) -> list[str]:
    with counting_queries() as statements:
        response = client.open(url, method=method, data=data)
    assert response.status_code in (200, 302), (url, response.status_code)
    return statements


def _product_reads(statements: list[str]) -> int:
    return sum(1 for s in statements if s.lstrip().upper().startswith("SELECT PRODUCT."))


@pytest.fixture
def facet_cache_on(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in production: the menu's categories come from the facet cache."""
    monkeypatch.setitem(app.extensions, FACET_CACHE_EXTENSION, TTLCache(60))


@pytest.mark.usefixtures("facet_cache_on")
def test_each_checkout_step_reads_the_cart_once(app: Flask, client: FlaskClient) -> None:
    """Every step re-checks the cart and re-quotes it (prices from the database, T2.1–T2.3);
    the products are read once per request however often they are quoted: one query a step."""
    add_to_cart(client, make_product(stock=5))
    add_to_cart(client, make_product(title="Stämapparat", stock=5))
    to_summary(client)
    token = csrf_token_from(client.get("/kassa/kopare").get_data(as_text=True))
    posts = {
        "/kassa/kopare": BUYER,
        "/kassa/adress": ADDRESS,
        "/kassa/leverans": {"delivery_method": "letter"},
        "/kassa/betalning": {"payment_method": "sandbox"},
    }
    for url, form in posts.items():
        got = _statements_for(client, "GET", url)
        assert len(got) == 1, (url, got)
        assert _product_reads(got) == 1
        posted = _statements_for(client, "POST", url, {**form, "csrf_token": token})
        assert len(posted) == 1, (url, posted)
        assert _product_reads(posted) == 1
    summary = _statements_for(client, "GET", "/kassa/sammanfattning")
    assert len(summary) == 1, summary


@pytest.mark.usefixtures("facet_cache_on")
def test_placing_the_order_reads_the_products_once(app: Flask, client: FlaskClient) -> None:
    """ "Slutför köp" checks the cart, quotes the summary and quotes again inside the order's
    transaction (under the stock locks): one read of the products for all three."""
    add_to_cart(client, make_product(stock=5))
    add_to_cart(client, make_product(title="Stämapparat", stock=5))
    html = to_summary(client)
    with counting_queries() as statements:
        response = place(client, html)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/betalning/sandbox/")
    assert _product_reads(statements) == 1
    assert len(statements) <= 26  # was 29: three more reads of the products
