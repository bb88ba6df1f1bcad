"""The retention sweeper's records, staff holds and data requests (privacy.md R3.5, R4, S1–S6).

Personal-data category (privacy.md section 1): ``data-request records`` for
DataRequest (who asked is the customer id, never a copy of their details).
The sweeper's log (RetentionLogEntry) names records by pseudonymous code or
table and id only, never by personal data (S3).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.models.types import UTCDateTime


class RetentionRun(db.Model):  # type: ignore[name-defined,misc]
    """One run of ``flask retention sweep`` (S1): its day, mode and counts per rule."""

    __tablename__ = "retention_run"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'finished', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The day swept (the command's --date).
    sweep_on: Mapped[date]
    dry_run: Mapped[bool] = mapped_column(default=False)
    #: running → finished; a killed run stays "running" and the next run finishes its work.
    status: Mapped[str] = mapped_column(String(10), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Where it ran: host and process id.
    runner: Mapped[str] = mapped_column(String(100))
    #: ``{"R2.1 anonymise": 12, "R3.1 hold": 2, …}``, updated after every batch.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RetentionLogEntry(db.Model):  # type: ignore[name-defined,misc]
    """One sweeper action on one record (S3): append-only, no personal data.

    ``subject`` is a pseudonymous code (``K-7F3A9C2B``) or a table and id
    (``bookkeeping_record 12``); ``action`` is anonymise, purge or hold.
    """

    __tablename__ = "retention_log"
    __table_args__ = (
        CheckConstraint("action IN ('anonymise', 'purge', 'hold')", name="action"),
        Index("ix_retention_log_run_action", "run_id", "action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("retention_run.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    rule_id: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(10))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(60))


class RetentionLock(db.Model):  # type: ignore[name-defined,misc]
    """The sweeper's lock on databases without advisory locks (SQLite): one row while running."""

    __tablename__ = "retention_lock"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: host:pid of the process holding it; a dead process on this host loses it.
    holder: Mapped[str] = mapped_column(String(100))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LegalHold(db.Model):  # type: ignore[name-defined,misc]
    """A hold set by staff with a reason (R3.5): nothing of the customer is anonymised."""

    __tablename__ = "legal_hold"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    #: Dispute, authority request, … (no sensitive data; the form says so).
    reason: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(40))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DataRequest(db.Model):  # type: ignore[name-defined,misc]
    """A data subject's request (R4.1 access, R4.3 erasure) with its deadline."""

    __tablename__ = "data_request"
    __table_args__ = (
        CheckConstraint("kind IN ('access', 'erasure')", name="kind"),
        CheckConstraint("status IN ('open', 'waiting', 'done')", name="status"),
        CheckConstraint("channel IN ('account', 'staff')", name="channel"),
        Index("ix_data_request_status_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    #: account (the customer, password re-entered) or staff (a verified request by mail)
    channel: Mapped[str] = mapped_column(String(10))
    received_on: Mapped[date]
    #: The last day to answer (R4.1: 30 days, R4.3: 7 days), from the domain.
    due_on: Mapped[date]
    #: "customer" (own account) or the staff id who verified the identity (R4.5).
    verified_by: Mapped[str] = mapped_column(String(40))
    #: open → done; an erasure partly blocked by holds is "waiting" until the sweeper ends it.
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_on: Mapped[date | None]
    #: What was done and what waits, by rule ID and record number (no personal data).
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
