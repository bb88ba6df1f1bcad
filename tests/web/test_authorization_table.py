"""Who may reach each URL that names an object (issue 8): one table, every route.

Every rule in ``app.url_map`` with a variable (an order number, an id, a token, a
slug...) must have a row in :data:`ROUTES`; the test builds real objects with the
factories, requests each row's URL as every kind of visitor and compares the answer
with the row. A new route without a row fails :func:`test_every_route_with_a_variable_has_a_row`
with the line to add.

A row is ``"endpoint": Row("/url/{placeholder}", EXPECTED)`` (``method="POST"`` for
actions; the visitor's CSRF token is sent). Placeholders are filled from
:class:`World`. ``EXPECTED`` maps each visitor kind to an answer; use a preset:

=================  ==========================================================
``PUBLIC``         everyone 200
``OWNER``          the object's owner reaches it; others 404; anonymous to login
``OWNER_NO_LOGIN`` the owner reaches it; everyone else 404 (guest-capable pages)
``RECEIPT``        the buyer and finance (and admin) reach it; others 404
``LINK``           whoever holds the link reaches it (a tampered link: 404 for all)
``LOGGED_IN``      every login reaches it; anonymous to login
``staff(...)``     the roles named reach the view (``OK``); customers and other
                   roles 403; anonymous to login
``TEACHER``        the course's teacher (and admin) reach it; other logins 403
=================  ==========================================================

Answers: a status code, ``LOGIN`` (a redirect to the login page) or ``OK`` (the
view was reached: 2xx/3xx not to the login page, or 400 for a form with errors).
Visitor kinds: ``anonymous``, ``owner`` (the customer who owns the object, see
``Row.owner``), ``other`` (another customer), ``staff``, ``finance``, ``admin`` and
``teacher`` (a login with only that role).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from shop.domain.buyers import BuyerKind
from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import BookkeepingRecord, Customer, Invoice, Order, OutboxMessage
from shop.models.customer import Role
from shop.services import (
    accounts,
    complaints,
    course_invoicing,
    courses,
    data_requests,
    invoicing,
    newsletter,
    orders,
    payments,
    returns,
    shipping,
)
from shop.services.complaints import Upload
from shop.services.customers import create_staff_member
from tests.conftest import csrf_token_from, new_client
from tests.course_helpers import book as course_book
from tests.course_helpers import make_course
from tests.factories import NOW, PASSWORD, make_customer, make_order, make_product
from tests.services.fulfilment_helpers import (
    code_product,
    confirmed_order,
    download_product,
    tmp_downloads,  # noqa: F401 - fixture
)
from tests.services.test_complaint_photos import JPEG
from tests.services.test_returns import LATER, URL, inspected, paid_order, withdraw

LOGIN = "login"
OK = "ok"
#: The day the test's courses are invoiced (T9.2, 14 days before they start) and the last
#: day the shop may cancel one (T9.5): before LATER, the day the visitors come.
COURSE_INVOICED = LATER.date() - timedelta(days=1)
KINDS = ("anonymous", "owner", "other", "staff", "finance", "admin", "teacher")


def who(default: int | str, **answers: int | str) -> dict[str, int | str]:
    """Every visitor kind gets ``default`` unless named."""
    unknown = set(answers) - set(KINDS)
    assert not unknown, f"unknown visitor kinds {unknown}"
    return {kind: answers.get(kind, default) for kind in KINDS}


PUBLIC = who(200)
OWNER = who(404, anonymous=LOGIN, owner=OK)
OWNER_NO_LOGIN = who(404, owner=OK)
RECEIPT = who(404, owner=OK, finance=OK, admin=OK)
LINK = who(OK)
LOGGED_IN = who(OK, anonymous=LOGIN)


def staff(*roles: str) -> dict[str, int | str]:
    """A staff page: the named roles reach it, other logins get 403, anonymous log in."""
    return who(403, anonymous=LOGIN, **dict.fromkeys(roles, OK))


STAFF = staff("staff", "finance", "admin")  # staff_required(Role.STAFF)
FINANCE = staff("finance", "admin")
ADMIN = staff("admin")
#: staff_required(Role.TEACHER): the course is the teacher's own (another teacher's: 404,
#: see tests/web/test_staff_courses.py); admin sees every course.
TEACHER = staff("teacher", "admin")


@dataclass(frozen=True)
class Row:
    url: str
    expected: dict[str, int | str]
    method: str = "GET"
    #: Which customer is "owner": the consumer (default) or the organisation (invoices).
    owner: str = "consumer"
    #: With a link token in the URL: a tampered one gives 404 to everybody.
    tampered: dict[str, int | str] = field(default_factory=lambda: who(404))


ROUTES: dict[str, Row] = {
    # Storefront
    "storefront.catalogue": Row("/katalog/{category}", PUBLIC),
    "storefront.product": Row("/produkt/{product}", PUBLIC),
    "storefront.product_image": Row("/produkt/{product}/bild.svg", PUBLIC),
    "static": Row("/static/css/shop.css", PUBLIC),
    # Account links
    "account.reset_password": Row("/konto/aterstall/{reset_token}", LINK),
    "account.confirm_registration": Row("/konto/aktivera/{activation_token}", LINK),
    # The customer's orders
    "orders.detail": Row("/konto/ordrar/{order}", OWNER),
    "orders.guest_detail": Row("/order/{guest_token}", LINK),
    "checkout.thanks": Row("/kassa/tack/{order}", OWNER_NO_LOGIN),
    "documents.receipt": Row("/kvitto/{order}", RECEIPT),
    "documents.receipt_pdf": Row("/kvitto/{order}/pdf", RECEIPT),
    "documents.invoice_pdf": Row("/faktura/{invoice_order}/pdf", RECEIPT, owner="organisation"),
    "documents.reveal_code": Row("/kod/{code_line}/visa", OWNER_NO_LOGIN, method="POST"),
    "downloads.download": Row("/nedladdning/{download_token}", LINK),
    "downloads.download_line": Row("/nedladdning/rad/{download_line}", OWNER_NO_LOGIN),
    # Payments
    "payments.return_page": Row("/betalning/{order}/retur", OWNER_NO_LOGIN),
    "payments.go": Row("/betalning/{order}/starta", OWNER_NO_LOGIN, method="POST"),
    "payments.klarna": Row("/betalning/klarna/{order}", OWNER_NO_LOGIN),
    "payments.klarna_authorised": Row(
        "/betalning/klarna/{order}/godkand", OWNER_NO_LOGIN, method="POST"
    ),
    "payments.sandbox": Row("/betalning/sandbox/{sandbox_reference}", LINK),
    # The withdrawal function (T5.9)
    "withdrawal.start": Row("/konto/ordrar/{order}/angra", OWNER),
    "withdrawal.confirm": Row("/konto/ordrar/{order}/angra/bekrafta", OWNER),
    "withdrawal.done": Row("/konto/ordrar/{order}/angra/{withdrawal}", OWNER),
    "withdrawal.guest_start": Row("/order/{guest_token}/angra", LINK),
    "withdrawal.guest_confirm": Row("/order/{guest_token}/angra/bekrafta", LINK),
    "withdrawal.guest_done": Row("/order/{guest_token}/angra/{guest_withdrawal}", LINK),
    # Back office
    "staff.order_page": Row("/staff/ordrar/{order}", STAFF),
    "staff.packing_slip": Row("/staff/ordrar/{order}/foljesedel", STAFF),
    "staff.new_shipment": Row("/staff/ordrar/{order}/forsandelse", STAFF),
    "staff.withdrawal_entry": Row("/staff/angra/{order}", STAFF),
    "staff.dispatch_shipment": Row("/staff/forsandelser/{shipment}/skicka", STAFF, "POST"),
    "staff.record_delivery": Row("/staff/forsandelser/{shipment}/leverans", STAFF, "POST"),
    "staff.retry_capture": Row("/staff/forsandelser/{shipment}/dragning", STAFF, "POST"),
    "staff.returned_parcel": Row("/staff/forsandelser/{shipment}/retur/outlost", STAFF),
    "staff.return_desk": Row("/staff/returer/{withdrawal}", STAFF),
    "staff.return_receive": Row("/staff/returer/{withdrawal}/mottag", STAFF, "POST"),
    "staff.return_inspect": Row("/staff/returer/{withdrawal}/inspektera", STAFF, "POST"),
    "staff.return_approve": Row("/staff/returer/{withdrawal}/godkann", STAFF, "POST"),
    # Only a refund that failed can be retried: for this return staff get 404.
    "staff.return_retry": Row(
        "/staff/returer/{withdrawal}/forsok-igen",
        who(403, anonymous=LOGIN, staff=404, finance=404, admin=404),
        "POST",
    ),
    "staff.invoice_reminder_pdf": Row("/staff/fakturor/{invoice}/paminnelse.pdf", FINANCE),
    "staff.invoice_send_reminder": Row("/staff/fakturor/{invoice}/paminnelse", FINANCE, "POST"),
    "staff.invoice_mark_collection": Row("/staff/fakturor/{invoice}/inkasso", FINANCE, "POST"),
    "staff.invoice_mark_paid": Row("/staff/fakturor/{invoice}/betald", FINANCE, "POST"),
    "staff.staff_edit": Row("/staff/personal/{person}", ADMIN),
    "staff.staff_enable": Row("/staff/personal/{person}/oppna", ADMIN, "POST"),
    "staff.staff_disable": Row("/staff/personal/{person}/sparra", ADMIN, "POST"),
    # Complaints (T6): the order's owner, the guest link's holder and staff
    "complaints.report": Row("/konto/ordrar/{order}/reklamera/{line}", OWNER),
    "complaints.guest_report": Row("/order/{guest_token}/reklamera/{guest_line}", LINK),
    "complaints.photo": Row(
        "/konto/ordrar/{order}/reklamationer/{complaint}/bilder/{photo}", OWNER
    ),
    "complaints.guest_photo": Row(
        "/order/{guest_token}/reklamationer/{guest_complaint}/bilder/{guest_photo}", LINK
    ),
    "staff.complaint_page": Row("/staff/reklamationer/{complaint}", STAFF),
    "staff.complaint_decide": Row("/staff/reklamationer/{complaint}/beslut", STAFF, "POST"),
    "staff.complaint_label": Row("/staff/reklamationer/{complaint}/returfraktsedel", STAFF, "POST"),
    "staff.complaint_photo": Row("/staff/reklamationer/{complaint}/bilder/{photo}", STAFF),
    # Only a complaint refund that failed can be retried: for this complaint staff get 404.
    "staff.complaint_refund_retry": Row(
        "/staff/reklamationer/{complaint}/forsok-igen",
        who(403, anonymous=LOGIN, staff=404, finance=404, admin=404),
        "POST",
    ),
    # Courses (T9): pages are public, booking needs a login, a booking is its booker's
    "courses.detail": Row("/kurser/{course_slug}", PUBLIC),
    "courses.book": Row("/kurser/{course_slug}/boka", LOGGED_IN),
    "courses.join_waiting_list": Row("/kurser/{course_slug}/vantelista", LOGGED_IN, "POST"),
    "courses.booking_page": Row("/kurser/bokning/{booking}", OWNER),
    "courses.transfer": Row("/kurser/bokning/{booking}/overlat", OWNER),
    "courses.cancel": Row("/kurser/bokning/{booking}/avboka", OWNER, "POST"),
    "courses.document_pdf": Row("/kurser/bokning/{booking}/dokument/{course_invoice}.pdf", OWNER),
    "courses.rename": Row("/kurser/bokning/{booking}/deltagare/{participant}", OWNER, "POST"),
    "courses.attendance": Row("/kurser/larare/{course}", TEACHER),
    "staff.course_page": Row("/staff/kurser/{course}", STAFF),
    "staff.course_cancel": Row("/staff/kurser/{course}/stall-in", STAFF, "POST"),
    "staff.course_edit": Row("/staff/kurser/{course}/andra", STAFF),
    "staff.course_booking": Row("/staff/kurser/bokning/{booking}", STAFF),
    "staff.course_booking_accept": Row("/staff/kurser/bokning/{booking}/godkann", STAFF, "POST"),
    "staff.course_booking_decline": Row("/staff/kurser/bokning/{booking}/avboj", STAFF, "POST"),
    "staff.course_transfer_decide": Row(
        "/staff/kurser/overlatelse/{seat_transfer}/neka", STAFF, "POST"
    ),
    "staff.course_refund_paid": Row(
        "/staff/kurser/aterbetalning/{course_refund}/utbetald", FINANCE, "POST"
    ),
    # Bookkeeping records (R2.3: the finance role; a credit note also for its buyer)
    "documents.credit_note_pdf": Row("/kreditfaktura/{credit_order}/{credit_number}/pdf", RECEIPT),
    "staff.finance_record": Row("/staff/ekonomi/bokforing/{record}", FINANCE),
    "staff.finance_record_pdf": Row("/staff/ekonomi/bokforing/{record}/pdf", FINANCE),
    # Privacy: holds (R3.5), access requests by mail (R4.1), the unsubscribe link (R2.6)
    "staff.retention_release": Row("/staff/gallring/sparr/{hold}/hav", STAFF, "POST"),
    "staff.data_request_extract": Row(
        "/staff/dataforfragningar/{data_request}/registerutdrag.json", STAFF
    ),
    "staff.data_request_answered": Row(
        "/staff/dataforfragningar/{data_request}/besvarad", STAFF, "POST"
    ),
    "newsletter.unsubscribe_page": Row("/nyhetsbrev/avsluta/{newsletter_token}", LINK),
    "newsletter.unsubscribe": Row("/nyhetsbrev/avsluta/{newsletter_token}", LINK, "POST"),
}

#: Placeholders that are link tokens: the row is also tried with a tampered token.
TOKENS = (
    "reset_token",
    "activation_token",
    "guest_token",
    "download_token",
    "sandbox_reference",
    "newsletter_token",
)


@dataclass
class World:
    """Real objects for the placeholders, and one logged-in client per visitor kind."""

    values: dict[str, str]
    clients: dict[str, FlaskClient]
    owners: dict[str, FlaskClient]


def _client(app: Flask, email: str | None) -> FlaskClient:
    client = new_client(app)
    if email is not None:
        page = client.get("/konto/logga-in").get_data(as_text=True)
        response = client.post(
            "/konto/logga-in",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_token_from(page)},
        )
        assert response.status_code == 302, f"{email} could not log in"
    return client


def _mailed_path(template: str, pattern: str) -> str:
    bodies = [m.body_text for m in db.session.query(OutboxMessage).filter_by(template=template)]
    for body in bodies:
        match = re.search(pattern, body)
        if match:
            return match.group(1)
    raise AssertionError(f"no {template} mail with {pattern}")


def build_world(app: Flask) -> World:
    consumer = make_customer(email="agare@example.se", name="Ägare Kund")
    organisation = make_customer(email="org@example.se", kind="organisation")
    make_customer(email="annan@example.se", name="Annan Kund")
    logins = {
        role: create_staff_member(
            email=f"{role.value}@example.se",
            name=role.value,
            password=PASSWORD,
            roles=[role],
            now=NOW,
        )
        for role in (Role.STAFF, Role.FINANCE, Role.ADMIN, Role.TEACHER)
    }
    person = create_staff_member(
        email="personal@example.se",
        name="Per Sonal",
        password=PASSWORD,
        roles=[Role.STAFF],
        now=NOW,
    )

    book = make_product(title="Notställ", price_ore=30000, vat_rate_bp=2500)
    order = paid_order(lines=[(book, 1)], customer=consumer)
    withdrawal = withdraw(order)
    guest_order = paid_order(lines=[(make_product(title="Stämapparat"), 1)], customer=None)
    guest_withdrawal = withdraw(guest_order)

    digital = confirmed_order(
        customer=consumer,
        lines=[(code_product("KOD-1"), 1), (download_product(), 1)],
        now=LATER,
    )
    code_line, download_line = (
        next(line for line in digital.lines if line.kind == kind)
        for kind in ("software_code", "download")
    )
    download_token = _mailed_path("order_confirmation", r"/nedladdning/([A-Za-z0-9_-]+)")

    invoice_order = confirmed_order(
        customer=organisation, payment_method="invoice", now=LATER - timedelta(days=60)
    )
    invoice = db.session.query(Invoice).filter_by(order_id=invoice_order.id).one()
    invoicing.send_reminder(invoice, sent_by="test", now=LATER)

    shipped = make_order(
        lines=[(make_product(title="Gitarrsträngar"), 1)], status=OrderStatus.CONFIRMED
    )
    shipment = shipping.create_shipment(
        shipped,
        {shipped.lines[0].id: 1},
        carrier="postnord",
        tracking_number="PN1SE",
        staff_id=person.id,
        now=NOW,
    )

    unpaid = make_order(lines=[(make_product(title="Capo"), 1)], customer=consumer)
    start = payments.start_payment(unpaid, now=NOW, return_url=URL, cancel_url=URL)

    with app.test_request_context():
        accounts.request_password_reset(
            "agare@example.se",
            now=LATER,
            max_age_seconds=3600,
            link_for=lambda token: f"http://localhost/konto/aterstall/{token}",
        )
        accounts.request_registration(
            accounts.Registration(
                kind=accounts.BuyerKind.CONSUMER,
                email="ny@example.se",
                password=PASSWORD,
                name="Ny Kund",
                birth_date=NOW.date().replace(year=1990),
            ),
            now=LATER,
            today=LATER.date(),
            max_age_seconds=3600,
            link_for=lambda token: f"http://localhost/konto/aktivera/{token}",
            login_url="http://localhost/konto/logga-in",
            reset_url="http://localhost/konto/glomt-losenord",
        )
    values = {
        "category": book.category.slug if book.category else "noter",
        "product": book.slug,
        "order": order.number,
        "invoice_order": invoice_order.number,
        "withdrawal": str(withdrawal.id),
        "guest_token": orders.guest_order_token(guest_order),
        "guest_withdrawal": str(guest_withdrawal.id),
        "code_line": str(code_line.id),
        "download_line": str(download_line.id),
        "download_token": download_token,
        "invoice": str(invoice.id),
        "shipment": str(shipment.id),
        "person": str(person.id),
        "sandbox_reference": str(start.provider_reference),
        "reset_token": _mailed_path("password_reset", r"/konto/aterstall/([A-Za-z0-9_-]+)"),
        "activation_token": _mailed_path(
            "registration_confirm", r"/konto/aktivera/([A-Za-z0-9_-]+)"
        ),
        **_complaints(order, guest_order),
        **_courses(consumer, organisation, teacher=logins[Role.TEACHER]),
        **_credit_note(consumer),
        **_privacy(consumer),
    }
    clients = {
        "anonymous": _client(app, None),
        "other": _client(app, "annan@example.se"),
        **{role: _client(app, f"{role}@example.se") for role in ("staff", "finance", "admin")},
        "teacher": _client(app, "teacher@example.se"),
    }
    owners = {
        "consumer": _client(app, "agare@example.se"),
        "organisation": _client(app, "org@example.se"),
    }
    return World(values, clients, owners)


def _complaints(order: Order, guest_order: Order) -> dict[str, str]:
    """A complaint with a photo on the consumer's order and on the guest's (T6)."""
    values = {"line": str(order.lines[0].id), "guest_line": str(guest_order.lines[0].id)}
    for prefix, target in (("", order), ("guest_", guest_order)):
        complaint = complaints.report(
            target.lines[0],
            description="Benet har spruckit.",
            discovered_on=None,
            photos=[Upload("bild.jpg", JPEG)],
            actor="customer:test",
            now=LATER,
        )
        values[f"{prefix}complaint"] = str(complaint.id)
        values[f"{prefix}photo"] = str(complaint.photos[0].id)
    return values


def _courses(consumer: Customer, organisation: Customer, *, teacher: Customer) -> dict[str, str]:
    """The teacher's course with the consumer's invoiced booking and the organisation's seat
    transfer (T9.2, T9.4); another course cancelled with a refund to pay out (T9.5)."""
    start = COURSE_INVOICED + timedelta(days=14)
    course = make_course(start=start, teacher=teacher)
    booking = course_book(course, consumer, "Alva", accept=True)
    school = course_book(
        course, organisation, "Elev Ett", "Elev Två", kind=BuyerKind.ORGANISATION, accept=True
    )
    transfer = courses.request_transfer(
        school,
        school.participants[0].id,
        name="Elev Tre",
        birth_date=date(2015, 6, 1),
        same_organisation=True,
        now=NOW,
    )
    cancelled = make_course(title="Gitarrkurs", start=start)
    paid = course_book(cancelled, consumer, "Ture", accept=True)
    day = datetime.combine(COURSE_INVOICED, time(9), tzinfo=UTC)
    course_invoicing.run_invoicing(COURSE_INVOICED, now=day)
    assert paid.invoice is not None
    invoicing.register_payment(
        paid.invoice,
        amount_ore=paid.invoice.total_ore,
        paid_on=COURSE_INVOICED,
        reference="bg",
        registered_by="test",
        now=day,
    )
    courses.cancel_course(
        cancelled, reason="Sjuk lärare", override_reason=None, staff_id=1, now=day
    )
    (refund,) = course_invoicing.refunds_of(paid)
    (document,) = course_invoicing.documents_of(booking)
    return {
        "course": str(course.id),
        "course_slug": course.slug,
        "booking": str(booking.id),
        "participant": str(booking.participants[0].id),
        "course_invoice": str(document.id),
        "seat_transfer": str(transfer.id),
        "course_refund": str(refund.id),
    }


def _credit_note(consumer: Customer) -> dict[str, str]:
    """The credit note of the consumer's approved return (T5.8)."""
    order = paid_order(lines=[(make_product(title="Metronom"), 1)], customer=consumer)
    refund, _ = returns.approve(inspected(order), staff_id=1, now=LATER)
    assert refund is not None
    note = db.session.get(BookkeepingRecord, refund.credit_note_id)
    assert note is not None
    return {
        "credit_order": str(order.number),
        "credit_number": str(note.number),
        "record": str(note.id),
    }


