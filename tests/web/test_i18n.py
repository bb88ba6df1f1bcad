"""Languages: Swedish is the source and the default, English the second language."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from flask import Flask, session
from flask.testing import FlaskClient
from flask_babel import gettext, refresh

from shop.domain.buyers import BuyerKind
from shop.domain.delivery import unclaimed_parcel_charges, undeliverable_parcel_charge
from shop.domain.invoices import invoice_fee_line
from shop.domain.policy import DEFAULT_POLICY
from shop.extensions import babel, db
from shop.models import Customer, OutboxMessage
from shop.payments import errors
from shop.payments.registry import build_registry
from shop.services import accounts, fulfilment
from tests.conftest import post_form
from tests.factories import NOW, make_customer, make_order, make_product

PO_FILE = Path(__file__).resolve().parents[2] / "shop/translations/en/LC_MESSAGES/messages.po"


@pytest.fixture
def english(app: Flask, tmp_path: Path) -> Iterator[None]:
    """Compile the English catalog into a temporary directory and use it.

    The tests do not depend on a ``make translations`` run: the ``.po`` file
    in the repository is what they check.
    """
    target = tmp_path / "translations" / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with PO_FILE.open("rb") as po, (target / "messages.mo").open("wb") as mo:
        write_mo(mo, read_po(po, locale="en"))
    config = app.extensions["babel"]
    saved = config.translation_directories
    config.translation_directories = [str(tmp_path / "translations")]
    babel.domain_instance.cache.clear()
    try:
        yield
    finally:
        config.translation_directories = saved
        babel.domain_instance.cache.clear()


def page(client: FlaskClient, url: str) -> str:
    """GET a page as a fresh request would see it.

    The ``app`` fixture keeps one application context open for the whole
    test, so ``g`` (where Flask-Babel caches the locale) outlives a request;
    ``refresh()`` forgets the cached locale as a new request would.
    """
    refresh()
    return str(client.get(url).get_data(as_text=True))


def switch_language(client: FlaskClient, lang: str, next_url: str = "/") -> None:
    refresh()
    response = post_form(client, "/sprak", {"lang": lang, "next": next_url}, form_url=next_url)
    assert response.status_code == 303
    assert response.headers["Location"] == next_url
    refresh()


def test_swedish_is_the_default(client: FlaskClient) -> None:
    html = page(client, "/")
    assert '<html lang="sv">' in html
    for text in ("Logga in", "Skapa konto", "Varukorg", ">Sök<", "Köpvillkor", "Integritetspolicy"):
        assert text in html
    assert 'aria-pressed="true">Svenska' in html


def test_switching_to_english_shows_english_on_the_home_page(
    client: FlaskClient, english: None
) -> None:
    switch_language(client, "en", "/")
    html = page(client, "/")
    assert '<html lang="en">' in html
    for text in ("Log in", "Create account", "Cart", ">Search<", "Terms of purchase"):
        assert text in html
    assert "Logga in" not in html
    assert 'aria-pressed="true">English' in html
    with client.session_transaction() as sess:
        assert sess["lang"] == "en"


def test_switching_to_english_on_a_page_without_products(
    client: FlaskClient, english: None
) -> None:
    switch_language(client, "en", "/kopvillkor")
    html = page(client, "/kopvillkor")
    assert "<title>Terms of purchase · " in html
    assert "only available in Swedish" in html
    assert "Privacy policy" in html


def test_english_error_pages(client: FlaskClient, english: None) -> None:
    switch_language(client, "en", "/")
    refresh()
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_switching_back_to_swedish(client: FlaskClient, english: None) -> None:
    switch_language(client, "en", "/")
    switch_language(client, "sv", "/integritet")
    html = page(client, "/integritet")
    assert '<html lang="sv">' in html
    assert "Logga in" in html


def test_swedish_works_without_any_compiled_catalog(app: Flask, client: FlaskClient) -> None:
    config = app.extensions["babel"]
    saved = config.translation_directories
    config.translation_directories = [str(Path(app.instance_path) / "no-translations-here")]
    babel.domain_instance.cache.clear()
    try:
        switch_language(client, "en", "/")
        refresh()
        response = client.get("/")
        assert response.status_code == 200
        assert "Logga in" in response.get_data(as_text=True)  # msgids are Swedish
    finally:
        config.translation_directories = saved
        babel.domain_instance.cache.clear()


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_the_language_switch_only_redirects_within_the_shop(
    client: FlaskClient, next_url: str
) -> None:
    response = post_form(client, "/sprak", {"lang": "en", "next": next_url}, form_url="/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_the_language_switch_keeps_the_query_string(client: FlaskClient) -> None:
    response = post_form(
        client, "/sprak", {"lang": "en", "next": "/sok?q=Alfv%C3%A9n"}, form_url="/"
    )
    assert response.headers["Location"] == "/sok?q=Alfv%C3%A9n"


def test_the_page_tells_the_switch_where_to_come_back(client: FlaskClient) -> None:
    html = page(client, "/kopvillkor")
    assert 'name="next" value="/kopvillkor"' in html


def test_an_unknown_language_is_ignored(client: FlaskClient) -> None:
    post_form(client, "/sprak", {"lang": "de", "next": "/"}, form_url="/")
    with client.session_transaction() as sess:
        assert "lang" not in sess
    assert '<html lang="sv">' in page(client, "/")


def _log_in_customer(client: FlaskClient, language: str) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    customer = Customer(
        email="eva@example.se",
        name="Eva Svensson",
        kind="consumer",
        created_at=now,
        adult_confirmed_at=now,
        pseudonym="K-TEST0001",
        language=language,
    )
    db.session.add(customer)
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = customer.get_id()
        sess["_fresh"] = True


def test_a_logged_in_customers_language_is_the_default(client: FlaskClient, english: None) -> None:
    _log_in_customer(client, "en")
    html = page(client, "/")
    assert '<html lang="en">' in html
    assert "My account" in html


def test_the_session_choice_wins_over_the_customers_language(
    client: FlaskClient, english: None
) -> None:
    _log_in_customer(client, "en")
    switch_language(client, "sv", "/")
    html = page(client, "/")
    assert '<html lang="sv">' in html
    assert "Mitt konto" in html


def _load_check_script() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "check-translations"
    loader = SourceFileLoader("check_translations", str(path))
    module = ModuleType(loader.name)
    module.__file__ = str(path)
    loader.exec_module(module)
    return module


def _write_po(path: Path, entries: list[tuple[str, str]], *, fuzzy: str | None = None) -> None:
    catalog = Catalog(locale="en")
    for msgid, msgstr in entries:
        catalog.add(msgid, msgstr, flags=("fuzzy",) if msgid == fuzzy else ())
    with path.open("wb") as fh:
        write_po(fh, catalog)


def test_the_translation_check_finds_missing_empty_and_fuzzy_messages(tmp_path: Path) -> None:
    check = _load_check_script()
    template = tmp_path / "messages.pot"
    _write_po(template, [("Sök", ""), ("Varukorg", ""), ("Logga in", ""), ("Kassa", "")])
    catalog = tmp_path / "messages.po"
    _write_po(
        catalog,
        [("Sök", "Search"), ("Varukorg", ""), ("Kassa", "Checkout?")],
        fuzzy="Kassa",
    )
    assert check.missing_translations(template, catalog) == ["Varukorg", "Logga in", "Kassa"]
    _write_po(
        catalog,
        [("Sök", "Search"), ("Varukorg", "Cart"), ("Logga in", "Log in"), ("Kassa", "Checkout")],
    )
    assert check.missing_translations(template, catalog) == []


def test_the_english_catalog_has_no_empty_or_fuzzy_entries() -> None:
    with PO_FILE.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    assert len(catalog) > 100
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), message.id
        assert not message.fuzzy, message.id


def test_glossary_words_are_translated_exactly(english: None, app: Flask) -> None:
    """The glossary's English column, word for word."""
    glossary = {
        "Sök": "Search",
        "Lägg i varukorgen": "Add to cart",
        "Varukorg": "Cart",
        "Till kassan": "Go to checkout",
        "Logga in": "Log in",
        "Logga ut": "Log out",
        "Skapa konto": "Create account",
        "Mitt konto": "My account",
        "Mina ordrar": "My orders",
        "Kassa": "Checkout",
        "Jag har läst och godkänner köpvillkoren": "I have read and accept the terms of purchase",
        "Slutför köp": "Place order",
        "Tack för din beställning": "Thank you for your order",
        "Ångra köpet": "Withdraw from the purchase",
        "Bekräfta ångrande": "Confirm withdrawal",
        "Ordernummer": "Order number",
        "Kvitto": "Receipt",
        "Faktura": "Invoice",
        "Fakturaavgift": "Invoice fee",
        "Förfallodatum": "Due date",
        "OCR-nummer": "OCR reference",
        "Inkasso": "Debt collection",
        "Nedladdning": "Download",
        "Ångerrätt": "Right of withdrawal",
        "Sista dag att ångra": "Last day to withdraw",
    }
    with app.test_request_context("/"):
        session["lang"] = "en"
        refresh()
        for swedish, english_word in glossary.items():
            assert gettext(swedish) == english_word


