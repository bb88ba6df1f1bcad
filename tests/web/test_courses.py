"""Course pages, booking with participants, and the booker's cancellation (T9.1, T9.3, T9.6)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from shop.extensions import db
from shop.models import CourseBooking, CourseCancellation, OutboxMessage
from tests.conftest import new_client, post_form
from tests.course_helpers import START, book, make_booker, make_course
from tests.factories import NOW
from tests.web.test_documents import log_in


@pytest.fixture
def frozen() -> Iterator[object]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


pytestmark = pytest.mark.usefixtures("frozen")


def booker_client(app: Flask, email: str = "pia@example.se") -> FlaskClient:
    make_booker(email)
    client = new_client(app)
    log_in(client, email)
    return client


def booking_form(**participants: str) -> dict[str, str]:
    data = {"buyer_kind": "consumer", "booking_key": "form-key"}
    for i, (name, birth) in enumerate(participants.items()):
        data[f"participants-{i}-name"] = name
        data[f"participants-{i}-birth_date"] = birth
    return data


def test_course_list_filters_and_detail_page(app: Flask, client: FlaskClient) -> None:
    violin = make_course(
        title="Fiolkurs", instrument="Fiol", place="Göteborg", min_age=6, max_age=12
    )
    make_course(title="Gitarr online", instrument="Gitarr", online=True, min_age=15, max_age=None)
    make_course(title="Redan börjad", start=NOW.date() - timedelta(days=1))
    page = client.get("/kurser/").get_data(as_text=True)
    assert "Fiolkurs" in page
    assert "Gitarr online" in page
    assert "Redan börjad" not in page
    assert "Gitarr online" not in client.get("/kurser/?instrument=Fiol").get_data(as_text=True)
    assert "Fiolkurs" not in client.get("/kurser/?alder=16").get_data(as_text=True)
    assert "Fiolkurs" not in client.get("/kurser/?plats=online").get_data(as_text=True)
    assert "Fiolkurs" in client.get("/kurser/?manad=2027-01").get_data(as_text=True)
    assert "Fiolkurs" not in client.get("/kurser/?manad=2027-02").get_data(as_text=True)
    assert client.get("/kurser/?alder=abc&manad=x").status_code == 200
    detail = client.get(f"/kurser/{violin.slug}").get_data(as_text=True)
    for text in (
        "Lena Lärare",
        "Göteborg",
        "2 januari 2027",
        "16 januari 2027",
        "1\xa0500,00\xa0kr",
    ):
        assert text in detail, text
    assert "6–12 år" in detail
    assert client.get("/kurser/finns-inte").status_code == 404


def test_booking_needs_a_login(app: Flask, client: FlaskClient) -> None:
    course = make_course()
    response = client.get(f"/kurser/{course.slug}/boka")
    assert response.status_code == 302
    assert "/konto/logga-in" in response.location


def test_T9_1_account_is_created_on_the_way_back_to_the_booking_form(
    app: Flask, client: FlaskClient
) -> None:
    from urllib.parse import quote

    from tests.web.test_accounts import consumer_form

    course = make_course()
    book_url = f"/kurser/{course.slug}/boka?platser=2"
    login = client.get(book_url, follow_redirects=True).get_data(as_text=True)
    register_url = f"/konto/skapa?next={quote(book_url, safe='')}"
    assert "/konto/skapa?next=" in login  # "Skapa konto" keeps the way back
    sent = post_form(client, register_url, consumer_form(email="ny@example.se"))
    assert sent.status_code == 200  # "Kolla din e-post": the account waits for its link
    mailed = db.session.query(OutboxMessage).filter_by(template="registration_confirm").one()
    match = re.search(r"http://localhost(/konto/aktivera/[^\s\"]+)", mailed.body_text)
    assert match, mailed.body_text
    link = html.unescape(match.group(1))
    assert "?next=/kurser/" in link  # the way back travels in the link
    confirm = client.get(link).get_data(as_text=True)
    response = post_form(client, link, {})
    assert "Aktivera kontot" in confirm
    assert response.status_code == 302
    assert response.location.endswith(book_url)
    assert "participants-1-name" in client.get(book_url).get_data(as_text=True)
    evil = new_client(app)
    post_form(evil, "/konto/skapa?next=https://evil.example", consumer_form(email="ny2@example.se"))
    evil_mail = (
        db.session.query(OutboxMessage)
        .filter_by(template="registration_confirm", to_address="ny2@example.se")
        .one()
    )
    assert "evil.example" not in evil_mail.body_text
    evil_link = re.search(r"http://localhost(/konto/aktivera/[^\s\"]+)", evil_mail.body_text)
    assert evil_link
    crafted = html.unescape(evil_link.group(1)) + "?next=https://evil.example"
    activated = post_form(evil, crafted, {})  # a link edited to leave the shop
    assert activated.location.endswith("/konto/")


def test_T9_1_parent_books_two_children(app: Flask) -> None:
    course = make_course()
    client = booker_client(app)
    page = client.get(f"/kurser/{course.slug}/boka?platser=2").get_data(as_text=True)
    assert "participants-1-name" in page
    response = post_form(
        client,
        f"/kurser/{course.slug}/boka",
        booking_form(Alva="2016-05-01", Ture="2018-09-12"),
        form_url=f"/kurser/{course.slug}/boka?platser=2",
    )
    assert response.status_code == 302
    booking = db.session.query(CourseBooking).one()
    assert [p.name for p in booking.participants] == ["Alva", "Ture"]
    assert booking.status == "pending"
    page = client.get(response.location).get_data(as_text=True)
    assert "Väntar på bekräftelse" in page
    assert "Alva" in page
    assert "Fiolkurs" in client.get("/kurser/mina").get_data(as_text=True)
    assert "/kurser/mina" in client.get("/konto/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("participants", "reason"),
    [
        ({"Alva": "2030-01-01"}, "framtiden"),
        ({"Alva": "inte-ett-datum"}, "ÅÅÅÅ-MM-DD"),
        ({"": "2016-05-01"}, "Ange namnet"),
        ({"Bebis": "2025-01-01"}, "yngre än"),
    ],
)
def test_T9_1_bad_booking_rerenders_with_the_reason(
    app: Flask, participants: dict[str, str], reason: str
) -> None:
    course = make_course()
    client = booker_client(app)
    response = post_form(client, f"/kurser/{course.slug}/boka", booking_form(**participants))
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert db.session.query(CourseBooking).count() == 0


def test_T9_1_minor_booker_is_refused(app: Flask) -> None:
    course = make_course()
    make_booker("ung@example.se", birth_date=datetime(2010, 1, 1).date())
    client = new_client(app)
    log_in(client, "ung@example.se")
    response = post_form(client, f"/kurser/{course.slug}/boka", booking_form(Alva="2016-05-01"))
    assert response.status_code == 400
    assert "18 år" in response.get_data(as_text=True)


def test_T9_6_full_course_says_so(app: Flask) -> None:
    course = make_course(seats=1)
    book(course, make_booker(), "Alva")
    client = booker_client(app)
    response = post_form(client, f"/kurser/{course.slug}/boka", booking_form(Ture="2016-05-01"))
    assert response.status_code == 400
    assert "fullbokad" in response.get_data(as_text=True)


def test_csrf_is_required(app: Flask) -> None:
    course = make_course()
    client = booker_client(app)
    response = client.post(f"/kurser/{course.slug}/boka", data=booking_form(Alva="2016-05-01"))
    assert response.status_code == 400
    booking = book(course, make_booker(), "Alva", accept=True)
    assert client.post(f"/kurser/bokning/{booking.id}/avboka", data={}).status_code in (400, 404)


def test_a_booker_cannot_see_or_cancel_another_bookers_booking(app: Flask) -> None:
    course = make_course()
    other = book(course, make_booker("annan@example.se"), "Alva", accept=True)
    client = booker_client(app)
    assert client.get(f"/kurser/bokning/{other.id}").status_code == 404
    response = post_form(
        client,
        f"/kurser/bokning/{other.id}/avboka",
        {"participant": str(other.participants[0].id), "confirm": "1"},
        form_url="/konto/uppgifter",
    )
    assert response.status_code == 404
    assert db.session.query(CourseCancellation).count() == 0


def test_T9_3_cancel_one_seat_20_days_before_shows_and_keeps_50_percent(app: Flask) -> None:
    course = make_course(fee_ore=150000)
    booking = book(course, make_booker("pia@example.se"), "Alva", "Ture", accept=True)
    alva = booking.participants[0]
    url = f"/kurser/bokning/{booking.id}"
    day = START - timedelta(days=20)
    with time_machine.travel(datetime(day.year, day.month, day.day, 9, tzinfo=UTC), tick=False):
        client = new_client(app)
        log_in(client, "pia@example.se")
        preview = post_form(client, f"{url}/avboka", {"participant": str(alva.id)}, form_url=url)
        assert preview.status_code == 200
        text = preview.get_data(as_text=True)
        assert "750,00\xa0kr (50\xa0%)" in text or "750,00\xa0kr (50 %)" in text
        assert db.session.query(CourseCancellation).count() == 0
        done = post_form(
            client, f"{url}/avboka", {"participant": str(alva.id), "confirm": "1"}, form_url=url
        )
        assert done.status_code == 302
        again = post_form(
            client, f"{url}/avboka", {"participant": str(alva.id), "confirm": "1"}, form_url=url
        )
        assert again.status_code == 302
        page = client.get(url).get_data(as_text=True)
        assert "Delvis avbokad" in page
    (row,) = db.session.query(CourseCancellation).all()
    assert (row.kept_ore, row.credited_ore, row.channel) == (75000, 75000, "account")


def test_T9_6_full_course_offers_the_waiting_list(app: Flask) -> None:
    course = make_course(seats=1)
    book(course, make_booker(), "Alva")
    client = booker_client(app)
    refused = post_form(client, f"/kurser/{course.slug}/boka", booking_form(Ture="2016-05-01"))
    assert refused.status_code == 400
    assert "Ställ mig på väntelistan" in refused.get_data(as_text=True)
    joined = post_form(
        client,
        f"/kurser/{course.slug}/vantelista",
        {"seats": "1"},
        form_url=f"/kurser/{course.slug}",
    )
    assert joined.status_code == 302
    assert "Du står på väntelistan" in client.get(f"/kurser/{course.slug}").get_data(as_text=True)
    assert client.post(f"/kurser/{course.slug}/vantelista", data={}).status_code == 400


def test_offers_command(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["courses", "offers"])
    assert result.exit_code == 0
    assert "Offered free seats to 0" in result.output


def test_account_shows_invoice_pdf_and_names_can_be_edited_until_the_start(app: Flask) -> None:
    from shop.models import Customer
    from shop.services import course_invoicing

    course = make_course()
    client = booker_client(app)
    booker = db.session.query(Customer).filter_by(email="pia@example.se").one()
    booking = book(course, booker, "Alva", accept=True)
    url = f"/kurser/bokning/{booking.id}"
    alva = booking.participants[0]
    renamed = post_form(client, f"{url}/deltagare/{alva.id}", {"name": "Alva Ek"}, form_url=url)
    assert renamed.status_code == 302
    assert "Alva Ek" in client.get(url).get_data(as_text=True)
    empty = post_form(client, f"{url}/deltagare/{alva.id}", {"name": ""}, form_url=url)
    assert empty.status_code == 400
    day = START - timedelta(days=14)
    (invoice,) = course_invoicing.run_invoicing(day, now=datetime(2026, 12, 19, 9, tzinfo=UTC))
    page = client.get(url).get_data(as_text=True)
    assert f"Faktura {invoice.number}" in page
    (record,) = course_invoicing.documents_of(db.session.get(CourseBooking, booking.id))  # type: ignore[arg-type]
    pdf = client.get(f"{url}/dokument/{record.id}.pdf")
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")
    other = new_client(app)
    make_booker("annan@example.se")
    log_in(other, "annan@example.se")
    assert other.get(f"{url}/dokument/{record.id}.pdf").status_code == 404
    assert (
        post_form(
            other, f"{url}/deltagare/{alva.id}", {"name": "Hack"}, form_url="/konto/uppgifter"
        ).status_code
        == 404
    )
    with time_machine.travel(datetime(2027, 1, 2, 9, tzinfo=UTC), tick=False):
        late = new_client(app)
        log_in(late, "pia@example.se")
        refused = post_form(
            late, f"{url}/deltagare/{alva.id}", {"name": "För sent"}, form_url="/konto/uppgifter"
        )
        assert refused.status_code == 302
        assert "För sent" not in late.get(url).get_data(as_text=True)
