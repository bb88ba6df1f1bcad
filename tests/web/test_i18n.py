"""Languages: Swedish is the source and the default, English the second language."""

from __future__ import annotations

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

from shop.extensions import babel, db
from shop.models import Customer
from tests.conftest import post_form

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
    }
    with app.test_request_context("/"):
        session["lang"] = "en"
        refresh()
        for swedish, english_word in glossary.items():
            assert gettext(swedish) == english_word
