"""Rate limits on the forms that strangers can hammer (login, the withdrawal link)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from shop import create_app
from shop.extensions import limiter
from tests.conftest import csrf_token_from, make_test_config, new_client


@pytest.fixture
def limited_app(tmp_path: Path) -> Iterator[Flask]:
    """An app of its own with rate limits on (the shared test app has them off).

    Flask-Limiter wires itself only when enabled at start-up, and its switch
    lives on the one shared limiter: it is put back afterwards.
    """
    config = make_test_config(f"sqlite:///{tmp_path / 'limits.sqlite3'}", tmp_path)
    config["RATELIMIT_ENABLED"] = True
    app = create_app(config)
    with app.app_context():
        upgrade()
    limiter.reset()
    try:
        yield app
    finally:
        limiter.reset()
        limiter.enabled = False


@pytest.fixture
def limits_client(limited_app: Flask) -> FlaskClient:
    return new_client(limited_app)


def hammer(client: FlaskClient, url: str, data: dict[str, str], times: int) -> list[Any]:
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return [client.post(url, data={**data, "csrf_token": token}) for _ in range(times)]


def test_login_is_limited_with_a_clear_message(
    limited_app: Flask, limits_client: FlaskClient
) -> None:
    limited_app.config["RATELIMIT_LOGIN"] = "3 per minute"
    answers = hammer(
        limits_client, "/konto/logga-in", {"email": "x@example.se", "password": "f"}, 4
    )
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert "För många försök" in answers[3].get_data(as_text=True)


def test_the_withdrawal_guest_step_is_limited(
    limited_app: Flask, limits_client: FlaskClient
) -> None:
    """T5.9's guest step mails a link: five tries an hour by default, then 429."""
    assert limited_app.config["RATELIMIT_WITHDRAWAL_GUEST"] == "5 per hour"
    data = {"order_number": "100001", "email": "nagon@example.se"}
    codes = [answer.status_code for answer in hammer(limits_client, "/angra", data, 6)]
    assert 429 not in codes[:5]
    assert codes[5] == 429
