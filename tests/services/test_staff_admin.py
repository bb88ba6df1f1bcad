"""The back office services: today's work, the order search, staff accounts (audited)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import AuditEntry, Customer, Invoice, Withdrawal
from shop.models.customer import Role
from shop.services import shipping, staff_admin
from shop.services.customers import create_staff_member, password_matches
from tests.factories import NOW, PASSWORD, make_order, make_product

TODAY = date(2026, 11, 23)


def admin() -> Customer:
    return create_staff_member(
        email="chef@example.se", name="Ada Admin", password=PASSWORD, roles=[Role.ADMIN], now=NOW
    )


def test_todays_work_counts_what_needs_doing_t5_8(app: Flask) -> None:
    boss = admin()
    book = make_product()
    to_ship = make_order(lines=[(book, 2)], status=OrderStatus.CONFIRMED)
    shipped = make_order(lines=[(book, 1)], status=OrderStatus.CONFIRMED)
    make_order(lines=[(book, 1)])  # unpaid: not to ship
    make_order(lines=[(make_product(kind="download"), 1)], status=OrderStatus.CONFIRMED)
    shipment = shipping.create_shipment(
        shipped,
        {shipped.lines[0].id: 1},
        carrier="postnord",
        tracking_number="PN1",
        staff_id=boss.id,
        now=NOW,
    )
    shipping.mark_dispatched(shipment, staff_id=boss.id, today=TODAY, now=NOW)
    db.session.add_all(
        [
            Withdrawal(
                order_id=to_ship.id,
                received_at=NOW,
                channel="function",
                name="Kim",
                email="kim@example.se",
                refund_due_on=TODAY + timedelta(days=3),
                submission_key="a",
                created_at=NOW,
            ),
            Withdrawal(
                order_id=shipped.id,
                received_at=NOW,
                channel="form",
                name="Kim",
                email="kim@example.se",
                refund_due_on=TODAY + timedelta(days=4),
                submission_key="b",
                created_at=NOW,
            ),
            Invoice(
                number=1,
                order_id=to_ship.id,
                ocr="1234",
                issued_on=TODAY - timedelta(days=40),
                due_on=TODAY - timedelta(days=1),
                total_ore=1000,
                created_at=NOW,
            ),
            Invoice(
                number=2,
                order_id=shipped.id,
                ocr="2234",
                issued_on=TODAY,
                due_on=TODAY,
                total_ore=1000,
                created_at=NOW,
            ),
        ]
    )
    db.session.commit()
    work = staff_admin.todays_work(TODAY)
    assert work.orders_to_ship == 1
    assert work.parcels_on_the_way == 1
    assert work.invoices_overdue == 1
    assert [(r.order_number, r.near) for r in work.refunds_due] == [
        (to_ship.number, True),
        (shipped.number, False),
    ]


def test_search_orders_by_text_status_method_and_dates(app: Flask) -> None:
    book = make_product()
    early = make_order(lines=[(book, 1)], email="anna@example.se", now=NOW - timedelta(days=5))
    late = make_order(lines=[(book, 1)], email="bo@example.se", status=OrderStatus.CONFIRMED)

    def numbers(**kwargs: object) -> list[str | None]:
        page = staff_admin.search_orders(staff_admin.OrderFilter(**kwargs))  # type: ignore[arg-type]
        return [order.number for order in page.orders]

    assert numbers() == [late.number, early.number]
    assert numbers(q="ANNA@") == [early.number]
    assert numbers(q=str(late.number)) == [late.number]
    assert numbers(q="Gösta") == [late.number, early.number]  # the buyer's name
    assert numbers(q="%") == []
    assert numbers(status="confirmed") == [late.number]
    assert numbers(payment_method="invoice") == []
    assert numbers(date_from=TODAY - timedelta(days=1)) == [late.number]
    assert numbers(date_to=TODAY - timedelta(days=1)) == [early.number]


def test_search_orders_is_paginated(app: Flask) -> None:
    book = make_product(stock=100)
    for _ in range(3):
        make_order(lines=[(book, 1)])
    first = staff_admin.search_orders(staff_admin.OrderFilter(), page=1, per_page=2)
    second = staff_admin.search_orders(staff_admin.OrderFilter(), page=2, per_page=2)
    assert (first.total, first.pages, len(first.orders)) == (3, 2, 2)
    assert len(second.orders) == 1
    assert staff_admin.search_orders(staff_admin.OrderFilter(), page=9, per_page=2).page == 2


def test_create_staff_is_audited_without_personal_data(app: Flask) -> None:
    boss = admin()
    person = staff_admin.create_staff(
        email="Ny@Example.se",
        name="Ny Personal",
        password="tio-tecken!",
        roles=["staff", "finance"],
        actor_id=boss.id,
        now=NOW,
    )
    assert person.email == "ny@example.se"
    assert person.roles == frozenset({Role.STAFF, Role.FINANCE})
    assert password_matches(person, "tio-tecken!")
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.created")).one()
    assert entry.actor == f"staff:{boss.id}"
    assert entry.subject_id == str(person.id)
    assert entry.details == {"roles": ["finance", "staff"]}
    assert "ny@example.se" not in str(entry.details)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"password": "kort-nio9"}, "minst 10 tecken"),
        ({"roles": []}, "minst en roll"),
        ({"roles": ["boss"]}, "Okänd roll"),
        ({"email": "CHEF@example.se"}, "används redan"),
    ],
)
def test_create_staff_refuses_bad_input(
    app: Flask, kwargs: dict[str, object], message: str
) -> None:
    boss = admin()
    values: dict[str, object] = {
        "email": "ny@example.se",
        "name": "Ny",
        "password": "tio-tecken!",
        "roles": ["staff"],
    }
    values.update(kwargs)
    with pytest.raises(staff_admin.StaffAdminError, match=message):
        staff_admin.create_staff(actor_id=boss.id, now=NOW, **values)  # type: ignore[arg-type]
    assert db.session.query(Customer).count() == 1


def test_changing_roles_is_audited_before_and_after(app: Flask) -> None:
    boss = admin()
    person = create_staff_member(
        email="p@example.se", name="P", password=PASSWORD, roles=[Role.STAFF], now=NOW
    )
    later = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert staff_admin.set_roles(person, ["finance", "staff"], actor_id=boss.id, now=later)
    assert not staff_admin.set_roles(person, ["staff", "finance"], actor_id=boss.id, now=later)
    db.session.expire_all()
    assert db.session.get(Customer, person.id).roles == {Role.STAFF, Role.FINANCE}  # type: ignore[union-attr]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.roles")).one()
    assert entry.details == {"before": ["staff"], "after": ["finance", "staff"]}
    assert entry.actor == f"staff:{boss.id}"
    assert entry.at == later


def test_the_last_admin_keeps_the_admin_role(app: Flask) -> None:
    boss = admin()
    with pytest.raises(staff_admin.StaffAdminError, match="minst en administratör"):
        staff_admin.set_roles(boss, ["staff"], actor_id=boss.id, now=NOW)
    other = create_staff_member(
        email="a2@example.se", name="A2", password=PASSWORD, roles=[Role.ADMIN], now=NOW
    )
    assert staff_admin.set_roles(boss, ["staff"], actor_id=other.id, now=NOW)


def test_disabling_a_login_is_audited_and_not_for_oneself(app: Flask) -> None:
    boss = admin()
    person = create_staff_member(
        email="p@example.se", name="P", password=PASSWORD, roles=[Role.STAFF], now=NOW
    )
    with pytest.raises(staff_admin.StaffAdminError, match="din egen"):
        staff_admin.set_login_disabled(boss, True, actor_id=boss.id, now=NOW)
    assert staff_admin.set_login_disabled(person, True, actor_id=boss.id, now=NOW)
    assert not staff_admin.set_login_disabled(person, True, actor_id=boss.id, now=NOW)
    assert person.login_disabled
    assert staff_admin.set_login_disabled(person, False, actor_id=boss.id, now=NOW)
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject_id == str(person.id))
    ).all()
    assert actions == ["staff.login_disabled", "staff.login_enabled"]
