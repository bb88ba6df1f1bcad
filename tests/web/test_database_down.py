"""The database away (restarted, failed over): a friendly 503 page, then the shop works again.

The drill with a real PostgreSQL restart under gunicorn is ``bench/drills.py
postgres-restart`` (docs/operations-drills.md); these tests pin the page itself.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shop import create_app
from shop.extensions import db
from shop.models import Product
from shop.web.errors import DATABASE_RETRY_AFTER
from tests.conftest import make_test_config
from tests.factories import make_product


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unreachable_urls(tmp_path: Path) -> list[str]:
    return [
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/shop?connect_timeout=2",
        f"sqlite:///{tmp_path / 'no-such-directory' / 'shop.sqlite3'}",
    ]


@pytest.fixture(params=["postgresql", "sqlite"])
def down_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FlaskClient]:
    """A shop whose database cannot be reached at all (nothing listens / no such file)."""
    url = _unreachable_urls(tmp_path)[0 if request.param == "postgresql" else 1]
    config = make_test_config(url, tmp_path)
    config["PROPAGATE_EXCEPTIONS"] = False
    down = create_app(config)
    yield down.test_client()
    with down.app_context():
        db.engine.dispose()


def _assert_friendly_503(response, *, heading: str = "Butiken är tillfälligt otillgänglig") -> str:  # type: ignore[no-untyped-def]
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert heading in html
    assert "Felkod 503" in html or "Error 503" in html
    assert 'class="error-page"' in html
    assert "/static/css/shop.css" in html
    for leak in ("Traceback", "OperationalError", "psycopg", "sqlite3", "SELECT"):
        assert leak not in html
    return html


def test_pages_answer_503_in_swedish_while_the_database_is_down(down_client: FlaskClient) -> None:
    for url in ("/", "/katalog", "/sok?q=bach", "/varukorg/"):
        html = _assert_friendly_503(down_client.get(url))
        assert "Inget har gått förlorat; försök igen om en liten stund." in html


def test_a_logged_in_customer_gets_the_page_too(down_client: FlaskClient) -> None:
    """Loading the customer needs the database: the page is shown as to a visitor."""
    with down_client.session_transaction() as sess:
        sess["_user_id"] = "1:1"
        sess["_fresh"] = True
    _assert_friendly_503(down_client.get("/konto/"))


def test_the_page_is_english_for_an_english_visitor(down_client: FlaskClient) -> None:
    with down_client.session_transaction() as sess:
        sess["lang"] = "en"
    html = _assert_friendly_503(down_client.get("/"), heading="The shop is temporarily unavailable")
    assert '<html lang="en">' in html


def _pings(engine: sa.Engine) -> list[object]:
    """The connections ``engine`` pings from now on (its dialect's ``do_ping`` is counted)."""
    seen: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        seen.append(dbapi_connection)
        return ping(dbapi_connection)  # type: ignore[arg-type]

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return seen


def test_a_connection_used_a_moment_ago_is_not_pinged_again(app: Flask) -> None:
    """Busy workers reuse their connection without an extra round trip (shop/database.py)."""
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is False
    assert app.config["DATABASE_PING_IDLE_SECONDS"] == 1.0
    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            conn.execute(sa.select(Product.id).limit(1))
        pings = _pings(engine)
        for _ in range(3):
            with engine.connect() as conn:
                conn.execute(sa.select(Product.id).limit(1))
        assert pings == []


def test_a_connection_idle_past_the_limit_is_pinged_and_replaced_when_dead(
    app: Flask, tmp_path: Path
) -> None:
    """A connection cut while it sat in the pool (a restart) is replaced, not handed to a
    request: on PostgreSQL the server really ends it (``pg_terminate_backend``)."""
    config = make_test_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    config["DATABASE_PING_IDLE_SECONDS"] = 0.05
    idle = create_app(config)
    with idle.app_context():
        engine = db.engine
        with engine.connect() as conn:
            conn.execute(sa.select(Product.id).limit(1))
            backend = (
                conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
                if engine.dialect.name == "postgresql"
                else None
            )
        pings = _pings(engine)
        if backend is not None:
            admin = sa.create_engine(engine.url)
            with admin.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
                other.commit()
            admin.dispose()
        time.sleep(0.1)  # the pool's own monotonic clock must pass the limit
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count(Product.id))).scalar() == 0
            if backend is not None:
                assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() != backend
        assert len(pings) >= 1
        engine.dispose()


