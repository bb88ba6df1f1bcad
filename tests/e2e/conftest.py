"""Browser tests: the real app on a live server, driven by Debian's headless Chromium.

The server runs in a background thread (werkzeug ``make_server``) on a fresh,
migrated SQLite database with the demo data loaded. Chromium is never
downloaded: the tests use /usr/bin/chromium (``make chromium`` installs it) and
are skipped without it, unless ``SHOP_REQUIRE_E2E=1`` (CI), when they fail.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from werkzeug.serving import make_server

from shop import create_app
from shop.config import PROJECT_ROOT
from shop.extensions import db
from tests.conftest import make_test_config

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def _unavailable(reason: str) -> None:
    if os.environ.get("SHOP_REQUIRE_E2E") == "1":
        pytest.fail(f"{reason} (SHOP_REQUIRE_E2E=1: the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app on a migrated SQLite database with the demo catalogue."""
    from flask_migrate import upgrade

    tmp = tmp_path_factory.mktemp("e2e")
    app = create_app(make_test_config(f"sqlite:///{tmp / 'e2e.sqlite3'}", tmp))
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, f"flask demo load failed:\n{result.output}{result.exception!r}"
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app: Flask) -> Iterator[str]:
    """Base URL of the app served on 127.0.0.1 from a background thread."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    live_app.config["SHOP_BASE_URL"] = base_url
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A fresh browser context (own cookies, Swedish) per test."""
    context = browser.new_context(
        base_url=live_server, locale="sv-SE", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    assert not errors, "the browser reported errors:\n" + "\n".join(errors)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot to test-artifacts/<name>.png (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # Scroll through once so lazy images load, as they would for a reader.
    height = page.evaluate("document.documentElement.scrollHeight")
    for y in range(0, height, 600):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(30)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=True)
    return path
