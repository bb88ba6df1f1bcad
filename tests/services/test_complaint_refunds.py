"""A complaint decided with a refund pays the money back (T6), exactly once, through the returns
desk's machinery (as T5.8): a credit note, one Refund with the key ``refund-complaint-<id>``, the
order's original provider, "to retry" with the error when the provider fails."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from shop import clock
from shop.domain.lifecycle import InvoiceStatus, PaymentStatus
from shop.extensions import db
from shop.models import (
    AuditEntry,
    BookkeepingRecord,
    Complaint,
    Invoice,
    Order,
    OrderLine,
    OutboxMessage,
    Payment,
    Refund,
)
from shop.payments.base import RefundRequest, RefundResult
from shop.services import complaints, invoicing, returns
from shop.services.complaints import ComplaintError
from tests.services.fulfilment_helpers import invoice_order
from tests.services.test_returns import BACK_ON as RETURN_BACK_ON
from tests.services.test_returns import (
    LATER,
    STAFF,
    UNUSED,
    count,
    failing_then,
    paid_order,
    sandbox,
    two_books,
    withdraw,
)
from tests.services.test_withdrawals import deliver

DECIDED_ON = clock.local_date(LATER)


@pytest.fixture(autouse=True)
def uploads(app: Flask, tmp_path: Path) -> None:
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")


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


def stands_order() -> tuple[Order, OrderLine]:
    """A consumer's sandbox-paid order of 2 music stands (2 × 300 kr, VAT 25 %), delivered."""
    _, stand = two_books()
    order = paid_order(lines=[(stand, 2)])
    return order, order.lines[0]


def complaint_of(line: OrderLine) -> Complaint:
    return complaints.report(
        line,
        description="Benet har spruckit.",
        discovered_on=None,
        photos=[],
        actor="customer:K-TEST",
        now=LATER,
    )


def decide_refund(complaint: Complaint, amount_ore: int) -> Complaint:
    return complaints.decide(
        complaint,
        "refund",
        reason="Vi betalar tillbaka ett ben.",
        refund_ore=amount_ore,
        staff_id=STAFF,
        now=LATER,
    )


def the_refund(complaint: Complaint) -> Refund:
    db.session.expire_all()
    refund = db.session.scalars(select(Refund).where(Refund.complaint_id == complaint.id)).one()
    return refund


def test_a_refund_decision_pays_once_with_a_credit_note_t6(
    app: Flask, provider_calls: list[str]
) -> None:
    order, line = stands_order()
    complaint = complaint_of(line)
    decide_refund(complaint, 14950)
    refund = the_refund(complaint)
    assert refund.status == "done"
    assert refund.idempotency_key == f"refund-complaint-{complaint.id}"
    assert refund.withdrawal_id is None
    assert refund.amount_ore == 14950
    assert refund.provider_reference
    assert refund.due_on == DECIDED_ON  # no deadline in T6 or the seeds: the decision day
    assert provider_calls == [refund.idempotency_key]
    payment = db.session.get(Payment, refund.payment_id)
    assert payment is not None
    assert payment.refunded_ore == 14950
    assert payment.status == PaymentStatus.PARTLY_REFUNDED.value
    note = db.session.get(BookkeepingRecord, refund.credit_note_id)
    assert note is not None
    assert note.kind == "credit_note"
    assert note.pdf is not None
    assert note.pdf.startswith(b"%PDF")
    assert note.content["complaint_id"] == complaint.id
    assert note.content["total_ore"] == -14950
    (credited,) = note.content["lines"]
    assert (credited["title"], credited["total_ore"]) == (line.title, -14950)
    # T2.1: VAT of 149,50 kr gross at 25 %: 29,90 kr, exactly to the öre
    assert credited["vat_ore"] == -2990
    assert note.content["vat"] == [
        {"rate_bp": 2500, "net_ore": -11960, "vat_ore": -2990, "gross_ore": -14950}
    ]
    decision = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "complaint_decision")
    ).one()
    assert "Vi betalar tillbaka beloppet med samma betalsätt" in decision.body_text
    refund_mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "refund")
    ).one()
    assert refund_mail.to_address == order.email
    assert f"Kreditfakturan nr {note.number} finns bifogad." in refund_mail.body_text
    entries = {
        entry.action: entry
        for entry in db.session.scalars(select(AuditEntry)).all()
        if entry.action in ("complaint.decided", "refund.approved", "refund.done")
    }
    assert set(entries) == {"complaint.decided", "refund.approved", "refund.done"}
    approved = entries["refund.approved"]
    assert approved.details == {
        "complaint": complaint.id,
        "refund": refund.id,
        "line": line.id,
        "amount_ore": 14950,
        "credit_note": note.number,
    }
    assert approved.rule_id == "T6"
    assert entries["refund.done"].rule_id == "T6"


