"""Status transition tables for orders, payments, returns, complaints, invoices, bookings."""

from enum import StrEnum

import pytest

from shop.domain.errors import DomainError, IllegalTransition
from shop.domain.lifecycle import (
    BOOKING_TRANSITIONS,
    INVOICE_TRANSITIONS,
    ORDER_TRANSITIONS,
    TRANSITION_TABLES,
    BookingStatus,
    ComplaintStatus,
    InvoiceStatus,
    OrderStatus,
    PaymentStatus,
    ReturnStatus,
    TransitionTable,
    can_transition,
    require_transition,
)

ALLOWED = [
    (OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED),
    (OrderStatus.CONFIRMED, OrderStatus.WITHDRAWN),  # T5.2: before receiving the goods
    (OrderStatus.CONFIRMED, OrderStatus.DELIVERED),  # digital only
    (OrderStatus.SHIPPED, OrderStatus.RETURNED_TO_SENDER),  # T7
    (OrderStatus.RETURNED_TO_SENDER, OrderStatus.SHIPPED),
    (OrderStatus.DELIVERED, OrderStatus.PARTLY_WITHDRAWN),
    (PaymentStatus.AUTHORISED, PaymentStatus.CAPTURED),
    (PaymentStatus.PARTLY_REFUNDED, PaymentStatus.PARTLY_REFUNDED),
    (ReturnStatus.GOODS_SENT, ReturnStatus.REFUNDED),  # T5.8 proof of sending
    (ReturnStatus.PARCEL_REFUSED, ReturnStatus.GOODS_SENT),  # T5.7
    (ReturnStatus.INSPECTED, ReturnStatus.REFUNDED),
    (ComplaintStatus.RECEIVED, ComplaintStatus.UNDER_REVIEW),  # T6.2
    (InvoiceStatus.OPEN, InvoiceStatus.REMINDED),  # T3.5
    (InvoiceStatus.REMINDED, InvoiceStatus.COLLECTION),  # T3.6
    (InvoiceStatus.COLLECTION, InvoiceStatus.PAID),
    (BookingStatus.CONFIRMED, BookingStatus.CANCELLED_BY_SHOP),  # T9.5
    (BookingStatus.PARTLY_CANCELLED, BookingStatus.PARTLY_CANCELLED),
]

REFUSED = [
    (OrderStatus.PENDING_PAYMENT, OrderStatus.SHIPPED),  # not paid
    (OrderStatus.COMPLETED, OrderStatus.WITHDRAWN),
    (OrderStatus.CANCELLED, OrderStatus.CONFIRMED),
    (OrderStatus.DELIVERED, OrderStatus.DELIVERED),
    (PaymentStatus.REFUNDED, PaymentStatus.CAPTURED),
    (PaymentStatus.PENDING, PaymentStatus.REFUNDED),
    (ReturnStatus.RECEIVED, ReturnStatus.REFUNDED),  # T5.5: inspect first
    (ComplaintStatus.REJECTED, ComplaintStatus.ACCEPTED),
    (InvoiceStatus.OPEN, InvoiceStatus.COLLECTION),  # T3.6: reminder first
    (InvoiceStatus.PAID, InvoiceStatus.REMINDED),
    (BookingStatus.CANCELLED, BookingStatus.CONFIRMED),
    (BookingStatus.PENDING, BookingStatus.COMPLETED),
]


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_allowed_transitions(current: StrEnum, target: StrEnum) -> None:
    assert can_transition(current, target)
    assert require_transition(current, target) is target


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_illegal_transitions_raise(current: StrEnum, target: StrEnum) -> None:
    assert not can_transition(current, target)
    with pytest.raises(IllegalTransition, match="kan inte ändras") as error:
        require_transition(current, target)
    assert isinstance(error.value, DomainError)


def test_states_of_different_kinds_cannot_mix() -> None:
    assert not can_transition(InvoiceStatus.OPEN, PaymentStatus.CAPTURED)
    with pytest.raises(IllegalTransition):
        require_transition(InvoiceStatus.OPEN, PaymentStatus.CAPTURED)


@pytest.mark.parametrize("table", list(TRANSITION_TABLES.values()))
def test_every_table_is_exhaustive_and_closed(table: TransitionTable[StrEnum]) -> None:
    assert set(table.allowed) == set(table.states)
    for nexts in table.allowed.values():
        assert nexts <= set(table.states)
    assert table.final_states  # every life cycle ends somewhere


def test_final_states() -> None:
    assert ORDER_TRANSITIONS.final_states == {
        OrderStatus.WITHDRAWN,
        OrderStatus.CANCELLED,
        OrderStatus.COMPLETED,
    }
    assert INVOICE_TRANSITIONS.final_states == {InvoiceStatus.PAID, InvoiceStatus.CREDITED}
    assert BookingStatus.COMPLETED in BOOKING_TRANSITIONS.final_states


def test_a_table_missing_a_state_is_refused() -> None:
    with pytest.raises(ValueError, match="no entry"):
        TransitionTable(InvoiceStatus, "fakturan", {InvoiceStatus.OPEN: frozenset()})


def test_tables_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        ORDER_TRANSITIONS.allowed[OrderStatus.COMPLETED] = frozenset()  # type: ignore[index]
