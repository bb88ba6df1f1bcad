"""Reading the audit log (writing stays with the services that change things).

The log is append-only: nothing here changes or deletes an entry. Staff read
an order's history: every status change and staff action with the order as
subject, plus the entries about its payments and invoices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from shop.extensions import db
from shop.models import AuditEntry, Customer, Invoice, Order, Payment


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an order's history, with the actor shown readably."""

    at: datetime
    actor: str
    actor_label: str
    action: str
    subject: str
    details: dict[str, Any]
    rule_id: str | None


def order_entries(order: Order) -> list[AuditEntry]:
    """Every audit entry about the order, its payments and its invoices, oldest first."""
    payment_ids = [
        str(i) for i in db.session.scalars(select(Payment.id).where(Payment.order_id == order.id))
    ]
    invoice_ids = [
        str(i) for i in db.session.scalars(select(Invoice.id).where(Invoice.order_id == order.id))
    ]
    subjects = [and_(AuditEntry.subject_type == "order", AuditEntry.subject_id == str(order.id))]
    if payment_ids:
        subjects.append(
            and_(AuditEntry.subject_type == "payment", AuditEntry.subject_id.in_(payment_ids))
        )
    if invoice_ids:
        subjects.append(
            and_(AuditEntry.subject_type == "invoice", AuditEntry.subject_id.in_(invoice_ids))
        )
    return list(
        db.session.scalars(
            select(AuditEntry).where(or_(*subjects)).order_by(AuditEntry.at, AuditEntry.id)
        )
    )


def staff_names(actors: Iterable[str]) -> dict[str, str]:
    """``{"staff:3": "Sam Personal", …}`` for the staff actors given (one query)."""
    ids: dict[int, str] = {}
    for actor in actors:
        kind, _, raw = actor.partition(":")
        if kind == "staff" and raw.isdigit():
            ids[int(raw)] = actor
    if not ids:
        return {}
    rows = db.session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(list(ids))))
    return {ids[person_id]: name for person_id, name in rows}


def history(entries: list[AuditEntry]) -> list[HistoryEntry]:
    """Entries with readable actors: staff by name, customers and the system by code."""
    names = staff_names(entry.actor for entry in entries)
    return [
        HistoryEntry(
            at=entry.at,
            actor=entry.actor,
            actor_label=f"{names[entry.actor]} ({entry.actor})"
            if entry.actor in names
            else entry.actor,
            action=entry.action,
            subject=f"{entry.subject_type} {entry.subject_id}",
            details=dict(entry.details or {}),
            rule_id=entry.rule_id,
        )
        for entry in entries
    ]


def order_history(order: Order) -> list[HistoryEntry]:
    return history(order_entries(order))


def entries_for(subject_type: str, subject_id: int | str) -> list[HistoryEntry]:
    """The history of any subject (a staff account: ``customer``, id)."""
    return history(
        list(
            db.session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.subject_type == subject_type,
                    AuditEntry.subject_id == str(subject_id),
                )
                .order_by(AuditEntry.at, AuditEntry.id)
            )
        )
    )
