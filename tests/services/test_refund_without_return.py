"""Refunds for withdrawals with nothing to send back: downloads and codes (T5.4, T5.8)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from shop.domain.lifecycle import OrderStatus, PaymentStatus, ReturnStatus
from shop.extensions import db
from shop.models import (
    AuditEntry,
    BookkeepingRecord,
    Order,
    OutboxMessage,
    Payment,
    Product,
    Refund,
)
from shop.models.aftersale import Withdrawal
from shop.payments.base import RefundRequest, RefundResult
from shop.payments.sandbox import SandboxOutcome
from shop.services import downloads, payments, pdf, returns, withdrawals
from tests.factories import NOW, make_order, make_product
from tests.services.test_returns import (
    BACK_ON,
    LATER,
    STAFF,
    STATED_AT,
    UNUSED,
    count,
    paid_order,
    sandbox,
    status,
)

DEADLINE = date(2026, 12, 10)  # 14 days after the withdrawal on 26 November (T5.8)


@pytest.fixture
def provider_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every key the sandbox was asked to refund with."""
    provider = sandbox()
    original = provider.refund
    keys: list[str] = []

    def recording(request: RefundRequest) -> RefundResult:
        keys.append(request.idempotency_key)
        return original(request)

    monkeypatch.setattr(provider, "refund", recording)
    return keys


def download(**kwargs: Any) -> Product:
    return make_product(title="Etyder (PDF)", kind="download", price_ore=9900, **kwargs)


def paid_digital_order(lines: list[tuple[Product, int]], **kwargs: Any) -> Order:
    """A consumer's order of downloads and codes only, paid in the sandbox (nothing ships)."""
    order = make_order(lines=lines, **kwargs)
    start = payments.start_payment(order, now=NOW, return_url="http://x/", cancel_url="http://x/")
    payments.complete_sandbox_payment(start.provider_reference, SandboxOutcome.PAY, now=NOW)
    db.session.expire_all()
    fresh = db.session.get(Order, order.id)
    assert fresh is not None
    assert fresh.status == OrderStatus.CONFIRMED.value
    return fresh


def withdraw(order: Order, quantities: dict[int, int], *, key: str, at: Any = STATED_AT) -> Any:
    withdrawal, _ = withdrawals.submit_withdrawal(
        order,
        name="Kim Kund",
        email="kim@example.se",
        quantities=quantities,
        submission_key=key,
        channel="function",
        received_at=at,
        actor="customer:test",
        now=at,
    )
    return withdrawal


def test_download_withdrawal_is_refunded_without_a_parcel_t5_8(
    app: Flask, provider_calls: list[str]
) -> None:
    order = paid_digital_order([(download(), 1)])
    line = order.lines[0]
    withdrawal = withdraw(order, {line.id: 1}, key="dl")
    view = returns.desk(withdrawal, date(2026, 11, 27))
    assert view.without_return
    assert not view.can_receive
    assert view.can_approve
    assert view.deadline == DEADLINE
    assert view.total_credit_ore == line.total_ore == 9900
    refund, created = returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert created
    assert refund is not None
    db.session.expire_all()
    refund = db.session.get(Refund, refund.id)
    assert refund is not None
    assert refund.status == "done"
    assert refund.amount_ore == 9900
    assert refund.due_on == DEADLINE
    assert refund.idempotency_key == f"refund-withdrawal-{withdrawal.id}"
    assert provider_calls == [refund.idempotency_key]
    assert status(withdrawal) == ReturnStatus.REFUNDED.value
    payment = db.session.get(Payment, refund.payment_id)
    assert payment is not None
    assert payment.status == PaymentStatus.REFUNDED.value
    note = db.session.get(BookkeepingRecord, refund.credit_note_id)
    assert note is not None
    assert note.kind == "credit_note"
    assert note.content["total_ore"] == -9900
    assert note.content["lines"][0]["condition"] is None
    approved = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "refund.approved")
    ).one()
    assert approved.details["without_return"] is True
    assert approved.rule_id == "T5.8"
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "refund")
    ).one()
    assert message.to_address == "kim@example.se"


def test_approving_twice_refunds_once_t5_8(app: Flask, provider_calls: list[str]) -> None:
    order = paid_digital_order([(download(), 1)])
    withdrawal = withdraw(order, {order.lines[0].id: 1}, key="dl")
    first, created = returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    again, created_again = returns.approve(withdrawal, staff_id=STAFF + 1, now=LATER)
    assert created
    assert not created_again
    assert first is not None
    assert again is not None
    assert again.id == first.id
    assert count(Refund) == 1
    assert count(BookkeepingRecord, BookkeepingRecord.kind == "credit_note") == 1
    assert len(provider_calls) == 1


def test_no_parcel_can_be_registered_when_nothing_is_sent_back_t5_8(app: Flask) -> None:
    order = paid_digital_order([(download(), 1)])
    withdrawal = withdraw(order, {order.lines[0].id: 1}, key="dl")
    with pytest.raises(returns.ReturnsError, match="inget paket"):
        returns.register_parcel(
            withdrawal, received_on=BACK_ON, refused_reason=None, staff_id=STAFF, now=LATER
        )
    assert status(withdrawal) == ReturnStatus.STATED.value


def test_goods_withdrawn_with_a_download_still_wait_for_the_parcel_t5_5(app: Flask) -> None:
    book = make_product(title="Notställ", price_ore=30000, vat_rate_bp=2500, stock=5)
    order = paid_order(lines=[(book, 1), (download(), 1)])
    withdrawal = withdraw(order, {line.id: 1 for line in order.lines}, key="both")
    view = returns.desk(withdrawal, date(2026, 11, 27))
    assert not view.without_return
    assert view.can_receive
    assert not view.can_approve
    assert view.due_on is None  # may wait for the goods (T5.8)
    with pytest.raises(returns.ReturnsError, match="inspekteras"):
        returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert count(Refund) == 0


