"""The back office: today's work, the order search, and staff accounts (admin role).

Every change to a staff account is audited (actor ``staff:<id>``, subject the
account; the details name roles, never personal data). Changing someone's
roles, or disabling their login, ends every session they have (their
``session_version`` goes up): no browser keeps privileges granted or taken
away under an older set of roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import selectinload

from shop.clock import STOCKHOLM
from shop.domain.lifecycle import InvoiceStatus, OrderStatus, ReturnStatus
from shop.extensions import db
from shop.models import (
    AuditEntry,
    Customer,
    Invoice,
    Order,
    OrderLine,
    Payment,
    RoleGrant,
    Shipment,
    ShipmentLine,
    Withdrawal,
)
from shop.models.customer import Role
from shop.services import audit, complaints, data_requests, shipping
from shop.services.customers import (
    MIN_PASSWORD_LENGTH,
    find_by_email,
    hash_password,
    new_pseudonym,
    normalise_email,
)

#: Refund deadlines this close (days) are shown in red (T5.8).
DEADLINE_NEAR_DAYS = 3
PER_PAGE = 25
UNPAID_INVOICE_STATUSES = (
    InvoiceStatus.OPEN.value,
    InvoiceStatus.REMINDED.value,
    InvoiceStatus.COLLECTION.value,
)


class StaffAdminError(Exception):
    """A staff-account change refused, with a Swedish message."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message)


# --- Today's work -------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundDue:
    withdrawal_id: int
    order_number: str
    refund_due_on: date
    near: bool


@dataclass(frozen=True)
class TodaysWork:
    orders_to_ship: int
    parcels_on_the_way: int
    invoices_overdue: int
    refunds_due: list[RefundDue]
    #: Complaints not yet decided (T6).
    complaints_open: int = 0
    #: Data requests not yet answered (R4.1, R4.3) and the earliest last day among them.
    data_requests_due: int = 0
    data_requests_first_due: date | None = None


def _unshipped_goods() -> Any:
    """Correlated: the order has a shipped line with units in no shipment yet."""
    in_shipments = (
        select(func.coalesce(func.sum(ShipmentLine.quantity), 0))
        .where(ShipmentLine.order_line_id == OrderLine.id)
        .correlate(OrderLine)
        .scalar_subquery()
    )
    return exists().where(
        OrderLine.order_id == Order.id,
        OrderLine.kind.in_(shipping.SHIPPED_KINDS),
        OrderLine.quantity > in_shipments,
    )


def todays_work(today: date) -> TodaysWork:
    """The dashboard's counts, in five queries."""
    to_ship = db.session.scalar(
        select(func.count(Order.id)).where(
            Order.status.in_(shipping.SHIPPABLE_STATUSES), _unshipped_goods()
        )
    )
    on_the_way = db.session.scalar(
        select(func.count(Shipment.id)).where(
            Shipment.dispatched_on.is_not(None),
            Shipment.delivered_on.is_(None),
            Shipment.returned_kind.is_(None),
        )
    )
    overdue = db.session.scalar(
        select(func.count(Invoice.id)).where(
            Invoice.status.in_(UNPAID_INVOICE_STATUSES), Invoice.due_on < today
        )
    )
    near = today + timedelta(days=DEADLINE_NEAR_DAYS)
    refunds = [
        RefundDue(withdrawal_id, str(number), due_on, due_on <= near)
        for withdrawal_id, number, due_on in db.session.execute(
            select(Withdrawal.id, Order.number, Withdrawal.refund_due_on)
            .join(Order, Order.id == Withdrawal.order_id)
            .where(Withdrawal.status != ReturnStatus.REFUNDED.value)
            .order_by(Withdrawal.refund_due_on, Withdrawal.id)
        )
    ]
    return TodaysWork(
        int(to_ship or 0),
        int(on_the_way or 0),
        int(overdue or 0),
        refunds,
        complaints.open_count(),
        *data_requests.due_count(),
    )


# --- The order search ---------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilter:
    q: str = ""
    status: str = ""
    payment_method: str = ""
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    total: int
    page: int
    pages: int


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=STOCKHOLM).astimezone(UTC)


