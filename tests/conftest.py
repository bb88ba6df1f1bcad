"""Shared fixtures: one migrated database per test session, emptied after each test.

Web and service tests run on SQLite always and on PostgreSQL too when
``TEST_DATABASE_URL`` is set (the ``app`` fixture is parametrised by database).
Each PostgreSQL test session gets a database of its own, created from
``TEST_DATABASE_URL`` and dropped at the end, so parallel runs never collide.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, has_app_context
from flask.testing import FlaskClient, FlaskCliRunner

from shop import create_app
from shop.extensions import db
from shop.testing import scratch_postgres_database

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()


def _database_kinds() -> list[str]:
    return ["sqlite", "postgresql"] if TEST_DATABASE_URL else ["sqlite"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session (skips without one)."""
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests are off")
    with scratch_postgres_database(TEST_DATABASE_URL, prefix="shop_test") as url:
        yield url


def make_test_config(database_url: str, tmp_path: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "ENV": "testing",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_ENABLED": False,
        "MAIL_BACKEND": "memory",
        "SERVER_NAME": None,
        "SHOP_BASE_URL": "http://localhost",
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "DOWNLOAD_DIR": str(tmp_path / "downloads"),
    }


def _migrate(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


@pytest.fixture(scope="session", params=_database_kinds())
def _session_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("app")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'test.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    app = create_app(make_test_config(url, tmp))
    _migrate(app)
    yield app
    # Close pooled connections before postgres_url drops the database (else ResourceWarning).
    with app.app_context():
        db.engine.dispose()


def empty_database() -> None:
    """Delete every row, keeping the schema (and the alembic version)."""
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(_session_app: Flask) -> Iterator[Flask]:
    """The app on a migrated, empty database; emptied again after the test.

    The app is shared by the session, so a test may change ``app.config``
    freely: the configuration is restored afterwards.
    """
    saved_config = dict(_session_app.config)
    with _session_app.app_context():
        try:
            yield _session_app
        finally:
            _session_app.config.clear()
            _session_app.config.update(saved_config)
            db.session.rollback()
            empty_database()
            db.session.remove()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in an app context of its own.

    The ``app`` fixture keeps an app context open so tests can use the
    database directly; without this, requests would share its ``g`` (the
    logged-in user, the request's clock, the locale) as no real requests do.
    After each request the test's own session forgets what it had loaded, so
    it reads what the request wrote.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if has_app_context():
            db.session.expire_all()
        return response


def new_client(app: Flask) -> FlaskClient:
    """Another browser: a client with cookies of its own (for a second customer)."""
    return IsolatedClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return new_client(app)


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "the page has no CSRF token field"
    return match.group(1)


def post_form(
    client: FlaskClient,
    url: str,
    data: dict[str, Any] | None = None,
    *,
    form_url: str | None = None,
    follow_redirects: bool = False,
) -> Any:
    """Post a form the way a browser does: read the CSRF token from the form page first."""
    page = client.get(form_url or url)
    token = csrf_token_from(page.get_data(as_text=True))
    payload = dict(data or {})
    payload["csrf_token"] = token
    return client.post(url, data=payload, follow_redirects=follow_redirects)