def test_a_failed_ping_asks_the_pool_for_a_new_connection() -> None:
    """The checkout hook turns a dead connection into DisconnectionError (the pool's signal
    to reconnect), whatever the driver's error says."""
    from sqlalchemy.exc import DisconnectionError

    from shop.database import ping_idle_connections

    engine = sa.create_engine("sqlite://")
    now = [100.0]
    ping_idle_connections(engine, 1.0, clock=lambda: now[0])
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 2"))
    now[0] += 1.0
    calls: list[object] = []

    def dead(dbapi_connection: object) -> bool:
        calls.append(dbapi_connection)
        raise engine.dialect.loaded_dbapi.OperationalError("server closed the connection")

    engine.dialect.do_ping = dead  # type: ignore[method-assign]
    with pytest.raises(DisconnectionError):
        engine.pool.dispatch.checkout(object(), _record_returned_at(99.0), None)
    assert len(calls) == 1
    engine.dispose()


def _record_returned_at(at: float) -> object:
    """A pool record as the check-in hook leaves it: given back at ``at``."""
    from shop.database import _RETURNED_AT

    class Record:
        info = {_RETURNED_AT: at}

    return Record()


def test_a_lost_connection_mid_request_gives_503_and_the_next_request_works(
    app: Flask, tmp_path: Path
) -> None:
    """The transaction of the failed request is rolled back; the next one is served normally."""
    config = make_test_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    config["PROPAGATE_EXCEPTIONS"] = False
    flaky = create_app(config)
    cut = {"once": True}

    @flaky.get("/test-only/flaky")
    def flaky_view() -> str:
        db.session.execute(sa.select(Product.id).limit(1))  # a transaction is open
        if cut.pop("once", False):
            raise OperationalError(
                "SELECT 1", {}, Exception("server closed the connection unexpectedly")
            )
        return f"ok {db.session.scalar(sa.select(sa.func.count(Product.id)))}"

    make_product(title="Bachs inventioner")
    client = flaky.test_client()
    with flaky.app_context():
        _assert_friendly_503(client.get("/test-only/flaky"))
        assert client.get("/test-only/flaky").get_data(as_text=True) == "ok 1"
        assert client.get("/").status_code == 200
        db.session.remove()
        db.engine.dispose()


def test_if_even_the_page_needs_the_database_a_plain_503_is_given(
    down_client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shop.web import errors

    def render_failing(*args: object, **kwargs: object) -> str:
        raise OperationalError("SELECT 1", {}, Exception("still down"))

    monkeypatch.setattr(errors, "render_template", render_failing)
    response = down_client.get("/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    html = response.get_data(as_text=True)
    assert "Butiken är tillfälligt otillgänglig" in html
    assert "still down" not in html


def test_a_connection_cut_after_the_answer_does_not_turn_it_into_an_error(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database restarts between the view's last query and the end of the request: the
    session cannot roll back on close, and the finished answer is still given."""
    config = make_test_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    config["PROPAGATE_EXCEPTIONS"] = False
    cut = create_app(config)
    make_product(title="Bachs inventioner")

    @cut.get("/test-only/count")
    def count_view() -> str:
        return str(db.session.scalar(sa.select(sa.func.count(Product.id))))

    original_close = Session.close

    def close_failing(session: Session) -> None:
        monkeypatch.setattr(Session, "close", original_close)  # once
        raise OperationalError(
            "ROLLBACK", {}, Exception("terminating connection due to administrator command")
        )

    monkeypatch.setattr(Session, "close", close_failing)
    client = cut.test_client()
    response = client.get("/test-only/count")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "1")
    assert client.get("/test-only/count").get_data(as_text=True) == "1"
    with cut.app_context():
        db.session.remove()
        db.engine.dispose()