def search_orders(filters: OrderFilter, *, page: int = 1, per_page: int = PER_PAGE) -> OrderPage:
    """Placed orders, newest first: text in number, e-mail or name; status, method, dates."""
    criteria: list[Any] = [Order.number.is_not(None)]
    text = filters.q.strip()
    if text:
        pattern = _like(text)
        criteria.append(
            or_(
                func.lower(Order.number).like(pattern, escape="\\"),
                func.lower(Order.email).like(pattern, escape="\\"),
                func.lower(Order.name).like(pattern, escape="\\"),
                func.lower(Order.billing_name).like(pattern, escape="\\"),
                func.lower(func.coalesce(Order.organisation_name, "")).like(pattern, escape="\\"),
            )
        )
    if filters.status:
        criteria.append(Order.status == filters.status)
    if filters.payment_method:
        criteria.append(Order.payment_method == filters.payment_method)
    if filters.date_from:
        criteria.append(Order.placed_at >= _local_midnight(filters.date_from))
    if filters.date_to:
        criteria.append(Order.placed_at < _local_midnight(filters.date_to + timedelta(days=1)))
    total = int(db.session.scalar(select(func.count(Order.id)).where(*criteria)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = list(
        db.session.scalars(
            select(Order)
            .where(*criteria)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return OrderPage(rows, total, page, pages)


def order_statuses() -> list[str]:
    return [status.value for status in OrderStatus]


# --- Staff accounts -----------------------------------------------------------------------


def staff_members() -> list[Customer]:
    """Everyone with a role, by name."""
    has_role = exists().where(RoleGrant.customer_id == Customer.id)
    return list(
        db.session.scalars(
            select(Customer)
            .where(has_role)
            .options(selectinload(Customer.role_grants))
            .order_by(Customer.name, Customer.id)
        )
    )


def _actor(actor_id: int) -> str:
    return f"staff:{actor_id}"


def _audit(person: Customer, action: str, actor_id: int, now: datetime, **details: Any) -> None:
    db.session.add(
        AuditEntry(
            at=now,
            actor=_actor(actor_id),
            action=action,
            subject_type="customer",
            subject_id=str(person.id),
            details=details,
        )
    )


def _roles(roles: Iterable[Role | str]) -> list[Role]:
    try:
        chosen = sorted({Role(role) for role in roles})
    except ValueError:
        raise StaffAdminError(_("Okänd roll."), "roles") from None
    if not chosen:
        raise StaffAdminError(_("Välj minst en roll."), "roles")
    return chosen


def _admin_count() -> int:
    return int(
        db.session.scalar(
            select(func.count(RoleGrant.id))
            .join(Customer, Customer.id == RoleGrant.customer_id)
            .where(RoleGrant.role == Role.ADMIN.value, Customer.login_disabled.is_(False))
        )
        or 0
    )


def create_staff(
    *,
    email: str,
    name: str,
    password: str,
    roles: Iterable[Role | str],
    actor_id: int,
    now: datetime,
) -> Customer:
    """A new staff login with ``roles``, audited. Commits."""
    chosen = _roles(roles)
    if not name.strip():
        raise StaffAdminError(_("Ange namnet."), "name")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffAdminError(
            _("Lösenordet måste ha minst %(min)d tecken.", min=MIN_PASSWORD_LENGTH), "password"
        )
    if find_by_email(email) is not None:
        raise StaffAdminError(_("E-postadressen används redan av ett annat konto."), "email")
    person = Customer(
        email=normalise_email(email),
        name=name.strip(),
        password_hash=hash_password(password),
        kind="consumer",
        created_at=now,
        adult_confirmed_at=now,
        pseudonym=new_pseudonym(),
        language="sv",
    )
    person.role_grants = [RoleGrant(role=role.value, granted_at=now) for role in chosen]
    db.session.add(person)
    db.session.flush()
    _audit(person, "staff.created", actor_id, now, roles=[role.value for role in chosen])
    db.session.commit()
    return person


def set_roles(
    person: Customer, roles: Iterable[Role | str], *, actor_id: int, now: datetime
) -> bool:
    """Give ``person`` exactly ``roles`` (audited before/after); False if nothing changed.

    The last active administrator keeps the admin role, so someone can still
    manage staff. The person's sessions end (session rotation on a privilege
    change); a view acting on the admin's own account logs the admin in again.
    """
    chosen = _roles(roles)
    before = sorted(person.roles)
    if before == chosen:
        return False
    if (
        Role.ADMIN in before
        and Role.ADMIN not in chosen
        and not person.login_disabled
        and _admin_count() <= 1
    ):
        raise StaffAdminError(_("Det måste finnas minst en administratör kvar."), "roles")
    keep = [grant for grant in person.role_grants if Role(grant.role) in chosen]
    have = {Role(grant.role) for grant in keep}
    person.role_grants = keep + [
        RoleGrant(role=role.value, granted_at=now) for role in chosen if role not in have
    ]
    person.session_version += 1
    _audit(
        person,
        "staff.roles",
        actor_id,
        now,
        before=[role.value for role in before],
        after=[role.value for role in chosen],
    )
    db.session.commit()
    return True


def set_login_disabled(person: Customer, disabled: bool, *, actor_id: int, now: datetime) -> bool:
    """Disable (or enable again) a staff login, audited; False if nothing changed."""
    if person.login_disabled == disabled:
        return False
    if disabled and person.id == actor_id:
        raise StaffAdminError(_("Du kan inte spärra din egen inloggning."))
    if disabled and Role.ADMIN in person.roles and _admin_count() <= 1:
        raise StaffAdminError(_("Det måste finnas minst en administratör kvar."))
    person.login_disabled = disabled
    if disabled:
        person.session_version += 1  # enabling the login again revives no old session
    _audit(
        person,
        "staff.login_disabled" if disabled else "staff.login_enabled",
        actor_id,
        now,
        before=not disabled,
        after=disabled,
    )
    db.session.commit()
    return True


# --- The order page -----------------------------------------------------------------------


@dataclass(frozen=True)
class OrderOverview:
    order: Order
    payments: list[Payment]
    invoices: list[Invoice]
    shipments: list[Shipment]
    captures: dict[int, shipping.CaptureState]
    unshipped: list[tuple[OrderLine, int]]
    history: list[audit.HistoryEntry]


def order_overview(order: Order) -> OrderOverview:
    """Everything the staff order page shows: lines, money, shipments and the history."""
    shipments = shipping.shipments_of(order)
    remaining = shipping.unshipped(order)
    return OrderOverview(
        order=order,
        payments=list(
            db.session.scalars(
                select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)
            )
        ),
        invoices=list(
            db.session.scalars(
                select(Invoice).where(Invoice.order_id == order.id).order_by(Invoice.number)
            )
        ),
        shipments=shipments,
        captures=shipping.capture_states(order, shipments),
        unshipped=[(line, remaining[line.id]) for line in order.lines if line.id in remaining],
        history=audit.order_history(order),
    )
