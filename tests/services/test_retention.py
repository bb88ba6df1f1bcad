"""The retention sweeper (privacy.md S1–S5) and its rules R2.1–R2.8 with the holds R3, at the
boundaries."""

from __future__ import annotations

import os
import socket
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import func, select

from shop.domain.lifecycle import OrderStatus
from shop.domain.retention import order_is_held
from shop.extensions import db
from shop.models import (
    AuditEntry,
    BookkeepingRecord,
    Consent,
    CreditCheck,
    Customer,
    DataRequest,
    Invoice,
    Order,
    RetentionLock,
    RetentionLogEntry,
    RetentionRun,
)
from shop.services import accounts, data_requests, retention
from shop.services.retention import ReportLine, SweepLocked, sweep
from tests.factories import PASSWORD, make_customer, make_order
from tests.services.retention_helpers import (
    PERSON,
    Person,
    add_complaint,
    make_person,
    occurrences,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def run(day: date, **kwargs: object) -> retention.SweepResult:
    return sweep(day, now=NOW, **kwargs)  # type: ignore[arg-type]


def buyer(last_activity_on: date, **extra: object) -> Customer:
    customer = make_customer(last_activity_on=last_activity_on, **extra)
    make_order(customer=customer, status=OrderStatus.COMPLETED)
    customer.last_activity_on = last_activity_on
    db.session.commit()
    return customer


def anonymised(customer: Customer) -> bool:
    db.session.expire_all()
    return db.session.get(Customer, customer.id).anonymised_at is not None  # type: ignore[union-attr]


def test_r2_1_a_buyer_is_anonymised_the_day_after_three_years(app: Flask) -> None:
    """R2.1: more than 3 years after the last activity, not on the day 3 years have passed."""
    customer = buyer(date(2023, 6, 10))
    run(date(2026, 6, 10))
    assert not anonymised(customer)
    result = run(date(2026, 6, 11))
    assert anonymised(customer)
    assert result.counts == {"R2.1 anonymise": 1}


def test_r2_1_a_customer_who_still_logs_in_is_kept(app: Flask) -> None:
    """R2.1: a login is activity, even when the last purchase is long ago."""
    customer = buyer(date(2023, 1, 1), last_login_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    run(date(2026, 6, 1))
    assert not anonymised(customer)


def test_r2_2_an_account_that_never_bought_goes_two_years_after_the_last_login(
    app: Flask,
) -> None:
    """R2.2: no purchase and no consent: anonymised 2 years after the last login."""
    customer = make_customer(
        last_activity_on=date(2024, 6, 10), last_login_at=datetime(2024, 6, 10, 8, tzinfo=UTC)
    )
    run(date(2026, 6, 9))
    assert not anonymised(customer)
    result = run(date(2026, 6, 10))
    assert anonymised(customer)
    assert result.counts == {"R2.2 anonymise": 1}


def test_r2_2_a_subscriber_is_kept_until_r2_1(app: Flask) -> None:
    """R2.2: consent to be kept (a newsletter subscription) moves the account to R2.1."""
    customer = make_customer(last_activity_on=date(2024, 6, 10))
    db.session.add(
        Consent(
            customer_id=customer.id,
            email=customer.email,
            purpose="newsletter",
            action="given",
            at=datetime(2024, 6, 10, 8, tzinfo=UTC),
            source="registration",
            wording_version="1",
        )
    )
    db.session.commit()
    run(date(2026, 6, 10))
    assert not anonymised(customer)
    run(date(2027, 6, 11))
    assert anonymised(customer)


def test_staff_accounts_are_never_swept(app: Flask) -> None:
    from shop.models.customer import Role
    from shop.services import customers

    staff = customers.create_staff_member(
        email="sam@notbutiken.example",
        name="Sam Personal",
        password=PASSWORD,
        roles=[Role.STAFF],
        now=datetime(2020, 1, 1, tzinfo=UTC),
    )
    staff.last_activity_on = date(2020, 1, 1)
    db.session.commit()
    run(date(2026, 6, 1))
    assert not anonymised(staff)


def test_r3_1_an_undelivered_order_holds_the_customer(app: Flask) -> None:
    """R3.1: nothing is anonymised while an order is not delivered; the hold is reported."""
    customer = make_customer(last_activity_on=date(2022, 1, 1))
    make_order(customer=customer, status=OrderStatus.SHIPPED)
    customer.last_activity_on = date(2022, 1, 1)
    db.session.commit()
    lines: list[ReportLine] = []
    result = run(date(2026, 6, 1), emit=lines.append)
    assert not anonymised(customer)
    assert result.counts == {"R3.1 hold": 1}
    assert lines == [ReportLine("R3.1", "hold", "customer", customer.pseudonym)]


def test_r3_1_the_withdrawal_period_holds_an_order(app: Flask) -> None:
    """R3.1: an order delivered 14 days ago is held; 15 days ago it is not."""
    from shop.models import Shipment

    order = make_order(status=OrderStatus.DELIVERED)
    db.session.add(
        Shipment(
            order_id=order.id,
            carrier="postnord",
            created_at=NOW,
            created_by="staff:1",
            dispatched_on=date(2026, 5, 1),
            delivered_on=date(2026, 5, 4),
        )
    )
    db.session.commit()
    policy = retention.policy_from_config()
    assert retention.order_holds([order.id], date(2026, 5, 18), policy) == {
        order.id: {retention.HoldReason.ORDER_IN_PROGRESS}
    }
    assert retention.order_holds([order.id], date(2026, 5, 19), policy) == {}
    # The SQL agrees with the domain's rule (order_is_held) on both sides of the boundary.
    for day, held in ((date(2026, 5, 18), True), (date(2026, 5, 19), False)):
        assert (
            order_is_held(
                all_delivered=True,
                last_day_to_withdraw=date(2026, 5, 18),
                case_in_progress=False,
                sweep_on=day,
            )
            is held
        )


def test_r3_2_an_unpaid_invoice_holds_the_customer(app: Flask) -> None:
    """R3.2: an unpaid invoice holds; once paid, the customer goes."""
    customer = buyer(date(2022, 1, 1))
    order = db.session.scalars(select(Order).where(Order.customer_id == customer.id)).one()
    invoice = Invoice(
        number=1,
        order_id=order.id,
        ocr="1000000001",
        issued_on=date(2022, 1, 1),
        due_on=date(2022, 1, 31),
        total_ore=order.total_ore,
        status="reminded",
        created_at=NOW,
    )
    db.session.add(invoice)
    db.session.commit()
    assert run(date(2026, 6, 1)).counts == {"R3.2 hold": 1}
    assert not anonymised(customer)
    invoice.status = "paid"
    invoice.paid_on = date(2022, 2, 1)
    db.session.commit()
    run(date(2026, 6, 1))
    assert anonymised(customer)


def test_r3_3_an_open_complaint_holds_the_customer(app: Flask) -> None:
    """R3.3: an open complaint holds; once staff decided it, the customer goes and the
    complaint keeps its outcome but loses what was written."""
    customer = buyer(date(2022, 1, 1))
    order = db.session.scalars(select(Order).where(Order.customer_id == customer.id)).one()
    complaint = add_complaint(order, text="Ingrid ringde om locket.")
    assert run(date(2026, 6, 1)).counts == {"R3.3 hold": 1}
    assert not anonymised(customer)
    complaint.status, complaint.outcome, complaint.reason = "decided", "repair", "Vi lagar."
    db.session.commit()
    run(date(2026, 6, 1))
    assert anonymised(customer)
    db.session.refresh(complaint)
    assert (complaint.outcome, complaint.description, complaint.reason) == ("repair", "", "")


def test_r3_5_a_staff_hold_stops_the_sweep_until_released(app: Flask) -> None:
    """R3.5: a hold set by staff with a reason; released, the next sweep anonymises."""
    customer = buyer(date(2022, 1, 1))
    hold = data_requests.place_hold(customer, "Tvist om leverans", actor="staff:1", now=NOW)
    assert run(date(2026, 6, 1)).counts == {"R3.5 hold": 1}
    assert not anonymised(customer)
    data_requests.release_hold(hold, actor="staff:1", now=NOW)
    assert run(date(2026, 6, 1)).counts == {"R2.1 anonymise": 1}
    assert anonymised(customer)


def test_s4_a_second_sweep_the_same_day_does_nothing(app: Flask) -> None:
    """S4: idempotent; the log gets no second anonymisation."""
    buyer(date(2022, 1, 1))
    make_order(status=OrderStatus.COMPLETED, now=datetime(2022, 1, 1, 10, tzinfo=UTC))
    first = run(date(2026, 6, 1))
    assert first.counts == {"R2.1 anonymise": 2}
    second = run(date(2026, 6, 1))
    assert second.counts == {}
    assert db.session.scalar(select(func.count()).select_from(RetentionLogEntry)) == 2


def test_s2_a_dry_run_changes_nothing_and_reports_what_a_real_run_does(app: Flask) -> None:
    """S2: same lines as the real run, nothing changed, no run recorded."""
    customer = buyer(date(2022, 1, 1))
    dry: list[ReportLine] = []
    result = run(date(2026, 6, 1), dry_run=True, emit=dry.append)
    assert result.run_id is None
    assert result.counts == {"R2.1 anonymise": 1}
    assert not anonymised(customer)
    assert db.session.scalar(select(func.count()).select_from(RetentionRun)) == 0
    real: list[ReportLine] = []
    run(date(2026, 6, 1), emit=real.append)
    assert real == dry == [ReportLine("R2.1", "anonymise", "customer", customer.pseudonym)]


def test_s5_batches_commit_one_by_one_and_count_per_rule(app: Flask) -> None:
    """S5: batches of the configured size, counts saved on the run."""
    for _ in range(5):
        buyer(date(2022, 1, 1))
    result = run(date(2026, 6, 1), batch_size=2)
    assert result.counts == {"R2.1 anonymise": 5}
    saved = db.session.get(RetentionRun, result.run_id)
    assert saved is not None
    assert saved.status == "finished"
    assert saved.counts == {"R2.1 anonymise": 5}
    assert result.batches >= 3


def test_r2_1_anonymisation_keeps_amounts_and_code_and_ends_login(app: Flask) -> None:
    """R2.1: orders keep amounts, VAT, dates, lines and the code; login disabled, sessions end."""
    customer, order = make_person(last_activity_on=date(2023, 5, 2))
    total, vat, placed, lines = order.total_ore, order.vat_ore, order.placed_at, len(order.lines)
    version = customer.session_version
    run(date(2026, 6, 1))
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    customer = db.session.get(Customer, customer.id)
    assert order is not None
    assert customer is not None
    assert (order.total_ore, order.vat_ore, order.placed_at, len(order.lines)) == (
        total,
        vat,
        placed,
        lines,
    )
    assert order.name == customer.pseudonym == customer.name
    assert customer.login_disabled
    assert customer.session_version == version + 1
    assert accounts.authenticate(PERSON.email, PASSWORD) is None


def test_s3_after_the_sweep_the_person_is_only_in_the_bookkeeping_records(app: Flask) -> None:
    """R2.1, S3: e-mail, name, phone and address appear nowhere but in bookkeeping records."""
    make_person(last_activity_on=date(2023, 5, 2))
    before = occurrences(PERSON.needles)
    assert "customer.email" in before[PERSON.email]
    run(date(2026, 6, 1))
    after = occurrences(PERSON.needles)
    for needle in PERSON.needles:
        assert set(after.get(needle, [])) <= {"bookkeeping_record.content"}, needle
    assert "bookkeeping_record.content" in after[PERSON.name]


def test_s3_the_vat_report_of_a_past_year_is_the_same_after_the_sweep(app: Flask) -> None:
    """R2.1 with R2.3, S3: anonymising customers changes no bookkeeping figure: the VAT report
    of 2023 (receipts of people the sweep anonymises and of one it keeps) is identical."""
    from shop.services.finance import vat_report

    make_person(last_activity_on=date(2023, 5, 2))
    make_person(
        Person("b@example.se", "Bo Behållen", "070-222", "Kvarvägen 2", "Kvarby"),
        last_activity_on=date(2026, 5, 1),
        placed_at=datetime(2023, 9, 1, 10, 0, tzinfo=UTC),
    )
    before = vat_report(2023)
    assert before.record_count == 2
    assert before.gross_ore > 0
    result = run(date(2026, 6, 1))
    assert result.counts.get("R2.1 anonymise") == 1
    db.session.expire_all()
    assert vat_report(2023) == before


def test_r2_1_a_guest_order_is_anonymised_three_years_after_it(app: Flask) -> None:
    """R2.1 for a guest: the order is the history."""
    order = make_order(status=OrderStatus.COMPLETED, now=datetime(2023, 3, 1, 10, tzinfo=UTC))
    run(date(2026, 3, 1))
    db.session.expire_all()
    assert db.session.get(Order, order.id).anonymised_at is None  # type: ignore[union-attr]
    assert run(date(2026, 3, 2)).counts == {"R2.1 anonymise": 1}
    db.session.expire_all()
    anon = db.session.get(Order, order.id)
    assert anon is not None
    assert anon.name == f"O-{order.id}"


def _bookkeeping_record(fiscal_year: int) -> BookkeepingRecord:
    from tests.services.fulfilment_helpers import confirmed_order

    order = confirmed_order()
    record = db.session.scalars(
        select(BookkeepingRecord).where(BookkeepingRecord.order_id == order.id)
    ).one()
    db.session.execute(
        sa.text("UPDATE bookkeeping_record SET fiscal_year = :y WHERE id = :i"),
        {"y": fiscal_year, "i": record.id},
    )
    db.session.commit()
    return record


def test_r2_3_bookkeeping_records_of_2018_are_purged_from_1_january_2026(app: Flask) -> None:
    """R2.3: kept 7 years after the end of the fiscal year, purged at the first sweep after."""
    record = _bookkeeping_record(2018)
    record_id, name = record.id, f"{record.kind} {record.number}"
    assert run(date(2025, 12, 31)).counts.get("R2.3 purge") is None
    assert run(date(2026, 1, 1)).counts.get("R2.3 purge") == 1
    db.session.expunge_all()
    assert db.session.get(BookkeepingRecord, record_id) is None
    entry = db.session.scalars(
        select(RetentionLogEntry).where(RetentionLogEntry.rule_id == "R2.3")
    ).one()
    assert entry.subject == name


def test_r2_4_credit_data_goes_three_months_after_the_invoice_is_settled(app: Flask) -> None:
    """R2.4: the organisation number goes; the outcome (yes/no, date) stays."""
    order = make_order(status=OrderStatus.CANCELLED)
    check = CreditCheck(
        order_id=order.id,
        organisation_number="556036-0793",
        amount_ore=1000,
        approved=True,
        reason="Godkänd",
        checked_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
    )
    db.session.add(check)
    db.session.add(
        Invoice(
            number=7,
            order_id=order.id,
            ocr="7000000007",
            issued_on=date(2026, 1, 5),
            due_on=date(2026, 2, 4),
            total_ore=1000,
            paid_ore=1000,
            status="paid",
            paid_on=date(2026, 1, 10),
            created_at=NOW,
        )
    )
    db.session.commit()
    assert run(date(2026, 4, 9)).counts.get("R2.4 purge") is None
    assert run(date(2026, 4, 10)).counts.get("R2.4 purge") == 1
    db.session.expire_all()
    kept = db.session.get(CreditCheck, check.id)
    assert kept is not None
    assert kept.organisation_number is None
    assert kept.approved is True
    assert kept.checked_at == check.checked_at


def test_r2_6_the_proof_of_a_withdrawn_consent_goes_after_two_years(app: Flask) -> None:
    """R2.6: the withdrawal (and the consent before it) are purged 2 years after."""
    for action, at in (("given", datetime(2023, 1, 1, tzinfo=UTC)), ("withdrawn", None)):
        db.session.add(
            Consent(
                email="gammal@example.se",
                purpose="newsletter",
                action=action,
                at=at or datetime(2024, 3, 1, 10, tzinfo=UTC),
                source="unsubscribe_link",
                wording_version="1",
            )
        )
    db.session.commit()
    assert run(date(2026, 2, 28)).counts.get("R2.6 purge") is None
    assert run(date(2026, 3, 1)).counts.get("R2.6 purge") == 1
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 0


def test_r2_8_records_of_data_requests_go_three_years_after_they_closed(app: Flask) -> None:
    """R2.8: kept 3 years after closing; open requests are kept."""
    request = DataRequest(
        kind="access",
        channel="staff",
        received_on=date(2023, 5, 1),
        due_on=date(2023, 5, 31),
        verified_by="staff:1",
        status="done",
        created_at=NOW,
        closed_on=date(2023, 5, 5),
        outcome={},
    )
    db.session.add(request)
    db.session.commit()
    assert run(date(2026, 5, 4)).counts.get("R2.8 purge") is None
    assert run(date(2026, 5, 5)).counts.get("R2.8 purge") == 1
    assert db.session.scalar(select(func.count()).select_from(DataRequest)) == 0


def test_r2_2_a_registration_never_activated_goes_the_day_after_its_link_expired(
    app: Flask,
) -> None:
    """R2.2: the details of a registration nobody activated go once its link cannot work."""
    from shop.models import PendingRegistration

    db.session.add(
        PendingRegistration(
            token_hash="a" * 64,
            email="aldrig@example.se",
            password_hash="x",
            details={"name": "Aldrig Aktiverad"},
            created_at=datetime(2026, 5, 3, 12, 0, tzinfo=UTC),
            expires_at=datetime(2026, 5, 4, 12, 0, tzinfo=UTC),
        )
    )
    db.session.commit()
    assert run(date(2026, 5, 4)).counts.get("R2.2 purge") is None
    assert run(date(2026, 5, 5)).counts.get("R2.2 purge") == 1
    assert occurrences(("aldrig@example.se", "Aldrig Aktiverad")) == {}


def test_s3_the_sweeper_log_names_rule_and_code_and_no_personal_data(app: Flask) -> None:
    """S3: when, rule, pseudonymous code, action, run."""
    customer, _order = make_person(last_activity_on=date(2023, 5, 2))
    result = run(date(2026, 6, 1))
    entry = db.session.scalars(select(RetentionLogEntry)).one()
    assert (entry.run_id, entry.rule_id, entry.action, entry.subject) == (
        result.run_id,
        "R2.1",
        "anonymise",
        customer.pseudonym,
    )
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) >= 1


@pytest.mark.parametrize("holder_alive", [True, False])
def test_s4_the_lock_row_stops_a_second_sweep_unless_its_holder_died(
    app: Flask, holder_alive: bool
) -> None:
    """S4 on SQLite: a live holder stops the sweep; a dead process's lock is taken over."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL uses an advisory lock (see test_retention_cli)")
    pid = os.getppid() if holder_alive else 2**22 + 12345
    db.session.add(
        RetentionLock(
            name=retention.LOCK_NAME,
            holder=f"{socket.gethostname()}:{pid}",
            acquired_at=NOW,
            expires_at=datetime(2099, 1, 1, tzinfo=UTC),
        )
    )
    db.session.commit()
    if holder_alive:
        with pytest.raises(SweepLocked):
            run(date(2026, 6, 1))
    else:
        run(date(2026, 6, 1))
        assert db.session.scalar(select(func.count()).select_from(RetentionLock)) == 0
