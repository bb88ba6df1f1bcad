"""Finance: the bookkeeping records of a year, their VAT report and CSV export (T2.1, R2.3).

Everything here is read from the issued :class:`~shop.models.BookkeepingRecord`
rows only, from their frozen ``content`` (VAT per rate, totals, the issue
date as it was printed), never from orders, customers or payments. So the
figures of a year stay the same when customer data is anonymised later
(privacy.md: anonymising never edits bookkeeping records) and only change
when R2.3 purges a whole fiscal year.

Receipts and invoices are sales; credit notes (kreditfakturor) are stored
with negative amounts and are deducted from the sales of the month they
were issued in. Every function reads a year in one query, whatever the
number of records.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer

from shop.extensions import db
from shop.models import BookkeepingRecord
from shop.services import pdf

#: The record kinds and their names (glossary words), in the order the filter shows them.
KIND_LABELS: dict[str, str] = {
    "receipt": "Kvitto",
    "invoice": "Faktura",
    "credit_note": "Kreditfaktura",
}
SALES_KINDS = ("receipt", "invoice")
CREDIT_KINDS = ("credit_note",)
_RENDERERS = {
    "receipt": pdf.render_receipt,
    "invoice": pdf.render_invoice,
    "credit_note": pdf.render_credit_note,
}


@dataclass(frozen=True)
class RateAmounts:
    """Net, VAT and gross at one VAT rate (basis points), in öre."""

    rate_bp: int
    net_ore: int = 0
    vat_ore: int = 0
    gross_ore: int = 0

    def __add__(self, other: RateAmounts) -> RateAmounts:
        return RateAmounts(
            self.rate_bp,
            self.net_ore + other.net_ore,
            self.vat_ore + other.vat_ore,
            self.gross_ore + other.gross_ore,
        )


def _rates_of(content: Mapping[str, Any]) -> list[RateAmounts]:
    return [
        RateAmounts(int(r["rate_bp"]), int(r["net_ore"]), int(r["vat_ore"]), int(r["gross_ore"]))
        for r in content.get("vat", [])
    ]


def _sum_by_rate(amounts: Iterable[RateAmounts]) -> tuple[RateAmounts, ...]:
    """Amounts added up per rate, highest rate first."""
    totals: dict[int, RateAmounts] = {}
    for amount in amounts:
        totals[amount.rate_bp] = totals.get(amount.rate_bp, RateAmounts(amount.rate_bp)) + amount
    return tuple(totals[rate] for rate in sorted(totals, reverse=True))


# --- The records of a year ------------------------------------------------------------------


@dataclass(frozen=True)
class RecordRow:
    """One issued record as the list shows it (from its frozen content)."""

    id: int
    kind: str
    number: int
    issued_on: date
    order_number: str | None
    #: The receipt or invoice a credit note credits ("Kvitto 12"), else None.
    credits: str | None
    total_ore: int
    total_net_ore: int
    total_vat_ore: int
    rates: tuple[RateAmounts, ...]

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class RecordList:
    """The records of a fiscal year (optionally of one kind), numbered, with totals per rate."""

    year: int
    kind: str | None
    rows: tuple[RecordRow, ...]
    totals: tuple[RateAmounts, ...]

    @property
    def total_ore(self) -> int:
        return sum(row.total_ore for row in self.rows)

    @property
    def total_net_ore(self) -> int:
        return sum(row.total_net_ore for row in self.rows)

    @property
    def total_vat_ore(self) -> int:
        return sum(row.total_vat_ore for row in self.rows)


def _row(record_id: int, kind: str, number: int, content: Mapping[str, Any]) -> RecordRow:
    credits = content.get("credits")
    return RecordRow(
        id=record_id,
        kind=kind,
        number=number,
        issued_on=date.fromisoformat(content["issued_on"]),
        order_number=content.get("order_number"),
        credits=(
            f"{KIND_LABELS.get(credits['kind'], credits['kind'])} {credits['number']}"
            if credits
            else None
        ),
        total_ore=int(content.get("total_ore", 0)),
        total_net_ore=int(content.get("total_net_ore", 0)),
        total_vat_ore=int(content.get("total_vat_ore", 0)),
        rates=_sum_by_rate(_rates_of(content)),
    )


def fiscal_years() -> list[int]:
    """The fiscal years that have records, newest first."""
    return list(
        db.session.scalars(
            select(BookkeepingRecord.fiscal_year)
            .distinct()
            .order_by(BookkeepingRecord.fiscal_year.desc())
        )
    )


def records(year: int, kind: str | None = None) -> RecordList:
    """The records of fiscal ``year`` (of ``kind`` if given) in kind and number order,
    with their totals per VAT rate; one query, the PDFs not loaded."""
    if kind is not None and kind not in KIND_LABELS:
        raise ValueError(f"unknown record kind {kind!r}")
    query = select(
        BookkeepingRecord.id,
        BookkeepingRecord.kind,
        BookkeepingRecord.number,
        BookkeepingRecord.content,
    ).where(BookkeepingRecord.fiscal_year == year)
    if kind is not None:
        query = query.where(BookkeepingRecord.kind == kind)
    order = list(KIND_LABELS)
    rows = sorted(
        (
            _row(record_id, record_kind, number, content)
            for record_id, record_kind, number, content in db.session.execute(query)
        ),
        key=lambda row: (order.index(row.kind) if row.kind in order else len(order), row.number),
    )
    totals = _sum_by_rate(rate for row in rows for rate in row.rates)
    return RecordList(year=year, kind=kind, rows=tuple(rows), totals=totals)


def record(record_id: int) -> BookkeepingRecord | None:
    """One record (its PDF is loaded only when asked for)."""
    return db.session.scalar(
        select(BookkeepingRecord)
        .where(BookkeepingRecord.id == record_id)
        .options(defer(BookkeepingRecord.pdf))
    )


def record_pdf(record: BookkeepingRecord) -> bytes | None:
    """The record's PDF as issued, or rendered from its frozen content when none was stored."""
    if record.pdf is not None:
        return record.pdf
    render = _RENDERERS.get(record.kind)
    return None if render is None else render(record.content)


