"""Creating people: customers and staff, with hashed passwords and pseudonymous codes."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from shop.extensions import db
from shop.models import Customer, RoleGrant
from shop.models.customer import Role

#: scrypt, werkzeug's default: a memory-hard, modern password hash.
PASSWORD_METHOD = "scrypt"
MIN_PASSWORD_LENGTH = 10


class EmailTaken(Exception):
    """Another account already uses this e-mail address."""


def normalise_email(email: str) -> str:
    """E-mail addresses are unique case-insensitively: stored trimmed and lower-case."""
    return email.strip().lower()


def new_pseudonym() -> str:
    """A fresh pseudonymous code such as ``K-7F3A9C2B`` (privacy.md R2.1)."""
    while True:
        code = "K-" + secrets.token_hex(4).upper()
        exists = db.session.scalar(select(Customer.id).where(Customer.pseudonym == code))
        if exists is None:
            return code


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def password_matches(customer: Customer, password: str) -> bool:
    if not customer.password_hash:
        return False
    return check_password_hash(customer.password_hash, password)


def find_by_email(email: str) -> Customer | None:
    return db.session.scalar(select(Customer).where(Customer.email == normalise_email(email)))


def create_staff_member(
    *, email: str, name: str, password: str, roles: list[Role], now: datetime
) -> Customer:
    """Create a staff login with the given roles; refuses an e-mail already in use."""
    if find_by_email(email) is not None:
        raise EmailTaken(email)
    person = Customer(
        email=normalise_email(email),
        name=name,
        password_hash=hash_password(password),
        kind="consumer",
        created_at=now,
        adult_confirmed_at=now,
        pseudonym=new_pseudonym(),
        language="sv",
    )
    person.role_grants = [RoleGrant(role=role.value, granted_at=now) for role in roles]
    db.session.add(person)
    db.session.commit()
    return person
