"""Receipt page and PDFs, invoice PDF, downloads and "Visa kod" over HTTP
(T2.1, T3.4, T5.4, T8.1): owner yes, guest link yes, others 404."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from shop.models import BookkeepingRecord, DownloadGrant, Order, SoftwareCode
from shop.models.customer import Role
from shop.services import orders
from shop.services.customers import create_staff_member
from tests.conftest import new_client, post_form
from tests.factories import NOW, PASSWORD, make_customer, make_product
from tests.services.fulfilment_helpers import (
    code_product,
    confirmed_order,
    download_product,
    invoice_order,
    tmp_downloads,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.usefixtures("tmp_downloads")


def log_in(client: FlaskClient, email: str) -> None:
    response = post_form(client, "/konto/logga-in", {"email": email, "password": PASSWORD})
    assert response.status_code == 302


def staff_client(app: Flask, email: str, *roles: Role) -> FlaskClient:
    create_staff_member(
        email=email, name="Sam Personal", password=PASSWORD, roles=list(roles), now=NOW
    )
    client = new_client(app)
    log_in(client, email)
    return client


def customer_order(**kwargs: object) -> tuple[Order, str]:
    customer = make_customer(email="agare@example.se")
    order = confirmed_order(customer=customer, **kwargs)  # type: ignore[arg-type]
    return order, "agare@example.se"


def test_the_owner_sees_the_receipt_page_and_pdf_t2_1(app: Flask, client: FlaskClient) -> None:
    order, email = customer_order(lines=[(make_product(vat_rate_bp=600), 1)])
    log_in(client, email)
    page = client.get(f"/kvitto/{order.number}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Kvitto 1" in text
    assert order.number in text
    assert "Moms per momssats" in text
    assert "Godkänd för F-skatt" in text
    pdf = client.get(f"/kvitto/{order.number}/pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF-")


def test_the_first_download_renders_the_receipt_pdf_and_stores_it_t2_1(
    app: Flask, client: FlaskClient
) -> None:
    """Paying froze the receipt without a PDF; the first download renders it from the frozen
    content and stores it, later downloads get the very same bytes and checksum."""
    order, email = customer_order()
    record = db.session.query(BookkeepingRecord).filter_by(order_id=order.id).one()
    assert record.pdf is None
    log_in(client, email)
    first = client.get(f"/kvitto/{order.number}/pdf")
    assert first.status_code == 200
    assert first.data.startswith(b"%PDF-")
    db.session.expire_all()
    stored = db.session.get(BookkeepingRecord, record.id)
    assert stored is not None
    assert stored.pdf == first.data
    assert first.headers["X-Content-SHA256"] == hashlib.sha256(first.data).hexdigest()
    second = client.get(f"/kvitto/{order.number}/pdf")
    assert second.data == first.data
    assert second.headers["X-Content-SHA256"] == stored.pdf_sha256


def test_another_customer_and_anonymous_get_404(app: Flask, client: FlaskClient) -> None:
    order, _email = customer_order()
    assert client.get(f"/kvitto/{order.number}").status_code == 404
    make_customer(email="annan@example.se")
    log_in(client, "annan@example.se")
    for url in (f"/kvitto/{order.number}", f"/kvitto/{order.number}/pdf", "/kvitto/999999"):
        assert client.get(url).status_code == 404, url


def test_a_guest_link_opens_the_receipt_and_a_tampered_one_does_not(
    app: Flask, client: FlaskClient
) -> None:
    order = confirmed_order()
    token = orders.guest_order_token(order)
    assert client.get(f"/kvitto/{order.number}?t={token}").status_code == 200
    assert client.get(f"/kvitto/{order.number}/pdf?t={token}").status_code == 200
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/kvitto/{order.number}?t={tampered}").status_code == 404
    other = confirmed_order()
    assert client.get(f"/kvitto/{other.number}?t={token}").status_code == 404


def test_finance_sees_documents_and_staff_without_finance_get_404(app: Flask) -> None:
    order = invoice_order()
    finance = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    response = finance.get(f"/faktura/{order.number}/pdf")
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF-")
    assert b"Faktura" in finance.get(f"/kvitto/{order.number}").data
    plain = staff_client(app, "personal@example.se", Role.STAFF)
    assert plain.get(f"/faktura/{order.number}/pdf").status_code == 404
    assert plain.get(f"/kvitto/{order.number}").status_code == 404


def test_invoice_page_shows_due_date_ocr_and_bankgiro_t3_4(app: Flask, client: FlaskClient) -> None:
    order = invoice_order()
    token = orders.guest_order_token(order)
    text = client.get(f"/kvitto/{order.number}?t={token}").get_data(as_text=True)
    assert "Faktura 1" in text
    assert "2026-12-23" in text
    assert "123-4567" in text
    assert client.get(f"/kvitto/{order.number}/pdf?t={token}").status_code == 404  # no receipt


def _download_link(order: Order) -> str:
    from shop.models import OutboxMessage

    body = db.session.query(OutboxMessage).filter_by(to_address=order.email).one().body_text
    (link,) = [word for word in body.split() if "/nedladdning/" in word]
    return link.replace("http://localhost", "")


def test_download_link_serves_the_stamped_file_and_records_the_start_t8_1(
    app: Flask, client: FlaskClient
) -> None:
    order = confirmed_order(lines=[(download_product(), 1)])
    url = _download_link(order)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert b"/Author <FEFF" in response.data
    grant = db.session.query(DownloadGrant).one()
    assert grant.first_download_at == NOW + timedelta(hours=1)
    assert grant.downloads_used == 1


def test_download_limit_and_expiry_are_refused_in_swedish_t8_1(
    app: Flask, client: FlaskClient
) -> None:
    order = confirmed_order(lines=[(download_product(), 1)])
    url = _download_link(order)
    with time_machine.travel(NOW + timedelta(days=8), tick=False):
        expired = client.get(url)
    assert expired.status_code == 410
    assert "Länken har gått ut" in expired.get_data(as_text=True)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        for _ in range(5):
            assert client.get(url).status_code == 200
        used_up = client.get(url)
    assert used_up.status_code == 410
    assert "redan laddat ner filen 5 gånger" in used_up.get_data(as_text=True)
    assert client.get("/nedladdning/ogiltig-token").status_code == 404


def test_order_page_download_is_for_the_buyer_only_t8_1(app: Flask, client: FlaskClient) -> None:
    order, email = customer_order(lines=[(download_product(), 1)])
    line_id = order.lines[0].id
    assert client.get(f"/nedladdning/rad/{line_id}").status_code == 404
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        log_in(client, email)
        page = client.get(f"/kvitto/{order.number}").get_data(as_text=True)
        assert "5 av 5 nedladdningar kvar" in page
        assert client.get(f"/nedladdning/rad/{line_id}").status_code == 200
        assert "4 av 5 nedladdningar kvar" in client.get(f"/kvitto/{order.number}").get_data(
            as_text=True
        )


def test_visa_kod_reveals_once_for_the_buyer_with_csrf_t5_4(
    app: Flask, client: FlaskClient
) -> None:
    order = confirmed_order(lines=[(code_product("VISA-1"), 1)])
    token = orders.guest_order_token(order)
    page_url = f"/kvitto/{order.number}?t={token}"
    page = client.get(page_url).get_data(as_text=True)
    assert "Visa kod" in page
    assert "VISA-1" not in page
    line_id = order.lines[0].id
    assert client.post(f"/kod/{line_id}/visa", data={"t": token}).status_code == 400  # no CSRF
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        response = post_form(
            client, f"/kod/{line_id}/visa", {"t": token, "next": page_url}, form_url=page_url
        )
    assert response.status_code == 302
    assert response.headers["Location"] == page_url
    assert "VISA-1" in client.get(page_url).get_data(as_text=True)
    assert db.session.query(SoftwareCode).one().revealed_at == NOW + timedelta(minutes=3)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        post_form(
            client,
            f"/kod/{line_id}/visa",
            {"t": token},
            form_url=f"/kvitto/{order.number}?t={token}",
        )
    assert db.session.query(SoftwareCode).one().revealed_at == NOW + timedelta(minutes=3)


def test_visa_kod_with_a_tampered_token_is_404_and_reveals_nothing(
    app: Flask, client: FlaskClient
) -> None:
    order = confirmed_order(lines=[(code_product("HEMLIG-1"), 1)])
    token = orders.guest_order_token(order)
    other = confirmed_order()
    other_token = orders.guest_order_token(other)
    response = post_form(
        client,
        f"/kod/{order.lines[0].id}/visa",
        {"t": other_token},
        form_url=f"/kvitto/{order.number}?t={token}",
    )
    assert response.status_code == 404
    assert db.session.query(SoftwareCode).one().revealed_at is None


def test_a_withdrawn_download_and_code_are_not_offered_on_the_order_page_t5_4(
    app: Flask, client: FlaskClient
) -> None:
    """The page says they are withdrawn instead of offering "Ladda ner" and "Visa kod" (the
    download and the reveal themselves are refused by the service)."""
    from shop.services import withdrawals

    book = make_product(title="Notställ", price_ore=30000, stock=5)
    order = confirmed_order(
        lines=[(book, 1), (download_product(), 1), (code_product("ANGRAD-1"), 1)]
    )
    page_url = f"/kvitto/{order.number}?t={orders.guest_order_token(order)}"
    before = client.get(page_url).get_data(as_text=True)
    assert ">Ladda ner</a>" in before
    assert "Visa kod" in before
    _book_line, download_line, code_line = order.lines
    withdrawals.submit_withdrawal(
        order,
        name="Kim Kund",
        email=order.email,
        quantities={download_line.id: 1, code_line.id: 1},
        submission_key="digital-withdrawn",
        channel="function",
        received_at=NOW + timedelta(hours=1),
        actor="customer:test",
        now=NOW + timedelta(hours=1),
    )
    db.session.commit()
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        after = client.get(page_url).get_data(as_text=True)
    assert ">Ladda ner</a>" not in after
    assert "Visa kod" not in after
    assert "Du har ångrat köpet av filen, så den kan inte laddas ner." in after
    assert "Du har ångrat köpet av koden, så den kan inte visas." in after
