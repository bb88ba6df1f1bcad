"""The search page: one box, a hint when empty, a kind message when nothing matches."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.test_catalogue import add_product, text, titles_in

HOSTILE_QUERIES = [
    '"',
    "'",
    '"unbalanced',
    "(",
    ")",
    "((bach",
    "bach)",
    "%",
    "_",
    "%_%",
    "*",
    "bach*",
    "-bach",
    "- -",
    "NEAR",
    "NEAR(bach beethoven)",
    "bach OR beethoven",
    "bach AND NOT beethoven",
    "title:bach",
    "{title}: bach",
    "^bach",
    "bach & beethoven | !mozart",
    "bach:*",
    "'bach':* & ",
    "\\",
    "\x00",
    "<script>alert(1)</script>",
    "x" * 5000,
    "bach " * 500,
    "ä" * 300,
]


def test_empty_query_shows_a_hint(client: FlaskClient) -> None:
    for url in ("/sok", "/sok?q=", "/sok?q=%20%20", "/sok?q=***"):
        response = client.get(url)
        assert response.status_code == 200
        assert "Skriv en titel, en tonsättare" in text(response)


def test_no_results_is_a_friendly_message(client: FlaskClient) -> None:
    add_product("Aftonen", composer="Hugo Alfvén")
    html = text(client.get("/sok?q=stenhammar"))
    assert "Vi hittade inget som matchar" in html
    assert "stenhammar" in html


def test_search_finds_by_composer_with_swedish_folding(client: FlaskClient) -> None:
    add_product("Midsommarvaka", composer="Hugo Alfvén")
    add_product("Sviter för cello", composer="Johann Sebastian Bach")
    for query in ("alfven", "ALFVÉN", "Alfvén", "alfv"):
        assert titles_in(text(client.get(f"/sok?q={query}"))) == ["Midsommarvaka"], query


def test_search_results_are_paginated(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_SIZE", 2)
    for n in range(5):
        add_product(f"Polska nr {n}", composer="Traditionell")
    first = text(client.get("/sok?q=polska"))
    assert len(titles_in(first)) == 2
    assert "5 träffar" in first
    link = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert link
    assert "q=polska" in link.group(1)
    assert len(titles_in(text(client.get("/sok?q=polska&page=3")))) == 1
    assert client.get("/sok?q=polska&page=4").status_code == 404
    assert client.get("/sok?q=polska&page=abc").status_code == 404


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_never_error(client: FlaskClient, query: str) -> None:
    add_product("Sviter för cello", composer="Johann Sebastian Bach")
    response = client.get("/sok", query_string={"q": query})
    assert response.status_code == 200
    html = text(response)
    assert "<script>alert(1)</script>" not in html


def test_query_is_echoed_escaped(client: FlaskClient) -> None:
    html = text(client.get("/sok", query_string={"q": '<img src=x onerror="boom">'}))
    assert "<img src=x" not in html
    assert "&lt;img src=x" in html
