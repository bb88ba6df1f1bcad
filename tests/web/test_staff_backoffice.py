"""The back office pages: dashboard, orders, shipping (T4.2), staff accounts; roles and CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import AuditEntry, Customer, Order, Shipment, Withdrawal
from shop.models.customer import Role
from shop.services.customers import create_staff_member
from tests.conftest import new_client, post_form
from tests.factories import NOW, PASSWORD, make_customer, make_order, make_product
from tests.web.test_documents import log_in, staff_client

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def frozen() -> object:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def confirmed_order() -> Order:
    book = make_product(title="Notställ", price_ore=30000, vat_rate_bp=2500)
    return make_order(lines=[(book, 2)], status=OrderStatus.CONFIRMED)


def staff_pages(order: Order) -> list[str]:
    return [
        "/staff/",
        "/staff/ordrar",
        f"/staff/ordrar/{order.number}",
        f"/staff/ordrar/{order.number}/foljesedel",
        f"/staff/ordrar/{order.number}/forsandelse",
        "/staff/plock",
    ]


def admin_pages(person: Customer) -> list[str]:
    return ["/staff/personal", "/staff/personal/ny", f"/staff/personal/{person.id}"]


def customer_client(app: Flask) -> FlaskClient:
    make_customer(email="kund@example.se")
    client = new_client(app)
    log_in(client, "kund@example.se")
    return client


@pytest.mark.parametrize("role", [Role.STAFF, Role.FINANCE, Role.ADMIN])
def test_staff_pages_answer_every_staff_role(app: Flask, role: Role) -> None:
    order = confirmed_order()
    client = staff_client(app, "personal@example.se", role)
    for url in staff_pages(order):
        assert client.get(url).status_code == 200, url


def test_staff_pages_refuse_customers_and_teachers(app: Flask) -> None:
    order = confirmed_order()
    teacher = staff_client(app, "larare@example.se", Role.TEACHER)
    customer = customer_client(app)
    for url in staff_pages(order):
        assert teacher.get(url).status_code == 403, url
        assert customer.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_login(app: Flask, client: FlaskClient) -> None:
    order = confirmed_order()
    person = create_staff_member(
        email="p@example.se", name="P", password=PASSWORD, roles=[Role.STAFF], now=NOW
    )
    for url in staff_pages(order) + admin_pages(person):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/konto/logga-in?next="), url


def test_admin_pages_are_for_admins_only(app: Flask) -> None:
    admin = staff_client(app, "chef@example.se", Role.ADMIN)
    person = db.session.query(Customer).filter_by(email="chef@example.se").one()
    for url in admin_pages(person):
        assert admin.get(url).status_code == 200, url
    others = [
        staff_client(app, "personal@example.se", Role.STAFF),
        staff_client(app, "ekonomi@example.se", Role.FINANCE),
        staff_client(app, "larare@example.se", Role.TEACHER),
        customer_client(app),
    ]
    for other in others:
        for url in admin_pages(person):
            assert other.get(url).status_code == 403, url


def test_posts_without_a_csrf_token_are_refused(app: Flask) -> None:
    order = confirmed_order()
    client = staff_client(app, "chef@example.se", Role.ADMIN)
    line = order.lines[0]
    response = client.post(
        f"/staff/ordrar/{order.number}/forsandelse",
        data={f"qty_{line.id}": "1", "carrier": "postnord", "tracking_number": "X"},
    )
    assert response.status_code in (200, 400)
    assert db.session.query(Shipment).count() == 0
    shipment = Shipment(order_id=order.id, carrier="dhl", tracking_number="1", created_at=NOW)
    shipment.created_by = "1"
    db.session.add(shipment)
    db.session.commit()
    assert client.post(f"/staff/forsandelser/{shipment.id}/skicka").status_code == 400
    assert client.post(f"/staff/forsandelser/{shipment.id}/leverans").status_code == 400
    assert client.post(f"/staff/forsandelser/{shipment.id}/dragning").status_code == 400
    assert client.post("/staff/personal/ny", data={"email": "x@example.se"}).status_code in (
        200,
        400,
    )
    assert db.session.query(Customer).count() == 1
    assert db.session.get(Shipment, shipment.id).dispatched_on is None  # type: ignore[union-attr]


def test_dashboard_shows_todays_work_and_near_deadlines_in_red_t5_8(app: Flask) -> None:
    order = confirmed_order()
    db.session.add(
        Withdrawal(
            order_id=order.id,
            received_at=NOW,
            channel="function",
            name="Kim",
            email="kim@example.se",
            refund_due_on=NOW.date() + timedelta(days=2),
            submission_key="k",
            created_at=NOW,
        )
    )
    db.session.commit()
    client = staff_client(app, "personal@example.se", Role.STAFF)
    page = client.get("/staff/").get_data(as_text=True)
    assert 'id="orders-to-ship">1<' in page
    assert 'id="parcels-on-the-way">0<' in page
    assert 'id="refunds-due">1<' in page
    assert 'class="deadline-near"' in page
    assert f"/staff/ordrar/{order.number}" in page


def test_order_list_searches_and_filters(app: Flask) -> None:
    book = make_product()
    anna = make_order(lines=[(book, 1)], email="anna@example.se", status=OrderStatus.CONFIRMED)
    bo = make_order(lines=[(book, 1)], email="bo@example.se")
    client = staff_client(app, "personal@example.se", Role.STAFF)
    page = client.get("/staff/ordrar?q=anna").get_data(as_text=True)
    assert str(anna.number) in page
    assert str(bo.number) not in page
    page = client.get("/staff/ordrar?status=pending_payment").get_data(as_text=True)
    assert str(bo.number) in page
    assert str(anna.number) not in page
    page = client.get("/staff/ordrar?betalsatt=invoice").get_data(as_text=True)
    assert "Inga ordrar att visa." in page
    page = client.get("/staff/ordrar?fran=inte-ett-datum").get_data(as_text=True)
    assert str(anna.number) in page  # a bad date is ignored, not an error page


def test_packing_slip_has_seller_address_lines_and_withdrawal_note_t5_2(app: Flask) -> None:
    order = confirmed_order()
    client = staff_client(app, "personal@example.se", Role.STAFF)
    page = client.get(f"/staff/ordrar/{order.number}/foljesedel").get_data(as_text=True)
    assert app.config["SELLER"]["name"] in page
    assert str(order.number) in page
    assert "Storgatan 1" in page
    assert "Notställ" in page
    assert "Ångerrätt: 14 dagar från mottagandet" in page
    assert "300,00" not in page  # no prices on a packing slip


def test_shipping_flow_with_form_errors_t4_2(app: Flask) -> None:
    order = confirmed_order()
    line = order.lines[0]
    client = staff_client(app, "personal@example.se", Role.STAFF)
    url = f"/staff/ordrar/{order.number}/forsandelse"

    response = post_form(client, url, {f"qty_{line.id}": "5", "carrier": "", "tracking_number": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ange ett antal från 0 till 2." in page
    assert "Välj fraktbolag." in page
    assert "Ange kollinumret." in page

    response = post_form(
        client, url, {f"qty_{line.id}": "0", "carrier": "dhl", "tracking_number": "JD1"}
    )
    page = response.get_data(as_text=True)
    assert "Välj minst en vara att skicka." in page
    assert 'value="JD1"' in page  # the input is kept

    response = post_form(
        client, url, {f"qty_{line.id}": "2", "carrier": "postnord", "tracking_number": "PN1"}
    )
    assert response.status_code == 302
    shipment = db.session.query(Shipment).one()
    order_url = f"/staff/ordrar/{order.number}"
    page = client.get(order_url).get_data(as_text=True)
    assert "Markera som skickad" in page

    response = post_form(
        client, f"/staff/forsandelser/{shipment.id}/skicka", {}, form_url=order_url
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "shipped"  # type: ignore[union-attr]

    delivery = f"/staff/forsandelser/{shipment.id}/leverans"
    field = f"s{shipment.id}-delivered_on"
    tomorrow = (NOW.date() + timedelta(days=1)).isoformat()
    response = post_form(client, delivery, {field: tomorrow}, form_url=order_url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Leveransdatumet kan inte ligga i framtiden." in page
    assert f'value="{tomorrow}"' in page
    response = post_form(client, delivery, {field: "2026-11-22"}, form_url=order_url)
    assert "Leveransdatumet kan inte vara före avsändningsdagen" in response.get_data(as_text=True)
    response = post_form(client, delivery, {field: ""}, form_url=order_url)
    assert "Ange leveransdatum" in response.get_data(as_text=True)

    response = post_form(client, delivery, {field: NOW.date().isoformat()}, form_url=order_url)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "delivered"  # type: ignore[union-attr]

    page = client.get(order_url).get_data(as_text=True)
    assert "Historik" in page
    assert "Sam Personal" in page  # who
    assert "shipment.dispatched" in page
    assert "delivered" in page
    statuses = db.session.query(AuditEntry).filter_by(action="order.status").count()
    assert page.count("order.status") == statuses


def test_admin_creates_staff_with_swedish_errors_changes_roles_and_disables(app: Flask) -> None:
    client = staff_client(app, "chef@example.se", Role.ADMIN)
    response = post_form(
        client,
        "/staff/personal/ny",
        {"email": "ny@example.se", "name": "Ny Personal", "password": "kort"},
    )
    page = response.get_data(as_text=True)
    assert "Lösenordet måste ha minst 10 tecken." in page
    assert "Välj minst en roll." in page
    assert 'value="ny@example.se"' in page
    response = post_form(
        client,
        "/staff/personal/ny",
        {
            "email": "ny@example.se",
            "name": "Ny Personal",
            "password": "tio-tecken!",
            "roles": ["staff"],
        },
    )
    assert response.status_code == 302
    person = db.session.query(Customer).filter_by(email="ny@example.se").one()
    assert "Ny Personal" in client.get("/staff/personal").get_data(as_text=True)

    edit = f"/staff/personal/{person.id}"
    response = post_form(client, edit, {"roles": ["staff", "finance"]})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, person.id).roles == {Role.STAFF, Role.FINANCE}  # type: ignore[union-attr]
    response = post_form(client, edit, {})
    assert "Välj minst en roll." in response.get_data(as_text=True)

    response = post_form(client, f"{edit}/sparra", {}, form_url=edit)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, person.id).login_disabled  # type: ignore[union-attr]
    actions = [
        entry.action
        for entry in db.session.query(AuditEntry).filter_by(subject_type="customer")
        if entry.actor.startswith("staff:")
    ]
    assert actions == ["staff.created", "staff.roles", "staff.login_disabled"]
    page = client.get(edit).get_data(as_text=True)
    assert "staff.roles" in page
    other = new_client(app)
    response = post_form(
        other, "/konto/logga-in", {"email": "ny@example.se", "password": "tio-tecken!"}
    )
    assert other.get("/staff/").status_code == 302
    assert response.status_code in (200, 302)


def test_dashboard_and_pick_list_use_a_fixed_number_of_queries(app: Flask) -> None:
    from tests.web.test_query_counts import counting_queries

    client = staff_client(app, "personal@example.se", Role.STAFF)

    def queries(url: str) -> int:
        with counting_queries() as seen:
            assert client.get(url).status_code == 200
        return len(seen)

    confirmed_order()
    few = (queries("/staff/"), queries("/staff/plock"))
    for _ in range(4):
        confirmed_order()
    assert (queries("/staff/"), queries("/staff/plock")) == few
