"""Operations: ``/healthz`` for load balancers, and one JSON log line per request.

``/healthz`` answers ``{"status": "ok", "database": "ok"}`` with 200 when the
app runs and the database answers ``SELECT 1``, else 503 with
``"database": "unavailable"``. It needs no login, sets no cookie, is never
rate limited and never cached (``Cache-Control: no-store``).

Every request gets a request ID: the incoming ``X-Request-ID`` when it is well
formed (:data:`REQUEST_ID_RE`), else a new random one. It is sent back in the
``X-Request-ID`` header and attached to every log record written while the
request runs, error logs included. When the request ends, the logger
``shop.request`` writes one line: method, path, endpoint, status, duration in
milliseconds and request ID. Personal data stays out: no query string (it may
hold e-mails or tokens), and link tokens in the path (password reset, account
activation, guest orders, downloads) are replaced by ``…``, as is any path
segment that holds an ``@`` and any segment of an unknown URL long enough to be
a token.

With ``LOG_JSON`` on (None, the default, means on unless ``TESTING``), the
``shop`` loggers write JSON lines (:class:`JsonFormatter`) to standard error at
``LOG_LEVEL`` (default INFO), and no longer hand records to the root logger.
Under tests nothing is configured: caplog sees the records.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, g, has_request_context, jsonify, request
from flask.logging import default_handler
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from shop.extensions import db, limiter

bp = Blueprint("ops", __name__)

log = logging.getLogger("shop.request")

#: A well-formed incoming request ID: 8 to 128 letters, digits and ``._:-``.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{8,128}")
REQUEST_ID_HEADER = "X-Request-ID"
#: Shown instead of a secret or personal path segment.
REDACTED = "…"
#: An unknown URL's path segment at least this long may be a token: not logged.
LONG_SEGMENT = 24
#: Fields of a log record that the JSON formatter writes when present.
EXTRA_FIELDS = ("request_id", "method", "path", "endpoint", "status", "duration_ms")


@bp.get("/healthz")
@limiter.exempt
def healthz() -> tuple[Response, int]:
    """The app runs and the database answers: 200, else 503 (JSON, no login)."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("health check: the database does not answer", exc_info=True)
        database = "unavailable"
    healthy = database == "ok"
    body = {"status": "ok" if healthy else "unavailable", "database": database}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if healthy else 503


def request_id() -> str | None:
    """The current request's ID (None outside a request)."""
    if not has_request_context():
        return None
    return g.get("request_id")


def _incoming_or_new_id() -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    if REQUEST_ID_RE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def loggable_path() -> str:
    """The request path without secrets or personal data (see the module docstring)."""
    path = request.path
    known = request.url_rule is not None
    if known:
        for name, value in (request.view_args or {}).items():
            if "token" in name or "email" in name:
                path = path.replace(str(value), REDACTED)
    return "/".join(
        REDACTED if "@" in segment or (not known and len(segment) >= LONG_SEGMENT) else segment
        for segment in path.split("/")
    )


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record written during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id()
        return True


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (it may be replaced)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in EXTRA_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(app: Flask) -> None:
    """JSON lines from the ``shop`` loggers to standard error (``LOG_JSON``, ``LOG_LEVEL``)."""
    shop_logger = logging.getLogger("shop")
    if not any(isinstance(f, RequestIdFilter) for f in app.logger.filters):
        app.logger.filters.append(RequestIdFilter())
    json_lines = app.config.get("LOG_JSON")
    if not (not app.testing if json_lines is None else json_lines):
        return
    shop_logger.setLevel(str(app.config.get("LOG_LEVEL") or "INFO").upper())
    app.logger.removeHandler(default_handler)
    if not any(isinstance(h.formatter, JsonFormatter) for h in shop_logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        shop_logger.addHandler(handler)
        shop_logger.propagate = False  # one line per record, whatever the root logger does


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    configure_logging(app)

    @app.before_request
    def start_request() -> None:
        g.request_id = _incoming_or_new_id()
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        rid = g.get("request_id") or _incoming_or_new_id()
        response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        log.info(
            "%s %s %s",
            request.method,
            loggable_path(),
            response.status_code,
            extra={
                "request_id": rid,
                "method": request.method,
                "path": loggable_path(),
                "endpoint": request.endpoint,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response

    def log_exception(exc_info: Any) -> None:
        # Flask's own message names request.path, which may hold a link token.
        app.logger.error(
            "Exception on %s [%s]",
            loggable_path(),
            request.method,
            exc_info=exc_info,
            extra={"request_id": request_id()},
        )

    app.log_exception = log_exception  # type: ignore[method-assign]
