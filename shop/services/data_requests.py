"""Data requests: erasure (R4.3) and access (R4.1) with their deadlines, and staff holds (R3.5).

An erasure is carried out at once for everything not held: the account is
anonymised (login disabled for good, sessions end) and so is every order
without a hold (:func:`shop.services.anonymisation.anonymise_customers`).
What must stay is listed with the reason (rule ID) and the date it will go:
orders under a hold (R3.1, R3.2) until the sweeper finds them free (the
request waits, then ``flask retention sweep`` finishes it), and the
bookkeeping records that keep the buyer's identity until R2.3 purges them.
A hold on the account itself stops everything and the request waits: a course
booking whose course has not ended or whose fee is unpaid (R3.4; the booker
must stay reachable and the participants known), or a staff hold (R3.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from shop.clock import local_date
from shop.domain.policy import Policy
from shop.domain.retention import (
    BookkeepingFacts,
    DataRequestKind,
    HoldReason,
    data_request_due_on,
    decide_bookkeeping,
)
from shop.extensions import db
from shop.models import (
    AuditEntry,
    BookkeepingRecord,
    Customer,
    DataRequest,
    LegalHold,
    Order,
    Shipment,
)
from shop.services import register_extract
from shop.services.anonymisation import anonymise_customers
from shop.services.complaints import remove_unreferenced_photos
from shop.services.retention import (
    customer_holds,
    order_holds,
    policy_from_config,
)


class DataRequestProblem(Exception):
    """A request that cannot be registered; the message says why (Swedish)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class WaitingItem:
    """Something that stays after an erasure: a held order or a bookkeeping record."""

    #: order | receipt | invoice | credit_note | account
    kind: str
    #: The order or document number (no personal data).
    number: str
    #: The rule that keeps it: R3.1, R3.2, R3.4, R3.5 (holds) or R2.3 (bookkeeping).
    rule: str
    #: The first day it may go; None while a hold lasts with no known end.
    until: date | None

    @property
    def subject(self) -> str:
        return f"{self.kind} {self.number}"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "number": self.number,
            "rule": self.rule,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True)
class ErasureOutcome:
    request: DataRequest
    #: Everything that can go has gone and no hold remains.
    done: bool
    waiting: tuple[WaitingItem, ...]


def _audit(
    actor: str, action: str, customer: Customer, details: dict[str, Any], now: datetime
) -> None:
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action=action,
            subject_type="customer",
            subject_id=customer.pseudonym,
            details=details,
            rule_id="R4.3" if action.startswith("erasure") else "R3.5",
        )
    )


def _held_order_until(order_id: int, reasons: set[HoldReason], policy: Policy) -> date | None:
    """The day a held order may go, when it can be known: the day after the withdrawal period."""
    if reasons != {HoldReason.ORDER_IN_PROGRESS}:
        return None
    order = db.session.get(Order, order_id)
    if order is None or order.status not in ("delivered", "completed", "partly_withdrawn"):
        return None
    delivered = db.session.scalar(
        select(Shipment.delivered_on)
        .where(Shipment.order_id == order_id, Shipment.delivered_on.is_not(None))
        .order_by(Shipment.delivered_on.desc())
        .limit(1)
    )
    if delivered is None:
        return None
    return delivered + timedelta(days=policy.withdrawal_days + 1)


def _bookkeeping_items(customer: Customer, policy: Policy, today: date) -> list[WaitingItem]:
    rows = db.session.execute(
        select(BookkeepingRecord.kind, BookkeepingRecord.number, BookkeepingRecord.fiscal_year)
        .join(Order, Order.id == BookkeepingRecord.order_id)
        .where(Order.customer_id == customer.id)
        .order_by(BookkeepingRecord.issued_at, BookkeepingRecord.id)
    )
    items = []
    for kind, number, fiscal_year in rows:
        decision = decide_bookkeeping(
            BookkeepingFacts(fiscal_year=min(fiscal_year, today.year)), today, policy=policy
        )
        items.append(WaitingItem(kind, str(number), "R2.3", decision.due_on))
    return items


