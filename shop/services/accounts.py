"""Customer accounts: registration, login, password reset and change, contact details.

Who may register is decided by the domain: consumers must be 18 or older on
the day (T1.1), organisations give a valid organisation number (T1.2) and
confirm that the contact person is of age. Newsletter consent is only ever
recorded as a given or withdrawn event (R2.6). Logging in counts as activity
for the retention rules (R2.1).

Registering from the web goes by e-mail (:func:`request_registration`): the
page answers the same whether or not the address has an account, and the
account is created when the mailed link is followed (no account enumeration).

Password-reset and activation links carry a random token; only its SHA-256
hash is stored, and the link works once, until ``PASSWORD_RESET_MAX_AGE`` or
``REGISTRATION_LINK_MAX_AGE`` seconds have passed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from shop.domain.buyers import BuyerKind, normalise_org_number, require_of_age
from shop.domain.errors import DomainError
from shop.extensions import db
from shop.models import (
    Address,
    Consent,
    Customer,
    OutboxMessage,
    PasswordResetToken,
    PendingRegistration,
)
from shop.services import cart, mail
from shop.services.customers import (
    MIN_PASSWORD_LENGTH,
    EmailTaken,
    find_by_email,
    hash_password,
    new_pseudonym,
    normalise_email,
    password_matches,
)

#: The version of the newsletter consent wording shown at registration (R2.6).
NEWSLETTER_WORDING_VERSION = "2026-11-01"
MAX_PASSWORD_LENGTH = 200
LANGUAGES = ("sv", "en")
_POSTCODE = re.compile(r"^(\d{3}) ?(\d{2})$")


class AccountError(Exception):
    """An account change was refused; ``message`` says why, in Swedish."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidResetToken(AccountError):
    """The reset link is unknown, used or expired."""


class WrongPassword(AccountError):
    """The current password given does not match."""


# --- Passwords --------------------------------------------------------------------------


@cache
def _dummy_hash() -> str:
    """A hash compared against when the e-mail is unknown, so both cases take as long."""
    return hash_password(secrets.token_urlsafe(16))


