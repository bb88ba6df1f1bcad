"""Status life cycles as explicit transition tables.

Each thing that changes status (order, payment, return, complaint, invoice,
course booking) has an enum of states and a table of the states it may go
to next. Services never set a status directly: they ask
:func:`require_transition`, which raises
:class:`~shop.domain.errors.IllegalTransition` on a change the table does
not list. A state with no successors is final. Staying in the same state is
not a transition unless the table lists it (a second partial refund, a
second participant cancelled).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, TypeVar, cast

from shop.domain.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class TransitionTable(Generic[S]):
    """The allowed status changes of one kind of thing; every state has an entry."""

    states: type[S]
    name_sv: str
    allowed: Mapping[S, frozenset[S]]

    def __post_init__(self) -> None:
        missing = set(self.states) - set(self.allowed)
        if missing:
            raise ValueError(f"{self.states.__name__}: no entry for {sorted(missing)}")
        object.__setattr__(self, "allowed", MappingProxyType(dict(self.allowed)))

    def can(self, current: S, target: S) -> bool:
        """True if ``current`` may change to ``target``."""
        return target in self.allowed[current]

    def require(self, current: S, target: S) -> S:
        """``target`` if the change is allowed, else :class:`IllegalTransition`."""
        if not self.can(current, target):
            raise IllegalTransition(
                f"Status för {self.name_sv} kan inte ändras från "
                f"”{current.value}” till ”{target.value}”."
            )
        return target

    @property
    def final_states(self) -> frozenset[S]:
        """The states with no way out."""
        return frozenset(state for state, nexts in self.allowed.items() if not nexts)


class OrderStatus(StrEnum):
    """An order from checkout to its end (T3, T4, T5, T7)."""

    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    PARTLY_SHIPPED = "partly_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED_TO_SENDER = "returned_to_sender"
    PARTLY_WITHDRAWN = "partly_withdrawn"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class PaymentStatus(StrEnum):
    """A payment through a provider (T3.1, T5.8)."""

    PENDING = "pending"
    AUTHORISED = "authorised"
    CAPTURED = "captured"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTLY_REFUNDED = "partly_refunded"
    REFUNDED = "refunded"


class ReturnStatus(StrEnum):
    """A withdrawal and its return parcel (T5.5, T5.7, T5.8)."""

    STATED = "stated"
    GOODS_SENT = "goods_sent"
    PARCEL_REFUSED = "parcel_refused"
    RECEIVED = "received"
    INSPECTED = "inspected"
    REFUNDED = "refunded"


class ComplaintStatus(StrEnum):
    """A complaint (T6): staff review, then accept or reject, then resolve."""

    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RESOLVED = "resolved"


class InvoiceStatus(StrEnum):
    """An invoice (T3.4–T3.6)."""

    OPEN = "open"
    REMINDED = "reminded"
    COLLECTION = "collection"
    PAID = "paid"
    CREDITED = "credited"


class BookingStatus(StrEnum):
    """A course booking (T9)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    PARTLY_CANCELLED = "partly_cancelled"
    CANCELLED = "cancelled"
    CANCELLED_BY_SHOP = "cancelled_by_shop"
    COMPLETED = "completed"


_O = OrderStatus
ORDER_TRANSITIONS = TransitionTable(
    OrderStatus,
    "ordern",
    {
        _O.PENDING_PAYMENT: frozenset({_O.CONFIRMED, _O.CANCELLED}),
        # A digital-only order is delivered at once; a consumer may withdraw
        # before receiving the goods (T5.2).
        _O.CONFIRMED: frozenset(
            {
                _O.PARTLY_SHIPPED,
                _O.SHIPPED,
                _O.DELIVERED,
                _O.CANCELLED,
                _O.PARTLY_WITHDRAWN,
                _O.WITHDRAWN,
            }
        ),
        _O.PARTLY_SHIPPED: frozenset(
            {_O.SHIPPED, _O.RETURNED_TO_SENDER, _O.PARTLY_WITHDRAWN, _O.WITHDRAWN}
        ),
        _O.SHIPPED: frozenset(
            {_O.DELIVERED, _O.RETURNED_TO_SENDER, _O.PARTLY_WITHDRAWN, _O.WITHDRAWN}
        ),
        _O.DELIVERED: frozenset({_O.COMPLETED, _O.PARTLY_WITHDRAWN, _O.WITHDRAWN}),
        # T7: an unclaimed or undeliverable parcel is sent again or the order ends.
        _O.RETURNED_TO_SENDER: frozenset({_O.SHIPPED, _O.CANCELLED}),
        _O.PARTLY_WITHDRAWN: frozenset({_O.WITHDRAWN, _O.COMPLETED}),
        _O.WITHDRAWN: frozenset(),
        _O.CANCELLED: frozenset(),
        _O.COMPLETED: frozenset(),
    },
)