# --- The new pages: cart, checkout, mail, run-time labels ----------------------------------


def _cart_with_one_product(client: FlaskClient) -> None:
    product = make_product()
    refresh()
    response = post_form(
        client,
        "/varukorg/lagg-till",
        {"product_id": product.id, "quantity": 1},
        form_url="/varukorg/",
    )
    assert response.status_code == 302


def test_cart_and_checkout_speak_swedish_by_default(client: FlaskClient) -> None:
    _cart_with_one_product(client)
    cart = page(client, "/varukorg/")
    assert "<h1>Varukorg</h1>" in cart
    assert "Till kassan" in cart
    checkout = page(client, "/kassa/kopare")
    assert '<html lang="sv">' in checkout
    assert "<h1>Kassa</h1>" in checkout
    for text in ("Köpare", "Fortsätt", "Tillbaka till varukorgen"):
        assert text in checkout


def test_cart_and_checkout_speak_english_in_english(client: FlaskClient, english: None) -> None:
    """The glossary's words: Cart, Go to checkout, Checkout."""
    switch_language(client, "en", "/varukorg/")
    _cart_with_one_product(client)
    cart = page(client, "/varukorg/")
    assert "<h1>Cart</h1>" in cart
    assert "Go to checkout" in cart
    assert "Till kassan" not in cart
    checkout = page(client, "/kassa/kopare")
    assert '<html lang="en">' in checkout
    assert "<title>Checkout · " in checkout
    assert "<h1>Checkout</h1>" in checkout
    for text in ("Buyer", "Continue", "Back to the cart", "Checkout steps"):
        assert text in checkout
    for swedish in ("Kassa<", "Köpare", "Fortsätt", "Tillbaka till varukorgen"):
        assert swedish not in checkout


