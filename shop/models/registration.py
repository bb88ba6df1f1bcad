"""Registrations waiting for their e-mail address to be confirmed (issue 8).

Registering creates no account: the form's answers wait here until the link
mailed to the address is followed, so that the registration page answers the
same whether or not the address already has an account (no account
enumeration). Only the link token's SHA-256 is stored; the row is used once
and expires. Personal-data category (privacy.md section 1): ``account``; rows
are deleted once used or expired (see :func:`shop.services.accounts.request_registration`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.models.types import UTCDateTime


class PendingRegistration(db.Model):  # type: ignore[name-defined,misc]
    """A registration whose e-mail link has not been followed yet."""

    __tablename__ = "pending_registration"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: The rest of the form (kind, name, phone, birth date, organisation, newsletter...).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
