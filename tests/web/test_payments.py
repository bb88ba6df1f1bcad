"""The payment pages: start, the test payment page, Klarna's widget page, the return page.

Stripe through the real SDK against the local fake API server, Klarna
through the real client against its fake. Rules: T3.1 (methods), T3.2
(invoice for organisations after a credit check), T3.3 (invoice fee).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop import create_app
from shop.config import ConfigError
from shop.domain.lifecycle import OrderStatus, PaymentStatus
from shop.extensions import db
from shop.models import CreditCheck, Order, Payment
from tests.conftest import csrf_token_from, make_test_config, post_form
from tests.factories import PASSWORD, make_customer, make_order
from tests.fakes.klarna_api import FakeKlarna
from tests.fakes.server import Fault
from tests.fakes.stripe_api import FakeStripe
from tests.payments_support import (
    add_invoice_fee,
    confirmations,
    count,
    guest_token,
    klarna_config,
    registry_for,
    status_of,
    stripe_config,
    use_registry,
)


@pytest.fixture
def stripe_fake(app: Flask) -> Iterator[FakeStripe]:
    fake = FakeStripe()
    fake.start()
    with use_registry(app, registry_for(app, **stripe_config(fake))):
        yield fake
    fake.stop()


@pytest.fixture
def klarna_fake(app: Flask) -> Iterator[FakeKlarna]:
    fake = FakeKlarna()
    fake.start()
    with use_registry(app, registry_for(app, **klarna_config(fake))):
        yield fake
    fake.stop()


def _return(order: Order, token: str | None = None) -> str:
    return f"/betalning/{order.number}/retur" + (f"?t={token}" if token else "")


def _go(client: FlaskClient, order: Order, token: str | None, **data: str):  # type: ignore[no-untyped-def]
    payload = {"t": token, **data} if token else dict(data)
    return post_form(
        client, f"/betalning/{order.number}/starta", payload, form_url=_return(order, token)
    )


def _login(client: FlaskClient, email: str) -> None:
    response = post_form(client, "/konto/logga-in", {"email": email, "password": PASSWORD})
    assert response.status_code == 302


# --- sandbox: a whole purchase with no keys ------------------------------------------------------


def test_sandbox_purchase_completes_with_no_keys(app: Flask, client: FlaskClient) -> None:
    """``make run``: a guest pays with the sandbox; the page says clearly it is a test payment."""
    order = make_order(payment_method="sandbox")
    token = guest_token(order)
    response = _go(client, order, token)
    assert response.status_code == 302
    sandbox_url = response.headers["Location"]
    assert sandbox_url.startswith("/betalning/sandbox/sbx_")
    page = client.get(sandbox_url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Testbetalning – inga pengar dras" in html
    assert "Genomför testbetalning" in html
    assert "Avbryt" in html
    paid = client.post(sandbox_url, data={"outcome": "pay", "csrf_token": csrf_token_from(html)})
    assert paid.status_code == 302
    assert paid.headers["Location"].startswith(f"/betalning/{order.number}/retur?t=")
    result = client.get(paid.headers["Location"])
    text = result.get_data(as_text=True)
    assert 'data-payment-state="paid"' in text
    assert "Tack för din beställning" in text
    assert status_of(order) == OrderStatus.CONFIRMED.value
    receipt = re.search(r'href="(/kvitto/[^"]+)"', text)
    assert receipt is not None
    assert client.get(receipt.group(1).replace("&amp;", "&")).status_code == 200
    # A second click on the (stale) page changes nothing.
    again = client.post(sandbox_url, data={"outcome": "pay", "csrf_token": csrf_token_from(html)})
    assert again.status_code == 302
    assert confirmations(order) == 1


def test_sandbox_cancel_cancels_the_order(app: Flask, client: FlaskClient) -> None:
    order = make_order(payment_method="sandbox")
    token = guest_token(order)
    sandbox_url = _go(client, order, token).headers["Location"]
    html = client.get(sandbox_url).get_data(as_text=True)
    response = client.post(
        sandbox_url, data={"outcome": "abort", "csrf_token": csrf_token_from(html)}
    )
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-payment-state="cancelled"' in text
    assert "Betalningen genomfördes inte" in text
    assert status_of(order) == OrderStatus.CANCELLED.value


def test_sandbox_page_for_unknown_reference_is_404(app: Flask, client: FlaskClient) -> None:
    assert client.get("/betalning/sandbox/sbx_nothing").status_code == 404


def test_sandbox_refused_in_production_config() -> None:
    """The sandbox never runs in production (the app refuses to start)."""
    config = {
        "ENV": "production",
        "SECRET_KEY": "0123456789abcdef0123456789abcdef-production",
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://shop@db.example/shop",
    }
    with pytest.raises(ConfigError, match="sandbox"):
        create_app({**config, "PAYMENT_SANDBOX": True})
    app = create_app(config)
    assert "sandbox" not in app.extensions["payments"].provider_names


def test_sandbox_off_hides_the_method(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        {
            **make_test_config(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path),
            "PAYMENT_SANDBOX": False,
        }
    )
    assert "sandbox" not in app.extensions["payments"].provider_names


# --- who may pay ---------------------------------------------------------------------------------


def test_pages_need_the_owner_or_the_guest_link(app: Flask, client: FlaskClient) -> None:
    order = make_order(payment_method="sandbox")
    assert client.get(_return(order)).status_code == 404
    assert client.get(_return(order, "forged-token")).status_code == 404
    other = make_order(payment_method="sandbox")
    assert client.get(_return(order, guest_token(other))).status_code == 404
    assert client.get(_return(order, guest_token(order))).status_code == 200


def test_a_customer_pays_their_own_order_only(app: Flask, client: FlaskClient) -> None:
    owner = make_customer()
    order = make_order(customer=owner, payment_method="sandbox")
    stranger = make_customer()
    _login(client, stranger.email)
    assert client.get(_return(order)).status_code == 404
    client.post(
        "/konto/logga-ut",
        data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))},
    )
    _login(client, owner.email)
    assert client.get(_return(order)).status_code == 200
    response = _go(client, order, None)
    assert response.headers["Location"].startswith("/betalning/sandbox/")


def test_start_without_csrf_is_refused(app: Flask, client: FlaskClient) -> None:
    order = make_order(payment_method="sandbox")
    response = client.post(f"/betalning/{order.number}/starta", data={"t": guest_token(order)})
    assert response.status_code == 400
    assert count(Payment) == 0


# --- Stripe --------------------------------------------------------------------------------------


def test_stripe_redirects_to_checkout_and_the_return_page_asks_stripe(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    """The return page shows the real state: pending until Stripe says paid."""
    order = make_order(payment_method="card")
    token = guest_token(order)
    response = _go(client, order, token)
    assert response.status_code == 303
    session_id = next(iter(stripe_fake.sessions))
    assert response.headers["Location"] == stripe_fake.sessions[session_id]["url"]
    assert stripe_fake.sessions[session_id]["success_url"].endswith(_return(order, token))
    # The buyer comes back without paying (or forges ?paid=1): still pending.
    page = client.get(_return(order, token) + "&paid=1&session_id=" + session_id)
    assert 'data-payment-state="pending"' in page.get_data(as_text=True)
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
    stripe_fake.pay(session_id)
    page = client.get(_return(order, token))
    assert 'data-payment-state="paid"' in page.get_data(as_text=True)
    assert status_of(order) == OrderStatus.CONFIRMED.value


def test_stripe_error_at_start_shows_a_swedish_message_and_retry_reuses_the_key(
    app: Flask, client: FlaskClient, stripe_fake: FakeStripe
) -> None:
    order = make_order(payment_method="card")
    token = guest_token(order)
    stripe_fake.inject(Fault("/v1/checkout/sessions", method="POST", status=500, times=20))
    response = _go(client, order, token)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Betaltjänsten svarar inte just nu. Ingenting har dragits." in page
    assert "Till betalningen" in page
    assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
    stripe_fake.faults.clear()
    retry = _go(client, order, token)
    assert retry.status_code == 303
    keys = {
        r.headers["idempotency-key"] for r in stripe_fake.calls("POST", "/v1/checkout/sessions")
    }
    assert len(keys) == 1
    assert len(stripe_fake.sessions) == 1
    # Starting a third time sends the buyer to the same session.
    assert _go(client, order, token).headers["Location"] == retry.headers["Location"]
    assert len(stripe_fake.sessions) == 1


# --- Klarna --------------------------------------------------------------------------------------


def test_klarna_widget_page_then_authorised_order_is_confirmed_once(
    app: Flask, client: FlaskClient, klarna_fake: FakeKlarna
) -> None:
    order = make_order(payment_method="klarna")
    token = guest_token(order)
    response = _go(client, order, token)
    widget_url = response.headers["Location"]
    assert widget_url.startswith(f"/betalning/klarna/{order.number}?t=")
    page = client.get(widget_url)
    html = page.get_data(as_text=True)
    session_id = next(iter(klarna_fake.sessions))
    assert f'data-client-token="eyJhbGciOiJSUzI1NiJ9.fake.{session_id}"' in html
    assert "/static/js/klarna-payments.js" in html
    assert "https://x.klarnacdn.net/kp/lib/v1/api.js" in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' https://x.klarnacdn.net" in csp
    assert "frame-src https://*.klarna.com" in csp
    assert "stripe" not in csp
    # Other pages keep the shop's strict policy.
    assert "klarna" not in client.get("/").headers["Content-Security-Policy"]
    # The widget authorises (Klarna's part) and the page posts the token back.
    authorization = klarna_fake.authorize(session_id)
    data = {
        "authorization_token": authorization,
        "t": token,
        "csrf_token": csrf_token_from(html),
    }
    placed = client.post(f"/betalning/klarna/{order.number}/godkand", data=data)
    assert placed.status_code == 302
    result = client.get(placed.headers["Location"]).get_data(as_text=True)
    assert 'data-payment-state="authorised"' in result
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert len(klarna_fake.orders) == 1
    # A double click posts again: one order at Klarna, one confirmation.
    again = client.post(f"/betalning/klarna/{order.number}/godkand", data=data)
    assert again.status_code == 302
    assert len(klarna_fake.orders) == 1
    assert confirmations(order) == 1
    payment = db.session.scalars(db.select(Payment)).one()
    assert payment.status == PaymentStatus.AUTHORISED.value


def test_klarna_error_is_shown_on_the_return_page(
    app: Flask, client: FlaskClient, klarna_fake: FakeKlarna
) -> None:
    order = make_order(payment_method="klarna")
    token = guest_token(order)
    klarna_fake.inject(
        Fault(
            "/payments/v1/sessions",
            method="POST",
            status=400,
            body={"error_code": "BAD_VALUE", "error_messages": ["Bad value: x"]},
        )
    )
    response = _go(client, order, token)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Betaltjänsten kunde inte ta emot betalningen. Ingenting har dragits." in page
    assert len(klarna_fake.calls("POST", "/payments/v1/sessions")) == 1


# --- invoice (T3.2) ------------------------------------------------------------------------------


def test_invoice_with_good_credit_confirms_the_order_t3_2(app: Flask, client: FlaskClient) -> None:
    customer = make_customer(kind="organisation")
    order = add_invoice_fee(make_order(customer=customer, payment_method="invoice"))
    _login(client, customer.email)
    response = _go(client, order, None)
    assert response.headers["Location"] == _return(order)
    page = client.get(_return(order)).get_data(as_text=True)
    assert 'data-payment-state="authorised"' in page
    assert "Du betalar mot faktura" in page
    assert status_of(order) == OrderStatus.CONFIRMED.value
    assert db.session.scalars(db.select(CreditCheck)).one().approved is True


def test_invoice_refused_offers_other_methods_t3_2(app: Flask, client: FlaskClient) -> None:
    customer = make_customer(kind="organisation")
    with use_registry(app, registry_for(app, INVOICE_DENIED_ORG_NUMBERS=["556036-0793"])):
        order = add_invoice_fee(make_order(customer=customer, payment_method="invoice"))
        _login(client, customer.email)
        response = _go(client, order, None)
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Vi kan tyvärr inte erbjuda faktura" in page
        assert "Välj ett annat betalsätt" in page
        assert re.search(r'name="method" value="sandbox"', page)
        assert 'name="method" value="invoice"' not in page
        assert status_of(order) == OrderStatus.PENDING_PAYMENT.value
        switched = _go(client, order, None, method="sandbox")
        assert switched.headers["Location"].startswith("/betalning/sandbox/")
        db.session.expire_all()
        assert db.session.get(Order, order.id).payment_method == "sandbox"  # type: ignore[union-attr]


def test_consumer_cannot_pick_invoice_t3_2(app: Flask, client: FlaskClient) -> None:
    """T3.2: a consumer posting method=invoice (a tampered form) gets no invoice."""
    order = make_order(payment_method="sandbox")
    token = guest_token(order)
    page = client.get(_return(order, token)).get_data(as_text=True)
    assert 'value="invoice"' not in page
    response = _go(client, order, token, method="invoice")
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Betalsättet går inte att välja" in text
    assert count(CreditCheck) == 0
    db.session.expire_all()
    assert db.session.get(Order, order.id).payment_method == "sandbox"  # type: ignore[union-attr]