def _erase(
    customer: Customer, *, today: date, now: datetime, policy: Policy, dry_run: bool = False
) -> tuple[bool, list[WaitingItem]]:
    """Anonymise what can go now; return (no hold remains, what waits)."""
    account_holds = customer_holds([customer.id], today, policy).get(customer.id, set())
    on_account = sorted(account_holds & {HoldReason.COURSE_OPEN, HoldReason.STAFF_HOLD})
    if on_account:
        return False, [
            WaitingItem("account", customer.pseudonym, reason.value, None) for reason in on_account
        ]
    open_orders = list(
        db.session.execute(
            select(Order.id, Order.number).where(
                Order.customer_id == customer.id, Order.anonymised_at.is_(None)
            )
        )
    )
    holds = order_holds([row.id for row in open_orders], today, policy)
    waiting = [
        WaitingItem(
            "order",
            row.number or str(row.id),
            sorted(holds[row.id])[0].value,
            _held_order_until(row.id, holds[row.id], policy),
        )
        for row in open_orders
        if row.id in holds
    ]
    if not dry_run:
        anonymise_customers([customer.id], now=now, keep_order_ids=list(holds))
    return not waiting, waiting


def request_erasure(
    customer: Customer,
    *,
    channel: str,
    verified_by: str,
    received_on: date,
    today: date,
    now: datetime,
    policy: Policy | None = None,
) -> ErasureOutcome:
    """R4.3: register the request and carry it out as far as the holds allow; commits."""
    policy = policy or policy_from_config()
    if customer.anonymised_at is not None:
        raise DataRequestProblem(_("Kontot är redan anonymiserat."))
    if customer.is_staff:
        raise DataRequestProblem(
            _("Ett personalkonto raderas inte så här: ta först bort behörigheterna.")
        )
    bookkeeping = _bookkeeping_items(customer, policy, today)
    done, waiting = _erase(customer, today=today, now=now, policy=policy)
    request = DataRequest(
        customer_id=customer.id,
        kind=DataRequestKind.ERASURE.value,
        channel=channel,
        received_on=received_on,
        due_on=data_request_due_on(DataRequestKind.ERASURE, received_on, policy=policy),
        verified_by=verified_by,
        status="done" if done else "waiting",
        created_at=now,
        closed_on=today if done else None,
        outcome={
            "waiting": [item.as_json() for item in waiting],
            "kept": [item.as_json() for item in bookkeeping],
        },
    )
    db.session.add(request)
    db.session.flush()
    _audit(
        verified_by,
        "erasure_done" if done else "erasure_partly_done",
        customer,
        {"request": request.id, "waiting": [item.subject for item in waiting]},
        now,
    )
    db.session.commit()
    remove_unreferenced_photos(now=now)
    return ErasureOutcome(request, done, tuple(waiting + bookkeeping))


def continue_erasure(
    request: DataRequest,
    customer: Customer | None,
    *,
    today: date,
    now: datetime,
    policy: Policy,
    dry_run: bool = False,
) -> ErasureOutcome:
    """The sweeper's part of R4.3: anonymise what is free now; close the request when nothing waits.

    Runs in the caller's transaction (the sweeper commits per batch).
    """
    waiting: list[WaitingItem] = []
    if customer is None:
        done = True
    else:
        done, waiting = _erase(customer, today=today, now=now, policy=policy, dry_run=dry_run)
    if not dry_run:
        outcome = dict(request.outcome or {})
        outcome["waiting"] = [item.as_json() for item in waiting]
        request.outcome = outcome
        if done:
            request.status = "done"
            request.closed_on = today
            if customer is not None:
                _audit("system", "erasure_done", customer, {"request": request.id}, now)
    return ErasureOutcome(request, done, tuple(waiting))


def record_access_request(
    customer: Customer,
    *,
    verified_by: str,
    received_on: date,
    now: datetime,
    policy: Policy | None = None,
) -> DataRequest:
    """R4.1: a verified access request by mail, answered within 30 days; commits."""
    policy = policy or policy_from_config()
    request = DataRequest(
        customer_id=customer.id,
        kind=DataRequestKind.ACCESS.value,
        channel="staff",
        received_on=received_on,
        due_on=data_request_due_on(DataRequestKind.ACCESS, received_on, policy=policy),
        verified_by=verified_by,
        status="open",
        created_at=now,
        outcome={},
    )
    db.session.add(request)
    db.session.flush()
    db.session.add(
        AuditEntry(
            at=now,
            actor=verified_by[:40],
            action="access_request",
            subject_type="customer",
            subject_id=customer.pseudonym,
            details={"request": request.id},
            rule_id="R4.1",
        )
    )
    db.session.commit()
    return request


