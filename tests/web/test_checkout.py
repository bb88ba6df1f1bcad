"""The checkout pages: each step with good and bad input, placing the order, thanks page.

Rules: T1.1, T1.2, T2.1, T2.2, T2.3, T3.2, T3.3. Payments go through engineer
B's payments service with the sandbox provider (no keys needed).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import Order, Product, StockLevel
from shop.payments.base import CreditDecision
from shop.services import payments
from tests.conftest import csrf_token_from, new_client, post_form
from tests.factories import NOW, PASSWORD, make_customer, make_product

BUYER = {
    "kind": "consumer",
    "email": "gast@example.se",
    "name": "Gösta Gäst",
    "phone": "070-123 45 67",
    "adult_confirmed": "y",
}
ADDRESS = {
    "delivery_name": "Gösta Gäst",
    "delivery_street": "Storgatan 1",
    "delivery_postcode": "11122",
    "delivery_city": "Stockholm",
    "billing_same": "y",
}
ORGANISATION = {
    "kind": "organisation",
    "email": "inkop@musikskolan.se",
    "name": "Ingrid Inköp",
    "organisation_name": "Musikskolan AB",
    "organisation_number": "5560360793",
}


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def add_to_cart(client: FlaskClient, product: Product, quantity: int = 1) -> None:
    response = post_form(
        client,
        "/varukorg/lagg-till",
        {"product_id": product.id, "quantity": quantity},
        form_url="/varukorg/",
    )
    assert response.status_code == 302


def step(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    return post_form(client, url, data)


def to_summary(
    client: FlaskClient,
    *,
    buyer: dict[str, Any] | None = None,
    delivery: str | None = "letter",
    payment: str = "sandbox",
    address: dict[str, Any] | None = None,
) -> str:
    """Walk the steps; returns the summary page's HTML."""
    assert step(client, "/kassa/kopare", buyer or BUYER).status_code == 302
    assert step(client, "/kassa/adress", address or ADDRESS).status_code == 302
    if delivery is not None:
        assert step(client, "/kassa/leverans", {"delivery_method": delivery}).status_code == 302
    response = step(client, "/kassa/betalning", {"payment_method": payment})
    assert response.status_code == 302, text(response)
    assert response.headers["Location"] == "/kassa/sammanfattning"
    page = client.get("/kassa/sammanfattning")
    assert page.status_code == 200
    return text(page)


def checkout_key(html: str) -> str:
    match = re.search(r'name="checkout_key" type="hidden" value="([^"]+)"', html)
    assert match, "no checkout key on the summary"
    return match.group(1)


def place(client: FlaskClient, html: str, **extra: Any) -> Any:
    """Post "Slutför köp" from an already loaded summary page (as a browser would)."""
    data = {
        "csrf_token": csrf_token_from(html),
        "checkout_key": checkout_key(html),
        "accept_terms": "y",
        **extra,
    }
    return client.post("/kassa/slutfor", data=data)


def order_count() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Order)) or 0)


def reserved(product: Product) -> int:
    level = db.session.get(StockLevel, product.id, populate_existing=True)
    assert level is not None
    return level.reserved


# --- Entering the checkout ----------------------------------------------------------------


def test_an_empty_cart_goes_back_to_the_cart(app: Flask, client: FlaskClient) -> None:
    response = client.get("/kassa/", follow_redirects=True)
    assert response.request.path == "/varukorg/"
    assert "Varukorgen är tom." in text(response)


def test_till_kassan_opens_the_buyer_step(app: Flask, client: FlaskClient) -> None:
    add_to_cart(client, make_product())
    cart = text(client.get("/varukorg/"))
    assert 'href="/kassa/"' in cart
    response = client.get("/kassa/", follow_redirects=True)
    assert response.request.path == "/kassa/kopare"
    html = text(response)
    assert "<h1>Kassa</h1>" in html
    assert "Privatperson" in html
    assert "Organisation" in html
    assert "Jag är 18 år eller äldre" in html


