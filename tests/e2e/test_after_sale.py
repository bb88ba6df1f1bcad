"""After the sale, in the browser: a withdrawal refunded (T5.5–T5.9) and an invoice
reminded and paid by OCR (T3.4, T3.5).

Both run against the live shop with the demo logins. The live server runs in
a thread of the test process, so the invoice test moves the shop's clock past
the due date with ``time_machine`` (the browser's own clock is not involved:
every date is the server's).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest
import time_machine
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from shop.clock import STOCKHOLM
from shop.demo import DEMO_LOGINS
from shop.domain.lifecycle import InvoiceStatus, PaymentStatus, ReturnStatus
from shop.domain.money import format_sek
from shop.extensions import db
from shop.models import Invoice, Order, Payment, Refund
from shop.models.aftersale import Withdrawal
from tests.e2e.conftest import screenshot
from tests.e2e.test_checkout import _sheet_music_slugs

pytestmark = pytest.mark.e2e

CONSUMER, ORGANISATION, STAFF, _TEACHER = DEMO_LOGINS


@pytest.fixture
def staff_page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A second browser (own cookies) for the staff member, failing on browser errors."""
    context = browser.new_context(
        base_url=live_server, locale="sv-SE", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, "the browser reported errors:\n" + "\n".join(errors)


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/konto/logga-in")
    form = page.locator("main form")
    form.get_by_label("E-postadress").fill(email)
    form.get_by_label("Lösenord").fill(password)
    form.get_by_role("button", name="Logga in").click()
    expect(
        page.get_by_role("link", name="Logga ut")
        .or_(page.get_by_role("button", name="Logga ut"))
        .first
    ).to_be_visible()


def _fill_if_empty(page: Page, label: str, value: str, *, scope: str = "main") -> None:
    field = page.locator(scope).get_by_label(label, exact=True)
    if field.count() and not field.first.input_value():
        field.first.fill(value)


def buy(page: Page, slug: str, *, payment: str, organisation: bool = False) -> None:
    """The logged-in buyer puts one ``slug`` in the cart and checks out with ``payment``."""
    page.goto(f"/produkt/{slug}")
    page.get_by_role("button", name="Lägg i varukorgen").click()
    page.get_by_role("navigation", name="Konto").get_by_role("link", name="Varukorg").click()
    page.get_by_role("link", name="Till kassan").click()
    expect(page).to_have_url(re.compile(r"/kassa/kopare$"))
    page.get_by_label("Organisation" if organisation else "Privatperson", exact=True).check()
    _fill_if_empty(page, "Namn", "Karin Lindberg")
    if organisation:
        _fill_if_empty(page, "Organisationens namn", "Norrby kulturskola")
    adult = page.get_by_label("Jag är 18 år eller äldre")
    if adult.count():
        adult.check()
    page.get_by_role("button", name="Fortsätt").click()
    expect(page).to_have_url(re.compile(r"/kassa/adress$"))
    delivery = page.get_by_role("group", name="Leveransadress")
    delivery.get_by_label("Gatuadress").fill("Storgatan 3")
    delivery.get_by_label("Postnummer").fill("903 26")
    delivery.get_by_label("Ort").fill("Umeå")
    page.get_by_role("button", name="Fortsätt").click()
    expect(page).to_have_url(re.compile(r"/kassa/leverans$"))
    page.locator("input[name=delivery_method]").first.check()
    page.get_by_role("button", name="Fortsätt").click()
    expect(page).to_have_url(re.compile(r"/kassa/betalning$"))
    page.get_by_role("radio", name=payment).check()
    page.get_by_role("button", name="Fortsätt").click()
    expect(page).to_have_url(re.compile(r"/kassa/sammanfattning$"))
    page.get_by_label("Jag har läst och godkänner köpvillkoren").check()
    page.get_by_role("button", name="Slutför köp").click()


def latest_order(app: Flask, email: str) -> Order:
    with app.app_context():
        order = db.session.scalars(
            select(Order).where(Order.email == email).order_by(Order.id.desc()).limit(1)
        ).one()
        db.session.expunge(order)
        db.session.remove()
    return order


def test_a_consumer_withdraws_and_gets_the_refund_t5_5_t5_8_t5_9(
    page: Page, staff_page: Page, live_app: Flask
) -> None:
    slug = sorted(_sheet_music_slugs(live_app))[0]

    # --- The consumer buys a printed item with the sandbox -------------------------------
    log_in(page, CONSUMER.email, CONSUMER.password)
    buy(page, slug, payment="Testbetalning")
    page.get_by_role("button", name="Genomför testbetalning").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tack för din beställning")
    order = latest_order(live_app, CONSUMER.email)
    number = order.number

    # --- Staff ship it and record the delivery (T4.2) --------------------------------------
    log_in(staff_page, STAFF.email, STAFF.password)
    staff_page.goto(f"/staff/ordrar/{number}/forsandelse")
    staff_page.get_by_label("Fraktbolag").select_option("postnord")
    staff_page.get_by_label("Kollinummer").fill("PN123456789SE")
    staff_page.get_by_role("button", name="Skapa försändelse").click()
    expect(staff_page).to_have_url(re.compile(rf"/staff/ordrar/{number}$"))
    staff_page.get_by_role("button", name="Markera som skickad").click()
    today = datetime.now(STOCKHOLM).date()
    staff_page.get_by_label("Leveransdatum").fill(today.isoformat())
    staff_page.get_by_role("button", name="Spara leveransdatum").click()
    expect(staff_page.locator("section.shipment")).to_contain_text(f"Levererad: {today}")

    # --- The consumer withdraws in two steps: "Ångra köpet", "Bekräfta ångrande" (T5.9) -----
    page.goto(f"/konto/ordrar/{number}")
    page.locator("#withdrawal-entry").click()
    expect(page.locator(".steps")).to_contain_text("Steg 1 av 2")
    _fill_if_empty(page, "Namn", "Karin Lindberg")
    _fill_if_empty(page, "Ordernummer", number)
    _fill_if_empty(page, "E-post för bekräftelsen", CONSUMER.email)
    page.locator("tr.withdrawable-line input[type=checkbox]").first.check()
    page.get_by_role("button", name="Fortsätt").click()
    expect(page.locator(".steps")).to_contain_text("Steg 2 av 2")
    screenshot(page, "after-sale-01-withdrawal-confirm")
    page.get_by_role("button", name="Bekräfta ångrande").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    with live_app.app_context():
        withdrawal_id = db.session.scalars(
            select(Withdrawal.id).where(Withdrawal.order_id == order.id)
        ).one()
        db.session.remove()

    # --- Staff receive and inspect the parcel, then approve the refund (T5.5–T5.8) ---------
    staff_page.goto("/staff/returer")
    staff_page.goto(f"/staff/returer/{withdrawal_id}")
    expect(staff_page.locator(".return-status")).to_be_visible()
    staff_page.get_by_role("button", name="Registrera returpaket").click()
    expect(staff_page.locator(".return-parcels")).to_contain_text("Mottaget")
    staff_page.get_by_role("button", name="Spara inspektion").click()
    expect(staff_page.locator(".return-lines")).to_contain_text("Oanvänd")
    staff_page.get_by_role("button", name="Godkänn återbetalning").click()
    expect(staff_page.locator(".refund-status")).to_have_text("Genomförd")
    screenshot(staff_page, "after-sale-02-refund-done")

    with live_app.app_context():
        refund = db.session.scalars(select(Refund).where(Refund.order_id == order.id)).one()
        payment = db.session.get(Payment, refund.payment_id)
        assert refund.status == "done"
        assert refund.provider_reference
        assert payment is not None
        assert payment.provider == "sandbox"
        assert payment.status == PaymentStatus.REFUNDED.value
        assert db.session.get(Withdrawal, withdrawal_id).status == ReturnStatus.REFUNDED.value
        amount_ore = refund.amount_ore
        db.session.remove()

    # --- The consumer sees the refund and the credit note on the order page -----------------
    page.goto(f"/konto/ordrar/{number}")
    refunds = page.locator("section.order-refunds")
    expect(refunds).to_contain_text("återbetalades den")
    assert format_sek(amount_ore) in refunds.inner_text()
    link = refunds.get_by_role("link", name=re.compile("Kreditfaktura"))
    href = link.get_attribute("href")
    assert href is not None
    response = page.request.get(href)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")
    screenshot(page, "after-sale-03-order-refunded")


def test_an_overdue_invoice_is_reminded_and_paid_by_ocr_t3_4_t3_5(
    page: Page, staff_page: Page, live_app: Flask
) -> None:
    slug = sorted(_sheet_music_slugs(live_app))[-1]

    # --- The school buys on invoice (T3.2–T3.4) --------------------------------------------
    log_in(page, ORGANISATION.email, ORGANISATION.password)
    buy(page, slug, payment="Faktura", organisation=True)
    expect(page.get_by_role("heading", level=1)).to_have_text("Tack för din beställning")
    order = latest_order(live_app, ORGANISATION.email)
    with live_app.app_context():
        invoice = db.session.scalars(select(Invoice).where(Invoice.order_id == order.id)).one()
        number, ocr, total_ore, due_on = (
            invoice.number,
            invoice.ocr,
            invoice.total_ore,
            invoice.due_on,
        )
        db.session.remove()

    # --- Ten days after the due date (the shop's clock) -------------------------------------
    later = datetime.combine(due_on + timedelta(days=10), time(10, 0), tzinfo=STOCKHOLM)
    with time_machine.travel(later, tick=True):
        log_in(staff_page, STAFF.email, STAFF.password)
        staff_page.goto("/staff/fakturor?visa=forfallna")
        row = staff_page.locator(f"tr[data-invoice='{number}']")
        expect(row).to_be_visible()
        row.get_by_role("button", name="Skicka påminnelse").click()
        expect(
            staff_page.get_by_text(f"En påminnelse för faktura {number} är skickad.")
        ).to_be_visible()
        expect(staff_page.locator(f"tr[data-invoice='{number}']")).to_contain_text("Skickad")
        screenshot(staff_page, "after-sale-04-reminder-sent")

        # T3.5: the reminder fee (50 kr) is owed on top of the invoice.
        owed = total_ore + 5000
        staff_page.goto("/staff/fakturor/betalning")
        staff_page.get_by_label("OCR-nummer").fill(ocr)
        staff_page.get_by_label("Belopp (kr)").fill(f"{owed // 100},{owed % 100:02d}")
        staff_page.get_by_role("button", name="Registrera betalning").click()
        expect(staff_page.get_by_text(f"Faktura {number} är nu betald.")).to_be_visible()

        staff_page.goto("/staff/fakturor?visa=alla")
        row = staff_page.locator("table.staff-table tbody tr").filter(
            has=staff_page.locator("td").first.filter(has_text=re.compile(rf"^\s*{number}\s*$"))
        )
        expect(row).to_contain_text("Betald")
        screenshot(staff_page, "after-sale-05-invoice-paid")

    with live_app.app_context():
        paid = db.session.get(Invoice, invoice.id)
        assert paid is not None
        assert paid.status == InvoiceStatus.PAID.value
        assert paid.paid_ore == owed
        db.session.remove()
