"""Finance: records by year, the VAT report and the CSV export, from bookkeeping records only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest
from flask import Flask

from shop.extensions import db
from shop.models import BookkeepingRecord, Order
from shop.services import finance, returns
from tests.services.fulfilment_helpers import invoice_order
from tests.services.test_refund_without_return import download, paid_digital_order, withdraw
from tests.services.test_returns import LATER, STAFF
from tests.web.test_query_counts import counting_queries

_numbers = count(100)


def vat(rate_bp: int, net: int, tax: int) -> dict[str, int]:
    return {"rate_bp": rate_bp, "net_ore": net, "vat_ore": tax, "gross_ore": net + tax}


def add_record(
    kind: str, issued_on: str, *rates: dict[str, int], **extra: Any
) -> BookkeepingRecord:
    """A record with just the content the finance pages read, committed."""
    number = extra.pop("number", next(_numbers))
    day = datetime.fromisoformat(issued_on + "T12:00:00+00:00")
    content = {
        "kind": kind,
        "number": number,
        "issued_on": issued_on,
        "order_number": extra.pop("order_number", f"O-{number}"),
        "vat": list(rates),
        "total_net_ore": sum(r["net_ore"] for r in rates),
        "total_vat_ore": sum(r["vat_ore"] for r in rates),
        "total_ore": sum(r["gross_ore"] for r in rates),
        **extra,
    }
    record = BookkeepingRecord(
        kind=kind,
        number=number,
        issued_at=day.astimezone(UTC),
        fiscal_year=day.year,
        content=content,
    )
    db.session.add(record)
    db.session.commit()
    return record


@pytest.fixture
def year_of_records(app: Flask) -> None:
    """November 2026: a receipt (25 % and 6 %), an invoice (25 % and 0 %: the reminder-free
    invoice fee is 25 %), a credit note of part of the receipt; December: a receipt;
    and a record of 2025 that must not count."""
    add_record("receipt", "2026-11-03", vat(2500, 24000, 6000), vat(600, 10000, 600), number=1)
    add_record("invoice", "2026-11-20", vat(2500, 80000, 20000), number=1)
    add_record(
        "credit_note",
        "2026-11-28",
        vat(600, -10000, -600),
        number=1,
        credits={"kind": "receipt", "number": 1},
    )
    add_record("receipt", "2026-12-01", vat(600, 20000, 1200), number=2)
    add_record("receipt", "2025-12-31", vat(2500, 400, 100), number=3)


def test_vat_report_per_month_and_rate_with_credits_deducted_t2_1(year_of_records: None) -> None:
    report = finance.vat_report(2026)
    assert report.record_count == 4
    november = report.months[10]
    assert november.label == "2026-11"
    by_rate = {rate.rate_bp: rate for rate in november.rates}
    assert [rate.rate_bp for rate in november.rates] == [2500, 600]
    assert by_rate[2500].sales.net_ore == 104000
    assert by_rate[2500].sales.vat_ore == 26000
    assert by_rate[2500].credited.gross_ore == 0
    assert by_rate[600].sales.gross_ore == 10600
    assert by_rate[600].credited.net_ore == 10000  # deducted, shown as a positive amount
    assert by_rate[600].credited.vat_ore == 600
    assert (by_rate[600].net_ore, by_rate[600].vat_ore, by_rate[600].gross_ore) == (0, 0, 0)
    assert november.vat_ore == 26000
    assert november.credited_gross_ore == 10600
    december = report.months[11]
    assert [(r.rate_bp, r.net_ore, r.vat_ore) for r in december.rates] == [(600, 20000, 1200)]
    assert all(not month.rates for month in report.months[:10])
    year = {rate.rate_bp: rate for rate in report.rates}
    assert (year[2500].net_ore, year[2500].vat_ore) == (104000, 26000)
    assert (year[600].net_ore, year[600].vat_ore, year[600].credited.gross_ore) == (
        20000,
        1200,
        10600,
    )
    assert report.vat_ore == 27200
    assert report.gross_ore == 104000 + 26000 + 21200
    assert finance.vat_report(2025).vat_ore == 100
    assert finance.vat_report(2024) == finance.VatReport(
        2024, tuple(finance.VatPeriod(2024, m, ()) for m in range(1, 13)), (), 0
    )


def test_vat_report_reads_the_records_only_and_stays_the_same_after_anonymising_r2_3(
    app: Flask,
) -> None:
    order = paid_digital_order([(download(), 2)])
    withdrawal = withdraw(order, {order.lines[0].id: 1}, key="dl")
    returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    before = finance.vat_report(2026)
    assert before.record_count == 2  # the receipt and the credit note
    (rate,) = before.rates
    assert rate.sales.gross_ore == 2 * 9900
    assert rate.credited.gross_ore == 9900
    assert rate.gross_ore == 9900
    fresh = db.session.get(Order, order.id)
    assert fresh is not None
    fresh.name = fresh.billing_name = "Anonymiserad"
    fresh.email = "anonym@example.invalid"
    fresh.billing_street = fresh.billing_city = ""
    db.session.commit()
    assert finance.vat_report(2026) == before


def test_vat_report_and_record_list_use_a_fixed_number_of_queries(
    year_of_records: None,
) -> None:
    db.session.expire_all()
    with counting_queries() as few:
        finance.vat_report(2026)
        finance.records(2026)
    for n in range(20):
        add_record("receipt", "2026-10-01", vat(2500, 100 * n, 25 * n))
    db.session.expire_all()
    with counting_queries() as many:
        report = finance.vat_report(2026)
        listing = finance.records(2026)
    assert len(many) == len(few) == 2
    assert report.record_count == 24
    assert len(listing.rows) == 24


def test_record_list_filters_by_kind_numbered_with_totals_per_rate(
    year_of_records: None,
) -> None:
    listing = finance.records(2026)
    assert [(row.kind, row.number) for row in listing.rows] == [
        ("receipt", 1),
        ("receipt", 2),
        ("invoice", 1),
        ("credit_note", 1),
    ]
    totals = {rate.rate_bp: rate for rate in listing.totals}
    assert totals[600].gross_ore == 10600 - 10600 + 21200
    assert totals[2500].vat_ore == 26000
    assert listing.total_ore == 30000 + 10600 + 100000 - 10600 + 21200
    notes = finance.records(2026, "credit_note")
    assert [row.credits for row in notes.rows] == ["Kvitto 1"]
    assert notes.total_ore == -10600
    with pytest.raises(ValueError, match="unknown record kind"):
        finance.records(2026, "reminder")


def test_csv_has_one_row_per_record_and_rate_in_kronor(year_of_records: None) -> None:
    text = finance.records_csv(2026)
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == list(finance.CSV_HEADER)
    assert rows[1] == ["Kvitto", "1", "2026-11-03", "O-1", "", "25 %", "240,00", "60,00", "300,00"]
    assert rows[2][5:] == ["6 %", "100,00", "6,00", "106,00"]
    assert rows[-1][:6] == ["Kreditfaktura", "1", "2026-11-28", "O-1", "Kvitto 1", "6 %"]
    assert rows[-1][6:] == ["-100,00", "-6,00", "-106,00"]
    assert len(rows) == 1 + 5


def test_csv_text_cells_never_start_a_formula() -> None:
    assert finance._csv_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert finance._csv_text("@SUM") == "'@SUM"
    assert finance._csv_text("O-12") == "O-12"
    assert finance._csv_text(None) == ""


def test_an_invoice_order_counts_as_a_sale(app: Flask) -> None:
    order = invoice_order()
    report = finance.vat_report(2026)
    assert report.record_count == 1
    assert report.gross_ore == order.total_ore