def test_later_steps_send_back_to_the_first_missing_one(app: Flask, client: FlaskClient) -> None:
    add_to_cart(client, make_product())
    assert client.get("/kassa/sammanfattning").headers["Location"] == "/kassa/kopare"
    step(client, "/kassa/kopare", BUYER)
    assert client.get("/kassa/betalning").headers["Location"] == "/kassa/adress"
    step(client, "/kassa/adress", ADDRESS)
    assert client.get("/kassa/sammanfattning").headers["Location"] == "/kassa/leverans"


# --- Step 1: buyer ------------------------------------------------------------------------


def test_a_guest_must_confirm_being_18_T1_1(app: Flask, client: FlaskClient) -> None:
    add_to_cart(client, make_product())
    response = step(client, "/kassa/kopare", {**BUYER, "adult_confirmed": ""})
    assert response.status_code == 400
    html = text(response)
    assert "Du måste vara 18 år eller äldre för att handla hos oss." in html
    assert 'value="gast@example.se"' in html  # input kept
    assert 'value="Gösta Gäst"' in html


def test_an_organisation_needs_a_valid_organisation_number_T1_2(
    app: Flask, client: FlaskClient
) -> None:
    add_to_cart(client, make_product())
    bad = {**ORGANISATION, "organisation_number": "556036-0794", "adult_confirmed": "y"}
    response = step(client, "/kassa/kopare", bad)
    assert response.status_code == 400
    assert "Organisationsnumret är inte giltigt" in text(response)
    missing = {**ORGANISATION, "organisation_name": "", "adult_confirmed": "y"}
    assert "Ange organisationens namn." in text(step(client, "/kassa/kopare", missing))
    good = {**ORGANISATION, "adult_confirmed": "y"}
    assert step(client, "/kassa/kopare", good).status_code == 302
    assert 'value="556036-0793"' in text(client.get("/kassa/kopare"))  # normalised


def test_bad_email_and_unknown_buyer_kind_are_refused(app: Flask, client: FlaskClient) -> None:
    add_to_cart(client, make_product())
    response = step(client, "/kassa/kopare", {**BUYER, "email": "inte-en-adress"})
    assert response.status_code == 400
    assert "Ange en giltig e-postadress" in text(response)
    response = step(client, "/kassa/kopare", {**BUYER, "kind": "pirate"})
    assert response.status_code == 400
    assert "Välj Privatperson eller Organisation." in text(response)


def test_a_logged_in_customer_gets_their_details_prefilled(app: Flask) -> None:
    customer = make_customer(email="kund@example.se", name="Kim Kund", phone="08-123 456")
    client = new_client(app)
    post_form(client, "/konto/logga-in", {"email": "kund@example.se", "password": PASSWORD})
    add_to_cart(client, make_product())
    html = text(client.get("/kassa/kopare"))
    assert 'value="kund@example.se"' in html
    assert 'value="Kim Kund"' in html
    assert 'value="08-123 456"' in html
    assert "Jag är 18 år eller äldre" not in html  # confirmed at registration (T1.1)
    data = {"kind": "consumer", "email": customer.email, "name": "Kim Kund"}
    assert step(client, "/kassa/kopare", data).status_code == 302


# --- Step 2: addresses --------------------------------------------------------------------


def test_a_bad_postcode_is_refused_and_the_input_kept(app: Flask, client: FlaskClient) -> None:
    add_to_cart(client, make_product())
    step(client, "/kassa/kopare", BUYER)
    response = step(client, "/kassa/adress", {**ADDRESS, "delivery_postcode": "1234"})
    assert response.status_code == 400
    html = text(response)
    assert "Skriv postnumret som NNN NN" in html
    assert 'value="Storgatan 1"' in html
    response = step(client, "/kassa/adress", {**ADDRESS, "delivery_city": ""})
    assert response.status_code == 400
    assert "Ange ort." in text(response)
    response = step(
        client, "/kassa/adress", {**ADDRESS, "billing_same": "", "billing_postcode": "abc"}
    )
    assert response.status_code == 400
    assert "Ange gatuadress." in text(response)


