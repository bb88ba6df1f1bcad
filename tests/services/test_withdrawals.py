"""The withdrawal function's service (T5.1–T5.4, T5.8, T5.9): decisions, records, mail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from shop.domain.errors import (
    NoWithdrawalRightForOrganisations,
    WithdrawalExcluded,
    WithdrawalPeriodOver,
)
from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import AuditEntry, Order, OutboxMessage
from shop.models.aftersale import Shipment, ShipmentLine, Withdrawal
from shop.models.digital import DownloadGrant, SoftwareCode
from shop.services import withdrawals
from tests.factories import NOW, make_customer, make_order, make_product

#: 24 november 2026 14:05 in Stockholm (CET, UTC+1).
AT_1405 = datetime(2026, 11, 24, 13, 5, tzinfo=UTC)


def stockholm_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC)


def deliver(
    order: Order, delivered_on: date | None, *, lines: list[tuple[int, int]] | None = None
) -> Shipment:
    """A parcel with the given lines (all of every shipped line by default), delivered or not."""
    shipment = Shipment(
        order_id=order.id,
        carrier="postnord",
        tracking_number="PN123",
        created_at=NOW,
        created_by="1",
        dispatched_on=NOW.date(),
        delivered_on=delivered_on,
    )
    for line_id, quantity in lines or [
        (line.id, line.quantity)
        for line in order.lines
        if line.kind in ("physical", "software_boxed")
    ]:
        shipment.lines.append(ShipmentLine(order_line_id=line_id, quantity=quantity))
    db.session.add(shipment)
    db.session.commit()
    return shipment


def delivered_order(delivered_on: date | None, **kwargs: object) -> Order:
    """A consumer's confirmed order of one physical product (2 st), in one parcel."""
    order = make_order(status=OrderStatus.SHIPPED, **kwargs)  # type: ignore[arg-type]
    deliver(order, delivered_on)
    return order


def submit(
    order: Order,
    quantities: dict[int, int] | None = None,
    *,
    at: datetime,
    key: str = "k1",
    channel: str = "function",
) -> tuple[Withdrawal, bool]:
    return withdrawals.submit_withdrawal(
        order,
        name="Kim Kund",
        email="kim@example.se",
        quantities=quantities or {line.id: line.quantity for line in order.lines},
        submission_key=key,
        channel=channel,
        received_at=at,
        actor="customer:test",
        now=at,
    )


def count(model: type) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


# --- T5.2, T5.3: the period ----------------------------------------------------------------


def test_withdraw_on_the_last_day_moved_from_saturday_to_monday_is_allowed_T5_3(app: Flask) -> None:
    # Delivered Saturday 28 November: day 14 is Saturday 12 December, moved to Monday 14 December.
    order = delivered_order(date(2026, 11, 28))
    view = withdrawals.overview(order, date(2026, 12, 14))
    assert view.lines[0].last_day == date(2026, 12, 14)
    assert view.open
    withdrawal, created = submit(order, at=stockholm_noon(date(2026, 12, 14)))
    assert created
    assert withdrawal.lines[0].quantity == 2


def test_withdraw_the_day_after_the_moved_last_day_is_refused_in_swedish_T5_2_T5_3(
    app: Flask,
) -> None:
    order = delivered_order(date(2026, 11, 28))
    assert not withdrawals.overview(order, date(2026, 12, 15)).open
    with pytest.raises(WithdrawalPeriodOver) as refused:
        submit(order, at=stockholm_noon(date(2026, 12, 15)))
    assert refused.value.message == "Ångerfristen gick ut den 14 december 2026."
    assert count(Withdrawal) == 0


def test_before_delivery_the_consumer_may_withdraw_T5_2(app: Flask) -> None:
    order = delivered_order(None)
    state = withdrawals.overview(order, date(2026, 11, 25)).lines[0]
    assert state.withdrawable
    assert state.last_day is None
    assert state.reason == "Du kan ångra köpet redan innan du har fått varan."
    withdrawal, created = submit(order, at=AT_1405)
    assert created
    assert db.session.get(Order, order.id).status == OrderStatus.WITHDRAWN.value  # type: ignore[union-attr]


