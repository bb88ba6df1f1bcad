"""Invoice follow-up: overdue list, the one reminder, collection, payments by OCR (T3.4–T3.6).

Dates: ``invoice_order()`` issues on Monday 23 November 2026, due Wednesday
23 December 2026. Every boundary is asserted against the domain's own
functions as well as a concrete date.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from flask import Flask

from shop.domain.errors import CollectionNotAllowed, InvalidOcrReference, ReminderNotAllowed
from shop.domain.invoices import collection_from, make_ocr, reminder_allowed_from
from shop.domain.policy import DEFAULT_POLICY
from shop.extensions import db
from shop.models import AuditEntry, IncomingPayment, Invoice, InvoiceReminder, OutboxMessage
from shop.services import invoicing
from tests.services.fulfilment_helpers import (
    invoice_order,
    tmp_downloads,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.usefixtures("tmp_downloads")

DUE = date(2026, 12, 23)


def at(day: date) -> datetime:
    """Noon UTC on ``day`` (the same date in Stockholm)."""
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


def the_invoice(**kwargs: object) -> Invoice:
    invoice = invoicing.invoice_for_order(invoice_order(**kwargs))  # type: ignore[arg-type]
    assert invoice is not None
    return invoice


def reminder_mails() -> list[OutboxMessage]:
    return db.session.query(OutboxMessage).filter_by(template="invoice_reminder").all()


def test_overdue_list_and_reminder_boundary_t3_5(app: Flask) -> None:
    """T3.5: on the due date itself no reminder; from the day after, allowed."""
    invoice = the_invoice()
    assert invoice.due_on == DUE
    assert reminder_allowed_from(DUE) == date(2026, 12, 24)
    assert invoicing.overdue_invoices(DUE) == []
    with pytest.raises(ReminderNotAllowed):
        invoicing.send_reminder(invoice, sent_by="staff:1", now=at(DUE))
    assert db.session.query(InvoiceReminder).count() == 0
    rows = invoicing.overdue_invoices(date(2026, 12, 24))
    assert [row.invoice.id for row in rows] == [invoice.id]
    assert rows[0].days_overdue == 1
    assert rows[0].may_send_reminder is True
    assert rows[0].collection_on is None
    assert invoicing.overdue_invoices(date(2027, 1, 2))[0].days_overdue == 10


def test_a_due_date_on_a_saturday_moves_to_monday_t3_5(app: Flask) -> None:
    """T3.5: due Saturday 9 January 2027 → paid in time on Monday 11th; reminder from the 12th."""
    invoice = the_invoice(now=datetime(2026, 12, 10, 10, 0, tzinfo=UTC))
    assert invoice.due_on == date(2027, 1, 9)
    assert invoice.due_on.weekday() == 5
    assert reminder_allowed_from(invoice.due_on) == date(2027, 1, 12)
    for day in (date(2027, 1, 10), date(2027, 1, 11)):
        assert invoicing.overdue_invoices(day) == []
        with pytest.raises(ReminderNotAllowed):
            invoicing.send_reminder(invoice, sent_by="staff:1", now=at(day))
    row = invoicing.overdue_invoices(date(2027, 1, 12))[0]
    assert row.effective_due_on == date(2027, 1, 11)
    assert (row.days_overdue, row.may_send_reminder) == (1, True)
    reminder = invoicing.send_reminder(invoice, sent_by="staff:1", now=at(date(2027, 1, 12)))
    assert reminder.sent_on == date(2027, 1, 12)


def test_reminder_fee_new_due_date_pdf_mail_and_audit_t3_5(app: Flask) -> None:
    invoice = the_invoice()
    sent_on = date(2026, 12, 28)
    reminder = invoicing.send_reminder(invoice, sent_by="staff:4", now=at(sent_on))
    assert reminder.fee_ore == DEFAULT_POLICY.reminder_fee_ore == 5000
    assert reminder.new_due_on == date(2027, 1, 7)
    assert invoice.status == "reminded"
    assert invoicing.amount_owed(invoice) == invoice.total_ore + 5000
    assert reminder.pdf is not None
    assert reminder.pdf.startswith(b"%PDF-")
    (message,) = reminder_mails()
    assert message.to_address == invoice.order.email
    assert "Påminnelse" in message.subject
    assert str(invoice.number) in message.subject
    assert "50,00" in message.body_text
    assert invoice.ocr in message.body_text
    (attachment,) = message.attachments
    assert attachment.content_type == "application/pdf"
    assert attachment.data == reminder.pdf
    audit = db.session.query(AuditEntry).filter_by(action="invoice.reminder").one()
    assert audit.actor == "staff:4"
    assert audit.rule_id == "T3.5"
    assert audit.details == {
        "from": "open",
        "to": "reminded",
        "fee_ore": 5000,
        "new_due_on": "2027-01-07",
    }


def test_reminder_content_lists_what_the_pdf_must_say_t3_5(app: Flask) -> None:
    invoice = the_invoice()
    invoicing.register_payment(
        invoice,
        amount_ore=10000,
        paid_on=date(2026, 12, 1),
        reference="BG",
        registered_by="staff:1",
        now=at(date(2026, 12, 1)),
    )
    content = invoicing.reminder_content(
        invoice, sent_on=date(2026, 12, 28), fee_ore=5000, new_due_on=date(2027, 1, 7)
    )
    assert content["seller"]["bankgiro"] == content["bankgiro"] == "123-4567"
    assert content["due_on"] == "2026-12-23"
    assert content["remaining_ore"] == invoice.total_ore - 10000
    assert content["total_to_pay_ore"] == invoice.total_ore - 10000 + 5000
    assert content["ocr"] == invoice.ocr


def test_a_reminder_is_sent_once_t3_5(app: Flask) -> None:
    """T3.5: at most once per invoice: the second attempt changes nothing."""
    invoice = the_invoice()
    invoicing.send_reminder(invoice, sent_by="staff:1", now=at(date(2026, 12, 28)))
    with pytest.raises(ReminderNotAllowed, match="redan"):
        invoicing.send_reminder(invoice, sent_by="staff:1", now=at(date(2026, 12, 29)))
    assert db.session.query(InvoiceReminder).count() == 1
    assert len(reminder_mails()) == 1
    assert db.session.query(AuditEntry).filter_by(action="invoice.reminder").count() == 1
    assert invoicing.amount_owed(invoice) == invoice.total_ore + 5000


def test_no_reminder_for_a_paid_invoice_t3_5(app: Flask) -> None:
    invoice = the_invoice()
    invoicing.mark_paid(invoice, registered_by="staff:1", now=at(date(2026, 12, 1)))
    with pytest.raises(ReminderNotAllowed):
        invoicing.send_reminder(invoice, sent_by="staff:1", now=at(date(2026, 12, 28)))
    assert invoicing.overdue_invoices(date(2026, 12, 28)) == []
    assert reminder_mails() == []


def test_collection_boundary_t3_6(app: Flask) -> None:
    """T3.6: reminder on Tuesday 12 January 2027: day 10 (22nd) not yet; day 11 (23rd) due."""
    invoice = the_invoice()
    invoicing.send_reminder(invoice, sent_by="staff:1", now=at(date(2027, 1, 12)))
    assert collection_from(date(2027, 1, 12)) == date(2027, 1, 23)
    assert invoicing.collection_invoices(date(2027, 1, 22)) == []
    with pytest.raises(CollectionNotAllowed):
        invoicing.mark_for_collection(invoice, marked_by="staff:2", now=at(date(2027, 1, 22)))
    assert invoice.status == "reminded"
    rows = invoicing.collection_invoices(date(2027, 1, 23))
    assert [(row.invoice.id, row.goes_to_collection) for row in rows] == [(invoice.id, True)]
    invoicing.mark_for_collection(invoice, marked_by="staff:2", now=at(date(2027, 1, 23)))
    assert invoice.status == "collection"
    rows = invoicing.collection_invoices(date(2027, 1, 24))
    assert [(row.invoice.status, row.goes_to_collection) for row in rows] == [("collection", False)]
    with pytest.raises(CollectionNotAllowed, match="redan"):
        invoicing.mark_for_collection(invoice, marked_by="staff:2", now=at(date(2027, 1, 24)))
    audit = db.session.query(AuditEntry).filter_by(action="invoice.collection").one()
    assert (audit.actor, audit.rule_id, audit.details) == (
        "staff:2",
        "T3.6",
        {"from": "reminded", "to": "collection"},
    )


def test_collection_needs_a_reminder_t3_6(app: Flask) -> None:
    invoice = the_invoice()
    with pytest.raises(CollectionNotAllowed, match="påminnelse"):
        invoicing.mark_for_collection(invoice, marked_by="staff:2", now=at(date(2027, 3, 1)))
    assert invoice.status == "open"


def test_payment_by_ocr_partial_then_full_including_the_fee_t3_4_t3_5(app: Flask) -> None:
    invoice = the_invoice()
    invoicing.send_reminder(invoice, sent_by="staff:1", now=at(date(2026, 12, 28)))
    owed = invoice.total_ore + 5000
    invoicing.register_payment_by_ocr(
        invoice.ocr,
        amount_ore=invoice.total_ore,
        paid_on=date(2027, 1, 2),
        registered_by="staff:3",
        now=at(date(2027, 1, 4)),
    )
    assert (invoice.status, invoice.paid_ore) == ("reminded", invoice.total_ore)
    payment = invoicing.register_payment_by_ocr(
        invoice.ocr,
        amount_ore=5000,
        paid_on=date(2027, 1, 5),
        registered_by="staff:3",
        now=at(date(2027, 1, 5)),
    )
    assert payment.reference == f"OCR {invoice.ocr}"
    assert (invoice.status, invoice.paid_ore, invoice.paid_on) == (
        "paid",
        owed,
        date(2027, 1, 5),
    )
    actors = {a.actor for a in db.session.query(AuditEntry).filter_by(action="invoice.payment")}
    assert actors == {"staff:3"}


def test_payment_by_ocr_refuses_overpayment_t3_4(app: Flask) -> None:
    invoice = the_invoice()
    with pytest.raises(invoicing.InvoicePaymentError, match="större än det som återstår"):
        invoicing.register_payment_by_ocr(
            invoice.ocr,
            amount_ore=invoice.total_ore + 1,
            paid_on=date(2026, 12, 1),
            registered_by="staff:3",
            now=at(date(2026, 12, 1)),
        )
    assert db.session.query(IncomingPayment).count() == 0
    db.session.refresh(invoice)
    assert (invoice.status, invoice.paid_ore) == ("open", 0)


def test_payment_by_ocr_with_a_wrong_digit_or_unknown_reference_t3_4(app: Flask) -> None:
    invoice = the_invoice()
    wrong = invoice.ocr[:-1] + str((int(invoice.ocr[-1]) + 1) % 10)
    with pytest.raises(InvalidOcrReference, match="OCR-numret är felaktigt"):
        invoicing.register_payment_by_ocr(
            wrong,
            amount_ore=100,
            paid_on=date(2026, 12, 1),
            registered_by="staff:3",
            now=at(date(2026, 12, 1)),
        )
    with pytest.raises(invoicing.UnknownOcrReference, match="Ingen faktura"):
        invoicing.register_payment_by_ocr(
            make_ocr(999),  # a valid reference no invoice has
            amount_ore=100,
            paid_on=date(2026, 12, 1),
            registered_by="staff:3",
            now=at(date(2026, 12, 1)),
        )
    assert db.session.query(IncomingPayment).count() == 0


@pytest.mark.postgres
def test_two_staff_sending_a_reminder_at_once_send_one_t3_5(app: Flask) -> None:
    """T3.5: two clicks at the same moment give one reminder, one mail, one fee."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are tested on PostgreSQL")
    invoice_id = the_invoice().id
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def send(staff_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                invoice = db.session.get(Invoice, invoice_id)
                assert invoice is not None
                invoicing.send_reminder(
                    invoice, sent_by=f"staff:{staff_id}", now=at(date(2026, 12, 28))
                )
                outcome = "sent"
            except ReminderNotAllowed:
                outcome = "refused"
            except Exception as error:  # reported in the assertion below
                outcome = f"error: {error!r}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=send, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["refused", "sent"], outcomes
    db.session.expire_all()
    assert db.session.query(InvoiceReminder).count() == 1
    assert len(reminder_mails()) == 1
    assert db.session.query(AuditEntry).filter_by(action="invoice.reminder").count() == 1
