"""Error pages in the shop's style; a CSRF failure explains itself kindly."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from shop.extensions import db


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
        db.session.rollback()
        return render_template("errors/500.html"), 500
