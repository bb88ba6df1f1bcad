"""Complaints on PostgreSQL: five reports of the same line at once give one open complaint,
and two staff deciding at once give one decision (the order and complaint rows are locked)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import AuditEntry, Complaint, OrderLine
from shop.models.customer import Role
from shop.services import complaints
from shop.services.complaints import ComplaintError
from shop.services.customers import create_staff_member
from tests.factories import NOW, PASSWORD
from tests.services.test_complaints import delivered_order

CALLERS = 5


@pytest.fixture(autouse=True)
def uploads(app: Flask, tmp_path: Path) -> None:
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")


@pytest.fixture
def staff_id(app: Flask) -> int:
    person = create_staff_member(
        email="p@example.se", name="P", password=PASSWORD, roles=[Role.STAFF], now=NOW
    )
    return int(person.id)


def at_once(app: Flask, work: Callable[[int], object]) -> list[str]:
    barrier = threading.Barrier(CALLERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                work(n)
                outcome = "ok"
            except ComplaintError as error:
                outcome = error.message
            except Exception as error:  # reported in the assertion below
                outcome = f"error: {error!r}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.postgres
def test_concurrent_reports_of_one_line_make_one_open_complaint(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are tested on PostgreSQL")
    _, line = delivered_order(date(2026, 11, 1))
    line_id = line.id

    def report(n: int) -> object:
        mine = db.session.get(OrderLine, line_id)
        assert mine is not None
        return complaints.report(
            mine,
            description=f"Fel nummer {n}.",
            discovered_on=None,
            photos=[],
            actor="customer:K-TEST",
            now=NOW,
        )

    outcomes = at_once(app, report)
    assert outcomes.count("ok") == 1, outcomes
    assert sum("redan en öppen reklamation" in o for o in outcomes) == CALLERS - 1, outcomes
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Complaint.id))) == 1


@pytest.mark.postgres
def test_concurrent_decisions_make_one_decision(app: Flask, staff_id: int) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are tested on PostgreSQL")
    _, line = delivered_order(date(2026, 11, 1))
    complaint = complaints.report(
        line, description="Fel.", discovered_on=None, photos=[], actor="customer:K", now=NOW
    )
    complaint_id = complaint.id

    def decide(n: int) -> object:
        mine = db.session.get(Complaint, complaint_id)
        assert mine is not None
        return complaints.decide(mine, "repair", reason=f"Beslut {n}.", staff_id=staff_id, now=NOW)

    outcomes = at_once(app, decide)
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("Reklamationen är redan avgjord.") == CALLERS - 1, outcomes
    db.session.expire_all()
    decided = db.session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.action == "complaint.decided")
    )
    assert decided == 1
