"""The accounts service: registration (T1.1, T1.2, R2.6), login (R2.1), password reset."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from shop.domain.buyers import BuyerKind
from shop.extensions import db
from shop.models import Consent, Customer, OutboxMessage, PasswordResetToken
from shop.services import accounts, cart
from shop.services.customers import EmailTaken, password_matches
from tests.services.test_cart import make_customer, make_product

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
PASSWORD = "ett-bra-losenord"


def registration(**overrides: Any) -> accounts.Registration:
    values: dict[str, Any] = {
        "kind": BuyerKind.CONSUMER,
        "email": "kund@example.se",
        "password": PASSWORD,
        "name": "Kim Kund",
        "birth_date": date(1990, 5, 17),
    }
    values.update(overrides)
    return accounts.Registration(**values)


def organisation(**overrides: Any) -> accounts.Registration:
    values: dict[str, Any] = {
        "kind": BuyerKind.ORGANISATION,
        "birth_date": None,
        "organisation_name": "Musikskolan i Lund",
        "organisation_number": "5566778899",
        "adult_confirmed": True,
    }
    values.update(overrides)
    return registration(**values)


def link(token: str) -> str:
    return f"http://localhost/konto/aterstall/{token}"


# --- Registration -------------------------------------------------------------------


def test_consumer_of_age_registers_T1_1(app: Flask) -> None:
    customer = accounts.register(registration(email=" Kund@Example.SE "), now=NOW, today=TODAY)
    assert customer.email == "kund@example.se"
    assert customer.kind == "consumer"
    assert customer.birth_date == date(1990, 5, 17)
    assert customer.adult_confirmed_at == NOW
    assert customer.password_hash
    assert customer.password_hash.startswith("scrypt:")
    assert customer.pseudonym.startswith("K-")


def test_consumer_turning_18_today_may_register_T1_1(app: Flask) -> None:
    customer = accounts.register(registration(birth_date=date(2008, 11, 23)), now=NOW, today=TODAY)
    assert customer.id is not None


def test_consumer_under_18_is_refused_T1_1(app: Flask) -> None:
    with pytest.raises(accounts.AccountError, match="18 år") as refused:
        accounts.register(registration(birth_date=date(2008, 11, 24)), now=NOW, today=TODAY)
    assert refused.value.field == "birth_date"
    assert db.session.query(Customer).count() == 0


def test_consumer_without_birth_date_is_refused_T1_1(app: Flask) -> None:
    with pytest.raises(accounts.AccountError, match="födelsedatum"):
        accounts.register(registration(birth_date=None), now=NOW, today=TODAY)


def test_birth_date_in_the_future_is_refused_T1_1(app: Flask) -> None:
    with pytest.raises(accounts.AccountError, match="framtiden"):
        accounts.register(registration(birth_date=date(2030, 1, 1)), now=NOW, today=TODAY)


def test_organisation_registers_with_normalised_number_T1_2(app: Flask) -> None:
    customer = accounts.register(organisation(), now=NOW, today=TODAY)
    assert customer.kind == "organisation"
    assert customer.organisation_number == "556677-8899"
    assert customer.organisation_name == "Musikskolan i Lund"
    assert customer.birth_date is None
    assert customer.adult_confirmed_at == NOW


def test_organisation_number_with_wrong_check_digit_is_refused_T1_2(app: Flask) -> None:
    with pytest.raises(accounts.AccountError, match="Organisationsnumret") as refused:
        accounts.register(organisation(organisation_number="556677-8898"), now=NOW, today=TODAY)
    assert refused.value.field == "organisation_number"


def test_organisation_must_confirm_contact_person_is_of_age_T1_1(app: Flask) -> None:
    with pytest.raises(accounts.AccountError, match="18 år") as refused:
        accounts.register(organisation(adult_confirmed=False), now=NOW, today=TODAY)
    assert refused.value.field == "adult_confirmed"


def test_organisation_needs_a_name_T1_2(app: Flask) -> None:
    with pytest.raises(accounts.AccountError, match="organisationens namn"):
        accounts.register(organisation(organisation_name=" "), now=NOW, today=TODAY)


def test_newsletter_consent_is_stored_as_an_event_R2_6(app: Flask) -> None:
    customer = accounts.register(registration(newsletter=True), now=NOW, today=TODAY)
    consent = db.session.query(Consent).one()
    assert consent.customer_id == customer.id
    assert consent.email == "kund@example.se"
    assert (consent.purpose, consent.action, consent.source) == (
        "newsletter",
        "given",
        "registration",
    )
    assert consent.wording_version == accounts.NEWSLETTER_WORDING_VERSION
    assert consent.at == NOW
    assert accounts.newsletter_subscribed(customer)


def test_no_newsletter_consent_unless_ticked_R2_6(app: Flask) -> None:
    customer = accounts.register(registration(), now=NOW, today=TODAY)
    assert db.session.query(Consent).count() == 0
    assert not accounts.newsletter_subscribed(customer)


def test_email_is_unique_case_insensitively(app: Flask) -> None:
    accounts.register(registration(email="kund@example.se"), now=NOW, today=TODAY)
    with pytest.raises(EmailTaken):
        accounts.register(registration(email="Kund@Example.se"), now=NOW, today=TODAY)
    assert db.session.query(Customer).count() == 1


def test_short_password_is_refused(app: Flask) -> None:
    with pytest.raises(accounts.AccountError, match="minst 10 tecken"):
        accounts.register(registration(password="kort12345"), now=NOW, today=TODAY)


# --- Login ------------------------------------------------------------------------------


def test_authenticate(app: Flask) -> None:
    customer = make_customer(email="kund@example.se", password=PASSWORD)
    assert accounts.authenticate("KUND@example.se", PASSWORD) == customer
    assert accounts.authenticate("kund@example.se", "fel-losenord") is None
    assert accounts.authenticate("okand@example.se", PASSWORD) is None


@pytest.mark.parametrize("field", ["login_disabled", "anonymised_at"])
def test_anonymised_and_disabled_accounts_cannot_log_in_R2_1(app: Flask, field: str) -> None:
    customer = make_customer(password=PASSWORD)
    setattr(customer, field, True if field == "login_disabled" else NOW)
    db.session.commit()
    assert accounts.authenticate(customer.email, PASSWORD) is None


def test_login_is_activity_and_merges_the_guest_cart_R2_1(app: Flask) -> None:
    customer = make_customer()
    product = make_product(stock=5)
    notes = accounts.record_login(customer, {str(product.id): 2}, now=NOW, today=TODAY)
    assert notes == []
    db.session.expire_all()
    assert customer.last_login_at == NOW
    assert customer.last_activity_on == TODAY
    assert cart.customer_lines(customer.id) == {product.id: 2}


# --- Password reset -------------------------------------------------------------------------


def _token_from(message: OutboxMessage) -> str:
    line = next(part for part in message.body_text.split() if "/konto/aterstall/" in part)
    return line.rsplit("/", 1)[1]


def test_reset_stores_only_a_hash_and_queues_the_mail_in_the_same_commit(app: Flask) -> None:
    customer = make_customer()
    with app.test_request_context():
        message = accounts.request_password_reset(
            "KUND@example.se", now=NOW, max_age_seconds=3600, link_for=link
        )
    assert message is not None
    db.session.rollback()  # nothing left uncommitted: both rows are stored
    token = _token_from(db.session.get(OutboxMessage, message.id))  # type: ignore[arg-type]
    row = db.session.query(PasswordResetToken).one()
    assert row.customer_id == customer.id
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash
    assert row.expires_at == NOW + timedelta(hours=1)
    stored = db.session.query(OutboxMessage).one()
    assert (stored.template, stored.to_address, stored.status) == (
        "password_reset",
        "kund@example.se",
        "pending",
    )
    assert stored.subject == "Återställ ditt lösenord"
    assert "60 minuter" in stored.body_text


def test_reset_for_unknown_or_disabled_email_does_nothing(app: Flask) -> None:
    disabled = make_customer(email="av@example.se")
    disabled.login_disabled = True
    db.session.commit()
    with app.test_request_context():
        for email in ("okand@example.se", "av@example.se"):
            assert (
                accounts.request_password_reset(email, now=NOW, max_age_seconds=60, link_for=link)
                is None
            )
    assert db.session.query(PasswordResetToken).count() == 0
    assert db.session.query(OutboxMessage).count() == 0


def _request_token(app: Flask, email: str = "kund@example.se") -> str:
    with app.test_request_context():
        message = accounts.request_password_reset(
            email, now=NOW, max_age_seconds=3600, link_for=link
        )
    assert message is not None
    return _token_from(message)


def test_reset_link_sets_a_new_password_once(app: Flask) -> None:
    customer = make_customer(password=PASSWORD)
    token = _request_token(app)
    other = _request_token(app)
    version = customer.session_version
    assert accounts.customer_for_reset_token(token, now=NOW) == customer
    accounts.reset_password(token, "nytt-hemligt-losenord", now=NOW + timedelta(minutes=5))
    db.session.expire_all()
    assert password_matches(customer, "nytt-hemligt-losenord")
    assert customer.session_version == version + 1
    with pytest.raises(accounts.InvalidResetToken):
        accounts.reset_password(token, "ett-tredje-losenord", now=NOW + timedelta(minutes=6))
    # Other outstanding links of the account stop working too.
    assert accounts.customer_for_reset_token(other, now=NOW + timedelta(minutes=6)) is None


def test_reset_link_expires(app: Flask) -> None:
    make_customer()
    token = _request_token(app)
    assert accounts.customer_for_reset_token(token, now=NOW + timedelta(seconds=3599))
    assert accounts.customer_for_reset_token(token, now=NOW + timedelta(seconds=3600)) is None
    with pytest.raises(accounts.InvalidResetToken):
        accounts.reset_password(token, "nytt-hemligt-losenord", now=NOW + timedelta(hours=2))


def test_reset_refuses_unknown_token_and_short_password(app: Flask) -> None:
    make_customer()
    assert accounts.customer_for_reset_token("nonsense", now=NOW) is None
    assert accounts.customer_for_reset_token("", now=NOW) is None
    token = _request_token(app)
    with pytest.raises(accounts.AccountError, match="minst 10"):
        accounts.reset_password(token, "kort", now=NOW)
    assert accounts.customer_for_reset_token(token, now=NOW) is not None


# --- Changing details ----------------------------------------------------------------------------


def test_change_password_needs_the_current_one_and_bumps_session_version(app: Flask) -> None:
    customer = make_customer(password=PASSWORD)
    with pytest.raises(accounts.WrongPassword):
        accounts.change_password(customer, "fel-losenord", "nytt-hemligt-losenord", now=NOW)
    with pytest.raises(accounts.AccountError, match="minst 10"):
        accounts.change_password(customer, PASSWORD, "kort", now=NOW)
    assert customer.session_version == 1
    accounts.change_password(customer, PASSWORD, "nytt-hemligt-losenord", now=NOW)
    assert customer.session_version == 2
    assert password_matches(customer, "nytt-hemligt-losenord")


def details(**overrides: Any) -> accounts.ContactDetails:
    values: dict[str, Any] = {
        "name": "Kim Kundsson",
        "phone": "070-123 45 67",
        "language": "en",
        "address": accounts.AddressDetails("Kim Kundsson", "Storgatan 1", "41101", "Göteborg"),
        "newsletter": False,
    }
    values.update(overrides)
    return accounts.ContactDetails(**values)


def test_update_details_saves_a_delivery_address_with_normalised_postcode(app: Flask) -> None:
    customer = make_customer()
    accounts.update_details(customer, details(), now=NOW)
    db.session.expire_all()
    address = accounts.delivery_address(customer)
    assert address is not None
    assert (address.street, address.postcode, address.city) == (
        "Storgatan 1",
        "411 01",
        "Göteborg",
    )
    assert (customer.name, customer.phone, customer.language) == (
        "Kim Kundsson",
        "070-123 45 67",
        "en",
    )
    accounts.update_details(customer, details(address=None), now=NOW)
    assert accounts.delivery_address(customer) is None


@pytest.mark.parametrize("postcode", ["4110", "411 012", "ABC 12", "41-101", ""])
def test_update_details_refuses_a_bad_postcode(app: Flask, postcode: str) -> None:
    customer = make_customer()
    address = accounts.AddressDetails("Kim", "Storgatan 1", postcode, "Göteborg")
    with pytest.raises(accounts.AccountError, match="NNN NN") as refused:
        accounts.update_details(customer, details(address=address), now=NOW)
    assert refused.value.field == "postcode"
    db.session.expire_all()
    assert customer.name == "Kim Kund"


def test_newsletter_given_and_withdrawn_in_the_account_are_events_R2_6(app: Flask) -> None:
    customer = make_customer()
    accounts.update_details(customer, details(newsletter=True), now=NOW)
    accounts.update_details(customer, details(newsletter=True), now=NOW)  # no change: no row
    accounts.update_details(customer, details(newsletter=False), now=NOW + timedelta(days=1))
    events = db.session.query(Consent).order_by(Consent.at).all()
    assert [(e.action, e.source) for e in events] == [
        ("given", "account"),
        ("withdrawn", "account"),
    ]
    assert not accounts.newsletter_subscribed(customer)
