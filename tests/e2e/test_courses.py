"""A parent books two children into a course and cancels one seat 20 days before the start
(T9.1, T9.3).

Drives the live shop in headless Chromium: the course list "Kurser", the course
page, "Boka plats" for two seats (logging in on the way), each child's name and
birth date, the booking page ("Bekräftad": the course accepts bookings at once),
the binding confirmation in the outbox naming the course, the dates and both
children, then "Avboka" for one child: the confirmation page shows the fee kept
(50 %) and the credit before "Bekräfta avbokning", and the booking becomes
"Delvis avbokad". Screenshots go to test-artifacts/course-*.png.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from shop import clock
from shop.domain.money import format_sek
from shop.extensions import db
from shop.models import Course, CourseCancellation, CourseSession, OutboxMessage
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, make_customer

pytestmark = pytest.mark.e2e

PARENT = "foralder.e2e@example.se"
FEE = 180000


def _course_starting_in_20_days(app: Flask) -> tuple[str, str]:
    """A course whose first day is 20 days after today (Stockholm), accepting at once."""
    with app.app_context():
        make_customer(email=PARENT, name="Petra Förälder", phone="070-555 01 02")
        start = clock.local_date(clock.utcnow()) + timedelta(days=20)
        course = Course(
            slug="e2e-fiol-for-syskon",
            title="Fiol för syskon",
            description="Två träffar för syskon.",
            teacher_name="Lena Lärare",
            place="Göteborg",
            instrument="Fiol",
            fee_ore=FEE,
            vat_rate_bp=0,
            seats=6,
            min_age=6,
            max_age=14,
            auto_accept=True,
            created_at=clock.utcnow(),
        )
        for week in range(2):
            day = start + timedelta(days=7 * week)
            starts = datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)
            course.sessions.append(
                CourseSession(starts_at=starts, ends_at=starts + timedelta(hours=2))
            )
        db.session.add(course)
        db.session.commit()
        return course.slug, start.isoformat()


def test_parent_books_two_children_and_cancels_one_seat_20_days_before(
    page: Page, live_app: Flask
) -> None:
    slug, start = _course_starting_in_20_days(live_app)

    page.goto("/kurser/")
    page.get_by_role("link", name="Fiol för syskon").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fiol för syskon")
    page.get_by_label("Antal platser").fill("2")
    page.get_by_role("button", name="Boka plats").click()

    # Logging in on the way brings the parent back to the booking form.
    page.locator("input[name=email]").fill(PARENT)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Boka plats")
    page.locator("input[name='participants-0-name']").fill("Alva Förälder")
    page.locator("input[name='participants-0-birth_date']").fill("2016-05-01")
    page.locator("input[name='participants-1-name']").fill("Ture Förälder")
    page.locator("input[name='participants-1-birth_date']").fill("2018-09-12")
    screenshot(page, "course-book")
    page.locator("form.form").get_by_role("button", name="Boka plats").click()

    expect(page.locator("#booking-status")).to_have_text("Bekräftad")
    screenshot(page, "course-booking")
    with live_app.app_context():
        confirmation = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.template == "course_confirmation", OutboxMessage.to_address == PARENT
            )
        ).one()
        text = confirmation.body_text
    assert "Fiol för syskon" in text
    assert "bindande" in text
    assert "Alva Förälder" in text
    assert "Ture Förälder" in text
    assert start in text

    page.get_by_label("Avboka Alva Förälder").check()
    page.get_by_role("button", name="Avboka").click()
    row = page.locator("table.cancellation-quote tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("20")
    expect(row.locator("td").nth(2)).to_have_text(f"{format_sek(FEE // 2)} (50\u00a0%)")
    expect(row.locator("td").nth(3)).to_have_text(format_sek(FEE // 2))
    screenshot(page, "course-cancel-confirm")
    page.get_by_role("button", name="Bekräfta avbokning").click()

    expect(page.locator("#booking-status")).to_have_text("Delvis avbokad")
    expect(page.locator(".course-cancellations")).to_contain_text(
        f"vi behåller {format_sek(FEE // 2)}"
    )
    screenshot(page, "course-cancelled")
    with live_app.app_context():
        (cancellation,) = db.session.scalars(select(CourseCancellation)).all()
        assert (cancellation.kept_ore, cancellation.credited_ore) == (FEE // 2, FEE // 2)
