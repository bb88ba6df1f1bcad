"""Refunds without a parcel at the returns desk, and credit notes on the order page (T5.8)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine
from flask import Flask

from shop.domain.lifecycle import ReturnStatus
from shop.extensions import db
from shop.models import Order, Refund
from shop.models.aftersale import Withdrawal
from shop.models.customer import Role
from shop.services import orders, returns
from tests.conftest import new_client, post_form
from tests.factories import make_customer
from tests.services.test_refund_without_return import download, paid_digital_order, withdraw
from tests.services.test_returns import LATER, STAFF
from tests.web.test_documents import log_in, staff_client


@pytest.fixture(autouse=True)
def frozen() -> Iterator[object]:
    with time_machine.travel(LATER, tick=False) as traveller:
        yield traveller


def owned_download_order() -> tuple[Order, Withdrawal]:
    customer = make_customer(email="agare@example.se")
    order = paid_digital_order([(download(), 1)], customer=customer)
    return order, withdraw(order, {order.lines[0].id: 1}, key="dl")


def refunded_order() -> Order:
    order, withdrawal = owned_download_order()
    refund, _ = returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert refund is not None
    assert refund.status == "done"
    return order


def test_staff_approve_a_download_refund_without_a_parcel_t5_8(app: Flask) -> None:
    order, withdrawal = owned_download_order()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    listing = staff.get("/staff/returer").get_data(as_text=True)
    assert "Ingen retur: kan godkännas" in listing
    assert "99,00" in listing
    url = f"/staff/returer/{withdrawal.id}"
    page = staff.get(url).get_data(as_text=True)
    assert "Skickas inte tillbaka" in page
    assert "utan returpaket" in page
    assert "10 december 2026" in page  # 14 days after the withdrawal (T5.8)
    assert "Registrera returpaket" not in page
    assert "Godkänn återbetalning" in page
    response = post_form(staff, f"{url}/godkann", {}, form_url=url)
    assert response.status_code == 302
    response = post_form(staff, f"{url}/godkann", {}, form_url=url)  # a double click
    assert response.status_code == 302
    assert db.session.query(Refund).count() == 1
    db.session.expire_all()
    found = db.session.get(Withdrawal, withdrawal.id)
    assert found is not None
    assert found.status == ReturnStatus.REFUNDED.value
    page = staff.get(url).get_data(as_text=True)
    assert "Genomförd" in page
    assert "Godkänn återbetalning" not in page
    refund = db.session.query(Refund).one()
    record_url = f"/staff/ekonomi/bokforing/{refund.credit_note_id}"
    assert record_url not in page  # staff without the finance role see the number only
    finance = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    assert record_url in finance.get(url).get_data(as_text=True)
    assert finance.get(record_url).status_code == 200
    response = post_form(
        staff, f"{url}/mottag", {"received_on": "2026-11-30", "outcome": "accepted"}, form_url=url
    )
    assert response.status_code == 400


def test_the_owner_sees_the_refund_and_downloads_the_credit_note(app: Flask) -> None:
    order = refunded_order()
    owner = new_client(app)
    log_in(owner, "agare@example.se")
    page = owner.get(f"/konto/ordrar/{order.number}").get_data(as_text=True)
    assert "Återbetalningar" in page
    assert "99,00" in page
    assert "återbetalades den 1 december 2026" in page
    url = f"/kreditfaktura/{order.number}/1/pdf"
    assert url in page
    response = owner.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert response.headers["Cache-Control"] == "private, no-store"
    assert owner.get(f"/kreditfaktura/{order.number}/2/pdf").status_code == 404


def test_a_guest_link_opens_the_credit_note(app: Flask) -> None:
    order = refunded_order()
    token = orders.guest_order_token(order)
    guest = new_client(app)
    page = guest.get(f"/order/{token}").get_data(as_text=True)
    assert f"/kreditfaktura/{order.number}/1/pdf?t=" in page
    assert guest.get(f"/kreditfaktura/{order.number}/1/pdf?t={token}").status_code == 200


def test_other_customers_anonymous_and_staff_without_finance_get_404(app: Flask) -> None:
    order = refunded_order()
    url = f"/kreditfaktura/{order.number}/1/pdf"
    assert new_client(app).get(url).status_code == 404
    make_customer(email="annan@example.se")
    other = new_client(app)
    log_in(other, "annan@example.se")
    assert other.get(url).status_code == 404
    plain = staff_client(app, "personal@example.se", Role.STAFF)
    assert plain.get(url).status_code == 404
    finance = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    assert finance.get(url).status_code == 200
