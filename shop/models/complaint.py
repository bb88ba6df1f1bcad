"""Complaints, reklamation (T6): a fault reported per order line, its photos and staff's decision.

Personal-data category (privacy.md section 1): ``order history``. The
description and the photos may hold personal data; they never go into the
audit log. Photos are files outside the web root (``UPLOAD_DIR``), served
only through a view that checks who asks.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.order import Order, OrderLine
from shop.models.types import UTCDateTime

COMPLAINT_WINDOWS = ("normal", "statutory", "out_of_time")
COMPLAINT_STATUSES = ("open", "decided")
COMPLAINT_OUTCOMES = ("repair", "replacement", "refund", "rejection")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Complaint(db.Model):  # type: ignore[name-defined,misc]
    """A buyer's report that an item is faulty or damaged, and what staff decided (T6)."""

    __tablename__ = "complaint"
    __table_args__ = (
        CheckConstraint(f"window_kind IN ({_in(COMPLAINT_WINDOWS)})", name="window_kind"),
        CheckConstraint(f"status IN ({_in(COMPLAINT_STATUSES)})", name="status"),
        CheckConstraint(
            f"outcome IS NULL OR outcome IN ({_in(COMPLAINT_OUTCOMES)})", name="outcome"
        ),
        CheckConstraint(
            "(status = 'open' AND outcome IS NULL) OR (status = 'decided' AND outcome IS NOT NULL)",
            name="decided_has_outcome",
        ),
        CheckConstraint("refund_ore IS NULL OR refund_ore > 0", name="refund_ore_positive"),
        Index("ix_complaint_status_reported_at", "status", "reported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("shop_order.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_line.id", ondelete="CASCADE"), index=True
    )
    #: What the buyer wrote about the fault.
    description: Mapped[str] = mapped_column(Text)
    #: When the buyer says they found the fault (T6.2); None: the day of the report.
    discovered_on: Mapped[date | None]
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The day of the report (Europe/Stockholm), the date the window is judged on.
    reported_on: Mapped[date]
    #: The delivery date the decision is based on (T4.2); None when no delivery is recorded.
    received_on: Mapped[date | None]
    #: The domain's window: normal (T6.1), statutory or out_of_time (T6.2).
    window_kind: Mapped[str] = mapped_column(String(20))
    #: The rule that decided the window (T6.1 or T6.2).
    window_rule: Mapped[str] = mapped_column(String(10))
    needs_review: Mapped[bool] = mapped_column(default=False)
    #: The last day of the normal window (T6.1).
    normal_last_day: Mapped[date]
    #: For a consumer, the last day of the statutory window (T6.2).
    statutory_last_day: Mapped[date | None]
    #: open → decided
    status: Mapped[str] = mapped_column(String(20), default="open")
    #: repair, replacement, refund or rejection
    outcome: Mapped[str | None] = mapped_column(String(20))
    #: The reason the customer sees on the order page and in the e-mail.
    reason: Mapped[str | None] = mapped_column(Text)
    #: The amount decided for a refund, in öre.
    refund_ore: Mapped[int | None]
    #: The return freight label sent on agreement (T6.3).
    return_label_reference: Mapped[str | None] = mapped_column(String(100))
    #: Audit actor of the reporter: ``customer:<pseudonym>`` or ``customer:guest``.
    reported_by: Mapped[str] = mapped_column(String(40))
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship()
    order_line: Mapped[OrderLine] = relationship()
    photos: Mapped[list[ComplaintPhoto]] = relationship(
        back_populates="complaint", cascade="all, delete-orphan", order_by="ComplaintPhoto.id"
    )

    @property
    def is_open(self) -> bool:
        return self.status == "open"


class ComplaintPhoto(db.Model):  # type: ignore[name-defined,misc]
    """A photo of the fault, stored under ``UPLOAD_DIR`` (never in the web root)."""

    __tablename__ = "complaint_photo"
    __table_args__ = (
        CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp')", name="content_type"
        ),
        CheckConstraint("size_bytes > 0", name="size_bytes_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaint.id", ondelete="CASCADE"), index=True
    )
    #: Path relative to ``UPLOAD_DIR``: a random name, never the uploaded one.
    stored_path: Mapped[str] = mapped_column(String(200), unique=True)
    #: From the file's content, not its name.
    content_type: Mapped[str] = mapped_column(String(20))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    complaint: Mapped[Complaint] = relationship(back_populates="photos")
