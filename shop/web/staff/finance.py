"""Staff: finance pages (finance role): bookkeeping records, the VAT report, the CSV export.

``/staff/ekonomi/bokforing?ar=2026&typ=credit_note`` lists a fiscal year's
records (kvitton, fakturor, kreditfakturor) with totals per VAT rate;
``/staff/ekonomi/bokforing/<id>`` shows one record's frozen content and
``.../pdf`` its PDF; ``/staff/ekonomi/moms?ar=2026`` is the VAT report per
month; ``/staff/ekonomi/bokforing.csv?ar=2026`` exports the year. Everything
comes from :mod:`shop.services.finance`, which reads the records only.
Routes on the ``staff`` blueprint (imported from :mod:`shop.web.staff.views`).
"""

from __future__ import annotations

from flask import Response, abort, render_template, request
from flask_babel import lazy_gettext as _l

from shop import clock
from shop.models.customer import Role
from shop.services import finance, receipts
from shop.web.auth import staff_required
from shop.web.staff.views import bp

KIND_LABELS = {
    "receipt": _l("Kvitto"),
    "invoice": _l("Faktura"),
    "credit_note": _l("Kreditfaktura"),
}
#: ``?typ=`` values of the record filter.
KINDS = tuple(finance.KIND_LABELS)


def _year() -> int:
    """``?ar=`` (a fiscal year), this year by default; anything else is a bad request."""
    raw = request.args.get("ar", "").strip()
    if not raw:
        return clock.today().year
    if not raw.isdigit() or not 2000 <= int(raw) <= 2999:
        abort(400)
    return int(raw)


def _years(year: int) -> list[int]:
    return sorted({*finance.fiscal_years(), year, clock.today().year}, reverse=True)


@bp.get("/ekonomi/bokforing")
@staff_required(Role.FINANCE)
def finance_records() -> str:
    year = _year()
    kind = request.args.get("typ", "").strip() or None
    if kind is not None and kind not in KINDS:
        abort(400)
    return render_template(
        "staff/finance_records.html",
        listing=finance.records(year, kind),
        years=_years(year),
        kinds=KIND_LABELS,
    )


@bp.get("/ekonomi/bokforing/<int:record_id>")
@staff_required(Role.FINANCE)
def finance_record(record_id: int) -> str:
    record = finance.record(record_id)
    if record is None:
        abort(404)
    return render_template(
        "staff/finance_record.html",
        record=record,
        doc=record.content,
        dates=receipts.document_dates(record.content),
        kinds=KIND_LABELS,
    )


@bp.get("/ekonomi/bokforing/<int:record_id>/pdf")
@staff_required(Role.FINANCE)
def finance_record_pdf(record_id: int) -> Response:
    record = finance.record(record_id)
    data = finance.record_pdf(record) if record is not None else None
    if record is None or data is None:
        abort(404)
    response = Response(data, mimetype="application/pdf")
    filename = {"receipt": "kvitto", "invoice": "faktura"}.get(record.kind, "kreditfaktura")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}-{record.number}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/ekonomi/bokforing.csv")
@staff_required(Role.FINANCE)
def finance_records_csv() -> Response:
    year = _year()
    response = Response("\ufeff" + finance.records_csv(year), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="bokforing-{year}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/ekonomi/moms")
@staff_required(Role.FINANCE)
def finance_vat() -> str:
    year = _year()
    return render_template(
        "staff/finance_vat.html", report=finance.vat_report(year), years=_years(year)
    )
