"""Erasure requests (R4.3) with holds (R3), deadlines (R4.1, R4.3) and staff holds (R3.5)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import (
    BookkeepingRecord,
    ComplaintPhoto,
    Consent,
    Customer,
    DataRequest,
    Order,
)
from shop.services import accounts, data_requests, orders
from shop.services.retention import sweep
from tests.factories import PASSWORD, make_customer
from tests.services.retention_helpers import (
    PERSON,
    Person,
    add_complaint,
    make_person,
    occurrences,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)


def erase(customer: Customer, received_on: date = TODAY) -> data_requests.ErasureOutcome:
    return data_requests.request_erasure(
        customer,
        channel="staff",
        verified_by="staff:1",
        received_on=received_on,
        today=TODAY,
        now=NOW,
    )


def test_r4_3_erasure_leaves_the_person_only_in_the_bookkeeping_records(app: Flask) -> None:
    """R4.3: e-mail, name, phone and address appear nowhere in the database (every text
    column of every table, the audit and sweeper logs included) but in bookkeeping records,
    which stay readable and are listed with the day they go (R2.3)."""
    customer, order = make_person(placed_at=datetime(2026, 9, 1, 10, tzinfo=UTC))
    receipt = db.session.scalars(
        select(BookkeepingRecord).where(BookkeepingRecord.order_id == order.id)
    ).one()
    db.session.add(  # a newsletter signup by the same address before the account existed
        Consent(
            email=PERSON.email,
            purpose="newsletter",
            action="given",
            at=datetime(2025, 1, 1, tzinfo=UTC),
            source="footer",
            wording_version="1",
        )
    )
    db.session.commit()
    outcome = erase(customer)
    assert outcome.done
    assert outcome.request.status == "done"
    assert [(i.kind, i.rule, i.until) for i in outcome.waiting] == [
        (receipt.kind, "R2.3", date(2034, 1, 1))
    ]
    found = occurrences(PERSON.needles)
    for needle in PERSON.needles:
        assert set(found.get(needle, [])) <= {"bookkeeping_record.content"}, needle
    assert PERSON.name in str(receipt.content)
    assert accounts.authenticate(PERSON.email, PASSWORD) is None


def test_r4_3_erasure_removes_complaint_texts_and_photo_files(app: Flask, tmp_path: Path) -> None:
    """R4.3 with T6: what the person wrote in a complaint, the reason written back to them and
    their photos (row and file) go at once; a photo another complaint still names stays."""
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    folder = tmp_path / "uploads" / "complaints"
    folder.mkdir(parents=True)
    customer, order = make_person(placed_at=datetime(2026, 9, 1, 10, tzinfo=UTC))
    complaint = add_complaint(order, status="decided", text=f"Hej {PERSON.name}, {PERSON.phone}")
    hour_ago = (NOW - timedelta(hours=2)).timestamp()
    for name in ("theirs.jpg", "others.jpg"):
        (folder / name).write_bytes(b"\xff\xd8 photo")
        os.utime(folder / name, (hour_ago, hour_ago))
    db.session.add(
        ComplaintPhoto(
            complaint_id=complaint.id,
            stored_path="complaints/theirs.jpg",
            content_type="image/jpeg",
            size_bytes=8,
            sha256="0" * 64,
            created_at=NOW,
        )
    )
    _, other_order = make_person(
        Person("o@example.se", "Otto Annan", "070-000 00 00", "Annanvägen 1", "Annanby")
    )
    other = add_complaint(other_order)
    db.session.add(
        ComplaintPhoto(
            complaint_id=other.id,
            stored_path="complaints/others.jpg",
            content_type="image/jpeg",
            size_bytes=8,
            sha256="1" * 64,
            created_at=NOW,
        )
    )
    db.session.commit()
    assert erase(customer).done
    found = occurrences(PERSON.needles)
    for needle in PERSON.needles:
        assert set(found.get(needle, [])) <= {"bookkeeping_record.content"}, needle
    assert sorted(p.name for p in folder.iterdir()) == ["others.jpg"]
    assert db.session.scalars(select(ComplaintPhoto.stored_path)).all() == ["complaints/others.jpg"]


def test_a_photo_file_younger_than_an_hour_is_left_for_its_report_to_commit(
    app: Flask, tmp_path: Path
) -> None:
    """The clean-up after erasure never races a report still being saved."""
    from shop.services.complaints import remove_unreferenced_photos

    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    folder = tmp_path / "uploads" / "complaints"
    folder.mkdir(parents=True)
    (folder / "new.jpg").write_bytes(b"x")
    moment = datetime.fromtimestamp((folder / "new.jpg").stat().st_mtime, tz=UTC)
    assert remove_unreferenced_photos(now=moment + timedelta(minutes=59)) == []
    assert remove_unreferenced_photos(now=moment + timedelta(minutes=61)) == ["new.jpg"]


def test_r4_3_a_held_order_waits_and_the_sweeper_finishes_the_erasure(app: Flask) -> None:
    """R4.3 with R3.1: the account goes at once, the undelivered order waits (reason listed);
    when it is delivered and out of its withdrawal period, the next sweep finishes."""
    customer, order = make_person(
        placed_at=datetime(2026, 11, 20, 10, tzinfo=UTC), status=OrderStatus.SHIPPED
    )
    outcome = erase(customer)
    assert not outcome.done
    assert outcome.request.status == "waiting"
    held = [i for i in outcome.waiting if i.kind == "order"]
    assert [(i.number, i.rule, i.until) for i in held] == [(order.number, "R3.1", None)]
    db.session.expire_all()
    customer = db.session.get(Customer, customer.id)
    assert customer is not None
    assert customer.login_disabled
    assert customer.name == customer.pseudonym
    kept = db.session.get(Order, order.id)
    assert kept is not None
    assert kept.name == PERSON.name
    assert kept.anonymised_at is None

    assert sweep(TODAY, now=NOW).counts == {"R3.1 hold": 1}
    orders.record_transition(kept, OrderStatus.DELIVERED, actor="system", now=NOW)
    orders.record_transition(kept, OrderStatus.COMPLETED, actor="system", now=NOW)
    db.session.commit()
    assert sweep(TODAY, now=NOW).counts == {"R4.3 anonymise": 1}
    db.session.expire_all()
    request = db.session.get(DataRequest, outcome.request.id)
    assert request is not None
    assert request.status == "done"
    assert request.closed_on == TODAY
    found = occurrences(PERSON.needles)
    for needle in PERSON.needles:
        assert set(found.get(needle, [])) <= {"bookkeeping_record.content"}, needle


def test_r3_5_a_staff_hold_stops_an_erasure_and_says_why(app: Flask) -> None:
    """R3.5: nothing is anonymised while staff hold the account; the request waits."""
    customer = make_customer(name="Hedda Hållen")
    data_requests.place_hold(customer, "Myndighetsbegäran", actor="staff:1", now=NOW)
    outcome = erase(customer)
    assert not outcome.done
    assert [(i.kind, i.rule) for i in outcome.waiting] == [("account", "R3.5")]
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).name == "Hedda Hållen"  # type: ignore[union-attr]


def test_r4_3_the_erasure_deadline_is_7_days_and_access_30(app: Flask) -> None:
    """R4.3: erasure within 7 days; R4.1: access within 30 days of receipt."""
    first = make_customer()
    second = make_customer()
    erasure = erase(first, received_on=date(2026, 11, 20))
    assert erasure.request.due_on == date(2026, 11, 27)
    access = data_requests.record_access_request(
        second, verified_by="staff:1", received_on=date(2026, 11, 20), now=NOW
    )
    assert access.due_on == date(2026, 12, 20)
    assert data_requests.queue() == [access]
    data_requests.close_access_request(access, actor="staff:1", today=TODAY, now=NOW)
    assert data_requests.queue() == []
    with pytest.raises(data_requests.DataRequestProblem):
        data_requests.close_access_request(access, actor="staff:1", today=TODAY, now=NOW)


def test_r4_3_an_account_already_anonymised_cannot_be_erased_again(app: Flask) -> None:
    customer = make_customer()
    erase(customer)
    with pytest.raises(data_requests.DataRequestProblem):
        erase(customer)


def test_r3_5_a_hold_needs_a_reason_and_is_released_once(app: Flask) -> None:
    customer = make_customer()
    with pytest.raises(data_requests.DataRequestProblem):
        data_requests.place_hold(customer, "  ", actor="staff:1", now=NOW)
    hold = data_requests.place_hold(customer, "Tvist", actor="staff:1", now=NOW)
    data_requests.release_hold(hold, actor="staff:1", now=NOW)
    with pytest.raises(data_requests.DataRequestProblem):
        data_requests.release_hold(hold, actor="staff:1", now=NOW)
