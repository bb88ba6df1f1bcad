"""Invoices: numbering, due date, OCR, frozen content, payments (T3.2–T3.4, R2.3)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask

from shop.domain.invoices import is_valid_ocr, make_ocr
from shop.extensions import db
from shop.models import AuditEntry, BookkeepingRecord, IncomingPayment, Invoice
from shop.services import invoicing
from tests.factories import NOW, make_customer, make_order
from tests.services.fulfilment_helpers import (
    invoice_order,
    tmp_downloads,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.usefixtures("tmp_downloads")


def test_invoice_numbers_are_gap_free_and_due_in_30_days_with_valid_ocr_t3_4(app: Flask) -> None:
    first, second = invoice_order(), invoice_order()
    one = invoicing.invoice_for_order(first)
    two = invoicing.invoice_for_order(second)
    assert one is not None
    assert two is not None
    assert (one.number, two.number) == (1, 2)
    assert one.issued_on == date(2026, 11, 23)
    assert one.due_on == date(2026, 12, 23) == one.issued_on + timedelta(days=30)
    assert one.ocr == make_ocr(1)
    assert is_valid_ocr(one.ocr)
    assert is_valid_ocr(two.ocr)
    assert one.status == "open"
    assert one.paid_ore == 0


def test_invoice_content_is_frozen_with_the_required_fields_t3_4(app: Flask) -> None:
    order = invoice_order()
    invoice = invoicing.invoice_for_order(order)
    assert invoice is not None
    record = invoicing.invoice_record(invoice)
    assert record is not None
    assert record.kind == "invoice"
    assert record.number == invoice.number
    content = record.content
    assert content["seller"]["vat_number"] == "SE556677889901"
    assert content["seller"]["f_skatt"] is True
    assert content["bankgiro"] == "123-4567"
    assert content["ocr"] == invoice.ocr
    assert content["due_on"] == "2026-12-23"
    assert content["buyer"]["organisation_number"] == "556036-0793"
    assert any(
        fee["label"] == "Fakturaavgift" and fee["amount_ore"] == 1900 for fee in content["fees"]
    )
    assert content["total_ore"] == invoice.total_ore == order.total_ore
    assert sum(rate["vat_ore"] for rate in content["vat"]) == content["total_vat_ore"]
    assert record.pdf is not None
    assert record.pdf.startswith(b"%PDF-")
    assert record.fiscal_year == 2026
    assert len(record.pdf_sha256 or "") == 64


def test_issue_invoice_twice_gives_the_same_invoice_t3_4(app: Flask) -> None:
    order = invoice_order()
    invoice = invoicing.issue_invoice(order, now=NOW)
    db.session.commit()
    assert db.session.query(Invoice).count() == 1
    assert invoice.number == 1
    assert db.session.query(BookkeepingRecord).filter_by(kind="invoice").count() == 1


def test_partial_payments_then_paid_t3_4(app: Flask) -> None:
    invoice = invoicing.invoice_for_order(invoice_order())
    assert invoice is not None
    total = invoice.total_ore
    invoicing.register_payment(
        invoice,
        amount_ore=10000,
        paid_on=date(2026, 12, 1),
        reference="BG 1",
        registered_by="staff:1",
        now=NOW,
    )
    assert (invoice.status, invoice.paid_ore, invoice.paid_on) == ("open", 10000, None)
    invoicing.register_payment(
        invoice,
        amount_ore=total - 10000,
        paid_on=date(2026, 12, 10),
        reference="BG 2",
        registered_by="staff:1",
        now=NOW,
    )
    assert invoice.status == "paid"
    assert invoice.paid_ore == total
    assert invoice.paid_on == date(2026, 12, 10)
    assert db.session.query(IncomingPayment).count() == 2
    audit = db.session.query(AuditEntry).filter_by(action="invoice.payment").all()
    assert len(audit) == 2
    assert audit[-1].details["to"] == "paid"
    with pytest.raises(invoicing.InvoicePaymentError, match="redan betald"):
        invoicing.register_payment(
            invoice,
            amount_ore=1,
            paid_on=date(2026, 12, 11),
            reference="x",
            registered_by="staff:1",
            now=NOW,
        )


def test_mark_paid_registers_the_remainder_t3_4(app: Flask) -> None:
    invoice = invoicing.invoice_for_order(invoice_order())
    assert invoice is not None
    payment = invoicing.mark_paid(invoice, registered_by="staff:7", now=NOW)
    assert payment.amount_ore == invoice.total_ore
    assert invoice.status == "paid"
    assert invoice.paid_on == date(2026, 11, 23)
    with pytest.raises(invoicing.InvoicePaymentError):
        invoicing.mark_paid(invoice, registered_by="staff:7", now=NOW)
    assert invoicing.open_invoices() == []


def test_a_non_positive_amount_is_refused(app: Flask) -> None:
    invoice = invoicing.invoice_for_order(invoice_order())
    assert invoice is not None
    with pytest.raises(invoicing.InvoicePaymentError, match="större än noll"):
        invoicing.register_payment(
            invoice,
            amount_ore=0,
            paid_on=date(2026, 12, 1),
            reference="x",
            registered_by="staff:1",
            now=NOW,
        )


def test_an_invoice_order_gets_no_receipt_t3_2(app: Flask) -> None:
    invoice_order()
    assert db.session.query(BookkeepingRecord).filter_by(kind="receipt").count() == 0


def test_invoice_for_an_order_not_yet_confirmed_is_none(app: Flask) -> None:
    order = make_order(customer=make_customer(kind="organisation"), payment_method="invoice")
    assert invoicing.invoice_for_order(order) is None