def test_an_unshipped_line_keeps_the_period_from_starting_T5_2(app: Flask) -> None:
    """Confirmed, nothing shipped yet: withdrawable, no last day yet."""
    order = make_order(status=OrderStatus.CONFIRMED)
    state = withdrawals.overview(order, date(2026, 11, 24)).lines[0]
    assert state.withdrawable
    assert state.last_day is None


def test_the_period_runs_from_the_last_parcel_T5_2(app: Flask) -> None:
    first, second = make_product(title="Notställ"), make_product(title="Stämapparat")
    order = make_order(status=OrderStatus.SHIPPED, lines=[(first, 1), (second, 1)])
    deliver(order, date(2026, 11, 24), lines=[(order.lines[0].id, 1)])
    deliver(order, date(2026, 11, 26), lines=[(order.lines[1].id, 1)])
    view = withdrawals.overview(order, date(2026, 12, 1))
    # 26 November + 14 = Thursday 10 December, for both lines.
    assert [state.last_day for state in view.lines] == [date(2026, 12, 10)] * 2


def test_a_parcel_delivered_after_the_letter_counts_as_not_yet_received_T5_2(app: Flask) -> None:
    order = delivered_order(date(2026, 11, 30))
    view = withdrawals.overview(order, date(2026, 11, 25))
    assert view.lines[0].withdrawable
    assert view.lines[0].last_day is None


def test_downloads_and_codes_run_from_the_order_day_T5_2(app: Flask) -> None:
    order = make_order(
        status=OrderStatus.CONFIRMED, lines=[(make_product(kind="download", title="PDF"), 1)]
    )
    # Ordered Monday 23 November: the last day is Monday 7 December.
    assert withdrawals.overview(order, date(2026, 12, 7)).lines[0].last_day == date(2026, 12, 7)
    assert not withdrawals.overview(order, date(2026, 12, 8)).open


# --- T5.1, T5.4: who and what ----------------------------------------------------------------


def test_an_organisation_is_refused_T5_1(app: Flask) -> None:
    order = delivered_order(
        date(2026, 11, 24), customer=make_customer(kind="organisation", name="Olga")
    )
    view = withdrawals.overview(order, date(2026, 11, 25))
    assert not view.open
    assert view.closed_reason == "Ångerrätten gäller endast privatpersoner, inte organisationer."
    with pytest.raises(NoWithdrawalRightForOrganisations) as refused:
        submit(order, at=AT_1405)
    assert "organisationer" in refused.value.message
    assert count(Withdrawal) == 0


def _digital_order() -> Order:
    return make_order(
        status=OrderStatus.CONFIRMED,
        lines=[
            (make_product(kind="software_code", title="Licens"), 1),
            (make_product(kind="download", title="Noter PDF"), 1),
        ],
    )


def test_a_revealed_code_and_a_started_download_are_excluded_with_the_reason_T5_4(
    app: Flask,
) -> None:
    order = _digital_order()
    code_line, download_line = order.lines
    db.session.add(
        SoftwareCode(
            product_id=code_line.product_id,
            code="AAAA-1111",
            order_line_id=code_line.id,
            assigned_at=NOW,
            revealed_at=NOW,
        )
    )
    db.session.add(
        DownloadGrant(
            order_line_id=download_line.id,
            token_hash="x" * 64,
            created_at=NOW,
            expires_at=NOW + timedelta(days=30),
            downloads_allowed=5,
            downloads_used=1,
            first_download_at=NOW,
        )
    )
    db.session.commit()
    view = withdrawals.overview(order, date(2026, 11, 24))
    assert not view.open
    reasons = [state.reason for state in view.not_withdrawable]
    assert reasons == [
        "Ångerrätten gäller inte när koden har tagits i bruk.",
        "Ångerrätten gäller inte när nedladdningen har påbörjats med ditt samtycke.",
    ]
    with pytest.raises(WithdrawalExcluded):
        submit(order, {code_line.id: 1}, at=AT_1405)
    with pytest.raises(WithdrawalExcluded):
        submit(order, {download_line.id: 1}, at=AT_1405)


