"""Staff invoice follow-up pages: overdue list, reminder, collection, payment by OCR (T3.4–T3.6)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from shop.models import AuditEntry, IncomingPayment, Invoice, InvoiceReminder, OutboxMessage
from shop.models.customer import Role
from shop.services import invoicing
from tests.conftest import csrf_token_from, new_client, post_form
from tests.factories import make_customer
from tests.services.fulfilment_helpers import invoice_order, tmp_downloads  # noqa: F401
from tests.web.test_documents import log_in, staff_client

pytestmark = pytest.mark.usefixtures("tmp_downloads")

OVERDUE = "/staff/fakturor?visa=forfallna"
COLLECTION = "/staff/fakturor?visa=inkasso"
PAYMENT = "/staff/fakturor/betalning"


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


@pytest.fixture
def invoice(app: Flask) -> Invoice:
    """An invoice issued 23 November 2026, due Wednesday 23 December 2026."""
    found = invoicing.invoice_for_order(invoice_order())
    assert found is not None
    return found


def finance(app: Flask) -> FlaskClient:
    return staff_client(app, "ekonomi@example.se", Role.FINANCE)


def test_overdue_list_and_reminder_from_the_day_after_the_due_date_t3_5(
    app: Flask, invoice: Invoice
) -> None:
    with time_machine.travel(at(date(2026, 12, 23)), tick=False):
        client = finance(app)
        page = client.get(OVERDUE).get_data(as_text=True)
        assert "Inga förfallna fakturor." in page
        response = post_form(
            client, f"/staff/fakturor/{invoice.id}/paminnelse", {}, form_url=OVERDUE
        )
        assert response.status_code == 302
        assert db.session.query(InvoiceReminder).count() == 0
    with time_machine.travel(at(date(2026, 12, 24)), tick=False):
        page = client.get(OVERDUE).get_data(as_text=True)
        assert f'data-invoice="{invoice.number}"' in page
        assert "Kan skickas i dag" in page
        assert "Skicka påminnelse" in page


def test_send_reminder_once_with_fee_pdf_and_mail_t3_5(app: Flask, invoice: Invoice) -> None:
    """T3.5: the reminder adds 50 kr and 10 days; a second click changes nothing."""
    with time_machine.travel(at(date(2026, 12, 28)), tick=False):
        client = finance(app)
        url = f"/staff/fakturor/{invoice.id}/paminnelse"
        response = post_form(client, url, {}, form_url=OVERDUE, follow_redirects=True)
        page = response.get_data(as_text=True)
        assert "En påminnelse för faktura" in page
        assert "nytt förfallodatum 2027-01-07" in page
        token_page = client.get("/staff/fakturor").get_data(as_text=True)
        second = client.post(
            url, data={"csrf_token": csrf_token_from(token_page)}, follow_redirects=True
        )
        assert "redan skickats" in second.get_data(as_text=True)
    reminder = db.session.query(InvoiceReminder).one()
    assert (reminder.fee_ore, reminder.new_due_on) == (5000, date(2027, 1, 7))
    assert db.session.query(OutboxMessage).filter_by(template="invoice_reminder").count() == 1
    audit = db.session.query(AuditEntry).filter_by(action="invoice.reminder").one()
    assert audit.actor.startswith("staff:")
    db.session.refresh(invoice)
    assert invoice.status == "reminded"
    with time_machine.travel(at(date(2026, 12, 28)), tick=False):
        pdf = client.get(f"/staff/fakturor/{invoice.id}/paminnelse.pdf")
        assert pdf.status_code == 200
        assert pdf.mimetype == "application/pdf"
        assert pdf.data == reminder.pdf


def test_collection_list_and_marking_t3_6(app: Flask, invoice: Invoice) -> None:
    """T3.6: reminder 12 January 2027; 22 January not yet; 23 January marked for collection."""
    invoicing.send_reminder(invoice, sent_by="staff:1", now=at(date(2027, 1, 12)))
    url = f"/staff/fakturor/{invoice.id}/inkasso"
    with time_machine.travel(at(date(2027, 1, 22)), tick=False):
        client = finance(app)
        assert "Inga fakturor för inkasso." in client.get(COLLECTION).get_data(as_text=True)
        post_form(client, url, {}, form_url=OVERDUE)
        db.session.refresh(invoice)
        assert invoice.status == "reminded"
    with time_machine.travel(at(date(2027, 1, 23)), tick=False):
        page = client.get(COLLECTION).get_data(as_text=True)
        assert "Markera för inkasso" in page
        response = post_form(client, url, {}, form_url=COLLECTION, follow_redirects=True)
        page = response.get_data(as_text=True)
        assert "markerad för inkasso" in page
        assert f'data-invoice="{invoice.number}"' in page
        assert "Markerad för inkasso" in page
    db.session.refresh(invoice)
    assert invoice.status == "collection"
    assert db.session.query(AuditEntry).filter_by(action="invoice.collection").count() == 1


def _pay(client: FlaskClient, ocr: str, amount: str, paid_on: str = "2026-12-01") -> str:
    response = post_form(
        client, PAYMENT, {"ocr": ocr, "amount": amount, "paid_on": paid_on}, follow_redirects=True
    )
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def test_register_payment_by_ocr_partial_then_full_t3_4(app: Flask, invoice: Invoice) -> None:
    total = invoice.total_ore
    assert total > 10050
    with time_machine.travel(at(date(2026, 12, 2)), tick=False):
        client = finance(app)
        page = _pay(client, invoice.ocr, "100,50")
        assert "Delbetalningen är registrerad" in page
        db.session.refresh(invoice)
        assert (invoice.status, invoice.paid_ore) == ("open", 10050)
        rest = total - 10050
        page = _pay(client, invoice.ocr, f"{rest // 100},{rest % 100:02d}")
        assert "är nu betald" in page
    db.session.refresh(invoice)
    assert (invoice.status, invoice.paid_ore) == ("paid", total)
    assert db.session.query(IncomingPayment).count() == 2


def test_register_payment_refuses_bad_ocr_overpayment_and_bad_amount_t3_4(
    app: Flask, invoice: Invoice
) -> None:
    wrong = invoice.ocr[:-1] + str((int(invoice.ocr[-1]) + 1) % 10)
    with time_machine.travel(at(date(2026, 12, 2)), tick=False):
        client = finance(app)
        page = _pay(client, wrong, "100")
        assert "OCR-numret är felaktigt" in page
        assert f'value="{wrong}"' in page
        page = _pay(client, invoice.ocr, f"{invoice.total_ore // 100 + 1}")
        assert "större än det som återstår" in page
        page = _pay(client, invoice.ocr, "tio kronor")
        assert "Ange beloppet i kronor" in page
        assert 'value="tio kronor"' in page
        page = _pay(client, invoice.ocr, "100", paid_on="2026-12-03")
        assert "framtiden" in page
    assert db.session.query(IncomingPayment).count() == 0


def test_access_finance_only_r_staff_roles(app: Flask, invoice: Invoice) -> None:
    urls = (OVERDUE, COLLECTION, PAYMENT, f"/staff/fakturor/{invoice.id}/paminnelse.pdf")
    posts = (
        f"/staff/fakturor/{invoice.id}/paminnelse",
        f"/staff/fakturor/{invoice.id}/inkasso",
        PAYMENT,
    )
    anonymous = new_client(app)
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 302
        assert "/konto/logga-in" in response.headers["Location"]
    plain = staff_client(app, "personal@example.se", Role.STAFF)
    make_customer(email="kund@example.se")
    customer = new_client(app)
    log_in(customer, "kund@example.se")
    for client in (plain, customer):
        for url in urls:
            assert client.get(url).status_code == 403
        for url in posts:
            assert client.post(url).status_code in (400, 403)
    db.session.refresh(invoice)
    assert invoice.status == "open"


def test_csrf_is_required(app: Flask, invoice: Invoice) -> None:
    with time_machine.travel(at(date(2026, 12, 28)), tick=False):
        client = finance(app)
        assert client.post(f"/staff/fakturor/{invoice.id}/paminnelse").status_code == 400
        response = client.post(
            PAYMENT, data={"ocr": invoice.ocr, "amount": "10", "paid_on": "2026-12-01"}
        )
        assert response.status_code == 400
    assert db.session.query(InvoiceReminder).count() == 0
    assert db.session.query(IncomingPayment).count() == 0