def test_postcodes_are_normalised(app: Flask, client: FlaskClient) -> None:
    add_to_cart(client, make_product())
    html = to_summary(client)
    assert "111 22 Stockholm" in html


def test_a_digital_only_order_skips_delivery_T2_3(app: Flask, client: FlaskClient) -> None:
    add_to_cart(client, make_product(kind="download", price_ore=9900, title="Noter som PDF"))
    step(client, "/kassa/kopare", BUYER)
    page = text(client.get("/kassa/adress"))
    assert "Leveransadress" not in page
    assert "ingen leveransadress behövs" in page
    billing = {
        "billing_name": "Gösta Gäst",
        "billing_street": "Storgatan 1",
        "billing_postcode": "111 22",
        "billing_city": "Stockholm",
    }
    response = step(client, "/kassa/adress", billing)
    assert response.headers["Location"] == "/kassa/betalning"
    assert client.get("/kassa/leverans").headers["Location"] == "/kassa/betalning"
    html = to_summary(client, address=billing, delivery=None)
    assert "Frakt" not in html.split("<h2>Sammanfattning</h2>")[1].split("</table>")[0]
    assert "Nedladdningar och koder skickas utan frakt." in html
    assert "99,00\u00a0kr" in html


# --- Step 3: delivery ---------------------------------------------------------------------


def test_delivery_methods_show_their_fee_and_unknown_ones_are_refused_T2_2(
    app: Flask, client: FlaskClient
) -> None:
    add_to_cart(client, make_product(weight_g=300, size_class="thin"))
    step(client, "/kassa/kopare", BUYER)
    step(client, "/kassa/adress", ADDRESS)
    html = text(client.get("/kassa/leverans"))
    assert "Brev med PostNord (varubrev) – 59,00\u00a0kr" in html
    assert "Paket med PostNord (hämtas hos ombud) – 79,00\u00a0kr" in html
    response = step(client, "/kassa/leverans", {"delivery_method": "teleport"})
    assert response.status_code == 400
    assert "Välj ett av leveranssätten i listan." in text(response)
    response = step(client, "/kassa/leverans", {})
    assert response.status_code == 400
    assert "Välj ett leveranssätt." in text(response)


# --- Step 4: payment ----------------------------------------------------------------------


def test_a_consumer_cannot_choose_invoice_T3_2(app: Flask, client: FlaskClient) -> None:
    add_to_cart(client, make_product())
    step(client, "/kassa/kopare", BUYER)
    step(client, "/kassa/adress", ADDRESS)
    step(client, "/kassa/leverans", {"delivery_method": "letter"})
    page = text(client.get("/kassa/betalning"))
    assert 'value="invoice"' not in page
    assert 'value="sandbox"' in page
    response = step(client, "/kassa/betalning", {"payment_method": "invoice"})
    assert response.status_code == 400
    assert "Faktura kan endast väljas av organisationer" in text(response)
    response = step(client, "/kassa/betalning", {"payment_method": "gold-bars"})
    assert response.status_code == 400
    assert "Välj ett av betalsätten i listan." in text(response)


def test_an_organisation_passing_the_credit_check_pays_by_invoice_with_the_fee_T3_3(
    app: Flask, client: FlaskClient
) -> None:
    add_to_cart(client, make_product(price_ore=10000))
    html = to_summary(client, buyer={**ORGANISATION, "adult_confirmed": "y"}, payment="invoice")
    assert "Fakturaavgift" in html
    assert "19,00\u00a0kr" in html
    assert "Faktura" in html
    assert "178,00\u00a0kr" in html  # 100 + 59 (letter, 300 g) + 19


