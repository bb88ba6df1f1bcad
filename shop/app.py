"""The application factory.

``create_app`` wires it in a fixed order: configuration → extensions → clock →
payment providers → blueprints → CLI → error pages.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from shop.config import PROJECT_ROOT, check_consistency, check_production, defaults


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application. ``test_config`` overrides everything (tests only)."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("SHOP_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(defaults(app.instance_path))
    app.config.from_prefixed_env("SHOP")
    if test_config:
        app.config.from_mapping(test_config)
    check_consistency(app.config)
    check_production(app.config)
    if app.config["ENV"] == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True

    from shop import database, extensions
    from shop.services import bookkeeping

    extensions.db.init_app(app)
    with app.app_context():
        database.ping_idle_connections(
            extensions.db.engine, float(app.config["DATABASE_PING_IDLE_SECONDS"])
        )
    extensions.migrate.init_app(
        app, extensions.db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True
    )
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    bookkeeping.init_app(app)  # issued receipts/invoices are immutable (R2.3)

    from shop.web import ops

    ops.init_app(app)  # /healthz, request IDs, one JSON log line per request (issue 8)

    from shop.web import auth, i18n

    auth.init_app(app)
    i18n.init_app(app)

    from shop.services import payments

    payments.build_registry(app)

    from shop.web import register_blueprints

    register_blueprints(app)

    from shop import cli

    cli.init_app(app)

    from shop.web import errors, security

    errors.init_app(app)
    security.init_app(app)
    return app
