"""Session rotation on a privilege change (issue 8): granting or revoking a role, or
disabling a login, ends the person's sessions; an admin changing their own roles stays in."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from shop.models import Customer
from shop.models.customer import Role
from shop.services import staff_admin
from shop.services.customers import create_staff_member
from tests.conftest import post_form
from tests.factories import NOW, PASSWORD
from tests.web.test_documents import staff_client


def _person(email: str) -> Customer:
    return db.session.query(Customer).filter_by(email=email).one()


def _logged_in_as(client: FlaskClient, email: str) -> bool:
    """True if the client's session still belongs to ``email`` (its account page shows it)."""
    response = client.get("/konto/")
    return response.status_code == 200 and email in response.get_data(as_text=True)


def test_set_roles_bumps_the_session_version_only_when_roles_change(app: Flask) -> None:
    boss = create_staff_member(
        email="chef@example.se", name="Chef", password=PASSWORD, roles=[Role.ADMIN], now=NOW
    )
    person = create_staff_member(
        email="p@example.se", name="P", password=PASSWORD, roles=[Role.STAFF], now=NOW
    )
    version = person.session_version
    assert staff_admin.set_roles(person, ["staff", "finance"], actor_id=boss.id, now=NOW)
    assert person.session_version == version + 1
    assert not staff_admin.set_roles(person, ["finance", "staff"], actor_id=boss.id, now=NOW)
    assert person.session_version == version + 1
    assert staff_admin.set_login_disabled(person, True, actor_id=boss.id, now=NOW)
    assert person.session_version == version + 2
    assert staff_admin.set_login_disabled(person, False, actor_id=boss.id, now=NOW)
    assert person.session_version == version + 2


def test_granting_a_role_ends_the_persons_other_sessions(app: Flask) -> None:
    admin = staff_client(app, "chef@example.se", Role.ADMIN)
    worker = staff_client(app, "lager@example.se", Role.STAFF)
    assert worker.get("/staff/").status_code == 200
    assert worker.get("/staff/fakturor").status_code == 403
    person = _person("lager@example.se")
    response = post_form(admin, f"/staff/personal/{person.id}", {"roles": ["staff", "finance"]})
    assert response.status_code == 302
    # The old session is gone: the new role must be picked up by logging in again.
    assert not _logged_in_as(worker, "lager@example.se")
    assert worker.get("/staff/fakturor").status_code == 302


def test_revoking_a_role_ends_the_persons_sessions_at_once(app: Flask) -> None:
    admin = staff_client(app, "chef@example.se", Role.ADMIN)
    worker = staff_client(app, "ekonomi@example.se", Role.STAFF, Role.FINANCE)
    assert worker.get("/staff/fakturor").status_code == 200
    person = _person("ekonomi@example.se")
    post_form(admin, f"/staff/personal/{person.id}", {"roles": ["staff"]})
    assert worker.get("/staff/fakturor").status_code == 302
    assert not _logged_in_as(worker, "ekonomi@example.se")


def test_an_admin_changing_their_own_roles_stays_logged_in(app: Flask) -> None:
    staff_client(app, "andra@example.se", Role.ADMIN)
    admin = staff_client(app, "chef@example.se", Role.ADMIN)
    me = _person("chef@example.se")
    version = me.session_version
    response = post_form(admin, f"/staff/personal/{me.id}", {"roles": ["admin", "finance"]})
    assert response.status_code == 302
    db.session.expire_all()
    assert _person("chef@example.se").session_version == version + 1
    assert _logged_in_as(admin, "chef@example.se")
    assert admin.get("/staff/fakturor").status_code == 200
