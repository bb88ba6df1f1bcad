"""The returns desk service: parcels (T5.7), inspection (T5.5), credit (T5.6), refunds (T5.8)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from shop.domain.lifecycle import OrderStatus, PaymentStatus, ReturnStatus
from shop.domain.withdrawal import ReturnCondition
from shop.extensions import db
from shop.models import (
    AuditEntry,
    BookkeepingRecord,
    Order,
    OutboxMessage,
    Payment,
    Product,
    Refund,
    StockLevel,
    StockMovement,
)
from shop.models.aftersale import Withdrawal
from shop.payments.base import RefundRequest, RefundResult
from shop.payments.errors import ProviderUnavailable
from shop.payments.sandbox import SandboxOutcome, SandboxProvider
from shop.services import checkout, orders, payments, returns, withdrawals
from tests.factories import NOW, make_order, make_product
from tests.services.test_withdrawals import deliver, stockholm_noon

STAFF = 7
DELIVERED_ON = date(2026, 11, 24)
STATED_AT = stockholm_noon(date(2026, 11, 26))
BACK_ON = date(2026, 11, 30)
LATER = stockholm_noon(date(2026, 12, 1))
URL = "http://localhost/tack"
UNUSED = returns.LineResult(ReturnCondition.UNUSED)


def paid_order(lines: list[tuple[Product, int]] | None = None, **kwargs: Any) -> Order:
    """A consumer's order paid in the sandbox, shipped and delivered on 24 November."""
    order = make_order(lines=lines, **kwargs)
    start = payments.start_payment(order, now=NOW, return_url=URL, cancel_url=URL)
    payments.complete_sandbox_payment(start.provider_reference, SandboxOutcome.PAY, now=NOW)
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order is not None
    assert order.status == OrderStatus.CONFIRMED.value
    orders.record_transition(order, OrderStatus.SHIPPED, actor="system", now=NOW)
    db.session.commit()
    deliver(order, DELIVERED_ON)
    return order


def withdraw(order: Order, quantities: dict[int, int] | None = None) -> Withdrawal:
    withdrawal, _ = withdrawals.submit_withdrawal(
        order,
        name="Kim Kund",
        email="kim@example.se",
        quantities=quantities or {line.id: line.quantity for line in order.lines},
        submission_key=f"w-{order.id}",
        channel="function",
        received_at=STATED_AT,
        actor="customer:test",
        now=STATED_AT,
    )
    return withdrawal


def received(order: Order, **kwargs: Any) -> Withdrawal:
    withdrawal = withdraw(order, **kwargs)
    returns.register_parcel(
        withdrawal, received_on=BACK_ON, refused_reason=None, staff_id=STAFF, now=LATER
    )
    return withdrawal


def inspected(order: Order, results: dict[int, returns.LineResult] | None = None) -> Withdrawal:
    withdrawal = received(order)
    returns.inspect(
        withdrawal,
        results or {line.id: UNUSED for line in order.lines},
        staff_id=STAFF,
        now=LATER,
    )
    return withdrawal


def status(withdrawal: Withdrawal) -> str:
    db.session.expire_all()
    fresh = db.session.get(Withdrawal, withdrawal.id)
    assert fresh is not None
    return fresh.status


def count(model: Any, *criteria: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0)


def sandbox() -> SandboxProvider:
    provider = payments.sandbox_provider()
    assert provider is not None
    return provider