def password_problem(password: str) -> str | None:
    """Why a new password is not accepted, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("Lösenordet måste ha minst %(count)d tecken.", count=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("Lösenordet får ha högst %(count)d tecken.", count=MAX_PASSWORD_LENGTH)
    return None


def _require_password(password: str, field: str = "password") -> None:
    problem = password_problem(password)
    if problem:
        raise AccountError(problem, field=field)


def normalise_postcode(raw: str) -> str:
    """A Swedish postcode as ``NNN NN``; raises :class:`AccountError` otherwise."""
    match = _POSTCODE.match(raw.strip())
    if not match:
        raise AccountError(_("Skriv postnumret som NNN NN, t.ex. 411 01."), field="postcode")
    return f"{match.group(1)} {match.group(2)}"


# --- Registration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """What the registration form collects."""

    kind: BuyerKind
    email: str
    password: str
    name: str
    phone: str | None = None
    birth_date: date | None = None
    organisation_name: str | None = None
    organisation_number: str | None = None
    #: An organisation's contact person confirms being 18 or older (T1.1).
    adult_confirmed: bool = False
    newsletter: bool = False
    language: str = "sv"


def _build_customer(
    data: Registration, email: str, password_hash: str, *, now: datetime, today: date
) -> Customer:
    """The new, unsaved customer for ``data``; raises :class:`AccountError` (T1.1, T1.2)."""
    customer = Customer(
        email=email,
        password_hash=password_hash,
        name=data.name.strip(),
        phone=(data.phone or "").strip() or None,
        kind=data.kind.value,
        language=data.language if data.language in LANGUAGES else "sv",
        created_at=now,
        pseudonym=new_pseudonym(),
        session_version=1,
    )
    if data.kind is BuyerKind.CONSUMER:
        if data.birth_date is None:
            raise AccountError(_("Ange ditt födelsedatum."), field="birth_date")
        try:
            require_of_age(data.birth_date, today)
        except DomainError as error:
            raise AccountError(error.message, field="birth_date") from None
        customer.birth_date = data.birth_date
    else:
        if not (data.organisation_name or "").strip():
            raise AccountError(_("Ange organisationens namn."), field="organisation_name")
        try:
            number = normalise_org_number(data.organisation_number or "")
        except DomainError as error:
            raise AccountError(error.message, field="organisation_number") from None
        if not data.adult_confirmed:
            raise AccountError(
                _("Bekräfta att kontaktpersonen har fyllt 18 år."), field="adult_confirmed"
            )
        customer.organisation_name = (data.organisation_name or "").strip()
        customer.organisation_number = number
    customer.adult_confirmed_at = now
    return customer


def _save_new_customer(customer: Customer, newsletter: bool, now: datetime) -> Customer:
    try:
        db.session.add(customer)
        if newsletter:
            db.session.add(_consent(customer, customer.email, "given", "registration", now))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise EmailTaken(customer.email) from None
    return customer


def register(data: Registration, *, now: datetime, today: date) -> Customer:
    """Create a customer account at once and commit (T1.1, T1.2, R2.6).

    A consumer gives a birth date and must be 18 on ``today``; an organisation
    gives a valid organisation number and confirms its contact person is of
    age. Newsletter consent, if ticked, is stored as a ``given`` event. The
    registration page goes through :func:`request_registration` instead.
    """
    email = normalise_email(data.email)
    _require_password(data.password)
    if find_by_email(email) is not None:
        raise EmailTaken(email)
    customer = _build_customer(data, email, hash_password(data.password), now=now, today=today)
    return _save_new_customer(customer, data.newsletter, now)


# --- Registration by e-mail link (no account enumeration) ----------------------------------


class InvalidRegistrationToken(AccountError):
    """The account-activation link is unknown, used or expired."""


def _registration_details(data: Registration) -> dict[str, Any]:
    return {
        "kind": data.kind.value,
        "name": data.name,
        "phone": data.phone,
        "birth_date": data.birth_date.isoformat() if data.birth_date else None,
        "organisation_name": data.organisation_name,
        "organisation_number": data.organisation_number,
        "adult_confirmed": data.adult_confirmed,
        "newsletter": data.newsletter,
        "language": data.language,
    }


def _registration_from(row: PendingRegistration) -> Registration:
    details = row.details
    birth = details.get("birth_date")
    return Registration(
        kind=BuyerKind(details["kind"]),
        email=row.email,
        password="",  # nosec B106  # not a password: the stored hash is used
        name=str(details.get("name") or ""),
        phone=details.get("phone"),
        birth_date=date.fromisoformat(birth) if birth else None,
        organisation_name=details.get("organisation_name"),
        organisation_number=details.get("organisation_number"),
        adult_confirmed=bool(details.get("adult_confirmed")),
        newsletter=bool(details.get("newsletter")),
        language=str(details.get("language") or "sv"),
    )


def request_registration(
    data: Registration,
    *,
    now: datetime,
    today: date,
    max_age_seconds: int,
    link_for: Callable[[str], str],
    login_url: str,
    reset_url: str,
) -> OutboxMessage:
    """Check the registration and mail the address, in one commit (T1.1, T1.2).

    Bad input raises :class:`AccountError` as :func:`register` does. Then the
    answer never tells whether the address has an account: a new address gets
    a single-use link that creates the account (:func:`confirm_registration`)
    and works for ``max_age_seconds``; an address with an account gets a mail
    saying someone tried to register with it (log in or reset the password),
    and nothing else changes. Both ways hash the password, so they take as long.
    """
    email = normalise_email(data.email)
    _require_password(data.password)
    password_hash = hash_password(data.password)
    _build_customer(data, email, password_hash, now=now, today=today)  # validation only
    db.session.execute(delete(PendingRegistration).where(PendingRegistration.expires_at <= now))
    existing = find_by_email(email)
    if existing is not None:
        message = mail.queue_templated_mail(
            to=existing.email,
            subject=lazy_gettext("Någon försökte skapa ett konto med din e-postadress"),
            template="registration_exists",
            context={"name": existing.name, "login_url": login_url, "reset_url": reset_url},
            now=now,
            language=existing.language,
        )
    else:
        token = secrets.token_urlsafe(32)
        db.session.add(
            PendingRegistration(
                token_hash=_token_hash(token),
                email=email,
                password_hash=password_hash,
                details=_registration_details(data),
                created_at=now,
                expires_at=now + timedelta(seconds=max_age_seconds),
            )
        )
        message = mail.queue_templated_mail(
            to=email,
            subject=lazy_gettext("Bekräfta din e-postadress"),
            template="registration_confirm",
            context={
                "name": data.name.strip(),
                "link": link_for(token),
                "valid_hours": max(max_age_seconds // 3600, 1),
            },
            now=now,
            language=data.language if data.language in LANGUAGES else "sv",
        )
    db.session.commit()
    return message


def _pending(token: str, now: datetime) -> PendingRegistration | None:
    if not token or len(token) > 200:
        return None
    row = db.session.scalar(
        select(PendingRegistration).where(PendingRegistration.token_hash == _token_hash(token))
    )
    if row is None or row.expires_at <= now:
        return None
    return row


def registration_link_valid(token: str, *, now: datetime) -> bool:
    """True while an activation link can still be used."""
    return _pending(token, now) is not None


def confirm_registration(token: str, *, now: datetime, today: date) -> Customer:
    """Create the account a mailed activation link stands for; the link works once.

    Every waiting registration for the same address goes too. If the address
    got an account in the meantime, the link is refused.
    """
    invalid = InvalidRegistrationToken(
        _("Länken för att aktivera kontot är ogiltig, redan använd eller för gammal.")
    )
    row = _pending(token, now)
    if row is None:
        raise invalid
    data = _registration_from(row)
    password_hash = row.password_hash
    # Single use, atomically: only one request can delete this row.
    deleted = db.session.execute(
        delete(PendingRegistration)
        .where(PendingRegistration.id == row.id)
        .execution_options(synchronize_session=False)
    )
    if deleted.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise invalid
    db.session.execute(
        delete(PendingRegistration)
        .where(PendingRegistration.email == data.email)
        .execution_options(synchronize_session=False)
    )
    db.session.expunge(row)
    if find_by_email(data.email) is not None:
        db.session.commit()
        raise invalid
    customer = _build_customer(data, data.email, password_hash, now=now, today=today)
    try:
        return _save_new_customer(customer, data.newsletter, now)
    except EmailTaken:
        raise invalid from None


def _consent(customer: Customer, email: str, action: str, source: str, now: datetime) -> Consent:
    consent = Consent(
        email=email,
        purpose="newsletter",
        action=action,
        at=now,
        source=source,
        wording_version=NEWSLETTER_WORDING_VERSION,
    )
    if customer.id is None:
        db.session.flush()
    consent.customer_id = customer.id
    return consent


def newsletter_subscribed(customer: Customer) -> bool:
    """True if the latest newsletter consent event of the customer is ``given`` (R2.6)."""
    action = db.session.scalar(
        select(Consent.action)
        .where(Consent.customer_id == customer.id, Consent.purpose == "newsletter")
        .order_by(Consent.at.desc(), Consent.id.desc())
        .limit(1)
    )
    return action == "given"


# --- Login ----------------------------------------------------------------------------------


def can_log_in(customer: Customer) -> bool:
    """Anonymised and disabled accounts, and accounts without a password, cannot log in."""
    return (
        not customer.login_disabled
        and customer.anonymised_at is None
        and bool(customer.password_hash)
    )


def authenticate(email: str, password: str) -> Customer | None:
    """The customer with this e-mail and password who may log in, or None.

    Unknown e-mail, wrong password and disabled accounts look the same to
    the caller, and take about as long.
    """
    customer = find_by_email(email)
    if customer is None or not customer.password_hash:
        check_password_hash(_dummy_hash(), password)
        return None
    if not password_matches(customer, password):
        return None
    return customer if can_log_in(customer) else None


def record_login(
    customer: Customer, guest_cart: object, *, now: datetime, today: date
) -> list[str]:
    """Note the login (activity, R2.1), merge the guest cart into the account, commit.

    Returns notes about cart lines that could not be merged in full.
    """
    customer.last_login_at = now
    customer.last_activity_on = today
    notes = cart.merge_guest_cart(customer.id, guest_cart, now=now)
    db.session.commit()
    return notes


# --- Password reset ---------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def request_password_reset(
    email: str,
    *,
    now: datetime,
    max_age_seconds: int,
    link_for: Callable[[str], str],
) -> OutboxMessage | None:
    """Create a single-use reset token and queue the mail with its link, in one commit.

    Returns the queued message, or None when no account can be reset (the
    caller answers the same either way: no account enumeration).
    """
    customer = find_by_email(email)
    if customer is None or not can_log_in(customer):
        return None
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=max_age_seconds)
    db.session.add(
        PasswordResetToken(
            customer_id=customer.id,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=expires_at,
        )
    )
    message = mail.queue_templated_mail(
        to=customer.email,
        subject=lazy_gettext("Återställ ditt lösenord"),
        template="password_reset",
        context={
            "name": customer.name,
            "link": link_for(token),
            "valid_minutes": max(max_age_seconds // 60, 1),
        },
        now=now,
        language=customer.language,
    )
    db.session.commit()
    return message


def _valid_token(token: str, now: datetime) -> PasswordResetToken | None:
    if not token or len(token) > 200:
        return None
    row = db.session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_hash(token))
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def customer_for_reset_token(token: str, *, now: datetime) -> Customer | None:
    """The customer a reset link is for, if the link is still valid."""
    row = _valid_token(token, now)
    if row is None:
        return None
    customer = db.session.get(Customer, row.customer_id)
    return customer if customer is not None and can_log_in(customer) else None


def _use_up_reset_links(customer: Customer, now: datetime) -> None:
    """Every outstanding reset link of ``customer`` stops working (the caller commits)."""
    db.session.execute(
        update(PasswordResetToken)
        .where(
            PasswordResetToken.customer_id == customer.id,
            PasswordResetToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def reset_password(token: str, new_password: str, *, now: datetime) -> Customer:
    """Set a new password through a reset link, use the link up, log out everywhere."""
    customer = customer_for_reset_token(token, now=now)
    if customer is None:
        raise InvalidResetToken(
            _("Länken för att återställa lösenordet är ogiltig eller för gammal. Be om en ny.")
        )
    _require_password(new_password)
    # Single use, atomically: only one request can mark this token used.
    used = db.session.execute(
        update(PasswordResetToken)
        .where(
            PasswordResetToken.token_hash == _token_hash(token),
            PasswordResetToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise InvalidResetToken(
            _("Länken för att återställa lösenordet är ogiltig eller för gammal. Be om en ny.")
        )
    # Other outstanding links of the same account stop working too.
    _use_up_reset_links(customer, now)
    customer.password_hash = hash_password(new_password)
    customer.session_version += 1
    db.session.commit()
    return customer


# --- Changing one's own details --------------------------------------------------------------


def change_password(customer: Customer, current: str, new: str, *, now: datetime) -> None:
    """Change the password (current one required), log out every other session and
    make outstanding password-reset links useless."""
    if not password_matches(customer, current):
        raise WrongPassword(_("Det nuvarande lösenordet stämmer inte."), field="current_password")
    _require_password(new, field="new_password")
    customer.password_hash = hash_password(new)
    customer.session_version += 1
    _use_up_reset_links(customer, now)
    db.session.commit()


@dataclass(frozen=True)
class AddressDetails:
    """A delivery address as entered."""

    name: str
    street: str
    postcode: str
    city: str


@dataclass(frozen=True)
class ContactDetails:
    """What the contact-details form collects."""

    name: str
    phone: str | None
    language: str
    address: AddressDetails | None
    newsletter: bool


def delivery_address(customer: Customer) -> Address | None:
    """The customer's delivery address, if any."""
    return next((a for a in customer.addresses if a.kind == "delivery"), None)


def update_details(customer: Customer, details: ContactDetails, *, now: datetime) -> None:
    """Save name, phone, language, delivery address and newsletter choice (R2.6, R4.2)."""
    if details.language not in LANGUAGES:
        raise AccountError(_("Välj svenska eller engelska."), field="language")
    postcode = normalise_postcode(details.address.postcode) if details.address else None
    customer.name = details.name.strip()
    customer.phone = (details.phone or "").strip() or None
    customer.language = details.language
    current = delivery_address(customer)
    if details.address is None:
        if current is not None:
            customer.addresses.remove(current)
    else:
        if current is None:
            current = Address(kind="delivery", country="SE")
            customer.addresses.append(current)
        current.name = details.address.name.strip()
        current.street = details.address.street.strip()
        current.postcode = postcode or ""
        current.city = details.address.city.strip()
    if details.newsletter != newsletter_subscribed(customer):
        action = "given" if details.newsletter else "withdrawn"
        db.session.add(_consent(customer, customer.email, action, "account", now))
    db.session.commit()
