"""Staff course desk: roles, accepting bookings (T9.1), cancellations by letter or mail (T9.3)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask

from shop.extensions import db
from shop.models import Course, CourseBooking, CourseCancellation, OutboxMessage
from shop.models.customer import Role
from tests.conftest import new_client, post_form
from tests.course_helpers import START, book, make_booker, make_course
from tests.factories import NOW, make_customer
from tests.web.test_documents import log_in, staff_client


@pytest.fixture
def frozen() -> Iterator[object]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


pytestmark = pytest.mark.usefixtures("frozen")


def test_pages_answer_staff_refuse_customers_and_send_anonymous_to_login(app: Flask) -> None:
    course = make_course()
    booking = book(course, make_booker(), "Alva")
    urls = ["/staff/kurser", f"/staff/kurser/{course.id}", f"/staff/kurser/bokning/{booking.id}"]
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    for url in urls:
        assert staff.get(url).status_code == 200, url
    make_customer(email="kund@example.se")
    customer = new_client(app)
    log_in(customer, "kund@example.se")
    anonymous = new_client(app)
    for url in urls:
        assert customer.get(url).status_code == 403, url
        assert "/konto/logga-in" in anonymous.get(url).location, url
    assert staff.get("/staff/kurser/999999").status_code == 404
    assert staff.get("/staff/kurser/bokning/999999").status_code == 404
    response = post_form(
        customer, f"/staff/kurser/bokning/{booking.id}/godkann", {}, form_url="/konto/uppgifter"
    )
    assert response.status_code == 403


def test_T9_1_staff_accept_sends_the_binding_confirmation_once(app: Flask) -> None:
    course = make_course()
    booking = book(course, make_booker("pia@example.se"), "Alva", "Ture")
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    desk = staff.get("/staff/kurser").get_data(as_text=True)
    assert "Bokningar att godkänna" in desk
    assert course.title in desk
    assert staff.post(f"/staff/kurser/bokning/{booking.id}/godkann", data={}).status_code == 400
    for _attempt in range(2):
        response = post_form(
            staff, f"/staff/kurser/bokning/{booking.id}/godkann", {}, form_url="/staff/kurser"
        )
        assert response.status_code == 302
    assert db.session.get(CourseBooking, booking.id).status == "confirmed"  # type: ignore[union-attr]
    assert db.session.query(OutboxMessage).filter_by(template="course_confirmation").count() == 1


def test_T9_3_staff_enter_a_letter_with_its_received_date(app: Flask) -> None:
    course = make_course(fee_ore=150000)
    booking = book(course, make_booker(), "Alva", "Ture", accept=True)
    alva = booking.participants[0]
    received = START - timedelta(days=29)
    later = START - timedelta(days=10)  # entered late: the received date decides
    with time_machine.travel(
        datetime(later.year, later.month, later.day, 9, tzinfo=UTC), tick=False
    ):
        staff = staff_client(app, "personal@example.se", Role.STAFF)
        url = f"/staff/kurser/bokning/{booking.id}"
        data = {
            "participant": str(alva.id),
            "received_on": received.isoformat(),
            "channel": "letter",
        }
        preview = post_form(staff, url, data)
        assert preview.status_code == 200
        assert "0,00\xa0kr" in preview.get_data(as_text=True)
        future = post_form(staff, url, {**data, "received_on": "2030-01-01"})
        assert future.status_code == 400
        assert "framtiden" in future.get_data(as_text=True)
        none = post_form(staff, url, {"received_on": received.isoformat(), "channel": "letter"})
        assert none.status_code == 400
        done = post_form(staff, url, {**data, "confirm": "1"})
        assert done.status_code == 302
    (row,) = db.session.query(CourseCancellation).all()
    assert (row.kept_ore, row.credited_ore, row.channel, row.received_on) == (
        0,
        150000,
        "letter",
        received,
    )
    assert row.recorded_by.startswith("staff:")


def test_T9_5_staff_cancel_the_course_from_its_page(app: Flask) -> None:
    course = make_course()
    book(course, make_booker("pia@example.se"), "Alva", accept=True)
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = f"/staff/kurser/{course.id}"
    assert "Ställ in kursen" in staff.get(url).get_data(as_text=True)
    assert staff.post(f"{url}/stall-in", data={"reason": "x"}).status_code == 400  # no CSRF
    empty = post_form(staff, f"{url}/stall-in", {"reason": ""}, form_url=url)
    assert empty.status_code == 400
    late = START - timedelta(days=13)
    with time_machine.travel(datetime(late.year, late.month, late.day, 9, tzinfo=UTC), tick=False):
        staff = staff_client(app, "personal2@example.se", Role.STAFF)
        refused = post_form(staff, f"{url}/stall-in", {"reason": "Sjuk lärare"}, form_url=url)
        assert refused.status_code == 400
        assert "14 dagar" in refused.get_data(as_text=True)
        done = post_form(
            staff,
            f"{url}/stall-in",
            {"reason": "Sjuk lärare", "override_reason": "Beslut av chefen"},
            form_url=url,
        )
        assert done.status_code == 302
    assert db.session.query(OutboxMessage).filter_by(template="course_cancelled").count() == 1
    cancelled = db.session.get(Course, course.id)
    assert cancelled is not None
    assert "Beslut av chefen" in (cancelled.cancel_reason or "")


def test_teacher_sees_only_own_course_names_and_booker_phone(app: Flask) -> None:
    from shop.services.customers import create_staff_member
    from tests.factories import PASSWORD

    teacher = create_staff_member(
        email="larare@example.se",
        name="Lena Lärare",
        password=PASSWORD,
        roles=[Role.TEACHER],
        now=NOW,
    )
    own = make_course(title="Min fiolkurs", teacher=teacher)
    other = make_course(title="Annans kurs")
    booking = book(own, make_booker("pia@example.se"), "Alva", "Ture", accept=True)
    book(own, make_booker(), "Väntande")  # pending: not on the list
    client = new_client(app)
    log_in(client, "larare@example.se")
    listing = client.get("/kurser/larare").get_data(as_text=True)
    assert "Min fiolkurs" in listing
    assert "Annans kurs" not in listing
    page = client.get(f"/kurser/larare/{own.id}").get_data(as_text=True)
    assert "Alva" in page
    assert "Ture" in page
    assert "070-123 45 67" in page
    assert "Väntande" not in page
    assert "pia@example.se" not in page  # names and phone only
    assert "2016-05-01" not in page  # no birth dates
    assert client.get(f"/kurser/larare/{other.id}").status_code == 404
    assert client.get("/staff/kurser").status_code == 403
    assert client.get(f"/kurser/bokning/{booking.id}").status_code == 404
    customer = new_client(app)
    make_customer(email="kund@example.se")
    log_in(customer, "kund@example.se")
    assert customer.get(f"/kurser/larare/{own.id}").status_code == 403


def test_T9_4_organisation_asks_staff_approve_through_the_pages(app: Flask) -> None:
    from shop.domain.buyers import BuyerKind
    from shop.models import SeatTransfer

    course = make_course()
    booking = book(
        course,
        make_booker("skola@example.se", kind="organisation"),
        "Elev Ett",
        kind=BuyerKind.ORGANISATION,
        accept=True,
    )
    school = new_client(app)
    log_in(school, "skola@example.se")
    url = f"/kurser/bokning/{booking.id}/overlat"
    assert "Överlåtelse av plats" in school.get(f"/kurser/bokning/{booking.id}").get_data(
        as_text=True
    )
    data = {
        "participant": str(booking.participants[0].id),
        "name": "Elev Två",
        "birth_date": "2015-06-01",
    }
    outsider = post_form(school, url, data)
    assert outsider.status_code == 400
    assert "samma organisation" in outsider.get_data(as_text=True)
    assert post_form(school, url, {**data, "same_organisation": "y"}).status_code == 302
    other = new_client(app)
    make_customer(email="annan@example.se")
    log_in(other, "annan@example.se")
    assert other.get(url).status_code == 404
    transfer = db.session.query(SeatTransfer).one()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    assert "Elev Två" in staff.get("/staff/kurser").get_data(as_text=True)
    decide = f"/staff/kurser/overlatelse/{transfer.id}/godkann"
    assert post_form(staff, decide, {}, form_url="/staff/kurser").status_code == 302
    assert (
        post_form(
            staff, f"/staff/kurser/overlatelse/{transfer.id}/fel", {}, form_url="/staff/kurser"
        ).status_code
        == 404
    )
    page = school.get(f"/kurser/bokning/{booking.id}").get_data(as_text=True)
    assert "Godkänd" in page
    assert "Överlåten" in page


def test_T9_5_finance_marks_the_refund_paid_out_once(app: Flask) -> None:
    from shop.models import CourseRefund
    from shop.services import course_invoicing, courses, invoicing

    course = make_course()
    booking = book(course, make_booker("pia@example.se"), "Alva", accept=True)
    day = START - timedelta(days=20)
    at_day = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    course_invoicing._issue(booking, now=at_day, actor="system")
    db.session.commit()
    invoice = db.session.get(CourseBooking, booking.id).invoice  # type: ignore[union-attr]
    assert invoice is not None
    invoicing.register_payment(
        invoice,
        amount_ore=invoice.total_ore,
        paid_on=day,
        reference="bg",
        registered_by="system",
        now=at_day,
    )
    courses.cancel_course(
        course, reason="Sjuk lärare", override_reason=None, staff_id=1, now=at_day
    )
    refund = db.session.query(CourseRefund).one()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = f"/staff/kurser/aterbetalning/{refund.id}/utbetald"
    assert post_form(staff, url, {}, form_url="/staff/kurser").status_code == 403
    finance = staff_client(app, "ekonomi@example.se", Role.FINANCE)
    desk = finance.get("/staff/kurser").get_data(as_text=True)
    assert "Markera som utbetald" in desk
    for _attempt in range(2):
        assert post_form(finance, url, {}, form_url="/staff/kurser").status_code == 302
    db.session.expire_all()
    assert db.session.get(CourseRefund, refund.id).status == "done"  # type: ignore[union-attr]
    assert db.session.query(OutboxMessage).filter_by(template="course_refund").count() == 1
    assert (
        post_form(
            finance, "/staff/kurser/aterbetalning/999/utbetald", {}, form_url="/staff/kurser"
        ).status_code
        == 404
    )
