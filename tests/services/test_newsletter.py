"""Newsletter consent as history, signed unsubscribe tokens, queued newsletters (R2.6, R4.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from shop.extensions import db
from shop.models import AuditEntry, Consent, Customer, OutboxMessage
from shop.services import accounts, mail, newsletter
from tests.factories import make_customer

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clear_sent() -> Any:
    mail.sent_messages.clear()
    yield
    mail.sent_messages.clear()


def subscribed(email: str = "kund@example.se", **extra: Any) -> Customer:
    customer = make_customer(email=email, **extra)
    newsletter.set_subscription(customer, True, source="registration", now=NOW)
    return customer


def link_for(token: str) -> str:
    return f"http://localhost/nyhetsbrev/avsluta/{token}"


def test_opting_in_and_out_is_kept_as_history_R2_6(app: Flask) -> None:
    customer = make_customer(email="kund@example.se")
    assert newsletter.set_subscription(customer, True, source="account", now=NOW)
    assert not newsletter.set_subscription(customer, True, source="account", now=NOW)
    later = NOW + timedelta(days=3)
    assert newsletter.set_subscription(customer, False, source="account", now=later)
    events = newsletter.history(customer)
    assert [(e.action, e.at, e.source) for e in events] == [
        ("withdrawn", later, "account"),
        ("given", NOW, "account"),
    ]
    assert {e.wording_version for e in events} == {accounts.NEWSLETTER_WORDING_VERSION}
    assert not accounts.newsletter_subscribed(customer)


def test_a_token_names_its_address_and_survives_the_round_trip_R2_6(app: Flask) -> None:
    token = newsletter.unsubscribe_token("Kund@Example.se")
    assert newsletter.email_for_token(token) == "kund@example.se"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.split(".")[0] + ".forged",
        lambda t: "",
        lambda t: "not-a-token",
    ],
)
def test_a_tampered_token_is_refused_R2_6(app: Flask, tamper: Any) -> None:
    token = newsletter.unsubscribe_token("kund@example.se")
    with pytest.raises(newsletter.InvalidUnsubscribeLink):
        newsletter.email_for_token(tamper(token))


def test_a_token_signed_with_another_secret_is_refused_R2_6(app: Flask) -> None:
    token = newsletter.unsubscribe_token("kund@example.se")
    app.config["SECRET_KEY"] = "another-secret-that-is-long-enough-9876543210"
    with pytest.raises(newsletter.InvalidUnsubscribeLink):
        newsletter.email_for_token(token)


def test_a_password_reset_style_token_for_another_purpose_is_refused(app: Flask) -> None:
    from itsdangerous import URLSafeSerializer

    forged = URLSafeSerializer(app.config["SECRET_KEY"], salt="newsletter-unsubscribe").dumps(
        {"e": "kund@example.se", "p": "marketing"}
    )
    with pytest.raises(newsletter.InvalidUnsubscribeLink):
        newsletter.email_for_token(forged)


def test_unsubscribe_withdraws_at_once_and_twice_changes_nothing_R2_6(app: Flask) -> None:
    customer = subscribed()
    token = newsletter.unsubscribe_token(customer.email)
    later = NOW + timedelta(hours=1)
    assert newsletter.unsubscribe(token, source=newsletter.SOURCE_LINK, now=later) == customer.email
    newsletter.unsubscribe(token, source=newsletter.SOURCE_LINK, now=later)
    assert [e.action for e in newsletter.history(customer)] == ["withdrawn", "given"]
    assert newsletter.history(customer)[0].source == "unsubscribe_link"
    assert newsletter.subscribers() == []


def test_a_bare_address_subscriber_can_unsubscribe_R2_6(app: Flask) -> None:
    db.session.add(
        Consent(
            email="gast@example.se",
            purpose="newsletter",
            action="given",
            at=NOW,
            source="staff",
            wording_version="2026-11-01",
        )
    )
    db.session.commit()
    newsletter.unsubscribe(
        newsletter.unsubscribe_token("gast@example.se"), source="one_click", now=NOW
    )
    rows = db.session.scalars(select(Consent).order_by(Consent.id)).all()
    assert [(r.action, r.customer_id, r.source) for r in rows] == [
        ("given", None, "staff"),
        ("withdrawn", None, "one_click"),
    ]


def test_subscribers_are_those_whose_latest_event_is_given_R2_6(app: Flask) -> None:
    keeps = subscribed("behaller@example.se")
    leaves = subscribed("slutar@example.se")
    newsletter.set_subscription(leaves, False, source="account", now=NOW + timedelta(days=1))
    make_customer(email="aldrig@example.se")
    anonymised = subscribed("anonym@example.se")
    anonymised.anonymised_at = NOW
    db.session.commit()
    assert newsletter.subscribers() == [keeps]


def test_the_latest_event_by_time_decides_as_on_the_account_page_R2_6(app: Flask) -> None:
    """A withdrawal entered later but dated earlier does not undo a later consent."""
    customer = make_customer(email="kund@example.se")
    newsletter.set_subscription(customer, True, source="account", now=NOW + timedelta(days=1))
    db.session.add(
        Consent(
            customer_id=customer.id,
            email=customer.email,
            purpose="newsletter",
            action="withdrawn",
            at=NOW,
            source="staff",
            wording_version="2026-11-01",
        )
    )
    db.session.commit()
    assert accounts.newsletter_subscribed(customer)
    assert newsletter.subscribers() == [customer]


def test_each_newsletter_mail_carries_its_own_unsubscribe_link_and_headers_R2_6(
    app: Flask,
) -> None:
    first = subscribed("forsta@example.se")
    second = subscribed("andra@example.se", language="en")
    make_customer(email="ingen@example.se")
    sent = newsletter.queue_newsletter(
        subject="Nyheter i november",
        body="Nya noter för stråkkvartett.\n\nVälkommen in!",
        link_for=link_for,
        staff_id=None,
        now=NOW,
    )
    assert sent.recipients == 2
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.to_address for r in rows] == [first.email, second.email]
    for row in rows:
        url = link_for(newsletter.unsubscribe_token(row.to_address))
        assert row.template == "newsletter"
        assert row.headers == {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        assert url in row.body_text
        assert url in (row.body_html or "")
        assert "Nya noter för stråkkvartett." in row.body_text
    assert "Avsluta prenumeration" in rows[0].body_text
    assert "Unsubscribe" in rows[1].body_text
    entry = db.session.scalars(select(AuditEntry)).one()
    assert entry.action == "newsletter.queued"
    assert entry.details["recipients"] == 2
    assert "forsta@example.se" not in str(entry.details)


def test_the_headers_reach_the_sent_mail_R2_6(app: Flask) -> None:
    subscribed()
    newsletter.queue_newsletter(
        subject="Nyheter", body="Hej!", link_for=link_for, staff_id=None, now=NOW
    )
    report = mail.send_pending(now=NOW, backend=mail.MemoryBackend())
    assert report.sent == 1
    email = mail.sent_messages[0]
    url = link_for(newsletter.unsubscribe_token("kund@example.se"))
    assert email["List-Unsubscribe"] == f"<{url}>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_no_mail_for_those_who_withdrew_before_sending_R2_6(app: Flask) -> None:
    customer = subscribed()
    newsletter.unsubscribe(
        newsletter.unsubscribe_token(customer.email), source="unsubscribe_link", now=NOW
    )
    sent = newsletter.queue_newsletter(
        subject="Nyheter", body="Hej!", link_for=link_for, staff_id=None, now=NOW
    )
    assert sent.recipients == 0
    assert db.session.scalars(select(OutboxMessage)).all() == []


@pytest.mark.parametrize("how", ["link", "account"])
def test_withdrawing_drops_newsletters_still_in_the_outbox_R2_6(app: Flask, how: str) -> None:
    customer = subscribed()
    other = subscribed("annan@example.se")
    accounts.request_password_reset(
        customer.email, now=NOW, max_age_seconds=3600, link_for=lambda token: token
    )
    newsletter.queue_newsletter(
        subject="Nyheter", body="Hej!", link_for=link_for, staff_id=None, now=NOW
    )
    if how == "link":
        newsletter.unsubscribe(
            newsletter.unsubscribe_token(customer.email), source="unsubscribe_link", now=NOW
        )
    else:
        newsletter.set_subscription(customer, False, source="account", now=NOW)
    left = db.session.execute(
        select(OutboxMessage.to_address, OutboxMessage.template).order_by(OutboxMessage.id)
    ).all()
    assert [tuple(row) for row in left] == [
        (customer.email, "password_reset"),
        (other.email, "newsletter"),
    ]
