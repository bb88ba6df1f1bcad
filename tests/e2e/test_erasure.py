"""R4.1 and R4.3 in a real browser: a customer downloads the register extract, then erases the
account and can no longer log in."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from shop.extensions import db
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, make_customer

pytestmark = pytest.mark.e2e

EMAIL = "radera-mig@example.se"


def _log_in(page: Page) -> None:
    page.goto("/konto/logga-in")
    page.get_by_label("E-postadress").fill(EMAIL)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()


def test_r4_1_r4_3_a_customer_downloads_the_extract_then_erases_the_account(
    page: Page, live_app: Flask
) -> None:
    with live_app.app_context():
        make_customer(email=EMAIL, name="Rut Raderad")
        db.session.remove()
    _log_in(page)
    expect(page.get_by_role("heading", name="Mitt konto")).to_be_visible()
    page.get_by_role("link", name="Ladda ner mina uppgifter").click()
    expect(page.get_by_role("heading", name="Mina uppgifter")).to_be_visible()
    expect(page.get_by_text(EMAIL).first).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Ladda ner mina uppgifter").click()
    download = download_info.value
    assert download.suggested_filename.startswith("registerutdrag-")
    extract = json.loads(download.path().read_text(encoding="utf-8"))
    assert extract["sections"]["account"]["email"] == EMAIL
    assert extract["sections"]["account"]["name"] == "Rut Raderad"
    page.goto("/konto/")
    page.get_by_role("link", name="Radera mitt konto och mina personuppgifter").click()
    page.get_by_label("Ditt lösenord").fill(PASSWORD)
    page.get_by_label("Jag förstår att kontot inte kan återställas.").check()
    page.get_by_role("button", name="Radera mitt konto").click()
    expect(page.get_by_role("heading", name="Ditt konto är raderat")).to_be_visible()
    screenshot(page, "account-erased")

    _log_in(page)
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    expect(page.get_by_role("heading", name="Mitt konto")).to_have_count(0)
