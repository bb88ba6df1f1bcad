"""Digital delivery: personal download links and software codes (T5.4, T8.1).

A paid download line gets a :class:`~shop.models.DownloadGrant`: a personal
link (only the token's SHA-256 is stored) that expires after
``DOWNLOAD_LINK_DAYS`` and works ``DOWNLOAD_LIMIT`` times. Each download is
counted with one conditional UPDATE, so two clicks at once can never exceed
the limit; the first download's instant is recorded once: it ends the right
of withdrawal for the file (T5.4). The buyer's name is written into the
served PDF's metadata (T8.1, :func:`shop.services.pdf.stamp_buyer`).

A paid code line gets codes from the product's pool. A code is shown only
when the buyer asks ("Visa kod"); the first time is recorded in
``revealed_at`` (T5.4).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import case, func, select, update

from shop.domain.catalog import ProductKind
from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import DownloadFile, DownloadGrant, Order, OrderLine, Product, SoftwareCode
from shop.models.aftersale import WithdrawalLine
from shop.services import pdf

log = logging.getLogger(__name__)

#: Orders in these states deliver nothing (not paid, or withdrawn).
UNDELIVERABLE = (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED, OrderStatus.WITHDRAWN)


class DownloadRefused(Exception):
    """A download that may not start; ``message`` tells the buyer why (Swedish)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UnknownDownload(DownloadRefused):
    """No such link (or a tampered one): the page answers 404."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def download_dir() -> Path:
    return Path(current_app.config["DOWNLOAD_DIR"])


# --- Granting (at confirmation) -----------------------------------------------------------


def grant_for_line(line: OrderLine, *, now: datetime) -> tuple[DownloadGrant, str]:
    """A personal download link for a paid download line; returns the grant and its token.

    The token is shown once (in the confirmation mail); only its hash is kept.
    Does not commit.
    """
    token = secrets.token_urlsafe(32)
    grant = DownloadGrant(
        order_line_id=line.id,
        token_hash=_hash(token),
        created_at=now,
        expires_at=now + timedelta(days=int(current_app.config["DOWNLOAD_LINK_DAYS"])),
        downloads_allowed=int(current_app.config["DOWNLOAD_LIMIT"]),
        downloads_used=0,
    )
    db.session.add(grant)
    db.session.flush()
    return grant, token


def assign_codes(line: OrderLine, *, now: datetime) -> list[SoftwareCode]:
    """Take one code per unit from the product's pool for a paid code line. Does not commit.

    Rows are locked and locked rows skipped on PostgreSQL, so two orders never
    get the same code. A pool that runs short is logged; the line shows the
    codes it got.
    """
    already = codes_for_line(line)
    missing = line.quantity - len(already)
    if missing <= 0 or line.product_id is None:
        return already
    query = (
        select(SoftwareCode)
        .where(SoftwareCode.product_id == line.product_id, SoftwareCode.order_line_id.is_(None))
        .order_by(SoftwareCode.id)
        .limit(missing)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    fresh = list(db.session.scalars(query))
    for code in fresh:
        code.order_line_id = line.id
        code.assigned_at = now
    if len(fresh) < missing:
        log.warning(
            "Code pool for product %s is short by %s", line.product_id, missing - len(fresh)
        )
    db.session.flush()
    return already + fresh


def codes_for_line(line: OrderLine) -> list[SoftwareCode]:
    return list(
        db.session.scalars(
            select(SoftwareCode)
            .where(SoftwareCode.order_line_id == line.id)
            .order_by(SoftwareCode.id)
        )
    )


def grants_for_line(line: OrderLine) -> list[DownloadGrant]:
    return list(
        db.session.scalars(
            select(DownloadGrant)
            .where(DownloadGrant.order_line_id == line.id)
            .order_by(DownloadGrant.id)
        )
    )


# --- Downloading ------------------------------------------------------------------------------


def withdrawn(line: OrderLine) -> bool:
    """T5.4, T5.8: every unit of the line is withdrawn (and refunded without a return):
    the file is no longer delivered and the code no longer shown."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(WithdrawalLine.quantity), 0)).where(
            WithdrawalLine.order_line_id == line.id
        )
    )
    return int(total or 0) >= line.quantity


@dataclass(frozen=True)
class StartedDownload:
    """A counted download: the file, its path on disk and who bought it."""

    file: DownloadFile
    path: Path
    grant: DownloadGrant
    order: Order