# --- The VAT report ------------------------------------------------------------------------


@dataclass(frozen=True)
class VatRate:
    """Sales at one VAT rate in a period, and the credits deducted from them (öre).

    ``sales`` are receipts and invoices; ``credited`` is what credit notes
    gave back, as positive amounts. ``net_ore``, ``vat_ore`` and
    ``gross_ore`` are what is left: sales minus credits.
    """

    rate_bp: int
    sales: RateAmounts
    credited: RateAmounts

    @property
    def net_ore(self) -> int:
        return self.sales.net_ore - self.credited.net_ore

    @property
    def vat_ore(self) -> int:
        return self.sales.vat_ore - self.credited.vat_ore

    @property
    def gross_ore(self) -> int:
        return self.sales.gross_ore - self.credited.gross_ore


@dataclass(frozen=True)
class VatPeriod:
    """One month of the VAT report (``month`` 1–12), per VAT rate, highest rate first."""

    year: int
    month: int
    rates: tuple[VatRate, ...]

    @property
    def label(self) -> str:
        """ "2026-11" """
        return f"{self.year}-{self.month:02d}"

    @property
    def net_ore(self) -> int:
        return sum(rate.net_ore for rate in self.rates)

    @property
    def vat_ore(self) -> int:
        return sum(rate.vat_ore for rate in self.rates)

    @property
    def gross_ore(self) -> int:
        return sum(rate.gross_ore for rate in self.rates)

    @property
    def credited_gross_ore(self) -> int:
        return sum(rate.credited.gross_ore for rate in self.rates)


