"""Issued bookkeeping records never change (R2.3, bokföringslagen).

A receipt, an invoice or a credit note is stored once, as issued, in a
:class:`~shop.models.BookkeepingRecord`; later events are new rows. This
module installs a guard on every SQLAlchemy session: a flush that would
UPDATE or DELETE such a record raises :class:`BookkeepingRecordImmutable`,
and so does an ORM bulk ``update(BookkeepingRecord)`` / ``delete(...)``.

The only exception is the retention purge (R2.3, after 7 years), which
marks its session with ``session.info["allow_bookkeeping_purge"] = True``:
it may DELETE, never UPDATE.

A receipt is issued with its content and without its PDF (rendering it is
kept out of the payment request): :func:`store_pdf_once` fills the PDF and its
SHA-256 in once, with a conditional UPDATE that only matches a record that has
no PDF yet, so a stored PDF is never replaced.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask
from sqlalchemy import event, update
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from shop.extensions import db
from shop.models import BookkeepingRecord

#: The session flag the retention purge sets to delete expired records.
ALLOW_PURGE = "allow_bookkeeping_purge"


class BookkeepingRecordImmutable(RuntimeError):
    """Someone tried to change or delete an issued receipt, invoice or credit note."""


def _refuse_changes(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, BookkeepingRecord) and session.is_modified(obj):
            raise BookkeepingRecordImmutable(
                f"Bokföringsposten {obj.kind} {obj.number} är utfärdad och kan inte ändras."
            )
    if session.info.get(ALLOW_PURGE):
        return
    for obj in session.deleted:
        if isinstance(obj, BookkeepingRecord):
            raise BookkeepingRecordImmutable(
                f"Bokföringsposten {obj.kind} {obj.number} är utfärdad och kan inte raderas."
            )


def _refuse_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or not state.is_orm_statement:
        return
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, BookkeepingRecord):
        return
    if state.is_delete and state.session.info.get(ALLOW_PURGE):
        return
    raise BookkeepingRecordImmutable("Utfärdade bokföringsposter kan inte ändras eller raderas.")


def store_pdf_once(record: BookkeepingRecord, pdf: bytes) -> bytes:
    """Store ``pdf`` as the PDF of a record issued without one; the PDF stored, whoever won.

    The UPDATE matches only while the record has no PDF, so the first PDF
    stored stays (on PostgreSQL a second writer waits for the first to commit,
    then matches nothing). The record is re-read either way. Does not commit.
    """
    table = BookkeepingRecord.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == record.id, table.c.pdf.is_(None))
        .values(pdf=pdf, pdf_sha256=hashlib.sha256(pdf).hexdigest())
    )
    db.session.refresh(record, ["pdf", "pdf_sha256"])
    assert record.pdf is not None
    return record.pdf


def install_guard() -> None:
    """Register the guard on every Session (idempotent)."""
    if not event.contains(Session, "before_flush", _refuse_changes):
        event.listen(Session, "before_flush", _refuse_changes)
    if not event.contains(Session, "do_orm_execute", _refuse_bulk):
        event.listen(Session, "do_orm_execute", _refuse_bulk)


def init_app(app: Flask) -> None:
    """Called from ``create_app``: guard bookkeeping records in every session."""
    install_guard()
