"""Staff create and edit courses (T9): sessions in Stockholm time, seats, locks once booked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select

from shop.extensions import db
from shop.models import AuditEntry, Course
from shop.services import course_admin, courses
from shop.services.course_admin import CourseAdminError, CourseData
from tests.course_helpers import book, make_booker, make_course
from tests.factories import NOW


def data(**changes: object) -> CourseData:
    sessions, errors = course_admin.parse_sessions(
        "2027-01-09 17:00-19:00\n2027-01-02 17:00-19:00\n"
    )
    assert errors == []
    base = CourseData(
        title="Fiolkurs för nybörjare",
        slug="fiolkurs-for-nyborjare",
        description="Vi spelar.",
        teacher_id=None,
        teacher_name="Lena Lärare",
        place="Göteborg",
        online=False,
        instrument="Fiol",
        min_age=6,
        max_age=12,
        seats=8,
        fee_ore=120000,
        vat_rate_bp=2500,
        auto_accept=False,
        sessions=sessions,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_sessions_are_stockholm_time_sorted_and_shown_back_the_same() -> None:
    sessions, errors = course_admin.parse_sessions(
        "2027-06-10 17:00-19:00\n\n2027-01-02 17:00-19:00"
    )
    assert errors == []
    assert sessions[0].starts_at == datetime(2027, 1, 2, 16, 0, tzinfo=UTC)  # CET, UTC+1
    assert sessions[1].starts_at == datetime(2027, 6, 10, 15, 0, tzinfo=UTC)  # CEST, UTC+2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Ange minst ett kurstillfälle."),
        ("2 januari 17-19", "Rad 1: skriv kurstillfället som"),
        ("2027-02-30 17:00-19:00", "Rad 1: datumet eller klockslaget finns inte."),
        ("2027-01-02 17:00-25:00", "Rad 1: datumet eller klockslaget finns inte."),
        ("2027-01-02 19:00-19:00", "Rad 1: sluttiden måste vara efter starttiden."),
        ("2027-01-02 17:00-19:00\n2027-01-02 18:00-20:00", "överlappar"),
    ],
)
def test_bad_session_lines_give_swedish_messages(text: str, message: str) -> None:
    _sessions, errors = course_admin.parse_sessions(text)
    assert any(message in error for error in errors), errors


def test_slug_from_the_title_is_unique() -> None:
    assert course_admin.slugify("Fiolkurs för Nybörjare!") == "fiolkurs-for-nyborjare"


def test_create_course_with_sessions_and_audit(app: Flask) -> None:
    assert course_admin.unique_slug("Fiolkurs för nybörjare") == "fiolkurs-for-nyborjare"
    course = course_admin.create_course(data(), staff_id=3, now=NOW)
    assert course_admin.unique_slug("Fiolkurs för nybörjare") == "fiolkurs-for-nyborjare-2"
    assert [s.starts_at for s in course.sessions] == [
        datetime(2027, 1, 2, 16, 0, tzinfo=UTC),
        datetime(2027, 1, 9, 16, 0, tzinfo=UTC),
    ]
    assert (course.fee_ore, course.vat_rate_bp, course.seats) == (120000, 2500, 8)
    (entry,) = audits("course.created")
    assert entry.actor == "staff:3"
    assert entry.details["after"]["fee_ore"] == 120000  # type: ignore[index]
    with pytest.raises(CourseAdminError) as taken:
        course_admin.create_course(data(), staff_id=3, now=NOW)
    assert taken.value.field == "slug"


def test_a_new_course_cannot_start_today_or_earlier(app: Flask) -> None:
    past, _errors = course_admin.parse_sessions("2026-11-23 17:00-19:00")
    with pytest.raises(CourseAdminError) as problem:
        course_admin.create_course(data(sessions=past), staff_id=1, now=NOW)
    assert problem.value.field == "sessions"
    assert db.session.scalar(select(db.func.count(Course.id))) == 0


def test_edit_without_bookings_audits_only_the_changed_fields(app: Flask) -> None:
    course = course_admin.create_course(data(), staff_id=1, now=NOW)
    later, _errors = course_admin.parse_sessions("2027-02-06 10:00-12:00")
    changes = course_admin.update_course(
        course, data(fee_ore=130000, sessions=later), staff_id=2, now=NOW
    )
    assert changes == {
        "fee_ore": {"before": 120000, "after": 130000},
        "sessions": {
            "before": "2027-01-02 17:00-19:00\n2027-01-09 17:00-19:00",
            "after": "2027-02-06 10:00-12:00",
        },
    }
    (entry,) = audits("course.updated")
    assert entry.details == {"changes": changes}
    assert course_admin.sessions_text(course) == "2027-02-06 10:00-12:00"
    assert (
        course_admin.update_course(
            course, data(fee_ore=130000, sessions=later), staff_id=2, now=NOW
        )
        == {}
    )
    assert len(audits("course.updated")) == 1


def test_T9_6_seats_cannot_go_below_the_seats_taken(app: Flask) -> None:
    course = make_course(seats=4)
    book(course, make_booker(), "Alva", "Ture", "Ines")
    base = data(
        slug=course.slug,
        fee_ore=course.fee_ore,
        vat_rate_bp=course.vat_rate_bp,
        sessions=course_admin.parse_sessions(course_admin.sessions_text(course))[0],
    )
    with pytest.raises(CourseAdminError) as problem:
        course_admin.update_course(course, replace(base, seats=2), staff_id=1, now=NOW)
    assert problem.value.field == "seats"
    assert course_admin.update_course(course, replace(base, seats=3), staff_id=1, now=NOW)
    assert db.session.get(Course, course.id).seats == 3  # type: ignore[union-attr]
    assert courses.seats_free(course) == 0


def test_T9_1_fee_and_sessions_are_locked_once_the_course_has_a_booking(app: Flask) -> None:
    course = make_course(seats=4)
    book(course, make_booker(), "Alva")
    base = data(
        slug=course.slug,
        fee_ore=course.fee_ore,
        vat_rate_bp=course.vat_rate_bp,
        sessions=course_admin.parse_sessions(course_admin.sessions_text(course))[0],
    )
    moved, _errors = course_admin.parse_sessions("2027-03-01 17:00-19:00")
    for locked in (
        replace(base, fee_ore=course.fee_ore + 100),
        replace(base, vat_rate_bp=600),
        replace(base, sessions=moved),
    ):
        with pytest.raises(CourseAdminError):
            course_admin.update_course(course, locked, staff_id=1, now=NOW)
    changes = course_admin.update_course(
        course, replace(base, description="Nu med noter.", seats=10), staff_id=1, now=NOW
    )
    assert set(changes) == {"description", "seats", "max_age"}
    assert changes["seats"] == {"before": 4, "after": 10}
    assert len(audits("course.updated")) == 1


def test_T9_5_a_cancelled_course_cannot_be_edited(app: Flask) -> None:
    course = make_course()
    course.cancelled_at = NOW
    course.cancel_reason = "Sjuk lärare"
    db.session.commit()
    with pytest.raises(CourseAdminError):
        course_admin.update_course(course, data(slug=course.slug), staff_id=1, now=NOW)
    assert audits("course.updated") == []
