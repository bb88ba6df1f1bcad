"""Staff pages for parcels that come back (T7.1, T7.2): form, errors, access, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from shop.domain.lifecycle import OrderStatus
from shop.domain.money import format_sek
from shop.extensions import db
from shop.models import Order, OrderFee, OutboxMessage, Shipment
from shop.models.customer import Role
from shop.services import shipping
from shop.services.customers import create_staff_member
from tests.conftest import new_client, post_form
from tests.factories import NOW, PASSWORD, make_customer, make_order, make_product
from tests.web.test_documents import log_in, staff_client

pytestmark = pytest.mark.usefixtures("frozen")

TODAY = NOW.date()
DISPATCHED = TODAY - timedelta(days=4)


@pytest.fixture
def frozen() -> object:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def dispatched_shipment() -> tuple[Order, Shipment]:
    person = create_staff_member(
        email="lager@example.se", name="Lars Lager", password=PASSWORD, roles=[Role.STAFF], now=NOW
    )
    product = make_product(title="Notställ", price_ore=30000, vat_rate_bp=2500)
    order = make_order(lines=[(product, 1)], status=OrderStatus.CONFIRMED)
    shipment = shipping.create_shipment(
        order,
        {order.lines[0].id: 1},
        carrier="postnord",
        tracking_number="PN1SE",
        staff_id=person.id,
        now=NOW,
    )
    shipping.mark_dispatched(shipment, staff_id=person.id, today=DISPATCHED, now=NOW)
    return order, shipment


def urls(shipment: Shipment) -> dict[str, str]:
    base = f"/staff/forsandelser/{shipment.id}/retur"
    return {"unclaimed": f"{base}/outlost", "undeliverable": f"{base}/felaktig-adress"}


def fees(order: Order) -> list[tuple[str, int]]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(OrderFee)
        .where(OrderFee.order_id == order.id, OrderFee.kind != "delivery")
        .order_by(OrderFee.id)
    )
    return [(fee.kind, fee.amount_ore) for fee in rows]


def test_staff_mark_an_unclaimed_parcel_from_the_order_page_t7_1(app: Flask) -> None:
    order, shipment = dispatched_shipment()
    client = staff_client(app, "personal@example.se", Role.STAFF)
    order_url = f"/staff/ordrar/{order.number}"
    page = client.get(order_url).get_data(as_text=True)
    url = urls(shipment)["unclaimed"]
    assert url in page
    assert urls(shipment)["undeliverable"] in page
    assert "Outlöst paket" in page
    assert "Kunde inte levereras" in page

    form = client.get(url)
    assert form.status_code == 200
    text = form.get_data(as_text=True)
    assert "Faktisk frakt till kunden (kr)" in text
    assert "Faktisk returfrakt (kr)" in text
    assert f'value="{TODAY.isoformat()}"' in text  # today by default

    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    data = {"returned_on": tomorrow, "freight": "120,50", "return_freight": "79"}
    response = post_form(client, url, data)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Returdatumet kan inte ligga i framtiden." in text
    assert 'value="120,50"' in text  # the input is kept
    assert fees(order) == []

    data = {"returned_on": TODAY.isoformat(), "freight": "tolv", "return_freight": ""}
    text = post_form(client, url, data).get_data(as_text=True)
    assert "Ange fraktkostnaden i kronor, till exempel 79,00." in text
    assert "Ange returfrakten i kronor, till exempel 79,00." in text

    data = {"returned_on": "", "freight": "1", "return_freight": "1"}
    text = post_form(client, url, data).get_data(as_text=True)
    assert "Ange dagen paketet kom tillbaka" in text

    paid = sum(fee.amount_ore for fee in order.fees if fee.kind == "delivery")
    outbound = paid + 1001
    data = {
        "returned_on": DISPATCHED.isoformat(),
        "freight": f"{outbound // 100},{outbound % 100:02d}",
        "return_freight": "79,01 kr",
    }
    response = post_form(client, url, data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(order_url)
    assert fees(order) == [("unclaimed", 1001), ("unclaimed", 7901), ("unclaimed", 5000)]
    page = client.get(order_url).get_data(as_text=True)
    assert f"Debiterat: {format_sek(1001 + 7901 + 5000)}" in page
    assert "Returnerad till oss" in page
    assert "Administrativ avgift (outlöst paket)" in page
    assert "shipment.returned" in page  # in the history
    assert urls(shipment)["unclaimed"] not in page  # no more actions for this parcel

    again = post_form(client, url, data, form_url=order_url)
    assert again.status_code == 302
    assert "redan markerad som tillbakakommen" in client.get(order_url).get_data(as_text=True)
    assert len(fees(order)) == 3
    assert db.session.query(OutboxMessage).filter_by(template="returned_parcel").count() == 1


def test_staff_mark_an_undeliverable_parcel_t7_2(app: Flask) -> None:
    order, shipment = dispatched_shipment()
    client = staff_client(app, "personal@example.se", Role.STAFF)
    url = urls(shipment)["undeliverable"]
    text = client.get(url).get_data(as_text=True)
    assert "Faktisk frakt (kr)" in text
    assert "Faktisk returfrakt" not in text
    response = post_form(client, url, {"returned_on": TODAY.isoformat(), "freight": "89,51"})
    assert response.status_code == 302
    assert fees(order) == [("undeliverable", 8951)]
    assert db.session.get(Shipment, shipment.id).returned_kind == "undeliverable"  # type: ignore[union-attr]


def test_a_delivered_parcel_is_refused_in_swedish_t7(app: Flask) -> None:
    order, shipment = dispatched_shipment()
    shipping.record_delivery(shipment, TODAY, staff_id=1, today=TODAY, now=NOW)
    client = staff_client(app, "personal@example.se", Role.STAFF)
    url = urls(shipment)["unclaimed"]
    message = "Försändelsen är redan levererad och kan inte markeras som tillbakakommen."
    assert message in client.get(url).get_data(as_text=True)
    data = {"returned_on": TODAY.isoformat(), "freight": "50", "return_freight": "50"}
    response = post_form(client, url, data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert fees(order) == []
    page = client.get(f"/staff/ordrar/{order.number}").get_data(as_text=True)
    assert url not in page


def test_only_staff_reach_the_returned_parcel_pages_t7(app: Flask) -> None:
    _, shipment = dispatched_shipment()
    make_customer(email="kund@example.se")
    customer = new_client(app)
    log_in(customer, "kund@example.se")
    anonymous = new_client(app)
    for url in urls(shipment).values():
        assert customer.get(url).status_code == 403, url
        assert post_form(customer, url, {}, form_url="/konto/").status_code == 403, url
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/konto/logga-in?next="), url
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    assert staff.get(urls(shipment)["unclaimed"]).status_code == 200
    assert staff.get(f"/staff/forsandelser/{shipment.id}/retur/okand").status_code == 404
    assert staff.get("/staff/forsandelser/999999/retur/outlost").status_code == 404
    db.session.expire_all()
    assert db.session.get(Shipment, shipment.id).returned_kind is None  # type: ignore[union-attr]


def test_csrf_is_required_t7(app: Flask) -> None:
    order, shipment = dispatched_shipment()
    client = staff_client(app, "personal@example.se", Role.STAFF)
    data = {"returned_on": TODAY.isoformat(), "freight": "50", "return_freight": "50"}
    assert client.post(urls(shipment)["unclaimed"], data=data).status_code == 400
    assert fees(order) == []
    db.session.expire_all()
    shipment_now = db.session.get(Shipment, shipment.id)
    assert shipment_now is not None
    assert shipment_now.returned_kind is None
