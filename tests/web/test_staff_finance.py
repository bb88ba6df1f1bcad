"""Finance pages under /staff/ekonomi: roles, records by year, the VAT report, the CSV."""

from __future__ import annotations

import pytest
from flask import Flask

from shop.extensions import db
from shop.models import BookkeepingRecord
from shop.models.customer import Role
from shop.services import receipts
from tests.conftest import new_client
from tests.factories import make_customer
from tests.services.fulfilment_helpers import invoice_order
from tests.services.test_finance import add_record, vat, year_of_records  # noqa: F401
from tests.web.test_documents import log_in, staff_client
from tests.web.test_query_counts import counting_queries

PAGES = (
    "/staff/ekonomi/bokforing",
    "/staff/ekonomi/bokforing?ar=2026&typ=credit_note",
    "/staff/ekonomi/moms?ar=2026",
    "/staff/ekonomi/bokforing.csv?ar=2026",
)


def test_finance_and_admin_see_the_pages_others_get_403_or_login(app: Flask) -> None:
    record = add_record("receipt", "2026-11-03", vat(2500, 24000, 6000), number=1)
    urls = [*PAGES, f"/staff/ekonomi/bokforing/{record.id}"]
    for role in (Role.FINANCE, Role.ADMIN):
        client = staff_client(app, f"{role.value}@example.se", role)
        for url in urls:
            assert client.get(url).status_code == 200, (role, url)
    plain = staff_client(app, "personal@example.se", Role.STAFF)
    make_customer(email="kund@example.se")
    customer = new_client(app)
    log_in(customer, "kund@example.se")
    anonymous = new_client(app)
    for url in [*urls, f"/staff/ekonomi/bokforing/{record.id}/pdf"]:
        assert plain.get(url).status_code == 403, url
        assert customer.get(url).status_code == 403, url
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert "/konto/logga-in" in response.location


@pytest.mark.usefixtures("year_of_records")
def test_records_page_lists_the_year_filtered_by_kind_with_totals(app: Flask) -> None:
    client = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    page = client.get("/staff/ekonomi/bokforing?ar=2026").get_data(as_text=True)
    assert "Bokföringsposter 2026" in page
    assert page.count('class="record record-') == 4
    assert "Summa per momssats" in page
    assert "1\u00a0512,00\u00a0kr" in page  # 300 + 106 + 1 000 - 106 + 212 kr
    page = client.get("/staff/ekonomi/bokforing?ar=2026&typ=credit_note").get_data(as_text=True)
    assert page.count('class="record record-') == 1
    assert "Kvitto 1" in page
    assert "-106,00" in page
    page = client.get("/staff/ekonomi/bokforing?ar=2025").get_data(as_text=True)
    assert page.count('class="record record-') == 1
    for bad in ("?ar=tjugo", "?ar=1999", "?typ=okand"):
        assert client.get(f"/staff/ekonomi/bokforing{bad}").status_code == 400, bad


@pytest.mark.usefixtures("year_of_records")
def test_a_record_shows_its_frozen_content_and_pdf(app: Flask) -> None:
    note = db.session.query(BookkeepingRecord).filter_by(kind="credit_note").one()
    client = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    page = client.get(f"/staff/ekonomi/bokforing/{note.id}").get_data(as_text=True)
    assert "Kreditfaktura 1" in page
    assert "Krediterar" in page
    assert "2026-11-28" in page
    assert client.get("/staff/ekonomi/bokforing/999999").status_code == 404
    assert client.get("/staff/ekonomi/bokforing/999999/pdf").status_code == 404


def test_a_stored_pdf_is_served_as_issued(app: Flask) -> None:
    order = invoice_order()
    record = receipts.record_for_order(order)
    assert record is not None
    client = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    response = client.get(f"/staff/ekonomi/bokforing/{record.id}/pdf")
    assert response.status_code == 200
    assert response.data == record.pdf
    assert 'filename="faktura-1.pdf"' in response.headers["Content-Disposition"]


@pytest.mark.usefixtures("year_of_records")
def test_vat_report_page_per_month(app: Flask) -> None:
    client = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    page = client.get("/staff/ekonomi/moms?ar=2026").get_data(as_text=True)
    assert "Momsrapport 2026" in page
    assert 'data-month="2026-11"' in page
    assert 'data-month="2026-12"' in page
    assert 'data-month="2026-10"' not in page
    assert "Avgår krediterat" in page
    assert "272,00" in page  # the year's output VAT


@pytest.mark.usefixtures("year_of_records")
def test_csv_export_of_a_year(app: Flask) -> None:
    client = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    response = client.get("/staff/ekonomi/bokforing.csv?ar=2026")
    assert response.mimetype == "text/csv"
    assert 'filename="bokforing-2026.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeffTyp;Nummer;Datum")
    assert text.count("\r\n") == 6


@pytest.mark.usefixtures("year_of_records")
def test_pages_use_a_fixed_number_of_queries(app: Flask) -> None:
    client = staff_client(app, "ekonomi@example.se", Role.FINANCE)

    def measure() -> dict[str, int]:
        counts = {}
        for url in PAGES:
            client.get(url)
            with counting_queries() as statements:
                assert client.get(url).status_code == 200
            counts[url] = len(statements)
        return counts

    few = measure()
    for n in range(15):
        add_record("credit_note", "2026-11-30", vat(600, -100 * n, -6 * n))
    assert measure() == few
