"""The account's privacy section, the unsubscribe link and the staff newsletter page.

R2.6 and R4.4 (newsletter consent, one-click unsubscribe), R4.1 (register extract).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.extensions import db
from shop.models import Consent, Customer, OutboxMessage
from shop.models.customer import Role
from shop.services import mail, newsletter
from shop.services.customers import create_staff_member
from tests.conftest import new_client, post_form
from tests.factories import PASSWORD, make_customer
from tests.services.fulfilment_helpers import confirmed_order

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PRIVATE_PAGES = ["/konto/mina-uppgifter", "/konto/mina-uppgifter/ladda-ner", "/konto/nyhetsbrev"]


@pytest.fixture(autouse=True)
def _clear_sent() -> Any:
    mail.sent_messages.clear()
    yield
    mail.sent_messages.clear()


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def logged_in(app: Flask, email: str = "kund@example.se", **extra: Any) -> tuple[Customer, Any]:
    customer = make_customer(email=email, **extra)
    client = new_client(app)
    response = post_form(client, "/konto/logga-in", {"email": email, "password": PASSWORD})
    assert response.status_code == 302
    return customer, client


def events(customer: Customer) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(e.action, e.source) for e in reversed(newsletter.history(customer))]


# --- R4.1: the register extract -----------------------------------------------------------------


@pytest.mark.parametrize("url", PRIVATE_PAGES)
def test_logged_out_visitors_are_sent_to_login_R4_1(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/konto/logga-in?next=")


def test_the_account_page_links_to_the_extract_with_the_glossary_words_R4_1(app: Flask) -> None:
    _, client = logged_in(app)
    html = text(client.get("/konto/"))
    assert "Ladda ner mina uppgifter" in html
    assert 'href="/konto/mina-uppgifter"' in html
    assert 'href="/konto/nyhetsbrev"' in html


def test_the_readable_extract_shows_every_section_R4_1(app: Flask) -> None:
    customer, client = logged_in(app, name="Alice Andersson")
    order = confirmed_order(customer=customer)
    response = client.get("/konto/mina-uppgifter")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = text(response)
    for title in (
        "Konto",
        "Adresser",
        "Ordrar",
        "Ångrade köp",
        "Returer",
        "Återbetalningar",
        "Samtycken",
        "Händelser i loggen",
    ):
        assert f">{title}</h2>" in html
    assert "Alice Andersson" in html
    assert order.number in html
    assert 'href="/konto/mina-uppgifter/ladda-ner"' in html
    assert "Ladda ner mina uppgifter" in html


def test_the_readable_extract_shows_course_bookings_with_participants_R4_1(app: Flask) -> None:
    """R4.1: the booker reads their course bookings: course, participants, birth dates."""
    from tests.course_helpers import book, make_course

    customer, client = logged_in(app, name="Pia Förälder")
    book(make_course(title="Fiolkurs för nybörjare"), customer, "Alva", accept=True)
    other = make_customer(email="annan@example.se")
    book(make_course(title="Trumkurs"), other, "Sigge")
    html = text(client.get("/konto/mina-uppgifter"))
    assert ">Kursbokningar</h2>" in html
    assert "Fiolkurs för nybörjare" in html
    assert "<dt>Deltagare</dt>" in html
    assert "<dd>Alva</dd>" in html
    assert "2016-05-01" in html
    assert "Trumkurs" not in html
    assert "Sigge" not in html


def test_the_json_download_has_a_sensible_name_and_type_R4_1(app: Flask) -> None:
    other = make_customer(email="annan@example.se", name="Annan Person")
    confirmed_order(customer=other)
    with time_machine.travel(NOW, tick=False):
        customer, client = logged_in(app, name="Alice Andersson")
        response = client.get("/konto/mina-uppgifter/ladda-ner")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="registerutdrag-{customer.pseudonym}-2026-11-02.json"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data())
    assert data["sections"]["account"]["email"] == "kund@example.se"
    body = response.get_data(as_text=True)
    assert "annan@example.se" not in body
    assert "Annan Person" not in body


# --- R2.6, R4.4: consent in the account ---------------------------------------------------------


def test_opt_in_and_out_in_the_account_is_recorded_and_shown_R2_6(app: Flask) -> None:
    customer, client = logged_in(app)
    page = text(client.get("/konto/nyhetsbrev"))
    assert "Du prenumererar inte på nyhetsbrevet." in page
    assert "Du har inte lämnat något samtycke." in page
    response = post_form(client, "/konto/nyhetsbrev", {"subscribe": "1"})
    assert response.status_code == 302
    post_form(client, "/konto/nyhetsbrev", {"subscribe": "0"})
    assert events(customer) == [("given", "account"), ("withdrawn", "account")]
    html = text(client.get("/konto/nyhetsbrev"))
    assert "Samtycke lämnat" in html
    assert "Samtycke återkallat" in html
    assert "2026-11-01" in html  # the wording version


@pytest.mark.parametrize("value", ["", "2", "ja"])
def test_a_bad_choice_is_refused_with_400_R2_6(app: Flask, value: str) -> None:
    customer, client = logged_in(app)
    response = post_form(client, "/konto/nyhetsbrev", {"subscribe": value})
    assert response.status_code == 400
    assert events(customer) == []


def test_the_account_form_needs_its_csrf_token_R2_6(app: Flask) -> None:
    customer, client = logged_in(app)
    response = client.post("/konto/nyhetsbrev", data={"subscribe": "1"})
    assert response.status_code == 400
    assert events(customer) == []


# --- R2.6, R4.4: the unsubscribe link -----------------------------------------------------------


def subscriber(email: str = "kund@example.se") -> tuple[Customer, str]:
    customer = make_customer(email=email)
    newsletter.set_subscription(customer, True, source="registration", now=NOW)
    return customer, f"/nyhetsbrev/avsluta/{newsletter.unsubscribe_token(email)}"


def test_the_link_shows_one_button_without_login_R2_6(client: FlaskClient) -> None:
    customer, url = subscriber()
    response = client.get(url)
    assert response.status_code == 200
    html = text(response)
    assert "kund@example.se" in html
    assert len(re.findall(r"<button", html.split("<main", 1)[-1])) == 1
    assert "Avsluta prenumeration" in html
    assert events(customer) == [("given", "registration")]  # a GET changes nothing


def test_the_button_unsubscribes_logged_out_without_a_csrf_token_R2_6(
    client: FlaskClient,
) -> None:
    customer, url = subscriber()
    response = client.post(url)
    assert response.status_code == 200
    assert "Du prenumererar inte längre" in text(response)
    assert events(customer) == [("given", "registration"), ("withdrawn", "unsubscribe_link")]


def test_rfc_8058_one_click_post_unsubscribes_R2_6(client: FlaskClient) -> None:
    customer, url = subscriber()
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert events(customer)[-1] == ("withdrawn", "one_click")
    assert newsletter.subscribers() == []


def test_the_link_works_when_another_customer_is_logged_in_R2_6(app: Flask) -> None:
    customer, url = subscriber()
    _, client = logged_in(app, email="annan@example.se")
    assert client.post(url).status_code == 200
    assert events(customer)[-1] == ("withdrawn", "unsubscribe_link")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_token_is_refused_R2_6(client: FlaskClient, method: str) -> None:
    customer, url = subscriber()
    token = url.rsplit("/", 1)[1]
    other = newsletter.unsubscribe_token("annan@example.se")
    # Another address's payload under this address's signature.
    forged = "/nyhetsbrev/avsluta/" + other.split(".")[0] + "." + token.split(".")[1]
    for bad in (url[:-2] + "xx", forged, "/nyhetsbrev/avsluta/kund@example.se"):
        response = getattr(client, method)(bad)
        assert response.status_code == 404
        assert "Länken fungerar inte" in text(response)
    assert events(customer) == [("given", "registration")]


# --- The staff newsletter page ------------------------------------------------------------------


def staff_client(app: Flask, *roles: Role) -> FlaskClient:
    create_staff_member(
        email="personal@example.se",
        name="Sam Personal",
        password=PASSWORD,
        roles=list(roles),
        now=NOW,
    )
    client = new_client(app)
    post_form(client, "/konto/logga-in", {"email": "personal@example.se", "password": PASSWORD})
    return client


def test_the_newsletter_page_is_for_staff_only(app: Flask, client: FlaskClient) -> None:
    assert client.get("/staff/nyhetsbrev").status_code == 302
    _, customer_client = logged_in(app)
    assert customer_client.get("/staff/nyhetsbrev").status_code == 403
    teacher = staff_client(app, Role.TEACHER)
    assert teacher.get("/staff/nyhetsbrev").status_code == 403


def test_staff_queue_a_newsletter_to_the_subscribers_R2_6(app: Flask) -> None:
    subscriber("forsta@example.se")
    make_customer(email="ingen@example.se")
    client = staff_client(app, Role.STAFF)
    assert 'href="/staff/nyhetsbrev"' in text(client.get("/staff/"))
    page = text(client.get("/staff/nyhetsbrev"))
    assert "Skickas till 1 kunder" in page
    response = post_form(
        client,
        "/staff/nyhetsbrev",
        {"subject": "Nyheter", "body": "Nya noter."},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Nyhetsbrevet ligger i kön till 1 mottagare." in text(response)
    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert message.to_address == "forsta@example.se"
    assert message.headers["List-Unsubscribe"].startswith("<http://localhost/nyhetsbrev/avsluta/")
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The link in the mail works.
    url = message.headers["List-Unsubscribe"].strip("<>").removeprefix("http://localhost")
    assert new_client(app).post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert (
        db.session.scalars(select(Consent.action).order_by(Consent.id.desc()).limit(1)).one()
        == "withdrawn"
    )


def test_an_empty_newsletter_is_refused_with_400(app: Flask) -> None:
    client = staff_client(app, Role.ADMIN)
    response = post_form(client, "/staff/nyhetsbrev", {"subject": "", "body": ""})
    assert response.status_code == 400
    assert "Skriv en ämnesrad." in text(response)
    assert db.session.scalars(select(OutboxMessage)).all() == []
