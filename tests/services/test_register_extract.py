"""The register extract: everything held about a customer, and nothing about anyone else (R4.1)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask_babel import lazy_gettext

from shop.extensions import db
from shop.models import Address, CartLine, Customer, Order
from shop.services import newsletter, register_extract, returns
from tests.factories import make_customer, make_product
from tests.services.fulfilment_helpers import confirmed_order
from tests.services.test_returns import LATER, STAFF, inspected, paid_order

NOW = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
SECTIONS = [
    "account",
    "addresses",
    "orders",
    "withdrawals",
    "returns",
    "refunds",
    "complaints",
    "course_bookings",
    "course_waiting_list",
    "credit_checks",
    "consents",
    "data_requests",
    "cart",
    "audit",
]


def alice() -> Customer:
    customer = make_customer(email="alice@example.se", name="Alice Andersson", phone="070-111")
    customer.addresses.append(
        Address(
            kind="delivery",
            name="Alice Andersson",
            street="Ågatan 3",
            postcode="11122",
            city="Uppsala",
            country="SE",
        )
    )
    db.session.commit()
    newsletter.set_subscription(customer, True, source="registration", now=NOW)
    return customer


def full_history(customer: Customer) -> Order:
    """A paid, delivered, withdrawn, returned, inspected and refunded order (T5)."""
    order = paid_order(customer=customer)
    withdrawal = inspected(order)
    returns.approve(withdrawal, staff_id=STAFF, now=LATER)
    return order


def bob() -> tuple[Customer, Order]:
    customer = make_customer(
        email="bob@example.se",
        name="Bob Bergström",
        kind="organisation",
        organisation_name="Bobs Musik AB",
    )
    order = confirmed_order(customer=customer, payment_method="invoice")
    db.session.add(
        CartLine(customer_id=customer.id, product_id=make_product().id, quantity=1, updated_at=NOW)
    )
    newsletter.set_subscription(customer, True, source="account", now=NOW)
    db.session.commit()
    return customer, order


def test_every_section_is_present_R4_1(app: Flask) -> None:
    extract = register_extract.build_extract(alice(), now=NOW)
    assert list(extract["sections"]) == SECTIONS
    assert extract["format"] == "registerutdrag/1"
    assert extract["generated_at"] == NOW.isoformat()


def test_the_extract_holds_the_account_orders_and_what_followed_R4_1(app: Flask) -> None:
    customer = alice()
    order = full_history(customer)
    sections = register_extract.build_extract(customer, now=NOW)["sections"]
    account = sections["account"]
    assert account["email"] == "alice@example.se"
    assert account["name"] == "Alice Andersson"
    assert account["pseudonym"] == customer.pseudonym
    assert account["password_set"] is True
    assert "password_hash" not in account
    assert sections["addresses"] == [
        {
            "kind": "delivery",
            "name": "Alice Andersson",
            "street": "Ågatan 3",
            "postcode": "11122",
            "city": "Uppsala",
            "country": "SE",
        }
    ]
    [placed] = sections["orders"]
    assert placed["number"] == order.number
    assert placed["total_ore"] == order.total_ore
    assert [line["quantity"] for line in placed["lines"]] == [line.quantity for line in order.lines]
    assert placed["payments"][0]["amount_ore"] == order.total_ore
    assert placed["shipments"][0]["tracking_number"] == "PN123"
    assert {doc["kind"] for doc in placed["documents"]} >= {"receipt", "credit_note"}
    assert sections["withdrawals"][0]["order"] == order.number
    assert sections["returns"][0]["inspections"][0]["condition"] == "unused"
    assert sections["refunds"][0]["amount_ore"] == order.total_ore
    assert [(c["action"], c["source"]) for c in sections["consents"]] == [("given", "registration")]
    actions = {entry["action"] for entry in sections["audit"]}
    assert {"refund.approved", "return.inspected"} <= actions
    assert all(not entry["actor"].startswith("staff:") for entry in sections["audit"])


def test_invoices_and_credit_data_of_an_organisation_R4_1(app: Flask) -> None:
    customer, order = bob()
    sections = register_extract.build_extract(customer, now=NOW)["sections"]
    [placed] = sections["orders"]
    assert placed["invoices"][0]["total_ore"] == order.total_ore
    assert placed["invoices"][0]["ocr"]
    assert sections["account"]["organisation_name"] == "Bobs Musik AB"
    assert len(sections["cart"]) == 1


def test_another_customers_data_never_appears_R4_1(app: Flask) -> None:
    customer = alice()
    full_history(customer)
    other, other_order = bob()
    text = json.dumps(register_extract.build_extract(customer, now=NOW), ensure_ascii=False)
    for secret in (
        other.email,
        other.name,
        other.pseudonym,
        "Bobs Musik AB",
        str(other_order.number),
    ):
        assert secret not in text
    assert "alice@example.se" in text
    # And the other way round: Alice's history is not in Bob's extract.
    other_text = json.dumps(register_extract.build_extract(other, now=NOW), ensure_ascii=False)
    for secret in ("alice@example.se", "Alice Andersson", customer.pseudonym, "Ågatan 3"):
        assert secret not in other_text


def test_an_empty_account_has_empty_sections_R4_1(app: Flask) -> None:
    customer = make_customer(email="ny@example.se")
    sections = register_extract.build_extract(customer, now=NOW)["sections"]
    for key in SECTIONS[1:]:
        assert sections[key] == [], key


def test_the_file_is_json_named_by_pseudonym_and_day_R4_1(app: Flask) -> None:
    customer = alice()
    data = register_extract.extract_json(customer, now=NOW)
    assert json.loads(data.decode("utf-8"))["sections"]["account"]["name"] == "Alice Andersson"
    assert "Ågatan 3".encode() in data  # UTF-8, not \\u escapes
    name = register_extract.extract_filename(customer, today=date(2026, 12, 20))
    assert name == f"registerutdrag-{customer.pseudonym}-2026-12-20.json"
    assert "alice" not in name


def test_a_section_is_one_registered_function(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(register_extract, "SECTIONS", list(register_extract.SECTIONS))

    @register_extract.section("lessons", lazy_gettext("Lektioner"))
    def _lessons(customer: Customer) -> list[dict[str, Any]]:
        return [{"customer": customer.pseudonym}]

    customer = make_customer(email="ny@example.se")
    sections = register_extract.build_extract(customer, now=NOW)["sections"]
    assert list(sections)[-1] == "lessons"
    assert sections["lessons"] == [{"customer": customer.pseudonym}]
    with pytest.raises(ValueError, match="already has a section 'lessons'"):
        register_extract.section("lessons", lazy_gettext("Lektioner"))(_lessons)


def test_complaints_are_in_the_extract_with_the_decision_R4_1(app: Flask, tmp_path: Any) -> None:
    """A complaint (T6) is data about the person: description, outcome and reason are listed."""
    from tests.services.test_complaints import delivered_order, report

    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    order, line = delivered_order(date(2026, 11, 20))
    complaint = report(line, description="Locket spricker.")
    customer = db.session.get(Customer, order.customer_id)
    assert customer is not None
    sections = register_extract.build_extract(customer, now=NOW)["sections"]
    [listed] = sections["complaints"]
    assert listed["order"] == order.number
    assert listed["item"] == line.title
    assert listed["description"] == "Locket spricker."
    assert listed["status"] == complaint.status == "open"
    assert listed["photos"] == []
    other = register_extract.build_extract(make_customer(email="x@example.se"), now=NOW)
    assert other["sections"]["complaints"] == []


def test_course_bookings_with_participants_are_in_the_booker_extract_only_R4_1(
    app: Flask,
) -> None:
    """R4.1, R2.5: the booker's course bookings with title, dates, status, participants (names
    and birth dates), cancellations, transfers and refunds; another booker's never appear."""
    from datetime import timedelta

    from shop.domain.buyers import BuyerKind
    from shop.domain.lifecycle import InvoiceStatus
    from shop.models import CourseRefund, WaitingListEntry
    from shop.services import course_invoicing, courses
    from tests.course_helpers import START, book, make_booker, make_course

    course = make_course(title="Cellokurs")
    booker = make_booker("pia@example.se", kind="organisation")
    booking = book(
        course, booker, "Alva", "Ture", "Greta", kind=BuyerKind.ORGANISATION, accept=True
    )
    other = make_customer(email="olle@example.se", name="Olle Annan")
    other_booking = courses.book(
        course,
        other,
        courses.BookingRequest(
            participants=(courses.ParticipantData("Sigge Annansson", date(2014, 4, 4)),),
            buyer_kind=BuyerKind.CONSUMER,
        ),
        booking_key="other-key",
        now=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    )
    db.session.add(
        WaitingListEntry(course_id=course.id, customer_id=booker.id, seats=1, created_at=NOW)
    )
    db.session.commit()
    early = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    transfer = courses.request_transfer(
        booking,
        booking.participants[1].id,
        name="Tekla Tränare",
        birth_date=date(2013, 3, 3),
        same_organisation=True,
        now=early,
    )
    courses.decide_transfer(transfer, approve=True, staff_id=1, now=early)
    day = START - timedelta(days=14)
    (invoice,) = course_invoicing.run_invoicing(  # the other booking is not accepted
        day, now=datetime.combine(day, datetime.min.time(), UTC)
    )
    invoice.status = InvoiceStatus.PAID.value
    invoice.paid_ore = invoice.total_ore
    invoice.paid_on = day
    db.session.commit()
    cancel_on = START - timedelta(days=10)
    courses.cancel_seats(
        booking,
        [booking.participants[0].id],
        received_on=cancel_on,
        channel="account",
        actor=f"customer:{booker.pseudonym}",
        now=datetime.combine(cancel_on, datetime.min.time(), UTC),
    )

    # A late cancellation keeps the whole fee (T9.3): the refund is finance's own, for the test.
    db.session.add(
        CourseRefund(
            booking_id=booking.id,
            invoice_id=invoice.id,
            amount_ore=10000,
            idempotency_key="extract-test",
            reason="cancellation",
            status="pending",
            approved_by="staff:1",
            created_at=NOW,
        )
    )
    db.session.commit()

    sections = register_extract.build_extract(booker, now=NOW)["sections"]
    [listed] = sections["course_bookings"]
    assert listed["course"] == "Cellokurs"
    assert listed["starts_at"].startswith(START.isoformat())
    assert listed["status"] == "partly_cancelled"
    assert listed["organisation_name"] == "Musikskolan AB"
    people = {(p["name"], p["birth_date"], p["status"]) for p in listed["participants"]}
    assert ("Alva", "2016-05-01", "cancelled") in people
    assert ("Greta", "2015-02-03", "active") in people
    assert ("Tekla Tränare", "2013-03-03", "active") in people
    assert [c["received_on"] for c in listed["cancellations"]] == [cancel_on.isoformat()]
    assert [(t["name"], t["status"]) for t in listed["transfers"]] == [
        ("Tekla Tränare", "approved")
    ]
    assert [r["reason"] for r in listed["refunds"]] == ["cancellation"]
    assert listed["invoice"]["number"] == invoice.number
    assert [w["course"] for w in sections["course_waiting_list"]] == ["Cellokurs"]
    assert any(e["subject"] == f"course_booking {booking.id}" for e in sections["audit"])

    text = json.dumps(register_extract.build_extract(booker, now=NOW), ensure_ascii=False)
    for secret in ("Sigge Annansson", "2014-04-04", "olle@example.se", other.pseudonym):
        assert secret not in text
    assert f"course_booking {other_booking.id}" not in text
    other_text = json.dumps(register_extract.build_extract(other, now=NOW), ensure_ascii=False)
    for secret in ("Alva", "Tekla Tränare", "2016-05-01", "Musikskolan AB", "pia@example.se"):
        assert secret not in other_text
    assert "Sigge Annansson" in other_text