_P = PaymentStatus
PAYMENT_TRANSITIONS = TransitionTable(
    PaymentStatus,
    "betalningen",
    {
        _P.PENDING: frozenset({_P.AUTHORISED, _P.CAPTURED, _P.FAILED, _P.CANCELLED}),
        _P.AUTHORISED: frozenset({_P.CAPTURED, _P.CANCELLED, _P.FAILED}),
        _P.CAPTURED: frozenset({_P.PARTLY_REFUNDED, _P.REFUNDED}),
        _P.PARTLY_REFUNDED: frozenset({_P.PARTLY_REFUNDED, _P.REFUNDED}),
        _P.FAILED: frozenset(),
        _P.CANCELLED: frozenset(),
        _P.REFUNDED: frozenset(),
    },
)

_R = ReturnStatus
RETURN_TRANSITIONS = TransitionTable(
    ReturnStatus,
    "returen",
    {
        # Nothing to send back (e.g. a download not started): refund at once.
        _R.STATED: frozenset({_R.GOODS_SENT, _R.PARCEL_REFUSED, _R.RECEIVED, _R.REFUNDED}),
        # T5.8: a proof of sending allows the refund before the goods are back.
        _R.GOODS_SENT: frozenset({_R.PARCEL_REFUSED, _R.RECEIVED, _R.REFUNDED}),
        # T5.7: a registered or cash-on-delivery parcel is refused; the buyer sends again.
        _R.PARCEL_REFUSED: frozenset({_R.GOODS_SENT, _R.RECEIVED}),
        _R.RECEIVED: frozenset({_R.INSPECTED}),
        _R.INSPECTED: frozenset({_R.REFUNDED}),
        _R.REFUNDED: frozenset(),
    },
)

_C = ComplaintStatus
COMPLAINT_TRANSITIONS = TransitionTable(
    ComplaintStatus,
    "reklamationen",
    {
        _C.RECEIVED: frozenset({_C.UNDER_REVIEW, _C.ACCEPTED, _C.REJECTED}),
        _C.UNDER_REVIEW: frozenset({_C.ACCEPTED, _C.REJECTED}),
        _C.ACCEPTED: frozenset({_C.RESOLVED}),
        _C.REJECTED: frozenset(),
        _C.RESOLVED: frozenset(),
    },
)

_I = InvoiceStatus
INVOICE_TRANSITIONS = TransitionTable(
    InvoiceStatus,
    "fakturan",
    {
        # T3.6: collection only after a reminder.
        _I.OPEN: frozenset({_I.REMINDED, _I.PAID, _I.CREDITED}),
        _I.REMINDED: frozenset({_I.COLLECTION, _I.PAID, _I.CREDITED}),
        _I.COLLECTION: frozenset({_I.PAID, _I.CREDITED}),
        _I.PAID: frozenset(),
        _I.CREDITED: frozenset(),
    },
)

_B = BookingStatus
BOOKING_TRANSITIONS = TransitionTable(
    BookingStatus,
    "bokningen",
    {
        _B.PENDING: frozenset({_B.CONFIRMED, _B.DECLINED, _B.CANCELLED}),
        _B.CONFIRMED: frozenset(
            {_B.PARTLY_CANCELLED, _B.CANCELLED, _B.CANCELLED_BY_SHOP, _B.COMPLETED}
        ),
        _B.PARTLY_CANCELLED: frozenset(
            {_B.PARTLY_CANCELLED, _B.CANCELLED, _B.CANCELLED_BY_SHOP, _B.COMPLETED}
        ),
        _B.DECLINED: frozenset(),
        _B.CANCELLED: frozenset(),
        _B.CANCELLED_BY_SHOP: frozenset(),
        _B.COMPLETED: frozenset(),
    },
)

TRANSITION_TABLES: Mapping[type[StrEnum], TransitionTable[Any]] = MappingProxyType(
    {
        table.states: table
        for table in (
            ORDER_TRANSITIONS,
            PAYMENT_TRANSITIONS,
            RETURN_TRANSITIONS,
            COMPLAINT_TRANSITIONS,
            INVOICE_TRANSITIONS,
            BOOKING_TRANSITIONS,
        )
    }
)


def table_for(state: S) -> TransitionTable[S]:
    """The transition table of ``state``'s enum."""
    try:
        return cast(TransitionTable[S], TRANSITION_TABLES[type(state)])
    except KeyError:
        raise TypeError(f"no transition table for {type(state).__name__}") from None


def can_transition(current: S, target: S) -> bool:
    """True if ``current`` may change to ``target`` (both of the same status enum)."""
    if type(current) is not type(target):
        return False
    return table_for(current).can(current, target)


def require_transition(current: S, target: S) -> S:
    """``target`` if ``current`` may change to it, else :class:`IllegalTransition`."""
    if type(current) is not type(target):
        raise IllegalTransition("Statusen hör till en annan sorts ärende.")
    return table_for(current).require(current, target)
