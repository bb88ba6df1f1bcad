"""Customers, their addresses, roles, consents and password-reset tokens.

Personal-data category (privacy.md section 1): ``account`` for Customer and
Address, ``newsletter consent`` for Consent.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.types import UTCDateTime


class Role(StrEnum):
    """Who someone is to the shop; customers have no grant, staff have one or more."""

    STAFF = "staff"
    FINANCE = "finance"
    ADMIN = "admin"
    TEACHER = "teacher"


#: The roles that satisfy a page guarded by ``staff_required(role)``.
ROLE_SATISFIED_BY: dict[Role, frozenset[Role]] = {
    Role.STAFF: frozenset({Role.STAFF, Role.FINANCE, Role.ADMIN}),
    Role.FINANCE: frozenset({Role.FINANCE, Role.ADMIN}),
    Role.ADMIN: frozenset({Role.ADMIN}),
    Role.TEACHER: frozenset({Role.TEACHER, Role.ADMIN}),
}


class Customer(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """A login: a consumer, an organisation, or a staff member (who has role grants)."""

    __tablename__ = "customer"
    __table_args__ = (
        CheckConstraint("kind IN ('consumer', 'organisation')", name="kind"),
        CheckConstraint("email = lower(email)", name="email_lower"),
        Index("ix_customer_last_activity_on", "last_activity_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-case: e-mail addresses are unique case-insensitively.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    #: consumer | organisation (T1.2)
    kind: Mapped[str] = mapped_column(String(20), default="consumer")
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    #: NNNNNN-NNNN, check digit validated (T1.2)
    organisation_number: Mapped[str | None] = mapped_column(String(11))
    birth_date: Mapped[date | None]
    #: When the person confirmed being 18 or older (T1.1)
    adult_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    language: Mapped[str] = mapped_column(String(5), default="sv")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Latest of order placed, booking made, login (R2.1); indexed for the sweeper.
    last_activity_on: Mapped[date | None]
    #: Bumped on password change: every other session is logged out.
    session_version: Mapped[int] = mapped_column(default=1)
    #: Login disabled for good once anonymised (R2.1).
    login_disabled: Mapped[bool] = mapped_column(default=False)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Pseudonymous code such as K-7F3A9C, given at creation, used in audit entries.
    pseudonym: Mapped[str] = mapped_column(String(16), unique=True)

    addresses: Mapped[list[Address]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Address.id"
    )
    role_grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin"
    )

    def get_id(self) -> str:
        """Flask-Login's session id: includes the session version (logout everywhere)."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return not self.login_disabled

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(grant.role) for grant in self.role_grants)

    @property
    def is_staff(self) -> bool:
        return bool(self.roles)

    def has_role(self, role: Role) -> bool:
        return bool(self.roles & ROLE_SATISFIED_BY[role])

    @property
    def is_organisation(self) -> bool:
        return self.kind == "organisation"


class RoleGrant(db.Model):  # type: ignore[name-defined,misc]
    """One role given to one person (staff, finance, admin, teacher)."""

    __tablename__ = "role_grant"
    __table_args__ = (
        UniqueConstraint("customer_id", "role", name="customer_role"),
        CheckConstraint("role IN ('staff', 'finance', 'admin', 'teacher')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship(back_populates="role_grants")


class Address(db.Model):  # type: ignore[name-defined,misc]
    """A delivery or billing address of a customer; orders copy the one they use."""

    __tablename__ = "address"
    __table_args__ = (CheckConstraint("kind IN ('delivery', 'billing')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10), default="delivery")
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(6))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="SE")

    customer: Mapped[Customer] = relationship(back_populates="addresses")


class Consent(db.Model):  # type: ignore[name-defined,misc]
    """One event in the consent history: given or withdrawn, never overwritten (R2.6)."""

    __tablename__ = "consent"
    __table_args__ = (
        CheckConstraint("action IN ('given', 'withdrawn')", name="action"),
        CheckConstraint("purpose IN ('newsletter', 'marketing')", name="purpose"),
        Index("ix_consent_email_purpose", "email", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    purpose: Mapped[str] = mapped_column(String(20), default="newsletter")
    action: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Where it was said: registration, account, unsubscribe_link, one_click, staff
    source: Mapped[str] = mapped_column(String(40))
    #: The version of the consent wording the person saw.
    wording_version: Mapped[str] = mapped_column(String(20))


class PasswordResetToken(db.Model):  # type: ignore[name-defined,misc]
    """A single-use, expiring password-reset link; only the token's hash is stored."""

    __tablename__ = "password_reset_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
