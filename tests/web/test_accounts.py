"""Account pages: register (T1.1, T1.2, R2.6), log in/out (R2.1), reset and change password,
contact details, safe ``next=`` redirects."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from shop import clock
from shop.extensions import db
from shop.models import Consent, Customer, OutboxMessage, PasswordResetToken
from shop.services import mail
from shop.services.customers import password_matches
from tests.conftest import new_client, post_form
from tests.services.test_cart import make_customer, make_product

PASSWORD = "ett-bra-losenord"
NEW_PASSWORD = "ett-nytt-hemligt-losenord"
LOGIN = "/konto/logga-in"
REGISTER = "/konto/skapa"
FORGOT = "/konto/glomt-losenord"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clear_sent() -> Any:
    mail.sent_messages.clear()
    yield
    mail.sent_messages.clear()


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def log_in(
    client: FlaskClient, email: str = "kund@example.se", password: str = PASSWORD, **extra: str
) -> Any:
    return post_form(client, LOGIN, {"email": email, "password": password, **extra})


def consumer_form(**overrides: str) -> dict[str, str]:
    data = {
        "kind": "consumer",
        "name": "Kim Kund",
        "email": "kund@example.se",
        "phone": "070-123 45 67",
        "birth_date": "1990-05-17",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    }
    data.update(overrides)
    return data


def organisation_form(**overrides: str) -> dict[str, str]:
    data = consumer_form(
        kind="organisation",
        birth_date="",
        organisation_name="Musikskolan i Lund",
        organisation_number="556677-8899",
        adult_confirmed="y",
    )
    data.update(overrides)
    return data


# --- Register ----------------------------------------------------------------------------


def _activation_link() -> str:
    message = db.session.query(OutboxMessage).filter_by(template="registration_confirm").one()
    match = re.search(r"http://localhost(/konto/aktivera/[A-Za-z0-9_-]+)", message.body_text)
    assert match, message.body_text
    return match.group(1)


def register(client: FlaskClient, data: dict[str, str]) -> Any:
    """Fill in the registration form, follow the mailed link and press "Aktivera kontot"."""
    response = post_form(client, REGISTER, data)
    assert response.status_code == 200
    assert "Kolla din e-post" in text(response)
    assert db.session.query(Customer).count() == 0  # no account before the link
    return post_form(client, _activation_link())


def test_register_page_uses_the_glossary_and_leaves_newsletter_unticked_R2_6(
    client: FlaskClient,
) -> None:
    html = text(client.get(REGISTER))
    for word in (
        "Skapa konto",
        "Privatperson",
        "Organisation",
        "Organisationsnummer",
        "Nyhetsbrev",
        "Samtycke",
    ):
        assert word in html
    newsletter = re.search(r'<input[^>]*name="newsletter"[^>]*>', html)
    assert newsletter is not None
    assert "checked" not in newsletter.group(0)
    assert "style=" not in html
    assert "<script" not in html


def test_consumer_registers_by_mailed_link_and_is_logged_in_T1_1(
    app: Flask, client: FlaskClient
) -> None:
    with time_machine.travel(NOW, tick=False):
        response = register(client, consumer_form(email="Kim@Example.SE"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/konto/"
    customer = db.session.query(Customer).one()
    assert customer.email == "kim@example.se"
    assert customer.birth_date == date(1990, 5, 17)
    assert customer.last_login_at == NOW
    assert customer.last_activity_on == date(2026, 11, 23)
    assert db.session.query(Consent).count() == 0
    html = text(client.get("/konto/"))
    assert "Mitt konto" in html
    assert "Kim Kund" in html
    assert "Du prenumererar inte på nyhetsbrevet." in html
    assert "Inga ordrar ännu." in html


def test_newsletter_consent_at_registration_is_recorded_R2_6(
    app: Flask, client: FlaskClient
) -> None:
    register(client, consumer_form(newsletter="y"))
    consent = db.session.query(Consent).one()
    assert (consent.action, consent.source, consent.purpose) == (
        "given",
        "registration",
        "newsletter",
    )
    assert "Du prenumererar på nyhetsbrevet." in text(client.get("/konto/"))


def test_under_18_is_refused_and_the_form_keeps_the_input_T1_1(
    app: Flask, client: FlaskClient
) -> None:
    with time_machine.travel(NOW, tick=False):
        response = post_form(client, REGISTER, consumer_form(birth_date="2008-11-24"))
    assert response.status_code == 200
    html = text(response)
    assert "Du måste vara myndig (18 år) för att handla hos oss." in html
    assert 'value="Kim Kund"' in html
    assert 'value="kund@example.se"' in html
    assert PASSWORD not in html
    assert db.session.query(Customer).count() == 0


def test_turning_18_today_is_enough_T1_1(app: Flask, client: FlaskClient) -> None:
    with time_machine.travel(NOW, tick=False):
        response = register(client, consumer_form(birth_date="2008-11-23"))
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"birth_date": ""}, "Ange ditt födelsedatum"),
        ({"birth_date": "17/05/1990"}, "Skriv födelsedatumet som ÅÅÅÅ-MM-DD."),
        ({"birth_date": "2040-01-01"}, "ligger i framtiden"),
        ({"email": "inte-en-adress"}, "Ange en giltig e-postadress"),
        ({"email": ""}, "Ange din e-postadress."),
        ({"name": ""}, "Ange ditt namn."),
        ({"password": "kort", "password_confirm": "kort"}, "minst 10"),
        ({"password_confirm": "annat-losenord"}, "Lösenorden är inte likadana."),
        ({"kind": "robot"}, "Välj Privatperson eller Organisation."),
    ],
)
def test_bad_registration_input_is_refused_in_swedish_T1_1(
    app: Flask, client: FlaskClient, overrides: dict[str, str], message: str
) -> None:
    response = post_form(client, REGISTER, consumer_form(**overrides))
    assert response.status_code == 200
    assert message in text(response)
    assert db.session.query(Customer).count() == 0


def test_organisation_registers_with_org_number_T1_2(app: Flask, client: FlaskClient) -> None:
    response = register(client, organisation_form(organisation_number="5566778899"))
    assert response.status_code == 302
    customer = db.session.query(Customer).one()
    assert (customer.kind, customer.organisation_number) == ("organisation", "556677-8899")
    assert customer.adult_confirmed_at is not None
    html = text(client.get("/konto/"))
    assert "Musikskolan i Lund" in html
    assert "556677-8899" in html


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"organisation_number": "556677-8898"}, "Organisationsnumret är inte giltigt"),
        ({"organisation_number": ""}, "Ange organisationsnumret"),
        ({"organisation_name": ""}, "Ange organisationens namn."),
        ({"adult_confirmed": ""}, "Bekräfta att kontaktpersonen har fyllt 18 år."),
    ],
)
def test_bad_organisation_input_is_refused_T1_1_T1_2(
    app: Flask, client: FlaskClient, overrides: dict[str, str], message: str
) -> None:
    data = organisation_form(**overrides)
    data = {key: value for key, value in data.items() if value != "" or key != "adult_confirmed"}
    response = post_form(client, REGISTER, data)
    assert response.status_code == 200
    html = text(response)
    assert message in html
    assert 'value="Musikskolan i Lund"' in html or overrides.get("organisation_name") == ""
    assert db.session.query(Customer).count() == 0


def test_registration_answers_the_same_for_a_taken_email_and_mails_the_owner(
    app: Flask, client: FlaskClient
) -> None:
    """No account enumeration: a taken address gets the same page as a new one, and
    its owner a mail (log in or choose a new password); nothing else changes."""
    owner = make_customer(email="kund@example.se", password=PASSWORD)
    taken = post_form(client, REGISTER, consumer_form(email="Kund@Example.se"))
    fresh = post_form(new_client(app), REGISTER, consumer_form(email="ny@example.se"))
    assert taken.status_code == fresh.status_code == 200

    def neutral(page: str) -> str:
        page = re.sub(r'name="csrf_token"[^>]*value="[^"]*"', 'name="csrf_token"', page)
        return page.replace("kund@example.se", "X").replace("ny@example.se", "X")

    assert neutral(text(taken)) == neutral(text(fresh))
    with client.session_transaction() as sess:
        assert "_user_id" not in sess
    assert db.session.query(Customer).count() == 1
    mails = {m.template: m for m in db.session.query(OutboxMessage)}
    assert set(mails) == {"registration_exists", "registration_confirm"}
    warning = mails["registration_exists"]
    assert warning.to_address == "kund@example.se"
    assert "Någon försökte just skapa ett konto" in warning.body_text
    assert "http://localhost/konto/logga-in" in warning.body_text
    assert "http://localhost/konto/glomt-losenord" in warning.body_text
    assert "/konto/aktivera/" not in warning.body_text
    db.session.expire_all()
    assert password_matches(owner, PASSWORD)  # the account is untouched
    # The password typed for the taken address does not log anyone in either.
    assert log_in(new_client(app), "kund@example.se", "ett-annat-losenord").status_code == 200


def test_activation_link_works_once_and_expires(app: Flask, client: FlaskClient) -> None:
    with time_machine.travel(NOW, tick=False):
        post_form(client, REGISTER, consumer_form())
    path = _activation_link()
    max_age = app.config["REGISTRATION_LINK_MAX_AGE"]
    with time_machine.travel(NOW + timedelta(seconds=max_age), tick=False):
        assert client.get(path).status_code == 404
        assert "Länken för att aktivera kontot är ogiltig" in text(client.get(path))
    with time_machine.travel(NOW + timedelta(seconds=max_age - 1), tick=False):
        page = client.get(path)
        assert page.status_code == 200  # a GET (a mail scanner) creates nothing
        assert db.session.query(Customer).count() == 0
        assert post_form(client, path).status_code == 302
        assert db.session.query(Customer).count() == 1
        assert client.get(path).status_code == 404
        assert post_form(new_client(app), path, form_url=LOGIN).status_code == 404
    assert db.session.query(Customer).count() == 1


def test_activation_link_without_csrf_is_refused(app: Flask, client: FlaskClient) -> None:
    post_form(client, REGISTER, consumer_form())
    assert client.post(_activation_link()).status_code == 400
    assert db.session.query(Customer).count() == 0


def test_registration_merges_the_guest_cart(app: Flask, client: FlaskClient) -> None:
    product = make_product(stock=5)
    post_form(
        client,
        "/varukorg/lagg-till",
        {"product_id": product.id, "quantity": 2},
        form_url="/varukorg/",
    )
    register(client, consumer_form())
    from shop.services import cart

    customer = db.session.query(Customer).one()
    assert cart.customer_lines(customer.id) == {product.id: 2}


# --- Log in and out -------------------------------------------------------------------


def test_login_records_activity_and_rotates_the_session_R2_1(
    app: Flask, client: FlaskClient
) -> None:
    customer = make_customer(password=PASSWORD)
    with time_machine.travel(NOW, tick=False):
        client.get(LOGIN)
        with client.session_transaction() as session:
            session["planted"] = "by an attacker"
            session["lang"] = "en"
        response = log_in(client, email="KUND@example.se")
        assert response.status_code == 302
        assert response.headers["Location"] == "/konto/"
        with client.session_transaction() as session:
            assert "planted" not in session
            assert session["lang"] == "en"
            assert session["_user_id"] == f"{customer.id}:1"
    db.session.expire_all()
    assert customer.last_login_at == NOW
    assert customer.last_activity_on == date(2026, 11, 23)


@pytest.mark.parametrize(
    ("email", "password"),
    [("kund@example.se", "fel-losenord-123"), ("okand@example.se", PASSWORD)],
)
def test_login_failure_has_one_generic_message(
    app: Flask, client: FlaskClient, email: str, password: str
) -> None:
    make_customer(password=PASSWORD)
    response = log_in(client, email=email, password=password)
    assert response.status_code == 200
    html = text(response)
    assert "Fel e-postadress eller lösenord." in html
    assert f'value="{email}"' in html
    assert password not in html


@pytest.mark.parametrize("field", ["login_disabled", "anonymised_at"])
def test_anonymised_or_disabled_accounts_cannot_log_in_R2_1(
    app: Flask, client: FlaskClient, field: str
) -> None:
    customer = make_customer(password=PASSWORD)
    setattr(customer, field, True if field == "login_disabled" else NOW)
    db.session.commit()
    assert "Fel e-postadress eller lösenord." in text(log_in(client))


def test_login_page_has_remember_me_and_remembering_sets_a_cookie(
    app: Flask, client: FlaskClient
) -> None:
    make_customer(password=PASSWORD)
    assert 'name="remember"' in text(client.get(LOGIN))
    response = log_in(client, remember="y")
    assert "remember_token=" in response.headers.get("Set-Cookie", "") or any(
        "remember_token" in header for header in response.headers.getlist("Set-Cookie")
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/varukorg/", "/varukorg/"),
        ("/konto/uppgifter?x=1", "/konto/uppgifter?x=1"),
        ("//evil.example/", "/konto/"),
        ("https://evil.example/", "/konto/"),
        ("/\\evil.example", "/konto/"),
        ("\\\\evil.example", "/konto/"),
        ("javascript:alert(1)", "/konto/"),
        ("/\tevil", "/konto/"),
    ],
)
def test_next_redirects_are_only_relative_paths(
    app: Flask, client: FlaskClient, target: str, expected: str
) -> None:
    make_customer(password=PASSWORD)
    response = log_in(client, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_login_required_pages_send_to_login_and_back(app: Flask, client: FlaskClient) -> None:
    make_customer(password=PASSWORD)
    response = client.get("/konto/uppgifter")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/konto/logga-in?next=")
    login_page = client.get(response.headers["Location"])
    assert 'value="/konto/uppgifter"' in text(login_page)
    response = post_form(
        client,
        LOGIN,
        {"email": "kund@example.se", "password": PASSWORD, "next": "/konto/uppgifter"},
    )
    assert response.headers["Location"] == "/konto/uppgifter"


def test_logout_is_a_post_with_csrf(app: Flask, client: FlaskClient) -> None:
    make_customer(password=PASSWORD)
    log_in(client)
    assert client.get("/konto/logga-ut").status_code == 405
    assert client.post("/konto/logga-ut").status_code == 400  # no CSRF token
    assert client.get("/konto/").status_code == 200
    response = post_form(client, "/konto/logga-ut", form_url="/konto/")
    assert response.status_code == 302
    assert client.get("/konto/").status_code == 302
    html = text(client.get("/"))
    assert "Logga in" in html


# --- Forgotten password ------------------------------------------------------------------


def _reset_link() -> str:
    message = db.session.query(OutboxMessage).filter_by(template="password_reset").one()
    match = re.search(r"http://localhost(/konto/aterstall/[A-Za-z0-9_-]+)", message.body_text)
    assert match, message.body_text
    return match.group(1)


def test_forgot_password_answers_the_same_for_known_and_unknown_emails(
    app: Flask, client: FlaskClient
) -> None:
    make_customer(email="kund@example.se")
    known = text(post_form(client, FORGOT, {"email": "kund@example.se"}))
    unknown = text(post_form(client, FORGOT, {"email": "okand@example.se"}))
    assert "Om det finns ett konto med e-postadressen" in known

    def neutral(page: str) -> str:
        """The page with the address typed and the (time-stamped) CSRF token taken out."""
        page = re.sub(r'name="csrf_token"[^>]*value="[^"]*"', 'name="csrf_token"', page)
        return page.replace("kund@example.se", "X").replace("okand@example.se", "X")

    assert neutral(known) == neutral(unknown)
    assert db.session.query(OutboxMessage).count() == 1
    assert db.session.query(PasswordResetToken).count() == 1


def test_forgot_password_refuses_a_bad_email(client: FlaskClient) -> None:
    response = post_form(client, FORGOT, {"email": "inte-en-adress"})
    assert "Ange en giltig e-postadress" in text(response)


def test_reset_by_mailed_link_once(app: Flask, client: FlaskClient) -> None:
    customer = make_customer(password=PASSWORD)
    post_form(client, FORGOT, {"email": "kund@example.se"})
    assert mail.send_pending(now=clock.utcnow() + timedelta(seconds=1)).sent == 1
    (sent,) = mail.sent_messages
    assert sent["Subject"] == "Återställ ditt lösenord"
    path = _reset_link()
    assert path in sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    response = post_form(client, path, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == LOGIN
    db.session.expire_all()
    assert password_matches(customer, NEW_PASSWORD)
    assert client.get(path).status_code == 404
    assert "Länken för att återställa lösenordet är ogiltig" in text(client.get(path))
    assert log_in(client, password=NEW_PASSWORD).status_code == 302


def test_reset_link_expires(app: Flask, client: FlaskClient) -> None:
    make_customer(password=PASSWORD)
    with time_machine.travel(NOW, tick=False):
        post_form(client, FORGOT, {"email": "kund@example.se"})
    path = _reset_link()
    max_age = app.config["PASSWORD_RESET_MAX_AGE"]
    with time_machine.travel(NOW + timedelta(seconds=max_age - 1), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(NOW + timedelta(seconds=max_age), tick=False):
        assert client.get(path).status_code == 404


def test_reset_form_refuses_a_short_password_and_unknown_tokens(
    app: Flask, client: FlaskClient
) -> None:
    make_customer(password=PASSWORD)
    post_form(client, FORGOT, {"email": "kund@example.se"})
    path = _reset_link()
    response = post_form(client, path, {"password": "kort", "password_confirm": "kort"})
    assert response.status_code == 200
    assert "minst 10" in text(response)
    assert client.get("/konto/aterstall/hittepa").status_code == 404


# --- Change password, details -------------------------------------------------------------------


def test_change_password_logs_out_other_sessions_but_not_this_one(
    app: Flask, client: FlaskClient
) -> None:
    customer = make_customer(password=PASSWORD)
    other = new_client(app)
    log_in(client)
    log_in(other)
    assert other.get("/konto/").status_code == 200
    response = post_form(
        client,
        "/konto/losenord",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert customer.session_version == 2
    assert client.get("/konto/").status_code == 200
    assert other.get("/konto/").status_code == 302


def test_change_password_requires_the_current_one(app: Flask, client: FlaskClient) -> None:
    customer = make_customer(password=PASSWORD)
    log_in(client)
    response = post_form(
        client,
        "/konto/losenord",
        {
            "current_password": "fel-losenord-1",
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "Det nuvarande lösenordet stämmer inte." in text(response)
    db.session.expire_all()
    assert password_matches(customer, PASSWORD)


def details_form(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Kim Kundsson",
        "phone": "070-1",
        "language": "sv",
        "address_name": "",
        "street": "Storgatan 1",
        "postcode": "41101",
        "city": "Göteborg",
    }
    data.update(overrides)
    return data


def test_edit_contact_details_and_address(app: Flask, client: FlaskClient) -> None:
    customer = make_customer(password=PASSWORD)
    log_in(client)
    response = post_form(client, "/konto/uppgifter", details_form(newsletter="y"))
    assert response.status_code == 302
    html = text(client.get("/konto/"))
    assert "Kim Kundsson" in html
    assert "411 01 Göteborg" in html
    assert "Du prenumererar på nyhetsbrevet." in html
    consent = db.session.query(Consent).one()
    assert (consent.action, consent.source) == ("given", "account")
    form = text(client.get("/konto/uppgifter"))
    assert 'value="411 01"' in form
    db.session.expire_all()
    assert customer.name == "Kim Kundsson"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"postcode": "4110"}, "Skriv postnumret som NNN NN"),
        ({"postcode": ""}, "Ange postnumret."),
        ({"street": ""}, "Ange gatuadressen."),
        ({"name": ""}, "Ange ditt namn."),
        ({"language": "fi"}, "Välj svenska eller engelska."),
    ],
)
def test_bad_details_are_refused_and_the_input_kept(
    app: Flask, client: FlaskClient, overrides: dict[str, str], message: str
) -> None:
    make_customer(password=PASSWORD)
    log_in(client)
    response = post_form(client, "/konto/uppgifter", details_form(**overrides))
    assert response.status_code == 200
    html = text(response)
    assert message in html
    assert 'value="Göteborg"' in html


def test_changing_language_switches_the_session_language(app: Flask, client: FlaskClient) -> None:
    make_customer(password=PASSWORD)
    log_in(client)
    post_form(client, "/konto/uppgifter", details_form(language="en"))
    with client.session_transaction() as session:
        assert session["lang"] == "en"