def test_an_unrevealed_code_and_an_unstarted_download_may_be_withdrawn_T5_4(app: Flask) -> None:
    order = _digital_order()
    db.session.add(
        DownloadGrant(
            order_line_id=order.lines[1].id,
            token_hash="y" * 64,
            created_at=NOW,
            expires_at=NOW + timedelta(days=30),
            downloads_allowed=5,
        )
    )
    db.session.commit()
    assert len(withdrawals.overview(order, date(2026, 11, 24)).withdrawable) == 2


def test_boxed_software_counts_as_sealed_and_may_be_withdrawn_T5_4(app: Flask) -> None:
    order = delivered_order(
        date(2026, 11, 24), lines=[(make_product(kind="software_boxed", title="Program"), 1)]
    )
    assert withdrawals.overview(order, date(2026, 11, 25)).lines[0].withdrawable


# --- Recording (T5.8, T5.9) --------------------------------------------------------------------


def test_the_same_submission_twice_gives_one_withdrawal_and_one_mail_T5_9(app: Flask) -> None:
    order = delivered_order(date(2026, 11, 24))
    first, created = submit(order, at=AT_1405, key="same")
    again, created_again = submit(order, at=AT_1405 + timedelta(seconds=3), key="same")
    assert created
    assert not created_again
    assert again.id == first.id
    assert count(Withdrawal) == 1
    assert count(OutboxMessage) == 1


def test_partial_then_the_rest_moves_the_order_to_partly_then_fully_withdrawn_T5_9(
    app: Flask,
) -> None:
    order = delivered_order(date(2026, 11, 24))
    line = order.lines[0]
    submit(order, {line.id: 1}, at=AT_1405, key="a")
    assert db.session.get(Order, order.id).status == "partly_withdrawn"  # type: ignore[union-attr]
    with pytest.raises(withdrawals.WithdrawalInputError) as too_many:
        submit(order, {line.id: 2}, at=AT_1405, key="b")
    assert too_many.value.message == "Du kan ångra högst 1 st av Bach: Cellosviter."
    submit(order, {line.id: 1}, at=AT_1405, key="c")
    assert db.session.get(Order, order.id).status == "withdrawn"  # type: ignore[union-attr]
    transitions = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "order.status").order_by(AuditEntry.id)
    ).all()
    assert [entry.details["to"] for entry in transitions][-2:] == [
        "partly_withdrawn",
        "withdrawn",
    ]
    assert transitions[-1].actor == "customer:test"
    assert transitions[-1].rule_id == "T5.9"
    assert not withdrawals.overview(order, date(2026, 11, 25)).open


def test_nothing_selected_is_refused_T5_9(app: Flask) -> None:
    order = delivered_order(date(2026, 11, 24))
    with pytest.raises(withdrawals.WithdrawalInputError) as refused:
        submit(order, {order.lines[0].id: 0}, at=AT_1405)
    assert refused.value.message == "Välj minst en vara att ångra."


def test_the_record_and_the_refund_deadline_T5_8(app: Flask) -> None:
    order = delivered_order(date(2026, 11, 24))
    withdrawal, _created = submit(order, at=AT_1405)
    assert withdrawal.channel == "function"
    assert withdrawal.received_at == AT_1405
    assert withdrawal.refund_due_on == date(2026, 12, 8)
    assert withdrawal.acknowledged_at == AT_1405
    assert withdrawal.status == "stated"


