"""The cart pages: add, change, remove, totals, bad input, guest and customer carts.

Rules: T2.1 (VAT per rate shown), T2.2 (delivery estimate), T2.3 (no delivery
fee for downloads and codes).
"""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from shop.models import CartLine
from tests.conftest import csrf_token_from, new_client, post_form
from tests.services.test_cart import make_customer, make_product

CART = "/varukorg/"
PASSWORD = "ett-bra-losenord"


def add(client: FlaskClient, product_id: object, quantity: object = 1, **extra: str) -> object:
    data = {"product_id": product_id, "quantity": quantity, **extra}
    return post_form(client, "/varukorg/lagg-till", data, form_url=CART)


def update(client: FlaskClient, product_id: object, quantity: object) -> object:
    return post_form(
        client, "/varukorg/andra", {"product_id": product_id, "quantity": quantity}, form_url=CART
    )


def log_in(client: FlaskClient, email: str = "kund@example.se") -> None:
    response = post_form(client, "/konto/logga-in", {"email": email, "password": PASSWORD})
    assert response.status_code == 302


def header_count(html: str) -> int:
    """The number on the header's cart link (0 when there is no badge)."""
    match = re.search(
        r'class="cart-link".*?class="badge">(?:<[^>]+>[^<]*</[^>]+>)?\s*(\d+)', html, re.S
    )
    return int(match.group(1)) if match else 0


def page(client: FlaskClient) -> str:
    return client.get(CART).get_data(as_text=True)


def test_empty_cart(client: FlaskClient) -> None:
    response = client.get(CART)
    assert response.status_code == 200
    assert "Varukorgen är tom." in response.get_data(as_text=True)


def test_guest_adds_and_sees_the_line_with_totals_T2_1(app: Flask, client: FlaskClient) -> None:
    product = make_product(title="Bach: Cellosviter", price_ore=24900, vat_rate_bp=600)
    response = add(client, product.id, 2)
    assert response.status_code == 302
    assert response.headers["Location"] == CART
    html = page(client)
    assert "Bach: Cellosviter ligger nu i varukorgen." in html
    assert "Bach: Cellosviter" in html
    assert 'class="cart-table"' in html
    assert "498,00\u00a0kr" in html  # 2 × 249 kr
    assert "Frakt (uppskattad)" in html
    assert "varav moms 6 %" in html
    assert "varav moms 25 %" in html  # the delivery fee carries 25 % VAT
    assert "Till kassan" in html
    assert 'href="/kassa/"' in html  # a real link to checkout.start
    assert "Kassan öppnar snart" not in html
    assert header_count(html) == 2  # cart_count in the header


def test_add_goes_back_to_a_safe_next_page(app: Flask, client: FlaskClient) -> None:
    product = make_product()
    response = add(client, product.id, 1, next="/produkt/x")
    assert response.headers["Location"] == "/produkt/x"
    response = add(client, product.id, 1, next="https://evil.example/")
    assert response.headers["Location"] == CART


def test_adding_more_than_in_stock_shows_a_swedish_message(app: Flask, client: FlaskClient) -> None:
    product = make_product(title="Bach: Cellosviter", stock=3)
    response = add(client, product.id, 4)
    assert response.status_code == 302
    html = page(client)
    assert "Det finns bara 3 st i lager av Bach: Cellosviter." in html
    assert "Varukorgen är tom." in html


def test_bad_quantities_are_refused_with_a_message(app: Flask, client: FlaskClient) -> None:
    product = make_product(stock=500)
    for quantity, message in [
        ("abc", "Ange antalet som ett heltal"),
        ("2.5", "Ange antalet som ett heltal"),
        ("", "Ange antalet som ett heltal"),
        ("1e3", "Ange antalet som ett heltal"),
        ("99999999999999999999", "Ange antalet som ett heltal"),
        ("0", "Ange ett antal från 1 till 99."),
        ("-3", "Ange ett antal från 1 till 99."),
        ("100", "Ange ett antal från 1 till 99."),
        ("999999", "Ange ett antal från 1 till 99."),
    ]:
        response = add(client, product.id, quantity)
        assert response.status_code == 302, quantity
        assert message in page(client), quantity
    assert "Varukorgen är tom." in page(client)


def test_unknown_or_inactive_product_is_404(app: Flask, client: FlaskClient) -> None:
    inactive = make_product(active=False)
    assert add(client, inactive.id).status_code == 404
    assert add(client, 999_999).status_code == 404
    assert add(client, "inte-ett-id").status_code == 404
    assert add(client, "").status_code == 404


def test_form_prices_are_ignored(app: Flask, client: FlaskClient) -> None:
    product = make_product(price_ore=10000, kind="download", stock=None)
    add(client, product.id, 1, price_ore="1", price="1")
    assert "100,00\u00a0kr" in page(client)


def test_add_without_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    product = make_product()
    response = client.post("/varukorg/lagg-till", data={"product_id": product.id, "quantity": 1})
    assert response.status_code == 400
    assert "Varukorgen är tom." in page(client)


