"""Configuration: production refuses development defaults; gunicorn serves ``wsgi:app``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from shop import create_app
from shop.config import DEV_SECRET_KEY, PROJECT_ROOT, ConfigError, database_url_from_env
from shop.extensions import db
from tests.conftest import make_test_config

GOOD_SECRET = "0123456789abcdef0123456789abcdef-production"
PG_URL = "postgresql+psycopg://shop@db.example/shop"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SHOP_* or DATABASE_URL from the caller's shell; the instance folder in tmp."""
    for name in list(os.environ):
        if name.startswith("SHOP_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHOP_INSTANCE_PATH", str(tmp_path / "instance"))


def _production(**overrides: Any) -> dict[str, Any]:
    config = {"ENV": "production", "SECRET_KEY": GOOD_SECRET, "SQLALCHEMY_DATABASE_URI": PG_URL}
    config.update(overrides)
    return config


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ConfigError, match="SHOP_SECRET_KEY.*at least 32 characters"):
        create_app(_production(SECRET_KEY=DEV_SECRET_KEY))


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ConfigError, match="SHOP_SECRET_KEY.*at least 32 characters"):
        create_app(_production(SECRET_KEY="x" * 31))


def test_production_refuses_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL pointing at PostgreSQL"):
        create_app(_production(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.sqlite3'}"))


def test_production_starts_with_a_long_secret_and_postgresql() -> None:
    app = create_app(_production(SECRET_KEY="k" * 32))
    assert app.config["ENV"] == "production"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_development_runs_on_defaults() -> None:
    """Without SHOP_ENV the shop runs in development on SQLite and the development key."""
    app = create_app()
    assert app.config["ENV"] == "development"
    assert app.config["SECRET_KEY"] == DEV_SECRET_KEY
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_production_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SHOP_ENV, SHOP_SECRET_KEY and DATABASE_URL are read by ``from_prefixed_env``."""
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.setenv("SHOP_SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgres://shop:pw@db.example:5433/shop")
    app = create_app()
    assert app.config["ENV"] == "production"
    assert app.config["SECRET_KEY"] == GOOD_SECRET
    assert app.config["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://shop:pw@db.example:5433/shop"
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_production_from_the_environment_without_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop@db.example/shop")
    with pytest.raises(ConfigError, match="SHOP_SECRET_KEY"):
        create_app()


def test_production_from_the_environment_without_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.setenv("SHOP_SECRET_KEY", GOOD_SECRET)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("  postgresql://u@h/d \n", "postgresql+psycopg://u@h/d"),
    ],
)
def test_database_url_gets_the_psycopg_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    assert database_url_from_env("/srv/instance") == expected


def test_database_url_defaults_to_the_instance_sqlite_file() -> None:
    assert database_url_from_env("/srv/instance") == "sqlite:////srv/instance/shop.sqlite3"


def _clean_subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "SHOP_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    env.update(extra)
    return env


def test_wsgi_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    """``gunicorn wsgi:app`` runs in production: no SHOP_SECRET_KEY, no start."""
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=PROJECT_ROOT,
        env=_clean_subprocess_env(tmp_path, DATABASE_URL="postgresql://shop@127.0.0.1:1/shop"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ConfigError" in result.stderr
    assert "Production needs SHOP_SECRET_KEY" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(proc: subprocess.Popen[bytes], port: int, timeout: float = 30.0) -> None:
    """Poll until gunicorn listens (a process start, not a time rule: no time-machine here)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"gunicorn did not listen on port {port} within {timeout} s")


@pytest.fixture
def migrated_postgres(postgres_url: str, tmp_path: Path) -> str:
    """The session's PostgreSQL database, migrated (a no-op when the app fixture already did)."""
    from flask_migrate import upgrade

    app = create_app(make_test_config(postgres_url, tmp_path))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return postgres_url


@pytest.mark.postgres
def test_gunicorn_serves_wsgi_app(migrated_postgres: str, tmp_path: Path) -> None:
    """A production start: gunicorn, a generated secret, DATABASE_URL as hosts write it."""
    url = sa.engine.make_url(migrated_postgres)
    database_url = url.set(drivername="postgres").render_as_string(hide_password=False)
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=PROJECT_ROOT,
            env=_clean_subprocess_env(
                tmp_path, SHOP_SECRET_KEY=os.urandom(32).hex(), DATABASE_URL=database_url
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                _wait_for_port(proc, port)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{log.read_text(errors='replace')}") from None
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
                status = response.status
                headers = response.headers
                body = response.read().decode()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert status == 200, log.read_text(errors="replace")
    assert "Notbutiken" in body
    assert headers["Strict-Transport-Security"].startswith("max-age=")


# --- Payments (issue 4, B) ------------------------------------------------------------------------


def test_production_refuses_the_sandbox_payment_provider() -> None:
    """Test payments never run in production."""
    with pytest.raises(ConfigError, match="sandbox payment provider"):
        create_app(_production(PAYMENT_SANDBOX=True))


def test_production_refuses_the_sandbox_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.setenv("SHOP_SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop@db.example/shop")
    monkeypatch.setenv("SHOP_PAYMENT_SANDBOX", "true")
    with pytest.raises(ConfigError, match="sandbox"):
        create_app()


def test_production_offers_no_sandbox_by_default() -> None:
    app = create_app(_production())
    assert "sandbox" not in app.extensions["payments"].provider_names


def test_development_offers_the_sandbox_with_no_keys() -> None:
    app = create_app()
    assert "sandbox" in app.extensions["payments"].provider_names


def test_production_refuses_a_stripe_key_without_webhook_secret() -> None:
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        create_app(_production(STRIPE_SECRET_KEY="sk_live_0123456789"))


def test_production_starts_with_stripe_key_and_webhook_secret() -> None:
    app = create_app(
        _production(STRIPE_SECRET_KEY="sk_live_0123456789", STRIPE_WEBHOOK_SECRET="whsec_0123")
    )
    assert "stripe" in app.extensions["payments"].provider_names


def test_a_stripe_page_may_not_outlive_its_order(tmp_path: Path) -> None:
    """The order's payment window covers Stripe's session, or stock could be sold twice."""
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'c.sqlite3'}",
        "STRIPE_SECRET_KEY": "sk_test_x",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "STRIPE_CHECKOUT_TTL_MINUTES": 60,
        "ORDER_PAYMENT_TIMEOUT_MINUTES": 59,
    }
    with pytest.raises(ConfigError, match="ORDER_PAYMENT_TIMEOUT_MINUTES"):
        create_app(config)
    config["ORDER_PAYMENT_TIMEOUT_MINUTES"] = 60
    assert create_app(config).config["ORDER_PAYMENT_TIMEOUT_MINUTES"] == 60