def test_the_refund_deadline_follows_the_stockholm_date_T5_8(app: Flask) -> None:
    """23:30 UTC on 24 November is 00:30 on 25 November in Stockholm."""
    order = delivered_order(date(2026, 11, 24))
    withdrawal, _created = submit(order, at=datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    assert withdrawal.refund_due_on == date(2026, 12, 9)


def test_the_acknowledgement_has_the_content_and_the_time_received_T5_9(app: Flask) -> None:
    order = delivered_order(date(2026, 11, 24))
    submit(order, at=AT_1405)
    message = db.session.scalars(select(OutboxMessage)).one()
    assert message.to_address == "kim@example.se"
    assert message.template == "withdrawal_ack"
    assert str(order.number) in message.subject
    for body in (message.body_text, message.body_html or ""):
        assert "24 november 2026 kl. 14:05" in body
        assert "Bach: Cellosviter, 2 st" in body
        assert str(order.number) in body
        assert "8 december 2026" in body


def test_a_letter_received_in_time_counts_though_entered_later_T5_9(app: Flask) -> None:
    order = delivered_order(date(2026, 11, 28))
    entered = stockholm_noon(date(2026, 12, 20))
    received_at = withdrawals.received_at_for(date(2026, 12, 14), now=entered)
    withdrawal, created = withdrawals.submit_withdrawal(
        order,
        name="Kim Kund",
        email="kim@example.se",
        quantities={order.lines[0].id: 2},
        submission_key="letter",
        channel="form",
        received_at=received_at,
        actor="staff:7",
        entered_by="7",
        now=entered,
    )
    assert created
    assert withdrawal.entered_by == "7"
    assert withdrawal.refund_due_on == date(2026, 12, 28)
    assert withdrawals.received_text(withdrawal) == "14 december 2026"
    audit = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "order.status").order_by(AuditEntry.id.desc())
    ).first()
    assert audit is not None
    assert audit.actor == "staff:7"
    late = delivered_order(date(2026, 11, 28))
    with pytest.raises(WithdrawalPeriodOver):
        withdrawals.submit_withdrawal(
            late,
            name="Kim Kund",
            email="kim@example.se",
            quantities={late.lines[0].id: 2},
            submission_key="late-letter",
            channel="form",
            received_at=withdrawals.received_at_for(date(2026, 12, 15), now=entered),
            actor="staff:7",
            now=entered,
        )


def test_a_received_date_in_the_future_or_before_the_order_is_refused(app: Flask) -> None:
    order = delivered_order(date(2026, 11, 24))
    with pytest.raises(withdrawals.WithdrawalInputError):
        submit(order, at=NOW - timedelta(days=2))
    with pytest.raises(withdrawals.WithdrawalInputError):
        withdrawals.submit_withdrawal(
            order,
            name="K",
            email="k@example.se",
            quantities={order.lines[0].id: 1},
            submission_key="future",
            channel="form",
            received_at=AT_1405 + timedelta(days=1),
            actor="staff:1",
            now=AT_1405,
        )


def test_an_unpaid_order_cannot_be_withdrawn(app: Flask) -> None:
    order = make_order()
    view = withdrawals.overview(order, date(2026, 11, 24))
    assert not view.open
    assert view.closed_reason == "Ordern går inte att ångra."


def test_the_guest_link_is_sent_only_to_the_orders_own_address(app: Flask) -> None:
    order = make_order(status=OrderStatus.CONFIRMED, email="gast@example.se")

    def render(o: Order, link: str) -> tuple[str, str]:
        return "Länk", link

    sent = withdrawals.send_guest_link(
        str(order.number), "GAST@example.se", link_for=lambda o: "L", render=render, now=NOW
    )
    assert sent is not None
    assert db.session.get(OutboxMessage, sent).to_address == "gast@example.se"  # type: ignore[union-attr]
    assert (
        withdrawals.send_guest_link(
            str(order.number), "annan@example.se", link_for=lambda o: "L", render=render, now=NOW
        )
        is None
    )
    assert count(OutboxMessage) == 1