def test_change_quantity_and_remove(app: Flask, client: FlaskClient) -> None:
    product = make_product(title="Stråkar", stock=5)
    add(client, product.id, 1)
    response = update(client, product.id, 4)
    assert response.status_code == 302
    html = page(client)
    assert "Varukorgen är uppdaterad." in html
    assert 'value="4"' in html
    response = post_form(client, "/varukorg/ta-bort", {"product_id": product.id}, form_url=CART)
    assert response.status_code == 302
    html = page(client)
    assert "Varan är borttagen ur varukorgen." in html
    assert "Varukorgen är tom." in html


def test_update_to_zero_removes_the_line(app: Flask, client: FlaskClient) -> None:
    product = make_product()
    add(client, product.id, 1)
    update(client, product.id, 0)
    assert "Varukorgen är tom." in page(client)


def test_bad_update_re_renders_the_cart_with_the_message_and_input(
    app: Flask, client: FlaskClient
) -> None:
    product = make_product(title="Stråkar", stock=3)
    add(client, product.id, 1)
    for quantity, message in [
        ("7", "Det finns bara 3 st i lager av Stråkar."),
        ("-1", "Ange ett antal från 0 till 99 (0 tar bort varan)."),
        ("tre", "Ange antalet som ett heltal"),
        ("100", "Ange ett antal från 0 till 99"),
    ]:
        response = update(client, product.id, quantity)
        assert response.status_code == 400  # type: ignore[attr-defined]
        html = response.get_data(as_text=True)  # type: ignore[attr-defined]
        assert message in html, quantity
        assert f'value="{quantity}"' in html
        assert 'aria-invalid="true"' in html
    assert 'value="1"' in page(client)


def test_digital_only_cart_has_no_delivery_fee_T2_3(app: Flask, client: FlaskClient) -> None:
    download = make_product(kind="download", stock=None, weight_g=0, price_ore=9900)
    add(client, download.id, 1)
    html = page(client)
    assert "Frakt (uppskattad)" not in html
    assert "Nedladdningar och koder skickas utan frakt." in html
    assert "99,00\u00a0kr" in html


def test_delivery_estimate_is_shown_for_physical_goods_T2_2(
    app: Flask, client: FlaskClient
) -> None:
    product = make_product(price_ore=10000, weight_g=200, size_class="thin")
    add(client, product.id, 1)
    html = page(client)
    assert "Frakt (uppskattad)" in html
    assert "45,00\u00a0kr" in html  # letter up to 250 g
    assert "145,00\u00a0kr" in html


def test_customer_cart_is_stored_in_the_database(app: Flask, client: FlaskClient) -> None:
    customer = make_customer(password=PASSWORD)
    product = make_product(stock=5)
    log_in(client)
    add(client, product.id, 2)
    line = db.session.query(CartLine).one()
    assert (line.customer_id, line.product_id, line.quantity) == (customer.id, product.id, 2)
    # Another device sees the same cart.
    other = new_client(app)
    log_in(other)
    assert header_count(page(other)) == 2
    update(other, product.id, 3)
    response = post_form(other, "/varukorg/ta-bort", {"product_id": product.id}, form_url=CART)
    assert response.status_code == 302
    assert db.session.query(CartLine).count() == 0


def test_customer_over_stock_is_refused(app: Flask, client: FlaskClient) -> None:
    make_customer(password=PASSWORD)
    product = make_product(title="Stråkar", stock=2)
    log_in(client)
    add(client, product.id, 2)
    add(client, product.id, 1)
    html = page(client)
    assert "Det finns bara 2 st i lager av Stråkar. Du har redan 2 st i varukorgen." in html
    assert db.session.query(CartLine).one().quantity == 2


def test_guest_cart_is_merged_at_login_capped_at_stock(app: Flask, client: FlaskClient) -> None:
    customer = make_customer(password=PASSWORD)
    scarce = make_product(title="Sällsynt", stock=3)
    other = make_product(stock=10)
    # The customer has 2 in the database cart from another device.
    device = new_client(app)
    log_in(device)
    add(device, scarce.id, 2)
    # As a guest on this device, 2 more and another product.
    add(client, scarce.id, 2)
    add(client, other.id, 1)
    response = post_form(
        client,
        "/konto/logga-in",
        {"email": customer.email, "password": PASSWORD},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "Varukorgen har 3 st av Sällsynt: fler finns inte att köpa." in html
    lines = {line.product_id: line.quantity for line in db.session.query(CartLine).all()}
    assert lines == {scarce.id: 3, other.id: 1}
    assert header_count(html) == 4


def test_guest_cart_survives_junk_in_the_session(app: Flask, client: FlaskClient) -> None:
    with client.session_transaction() as session:
        session["cart"] = {"x": "y", "1": -5}
    assert "Varukorgen är tom." in page(client)


def test_each_form_on_the_cart_page_has_a_csrf_token(app: Flask, client: FlaskClient) -> None:
    product = make_product()
    add(client, product.id, 1)
    html = page(client)
    assert html.count('name="csrf_token"') >= 2
    assert csrf_token_from(html)
    assert "style=" not in html
    assert "<script" not in html
