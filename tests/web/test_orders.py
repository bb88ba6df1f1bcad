"""Order pages: the customer's own order, the guest's signed link, "Mina ordrar"."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from shop.services import orders
from tests.conftest import new_client, post_form
from tests.factories import PASSWORD, make_customer, make_order, make_product


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def logged_in(app: Flask, email: str) -> FlaskClient:
    client = new_client(app)
    response = post_form(client, "/konto/logga-in", {"email": email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_a_customer_sees_their_order_with_snapshots_and_vat_T2_1(app: Flask) -> None:
    owner = make_customer(email="agare@example.se")
    product = make_product(title="Bach: Cellosviter", price_ore=24900, vat_rate_bp=600)
    order = make_order(customer=owner, lines=[(product, 2)])
    client = logged_in(app, "agare@example.se")
    html = text(client.get(f"/konto/ordrar/{order.number}"))
    assert f"Order {order.number}" in html
    assert "Bach: Cellosviter" in html
    assert "498,00\u00a0kr" in html
    assert "varav moms 6 %" in html
    assert "Väntar på betalning" in html
    assert order.terms_version in html


def test_a_customer_cannot_see_another_customers_order(app: Flask) -> None:
    owner = make_customer(email="agare@example.se")
    make_customer(email="nyfiken@example.se")
    order = make_order(customer=owner)
    client = logged_in(app, "nyfiken@example.se")
    assert client.get(f"/konto/ordrar/{order.number}").status_code == 404
    assert client.get("/konto/ordrar/999999").status_code == 404
    listing = text(client.get("/konto/ordrar"))
    assert str(order.number) not in listing
    assert "Inga ordrar ännu." in listing


def test_order_pages_need_a_login(app: Flask, client: FlaskClient) -> None:
    order = make_order(customer=make_customer())
    assert client.get(f"/konto/ordrar/{order.number}").status_code == 302
    assert client.get("/konto/ordrar").status_code == 302


def test_mina_ordrar_lists_the_customers_orders_newest_first(app: Flask) -> None:
    owner = make_customer(email="agare@example.se")
    first = make_order(customer=owner)
    second = make_order(customer=owner, status="confirmed")
    html = text(logged_in(app, "agare@example.se").get("/konto/ordrar"))
    assert html.index(str(second.number)) < html.index(str(first.number))
    assert "Bekräftad" in html
    assert "Väntar på betalning" in html


def test_a_guest_link_shows_the_order_and_a_tampered_one_gives_404(
    app: Flask, client: FlaskClient
) -> None:
    order = make_order(lines=[(make_product(title="Gästens noter"), 1)])
    token = orders.guest_order_token(order)
    page = client.get(f"/order/{token}")
    assert page.status_code == 200
    assert "Gästens noter" in text(page)
    tampered = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    assert client.get(f"/order/{tampered}").status_code == 404
    assert client.get("/order/inte-en-token").status_code == 404
    other = make_order(email="annan@example.se")
    forged = orders.guest_order_token(other).split(".")[0] + "." + token.split(".")[-1]
    assert client.get(f"/order/{forged}").status_code == 404