def _privacy(consumer: Customer) -> dict[str, str]:
    """A hold (R3.5), an access request by mail (R4.1) and a newsletter link (R2.6)."""
    hold = data_requests.place_hold(consumer, "Tvist om leverans", actor="staff:1", now=LATER)
    request = data_requests.record_access_request(
        consumer, verified_by="staff:1", received_on=LATER.date(), now=LATER
    )
    return {
        "hold": str(hold.id),
        "data_request": str(request.id),
        "newsletter_token": newsletter.unsubscribe_token(consumer.email),
    }


def answer(response: Any, method: str) -> int | str:
    """The response in the table's words."""
    status = int(response.status_code)
    location = response.headers.get("Location", "")
    if status in (301, 302, 303) and "/konto/logga-in" in location:
        return LOGIN
    if 200 <= status < 400 or (method == "POST" and status == 400):
        return OK
    return status


def matches(expected: int | str, got: int | str, status: int) -> bool:
    if expected == OK:
        return got == OK
    if expected == LOGIN:
        return got == LOGIN
    return status == expected


def _request(client: FlaskClient, row: Row, url: str) -> Any:
    if row.method == "GET":
        response = client.get(url)
    else:
        token = csrf_token_from(client.get("/kopvillkor").get_data(as_text=True))
        response = client.post(url, data={"csrf_token": token})
    response.close()  # file responses (static, downloads) hold their file open
    return response


