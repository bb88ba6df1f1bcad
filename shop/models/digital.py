"""Digital delivery: files, personal download grants and software codes (T5.4, T8.1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.order import OrderLine
from shop.models.types import UTCDateTime


class DownloadFile(db.Model):  # type: ignore[name-defined,misc]
    """The file behind a downloadable product, stored outside the web root."""

    __tablename__ = "download_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.id", ondelete="CASCADE"), unique=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    #: Path relative to the configured DOWNLOAD_DIR.
    stored_path: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))


class DownloadGrant(db.Model):  # type: ignore[name-defined,misc]
    """A buyer's personal, expiring, limited download link (T8.1)."""

    __tablename__ = "download_grant"
    __table_args__ = (
        CheckConstraint("downloads_used >= 0", name="downloads_used_non_negative"),
        CheckConstraint("downloads_allowed > 0", name="downloads_allowed_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_line.id", ondelete="CASCADE"), index=True
    )
    #: SHA-256 of the token in the link; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    downloads_allowed: Mapped[int]
    downloads_used: Mapped[int] = mapped_column(default=0)
    #: When the first download started: it ends the right of withdrawal (T5.4).
    first_download_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_download_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order_line: Mapped[OrderLine] = relationship()


class SoftwareCode(db.Model):  # type: ignore[name-defined,misc]
    """A licence code from a product's pool, assigned to an order line when paid."""

    __tablename__ = "software_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(100), unique=True)
    order_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_line.id", ondelete="SET NULL"), index=True
    )
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the buyer was first shown the code: taking it into use ends withdrawal (T5.4).
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