def test_the_order_confirmation_is_in_the_orders_language(app: Flask, english: None) -> None:
    """Rendered with the order's language, whatever the current request speaks."""
    english_order = make_order(email="en@example.se", language="en")
    fulfilment.confirm_order(english_order, now=NOW)
    swedish_order = make_order(email="sv@example.se")
    fulfilment.confirm_order(swedish_order, now=NOW)
    db.session.commit()
    mails = {m.to_address: m for m in db.session.query(OutboxMessage)}
    sent_en = mails["en@example.se"]
    assert sent_en.subject == f"Order confirmation for order {english_order.number}"
    for body in (sent_en.body_text, sent_en.body_html or ""):
        assert "Thank you for your order at" in body
        assert "Order number" in body
        assert "right of withdrawal" in body.lower()
        assert "Withdraw from the purchase" in body
        assert "Tack för din beställning" not in body
    assert '<html lang="en">' in (sent_en.body_html or "")
    sent_sv = mails["sv@example.se"]
    assert sent_sv.subject == f"Orderbekräftelse för order {swedish_order.number}"
    assert "Tack för din beställning hos" in sent_sv.body_text
    assert "ÅNGERRÄTT" in sent_sv.body_text


def test_the_password_reset_mail_is_in_the_customers_language(app: Flask, english: None) -> None:
    customer = make_customer(email="eng@example.se", language="en")
    message = accounts.request_password_reset(
        customer.email, now=NOW, max_age_seconds=3600, link_for=lambda t: f"https://x.example/{t}"
    )
    assert message is not None
    stored = db.session.get(OutboxMessage, message.id)
    assert stored is not None
    assert stored.subject == "Reset your password"
    assert "Choose a new password here" in stored.body_text
    assert "The link works once and for 60 minutes." in stored.body_text
    assert "Välj ett nytt lösenord" not in stored.body_text