def _tampered(url: str, value: str) -> str:
    return url.replace(value, value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))


@pytest.fixture
def frozen() -> Iterator[object]:
    with time_machine.travel(LATER, tick=False) as traveller:
        yield traveller


def test_every_route_with_a_variable_has_a_row(app: Flask) -> None:
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.arguments and rule.endpoint not in ROUTES:
            methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
            method = ', method="POST"' if methods == ["POST"] else ""
            missing.append(
                f"{rule.rule} ({rule.endpoint}) names an object but has no row: add to ROUTES in "
                f'{__name__}\n    "{rule.endpoint}": Row("{rule.rule}", OWNER{method}),\n'
                "  with the real placeholders and who may reach it (OWNER, RECEIPT, LINK, "
                "PUBLIC, staff(...), or who(...))."
            )
    assert not missing, "\n".join(missing)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    stale = sorted(set(ROUTES) - endpoints)
    assert not stale, f"rows for endpoints that no longer exist: {stale}"


@pytest.fixture
def uploads(app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Complaint photos in the test's tmp directory."""
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))


@pytest.mark.usefixtures("tmp_downloads", "uploads", "frozen")
def test_every_object_url_answers_each_kind_of_visitor_as_the_table_says(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "DOWNLOAD_LIMIT", 100)  # every visitor may try the link
    world = build_world(app)
    wrong = []
    # Actions change state: everyone who must be refused goes first.
    order_of_kinds = ["anonymous", "other", "teacher", "owner", "staff", "finance", "admin"]
    for endpoint, row in ROUTES.items():
        url = row.url.format(**world.values)
        kinds = sorted(order_of_kinds, key=lambda k: (row.expected[k] in (OK, 200), k))
        for kind in kinds:
            client = world.owners[row.owner] if kind == "owner" else world.clients[kind]
            response = _request(client, row, url)
            got = answer(response, row.method)
            if not matches(row.expected[kind], got, response.status_code):
                wrong.append(
                    f"{endpoint} {row.method} {url} as {kind}: expected "
                    f"{row.expected[kind]}, got {response.status_code} ({got})"
                )
        for name in TOKENS:
            if "{" + name + "}" in row.url:
                bad = _tampered(url, world.values[name])
                for kind in order_of_kinds:
                    client = world.owners[row.owner] if kind == "owner" else world.clients[kind]
                    response = _request(client, row, bad)
                    if not matches(
                        row.tampered[kind], answer(response, row.method), response.status_code
                    ):
                        wrong.append(
                            f"{endpoint} {row.method} with a tampered {name} as {kind}: "
                            f"expected {row.tampered[kind]}, got {response.status_code}"
                        )
    assert not wrong, "\n".join(wrong)


def test_unknown_objects_are_404_for_their_owner_and_for_staff(app: Flask) -> None:
    """A number or id that names nothing is 404 (never a 500) for the people who may look."""
    make_customer(email="agare@example.se")
    create_staff_member(
        email="admin@example.se", name="A", password=PASSWORD, roles=[Role.ADMIN], now=NOW
    )
    owner = _client(app, "agare@example.se")
    admin = _client(app, "admin@example.se")
    for url in [
        "/konto/ordrar/999999",
        "/kvitto/999999",
        "/konto/ordrar/999999/angra",
        "/kreditfaktura/999999/1/pdf",
        "/kurser/bokning/999999",
    ]:
        assert owner.get(url).status_code == 404, url
    for url in [
        "/staff/ordrar/999999",
        "/staff/returer/999999",
        "/staff/personal/999999",
        "/staff/fakturor/999999/paminnelse.pdf",
        "/staff/reklamationer/999999",
        "/staff/kurser/999999",
        "/staff/ekonomi/bokforing/999999",
        "/kurser/larare/999999",
    ]:
        assert admin.get(url).status_code == 404, url
