"""Error pages in the shop's style; a CSRF failure explains itself kindly.

When the database cannot be reached (restarted, failed over, out of
connections) the visitor gets a 503 page that says so in Swedish and asks
them to try again shortly, with ``Retry-After``; the pool reconnects by itself
once the database is back (a connection that sat idle is pinged before use, and a
failure invalidates the pool's older connections: shop/database.py). A connection the database
cut after the answer was made is dropped quietly at the end of the request
instead of turning a finished answer into a 500.
"""

from __future__ import annotations

import logging

from flask import Flask, g, render_template
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from shop.extensions import db, login_manager

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait before trying again while the database is away.
DATABASE_RETRY_AFTER = 30


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
        code = error.code or 500
        if code in (400, 403, 404, 405, 429):
            return render_template(f"errors/{code}.html", error=error), code
        return error

    @app.errorhandler(500)
    def server_error(error: Exception) -> tuple[str, int]:
        # A failed statement leaves the session unusable (PostgreSQL aborts the
        # transaction); the page must not depend on it.
        _reset_session()
        return render_template("errors/500.html"), 500

    @app.teardown_appcontext
    def close_session(error: BaseException | None) -> None:
        # Runs before Flask-SQLAlchemy's own teardown (teardowns run last-registered first).
        # A connection the database cut after the answer was made (a restart) must not turn
        # a finished request into a 500 while the session is closed: drop it instead.
        if not db.session.registry.has():
            return  # the request never used the database
        try:
            db.session.close()
        except SQLAlchemyError as lost:
            log.warning("database connection lost at the end of a request: %s", lost.__class__)
            db.session().invalidate()

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(error: SQLAlchemyError) -> tuple[str, int, dict[str, str]]:
        log.error("database unavailable: %s", str(error).splitlines()[0][:300])
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
        _forget_database_state()
        try:
            return render_template("errors/503.html"), 503, headers
        except SQLAlchemyError:  # something in the page still needed the database
            _reset_session()
            return FALLBACK_503, 503, headers


#: The 503 page's words without the layout, should even rendering need the database.
FALLBACK_503 = (
    '<!doctype html><html lang="sv"><meta charset="utf-8"><title>Butiken är tillfälligt '
    "otillgänglig</title><h1>Butiken är tillfälligt otillgänglig</h1><p>Vi har ett kort "
    "avbrott just nu. Inget har gått förlorat; försök igen om en liten stund.</p></html>"
)


def _reset_session() -> None:
    """Roll back; when even that fails (the connection is gone), drop the connection."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session().invalidate()


def _forget_database_state() -> None:
    """Make the error page renderable without the database.

    The failed transaction is rolled back (a dead connection is dropped; the
    pool opens a new one later), the language is settled while the customer
    can still be read, and otherwise the page is shown as to a visitor; the
    header's categories are not asked for again.
    """
    _reset_session()
    try:
        get_locale()  # a logged-in customer's language needs the customer (a query)
    except SQLAlchemyError:
        _reset_session()
        g._login_user = login_manager.anonymous_user()
    g.setdefault("_nav_categories", [])
