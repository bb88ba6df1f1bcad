"""Configuration: safe defaults, then the environment.

Settings come from ``SHOP_*`` variables (``SHOP_SECRET_KEY`` becomes
``SECRET_KEY``; values are parsed as JSON where they can be) and the database
from ``DATABASE_URL``. Production (``SHOP_ENV=production``, the default under
gunicorn through ``wsgi.py``) refuses to start with the development secret.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - a marker production refuses

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The configuration cannot run the shop; the message says what to set."""


def database_url_from_env(instance_path: str) -> str:
    """``DATABASE_URL`` with the psycopg 3 driver, or the instance SQLite file."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "shop.sqlite3")
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def defaults(instance_path: str) -> dict[str, Any]:
    """Everything the shop needs to run in development, on SQLite, with no keys."""
    return {
        "ENV": "development",
        "SECRET_KEY": DEV_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url_from_env(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SQLALCHEMY_RECORD_QUERIES": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": 60 * 60 * 24 * 30,
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 24 * 14,
        "WTF_CSRF_TIME_LIMIT": 60 * 60 * 8,
        "BABEL_DEFAULT_LOCALE": "sv",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Stockholm",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        "LANGUAGES": ["sv", "en"],
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_LOGIN": "10 per minute;50 per hour",
        "RATELIMIT_REGISTER": "10 per hour",
        "RATELIMIT_RESET": "5 per hour",
        "RATELIMIT_SEARCH": "120 per minute",
        "MAIL_BACKEND": "console",  # console | file | smtp
        "MAIL_FILE_DIR": str(Path(instance_path) / "mail"),
        "MAIL_FROM": "Notbutiken <order@notbutiken.example>",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": 25,
        "SMTP_USERNAME": "",
        "SMTP_PASSWORD": "",
        "SMTP_STARTTLS": False,
        "PASSWORD_RESET_MAX_AGE": 60 * 60,
        "CATALOGUE_PAGE_SIZE": 24,
        "SHOP_NAME": "Notbutiken",
        "SHOP_BASE_URL": "http://127.0.0.1:5000",
        "SELLER": {
            "name": "Notbutiken i Norden AB",
            "street": "Musikgatan 12",
            "postcode": "411 01",
            "city": "Göteborg",
            "org_number": "556677-8899",
            "vat_number": "SE556677889901",
            "email": "kundservice@notbutiken.example",
            "phone": "031-12 34 56",
            "bankgiro": "123-4567",
        },
    }


def check_production(config: dict[str, Any]) -> None:
    """Refuse to run production on development defaults (secrets only from the environment)."""
    if config.get("ENV") != "production":
        return
    secret = str(config.get("SECRET_KEY") or "")
    if secret == DEV_SECRET_KEY or len(secret) < 32:
        raise ConfigError(
            "Production needs SHOP_SECRET_KEY: a random value of at least 32 characters, "
            "e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`."
        )
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        raise ConfigError("Production needs DATABASE_URL pointing at PostgreSQL.")