def test_a_double_submission_pays_nothing_more_t6_t5_8(
    app: Flask, provider_calls: list[str]
) -> None:
    _, line = stands_order()
    complaint = complaint_of(line)
    decide_refund(complaint, 10000)
    with pytest.raises(ComplaintError, match="redan avgjord"):
        decide_refund(complaint, 10000)
    assert count(Refund) == 1
    assert count(BookkeepingRecord, BookkeepingRecord.kind == "credit_note") == 1
    assert len(provider_calls) == 1
    assert count(AuditEntry, AuditEntry.action == "refund.approved") == 1


def test_a_provider_failure_leaves_it_to_retry_with_the_same_key_t6_t5_8(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = failing_then(monkeypatch, 1)
    _, line = stands_order()
    complaint = complaint_of(line)
    decide_refund(complaint, 10000)
    refund = the_refund(complaint)
    assert refund.status == "failed"
    assert refund.completed_at is None
    assert refund.last_error
    assert "503" in refund.last_error
    payment = db.session.get(Payment, refund.payment_id)
    assert payment is not None
    assert payment.refunded_ore == 0
    assert count(OutboxMessage, OutboxMessage.template == "refund") == 0
    failed = db.session.scalars(select(AuditEntry).filter_by(action="refund.failed")).one()
    assert failed.rule_id == "T6"
    retried = complaints.retry_refund(complaint, staff_id=STAFF, now=LATER)
    assert retried is not None
    assert retried.status == "done"
    assert retried.last_error is None
    assert keys == [f"refund-complaint-{complaint.id}"] * 2
    again = complaints.retry_refund(complaint, staff_id=STAFF, now=LATER)
    assert again is not None
    assert again.status == "done"
    assert len(keys) == 2  # a done refund is never sent again
    assert count(Refund) == 1


def test_the_refund_is_at_most_what_is_left_after_a_withdrawal_refund_t6(app: Flask) -> None:
    order, line = stands_order()
    withdrawal = withdraw(order, {line.id: 1})  # one of the two stands back: 300 kr refunded
    returns.register_parcel(
        withdrawal, received_on=RETURN_BACK_ON, refused_reason=None, staff_id=STAFF, now=LATER
    )
    returns.inspect(withdrawal, {line.id: UNUSED}, staff_id=STAFF, now=LATER)
    returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert complaints.refundable_ore(line, today=DECIDED_ON) == 30000
    complaint = complaint_of(line)
    with pytest.raises(ComplaintError) as caught:
        decide_refund(complaint, 30001)
    assert caught.value.field == "refund"
    assert "tidigare återbetalningar (300,00\xa0kr)" in caught.value.message
    db.session.expire_all()
    assert complaint.is_open
    assert count(Refund) == 1
    decide_refund(complaint, 30000)  # the boundary: exactly what is left
    assert the_refund(complaint).status == "done"
    assert complaints.refundable_ore(line, today=DECIDED_ON) == 0


def test_an_earlier_complaint_refund_counts_too_t6(app: Flask) -> None:
    _, line = stands_order()
    decide_refund(complaint_of(line), 50000)
    later = complaint_of(line)
    with pytest.raises(ComplaintError, match="100,00\xa0kr"):
        decide_refund(later, 10001)
    decide_refund(later, 10000)
    assert count(Refund) == 2


def invoice_complaint() -> tuple[Order, Invoice, Complaint]:
    """An organisation's delivered invoice order (invoice not paid) and a complaint."""
    order = invoice_order()
    deliver(order, RETURN_BACK_ON)
    invoice = invoicing.invoice_for_order(order)
    assert invoice is not None
    return order, invoice, complaint_of(order.lines[0])


def test_an_unpaid_invoice_is_credited_instead_of_paid_back_t6(
    app: Flask, provider_calls: list[str]
) -> None:
    order, invoice, complaint = invoice_complaint()
    owed = invoicing.amount_owed(invoice)
    decide_refund(complaint, 1000)
    refund = the_refund(complaint)
    assert refund.status == "done"
    assert refund.payment_id is None
    assert refund.completed_at is not None
    assert provider_calls == []  # no money moves
    invoice = db.session.get(Invoice, invoice.id)
    assert invoice is not None
    assert invoice.credited_ore == 1000
    assert invoice.status == InvoiceStatus.OPEN.value
    assert invoicing.amount_owed(invoice) == owed - 1000
    note = db.session.get(BookkeepingRecord, refund.credit_note_id)
    assert note is not None
    assert note.invoice_id == invoice.id
    assert note.content["credited_invoice"] == invoice.number
    assert note.content["total_ore"] == -1000
    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "complaint_decision")
    ).one()
    assert f"Beloppet dras av från faktura {invoice.number}" in mail.body_text
    assert [a.filename for a in mail.attachments] == [f"kreditfaktura-{note.number}.pdf"]
    assert count(OutboxMessage, OutboxMessage.template == "refund") == 0
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"refund.approved", "refund.invoice_credited", "invoice.credited"} <= actions
    assert [r.invoice_credit for r in returns.refunds_of(order)] == [True]


