"""Staff invoice list and "Markera som betald" (finance role, T3.4)."""

from __future__ import annotations

import pytest
from flask import Flask

from shop.extensions import db
from shop.models import AuditEntry, Invoice
from shop.models.customer import Role
from tests.conftest import post_form
from tests.factories import make_customer
from tests.services.fulfilment_helpers import invoice_order, tmp_downloads  # noqa: F401
from tests.web.test_documents import log_in, staff_client

pytestmark = pytest.mark.usefixtures("tmp_downloads")


def test_finance_sees_open_invoices_and_marks_one_paid_t3_4(app: Flask) -> None:
    order = invoice_order()
    client = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    page = client.get("/staff/fakturor").get_data(as_text=True)
    assert "Fakturor" in page
    assert order.number in page
    assert "Markera som betald" in page
    invoice = db.session.query(Invoice).one()
    response = post_form(
        client, f"/staff/fakturor/{invoice.id}/betald", {}, form_url="/staff/fakturor"
    )
    assert response.status_code == 302
    db.session.refresh(invoice)
    assert invoice.status == "paid"
    assert invoice.paid_ore == invoice.total_ore
    audit = db.session.query(AuditEntry).filter_by(action="invoice.payment").one()
    assert audit.actor.startswith("staff:")
    page = client.get("/staff/fakturor", follow_redirects=True).get_data(as_text=True)
    assert "Inga fakturor att visa." in page
    assert order.number in client.get("/staff/fakturor?visa=alla").get_data(as_text=True)


def test_marking_paid_twice_says_so(app: Flask) -> None:
    invoice_order()
    client = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    invoice = db.session.query(Invoice).one()
    url = f"/staff/fakturor/{invoice.id}/betald"
    post_form(client, url, {}, form_url="/staff/fakturor?visa=alla")
    response = post_form(
        client, url, {}, form_url="/staff/fakturor?visa=alla", follow_redirects=True
    )
    assert "redan betald" in response.get_data(as_text=True)


def test_staff_without_finance_and_customers_are_refused(app: Flask) -> None:
    invoice_order()
    invoice = db.session.query(Invoice).one()
    plain = staff_client(app, "personal@example.se", Role.STAFF)
    assert plain.get("/staff/fakturor").status_code == 403
    assert plain.post(f"/staff/fakturor/{invoice.id}/betald").status_code in (400, 403)
    make_customer(email="kund@example.se")
    from tests.conftest import new_client

    customer = new_client(app)
    log_in(customer, "kund@example.se")
    assert customer.get("/staff/fakturor").status_code == 403
    db.session.refresh(invoice)
    assert invoice.status == "open"
