"""Helpers for the retention and erasure tests: a person with a full history, and a search of
every text column of every table for their personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa

from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import Address, Complaint, Consent, Customer, Order, Withdrawal
from shop.services import checkout, fulfilment, orders
from shop.services.checkout import PostalAddress
from tests.factories import checkout_details, make_customer, make_product


@dataclass(frozen=True)
class Person:
    email: str = "ingrid.unikadottir@example.se"
    name: str = "Ingrid Unikadottir"
    phone: str = "070-987 65 43"
    street: str = "Unikavägen 77"
    city: str = "Unikaby"

    @property
    def needles(self) -> tuple[str, ...]:
        return (self.email, self.name, self.phone, self.street, self.city)


PERSON = Person()


def make_person(
    person: Person = PERSON,
    *,
    last_activity_on: date | None = None,
    placed_at: datetime | None = None,
    status: OrderStatus = OrderStatus.COMPLETED,
) -> tuple[Customer, Order]:
    """A customer with an address, a newsletter consent, a confirmed order (receipt, mail),
    moved on to ``status``, and a finished withdrawal carrying the name and e-mail."""
    at = placed_at or datetime(2023, 5, 2, 10, 0, tzinfo=UTC)
    customer = make_customer(
        email=person.email,
        name=person.name,
        phone=person.phone,
        last_activity_on=last_activity_on or at.date(),
        last_login_at=at,
    )
    db.session.add(
        Address(
            customer_id=customer.id,
            name=person.name,
            street=person.street,
            postcode="98765",
            city=person.city,
        )
    )
    db.session.add(
        Consent(
            customer_id=customer.id,
            email=person.email,
            purpose="newsletter",
            action="given",
            at=at,
            source="registration",
            wording_version="1",
        )
    )
    address = PostalAddress(
        name=person.name, street=person.street, postcode="987 65", city=person.city
    )
    product = make_product()
    options = checkout.quote(
        {product.id: 1}, buyer_kind="consumer", delivery_method=None, payment_method=None
    ).delivery_options
    details = checkout_details(
        customer=customer,
        billing=address,
        delivery=address,
        phone=person.phone,
        delivery_method=options[0].method,
    )
    order = checkout.place_order(
        customer=customer,
        cart_lines={product.id: 1},
        details=details,
        checkout_key=f"person-{customer.id}-{at:%Y%m%d%H%M}",
        now=at,
    )
    fulfilment.confirm_order(order, now=at)
    path = {
        OrderStatus.CONFIRMED: (),
        OrderStatus.SHIPPED: (OrderStatus.SHIPPED,),
        OrderStatus.COMPLETED: (
            OrderStatus.SHIPPED,
            OrderStatus.DELIVERED,
            OrderStatus.COMPLETED,
        ),
    }[status]
    for step in path:
        orders.record_transition(order, step, actor="system", now=at)
    db.session.add(
        Withdrawal(
            order_id=order.id,
            received_at=at,
            channel="function",
            name=person.name,
            email=person.email,
            status="refunded",
            refund_due_on=at.date(),
            submission_key=f"w-{order.id}",
            created_at=at,
        )
    )
    db.session.commit()
    return customer, order


def occurrences(needles: tuple[str, ...]) -> dict[str, list[str]]:
    """``{needle: ["table.column", …]}``: where each text appears in any text, JSON or
    binary column of any table (the audit and sweeper logs included)."""
    found: dict[str, list[str]] = {}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.LargeBinary):
                for (value,) in db.session.execute(sa.select(column).where(column.is_not(None))):
                    for needle in needles:
                        if needle.lower().encode() in bytes(value).lower():
                            found.setdefault(needle, []).append(f"{table.name}.{column.name}")
                continue
            if not isinstance(column.type, sa.String | sa.Text | sa.JSON):
                continue
            as_text = sa.func.lower(sa.cast(column, sa.Text))
            for needle in needles:
                variants = {needle.lower(), needle.lower().encode("unicode_escape").decode()}
                for variant in variants:
                    hit = db.session.scalar(
                        sa.select(sa.func.count()).where(as_text.contains(variant, autoescape=True))
                    )
                    if hit:
                        found.setdefault(needle, []).append(f"{table.name}.{column.name}")
    return found


def add_complaint(order: Order, *, status: str = "open", text: str = "") -> Complaint:
    """A complaint on the order's first line; ``status="decided"`` gives it a rejection."""
    decided = status == "decided"
    complaint = Complaint(
        order_id=order.id,
        order_line_id=order.lines[0].id,
        description=text or "Trasig vid leverans.",
        reported_at=order.placed_at,
        reported_on=order.placed_at.date(),
        window_kind="normal",
        window_rule="T6.1",
        normal_last_day=order.placed_at.date(),
        status=status,
        outcome="rejection" if decided else None,
        reason=text if decided else None,
        reported_by="customer:test",
    )
    db.session.add(complaint)
    db.session.commit()
    return complaint