def extract_for_request(request: DataRequest, *, actor: str, now: datetime) -> tuple[bytes, str]:
    """R4.1, R4.5: the register extract staff send for a verified access request by mail.

    Returns the JSON file and its name; the download is audited on the request (no personal
    data in the entry). Refused for an erasure request or an account no longer there.
    """
    customer = db.session.get(Customer, request.customer_id) if request.customer_id else None
    if request.kind != DataRequestKind.ACCESS.value or customer is None:
        raise DataRequestProblem(
            _("Det finns inget registerutdrag att ta fram för den här begäran.")
        )
    if customer.anonymised_at is not None:
        raise DataRequestProblem(
            _("Kontot är anonymiserat: det finns inga uppgifter att lämna ut.")
        )
    data = register_extract.extract_json(customer, now=now)
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action="access_request_extract",
            subject_type="data_request",
            subject_id=str(request.id),
            details={},
            rule_id="R4.1",
        )
    )
    db.session.commit()
    return data, register_extract.extract_filename(customer, today=local_date(now))


def due_count() -> tuple[int, date | None]:
    """The dashboard's tile: requests not yet answered and the earliest last day, one query."""
    count, earliest = db.session.execute(
        select(func.count(DataRequest.id), func.min(DataRequest.due_on)).where(
            DataRequest.status != "done"
        )
    ).one()
    return int(count or 0), earliest


def close_access_request(request: DataRequest, *, actor: str, today: date, now: datetime) -> None:
    """The register extract was sent: the access request is done; commits."""
    if request.kind != DataRequestKind.ACCESS.value or request.status == "done":
        raise DataRequestProblem(_("Begäran är redan besvarad."))
    request.status = "done"
    request.closed_on = today
    db.session.add(
        AuditEntry(
            at=now,
            actor=actor[:40],
            action="access_request_answered",
            subject_type="data_request",
            subject_id=str(request.id),
            details={},
            rule_id="R4.1",
        )
    )
    db.session.commit()


def queue() -> list[DataRequest]:
    """Open and waiting requests, the nearest deadline first (staff's queue)."""
    return list(
        db.session.scalars(
            select(DataRequest)
            .where(DataRequest.status != "done")
            .order_by(DataRequest.due_on, DataRequest.id)
        )
    )


def waiting_items(request: DataRequest) -> list[WaitingItem]:
    """What the request's outcome lists as waiting or kept."""
    outcome = request.outcome or {}
    items = []
    for raw in [*outcome.get("waiting", []), *outcome.get("kept", [])]:
        until = date.fromisoformat(raw["until"]) if raw.get("until") else None
        items.append(WaitingItem(raw["kind"], raw["number"], raw["rule"], until))
    return items


# --- Staff holds (R3.5) ----------------------------------------------------------------------


def place_hold(customer: Customer, reason: str, *, actor: str, now: datetime) -> LegalHold:
    """R3.5: nothing of this customer is anonymised until the hold is released; commits."""
    reason = reason.strip()
    if not reason:
        raise DataRequestProblem(_("Ange skälet till spärren."))
    hold = LegalHold(customer_id=customer.id, reason=reason[:300], created_by=actor, created_at=now)
    db.session.add(hold)
    db.session.flush()
    _audit(actor, "legal_hold_placed", customer, {"hold": hold.id}, now)
    db.session.commit()
    return hold


def release_hold(hold: LegalHold, *, actor: str, now: datetime) -> None:
    if hold.released_at is not None:
        raise DataRequestProblem(_("Spärren är redan hävd."))
    hold.released_at = now
    hold.released_by = actor
    customer = db.session.get(Customer, hold.customer_id)
    if customer is not None:
        _audit(actor, "legal_hold_released", customer, {"hold": hold.id}, now)
    db.session.commit()


def active_holds() -> list[tuple[LegalHold, Customer]]:
    rows = db.session.execute(
        select(LegalHold, Customer)
        .join(Customer, Customer.id == LegalHold.customer_id)
        .where(LegalHold.released_at.is_(None))
        .order_by(LegalHold.created_at, LegalHold.id)
    )
    return [(hold, customer) for hold, customer in rows]
