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
        # Pooled connections are pinged before use only after sitting idle (shop/database.py).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
        "DATABASE_PING_IDLE_SECONDS": 1.0,
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
        # The withdrawal function's guest step (/angra) mails a personal link: keep it scarce.
        "RATELIMIT_WITHDRAWAL_GUEST": "5 per hour",
        # JSON log lines with a request ID (shop/web/ops.py). LOG_JSON None: on unless
        # TESTING; LOG_LEVEL None: INFO.
        "LOG_JSON": None,
        "LOG_LEVEL": None,
        "MAIL_BACKEND": "console",  # console | file | smtp
        "MAIL_FILE_DIR": str(Path(instance_path) / "mail"),
        "MAIL_FROM": "Notbutiken <order@notbutiken.example>",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": 25,
        "SMTP_USERNAME": "",
        "SMTP_PASSWORD": "",
        "SMTP_STARTTLS": False,
        "PASSWORD_RESET_MAX_AGE": 60 * 60,
        # Seconds the account-activation link mailed at registration works (once).
        "REGISTRATION_LINK_MAX_AGE": 24 * 60 * 60,
        "CATALOGUE_PAGE_SIZE": 24,
        # Seconds whole storefront pages are kept for anonymous visitors, per process
        # (shop/web/page_cache.py; prices and stock shown may lag this long). None: 10 s,
        # off under TESTING; 0: off.
        "PAGE_CACHE_SECONDS": None,
        "SHOP_NAME": "Notbutiken",
        "SHOP_BASE_URL": "http://127.0.0.1:5000",
        # Digital delivery (T8.1): files outside the web root, personal links' life and limit.
        "DOWNLOAD_DIR": str(Path(instance_path) / "downloads"),
        "DOWNLOAD_LINK_DAYS": 7,
        "DOWNLOAD_LIMIT": 5,
        # Complaints (T6): photos outside the web root, served through a view that checks access.
        "UPLOAD_DIR": str(Path(instance_path) / "uploads"),
        "COMPLAINT_PHOTO_MAX_BYTES": 5 * 1024 * 1024,
        "COMPLAINT_PHOTOS_MAX": 3,
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
        # Minutes an unpaid order keeps its stock before `flask orders expire`. At least
        # STRIPE_CHECKOUT_TTL_MINUTES, so that no payment page outlives its order.
        "ORDER_PAYMENT_TIMEOUT_MINUTES": 60,
        # Payments (issue 4, B). A method whose keys are empty is simply not offered.
        # PAYMENT_METHODS: the methods the shop may offer (when configured), in this order.
        "PAYMENT_METHODS": ["card", "swish", "klarna", "invoice", "sandbox"],
        "STRIPE_SECRET_KEY": "",
        "STRIPE_WEBHOOK_SECRET": "",
        "STRIPE_API_BASE": "",  # empty: https://api.stripe.com
        "STRIPE_PAYMENT_METHOD_TYPES": ["card"],  # add "swish", "klarna" when enabled at Stripe
        "STRIPE_CHECKOUT_TTL_MINUTES": 60,
        "KLARNA_USERNAME": "",
        "KLARNA_PASSWORD": "",
        "KLARNA_API_BASE": "",  # empty: Klarna's playground
        "KLARNA_NOTIFICATION_URL": "",
        "INVOICE_ENABLED": True,
        "INVOICE_CREDIT_CHECKER": "",  # "package.module:factory"; empty: the local rules
        "INVOICE_CREDIT_LIMIT_ORE": 5_000_000,
        "INVOICE_DENIED_ORG_NUMBERS": [],
        "PAYMENT_SANDBOX": None,  # None: on outside production; refused in production
        "PAYMENT_SANDBOX_URL": "/betalning/sandbox/{provider_reference}",
        "PAYMENT_SANDBOX_STATE_FILE": "",  # empty: in memory (one process)
        "PAYMENT_CONNECT_TIMEOUT": 3.0,
        "PAYMENT_READ_TIMEOUT": 20.0,
        "PAYMENT_MAX_RETRIES": 2,
        "PAYMENT_RETRY_BACKOFF": 0.5,
        # Retention policy (privacy.md R2, R4; shop/services/retention.py). Defaults are the
        # shop's policy; the law's floors (7 years of bookkeeping, 30 days) are enforced.
        "RETENTION_ACCOUNT_INACTIVE_YEARS": 3,
        "RETENTION_NEVER_BOUGHT_YEARS": 2,
        "RETENTION_BOOKKEEPING_YEARS": 7,
        "RETENTION_CREDIT_DATA_MONTHS": 3,
        "RETENTION_PARTICIPANT_MONTHS": 12,
        "RETENTION_CONSENT_PROOF_YEARS": 2,
        "RETENTION_MARKETING_MONTHS": 6,
        "RETENTION_DATA_REQUEST_YEARS": 3,
        "DATA_REQUEST_ACCESS_DAYS": 30,
        "DATA_REQUEST_ERASURE_DAYS": 7,
        # Records per sweeper batch: one transaction each (S5).
        "RETENTION_BATCH_SIZE": 1000,
        # Test hook for the interrupted-sweep test (S5): SIGKILL the sweep inside this batch.
        "RETENTION_TEST_KILL_IN_BATCH": None,
    }


def _flag(value: Any) -> bool:
    """A setting that may come from the environment as text ("true", "1", "on")."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def check_consistency(config: dict[str, Any]) -> None:
    """Refuse settings that contradict each other, in every environment."""
    timeout = int(config["ORDER_PAYMENT_TIMEOUT_MINUTES"])
    stripe_ttl = int(config["STRIPE_CHECKOUT_TTL_MINUTES"])
    if config.get("STRIPE_SECRET_KEY") and timeout < stripe_ttl:
        raise ConfigError(
            f"SHOP_ORDER_PAYMENT_TIMEOUT_MINUTES ({timeout}) must be at least "
            f"SHOP_STRIPE_CHECKOUT_TTL_MINUTES ({stripe_ttl}): otherwise a buyer could pay "
            "on Stripe's page for an order whose stock was already released."
        )


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
    # Payments (issue 4, B): no test payments, and no Stripe without verified webhooks.
    if _flag(config.get("PAYMENT_SANDBOX")):
        raise ConfigError(
            "The sandbox payment provider (test payments) is refused in production: "
            "unset SHOP_PAYMENT_SANDBOX and configure Stripe or Klarna."
        )
    if config.get("STRIPE_SECRET_KEY") and not config.get("STRIPE_WEBHOOK_SECRET"):
        raise ConfigError(
            "STRIPE_SECRET_KEY is set without STRIPE_WEBHOOK_SECRET: set "
            "SHOP_STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_…) "
            "so that webhooks can be verified."
        )
