"""Catalogue pages: home, listing with filters, sort and pages, product page, pictures.

Rules shown on the product page: T2.1 (price incl. VAT, VAT rate per
product), T2.2 (letter or parcel), T2.3 (downloads and codes: no delivery
fee), T4.1 (dispatch within 1–4 working days), T5.4 (sealed software).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.domain.catalog import ProductKind
from shop.extensions import db
from shop.models import Category, Product
from shop.services import catalog

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NBSP = "\u00a0"
_seq = count(1)


def categories() -> dict[str, Category]:
    return catalog.ensure_standard_categories()


def add_product(
    title: str = "Aftonen – blandad kör",
    *,
    category: str = "noter",
    price_ore: int = 14900,
    vat_rate_bp: int = 600,
    kind: ProductKind = ProductKind.PHYSICAL,
    on_hand: int | None = 10,
    weight_g: int = 200,
    size_class: str = "thin",
    created_at: datetime | None = None,
    **attributes: Any,
) -> Product:
    """A product made through the catalogue service (so its search text is kept)."""
    n = next(_seq)
    if kind.is_digital and on_hand == 10:
        on_hand = None
    return catalog.create_product(
        sku=f"T-{n:05d}",
        title=title,
        category=categories()[category],
        price_ore=price_ore,
        vat_rate_bp=vat_rate_bp,
        kind=kind,
        now=created_at or NOW - timedelta(minutes=n),
        on_hand=on_hand,
        weight_g=0 if kind.is_digital else weight_g,
        size_class=size_class,
        **attributes,
    )


def titles_in(html: str) -> list[str]:
    return re.findall(r'class="product-card-title">([^<]*)<', html)


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# --------------------------------------------------------------------------- home


def test_home_shows_categories_in_menu_order_and_new_products(client: FlaskClient) -> None:
    add_product("Gammal utgåva", created_at=NOW - timedelta(days=30))
    add_product("Alldeles ny utgåva", created_at=NOW)
    html = text(client.get("/"))
    positions = [html.index(f">{name}</a>") for name in ("Noter", "Böcker", "Programvara")]
    assert positions == sorted(positions)
    for name in ("Instrument", "Tillbehör", "Kurser"):
        assert f">{name}</a>" in html
    assert titles_in(html)[0] == "Alldeles ny utgåva"


def test_home_without_products_still_renders(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Katalogen är tom" in text(response)


def test_nav_categories_are_top_level_only_in_position_order(app: Flask) -> None:
    cats = categories()
    db.session.add(Category(slug="kor", name_sv="Kör", name_en="Choir", parent_id=cats["noter"].id))
    db.session.commit()
    with app.test_request_context("/"):
        from shop.web.storefront.views import nav_categories_processor

        names = [c.slug for c in nav_categories_processor()["nav_categories"]]
    assert names == ["noter", "bocker", "programvara", "instrument", "tillbehor", "kurser"]


# --------------------------------------------------------------------------- listing


def test_category_lists_only_its_own_active_products(client: FlaskClient) -> None:
    add_product("Sviter för cello")
    add_product("Harmonilära", category="bocker")
    hidden = add_product("Utgången utgåva")
    catalog.update_product(hidden, active=False)
    html = text(client.get("/katalog/noter"))
    assert titles_in(html) == ["Sviter för cello"]
    assert "<h1>Noter</h1>" in html
    assert sorted(titles_in(text(client.get("/katalog")))) == ["Harmonilära", "Sviter för cello"]


def test_subcategory_products_show_in_the_parent_category(client: FlaskClient) -> None:
    cats = categories()
    choir = Category(slug="kor", name_sv="Kör", name_en="Choir", parent_id=cats["noter"].id)
    db.session.add(choir)
    db.session.commit()
    catalog.create_product(
        sku="K-1", title="Körsånger", category=choir, price_ore=9900, vat_rate_bp=600, now=NOW
    )
    assert titles_in(text(client.get("/katalog/noter"))) == ["Körsånger"]
    assert titles_in(text(client.get("/katalog/kor"))) == ["Körsånger"]


def test_courses_category_is_the_course_list(client: FlaskClient) -> None:
    categories()
    response = client.get("/katalog/kurser")
    assert response.status_code == 302
    assert response.location.endswith("/kurser/")


def test_empty_filter_result_says_so(client: FlaskClient) -> None:
    add_product("Aftonen", difficulty=3)
    html = text(client.get("/katalog/noter?difficulty=5"))
    assert "Inga produkter matchar ditt urval" in html


@pytest.mark.parametrize(
    "url",
    [
        "/katalog/finns-inte",
        "/katalog?page=abc",
        "/katalog?page=0",
        "/katalog?page=-1",
        "/katalog?page=3",
        "/katalog?page=99999999999",
        "/katalog?page=%EF%BC%91",  # a full-width digit one
        "/produkt/finns-inte",
        "/produkt/finns-inte/bild.svg",
    ],
)
def test_unknown_things_and_pages_beyond_range_are_404(client: FlaskClient, url: str) -> None:
    add_product()
    assert client.get(url).status_code == 404


def test_inactive_product_page_is_404(client: FlaskClient) -> None:
    product = add_product()
    catalog.update_product(product, active=False)
    assert client.get(f"/produkt/{product.slug}").status_code == 404


def test_pagination_uses_configured_page_size_and_keeps_filters(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_SIZE", 2)
    for letter in "ABCDE":
        add_product(f"{letter} Sonat", difficulty=2)
    first = text(client.get("/katalog/noter?difficulty=2&sort=name"))
    assert titles_in(first) == ["A Sonat", "B Sonat"]
    assert "Sida 1 av 3" in first
    next_link = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert next_link
    href = next_link.group(1).replace("&amp;", "&")
    assert "difficulty=2" in href
    assert "sort=name" in href
    assert "page=2" in href
    assert titles_in(text(client.get(href))) == ["C Sonat", "D Sonat"]
    last = text(client.get("/katalog/noter?difficulty=2&page=3"))
    assert titles_in(last) == ["E Sonat"]
    assert 'rel="next"' not in last
    assert client.get("/katalog/noter?difficulty=2&page=4").status_code == 404


def test_empty_listing_has_a_page_one(client: FlaskClient) -> None:
    categories()
    assert client.get("/katalog/bocker?page=1").status_code == 200
    assert client.get("/katalog/bocker?page=2").status_code == 404


def test_filter_by_instrument_and_difficulty(client: FlaskClient) -> None:
    add_product("Pianostycke lätt", instrumentation="Piano", difficulty=1)
    add_product("Pianostycke svår", instrumentation="Piano", difficulty=5)
    add_product("Cellostycke", instrumentation="Cello", difficulty=1)
    html = text(client.get("/katalog/noter?instrument=Piano"))
    assert sorted(titles_in(html)) == ["Pianostycke lätt", "Pianostycke svår"]
    assert '<option value="Cello">' in html
    both = text(client.get("/katalog/noter?instrument=Piano&difficulty=1"))
    assert titles_in(both) == ["Pianostycke lätt"]


def test_in_stock_filter_keeps_downloads_and_drops_sold_out(client: FlaskClient) -> None:
    add_product("Finns", on_hand=4)
    add_product("Slutsåld", on_hand=0)
    reserved = add_product("Allt reserverat", on_hand=2)
    assert reserved.stock is not None
    reserved.stock.reserved = 2
    db.session.commit()
    add_product("Som PDF", kind=ProductKind.DOWNLOAD)
    html = text(client.get("/katalog/noter?in_stock=1"))
    assert sorted(titles_in(html)) == ["Finns", "Som PDF"]


@pytest.mark.parametrize(
    "query",
    [
        "difficulty=99",
        "difficulty=abc",
        "difficulty=",
        "sort=evil",
        "sort=",
        "in_stock=maybe",
        "instrument=" + "x" * 500,
        "category_slug=noter",
        "_external=1",
        "page=1&page=2",
    ],
)
def test_bad_query_parameters_are_ignored(client: FlaskClient, query: str) -> None:
    add_product()
    response = client.get(f"/katalog/noter?{query}")
    assert response.status_code == 200


def test_sort_orders(client: FlaskClient) -> None:
    add_product("Bellman", price_ore=30000, created_at=NOW - timedelta(days=2))
    add_product("alfvén", price_ore=10000, created_at=NOW - timedelta(days=1))
    add_product("Carl Nielsen", price_ore=20000, created_at=NOW)

    def order(sort: str) -> list[str]:
        return titles_in(text(client.get(f"/katalog/noter?sort={sort}")))

    assert order("name") == ["alfvén", "Bellman", "Carl Nielsen"]
    assert order("price") == ["alfvén", "Carl Nielsen", "Bellman"]
    assert order("price_desc") == ["Bellman", "Carl Nielsen", "alfvén"]
    assert order("newest") == ["Carl Nielsen", "alfvén", "Bellman"]
    assert order("evil") == order("name")


# --------------------------------------------------------------------------- product page


def test_product_page_shows_price_incl_vat_and_rate_t2_1(client: FlaskClient) -> None:
    book = add_product("Harmonilära", category="bocker", price_ore=129900, vat_rate_bp=600)
    piano = add_product("Digitalpiano", category="instrument", price_ore=899500, vat_rate_bp=2500)
    html = text(client.get(f"/produkt/{book.slug}"))
    assert f"1{NBSP}299,00{NBSP}kr" in html
    assert f"inkl. moms 6{NBSP}%" in html
    html = text(client.get(f"/produkt/{piano.slug}"))
    assert f"8{NBSP}995,00{NBSP}kr" in html
    assert f"inkl. moms 25{NBSP}%" in html


def test_product_page_shows_every_sheet_music_attribute(client: FlaskClient) -> None:
    product = add_product(
        "Midsommarvaka",
        composer="Hugo Alfvén",
        arranger="Robert Sund",
        instrumentation="Blandad kör (SATB)",
        difficulty=4,
        publisher="Gehrmans Musikförlag",
        edition_number="GE 11234",
        description="Svensk rapsodi nr 1.",
    )
    html = text(client.get(f"/produkt/{product.slug}"))
    for value in (
        "Hugo Alfvén",
        "Robert Sund",
        "Blandad kör (SATB)",
        "4 av 5",
        "Gehrmans Musikförlag",
        "GE 11234",
        "Svensk rapsodi nr 1.",
        product.sku,
    ):
        assert value in html


@pytest.mark.parametrize(
    ("on_hand", "reserved", "label", "css"),
    [
        (25, 0, "I lager", "stock-in"),
        (3, 0, "Få kvar", "stock-low"),
        (5, 3, "Få kvar", "stock-low"),
        (0, 0, "Slut i lager", "stock-out"),
        (2, 2, "Slut i lager", "stock-out"),
    ],
)
def test_product_page_stock_state(
    client: FlaskClient, on_hand: int, reserved: int, label: str, css: str
) -> None:
    product = add_product(on_hand=on_hand)
    assert product.stock is not None
    product.stock.reserved = reserved
    db.session.commit()
    html = text(client.get(f"/produkt/{product.slug}"))
    assert f'<p class="stock {css}">{label}</p>' in html
    if css == "stock-out":
        assert 'action="/varukorg/lagg-till"' not in html
    else:
        assert 'action="/varukorg/lagg-till"' in html


def test_downloads_and_codes_are_always_available(client: FlaskClient) -> None:
    pdf = add_product("Som PDF", kind=ProductKind.DOWNLOAD)
    code = add_product(
        "Dorico – kod", category="programvara", kind=ProductKind.SOFTWARE_CODE, vat_rate_bp=2500
    )
    for product in (pdf, code):
        html = text(client.get(f"/produkt/{product.slug}"))
        assert "stock-in" in html
        assert 'max="99"' in html


def test_add_to_cart_form_posts_product_and_quantity_with_csrf(client: FlaskClient) -> None:
    product = add_product(on_hand=7)
    html = text(client.get(f"/produkt/{product.slug}"))
    form = re.search(r'<form class="add-to-cart".*?</form>', html, re.S)
    assert form
    assert 'method="post" action="/varukorg/lagg-till"' in form.group(0)
    assert f'name="product_id" value="{product.id}"' in form.group(0)
    assert 'name="quantity"' in form.group(0)
    assert 'max="7"' in form.group(0)
    assert 'name="csrf_token"' in form.group(0)
    assert "Lägg i varukorgen" in form.group(0)


@pytest.mark.parametrize(
    ("kind", "weight_g", "size_class", "note", "dispatch"),
    [
        (ProductKind.PHYSICAL, 200, "thin", "Skickas som brev", True),
        (ProductKind.PHYSICAL, 2500, "thin", "Skickas som paket", True),
        (ProductKind.PHYSICAL, 900, "small", "Skickas som paket", True),
        (ProductKind.PHYSICAL, 16000, "oversize", "Skickas som paket", True),
        (ProductKind.SOFTWARE_BOXED, 400, "small", "Skickas som paket", True),
        (ProductKind.DOWNLOAD, 0, "thin", "Levereras som nedladdning", False),
        (ProductKind.SOFTWARE_CODE, 0, "small", "Levereras som kod via e-post", False),
    ],
)
def test_delivery_note_per_kind_t2_2_t2_3_and_dispatch_window_t4_1(
    client: FlaskClient,
    kind: ProductKind,
    weight_g: int,
    size_class: str,
    note: str,
    dispatch: bool,
) -> None:
    product = add_product(kind=kind, weight_g=weight_g, size_class=size_class)
    html = text(client.get(f"/produkt/{product.slug}"))
    assert note in html
    assert ("Skickas inom 1–4 arbetsdagar" in html) is dispatch


def test_sealed_boxed_software_warns_about_the_seal_t5_4(client: FlaskClient) -> None:
    product = add_product(
        "Dorico – box",
        category="programvara",
        kind=ProductKind.SOFTWARE_BOXED,
        vat_rate_bp=2500,
        size_class="small",
        sealed=True,
    )
    assert "förseglingen har brutits" in text(client.get(f"/produkt/{product.slug}"))


def test_pages_have_no_inline_style_or_script(client: FlaskClient) -> None:
    product = add_product(composer="Bach")
    for url in ("/", "/katalog", "/katalog/noter", f"/produkt/{product.slug}", "/sok?q=bach"):
        html = text(client.get(url))
        assert " style=" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)


# --------------------------------------------------------------------------- pictures


def test_product_image_is_a_cacheable_svg(client: FlaskClient) -> None:
    product = add_product("Sviter för cello")
    response = client.get(f"/produkt/{product.slug}/bild.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.cache_control.public
    assert response.cache_control.max_age
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    body = text(response)
    assert body.startswith("<svg")
    assert "Sviter för cello" in body
    assert body == text(client.get(f"/produkt/{product.slug}/bild.svg"))
    etag = response.headers["ETag"]
    again = client.get(f"/produkt/{product.slug}/bild.svg", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_product_image_escapes_the_title(client: FlaskClient) -> None:
    product = add_product('<script>alert("x")</script> & <b>Noter</b>')
    body = text(client.get(f"/produkt/{product.slug}/bild.svg"))
    assert "<script" not in body
    assert "<b>" not in body
    assert "&lt;script&gt;" in body
    assert "&amp;" in body
    import xml.etree.ElementTree as ET

    ET.fromstring(body)  # well-formed XML


def test_product_image_colour_follows_the_category(client: FlaskClient) -> None:
    sheet = add_product("Noter")
    book = add_product("Bok", category="bocker")
    sheet_svg = text(client.get(f"/produkt/{sheet.slug}/bild.svg"))
    book_svg = text(client.get(f"/produkt/{book.slug}/bild.svg"))
    fill = re.compile(r'<rect width="400" height="400" fill="([^"]+)"')
    sheet_fill, book_fill = fill.search(sheet_svg), fill.search(book_svg)
    assert sheet_fill
    assert book_fill
    assert sheet_fill.group(1) != book_fill.group(1)