def test_last_withdrawal_of_a_download_refunds_the_delivery_fee_too_t5_6_t5_8(
    app: Flask,
) -> None:
    book = make_product(title="Notställ", price_ore=30000, vat_rate_bp=2500, stock=5)
    order = paid_order(lines=[(book, 1), (download(), 1)])
    book_line, download_line = order.lines
    first = withdraw(order, {book_line.id: 1}, key="book")
    returns.register_parcel(
        first, received_on=BACK_ON, refused_reason=None, staff_id=STAFF, now=LATER
    )
    returns.inspect(first, {book_line.id: UNUSED}, staff_id=STAFF, now=LATER)
    book_refund, _ = returns.approve(first, staff_id=STAFF, now=LATER)
    assert book_refund is not None
    assert book_refund.amount_ore == 30000  # a partial withdrawal: no delivery fee (T5.6)
    second = withdraw(order, {download_line.id: 1}, key="download", at=LATER)
    view = returns.desk(second, date(2026, 12, 1))
    assert view.without_return
    assert view.whole_order
    assert view.deadline == date(2026, 12, 15)  # 14 days after 1 December
    delivery = sum(fee.amount_ore for fee in order.fees if fee.kind == "delivery")
    assert delivery > 0
    refund, created = returns.approve(second, staff_id=STAFF, now=LATER)
    assert created
    assert refund is not None
    assert refund.amount_ore == 9900 + delivery
    note = db.session.get(BookkeepingRecord, refund.credit_note_id)
    assert note is not None
    assert [fee["amount_ore"] for fee in note.content["fees"]] == [-delivery]
    assert status(second) == ReturnStatus.REFUNDED.value
    assert db.session.get(Withdrawal, first.id) is not None


# --- The credit note's PDF (T5.5–T5.8) ---------------------------------------------------------


def test_the_credit_note_pdf_is_stored_and_mailed_with_the_refund(app: Flask) -> None:
    order = paid_digital_order([(download(), 1)])
    withdrawal = withdraw(order, {order.lines[0].id: 1}, key="dl")
    refund, _ = returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert refund is not None
    note = db.session.get(BookkeepingRecord, refund.credit_note_id)
    assert note is not None
    assert note.pdf is not None
    assert note.pdf.startswith(b"%PDF-")
    assert note.pdf_sha256 == hashlib.sha256(note.pdf).hexdigest()
    assert returns.credit_note_pdf(note) == note.pdf
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "refund")
    ).one()
    assert [(a.filename, a.content_type) for a in message.attachments] == [
        ("kreditfaktura-1.pdf", "application/pdf")
    ]
    assert message.attachments[0].data == note.pdf
    assert "Kreditfakturan nr 1 finns bifogad." in message.body_text


def test_the_credit_note_pdf_shows_what_is_credited(app: Flask) -> None:
    order = paid_digital_order([(download(), 1)])
    withdrawal = withdraw(order, {order.lines[0].id: 1}, key="dl")
    refund, _ = returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert refund is not None
    note = db.session.get(BookkeepingRecord, refund.credit_note_id)
    assert note is not None
    text = pdf.render_credit_note(note.content, compress=False).decode("latin-1")
    for words in (
        "Kreditfaktura",
        "Kreditfakturanummer: 1",
        f"Ordernummer: {order.number}",
        "Krediterar: Kvitto 1",
        "Etyder",
        "Krediteras",
        "Beloppet 99,00",
    ):
        assert words in text, words


@pytest.mark.postgres
def test_two_staff_approving_a_download_refund_at_once_make_one_refund_t5_8(
    app: Flask, provider_calls: list[str]
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are tested on PostgreSQL")
    order = paid_digital_order([(download(), 1)])
    withdrawal_id = withdraw(order, {order.lines[0].id: 1}, key="dl").id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(staff_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                withdrawal = db.session.get(Withdrawal, withdrawal_id)
                assert withdrawal is not None
                _, created = returns.approve(withdrawal, staff_id=staff_id, now=LATER)
                outcome = "created" if created else "found"
            except Exception as error:  # reported in the assertion below
                outcome = f"error: {error!r}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=approve, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["created", "found"], outcomes
    db.session.expire_all()
    assert count(Refund) == 1
    assert count(BookkeepingRecord, BookkeepingRecord.kind == "credit_note") == 1
    assert len(provider_calls) == 1


def test_a_withdrawn_download_or_code_is_no_longer_delivered_t5_4(app: Flask) -> None:
    code = make_product(title="Notskrivningsprogram (kod)", kind="software_code", price_ore=49900)
    book = make_product(title="Notställ", price_ore=30000, vat_rate_bp=2500, stock=5)
    order = paid_order(lines=[(book, 1), (download(), 1), (code, 1)])
    book_line, download_line, code_line = order.lines
    withdraw(order, {download_line.id: 1, code_line.id: 1}, key="digital")
    assert downloads.withdrawn(download_line)
    assert not downloads.withdrawn(book_line)
    with pytest.raises(downloads.DownloadRefused, match="ångrat köpet av filen"):
        downloads.start_download_for_line(download_line, now=LATER)
    with pytest.raises(downloads.DownloadRefused, match="ångrat köpet av koden"):
        downloads.reveal_codes(code_line, now=LATER)
