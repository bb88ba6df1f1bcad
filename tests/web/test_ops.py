"""Operations (issue 8): /healthz, request IDs and one JSON log line per request."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from shop import create_app
from shop.extensions import db, limiter
from shop.web.ops import JsonFormatter
from tests.conftest import make_test_config, new_client

HEX_ID = re.compile(r"[0-9a-f]{32}")


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "shop.request"]


def _own_app(tmp_path: Path, **config: object) -> Flask:
    settings = make_test_config(f"sqlite:///{tmp_path / 'ops.sqlite3'}", tmp_path)
    settings.update(config)
    return create_app(settings)


# --- /healthz -------------------------------------------------------------------------


def test_healthz_answers_200_json_without_login_or_cookie(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_503_when_the_database_does_not(tmp_path: Path) -> None:
    broken = _own_app(tmp_path)
    broken.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:////nonexistent-dir/shop.sqlite3"
    broken = create_app(dict(broken.config))
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unavailable"}
    assert "Set-Cookie" not in response.headers
    with broken.app_context():
        db.engine.dispose()


@pytest.fixture
def limited_app(tmp_path: Path) -> Iterator[Flask]:
    """An app with rate limits on and a low limit on every page (put back afterwards)."""
    app = _own_app(tmp_path, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute")
    with app.app_context():
        upgrade()
    limiter.reset()
    try:
        yield app
    finally:
        limiter.reset()
        limiter.enabled = False
        with app.app_context():
            db.engine.dispose()


def test_healthz_is_never_rate_limited(limited_app: Flask) -> None:
    client = new_client(limited_app)
    assert [client.get("/healthz").status_code for _ in range(5)] == [200] * 5
    # the default limit is really on: an ordinary page runs into it
    assert [client.get("/kopvillkor").status_code for _ in range(3)][-1] == 429


def test_healthz_is_not_page_cached(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 60)
    for _ in range(2):
        response = client.get("/healthz")
        assert "X-Cache" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"


# --- Request IDs and the request log ------------------------------------------------------


def test_a_well_formed_incoming_request_id_is_kept(client: FlaskClient) -> None:
    response = client.get("/kopvillkor", headers={"X-Request-ID": "lb-7f3a9c21:0001"})
    assert response.headers["X-Request-ID"] == "lb-7f3a9c21:0001"


@pytest.mark.parametrize(
    "incoming",
    ["", "short", "has space in it", "x" * 129, "<script>alert(1)</script>", "abc\u00e5defghij"],
)
def test_a_malformed_request_id_is_replaced_by_a_new_one(
    client: FlaskClient, incoming: str
) -> None:
    response = client.get("/kopvillkor", headers={"X-Request-ID": incoming})
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])


def test_each_request_gets_its_own_id(client: FlaskClient) -> None:
    first = client.get("/kopvillkor").headers["X-Request-ID"]
    second = client.get("/kopvillkor").headers["X-Request-ID"]
    assert first != second


def test_one_json_line_per_request_without_the_query_string(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shop.request")
    response = client.get("/sok?q=kund%40example.se&token=hemligt123")
    [record] = _request_lines(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["method"] == "GET"
    assert line["path"] == "/sok"
    assert line["endpoint"] == "storefront.search"
    assert line["status"] == response.status_code == 200
    assert isinstance(line["duration_ms"], float)
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["level"] == "INFO"
    text = JsonFormatter().format(record)
    assert "example.se" not in text
    assert "hemligt123" not in text


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("/konto/aterstall/Sekret-Token_0123456789abcdef", "/konto/aterstall/…"),
        ("/order/Sekret-Token_0123456789abcdef", "/order/…"),
        ("/nedladdning/Sekret-Token_0123456789abcdef", "/nedladdning/…"),
        ("/finns-inte/kund@example.se", "/finns-inte/…"),
        ("/finns-inte/Sekret-Token_0123456789abcdef", "/finns-inte/…"),
        ("/finns-inte/kort", "/finns-inte/kort"),
        ("/produkt/kund@example.se", "/produkt/…"),
    ],
)
def test_link_tokens_and_e_mails_in_paths_are_not_logged(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, url: str, logged: str
) -> None:
    caplog.set_level(logging.INFO, logger="shop.request")
    client.get(url)
    [record] = _request_lines(caplog)
    assert record.path == logged  # type: ignore[attr-defined]
    text = JsonFormatter().format(record)
    assert "Sekret-Token" not in text
    assert "example.se" not in text


def test_error_logs_carry_the_request_id_and_no_token(
    app: Flask, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failing = create_app(
        {
            **make_test_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path),
            "PROPAGATE_EXCEPTIONS": False,
        }
    )

    @failing.get("/test-only/boom/<token>")
    def boom(token: str) -> str:
        raise RuntimeError("a forced failure for the test")

    caplog.set_level(logging.INFO, logger="shop")
    response = failing.test_client().get(
        "/test-only/boom/Sekret-Token_0123456789", headers={"X-Request-ID": "req-0000-boom"}
    )
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-0000-boom"
    [error] = [record for record in caplog.records if record.levelno == logging.ERROR]
    line = json.loads(JsonFormatter().format(error))
    assert line["request_id"] == "req-0000-boom"
    assert "RuntimeError: a forced failure" in line["exception"]
    assert "Sekret-Token" not in line["message"]
    [request_line] = _request_lines(caplog)
    assert request_line.status == 500  # type: ignore[attr-defined]
    with failing.app_context():
        db.engine.dispose()


def test_json_logging_is_on_outside_tests_and_writes_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop_logger = logging.getLogger("shop")
    before = (list(shop_logger.handlers), shop_logger.level, shop_logger.propagate)
    try:
        for handler in shop_logger.handlers[:]:
            shop_logger.removeHandler(handler)
        app = _own_app(tmp_path, LOG_JSON=True)
        json_handlers = [h for h in shop_logger.handlers if isinstance(h.formatter, JsonFormatter)]
        assert len(json_handlers) == 1
        create_app(dict(app.config))  # a second app does not add a second handler
        assert [h for h in shop_logger.handlers if isinstance(h.formatter, JsonFormatter)] == (
            json_handlers
        )
        with app.app_context():
            upgrade()
        capsys.readouterr()
        response = app.test_client().get("/healthz")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert [(line["path"], line["status"]) for line in lines] == [("/healthz", 200)]
        assert lines[0]["request_id"] == response.headers["X-Request-ID"]
        with app.app_context():
            db.engine.dispose()
    finally:
        for handler in shop_logger.handlers[:]:
            shop_logger.removeHandler(handler)
        for handler in before[0]:
            shop_logger.addHandler(handler)
        shop_logger.setLevel(before[1])
        shop_logger.propagate = before[2]