def _english_msgstr(msgid: str) -> str:
    with PO_FILE.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    message = catalog.get(msgid)
    assert message is not None, f"{msgid!r} is not in the English catalog"
    assert not message.fuzzy, msgid
    return str(message.string)


def test_labels_and_payment_errors_from_domain_and_payments_are_translated() -> None:
    """shop/domain and shop/payments speak Swedish only; pages translate their words at
    run time (``_(option.label_sv)``), so each must be a translated msgid
    (listed in shop/translations/runtime_messages.py)."""
    texts = [DEFAULT_POLICY.delivery.letter.label_sv]
    texts += [parcel.label_sv for parcel in DEFAULT_POLICY.delivery.parcels]
    texts += [fee.label_sv for fee in unclaimed_parcel_charges(100, 100, policy=DEFAULT_POLICY)]
    texts += [undeliverable_parcel_charge(100, policy=DEFAULT_POLICY).label_sv]
    texts += [invoice_fee_line().label_sv]
    base = {"SECRET_KEY": "k", "PAYMENT_SANDBOX": True}
    stripe = {"STRIPE_SECRET_KEY": "sk", "STRIPE_WEBHOOK_SECRET": "wh"}
    configs = [
        {**base, **stripe, "STRIPE_PAYMENT_METHOD_TYPES": ["card", "swish", "klarna"]},
        {**base, "KLARNA_USERNAME": "u", "KLARNA_PASSWORD": "p"},
    ]
    for config in configs:
        for method in build_registry(config).available_methods(BuyerKind.ORGANISATION):
            texts += [method.label_sv, method.description_sv]
    texts += [
        cls.default_message
        for cls in vars(errors).values()
        if inspect.isclass(cls) and issubclass(cls, errors.PaymentError)
    ]
    assert len(texts) > 25
    for text in texts:
        assert _english_msgstr(text).strip(), text


def test_templates_follow_a_forced_locale_and_come_back(app: Flask, english: None) -> None:
    """Templates look the translations up once per locale (shop.web.i18n.current_translations):
    a mail in the recipient's language inside a Swedish request, then Swedish again."""
    from flask import render_template_string
    from flask_babel import force_locale

    template = "{{ _('Sök') }}|{{ ngettext('%(num)d vara', '%(num)d varor', 2) }}"
    with app.test_request_context("/"):
        refresh()
        swedish = render_template_string(template)
        with force_locale("en"):
            english_text = render_template_string(template)
        again = render_template_string(template)
        session["lang"] = "en"
        refresh()
        switched = render_template_string(template)
    assert swedish.startswith("Sök|")
    assert english_text.startswith("Search|")
    assert again == swedish
    assert switched == english_text