@dataclass(frozen=True)
class VatReport:
    """The VAT report of a fiscal year: twelve months and the year, per VAT rate.

    A frozen value: two reports of the same records compare equal.
    """

    year: int
    months: tuple[VatPeriod, ...]
    rates: tuple[VatRate, ...]
    #: How many records it was computed from.
    record_count: int

    @property
    def net_ore(self) -> int:
        return sum(rate.net_ore for rate in self.rates)

    @property
    def vat_ore(self) -> int:
        return sum(rate.vat_ore for rate in self.rates)

    @property
    def gross_ore(self) -> int:
        return sum(rate.gross_ore for rate in self.rates)

    @property
    def credited_gross_ore(self) -> int:
        return sum(rate.credited.gross_ore for rate in self.rates)


def _vat_rates(sales: list[RateAmounts], credited: list[RateAmounts]) -> tuple[VatRate, ...]:
    sold = {amount.rate_bp: amount for amount in _sum_by_rate(sales)}
    back = {amount.rate_bp: amount for amount in _sum_by_rate(credited)}
    return tuple(
        VatRate(rate, sold.get(rate, RateAmounts(rate)), back.get(rate, RateAmounts(rate)))
        for rate in sorted(set(sold) | set(back), reverse=True)
    )


def _negated(amount: RateAmounts) -> RateAmounts:
    return RateAmounts(amount.rate_bp, -amount.net_ore, -amount.vat_ore, -amount.gross_ore)


def vat_report(year: int) -> VatReport:
    """The VAT report of fiscal ``year`` from the bookkeeping records only (T2.1, R2.3).

    Per month (by the issue date printed on each record) and for the year,
    per VAT rate: sales net, VAT and gross from receipts and invoices, the
    credits deducted (credit notes, as positive amounts) and what is left.
    Reads the year's records in one query and nothing else, so the report
    is the same before and after customer data is anonymised.
    """
    rows = db.session.execute(
        select(BookkeepingRecord.kind, BookkeepingRecord.content).where(
            BookkeepingRecord.fiscal_year == year,
            BookkeepingRecord.kind.in_(SALES_KINDS + CREDIT_KINDS),
        )
    ).all()
    sales: dict[int, list[RateAmounts]] = {month: [] for month in range(1, 13)}
    credited: dict[int, list[RateAmounts]] = {month: [] for month in range(1, 13)}
    for kind, content in rows:
        month = date.fromisoformat(content["issued_on"]).month
        if kind in CREDIT_KINDS:
            credited[month].extend(_negated(amount) for amount in _rates_of(content))
        else:
            sales[month].extend(_rates_of(content))
    months = tuple(
        VatPeriod(year, month, _vat_rates(sales[month], credited[month])) for month in range(1, 13)
    )
    year_rates = _vat_rates(
        [amount for month in sales.values() for amount in month],
        [amount for month in credited.values() for amount in month],
    )
    return VatReport(year=year, months=months, rates=year_rates, record_count=len(rows))


# --- CSV export -----------------------------------------------------------------------------

CSV_HEADER = (
    "Typ",
    "Nummer",
    "Datum",
    "Ordernummer",
    "Krediterar",
    "Momssats",
    "Netto",
    "Moms",
    "Summa",
)


def _csv_amount(ore: int) -> str:
    """``-129900`` → ``-1299,00`` (kronor, decimal comma, no thousands separator)."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    return f"{sign}{kronor},{rest:02d}"


def _csv_text(value: str | None) -> str:
    """A text cell that a spreadsheet will not run as a formula."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def records_csv(year: int) -> str:
    """The records of fiscal ``year`` as CSV (semicolons, as Swedish spreadsheets expect):
    one row per record and VAT rate, amounts in kronor with a decimal comma."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in records(year).rows:
        for rate in row.rates or (RateAmounts(0),):
            writer.writerow(
                (
                    row.kind_label,
                    row.number,
                    row.issued_on.isoformat(),
                    _csv_text(row.order_number),
                    _csv_text(row.credits),
                    pdf.percent(rate.rate_bp).replace("\u00a0", " "),
                    _csv_amount(rate.net_ore),
                    _csv_amount(rate.vat_ore),
                    _csv_amount(rate.gross_ore),
                )
            )
    return out.getvalue()
