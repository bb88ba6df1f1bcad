"""A complaint's refund on the web (T6, paid as T5.8): the staff page shows its status, the
error and "Försök igen"; the buyer's order page lists it with the credit note, which nobody
else can open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from shop.models import Complaint, Customer, Refund
from shop.models.customer import Role
from shop.services import complaints
from tests.conftest import csrf_token_from, new_client, post_form
from tests.factories import make_customer
from tests.services.test_complaint_refunds import invoice_complaint
from tests.services.test_returns import LATER, failing_then, paid_order, two_books
from tests.web.test_documents import log_in, staff_client


@pytest.fixture(autouse=True)
def frozen() -> Iterator[object]:
    with time_machine.travel(LATER, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def uploads(app: Flask, tmp_path: Path) -> None:
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")


def owned_complaint() -> Complaint:
    """An open complaint about the owner's sandbox-paid music stands (2 × 300 kr)."""
    _, stand = two_books()
    order = paid_order(lines=[(stand, 2)], customer=make_customer(email="agare@example.se"))
    return complaints.report(
        order.lines[0],
        description="Benet har spruckit.",
        discovered_on=None,
        photos=[],
        actor="customer:K-TEST",
        now=LATER,
    )


def decide(staff: FlaskClient, complaint: Complaint, amount: str = "149,50") -> object:
    url = f"/staff/reklamationer/{complaint.id}"
    return post_form(
        staff,
        f"{url}/beslut",
        {"outcome": "refund", "reason": "Vi betalar tillbaka ett ben.", "refund": amount},
        form_url=url,
    )


def owner(app: Flask) -> FlaskClient:
    client = new_client(app)
    log_in(client, "agare@example.se")
    return client


def test_a_refund_decision_pays_and_the_owner_gets_the_credit_note_t6(app: Flask) -> None:
    complaint = owned_complaint()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    assert decide(staff, complaint).status_code == 302  # type: ignore[attr-defined]
    assert decide(staff, complaint).status_code == 400  # type: ignore[attr-defined]
    assert db.session.query(Refund).count() == 1
    page = staff.get(f"/staff/reklamationer/{complaint.id}").get_data(as_text=True)
    assert "Genomförd" in page
    assert "Försök igen" not in page
    order = complaint.order
    client = owner(app)
    text = client.get(f"/konto/ordrar/{order.number}").get_data(as_text=True)
    assert "149,50" in text
    assert "återbetalades den 1 december 2026" in text
    url = f"/kreditfaktura/{order.number}/1/pdf"
    assert url in text
    response = client.get(url)
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF-")
    make_customer(email="annan@example.se")
    other = new_client(app)
    log_in(other, "annan@example.se")
    assert other.get(url).status_code == 404
    assert new_client(app).get(url).status_code == 404


def test_a_failed_refund_shows_the_error_and_retries_on_the_staff_page_t6(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = failing_then(monkeypatch, 1)
    complaint = owned_complaint()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    response = decide(staff, complaint)
    assert response.status_code == 302  # type: ignore[attr-defined]
    url = f"/staff/reklamationer/{complaint.id}"
    page = staff.get(url).get_data(as_text=True)
    assert "Misslyckades" in page
    assert "503 from the provider" in page
    assert "Försök igen" in page
    assert f"{url}/forsok-igen" in page
    response = post_form(staff, f"{url}/forsok-igen", {}, form_url=url)
    assert response.status_code == 302
    page = staff.get(url).get_data(as_text=True)
    assert "Genomförd" in page
    assert "503 from the provider" not in page
    assert keys == [f"refund-complaint-{complaint.id}"] * 2


def test_the_retry_needs_the_staff_role_and_a_csrf_token(app: Flask) -> None:
    complaint = owned_complaint()
    url = f"/staff/reklamationer/{complaint.id}/forsok-igen"
    teacher = staff_client(app, "larare@example.se", Role.TEACHER)
    for other in (teacher, owner(app)):
        token = csrf_token_from(other.get("/").get_data(as_text=True))
        assert other.post(url, data={"csrf_token": token}).status_code == 403
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    assert staff.post(url, data={}).status_code == 400
    token = csrf_token_from(
        staff.get(f"/staff/reklamationer/{complaint.id}").get_data(as_text=True)
    )
    assert staff.post(url, data={"csrf_token": token}).status_code == 404  # no refund yet
    unknown = "/staff/reklamationer/999999/forsok-igen"
    assert staff.post(unknown, data={"csrf_token": token}).status_code == 404


def test_an_unpaid_invoice_credit_shows_as_credited_on_both_pages_t6(app: Flask) -> None:
    order, _, complaint = invoice_complaint()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    assert decide(staff, complaint, "10,00").status_code == 302  # type: ignore[attr-defined]
    page = staff.get(f"/staff/reklamationer/{complaint.id}").get_data(as_text=True)
    assert "Krediterad på fakturan" in page
    assert "Försök igen" not in page
    customer = db.session.get(Customer, order.customer_id)
    assert customer is not None
    client = new_client(app)
    log_in(client, customer.email)
    text = client.get(f"/konto/ordrar/{order.number}").get_data(as_text=True)
    assert "10,00" in text
    assert "krediterades på fakturan den 1 december 2026" in text
    assert f"/kreditfaktura/{order.number}/1/pdf" in text
    assert client.get(f"/kreditfaktura/{order.number}/1/pdf").status_code == 200
