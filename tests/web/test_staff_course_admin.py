"""Staff course admin: creating and editing courses (T9), declining a pending booking (T9.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine
from flask import Flask

from shop.extensions import db
from shop.models import AuditEntry, Course, CourseBooking, OutboxMessage
from shop.models.customer import Role
from shop.services import course_admin
from tests.conftest import new_client, post_form
from tests.course_helpers import book, make_booker, make_course
from tests.factories import NOW, make_customer
from tests.web.test_documents import log_in, staff_client


@pytest.fixture
def frozen() -> Iterator[object]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


pytestmark = pytest.mark.usefixtures("frozen")


def test_T9_1_staff_decline_with_a_reason_the_booker_sees(app: Flask) -> None:
    course = make_course()
    booking = book(course, make_booker("pia@example.se"), "Alva")
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = f"/staff/kurser/bokning/{booking.id}"
    page = staff.get(url).get_data(as_text=True)
    assert "Avböj bokningen" in page
    empty = post_form(staff, f"{url}/avboj", {"reason": "  "}, form_url=url)
    assert empty.status_code == 400
    assert "Ange varför bokningen avböjs." in empty.get_data(as_text=True)
    assert db.session.get(CourseBooking, booking.id).status == "pending"  # type: ignore[union-attr]
    for _attempt in range(2):
        done = post_form(staff, f"{url}/avboj", {"reason": "Kursen är redan full."}, form_url=url)
        assert done.status_code == 302
    assert db.session.get(CourseBooking, booking.id).status == "declined"  # type: ignore[union-attr]
    assert db.session.query(OutboxMessage).filter_by(template="course_declined").count() == 1
    assert db.session.query(AuditEntry).filter_by(action="course.declined").count() == 1
    assert "Kursen är redan full." in staff.get(url).get_data(as_text=True)
    again = post_form(staff, f"{url}/avboj", {"reason": ""}, form_url="/staff/kurser")
    assert again.status_code == 302
    booker = new_client(app)
    log_in(booker, "pia@example.se")
    own = booker.get(f"/kurser/bokning/{booking.id}").get_data(as_text=True)
    assert "Avböjd" in own
    assert "Kursen är redan full." in own


def test_decline_is_for_staff_only(app: Flask) -> None:
    course = make_course()
    booking = book(course, make_booker(), "Alva")
    make_customer(email="kund@example.se")
    customer = new_client(app)
    log_in(customer, "kund@example.se")
    response = post_form(
        customer,
        f"/staff/kurser/bokning/{booking.id}/avboj",
        {"reason": "Nej"},
        form_url="/konto/uppgifter",
    )
    assert response.status_code == 403
    assert db.session.get(CourseBooking, booking.id).status == "pending"  # type: ignore[union-attr]


FORM = {
    "title": "Gitarr för vuxna",
    "slug": "",
    "description": "Ackord och komp.",
    "teacher_id": "0",
    "teacher_name": "Lena Lärare",
    "place": "Malmö",
    "instrument": "Gitarr",
    "min_age": "18",
    "max_age": "",
    "seats": "6",
    "fee": "1 200,00",
    "vat_rate_bp": "2500",
    "sessions": "2027-01-12 18:00-20:00\r\n2027-01-19 18:00-20:00",
}


def test_course_forms_are_for_staff_only(app: Flask) -> None:
    course = make_course()
    urls = ["/staff/kurser/ny", f"/staff/kurser/{course.id}/andra"]
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    for url in urls:
        assert staff.get(url).status_code == 200, url
    teacher = staff_client(app, "larare@example.se", Role.TEACHER)
    make_customer(email="kund@example.se")
    customer = new_client(app)
    log_in(customer, "kund@example.se")
    for client in (teacher, customer):
        for url in urls:
            assert client.get(url).status_code == 403, url
        response = post_form(client, "/staff/kurser/ny", FORM, form_url="/konto/uppgifter")
        assert response.status_code == 403
    assert staff.get("/staff/kurser/999999/andra").status_code == 404
    assert db.session.query(Course).count() == 1


def test_staff_create_a_course_with_teacher_fee_in_kronor_and_sessions(app: Flask) -> None:
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    staff_client(app, "larare@example.se", Role.TEACHER)
    desk = staff.get("/staff/kurser").get_data(as_text=True)
    assert "/staff/kurser/ny" in desk
    page = staff.get("/staff/kurser/ny").get_data(as_text=True)
    assert "larare@example.se" in page
    (lena,) = course_admin.teachers()
    response = post_form(
        staff,
        "/staff/kurser/ny",
        {**FORM, "teacher_id": str(lena.id), "teacher_name": ""},
        form_url="/staff/kurser/ny",
    )
    assert response.status_code == 302
    course = db.session.query(Course).one()
    assert (course.slug, course.fee_ore, course.seats, course.min_age, course.max_age) == (
        "gitarr-for-vuxna",
        120000,
        6,
        18,
        None,
    )
    assert (course.teacher_id, course.teacher_name) == (lena.id, lena.name)
    assert len(course.sessions) == 2
    assert db.session.query(AuditEntry).filter_by(action="course.created").count() == 1
    edit = staff.get(f"/staff/kurser/{course.id}/andra").get_data(as_text=True)
    assert "2027-01-12 18:00-20:00" in edit
    assert "1\xa0200,00" in edit


def test_bad_course_input_re_renders_with_swedish_errors_and_keeps_the_text(app: Flask) -> None:
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    bad = {
        **FORM,
        "fee": "tolv kronor",
        "seats": "noll",
        "sessions": "2027-01-12 18:00-20:00\r\n12 januari kl 18",
    }
    response = post_form(staff, "/staff/kurser/ny", bad, form_url="/staff/kurser/ny")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Ange kursavgiften i kronor, till exempel 1 200,00." in page
    assert "Ange mellan 1 och 1000 platser." in page
    assert "Rad 2: skriv kurstillfället som ÅÅÅÅ-MM-DD TT:MM-TT:MM." in page
    assert "12 januari kl 18" in page
    assert "Ackord och komp." in page
    assert db.session.query(Course).count() == 0


def test_T9_1_edit_page_explains_the_lock_and_refuses_a_new_fee(app: Flask) -> None:
    course = make_course(seats=3)
    book(course, make_booker(), "Alva", "Ture")
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = f"/staff/kurser/{course.id}/andra"
    page = staff.get(url).get_data(as_text=True)
    assert 'id="course-locked"' in page
    current = {
        **FORM,
        "title": course.title,
        "slug": course.slug,
        "teacher_name": course.teacher_name,
        "place": course.place,
        "min_age": str(course.min_age),
        "max_age": str(course.max_age),
        "fee": "1 500,00",
        "vat_rate_bp": str(course.vat_rate_bp),
        "sessions": course_admin.sessions_text(course),
    }
    refused = post_form(staff, url, {**current, "fee": "1 600,00"}, form_url=url)
    assert refused.status_code == 400
    assert "kursavgift, moms och kurstillfällen kan inte" in refused.get_data(as_text=True)
    fewer = post_form(staff, url, {**current, "seats": "1"}, form_url=url)
    assert fewer.status_code == 400
    assert "redan 2 bokade platser" in fewer.get_data(as_text=True)
    more = post_form(staff, url, {**current, "seats": "5"}, form_url=url)
    assert more.status_code == 302
    assert db.session.get(Course, course.id).seats == 5  # type: ignore[union-attr]
    entry = db.session.query(AuditEntry).filter_by(action="course.updated").one()
    assert entry.details["changes"]["seats"] == {"before": 3, "after": 5}  # type: ignore[index]


def test_T9_5_a_cancelled_course_has_no_edit_form(app: Flask) -> None:
    course = make_course()
    course.cancelled_at = NOW
    course.cancel_reason = "Sjuk lärare"
    db.session.commit()
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    assert f"/staff/kurser/{course.id}/andra" not in staff.get(
        f"/staff/kurser/{course.id}"
    ).get_data(as_text=True)
    response = staff.get(f"/staff/kurser/{course.id}/andra")
    assert response.status_code == 302