def test_a_paid_invoice_is_paid_back_by_bank_transfer_and_the_mail_says_so_t6(
    app: Flask,
) -> None:
    """The invoice provider cannot move money (staff transfer it), so the mail says the money
    is on its way by bank transfer, not that it was paid back already."""
    order, invoice, complaint = invoice_complaint()
    invoicing.register_payment(
        invoice,
        amount_ore=invoicing.amount_owed(invoice),
        paid_on=DECIDED_ON,
        reference="betald",
        registered_by="system",
        now=LATER,
    )
    # What the checkout's invoice provider records for the order (the helper skips it).
    db.session.add(
        Payment(
            order_id=order.id,
            provider="invoice",
            method="invoice",
            provider_reference=invoice.number,
            idempotency_key=f"pay-{order.number}",
            amount_ore=order.total_ore,
            status=PaymentStatus.CAPTURED.value,
            created_at=LATER,
            updated_at=LATER,
        )
    )
    db.session.commit()
    decide_refund(complaint, 1000)
    assert the_refund(complaint).payment_id is not None
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "refund")).one()
    assert mail.subject == f"Vi betalar tillbaka för order {order.number}"
    assert "med en banköverföring, eftersom ordern betalades mot faktura" in mail.body_text
    assert "med en banköverföring" in (mail.body_html or "")
    assert "har betalat tillbaka" not in mail.body_text + (mail.body_html or "")


def test_the_credit_is_at_most_what_remains_on_the_invoice_and_settles_it_t6(app: Flask) -> None:
    order, invoice, complaint = invoice_complaint()
    owed = invoicing.amount_owed(invoice)
    invoicing.register_payment(
        invoice,
        amount_ore=owed - 500,
        paid_on=DECIDED_ON,
        reference="delbetalning",
        registered_by="system",
        now=LATER,
    )
    with pytest.raises(ComplaintError, match="5,00\xa0kr") as caught:
        decide_refund(complaint, 501)
    assert caught.value.field == "refund"
    assert count(Refund) == 0
    decide_refund(complaint, 500)  # the boundary: exactly what remains
    invoice = db.session.get(Invoice, invoice.id)
    assert invoice is not None
    assert invoice.status == InvoiceStatus.PAID.value
    assert invoice.credited_ore == 500
    assert invoice.paid_on == DECIDED_ON


@pytest.mark.postgres
def test_two_staff_deciding_a_refund_at_once_pay_once_t6_t5_8(
    app: Flask, provider_calls: list[str]
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are tested on PostgreSQL")
    _, line = stands_order()
    complaint_id = complaint_of(line).id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def decide(staff_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                mine = db.session.get(Complaint, complaint_id)
                assert mine is not None
                complaints.decide(
                    mine,
                    "refund",
                    reason=f"Beslut {staff_id}.",
                    refund_ore=20000,
                    staff_id=staff_id,
                    now=LATER,
                )
                outcome = "decided"
            except ComplaintError as error:
                outcome = error.message
            except Exception as error:  # reported in the assertion below
                outcome = f"error: {error!r}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=decide, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["Reklamationen är redan avgjord.", "decided"], outcomes
    db.session.expire_all()
    assert count(Refund) == 1
    assert count(BookkeepingRecord, BookkeepingRecord.kind == "credit_note") == 1
    assert len(provider_calls) == 1
    assert db.session.scalars(select(Refund)).one().status == "done"
