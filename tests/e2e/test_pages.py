"""The main pages render in a real browser: styled, without console or CSP errors.

Screenshots go to test-artifacts/ for a look by eye; the assertions check what a
browser adds over the test client: the stylesheet loads and applies, nothing is
blocked by the Content-Security-Policy, and the page fits a phone's width.
"""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from shop.extensions import db
from shop.models import Product
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def _some_product_slug(app: Flask) -> str:
    with app.app_context():
        slug = db.session.scalar(select(Product.slug).where(Product.active).order_by(Product.id))
        db.session.remove()
    assert slug, "the demo data has no products"
    return slug


def _check_page(page: Page, path: str, name: str) -> None:
    response = page.goto(path)
    assert response is not None
    assert response.status == 200, f"{path} answered {response.status}"
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    # The stylesheet loaded and applies (the skip link is moved off screen by it).
    sheets = page.evaluate("document.styleSheets.length")
    assert sheets >= 1, f"{path}: no stylesheet loaded"
    skip_box = page.get_by_role("link", name="Hoppa till innehållet").bounding_box()
    assert skip_box is None or skip_box["y"] < 0 or skip_box["x"] < 0 or skip_box["height"] <= 1, (
        f"{path}: the skip link is visible before focus; is the CSS applied?"
    )
    screenshot(page, name)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/", "home"),
        ("/katalog", "catalogue"),
        ("/konto/logga-in", "login"),
    ],
)
def test_page_renders(page: Page, path: str, name: str) -> None:
    _check_page(page, path, name)


def test_product_page_renders(page: Page, live_app: Flask) -> None:
    _check_page(page, f"/produkt/{_some_product_slug(live_app)}", "product-page")


def test_home_fits_a_phone(page: Page) -> None:
    """No sideways scrolling at 360 px."""
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    screenshot(page, "home-phone")
    assert overflow <= 0, f"the home page is {overflow} px wider than a 360 px screen"
