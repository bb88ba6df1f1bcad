"""A customer finds a product, puts it in the cart and sees the right total (T2.1).

Drives the live shop in headless Chromium: search from the header's "Sök" box,
open the product from the results, "Lägg i varukorgen", open "Varukorg", check
the amounts, change the quantity to 2 and check they double. Screenshots of the
pages go to test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from shop.domain.money import format_sek
from shop.extensions import db
from shop.models import Product, StockLevel
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e

NBSP = "\u00a0"
_AMOUNT_RE = re.compile(r"^(-?)(\d{1,3}(?:[ \u00a0]\d{3})*),(\d{2})[ \u00a0]kr$")


def parse_sek(text: str) -> int:
    """ "1 299,00 kr" (with non-breaking spaces, as ``|sek`` writes it) → 129900 öre."""
    cleaned = text.strip()
    match = _AMOUNT_RE.match(cleaned)
    assert match, f"not an amount in the shop's format: {cleaned!r}"
    assert NBSP + "kr" in cleaned, f"the unit must follow a non-breaking space: {cleaned!r}"
    sign, kronor, ore = match.groups()
    value = int(kronor.replace(" ", "").replace(NBSP, "")) * 100 + int(ore)
    return -value if sign else value


def test_parse_sek_reads_the_shop_format() -> None:
    assert parse_sek(format_sek(129900)) == 129900
    assert parse_sek(format_sek(5)) == 5


def _shippable_product(app: Flask) -> tuple[str, str, int]:
    """(title, slug, price_ore) of an in-stock physical product with a title of its own."""
    with app.app_context():
        unique_titles = (
            select(Product.title).group_by(Product.title).having(func.count(Product.id) == 1)
        )
        product = db.session.scalars(
            select(Product)
            .join(StockLevel)
            .where(
                Product.active,
                Product.kind == "physical",
                StockLevel.on_hand - StockLevel.reserved >= 5,
                Product.price_ore >= 10_000,
                Product.title.in_(unique_titles),
            )
            .order_by(Product.price_ore.desc(), Product.id)
        ).first()
        assert product is not None, "the demo data has no physical product in stock"
        result = (product.title, product.slug, product.price_ore)
        db.session.remove()
    return result


def _amount(page: Page, term: str) -> int:
    """The amount next to ``term`` in the cart's totals list."""
    dd = page.locator("dl.totals dt", has_text=term).first.locator("xpath=following-sibling::dd[1]")
    return parse_sek(dd.inner_text())


def test_search_add_to_cart_and_total(page: Page, live_app: Flask) -> None:
    """T2.1: the cart shows the product page's price (VAT included) and doubles it for 2."""
    title, slug, price_ore = _shippable_product(live_app)

    page.goto("/")
    search = page.locator("header").get_by_role("search")
    search.get_by_role("searchbox", name="Sök").fill(title)
    search.get_by_role("button", name="Sök").click()
    expect(page).to_have_url(re.compile(r"/sok\?q="))

    page.locator("main").get_by_role("link", name=title, exact=True).first.click()
    expect(page).to_have_url(re.compile(f"/produkt/{re.escape(slug)}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)

    shown_price = parse_sek(page.locator("main .product-info .price").first.inner_text())
    assert shown_price == price_ore
    screenshot(page, "product")

    page.get_by_role("button", name="Lägg i varukorgen").click()
    page.get_by_role("navigation", name="Konto").get_by_role("link", name="Varukorg").click()
    expect(page).to_have_url(re.compile(r"/varukorg/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Varukorg")

    line = page.locator("tr.cart-line", has=page.get_by_role("link", name=title, exact=True))
    expect(line).to_have_count(1)
    cells = line.locator("td.num")
    assert parse_sek(cells.nth(0).inner_text()) == shown_price
    assert parse_sek(cells.nth(1).inner_text()) == shown_price
    assert _amount(page, "Varor") == shown_price
    delivery = (
        _amount(page, "Frakt") if page.locator("dl.totals dt", has_text="Frakt").count() else 0
    )
    total_text = page.locator("dl.totals dd.total").inner_text().strip()
    assert total_text == format_sek(shown_price + delivery)
    screenshot(page, "cart")

    line.get_by_role("spinbutton").fill("2")
    line.get_by_role("button", name="Ändra").click()
    line = page.locator("tr.cart-line", has=page.get_by_role("link", name=title, exact=True))
    expect(line.get_by_role("spinbutton")).to_have_value("2")
    assert parse_sek(line.locator("td.num").nth(1).inner_text()) == 2 * shown_price
    assert _amount(page, "Varor") == 2 * shown_price
    delivery_2 = (
        _amount(page, "Frakt") if page.locator("dl.totals dt", has_text="Frakt").count() else 0
    )
    total_text = page.locator("dl.totals dd.total").inner_text().strip()
    assert total_text == format_sek(2 * shown_price + delivery_2)
    screenshot(page, "cart-quantity-2")
