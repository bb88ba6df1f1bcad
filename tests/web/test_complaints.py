"""Complaints on the web (T6): "Reklamera vara" from the account and a guest link, photos only
for their owner and staff, the staff list, page and decision, the dashboard tile."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.extensions import db
from shop.models import AuditEntry, Complaint, Customer, Order, OrderLine, OutboxMessage
from shop.models.customer import Role
from shop.services import complaints, orders
from tests.conftest import csrf_token_from, new_client, post_form
from tests.factories import NOW, make_customer
from tests.services.test_complaints import JPEG, PDF, delivered_order
from tests.web.test_documents import log_in, staff_client

pytestmark = pytest.mark.usefixtures("frozen", "uploads")


@pytest.fixture
def frozen() -> object:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def uploads(app: Flask, tmp_path: Path) -> Path:
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    return tmp_path / "uploads"


def owner_client(app: Flask, order: Order) -> FlaskClient:
    client = new_client(app)
    assert order.customer_id is not None
    customer = db.session.get(Customer, order.customer_id)
    assert customer is not None
    log_in(client, customer.email)
    return client


def report_url(order: Order, line: OrderLine) -> str:
    return f"/konto/ordrar/{order.number}/reklamera/{line.id}"


def post_report(client: FlaskClient, url: str, data: dict[str, object]) -> object:
    page = client.get(url)
    assert page.status_code == 200
    payload = dict(data)
    payload["csrf_token"] = csrf_token_from(page.get_data(as_text=True))
    return client.post(url, data=payload, content_type="multipart/form-data")


def reported(order: Order) -> list[Complaint]:
    return list(db.session.scalars(select(Complaint).filter_by(order_id=order.id)))


# --- The customer -------------------------------------------------------------------------


def test_the_order_page_offers_reklamera_vara_per_item_t6_1(app: Flask) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    client = owner_client(app, order)
    page = client.get(f"/konto/ordrar/{order.number}").get_data(as_text=True)
    assert "Reklamera vara" in page
    assert report_url(order, line) in page


def test_the_owner_reports_with_a_photo_and_sees_it_on_the_order_page_t6_1(app: Flask) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    client = owner_client(app, order)
    response = post_report(
        client,
        report_url(order, line),
        {"description": "Benet har spruckit.", "photos": (io.BytesIO(JPEG), "skada.jpg")},
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    (complaint,) = reported(order)
    assert complaint.description == "Benet har spruckit."
    assert complaint.reported_by.startswith("customer:K-")
    page = client.get(f"/konto/ordrar/{order.number}").get_data(as_text=True)
    assert "Vi går igenom reklamationen." in page
    assert report_url(order, line) not in page  # one open complaint per line
    photo_url = (
        f"/konto/ordrar/{order.number}/reklamationer/{complaint.id}/bilder/{complaint.photos[0].id}"
    )
    assert photo_url in page
    photo = client.get(photo_url)
    assert photo.status_code == 200
    assert photo.mimetype == "image/jpeg"
    assert photo.data == JPEG
    assert photo.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in photo.headers["Cache-Control"]


def test_a_guest_reports_through_the_signed_link(app: Flask, client: FlaskClient) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    token = orders.guest_order_token(order)
    assert "Reklamera vara" in client.get(f"/order/{token}").get_data(as_text=True)
    url = f"/order/{token}/reklamera/{line.id}"
    response = post_report(
        client, url, {"description": "Trasig.", "photos": (io.BytesIO(JPEG), "a.jpg")}
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response.headers["Location"] == f"/order/{token}"  # type: ignore[attr-defined]
    (complaint,) = reported(order)
    photo = f"/order/{token}/reklamationer/{complaint.id}/bilder/{complaint.photos[0].id}"
    assert client.get(photo).status_code == 200


def test_a_late_consumer_complaint_is_taken_with_a_review_note_t6_2(app: Flask) -> None:
    order, line = delivered_order(date(2026, 9, 20))
    client = owner_client(app, order)
    response = post_report(client, report_url(order, line), {"description": "Sprucket."})
    assert response.status_code == 302  # type: ignore[attr-defined]
    page = client.get(f"/konto/ordrar/{order.number}").get_data(as_text=True)
    assert "vår personal går igenom den" in page
    assert reported(order)[0].window_kind == "statutory"


def test_a_late_organisation_complaint_is_refused_with_the_last_day_t6_1(app: Flask) -> None:
    order, line = delivered_order(date(2026, 9, 20), buyer_kind="organisation")
    client = owner_client(app, order)
    response = post_report(client, report_url(order, line), {"description": "Sprucket."})
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "för sent: sista dag var 20 november 2026" in text
    assert "Sprucket." in text
    assert reported(order) == []


def test_a_missing_description_re_renders_the_form_keeping_the_date(app: Flask) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    client = owner_client(app, order)
    response = post_report(
        client, report_url(order, line), {"description": "", "discovered_on": "2026-11-20"}
    )
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Beskriv felet på varan." in text
    assert 'value="2026-11-20"' in text
    assert reported(order) == []


def test_a_wrong_file_type_re_renders_the_form_keeping_the_description(app: Flask) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    client = owner_client(app, order)
    response = post_report(
        client,
        report_url(order, line),
        {"description": "Sprucket ben.", "photos": (io.BytesIO(PDF), "skada.jpg")},
    )
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "skada.jpg är ingen bild vi kan ta emot" in text
    assert "Sprucket ben." in text
    assert reported(order) == []


def test_too_big_a_photo_re_renders_the_form_with_the_limit(app: Flask) -> None:
    app.config["COMPLAINT_PHOTO_MAX_BYTES"] = 200 * 1024
    order, line = delivered_order(date(2026, 11, 1))
    client = owner_client(app, order)
    big = JPEG + b"\x00" * (200 * 1024)
    response = post_report(
        client,
        report_url(order, line),
        {"description": "Sprucket ben.", "photos": (io.BytesIO(big), "stor.jpg")},
    )
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "stor.jpg är för stor. En bild får vara högst 200 kB." in text
    assert "Sprucket ben." in text


def test_a_second_complaint_while_one_is_open_is_refused_with_a_reason(app: Flask) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    client = owner_client(app, order)
    assert post_report(client, report_url(order, line), {"description": "Ett."}).status_code == 302  # type: ignore[attr-defined]
    again = post_report(client, report_url(order, line), {"description": "Två."})
    assert again.status_code == 400  # type: ignore[attr-defined]
    assert "redan en öppen reklamation" in again.get_data(as_text=True)  # type: ignore[attr-defined]
    assert len(reported(order)) == 1


def test_posting_without_a_csrf_token_is_refused(app: Flask) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    client = owner_client(app, order)
    response = client.post(report_url(order, line), data={"description": "x"})
    assert response.status_code == 400
    assert reported(order) == []


def test_nobody_else_reaches_a_complaint_form_or_photo(app: Flask) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    complaint = complaints.report(
        line,
        description="Sprucket.",
        discovered_on=None,
        photos=[complaints.Upload("a.jpg", JPEG)],
        actor="customer:K-TEST",
        now=NOW,
    )
    photo_id = complaint.photos[0].id
    other_order, other_line = delivered_order(date(2026, 11, 1))
    other_complaint = complaints.report(
        other_line,
        description="Annat.",
        discovered_on=None,
        photos=[complaints.Upload("b.jpg", JPEG)],
        actor="customer:K-TEST",
        now=NOW,
    )
    stranger = new_client(app)
    make_customer(email="annan@example.se")
    log_in(stranger, "annan@example.se")
    token = orders.guest_order_token(other_order)
    urls = [
        report_url(order, line),
        f"/konto/ordrar/{order.number}/reklamationer/{complaint.id}/bilder/{photo_id}",
        f"/order/{token}/reklamera/{line.id}",
        f"/order/{token}/reklamationer/{complaint.id}/bilder/{photo_id}",
        f"/order/not-a-token/reklamera/{line.id}",
    ]
    for url in urls:
        assert stranger.get(url).status_code == 404, url
    owner = owner_client(app, order)
    # Their own order, but another order's line, complaint or photo: 404 too.
    for url in [
        f"/konto/ordrar/{order.number}/reklamera/{other_line.id}",
        f"/konto/ordrar/{order.number}/reklamationer/{other_complaint.id}/bilder/"
        f"{other_complaint.photos[0].id}",
        f"/konto/ordrar/{order.number}/reklamationer/{complaint.id}/bilder/"
        f"{other_complaint.photos[0].id}",
    ]:
        assert owner.get(url).status_code == 404, url
    anonymous = new_client(app)
    assert anonymous.get(report_url(order, line)).status_code == 302


# --- Staff --------------------------------------------------------------------------------


def open_complaint(delivered_on: date = date(2026, 11, 1), **kwargs: str) -> Complaint:
    _, line = delivered_order(delivered_on, **kwargs)  # type: ignore[arg-type]
    return complaints.report(
        line,
        description="Benet har spruckit.",
        discovered_on=None,
        photos=[complaints.Upload("a.jpg", JPEG)],
        actor="customer:K-TEST",
        now=NOW,
    )


def staff_urls(complaint: Complaint) -> list[str]:
    return [
        "/staff/reklamationer",
        "/staff/reklamationer?status=open&fonster=statutory&q=1",
        f"/staff/reklamationer/{complaint.id}",
        f"/staff/reklamationer/{complaint.id}/bilder/{complaint.photos[0].id}",
    ]


def test_staff_pages_need_the_staff_role(app: Flask) -> None:
    complaint = open_complaint()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    teacher = staff_client(app, "larare@example.se", Role.TEACHER)
    customer = owner_client(app, complaint.order)
    anonymous = new_client(app)
    for url in staff_urls(complaint):
        assert staff.get(url).status_code == 200, url
        assert teacher.get(url).status_code == 403, url
        assert customer.get(url).status_code == 403, url
        assert anonymous.get(url).status_code == 302, url
    for url in (
        f"/staff/reklamationer/{complaint.id}/beslut",
        f"/staff/reklamationer/{complaint.id}/returfraktsedel",
    ):
        for other in (teacher, customer):
            token = csrf_token_from(other.get("/").get_data(as_text=True))
            data = {"csrf_token": token, "outcome": "repair", "reason": "x", "reference": "x"}
            assert other.post(url, data=data).status_code == 403, url
    assert staff.get("/staff/reklamationer/999999").status_code == 404
    assert staff.get(f"/staff/reklamationer/{complaint.id}/bilder/999999").status_code == 404


def test_the_staff_page_shows_the_window_and_its_dates_t6_2(app: Flask) -> None:
    complaint = open_complaint(date(2026, 9, 20))
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    text = staff.get(f"/staff/reklamationer/{complaint.id}").get_data(as_text=True)
    assert "Granskas: efter 2 månader, inom konsumentköplagen" in text
    assert "(T6.2)" in text
    assert "2026-09-20" in text  # delivered
    assert "2026-11-20" in text  # last normal day
    assert "2027-01-25" in text  # last statutory day
    assert "2026-11-23" in text  # reported
    assert "Benet har spruckit." in text


def test_the_list_puts_open_complaints_first_and_filters(app: Flask) -> None:
    first = open_complaint()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    second = open_complaint(date(2026, 9, 20))
    post_form(
        staff,
        f"/staff/reklamationer/{first.id}/beslut",
        {"outcome": "repair", "reason": "Lagas."},
        form_url=f"/staff/reklamationer/{first.id}",
    )
    text = staff.get("/staff/reklamationer").get_data(as_text=True)
    assert text.index(second.order.number) < text.index(first.order.number)
    only_open = staff.get("/staff/reklamationer?status=open").get_data(as_text=True)
    assert second.order.number in only_open
    assert first.order.number not in only_open
    normal = staff.get("/staff/reklamationer?fonster=normal").get_data(as_text=True)
    assert first.order.number in normal
    assert second.order.number not in normal


def test_a_decision_reaches_the_customer_page_mail_and_order_history(app: Flask) -> None:
    complaint = open_complaint()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    response = post_form(
        staff,
        f"/staff/reklamationer/{complaint.id}/beslut",
        {"outcome": "refund", "reason": "Vi betalar tillbaka ett ben.", "refund": "149,50"},
        form_url=f"/staff/reklamationer/{complaint.id}",
    )
    assert response.status_code == 302
    db.session.refresh(complaint)
    assert (complaint.outcome, complaint.refund_ore) == ("refund", 14950)
    customer_page = owner_client(app, complaint.order).get(
        f"/konto/ordrar/{complaint.order.number}"
    )
    text = customer_page.get_data(as_text=True)
    assert "Vi betalar tillbaka ett ben." in text
    assert "Återbetalning" in text
    assert "149,50" in text
    mail = db.session.scalars(select(OutboxMessage).filter_by(template="complaint_decision")).one()
    assert "Vi betalar tillbaka ett ben." in mail.body_text
    order_page = staff.get(f"/staff/ordrar/{complaint.order.number}").get_data(as_text=True)
    assert f"/staff/reklamationer/{complaint.id}" in order_page
    assert "complaint.reported" in order_page
    assert "complaint.decided" in order_page
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("complaint.%"))
    ).all()
    assert sorted(actions) == ["complaint.decided", "complaint.reported"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"outcome": "repair", "reason": ""}, "Skriv ett motiv som kunden kan läsa."),
        ({"reason": "Saknar beslut."}, "Välj ett beslut."),
        ({"outcome": "refund", "reason": "Pengar.", "refund": ""}, "Ange beloppet"),
        ({"outcome": "refund", "reason": "Pengar.", "refund": "tio"}, "Ange beloppet i kronor"),
        ({"outcome": "refund", "reason": "Pengar.", "refund": "600,01"}, "större än varans pris"),
    ],
)
def test_a_bad_decision_re_renders_the_page_with_a_message(
    app: Flask, data: dict[str, str], message: str
) -> None:
    complaint = open_complaint()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    response = post_form(
        staff,
        f"/staff/reklamationer/{complaint.id}/beslut",
        data,
        form_url=f"/staff/reklamationer/{complaint.id}",
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.refresh(complaint)
    assert complaint.is_open


def test_staff_record_the_return_freight_label_t6_3(app: Flask) -> None:
    complaint = open_complaint()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = f"/staff/reklamationer/{complaint.id}/returfraktsedel"
    form_url = f"/staff/reklamationer/{complaint.id}"
    assert post_form(staff, url, {"reference": ""}, form_url=form_url).status_code == 400
    assert post_form(staff, url, {"reference": "PN-RET-7"}, form_url=form_url).status_code == 302
    db.session.refresh(complaint)
    assert complaint.return_label_reference == "PN-RET-7"
    text = owner_client(app, complaint.order).get(f"/konto/ordrar/{complaint.order.number}")
    assert "PN-RET-7" in text.get_data(as_text=True)


def test_the_dashboard_tile_counts_open_complaints(app: Flask) -> None:
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    open_complaint()
    open_complaint()
    text = staff.get("/staff/").get_data(as_text=True)
    assert 'Reklamationer: <strong id="complaints-open">2</strong>' in text


def test_the_dashboard_keeps_a_fixed_number_of_queries_with_complaints(app: Flask) -> None:
    from tests.web.test_query_counts import counting_queries

    staff = staff_client(app, "personal@example.se", Role.STAFF)

    def queries() -> int:
        with counting_queries() as seen:
            assert staff.get("/staff/").status_code == 200
        return len(seen)

    open_complaint()
    few = queries()
    for _ in range(3):
        open_complaint()
    assert queries() == few


def test_a_date_that_is_no_date_re_renders_the_form_in_swedish(app: Flask) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    client = owner_client(app, order)
    response = post_report(
        client,
        report_url(order, line),
        {"description": "Sprucket ben.", "discovered_on": "igår"},
    )
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Ange dagen som ÅÅÅÅ-MM-DD." in text
    assert "Sprucket ben." in text
    assert reported(order) == []


def test_a_discovery_before_the_delivery_is_refused_on_the_form_t6_2(app: Flask) -> None:
    order, line = delivered_order(date(2026, 11, 1))
    client = owner_client(app, order)
    response = post_report(
        client,
        report_url(order, line),
        {"description": "Sprucket ben.", "discovered_on": "2026-10-30"},
    )
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "kan inte ligga före leveransen (1 november 2026)" in text
