"""Error pages in the shop's style: 404, CSRF and 500 are friendly and Swedish."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, abort
from flask.testing import FlaskClient

from shop import create_app
from shop.extensions import db
from tests.conftest import make_test_config


def test_an_unknown_url_gives_the_styled_404_in_swedish(client: FlaskClient) -> None:
    response = client.get("/finns-inte-alls")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert '<html lang="sv">' in html
    assert "Sidan finns inte" in html
    assert 'class="error-page"' in html
    assert "/static/css/shop.css" in html
    assert "Till startsidan" in html


def test_a_post_without_csrf_token_gives_the_friendly_csrf_page(client: FlaskClient) -> None:
    response = client.post("/sprak", data={"lang": "en", "next": "/"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Formuläret har gått ut" in html
    assert 'class="error-page"' in html
    # nothing was changed: the language stays Swedish
    with client.session_transaction() as sess:
        assert "lang" not in sess


def test_a_wrong_method_gives_the_styled_405(client: FlaskClient) -> None:
    response = client.get("/sprak")
    assert response.status_code == 405
    assert "Otillåten metod" in response.get_data(as_text=True)


def _app_with_failing_routes(app: Flask, tmp_path: Path) -> Flask:
    """A fresh app on the test database, with routes that fail on purpose."""
    config = make_test_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    config["PROPAGATE_EXCEPTIONS"] = False
    failing = create_app(config)

    @failing.get("/test-only/boom")
    def boom() -> str:
        raise RuntimeError("a forced failure for the test")

    @failing.get("/test-only/forbidden")
    def forbidden() -> str:
        abort(403)

    @failing.get("/test-only/too-many")
    def too_many() -> str:
        abort(429)

    @failing.get("/test-only/bad")
    def bad() -> str:
        abort(400)

    return failing


@pytest.fixture
def failing_client(app: Flask, tmp_path: Path) -> Iterator[FlaskClient]:
    failing = _app_with_failing_routes(app, tmp_path)
    yield failing.test_client()
    with failing.app_context():
        db.engine.dispose()


def test_an_exception_gives_the_styled_500(failing_client: FlaskClient) -> None:
    client = failing_client
    response = client.get("/test-only/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Något gick fel" in html
    assert 'class="error-page"' in html
    assert "/static/css/shop.css" in html
    assert "RuntimeError" not in html
    assert "a forced failure" not in html


def test_403_429_and_400_are_styled_and_swedish(failing_client: FlaskClient) -> None:
    client = failing_client
    for url, code, heading in [
        ("/test-only/forbidden", 403, "Åtkomst nekad"),
        ("/test-only/too-many", 429, "För många försök"),
        ("/test-only/bad", 400, "Felaktig förfrågan"),
    ]:
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == code
        assert heading in html
        assert f"Felkod {code}" in html