@pytest.fixture
def provider_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every key the sandbox was asked to refund with (thread-safe append)."""
    provider = sandbox()
    original = provider.refund
    keys: list[str] = []

    def recording(request: RefundRequest) -> RefundResult:
        keys.append(request.idempotency_key)
        return original(request)

    monkeypatch.setattr(provider, "refund", recording)
    return keys


def two_books() -> tuple[Product, Product]:
    return (
        make_product(title="Bach: Cellosviter", price_ore=24900, vat_rate_bp=600, stock=5),
        make_product(title="Notställ", price_ore=30000, vat_rate_bp=2500, stock=5),
    )


# --- T5.7: the parcel ------------------------------------------------------------------------


def test_parcel_received_moves_the_return_to_received(app: Flask) -> None:
    order = paid_order()
    withdrawal = withdraw(order)
    parcel = returns.register_parcel(
        withdrawal, received_on=BACK_ON, refused_reason=None, staff_id=STAFF, now=LATER
    )
    assert parcel.refused_reason is None
    assert status(withdrawal) == ReturnStatus.RECEIVED.value
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "return.parcel_received")
    ).one()
    assert entry.actor == f"staff:{STAFF}"
    assert "kim" not in str(entry.details).lower()


@pytest.mark.parametrize("reason", ["registered", "cash_on_delivery"])
def test_registered_or_cod_parcel_is_refused_and_the_customer_told_t5_7(
    app: Flask, reason: str
) -> None:
    order = paid_order()
    withdrawal = withdraw(order)
    parcel = returns.register_parcel(
        withdrawal, received_on=BACK_ON, refused_reason=reason, staff_id=STAFF, now=LATER
    )
    assert parcel.refused_reason == reason
    assert status(withdrawal) == ReturnStatus.PARCEL_REFUSED.value
    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "return_refused")
    ).one()
    assert mail.to_address == "kim@example.se"
    assert returns.refusal_text(reason) in mail.body_text
    # the buyer sends again: the next parcel is received normally
    returns.register_parcel(
        withdrawal, received_on=BACK_ON, refused_reason=None, staff_id=STAFF, now=LATER
    )
    assert status(withdrawal) == ReturnStatus.RECEIVED.value


def test_parcel_received_in_the_future_or_twice_is_refused(app: Flask) -> None:
    withdrawal = withdraw(paid_order())
    with pytest.raises(returns.ReturnsError, match="framtiden"):
        returns.register_parcel(
            withdrawal,
            received_on=LATER.date() + timedelta(days=1),
            refused_reason=None,
            staff_id=STAFF,
            now=LATER,
        )
    returns.register_parcel(
        withdrawal, received_on=BACK_ON, refused_reason=None, staff_id=STAFF, now=LATER
    )
    with pytest.raises(returns.ReturnsError, match="redan mottagen"):
        returns.register_parcel(
            withdrawal, received_on=BACK_ON, refused_reason=None, staff_id=STAFF, now=LATER
        )


# --- T5.5: inspection and credit ---------------------------------------------------------------


def test_credit_per_condition_and_restock_t5_5(app: Flask) -> None:
    cello, stand = two_books()
    fiddle = make_product(title="Fiolsträngar", price_ore=10000, vat_rate_bp=2500, stock=5)
    order = paid_order(lines=[(cello, 1), (stand, 2), (fiddle, 1)])
    lines = {line.title: line for line in order.lines}
    before = {p.id: db.session.get(StockLevel, p.id).on_hand for p in (cello, stand, fiddle)}  # type: ignore[union-attr]
    withdrawal = inspected(
        order,
        {
            lines["Bach: Cellosviter"].id: UNUSED,
            lines["Notställ"].id: returns.LineResult(ReturnCondition.HANDLED, 5000, True),
            lines["Fiolsträngar"].id: returns.LineResult(
                ReturnCondition.DAMAGED_BY_PACKING, 0, True
            ),
        },
    )
    assert status(withdrawal) == ReturnStatus.INSPECTED.value
    view = returns.desk(withdrawal, LATER.date())
    credits = {d.line.title: d.credit_ore for d in view.lines}
    assert credits == {"Bach: Cellosviter": 24900, "Notställ": 60000 - 5000, "Fiolsträngar": 0}
    db.session.expire_all()
    after = {p.id: db.session.get(StockLevel, p.id).on_hand for p in (cello, stand, fiddle)}  # type: ignore[union-attr]
    assert after[cello.id] == before[cello.id] + 1
    assert after[stand.id] == before[stand.id] + 2
    assert after[fiddle.id] == before[fiddle.id]  # damaged: not back on the shelf
    assert count(StockMovement, StockMovement.kind == "restock") == 2


def test_deduction_above_the_value_is_refused_in_swedish_t5_5(app: Flask) -> None:
    order = paid_order()
    withdrawal = received(order)
    line = order.lines[0]
    with pytest.raises(returns.ReturnsError, match="Värdeminskningen"):
        returns.inspect(
            withdrawal,
            {line.id: returns.LineResult(ReturnCondition.HANDLED, line.total_ore + 1)},
            staff_id=STAFF,
            now=LATER,
        )
    assert status(withdrawal) == ReturnStatus.RECEIVED.value


def test_the_same_inspection_twice_does_nothing_the_second_time_t5_5(app: Flask) -> None:
    order = paid_order()
    withdrawal = received(order)
    results = {line.id: UNUSED for line in order.lines}
    assert returns.inspect(withdrawal, results, staff_id=STAFF, now=LATER)
    assert not returns.inspect(withdrawal, results, staff_id=STAFF, now=LATER)
    assert count(StockMovement, StockMovement.kind == "restock") == 1
    assert count(AuditEntry, AuditEntry.action == "return.inspected") == 1


# --- T5.6: the delivery fee --------------------------------------------------------------------


def test_whole_order_refunds_the_delivery_fee_up_to_the_cheapest_standard_t5_6(
    app: Flask,
) -> None:
    book = make_product(title="Notställ", price_ore=30000, vat_rate_bp=2500, stock=5)
    options = checkout.quote(
        {book.id: 1}, buyer_kind="consumer", delivery_method=None, payment_method=None
    ).delivery_options
    dearest = max(options, key=lambda option: option.fee_ore)
    cheapest = min(option.fee_ore for option in options)
    assert dearest.fee_ore > cheapest
    order = paid_order(lines=[(book, 1)], delivery_method=dearest.method)
    view = returns.desk(inspected(order), LATER.date())
    assert view.whole_order
    assert view.delivery_fee_paid_ore == dearest.fee_ore
    assert view.delivery_refund_ore == cheapest
    assert view.total_credit_ore == 30000 + cheapest


def test_partial_withdrawal_refunds_no_delivery_fee_t5_6(app: Flask) -> None:
    cello, stand = two_books()
    order = paid_order(lines=[(cello, 1), (stand, 1)])
    first = order.lines[0]
    withdrawal = withdraw(order, {first.id: 1})
    view = returns.desk(withdrawal, LATER.date())
    assert not view.whole_order
    assert view.delivery_refund_ore == 0


# --- T5.8: the deadline ------------------------------------------------------------------------


def test_refund_deadline_and_near_flag_t5_8(app: Flask) -> None:
    withdrawal = withdraw(paid_order())
    view = returns.desk(withdrawal, date(2026, 11, 27))
    assert view.deadline == date(2026, 12, 10)  # 14 days after 26 November
    assert not view.deadline_near
    assert returns.desk(withdrawal, date(2026, 12, 7)).deadline_near


# --- Approve and refund (T5.8) -----------------------------------------------------------------


def test_approve_issues_a_credit_note_and_refunds_once_t5_8(
    app: Flask, provider_calls: list[str]
) -> None:
    order = paid_order()
    withdrawal = inspected(order)
    refund, created = returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert created
    assert refund is not None
    again, created_again = returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert not created_again
    assert again is not None
    assert again.id == refund.id
    db.session.expire_all()
    refund = db.session.get(Refund, refund.id)
    assert refund is not None
    assert refund.status == "done"
    assert refund.idempotency_key == f"refund-withdrawal-{withdrawal.id}"
    assert refund.provider_reference
    assert refund.completed_at is not None
    assert refund.due_on == date(2026, 12, 10)
    assert provider_calls == [refund.idempotency_key]
    assert count(Refund) == 1
    assert status(withdrawal) == ReturnStatus.REFUNDED.value
    payment = db.session.get(Payment, refund.payment_id)
    assert payment is not None
    assert payment.refunded_ore == refund.amount_ore == order.total_ore
    assert payment.status == PaymentStatus.REFUNDED.value
    note = db.session.get(BookkeepingRecord, refund.credit_note_id)
    assert note is not None
    assert note.kind == "credit_note"
    assert note.number == 1
    assert note.content["total_ore"] == -refund.amount_ore
    assert sum(rate["gross_ore"] for rate in note.content["vat"]) == -refund.amount_ore
    assert note.content["lines"][0]["total_ore"] < 0
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "refund")).one()
    assert mail.to_address == "kim@example.se"
    assert count(AuditEntry, AuditEntry.action == "refund.approved") == 1


def test_partial_refund_marks_the_payment_partly_refunded_t5_8(app: Flask) -> None:
    cello, stand = two_books()
    order = paid_order(lines=[(cello, 1), (stand, 1)])
    first = order.lines[0]
    withdrawal = withdraw(order, {first.id: 1})
    returns.register_parcel(
        withdrawal, received_on=BACK_ON, refused_reason=None, staff_id=STAFF, now=LATER
    )
    returns.inspect(withdrawal, {first.id: UNUSED}, staff_id=STAFF, now=LATER)
    refund, _ = returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert refund is not None
    assert refund.amount_ore == first.total_ore
    payment = db.session.get(Payment, refund.payment_id)
    assert payment is not None
    assert payment.status == PaymentStatus.PARTLY_REFUNDED.value


def test_credit_note_numbers_have_no_gaps(app: Flask) -> None:
    for n in range(2):
        order = paid_order(email=f"kund{n}@example.se")
        returns.approve(inspected(order), staff_id=STAFF, now=LATER)
    numbers = sorted(
        db.session.scalars(
            select(BookkeepingRecord.number).where(BookkeepingRecord.kind == "credit_note")
        )
    )
    assert numbers == [1, 2]


def test_approve_before_inspection_is_refused(app: Flask) -> None:
    withdrawal = received(paid_order())
    with pytest.raises(returns.ReturnsError, match="inspekteras"):
        returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert count(Refund) == 0


def failing_then(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[str]:
    provider = sandbox()
    original: Callable[[RefundRequest], RefundResult] = provider.refund
    keys: list[str] = []

    def flaky(request: RefundRequest) -> RefundResult:
        keys.append(request.idempotency_key)
        if len(keys) <= failures:
            raise ProviderUnavailable(detail="503 from the provider", provider="sandbox")
        return original(request)

    monkeypatch.setattr(provider, "refund", flaky)
    return keys


def test_provider_failure_leaves_it_failed_and_retry_uses_the_same_key_t5_8(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = failing_then(monkeypatch, 1)
    withdrawal = inspected(paid_order())
    refund, _ = returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    assert refund is not None
    db.session.expire_all()
    refund = db.session.get(Refund, refund.id)
    assert refund is not None
    assert refund.status == "failed"
    assert refund.completed_at is None
    assert refund.last_error
    assert "503" in refund.last_error
    assert status(withdrawal) == ReturnStatus.INSPECTED.value
    payment = db.session.get(Payment, refund.payment_id)
    assert payment is not None
    assert payment.refunded_ore == 0
    retried = returns.retry(refund, staff_id=STAFF, now=LATER)
    assert retried.status == "done"
    assert retried.last_error is None
    assert keys == [refund.idempotency_key, refund.idempotency_key]
    assert status(withdrawal) == ReturnStatus.REFUNDED.value
    assert returns.retry(retried, staff_id=STAFF, now=LATER).status == "done"
    assert len(keys) == 2  # a done refund is never sent again


@pytest.mark.postgres
def test_two_staff_approving_at_once_make_one_refund_t5_8(
    app: Flask, provider_calls: list[str]
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are tested on PostgreSQL")
    withdrawal_id = inspected(paid_order()).id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(staff_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                withdrawal = db.session.get(Withdrawal, withdrawal_id)
                assert withdrawal is not None
                _, created = returns.approve(withdrawal, staff_id=staff_id, now=LATER)
                outcome = "created" if created else "found"
            except Exception as error:  # reported in the assertion below
                outcome = f"error: {error!r}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=approve, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["created", "found"], outcomes
    db.session.expire_all()
    assert count(Refund) == 1
    assert count(BookkeepingRecord, BookkeepingRecord.kind == "credit_note") == 1
    assert len(provider_calls) == 1
    assert db.session.scalars(select(Refund)).one().status == "done"
