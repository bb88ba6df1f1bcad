"""Erasure from the account (R4.3), the staff's retention pages (S6), holds (R3.5), the
data-request queue (R4.1, R4.3) and the policy page for admins (R2): roles, CSRF, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from flask import Flask

from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import Customer, DataRequest, LegalHold
from shop.models.customer import Role
from shop.services.retention import sweep
from tests.conftest import new_client, post_form
from tests.factories import PASSWORD, make_customer, make_order
from tests.web.test_documents import log_in, staff_client

STAFF_URLS = ["/staff/gallring", "/staff/dataforfragningar"]


def test_r4_3_a_customer_erases_the_account_and_cannot_log_in_again(app: Flask) -> None:
    customer = make_customer(email="radera@example.se", name="Rut Raderad")
    make_order(customer=customer, status=OrderStatus.SHIPPED)
    client = new_client(app)
    log_in(client, "radera@example.se")
    assert "Radera mitt konto" in client.get("/konto/").get_data(as_text=True)

    wrong = post_form(client, "/konto/radera", {"password": "fel-losenord", "understood": "y"})
    assert wrong.status_code == 400
    assert "Lösenordet stämmer inte." in wrong.get_data(as_text=True)
    unticked = post_form(client, "/konto/radera", {"password": PASSWORD})
    assert unticked.status_code == 400

    done = post_form(client, "/konto/radera", {"password": PASSWORD, "understood": "y"})
    page = done.get_data(as_text=True)
    assert done.status_code == 200
    assert "Ditt konto är raderat" in page
    assert "R3.1" in page  # the undelivered order stays, with its reason
    assert client.get("/konto/").status_code == 302
    again = post_form(
        new_client(app), "/konto/logga-in", {"email": "radera@example.se", "password": PASSWORD}
    )
    assert again.status_code != 302
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).login_disabled  # type: ignore[union-attr]


def test_s6_staff_pages_need_the_staff_role_and_the_policy_page_admin(app: Flask) -> None:
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    admin = staff_client(app, "admin@example.se", Role.ADMIN)
    make_customer(email="kund@example.se")
    customer = new_client(app)
    log_in(customer, "kund@example.se")
    anonymous = new_client(app)
    for url in STAFF_URLS:
        assert staff.get(url).status_code == 200, url
        assert customer.get(url).status_code == 403, url
        assert anonymous.get(url).status_code == 302, url
    assert staff.get("/staff/gallring/regler").status_code == 403
    policy = admin.get("/staff/gallring/regler")
    assert policy.status_code == 200
    assert "SHOP_RETENTION_ACCOUNT_INACTIVE_YEARS" in policy.get_data(as_text=True)
    assert (
        post_form(
            customer,
            "/staff/gallring/sparr",
            {"email": "kund@example.se", "reason": "x"},
            form_url="/konto/uppgifter",
        ).status_code
        == 403
    )


def test_s6_the_retention_page_shows_runs_counts_holds_and_upcoming(app: Flask) -> None:
    gone = make_customer(last_activity_on=date(2022, 1, 1))
    held = make_customer(last_activity_on=date(2022, 1, 1))
    soon = make_customer()
    make_order(customer=soon, status=OrderStatus.COMPLETED)
    soon.last_activity_on = date(2023, 12, 1)
    db.session.add(
        LegalHold(
            customer_id=held.id,
            reason="Tvist om leverans",
            created_by="staff:1",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    db.session.commit()
    sweep(date(2026, 11, 20), now=datetime(2026, 11, 20, 3, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 11, 20, 9, tzinfo=UTC), tick=False):
        staff = staff_client(app, "personal@example.se", Role.STAFF)
        page = staff.get("/staff/gallring").get_data(as_text=True)
    assert "R2.2 anonymise: 1" in page
    assert "R3.5 hold: 1" in page
    assert held.pseudonym in page
    assert "Tvist om leverans" in page
    assert gone.pseudonym not in page
    assert soon.pseudonym in page
    assert "2026-12-02" in page  # R2.1: the day after 3 years


def test_r3_5_staff_place_and_release_a_hold(app: Flask) -> None:
    customer = make_customer(email="kund@example.se")
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    missing = post_form(
        staff, "/staff/gallring/sparr", {"email": "kund@example.se"}, form_url="/staff/gallring"
    )
    assert missing.status_code == 400
    assert "Ange skälet till spärren." in missing.get_data(as_text=True)
    unknown = post_form(
        staff,
        "/staff/gallring/sparr",
        {"email": "ingen@example.se", "reason": "Tvist"},
        form_url="/staff/gallring",
    )
    assert unknown.status_code == 400
    placed = post_form(
        staff,
        "/staff/gallring/sparr",
        {"email": "kund@example.se", "reason": "Tvist"},
        form_url="/staff/gallring",
    )
    assert placed.status_code == 302
    hold = db.session.query(LegalHold).one()
    assert hold.customer_id == customer.id
    assert staff.post(f"/staff/gallring/sparr/{hold.id}/hav").status_code == 400  # no CSRF
    assert (
        post_form(
            staff, "/staff/gallring/sparr/999999/hav", {}, form_url="/staff/gallring"
        ).status_code
        == 404
    )
    released = post_form(
        staff, f"/staff/gallring/sparr/{hold.id}/hav", {}, form_url="/staff/gallring"
    )
    assert released.status_code == 302
    db.session.expire_all()
    assert db.session.get(LegalHold, hold.id).released_at is not None  # type: ignore[union-attr]


def test_r4_3_staff_enter_a_verified_erasure_and_see_the_queue(app: Flask) -> None:
    make_customer(email="brev@example.se")
    other = make_customer(email="utdrag@example.se")
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = "/staff/dataforfragningar"
    future = post_form(
        staff, url, {"email": "brev@example.se", "kind": "erasure", "received_on": "2999-01-01"}
    )
    assert future.status_code == 400
    unknown = post_form(
        staff, url, {"email": "ingen@example.se", "kind": "erasure", "received_on": "2026-11-01"}
    )
    assert unknown.status_code == 400
    bad_date = post_form(
        staff, url, {"email": "brev@example.se", "kind": "erasure", "received_on": "igår"}
    )
    assert bad_date.status_code == 400
    erased = post_form(
        staff, url, {"email": "brev@example.se", "kind": "erasure", "received_on": "2026-11-01"}
    )
    assert erased.status_code == 200
    assert "Raderingen är utförd" in erased.get_data(as_text=True)
    access = post_form(
        staff, url, {"email": "utdrag@example.se", "kind": "access", "received_on": "2026-11-01"}
    )
    assert access.status_code == 302
    queue = staff.get(url).get_data(as_text=True)
    assert "2026-12-01" in queue  # R4.1: 30 days
    request = db.session.query(DataRequest).filter_by(customer_id=other.id).one()
    answered = post_form(staff, f"{url}/{request.id}/besvarad", {}, form_url=url)
    assert answered.status_code == 302
    assert post_form(staff, f"{url}/999999/besvarad", {}, form_url=url).status_code == 404


def test_r4_5_staff_download_the_extract_for_a_verified_access_request(app: Flask) -> None:
    """R4.1, R4.5: staff produce the same JSON file the customer gets, for an access request
    only; the download is audited; customers get 403 and an unknown request 404."""
    import json

    from shop.models import AuditEntry

    person = make_customer(email="utdrag@example.se", name="Ulla Utdrag")
    make_customer(email="brev@example.se")
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = "/staff/dataforfragningar"
    post_form(
        staff, url, {"email": "utdrag@example.se", "kind": "access", "received_on": "2026-11-01"}
    )
    request = db.session.query(DataRequest).filter_by(customer_id=person.id).one()
    assert f"{url}/{request.id}/registerutdrag.json" in staff.get(url).get_data(as_text=True)

    response = staff.get(f"{url}/{request.id}/registerutdrag.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert f"registerutdrag-{person.pseudonym}-" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    extract = json.loads(response.get_data())
    assert extract["sections"]["account"]["email"] == "utdrag@example.se"
    assert [r["kind"] for r in extract["sections"]["data_requests"]] == ["access"]
    assert "brev@example.se" not in response.get_data(as_text=True)
    audited = db.session.query(AuditEntry).filter_by(action="access_request_extract").one()
    assert audited.subject_id == str(request.id)

    customer = new_client(app)
    log_in(customer, "brev@example.se")
    assert customer.get(f"{url}/{request.id}/registerutdrag.json").status_code == 403
    assert staff.get(f"{url}/999999/registerutdrag.json").status_code == 404

    post_form(
        staff, url, {"email": "brev@example.se", "kind": "erasure", "received_on": "2026-11-01"}
    )
    erasure = db.session.query(DataRequest).filter_by(kind="erasure").one()
    refused = staff.get(f"{url}/{erasure.id}/registerutdrag.json")
    assert refused.status_code == 302
    followed = staff.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Det finns inget registerutdrag att ta fram" in followed


def test_the_dashboard_counts_data_requests_due_r4_3(app: Flask) -> None:
    """The staff dashboard shows how many data requests wait and the earliest last day."""
    from datetime import timedelta

    from shop import clock

    make_customer(email="utdrag@example.se")
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    assert 'id="data-requests-due">0<' in staff.get("/staff/").get_data(as_text=True)
    received = clock.today() - timedelta(days=23)  # R4.1: due 30 days later, a week ahead
    post_form(
        staff,
        "/staff/dataforfragningar",
        {"email": "utdrag@example.se", "kind": "access", "received_on": received.isoformat()},
    )
    page = staff.get("/staff/").get_data(as_text=True)
    assert 'id="data-requests-due">1<' in page
    assert (received + timedelta(days=30)).isoformat() in page
    assert 'class="deadline-near"' not in page.split('id="data-requests-due"')[1].split("</li>")[0]
