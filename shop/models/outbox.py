"""Mail waiting to be sent, written in the same transaction as the business change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.types import UTCDateTime


class OutboxMessage(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
        Index("ix_outbox_message_status_next", "status", "next_attempt_at"),
        #: Erasure and the sweeper delete a person's mail by address (R4.3, R2.1).
        Index("ix_outbox_message_to_address", "to_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    #: Extra headers, e.g. List-Unsubscribe.
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: What kind of mail: password_reset, order_confirmation, … (for tests and staff)
    template: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    attachments: Mapped[list[OutboxAttachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="OutboxAttachment.id"
    )


class OutboxAttachment(db.Model):  # type: ignore[name-defined,misc]
    """A file sent with an outbox message (a PDF invoice, a withdrawal form).

    Either ``data`` itself, or ``record_id``: the bookkeeping record (a receipt)
    whose PDF is attached, rendered from its frozen content when the mail is
    sent rather than in the request that queued it.
    """

    __tablename__ = "outbox_attachment"
    __table_args__ = (
        CheckConstraint("data IS NOT NULL OR record_id IS NOT NULL", name="data_or_record"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Only a reference: when the retention purge deletes the record (R2.3, after 7 years),
    #: the long-sent mail's reference to it goes with it.
    record_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookkeeping_record.id", ondelete="CASCADE"), index=True
    )

    message: Mapped[OutboxMessage] = relationship(back_populates="attachments")