def _count(grant: DownloadGrant, *, now: datetime) -> StartedDownload:
    line = grant.order_line
    order = line.order
    if OrderStatus(order.status) in UNDELIVERABLE:
        raise DownloadRefused(_("Filen kan inte laddas ner för den här ordern."))
    if withdrawn(line):
        raise DownloadRefused(_("Du har ångrat köpet av filen, så den kan inte laddas ner."))
    if grant.expires_at <= now:
        raise DownloadRefused(
            _("Länken har gått ut. Kontakta oss om du behöver en ny nedladdningslänk.")
        )
    if grant.downloads_used >= grant.downloads_allowed:
        raise DownloadRefused(
            _(
                "Du har redan laddat ner filen %(count)s gånger, vilket är det högsta antalet.",
                count=grant.downloads_allowed,
            )
        )
    file = (
        db.session.scalar(select(DownloadFile).where(DownloadFile.product_id == line.product_id))
        if line.product_id is not None
        else None
    )
    path = _safe_path(file.stored_path) if file is not None else None
    if file is None or path is None or not path.is_file():
        raise DownloadRefused(_("Filen finns inte just nu. Kontakta oss så hjälper vi dig."))
    # One atomic, conditional UPDATE: the limit holds even for simultaneous clicks.
    result = db.session.execute(
        update(DownloadGrant)
        .where(
            DownloadGrant.id == grant.id,
            DownloadGrant.downloads_used < DownloadGrant.downloads_allowed,
            DownloadGrant.expires_at > now,
        )
        .values(
            downloads_used=DownloadGrant.downloads_used + 1,
            first_download_at=case(
                (DownloadGrant.first_download_at.is_(None), now),
                else_=DownloadGrant.first_download_at,
            ),
            last_download_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise DownloadRefused(
            _(
                "Du har redan laddat ner filen %(count)s gånger, vilket är det högsta antalet.",
                count=grant.downloads_allowed,
            )
        )
    db.session.commit()
    db.session.refresh(grant)
    return StartedDownload(file=file, path=path, grant=grant, order=order)


def _safe_path(stored_path: str) -> Path | None:
    base = download_dir().resolve()
    path = (base / stored_path).resolve()
    return path if path.is_relative_to(base) else None


def start_download(token: str, *, now: datetime) -> tuple[DownloadFile, Path]:
    """Count a download through a personal link (T8.1); the file and its path. Commits.

    Raises :class:`UnknownDownload` for an unknown link and
    :class:`DownloadRefused` (Swedish message) for an expired or used-up one.
    """
    started = start_download_by_token(token, now=now)
    return started.file, started.path


def start_download_by_token(token: str, *, now: datetime) -> StartedDownload:
    """Like :func:`start_download`, with the grant and order (for stamping the buyer)."""
    if not token or len(token) > 200:
        raise UnknownDownload(_("Länken är ogiltig."))
    grant = db.session.scalar(select(DownloadGrant).where(DownloadGrant.token_hash == _hash(token)))
    if grant is None:
        raise UnknownDownload(_("Länken är ogiltig."))
    return _count(grant, now=now)


def start_download_for_line(line: OrderLine, *, now: datetime) -> StartedDownload:
    """Count a download from the order page (the buyer is known there). Commits."""
    grants = grants_for_line(line)
    if not grants:
        raise UnknownDownload(_("Länken är ogiltig."))
    return _count(grants[-1], now=now)


def stamped_file(started: StartedDownload) -> bytes:
    """The file's bytes; a PDF carries the buyer's name in its metadata (T8.1)."""
    data = started.path.read_bytes()
    if started.file.content_type != "application/pdf":
        return data
    buyer = started.order.name
    note = (
        f"Köpt av {buyer}, order {started.order.number}. "
        "Får inte kopieras utan tillstånd (köpvillkoren, avsnitt Kopiering)."
    )
    return pdf.stamp_buyer(data, buyer=buyer, note=note) or data


# --- Codes -------------------------------------------------------------------------------------


def reveal_codes(line: OrderLine, *, now: datetime) -> list[str]:
    """Show the line's codes, recording the first reveal (T5.4). Commits."""
    if OrderStatus(line.order.status) in UNDELIVERABLE:
        raise DownloadRefused(_("Koden kan inte visas för den här ordern."))
    if withdrawn(line):
        raise DownloadRefused(_("Du har ångrat köpet av koden, så den kan inte visas."))
    codes = codes_for_line(line)
    if not codes:
        raise DownloadRefused(
            _("Koden är inte klar ännu. Vi skickar den till dig så snart vi kan.")
        )
    db.session.execute(
        update(SoftwareCode)
        .where(SoftwareCode.order_line_id == line.id, SoftwareCode.revealed_at.is_(None))
        .values(revealed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    for code in codes:
        db.session.refresh(code)
    return [code.code for code in codes]


def reveal_code(line: OrderLine, *, now: datetime) -> str:
    """The line's code(s) as one string, recording the first reveal (T5.4). Commits."""
    return ", ".join(reveal_codes(line, now=now))


# --- The order page ---------------------------------------------------------------------------


@dataclass
class DigitalItem:
    """One digital line as the order page shows it."""

    line: OrderLine
    kind: ProductKind
    grant: DownloadGrant | None = None
    codes: list[SoftwareCode] = field(default_factory=list)
    now: datetime | None = None
    #: Every unit withdrawn (T5.4, T5.8): neither the file nor the code is delivered any more.
    withdrawn: bool = False

    @property
    def remaining(self) -> int:
        if self.grant is None:
            return 0
        return max(self.grant.downloads_allowed - self.grant.downloads_used, 0)

    @property
    def expired(self) -> bool:
        return self.grant is not None and self.now is not None and self.grant.expires_at <= self.now

    @property
    def downloadable(self) -> bool:
        if self.grant is None or self.withdrawn:
            return False
        return self.remaining > 0 and not self.expired

    @property
    def revealed(self) -> bool:
        return bool(self.codes) and all(code.revealed_at is not None for code in self.codes)


def digital_items(order: Order, *, now: datetime) -> list[DigitalItem]:
    """The order's download and code lines with their grants and codes."""
    from shop.services.withdrawals import withdrawn_quantities

    if OrderStatus(order.status) in UNDELIVERABLE:
        return []
    withdrawn_units = withdrawn_quantities(order)  # one query; the same sum as :func:`withdrawn`
    items: list[DigitalItem] = []
    for line in order.lines:
        kind = ProductKind(line.kind)
        gone = withdrawn_units.get(line.id, 0) >= line.quantity
        if kind is ProductKind.DOWNLOAD:
            grants = grants_for_line(line)
            grant = grants[-1] if grants else None
            items.append(DigitalItem(line, kind, grant=grant, now=now, withdrawn=gone))
        elif kind is ProductKind.SOFTWARE_CODE:
            codes = codes_for_line(line)
            items.append(DigitalItem(line, kind, codes=codes, now=now, withdrawn=gone))
    return items


# --- Demo data ---------------------------------------------------------------------------------


def seed_digital_goods(now: datetime, *, codes_per_product: int = 25) -> tuple[int, int]:
    """Demo: a small sheet-music PDF for every download product, a code pool per code product.

    Files go to ``DOWNLOAD_DIR``; products that already have a file or codes
    are left alone. Returns (files created, codes created). Commits.
    """
    directory = download_dir()
    directory.mkdir(parents=True, exist_ok=True)
    files = codes = 0
    with_file = select(DownloadFile.product_id)
    for product in db.session.scalars(
        select(Product)
        .where(Product.kind == ProductKind.DOWNLOAD.value, Product.id.notin_(with_file))
        .order_by(Product.id)
    ):
        data = pdf.render_sheet_music(product.title, composer=product.composer or "")
        name = f"{product.sku.lower()}.pdf"
        (directory / name).write_bytes(data)
        db.session.add(
            DownloadFile(
                product_id=product.id,
                filename=f"{product.slug}.pdf",
                stored_path=name,
                content_type="application/pdf",
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
        files += 1
    with_codes = select(SoftwareCode.product_id)
    for product in db.session.scalars(
        select(Product)
        .where(Product.kind == ProductKind.SOFTWARE_CODE.value, Product.id.notin_(with_codes))
        .order_by(Product.id)
    ):
        for _n in range(codes_per_product):
            db.session.add(SoftwareCode(product_id=product.id, code=_new_code(), assigned_at=None))
            codes += 1
    db.session.commit()
    return files, codes


def _new_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(20))
    return "-".join(raw[i : i + 5] for i in range(0, 20, 5))


def available_codes(product_id: int) -> int:
    """How many codes remain unassigned in a product's pool."""
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(SoftwareCode)
            .where(SoftwareCode.product_id == product_id, SoftwareCode.order_line_id.is_(None))
        )
        or 0
    )
