"""confirm_order: exactly once, digital delivery, documents and the confirmation mail
(T2.1, T3.4, T5, T8.1)."""

from __future__ import annotations

import socket
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask

from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import (
    AuditEntry,
    BookkeepingRecord,
    DownloadGrant,
    OutboxMessage,
    SoftwareCode,
)
from shop.services import fulfilment, mail, pdf
from tests.factories import NOW, make_customer, make_order, make_product
from tests.services.fulfilment_helpers import (
    code_product,
    download_product,
    tmp_downloads,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.usefixtures("tmp_downloads")


def test_confirm_order_twice_gives_one_receipt_one_mail_one_grant(app: Flask) -> None:
    """Idempotent: a second event, a replay or a refresh confirms nothing again (T8.1)."""
    order = make_order(lines=[(download_product(), 1), (make_product(), 1)])
    fulfilment.confirm_order(order, now=NOW)
    db.session.commit()
    fulfilment.confirm_order(order, now=NOW)
    db.session.commit()
    assert order.status == OrderStatus.CONFIRMED.value
    assert order.confirmed_at == NOW
    assert db.session.query(BookkeepingRecord).filter_by(kind="receipt").count() == 1
    assert db.session.query(OutboxMessage).filter_by(template="order_confirmation").count() == 1
    assert db.session.query(DownloadGrant).count() == 1
    audit = db.session.query(AuditEntry).filter_by(action="order.status").all()
    assert [entry.details for entry in audit] == [{"from": "pending_payment", "to": "confirmed"}]


def test_a_cancelled_order_is_not_confirmed(app: Flask) -> None:
    order = make_order(status=OrderStatus.CANCELLED)
    fulfilment.confirm_order(order, now=NOW)
    db.session.commit()
    assert order.status == "cancelled"
    assert db.session.query(OutboxMessage).count() == 0


def test_codes_are_assigned_not_revealed_for_consumers_t5_4(app: Flask) -> None:
    product = code_product("CODE-1", "CODE-2", "CODE-3")
    order = make_order(lines=[(product, 2)])
    fulfilment.confirm_order(order, now=NOW)
    db.session.commit()
    assigned = db.session.query(SoftwareCode).filter(SoftwareCode.order_line_id.isnot(None)).all()
    assert sorted(code.code for code in assigned) == ["CODE-1", "CODE-2"]
    assert all(code.assigned_at == NOW and code.revealed_at is None for code in assigned)
    message = db.session.query(OutboxMessage).one()
    assert "CODE-1" not in message.body_text
    assert "Visa kod" in message.body_text


def test_organisations_get_their_codes_in_the_mail_t5_1(app: Flask) -> None:
    product = code_product("ORG-CODE-1")
    customer = make_customer(kind="organisation")
    order = make_order(customer=customer, lines=[(product, 1)])
    fulfilment.confirm_order(order, now=NOW)
    db.session.commit()
    message = db.session.query(OutboxMessage).one()
    assert "ORG-CODE-1" in message.body_text
    assert db.session.query(SoftwareCode).one().revealed_at == NOW
    assert "Organisationer har ingen ångerrätt" in message.body_text


def test_consumer_mail_has_receipt_vat_terms_withdrawal_and_model_form_t5(app: Flask) -> None:
    order = make_order(lines=[(make_product(vat_rate_bp=600), 1), (download_product(), 1)])
    fulfilment.confirm_order(order, now=NOW)
    db.session.commit()
    message = db.session.query(OutboxMessage).one()
    text, html = message.body_text, message.body_html or ""
    for body in (text, html):
        assert "Ordernummer" in body
        assert order.number in body
        assert "Moms per momssats" in body
        assert "Köpvillkor" in body
        assert "2026-11-01" in body
        assert "14 dagars ångerrätt" in body
        assert "sista dag att ångra är 7 december 2026" in body  # T5.2: 23 Nov + 14 days
        assert "förlängs fristen till nästa vardag" in body  # T5.3
        assert "Standardformulär för utövande av ångerrätt" in body
        assert "frånträder mitt/vårt (*) avtal" in body
        assert "/nedladdning/" in body
    names = [attachment.filename for attachment in message.attachments]
    assert names == ["kvitto-1.pdf", "standardformular-angerratt.pdf"]
    mail.sent_messages.clear()
    assert mail.send_pending(now=NOW, backend=mail.MemoryBackend()).sent == 1
    (email,) = mail.sent_messages
    mail.sent_messages.clear()
    sent = {
        part.get_filename(): part.get_payload(decode=True)
        for part in email.walk()
        if part.get_content_type() == "application/pdf"
    }
    assert list(sent) == names
    assert all(data.startswith(b"%PDF-") for data in sent.values())
    receipt = db.session.query(BookkeepingRecord).filter_by(kind="receipt").one()
    assert sent["kvitto-1.pdf"] == receipt.pdf


def test_the_receipt_pdf_is_rendered_by_the_worker_not_when_paying_t2_1(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payment's transaction freezes the receipt and queues the mail without rendering the
    PDF; the worker renders it once when sending, and the stored PDF is the one attached."""
    rendered: list[object] = []
    real_render = pdf.render_receipt
    monkeypatch.setattr(
        pdf, "render_receipt", lambda content, **kw: rendered.append(1) or real_render(content)
    )
    order = make_order(lines=[(make_product(), 1)])
    fulfilment.confirm_order(order, now=NOW)
    db.session.commit()
    assert rendered == []
    receipt = db.session.query(BookkeepingRecord).filter_by(kind="receipt").one()
    assert receipt.content["order_number"] == order.number
    assert receipt.pdf is None
    attachment = db.session.query(OutboxMessage).one().attachments[0]
    assert (attachment.data, attachment.record_id) == (None, receipt.id)

    mail.sent_messages.clear()
    assert mail.send_pending(now=NOW, backend=mail.MemoryBackend()).sent == 1
    assert mail.send_pending(now=NOW, backend=mail.MemoryBackend()).sent == 0
    (email,) = mail.sent_messages
    mail.sent_messages.clear()
    assert rendered == [1]
    db.session.expire_all()
    stored = db.session.get(BookkeepingRecord, receipt.id)
    assert stored is not None
    assert stored.pdf is not None
    (part,) = [p for p in email.walk() if p.get_filename() == "kvitto-1.pdf"]
    assert part.get_payload(decode=True) == stored.pdf


def test_an_attachment_has_data_or_a_record_never_both_nor_neither() -> None:
    with pytest.raises(ValueError, match="either data or a bookkeeping record"):
        mail.Attachment("a.pdf", "application/pdf")
    with pytest.raises(ValueError, match="either data or a bookkeeping record"):
        mail.Attachment("a.pdf", "application/pdf", b"%PDF-", record_id=1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_invoice_order_mail_over_real_smtp_has_text_html_and_invoice_pdf_t3_4(app: Flask) -> None:
    """Through a real local SMTP server (aiosmtpd): text, HTML and the PDF invoice attached."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[EmailMessage] = []

    class Collect(Message):  # type: ignore[misc]
        def handle_message(self, message: Any) -> None:
            received.append(message)

    customer = make_customer(kind="organisation", email="skola@example.se")
    order = make_order(customer=customer, payment_method="invoice")
    fulfilment.confirm_order(order, now=NOW)
    db.session.commit()

    port = _free_port()
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        backend = mail.SmtpBackend(
            {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_STARTTLS": False}
        )
        assert mail.send_pending(now=NOW, backend=backend).sent == 1
    finally:
        controller.stop()
    (message,) = received
    assert message["To"] == "skola@example.se"
    parts = {part.get_content_type(): part for part in message.walk()}
    plain = parts["text/plain"].get_payload(decode=True).decode("utf-8")
    html = parts["text/html"].get_payload(decode=True).decode("utf-8")
    assert "FAKTURA 1" in plain
    assert "OCR-nummer" in plain
    assert "bankgiro 123-4567" in plain
    assert "Faktura 1" in html
    attachment = parts["application/pdf"]
    assert attachment.get_filename() == "faktura-1.pdf"
    data = attachment.get_payload(decode=True)
    assert data.startswith(b"%PDF-")
    assert data == db.session.query(BookkeepingRecord).filter_by(kind="invoice").one().pdf


def test_memory_and_file_backends_send_attachments_too(app: Flask, tmp_path: Any) -> None:
    mail.queue_mail(
        to="a@example.se",
        subject="Bilaga",
        template="test",
        text="Hej",
        attachments=[mail.Attachment("a.pdf", "application/pdf", b"%PDF-1.4 x")],
        now=NOW,
    )
    db.session.commit()
    mail.sent_messages.clear()
    assert mail.send_pending(now=NOW, backend=mail.MemoryBackend()).sent == 1
    (email,) = mail.sent_messages
    mail.sent_messages.clear()
    (pdf_part,) = [p for p in email.walk() if p.get_content_type() == "application/pdf"]
    assert pdf_part.get_filename() == "a.pdf"
    message = db.session.query(OutboxMessage).one()
    mail.FileBackend(str(tmp_path)).send(email, message)
    (eml,) = list(tmp_path.glob("*.eml"))
    assert b'filename="a.pdf"' in eml.read_bytes()