def test_a_refused_credit_check_offers_the_other_methods_T3_2(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def refuse(**kwargs: Any) -> CreditDecision:
        calls.append(kwargs)
        return CreditDecision(
            approved=False,
            reason_sv="Vi kan tyvärr inte erbjuda faktura efter vår kreditkontroll.",
            checked_at=NOW,
            checker="test",
        )

    monkeypatch.setattr(payments, "check_invoice_credit", refuse)
    add_to_cart(client, make_product(price_ore=10000))
    step(client, "/kassa/kopare", {**ORGANISATION, "adult_confirmed": "y"})
    step(client, "/kassa/adress", ADDRESS)
    step(client, "/kassa/leverans", {"delivery_method": "letter"})
    assert 'value="invoice"' in text(client.get("/kassa/betalning"))
    response = step(client, "/kassa/betalning", {"payment_method": "invoice"})
    assert response.status_code == 400
    html = text(response)
    assert "Vi kan tyvärr inte erbjuda faktura efter vår kreditkontroll." in html
    assert 'value="invoice"' not in html
    assert 'value="sandbox"' in html
    assert calls[0]["organisation_number"] == "556036-0793"
    assert calls[0]["amount_ore"] == 10000 + 5900 + 1900
    assert step(client, "/kassa/betalning", {"payment_method": "sandbox"}).status_code == 302


# --- Step 5: summary and placing the order ------------------------------------------------


def test_the_summary_shows_lines_fees_vat_per_rate_and_the_terms_T2_1(
    app: Flask, client: FlaskClient
) -> None:
    add_to_cart(client, make_product(title="Bach: Cellosviter", price_ore=24900), 2)
    html = to_summary(client)
    assert "Bach: Cellosviter" in html
    assert "498,00\u00a0kr" in html
    assert "Brev med PostNord (varubrev)" in html
    assert "79,00\u00a0kr" in html  # 600 g by letter (T2.2)
    assert "577,00\u00a0kr" in html  # 498 + 79
    assert "varav moms 6 %" in html
    assert "28,19\u00a0kr" in html
    assert "varav moms 25 %" in html
    assert "15,80\u00a0kr" in html
    assert "Jag har läst och godkänner köpvillkoren" in html
    assert 'href="/kopvillkor"' in html
    assert "Slutför köp" in html
    form = html.split('action="/kassa/slutfor"')[1].split("</form>")[0]
    names = set(re.findall(r'name="([^"]+)"', form))
    assert names == {"csrf_token", "checkout_key", "accept_terms"}  # never prices


def test_placing_without_accepting_the_terms_is_refused(app: Flask, client: FlaskClient) -> None:
    add_to_cart(client, make_product())
    html = to_summary(client)
    response = place(client, html, accept_terms="")
    assert response.status_code == 400
    assert "Du måste godkänna köpvillkoren för att slutföra köpet." in text(response)
    assert order_count() == 0


def test_a_guest_buys_with_the_sandbox_and_sees_the_real_state(
    app: Flask, client: FlaskClient
) -> None:
    product = make_product(title="Bach: Cellosviter", price_ore=24900, stock=3)
    add_to_cart(client, product)
    response = place(client, to_summary(client))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/betalning/sandbox/")
    order = db.session.scalars(select(Order)).one()
    assert order.number == "100001"
    assert order.total_ore == 24900 + 5900
    assert order.terms_version
    assert reserved(product) == 1
    assert "Varukorgen är tom." in text(client.get("/varukorg/"))  # guest cart emptied

    thanks = text(client.get(f"/kassa/tack/{order.number}"))
    assert "Tack för din beställning" in thanks
    assert "100001" in thanks
    assert "Vi väntar på besked om betalningen." in thanks
    link = re.search(r'class="guest-link" href="http://localhost(/order/[^"]+)"', thanks)
    assert link, thanks

    sandbox = response.headers["Location"]
    post_form(client, sandbox, {"outcome": "pay"})
    thanks = text(client.get(f"/kassa/tack/{order.number}"))
    assert "Betalningen är klar." in thanks

    other = new_client(app)
    assert other.get(f"/kassa/tack/{order.number}").status_code == 404
    page = other.get(link.group(1))
    assert page.status_code == 200
    assert "Bach: Cellosviter" in text(page)


def test_a_double_click_makes_one_order(app: Flask, client: FlaskClient) -> None:
    product = make_product(stock=5)
    add_to_cart(client, product)
    html = to_summary(client)
    first = place(client, html)
    second = place(client, html)
    assert first.status_code == 302
    assert second.status_code == 302
    assert order_count() == 1
    assert reserved(product) == 1
    number = db.session.scalars(select(Order.number)).one()
    assert second.headers["Location"] == f"/kassa/tack/{number}"


def test_tampered_fields_change_nothing(app: Flask, client: FlaskClient) -> None:
    product = make_product(price_ore=24900, stock=5)
    add_to_cart(client, product)
    html = to_summary(client)
    response = place(
        client,
        html,
        price_ore="1",
        unit_price_ore="1",
        total_ore="1",
        vat_rate_bp="0",
        delivery_fee_ore="0",
        quantity="50",
        payment_method="invoice",
        customer_id="1",
    )
    assert response.status_code == 302
    order = db.session.scalars(select(Order)).one()
    assert order.total_ore == 24900 + 5900
    assert order.payment_method == "sandbox"
    assert order.customer_id is None
    assert [(line.quantity, line.unit_price_ore, line.vat_rate_bp) for line in order.lines] == [
        (1, 24900, 600)
    ]


def test_a_wrong_checkout_key_places_nothing(app: Flask, client: FlaskClient) -> None:
    add_to_cart(client, make_product())
    to_summary(client)
    response = post_form(
        client,
        "/kassa/slutfor",
        {"checkout_key": "forged", "accept_terms": "y"},
        form_url="/kassa/sammanfattning",
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/kassa/sammanfattning"
    assert order_count() == 0


def test_a_price_change_after_the_summary_asks_to_check_again(
    app: Flask, client: FlaskClient
) -> None:
    product = make_product(price_ore=24900)
    add_to_cart(client, product)
    html = to_summary(client)
    product.price_ore = 29900
    db.session.commit()
    response = place(client, html)
    assert response.headers["Location"] == "/kassa/sammanfattning"
    assert order_count() == 0
    assert "299,00\u00a0kr" in text(client.get("/kassa/sammanfattning"))


def test_sold_out_at_placing_re_renders_the_summary_and_keeps_the_cart(
    app: Flask, client: FlaskClient
) -> None:
    product = make_product(title="Sista exemplaret", stock=1)
    add_to_cart(client, product)
    html = to_summary(client)
    level = db.session.get(StockLevel, product.id)
    assert level is not None
    level.reserved = 1  # someone else bought it meanwhile
    db.session.commit()
    response = place(client, html)
    assert response.status_code == 409
    page = text(response)
    assert "Slut i lager: Sista exemplaret" in page
    assert "Slutför köp" in page
    assert order_count() == 0
    assert "Sista exemplaret" in text(client.get("/varukorg/"))


def test_a_customer_orders_and_finds_it_under_mina_ordrar(app: Flask) -> None:
    customer = make_customer(email="kund@example.se")
    client = new_client(app)
    post_form(client, "/konto/logga-in", {"email": "kund@example.se", "password": PASSWORD})
    product = make_product(title="Gitarrsträngar", price_ore=14900, vat_rate_bp=2500)
    add_to_cart(client, product, 2)
    buyer = {"kind": "consumer", "email": customer.email, "name": "Kim Kund"}
    response = place(client, to_summary(client, buyer=buyer))
    assert response.status_code == 302
    order = db.session.scalars(select(Order)).one()
    assert order.customer_id == customer.id
    assert "Varukorgen är tom." in text(client.get("/varukorg/"))  # the DB cart emptied
    overview = text(client.get("/konto/"))
    assert 'href="/konto/ordrar"' in overview
    listing = text(client.get("/konto/ordrar"))
    assert "Mina ordrar" in listing
    assert f'href="/konto/ordrar/{order.number}"' in listing
    assert "Väntar på betalning" in listing
    detail = text(client.get(f"/konto/ordrar/{order.number}"))
    assert "Gitarrsträngar" in detail
    assert "varav moms 25 %" in detail
    thanks = client.get(f"/kassa/tack/{order.number}")
    assert thanks.status_code == 200
    assert "guest-link" not in text(thanks)
