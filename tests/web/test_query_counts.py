"""No N+1: catalogue, search, product and home pages issue a fixed, small number of queries."""

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
from tests.web.test_catalogue import add_product

#: Generous upper bound: our own queries plus whatever base.html's context needs.
MAX_QUERIES = 8


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


@pytest.mark.usefixtures("thirty_products")
def test_home_and_product_page_query_counts(client: FlaskClient) -> None:
    assert queries_for(client, "/") <= MAX_QUERIES
    html = client.get("/katalog/noter").get_data(as_text=True)
    start = html.index('href="/produkt/') + len('href="')
    url = html[start : html.index('"', start)]
    assert queries_for(client, url) <= 4
    assert queries_for(client, url + "/bild.svg") <= 2
