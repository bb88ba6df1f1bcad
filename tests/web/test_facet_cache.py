"""Storefront speed-ups that must not change what a visitor sees.

Facets (menu categories, the instrument filter, result counts) may come from
the per-process cache; product rows (price, stock, whether a product is
still sold) never do. Cards build their links once per page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from shop import create_app
from shop.extensions import db
from shop.services import catalog
from shop.services.cache import TTLCache
from shop.web.storefront.views import (
    DEFAULT_FACET_CACHE_SECONDS,
    FACET_CACHE_EXTENSION,
    ProductCardKit,
)
from tests.conftest import make_test_config
from tests.web.test_catalogue import add_product, text, titles_in
from tests.web.test_query_counts import counting_queries


@pytest.fixture
def facet_cache(app: Flask, monkeypatch: pytest.MonkeyPatch) -> TTLCache:
    """Turn the facet cache on, as in production (tests run with it off)."""
    cache = TTLCache(60)
    monkeypatch.setitem(app.extensions, FACET_CACHE_EXTENSION, cache)
    return cache


def test_the_cache_is_on_in_production_and_off_under_test(app: Flask, tmp_path: Path) -> None:
    assert not app.extensions[FACET_CACHE_EXTENSION].enabled
    config = make_test_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    config["TESTING"] = False
    assert create_app(config).extensions[FACET_CACHE_EXTENSION].ttl == DEFAULT_FACET_CACHE_SECONDS
    config["CATALOGUE_CACHE_SECONDS"] = 5
    assert create_app(config).extensions[FACET_CACHE_EXTENSION].ttl == 5


@pytest.mark.usefixtures("facet_cache")
def test_a_cached_catalogue_page_reads_only_its_product_rows(client: FlaskClient) -> None:
    for n in range(30):
        add_product(f"Etyd nr {n}", instrumentation="Piano" if n % 2 else "Violin")
    client.get("/katalog/noter")
    with counting_queries() as statements:
        html = text(client.get("/katalog/noter"))
    assert len(statements) == 1
    assert "30 produkter" in html
    assert '<option value="Violin">' in html


@pytest.mark.usefixtures("facet_cache")
def test_a_product_added_through_the_catalogue_shows_in_the_facets_at_once(
    client: FlaskClient,
) -> None:
    add_product("Etyd", instrumentation="Piano")
    first = text(client.get("/katalog/noter"))
    assert "1 produkt<" in first
    assert '<option value="Cello">' not in first
    add_product("Cellosvit", instrumentation="Cello")
    second = text(client.get("/katalog/noter"))
    assert "2 produkter" in second
    assert '<option value="Cello">' in second
    assert sorted(titles_in(second)) == ["Cellosvit", "Etyd"]


@pytest.mark.usefixtures("facet_cache")
def test_a_product_taken_off_sale_leaves_the_listing_at_once(client: FlaskClient) -> None:
    kept = add_product("Kvar i sortimentet")
    gone = add_product("Utgången")
    assert sorted(titles_in(text(client.get("/katalog/noter")))) == [kept.title, gone.title]
    catalog.update_product(gone, active=False)
    html = text(client.get("/katalog/noter"))
    assert titles_in(html) == [kept.title]
    assert "1 produkt<" in html


@pytest.mark.usefixtures("facet_cache")
def test_stock_shown_on_cards_is_never_cached(client: FlaskClient) -> None:
    product = add_product("Sista exemplaret", on_hand=5)
    assert "I lager" in text(client.get("/katalog/noter"))
    assert product.stock is not None
    product.stock.reserved = 5  # sold elsewhere, not through the catalogue service
    db.session.commit()
    html = text(client.get("/katalog/noter"))
    assert "Slut i lager" in html
    assert "Lägg i varukorgen" not in html


@pytest.mark.usefixtures("facet_cache")
def test_search_totals_follow_new_products_at_once(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_SIZE", 2)
    for n in range(3):
        add_product(f"Polska {n}")
    assert "3 träffar" in text(client.get("/sok?q=polska"))
    add_product("Polska 3")
    assert "4 träffar" in text(client.get("/sok?q=polska"))
    assert client.get("/sok?q=polska&page=2").status_code == 200
    assert client.get("/sok?q=polska&page=3").status_code == 404


@pytest.mark.parametrize("slug", ["sonat-nr-1", "å ä ö", "a/b?c#d", "100%", "x&y=z"])
def test_card_links_equal_url_for(app: Flask, slug: str) -> None:
    with app.test_request_context("/katalog"):
        kit = ProductCardKit()
        assert kit.product_url(slug) == url_for("storefront.product", slug=slug)
        assert kit.image_url(slug) == url_for("storefront.product_image", slug=slug)
        assert kit.add_url == url_for("cart.add")


def test_card_links_work_under_a_url_prefix(app: Flask) -> None:
    with app.test_request_context("/katalog", base_url="http://localhost/butik/"):
        kit = ProductCardKit()
        assert kit.product_url("sonat") == "/butik/produkt/sonat"
        assert kit.image_url("sonat") == "/butik/produkt/sonat/bild.svg"
