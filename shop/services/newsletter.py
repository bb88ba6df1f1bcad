"""The newsletter: consent as history, one-click unsubscribe, and sending (R2.6, R4.4).

Consent is never a flag that is overwritten: every opt-in and opt-out is a
:class:`~shop.models.Consent` row with its time, source and the version of
the wording the person saw; the latest row decides. A customer's state is
read by customer id, an e-mail address without an account by the address.

Every newsletter mail carries an unsubscribe link with a signed token (the
app's secret, :mod:`itsdangerous`); the link works without logging in, and
the ``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers (RFC 2369,
RFC 8058) let the mail program unsubscribe with one click. Withdrawing takes
effect at once: newsletters still waiting in the outbox for the address are
dropped, and the next one is not queued for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select

from shop.extensions import db
from shop.models import AuditEntry, Consent, Customer, OutboxMessage
from shop.services import mail
from shop.services.accounts import NEWSLETTER_WORDING_VERSION, newsletter_subscribed
from shop.services.customers import find_by_email, normalise_email

PURPOSE = "newsletter"
#: The outbox template (and kind) of a newsletter mail.
TEMPLATE = "newsletter"
_SALT = "newsletter-unsubscribe"

#: Sources of a consent event, as stored.
SOURCE_ACCOUNT = "account"
SOURCE_LINK = "unsubscribe_link"
SOURCE_ONE_CLICK = "one_click"

#: The consent wording of :data:`~shop.services.accounts.NEWSLETTER_WORDING_VERSION`.
WORDING = lazy_gettext(
    "Ja tack, jag vill ha nyhetsbrevet med nyheter och erbjudanden via e-post. "
    "Jag kan när som helst avsluta prenumerationen."
)


class InvalidUnsubscribeLink(Exception):
    """The token is not one the shop signed (tampered with, or from elsewhere)."""


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.config["SECRET_KEY"]), salt=_SALT)


def unsubscribe_token(email: str) -> str:
    """A signed token naming the address; it does not expire (old mails keep working)."""
    return str(_serializer().dumps({"e": normalise_email(email), "p": PURPOSE}))


def email_for_token(token: str) -> str:
    """The address a token was made for; raises :class:`InvalidUnsubscribeLink`."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise InvalidUnsubscribeLink from None
    if not isinstance(data, dict) or data.get("p") != PURPOSE or not data.get("e"):
        raise InvalidUnsubscribeLink
    return str(data["e"])


def history(customer: Customer) -> list[Consent]:
    """The customer's newsletter consent events, newest first (shown in the account)."""
    return list(
        db.session.scalars(
            select(Consent)
            .where(Consent.customer_id == customer.id, Consent.purpose == PURPOSE)
            .order_by(Consent.at.desc(), Consent.id.desc())
        )
    )


def _bare_email_subscribed(email: str) -> bool:
    action = db.session.scalar(
        select(Consent.action)
        .where(Consent.customer_id.is_(None), Consent.email == email, Consent.purpose == PURPOSE)
        .order_by(Consent.at.desc(), Consent.id.desc())
        .limit(1)
    )
    return action == "given"


def _event(customer: Customer | None, email: str, action: str, source: str, now: datetime) -> None:
    db.session.add(
        Consent(
            customer_id=customer.id if customer is not None else None,
            email=email,
            purpose=PURPOSE,
            action=action,
            at=now,
            source=source,
            wording_version=NEWSLETTER_WORDING_VERSION,
        )
    )


def _drop_queued(email: str) -> None:
    """Newsletters still waiting in the outbox for the address are not sent (R2.6: at once)."""
    db.session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.template == TEMPLATE,
            OutboxMessage.to_address == email,
            OutboxMessage.status == "pending",
        )
        .execution_options(synchronize_session=False)
    )


def set_subscription(customer: Customer, subscribed: bool, *, source: str, now: datetime) -> bool:
    """Opt in or out; records an event only when the state changes. True if it changed."""
    if subscribed == newsletter_subscribed(customer):
        return False
    _event(customer, customer.email, "given" if subscribed else "withdrawn", source, now)
    if not subscribed:
        _drop_queued(customer.email)
    db.session.commit()
    return True


def unsubscribe(token: str, *, source: str, now: datetime) -> str:
    """Withdraw the consent the token's address gave (R2.6); returns the address.

    No login is needed: the signed token is the proof. Unsubscribing an
    address that is not subscribed changes nothing (a second click is harmless).
    """
    email = email_for_token(token)
    customer = find_by_email(email)
    if customer is not None:
        if newsletter_subscribed(customer):
            _event(customer, email, "withdrawn", source, now)
    elif _bare_email_subscribed(email):
        _event(None, email, "withdrawn", source, now)
    _drop_queued(email)
    db.session.commit()
    return email


def subscribers() -> list[Customer]:
    """Customers whose latest newsletter event is ``given``, who can still be reached."""
    latest_action = (
        select(Consent.action)
        .where(Consent.customer_id == Customer.id, Consent.purpose == PURPOSE)
        .order_by(Consent.at.desc(), Consent.id.desc())
        .limit(1)
        .correlate(Customer)
        .scalar_subquery()
    )
    return list(
        db.session.scalars(
            select(Customer)
            .where(
                latest_action == "given",
                Customer.anonymised_at.is_(None),
                Customer.login_disabled.is_(False),
            )
            .order_by(Customer.id)
        )
    )


def list_headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers: mail programs show an unsubscribe button."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


@dataclass(frozen=True)
class NewsletterSent:
    """What :func:`queue_newsletter` did."""

    recipients: int


def queue_newsletter(
    *,
    subject: str,
    body: str,
    link_for: Callable[[str], str],
    staff_id: int | None,
    now: datetime,
) -> NewsletterSent:
    """Queue one newsletter mail per subscriber, each with its own unsubscribe link.

    ``link_for(token)`` makes the absolute unsubscribe URL. The subscribers
    are read when this runs, so whoever withdrew before is not mailed. The
    send is recorded in the audit log (count only, no addresses).
    """
    recipients = subscribers()
    for customer in recipients:
        url = link_for(unsubscribe_token(customer.email))
        mail.queue_templated_mail(
            to=customer.email,
            subject=subject,
            template=TEMPLATE,
            context={"body": body, "subject": subject, "unsubscribe_url": url},
            headers=list_headers(url),
            now=now,
            language=customer.language,
        )
    db.session.add(
        AuditEntry(
            at=now,
            actor=f"staff:{staff_id}" if staff_id is not None else "system",
            action="newsletter.queued",
            subject_type="newsletter",
            subject_id=now.strftime("%Y%m%dT%H%M%S"),
            details={"recipients": len(recipients), "subject": subject[:200]},
            rule_id="R2.6",
        )
    )
    db.session.commit()
    return NewsletterSent(recipients=len(recipients))
