"""The staff guard ``staff_required(role)`` and ``flask staff create``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from shop.extensions import db
from shop.models import Customer
from shop.models.customer import Role
from shop.services.customers import create_staff_member, password_matches
from tests.conftest import post_form
from tests.services.test_cart import make_customer

PASSWORD = "ett-bra-losenord"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def log_in(client: FlaskClient, email: str) -> None:
    response = post_form(client, "/konto/logga-in", {"email": email, "password": PASSWORD})
    assert response.status_code == 302


def staff(email: str, *roles: Role) -> Customer:
    return create_staff_member(
        email=email, name="Sam Personal", password=PASSWORD, roles=list(roles), now=NOW
    )


def test_anonymous_users_are_sent_to_login(client: FlaskClient) -> None:
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/konto/logga-in?next=")


def test_customers_get_403(app: Flask, client: FlaskClient) -> None:
    make_customer(email="kund@example.se", password=PASSWORD)
    log_in(client, "kund@example.se")
    response = client.get("/staff/")
    assert response.status_code == 403
    assert "Du har inte behörighet att se den här sidan." in response.get_data(as_text=True)


def test_staff_without_the_role_get_403(app: Flask, client: FlaskClient) -> None:
    staff("larare@example.se", Role.TEACHER)
    log_in(client, "larare@example.se")
    assert client.get("/staff/").status_code == 403


@pytest.mark.parametrize("role", [Role.STAFF, Role.FINANCE, Role.ADMIN])
def test_staff_finance_and_admin_see_the_staff_page(
    app: Flask, client: FlaskClient, role: Role
) -> None:
    staff("personal@example.se", role)
    log_in(client, "personal@example.se")
    response = client.get("/staff/")
    assert response.status_code == 200
    assert role.value in response.get_data(as_text=True)


def test_a_disabled_staff_login_is_logged_out(app: Flask, client: FlaskClient) -> None:
    person = staff("personal@example.se", Role.ADMIN)
    log_in(client, "personal@example.se")
    person.login_disabled = True
    db.session.commit()
    assert client.get("/staff/").status_code == 302


def test_cli_creates_a_staff_user(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=[
            "staff",
            "create",
            "--email",
            "Ny@Example.se",
            "--name",
            "Ny Personal",
            "--role",
            "staff",
            "--role",
            "finance",
            "--password",
            PASSWORD,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created staff user" in result.output
    person = db.session.query(Customer).one()
    assert person.email == "ny@example.se"
    assert person.roles == frozenset({Role.STAFF, Role.FINANCE})
    assert password_matches(person, PASSWORD)


def test_cli_refuses_a_taken_email(app: Flask, runner: FlaskCliRunner) -> None:
    make_customer(email="kund@example.se")
    result = runner.invoke(
        args=[
            "staff",
            "create",
            "--email",
            "KUND@example.se",
            "--name",
            "X",
            "--role",
            "staff",
            "--password",
            PASSWORD,
        ]
    )
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert db.session.query(Customer).count() == 1


def test_cli_refuses_a_short_password(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=[
            "staff",
            "create",
            "--email",
            "a@example.se",
            "--name",
            "X",
            "--role",
            "staff",
            "--password",
            "kort",
        ]
    )
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
    assert db.session.query(Customer).count() == 0


def test_cli_refuses_an_unknown_role(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=[
            "staff",
            "create",
            "--email",
            "a@example.se",
            "--name",
            "X",
            "--role",
            "boss",
            "--password",
            PASSWORD,
        ]
    )
    assert result.exit_code != 0
    assert "boss" in result.output
    assert db.session.query(Customer).count() == 0
