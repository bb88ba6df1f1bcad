"""Registration by e-mail link (issue 8): no account enumeration, single-use expiring
links; reset links die with a password change."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from shop.extensions import db
from shop.models import Consent, Customer, OutboxMessage, PendingRegistration
from shop.services import accounts
from shop.services.customers import password_matches
from tests.factories import make_customer
from tests.services.test_accounts import NOW, PASSWORD, TODAY, organisation, registration

DAY = 24 * 60 * 60


def request(data: accounts.Registration, now: Any = NOW) -> OutboxMessage:
    return accounts.request_registration(
        data,
        now=now,
        today=TODAY,
        max_age_seconds=DAY,
        link_for=lambda token: f"http://localhost/konto/aktivera/{token}",
        login_url="http://localhost/konto/logga-in",
        reset_url="http://localhost/konto/glomt-losenord",
    )


def token_of(message: OutboxMessage) -> str:
    match = re.search(r"/konto/aktivera/([A-Za-z0-9_-]+)", message.body_text)
    assert match, message.body_text
    return match.group(1)


def test_a_new_address_gets_a_link_and_only_its_hash_is_stored(app: Flask) -> None:
    message = request(registration(email=" Kund@Example.SE ", newsletter=True, language="en"))
    assert message.template == "registration_confirm"
    assert message.to_address == "kund@example.se"
    token = token_of(message)
    row = db.session.query(PendingRegistration).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(row.details)
    assert PASSWORD not in str(row.details)
    assert row.expires_at == NOW + timedelta(seconds=DAY)
    assert db.session.query(Customer).count() == 0

    customer = accounts.confirm_registration(token, now=NOW + timedelta(hours=1), today=TODAY)
    assert (customer.email, customer.name, customer.language) == (
        "kund@example.se",
        "Kim Kund",
        "en",
    )
    assert password_matches(customer, PASSWORD)
    assert db.session.query(Consent).one().action == "given"
    assert db.session.query(PendingRegistration).count() == 0


def test_an_organisation_is_created_with_its_number_T1_2(app: Flask) -> None:
    token = token_of(request(organisation()))
    customer = accounts.confirm_registration(token, now=NOW, today=TODAY)
    assert (customer.kind, customer.organisation_number) == ("organisation", "556677-8899")


def test_bad_input_is_refused_before_anything_is_mailed_T1_1(app: Flask) -> None:
    with pytest.raises(accounts.AccountError, match="myndig"):
        request(registration(birth_date=TODAY.replace(year=TODAY.year - 17)))
    with pytest.raises(accounts.AccountError, match="minst 10"):
        request(registration(password="kort"))
    assert db.session.query(OutboxMessage).count() == 0
    assert db.session.query(PendingRegistration).count() == 0


def test_a_taken_address_mails_its_owner_and_changes_nothing(app: Flask) -> None:
    owner = make_customer(email="kund@example.se", password=PASSWORD, language="en")
    message = request(registration(email="KUND@example.se", password="ett-annat-losenord"))
    assert message.template == "registration_exists"
    assert message.to_address == "kund@example.se"
    assert "Someone just tried to create an account" in message.body_text  # owner's language
    assert db.session.query(PendingRegistration).count() == 0
    db.session.expire_all()
    assert password_matches(owner, PASSWORD)
    assert db.session.query(Customer).count() == 1


def test_the_link_works_once(app: Flask) -> None:
    token = token_of(request(registration()))
    accounts.confirm_registration(token, now=NOW, today=TODAY)
    with pytest.raises(accounts.InvalidRegistrationToken):
        accounts.confirm_registration(token, now=NOW, today=TODAY)
    assert db.session.query(Customer).count() == 1


def test_the_link_expires(app: Flask) -> None:
    token = token_of(request(registration()))
    assert accounts.registration_link_valid(token, now=NOW + timedelta(seconds=DAY - 1))
    assert not accounts.registration_link_valid(token, now=NOW + timedelta(seconds=DAY))
    with pytest.raises(accounts.InvalidRegistrationToken):
        accounts.confirm_registration(token, now=NOW + timedelta(seconds=DAY), today=TODAY)
    assert db.session.query(Customer).count() == 0


def test_unknown_or_tampered_links_are_refused(app: Flask) -> None:
    token = token_of(request(registration()))
    for bad in ["", "x", token[:-1], token + "x", "a" * 300]:
        with pytest.raises(accounts.InvalidRegistrationToken):
            accounts.confirm_registration(bad, now=NOW, today=TODAY)


def test_two_registrations_for_one_address_make_one_account(app: Flask) -> None:
    """Whoever follows a link first wins; the other link stops working."""
    first = token_of(request(registration(name="Första")))
    second = token_of(request(registration(name="Andra")))
    assert accounts.confirm_registration(second, now=NOW, today=TODAY).name == "Andra"
    with pytest.raises(accounts.InvalidRegistrationToken):
        accounts.confirm_registration(first, now=NOW, today=TODAY)
    assert db.session.query(Customer).count() == 1


def test_a_link_for_an_address_that_got_an_account_meanwhile_is_refused(app: Flask) -> None:
    token = token_of(request(registration()))
    make_customer(email="kund@example.se")
    with pytest.raises(accounts.InvalidRegistrationToken):
        accounts.confirm_registration(token, now=NOW, today=TODAY)
    assert db.session.query(PendingRegistration).count() == 0


def test_expired_registrations_are_deleted_by_the_next_one(app: Flask) -> None:
    request(registration(email="gammal@example.se"))
    request(registration(email="ny@example.se"), now=NOW + timedelta(seconds=DAY))
    assert [row.email for row in db.session.query(PendingRegistration)] == ["ny@example.se"]


def test_changing_the_password_uses_up_outstanding_reset_links(app: Flask) -> None:
    """A reset link mailed before a password change must not undo the change."""
    from tests.services.test_accounts import _request_token

    customer = make_customer(email="kund@example.se", password=PASSWORD)
    token = _request_token(app)
    accounts.change_password(customer, PASSWORD, "ett-nytt-losenord", now=NOW)
    assert accounts.customer_for_reset_token(token, now=NOW) is None
    with pytest.raises(accounts.InvalidResetToken):
        accounts.reset_password(token, "angriparens-losenord", now=NOW)
