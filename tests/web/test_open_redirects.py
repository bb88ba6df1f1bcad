"""No open redirects (issue 8): every ``next=`` the shop follows stays on this site.

The parameters that choose where to go next: the login (``?next=`` and the form's
``next``), the language switch (``/sprak``), adding to the cart, "Visa kod" on a
receipt; logging out always goes home. Each refuses the tricks below and lands on its
safe default, and still follows a plain path on the site (so the test would notice a
parameter that is simply ignored).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.services import orders
from shop.web.account.redirects import safe_next_url
from tests.conftest import csrf_token_from, post_form
from tests.factories import PASSWORD, make_customer, make_product
from tests.services.fulfilment_helpers import code_product, confirmed_order
from tests.web.test_documents import log_in

EVIL_TARGETS = [
    "https://evil.example/",
    "http://evil.example",
    "HTTPS://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/\x7f/evil.example",
    "/" + "a" * 2001,
]


def _lands_on(response: object, path: str) -> None:
    """The answer is a redirect to ``path`` on this site, nowhere else."""
    status = response.status_code  # type: ignore[attr-defined]
    location = response.headers["Location"]  # type: ignore[attr-defined]
    assert status in (302, 303)
    parts = urlsplit(location)
    assert parts.scheme in ("", "http")
    assert parts.netloc in ("", "localhost")
    assert parts.path == path
    assert "evil" not in location


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_safe_next_url_refuses_every_trick(target: str) -> None:
    assert safe_next_url(target) is None


@pytest.mark.parametrize("target", ["/", "/katalog", "/konto/ordrar?sida=2", "/sok?q=a%2Fb"])
def test_safe_next_url_keeps_paths_on_the_site(target: str) -> None:
    assert safe_next_url(target) == target


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_login_form_next_is_refused(app: Flask, client: FlaskClient, target: str) -> None:
    make_customer(email="kund@example.se", password=PASSWORD)
    response = post_form(
        client,
        "/konto/logga-in",
        {"email": "kund@example.se", "password": PASSWORD, "next": target},
    )
    _lands_on(response, "/konto/")


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_login_query_next_is_not_put_in_the_form_nor_followed_when_logged_in(
    app: Flask, client: FlaskClient, target: str
) -> None:
    page = client.get("/konto/logga-in", query_string={"next": target}).get_data(as_text=True)
    assert 'id="next" name="next" type="hidden" value=""' in page
    make_customer(email="kund@example.se", password=PASSWORD)
    log_in(client, "kund@example.se")
    response = client.get("/konto/logga-in", query_string={"next": target})
    _lands_on(response, "/konto/")


def test_login_follows_a_path_on_the_site(app: Flask, client: FlaskClient) -> None:
    make_customer(email="kund@example.se", password=PASSWORD)
    log_in(client, "kund@example.se")
    _lands_on(client.get("/konto/logga-in?next=/konto/ordrar"), "/konto/ordrar")


@pytest.mark.parametrize("target", [*EVIL_TARGETS, "/kopvillkor"])
def test_language_switch_next(app: Flask, client: FlaskClient, target: str) -> None:
    response = post_form(client, "/sprak", {"lang": "en", "next": target}, form_url="/")
    _lands_on(response, "/kopvillkor" if target == "/kopvillkor" else "/")


@pytest.mark.parametrize("target", [*EVIL_TARGETS, "/katalog"])
def test_add_to_cart_next(app: Flask, client: FlaskClient, target: str) -> None:
    product = make_product(title="Notställ", price_ore=30000)
    response = post_form(
        client,
        "/varukorg/lagg-till",
        {"product_id": str(product.id), "quantity": "1", "next": target},
        form_url=f"/produkt/{product.slug}",
    )
    _lands_on(response, "/katalog" if target == "/katalog" else "/varukorg/")


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "javascript:alert(1)"])
def test_visa_kod_next(app: Flask, client: FlaskClient, target: str) -> None:
    order = confirmed_order(lines=[(code_product("VISA-1"), 1)])
    token = orders.guest_order_token(order)
    page_url = f"/kvitto/{order.number}?t={token}"
    response = post_form(
        client,
        f"/kod/{order.lines[0].id}/visa",
        {"t": token, "next": target},
        form_url=page_url,
    )
    _lands_on(response, "/")


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/"])
def test_logout_goes_home_whatever_next_says(app: Flask, client: FlaskClient, target: str) -> None:
    make_customer(email="kund@example.se", password=PASSWORD)
    log_in(client, "kund@example.se")
    page = client.get("/konto/").get_data(as_text=True)

    response = client.post(
        "/konto/logga-ut",
        query_string={"next": target},
        data={"csrf_token": csrf_token_from(page), "next": target},
    )
    _lands_on(response, "/")
