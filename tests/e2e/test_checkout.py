"""A guest buys sheet music with the sandbox and sees the receipt (T1.1, T2.1, T2.3).

Drives the live shop in headless Chromium through the whole purchase: browse
"Noter" from the home page, open a printed sheet-music product, "Lägg i
varukorgen", "Varukorg", "Till kassan", the checkout steps as a guest consumer
(e-mail, name, "Jag är 18 år eller äldre", a Swedish address, the cheapest
delivery method, "Testbetalning"), "Jag har läst och godkänner köpvillkoren",
"Slutför köp", the test payment page ("Testbetalning – inga pengar dras"),
"Genomför testbetalning", the return page "Tack för din beställning" and the
receipt. Amounts are read from the pages and checked in integer öre. Every step
is screenshotted into test-artifacts/checkout-*.png; any console error or
Content-Security-Policy violation fails the test (the ``page`` fixture).
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from shop.domain.lifecycle import OrderStatus, PaymentStatus
from shop.domain.money import format_sek
from shop.domain.vat import VatLine, split_vat
from shop.extensions import db
from shop.models import Category, Order, OutboxMessage, Payment, Product, StockLevel
from tests.e2e.conftest import screenshot
from tests.e2e.test_shopping import parse_sek

pytestmark = pytest.mark.e2e

GUEST_EMAIL = "astrid.e2e@example.se"
GUEST_NAME = "Astrid Nyström"
STREET = "Vasagatan 12"
POSTCODE = "411 24"
CITY = "Göteborg"
_PERCENT_RE = re.compile(r"^(\d+)(?:,(\d{1,2}))?[ \u00a0]%$")


def parse_percent(text: str) -> int:
    """ "6 %" / "12,5 %" (as ``|percent`` writes it) → basis points."""
    match = _PERCENT_RE.match(text.strip())
    assert match, f"not a VAT rate in the shop's format: {text!r}"
    whole, decimals = match.groups()
    return int(whole) * 100 + int((decimals or "0").ljust(2, "0"))


def test_parse_percent_reads_the_shop_format() -> None:
    assert parse_percent("6\u00a0%") == 600
    assert parse_percent("12,5\u00a0%") == 1250


def _sheet_music_slugs(app: Flask) -> dict[str, tuple[str, int]]:
    """slug → (title, price) of every printed "Noter" item in stock."""
    with app.app_context():
        rows = db.session.execute(
            select(Product.slug, Product.title, Product.price_ore)
            .join(Category, Product.category_id == Category.id)
            .join(StockLevel)
            .where(
                Product.active,
                Category.slug == "noter",
                Product.kind == "physical",
                StockLevel.on_hand - StockLevel.reserved >= 2,
            )
        ).all()
        db.session.remove()
    assert rows, "the demo data has no printed sheet music in stock"
    return {slug: (title, price) for slug, title, price in rows}


def _cell_texts(row: Locator) -> list[str]:
    return [text.strip() for text in row.locator("td").all_inner_texts()]


def _dd_after(scope: Locator, term: str) -> Locator:
    """The ``<dd>`` that follows the ``<dt>`` with exactly ``term``."""
    dt = scope.locator("dt").filter(has_text=re.compile(rf"^\s*{re.escape(term)}\s*$")).first
    return dt.locator("xpath=following-sibling::dd[1]")


def test_a_guest_buys_sheet_music_with_the_sandbox_and_sees_the_receipt(
    page: Page, live_app: Flask
) -> None:
    """T1.1 (18+ confirmation), T2.1 (VAT per rate, öre), T2.3 (delivery fee in the total)."""
    in_stock = _sheet_music_slugs(live_app)

    # --- Browse "Noter" from the home page and open a printed item ------------------------
    page.goto("/")
    page.get_by_role("navigation", name="Kategorier").get_by_role(
        "link", name="Noter", exact=True
    ).click()
    expect(page).to_have_url(re.compile(r"/katalog/noter"))
    hrefs = page.locator("main a[href^='/produkt/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    slugs = [href.removeprefix("/produkt/") for href in hrefs]
    slug = next((s for s in slugs if s in in_stock), None)
    assert slug is not None, "the first page of Noter shows no printed sheet music in stock"
    title, price_ore = in_stock[slug]
    screenshot(page, "checkout-01-noter")

    page.locator(f"main a[href='/produkt/{slug}']").first.click()
    expect(page).to_have_url(re.compile(f"/produkt/{re.escape(slug)}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    shown_price = parse_sek(page.locator("main .product-info .price").first.inner_text())
    assert shown_price == price_ore
    screenshot(page, "checkout-02-product")

    # --- Cart ------------------------------------------------------------------------------
    page.get_by_role("button", name="Lägg i varukorgen").click()
    page.get_by_role("navigation", name="Konto").get_by_role("link", name="Varukorg").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Varukorg")
    expect(page.locator("tr.cart-line")).to_have_count(1)
    screenshot(page, "checkout-03-cart")
    page.get_by_role("link", name="Till kassan").click()

    # --- Buyer: a guest consumer (T1.1) ------------------------------------------------------
    expect(page).to_have_url(re.compile(r"/kassa/kopare$"))
    expect(page.locator("[aria-current=step]")).to_have_text("Köpare")
    expect(page.get_by_label("Privatperson")).to_be_checked()
    page.get_by_label("E-postadress").fill(GUEST_EMAIL)
    page.get_by_label("Namn", exact=True).fill(GUEST_NAME)
    page.get_by_label("Jag är 18 år eller äldre").check()
    screenshot(page, "checkout-04-buyer")
    page.get_by_role("button", name="Fortsätt").click()

    # --- Addresses -----------------------------------------------------------------------------
    expect(page).to_have_url(re.compile(r"/kassa/adress$"))
    delivery = page.get_by_role("group", name="Leveransadress")
    expect(delivery.get_by_label("Namn")).to_have_value(GUEST_NAME)
    delivery.get_by_label("Gatuadress").fill(STREET)
    delivery.get_by_label("Postnummer").fill(POSTCODE)
    delivery.get_by_label("Ort").fill(CITY)
    expect(page.get_by_label("Fakturaadressen är samma som leveransadressen")).to_be_checked()
    screenshot(page, "checkout-05-address")
    page.get_by_role("button", name="Fortsätt").click()

    # --- Delivery: the cheapest method ------------------------------------------------------------
    expect(page).to_have_url(re.compile(r"/kassa/leverans$"))
    options = page.locator("label.choice")
    fees: list[tuple[int, str]] = []
    for index in range(options.count()):
        label = options.nth(index).inner_text().strip()
        value = options.nth(index).locator("input[type=radio]").get_attribute("value")
        assert value, f"delivery option without a value: {label!r}"
        fees.append((parse_sek(label.rsplit("–", 1)[1]), value))
    assert fees, "no delivery methods offered for printed sheet music"
    delivery_fee, method = min(fees)
    page.locator(f"input[name=delivery_method][value='{method}']").check()
    screenshot(page, "checkout-06-delivery")
    page.get_by_role("button", name="Fortsätt").click()

    # --- Payment: the sandbox --------------------------------------------------------------------
    expect(page).to_have_url(re.compile(r"/kassa/betalning$"))
    page.get_by_role("radio", name="Testbetalning").check()
    screenshot(page, "checkout-07-payment")
    page.get_by_role("button", name="Fortsätt").click()

    # --- Summary ----------------------------------------------------------------------------
    expect(page).to_have_url(re.compile(r"/kassa/sammanfattning$"))
    summary = page.locator("main")
    line = summary.locator("table.checkout-lines tr.line")
    expect(line).to_have_count(1)
    cells = _cell_texts(line)
    assert cells[0] == title
    assert cells[1] == "1"
    assert parse_sek(cells[4]) == shown_price
    fee_row = summary.locator("table.checkout-lines tr.fee")
    expect(fee_row).to_have_count(1)
    assert parse_sek(_cell_texts(fee_row)[4]) == delivery_fee
    summary_total = parse_sek(summary.locator("dl.totals dd.total").inner_text())
    assert summary_total == shown_price + delivery_fee
    details = summary.locator("dl.details")
    expect(details).to_contain_text(GUEST_EMAIL)
    expect(details).to_contain_text(f"{POSTCODE} {CITY}")
    assert _dd_after(details, "Betalsätt").inner_text().strip() == "Testbetalning"
    page.get_by_label("Jag har läst och godkänner köpvillkoren").check()
    screenshot(page, "checkout-08-summary")
    page.get_by_role("button", name="Slutför köp").click()

    # --- The test payment page --------------------------------------------------------------------
    expect(page).to_have_url(re.compile(r"/betalning/sandbox/sbx_\w+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Testbetalning")
    expect(page.get_by_role("note")).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text("Det här är en testbetalning")
    sandbox_facts = page.locator("main dl.totals")
    order_number = _dd_after(sandbox_facts, "Ordernummer").inner_text().strip()
    assert order_number
    assert parse_sek(_dd_after(sandbox_facts, "Att betala").inner_text()) == summary_total
    screenshot(page, "checkout-09-sandbox")
    page.get_by_role("button", name="Genomför testbetalning").click()

    # --- Back in the shop: paid ----------------------------------------------------------------
    expect(page).to_have_url(re.compile(rf"/betalning/{re.escape(order_number)}/retur"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Tack för din beställning")
    expect(page.locator("[data-payment-state]")).to_have_attribute("data-payment-state", "paid")
    expect(page.get_by_text("Betalningen är genomförd.")).to_be_visible()
    facts = page.locator("main dl.totals")
    assert _dd_after(facts, "Ordernummer").inner_text().strip() == order_number
    assert parse_sek(_dd_after(facts, "Totalt").inner_text()) == summary_total
    screenshot(page, "checkout-10-paid")
    page.get_by_role("link", name="Visa kvitto").click()

    # --- The receipt (T2.1) --------------------------------------------------------------------
    expect(page.get_by_role("heading", level=1)).to_contain_text("Kvitto")
    receipt = page.locator("main article.document")
    assert _dd_after(receipt, "Ordernummer").inner_text().strip() == order_number
    lines = receipt.locator("table.document-lines tbody tr")
    expect(lines).to_have_count(2)  # the product and the delivery fee
    product_cells = _cell_texts(lines.nth(0))
    fee_cells = _cell_texts(lines.nth(1))
    assert product_cells[0] == title
    assert product_cells[1] == "1"
    assert parse_sek(product_cells[2]) == shown_price
    assert parse_sek(product_cells[4]) == shown_price
    assert parse_sek(fee_cells[4]) == delivery_fee
    product_rate, fee_rate = parse_percent(product_cells[3]), parse_percent(fee_cells[3])
    assert product_rate == 600, "printed sheet music carries 6 % VAT"
    assert fee_rate == 2500, "the delivery fee carries 25 % VAT"

    expected = split_vat([VatLine(shown_price, product_rate), VatLine(delivery_fee, fee_rate)])
    vat_rows = receipt.locator("table.document-vat tbody tr")
    expect(vat_rows).to_have_count(len(expected.rates))
    shown_rates = []
    for index in range(vat_rows.count()):
        rate_text, net, vat, gross = _cell_texts(vat_rows.nth(index))
        rate_bp, net_ore, vat_ore, gross_ore = (
            parse_percent(rate_text),
            parse_sek(net),
            parse_sek(vat),
            parse_sek(gross),
        )
        assert net_ore + vat_ore == gross_ore, f"{rate_text}: net + VAT is not the gross"
        shown_rates.append((rate_bp, net_ore, vat_ore, gross_ore))
    assert sorted(shown_rates) == sorted(
        (r.rate_bp, r.net_ore, r.vat_ore, r.gross_ore) for r in expected.rates
    )
    totals = receipt.locator("dl.document-totals")
    receipt_total = parse_sek(_dd_after(totals, "Totalt").inner_text())
    assert receipt_total == shown_price + delivery_fee
    assert parse_sek(_dd_after(totals, "Moms").inner_text()) == expected.total_vat_ore
    assert parse_sek(_dd_after(totals, "Summa exklusive moms").inner_text()) == (
        expected.total_net_ore
    )
    assert _dd_after(totals, "Totalt").inner_text().strip() == format_sek(receipt_total)
    screenshot(page, "checkout-11-receipt")

    # --- The database of the live app: paid order, order confirmation in the outbox --------
    with live_app.app_context():
        order = db.session.scalar(select(Order).where(Order.number == order_number))
        assert order is not None
        assert (order.email, order.status, order.total_ore) == (
            GUEST_EMAIL,
            OrderStatus.CONFIRMED.value,
            shown_price + delivery_fee,
        )
        payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
        assert payment is not None
        assert (payment.provider, payment.status, payment.amount_ore) == (
            "sandbox",
            PaymentStatus.CAPTURED.value,  # paid: the sandbox, like Stripe Checkout, captures
            order.total_ore,
        )
        mails = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.to_address == GUEST_EMAIL,
                OutboxMessage.template == "order_confirmation",
            )
        ).all()
        assert len(mails) == 1, "exactly one order confirmation is queued"
        assert order_number in mails[0].subject
        assert title in mails[0].body_text
        db.session.remove()
