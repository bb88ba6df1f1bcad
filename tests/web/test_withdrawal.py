"""The "Ångra köpet" pages (T5.9): account and guest link, /angra, the model form, staff entry."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.domain.lifecycle import OrderStatus
from shop.extensions import db
from shop.models import Customer, Order, OutboxMessage, RoleGrant
from shop.models.aftersale import Withdrawal
from shop.services import orders
from tests.conftest import csrf_token_from, new_client, post_form
from tests.factories import NOW, PASSWORD, make_customer, make_order
from tests.services.test_withdrawals import delivered_order

#: Tuesday 1 December 2026, 14:05 in Stockholm.
DURING = datetime(2026, 12, 1, 13, 5, tzinfo=UTC)
#: Tuesday 15 December 2026: after the last day of an order delivered 28 November.
AFTER = datetime(2026, 12, 15, 11, 0, tzinfo=UTC)


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def logged_in(app: Flask, email: str) -> FlaskClient:
    client = new_client(app)
    response = post_form(client, "/konto/logga-in", {"email": email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def count(model: type) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def step_one_data(order: Order, **overrides: Any) -> dict[str, Any]:
    line = order.lines[0]
    data: dict[str, Any] = {
        "name": "Kim Kund",
        "order_number": order.number,
        "email": "kim@example.se",
        "line": [str(line.id)],
        f"qty-{line.id}": str(line.quantity),
    }
    data.update(overrides)
    return data


def withdraw_through(client: FlaskClient, base: str, order: Order) -> Any:
    """Step one, then step two; returns the response to "Bekräfta ångrande"."""
    response = post_form(client, base, step_one_data(order))
    assert response.status_code == 302, text(response)
    confirm_url = response.headers["Location"]
    page = text(client.get(confirm_url))
    assert "Bekräfta ångrande" in page
    assert "Steg 2 av 2" in page
    key = confirm_url.split("k=")[1]
    return post_form(
        client, confirm_url.split("?")[0], {"submission_key": key}, form_url=confirm_url
    )


def owner_with_order(delivered_on: date | None = date(2026, 11, 28)) -> tuple[Customer, Order]:
    owner = make_customer(email="agare@example.se")
    return owner, delivered_order(delivered_on, customer=owner)


def test_the_owner_withdraws_in_two_steps_from_the_order_page_T5_9(app: Flask) -> None:
    _owner, order = owner_with_order()
    client = logged_in(app, "agare@example.se")
    with time_machine.travel(DURING, tick=False):
        page = text(client.get(f"/konto/ordrar/{order.number}"))
        assert "Ångra köpet" in page
        assert "Sista dag att ångra" in page
        assert "14 december 2026" in page  # T5.3: Saturday 12 December moved to Monday
        base = f"/konto/ordrar/{order.number}/angra"
        step_one = text(client.get(base))
        assert "Steg 1 av 2" in step_one
        assert "14 december 2026" in step_one
        done = withdraw_through(client, base, order)
        assert done.status_code == 302
        receipt = text(client.get(done.headers["Location"]))
    assert "1 december 2026 kl. 14:05" in receipt
    withdrawal = db.session.scalars(select(Withdrawal)).one()
    assert withdrawal.channel == "function"
    assert withdrawal.email == "kim@example.se"
    assert db.session.get(Order, order.id).status == "withdrawn"  # type: ignore[union-attr]
    message = db.session.scalars(select(OutboxMessage)).one()
    assert message.template == "withdrawal_ack"
    assert "1 december 2026 kl. 14:05" in message.body_text


def test_confirming_twice_gives_one_withdrawal_T5_9(app: Flask) -> None:
    _owner, order = owner_with_order()
    client = logged_in(app, "agare@example.se")
    base = f"/konto/ordrar/{order.number}/angra"
    with time_machine.travel(DURING, tick=False):
        response = post_form(client, base, step_one_data(order))
        confirm_url = response.headers["Location"]
        token = csrf_token_from(text(client.get(confirm_url)))
        key = confirm_url.split("k=")[1]
        payload = {"csrf_token": token, "submission_key": key}
        first = client.post(confirm_url.split("?")[0], data=payload)
        second = client.post(confirm_url.split("?")[0], data=payload)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Withdrawal) == 1
    assert count(OutboxMessage) == 1


def test_a_guest_withdraws_through_the_signed_link_T5_9(app: Flask, client: FlaskClient) -> None:
    order = delivered_order(date(2026, 11, 28), email="gast@example.se")
    token = orders.guest_order_token(order)
    with time_machine.travel(DURING, tick=False):
        page = text(client.get(f"/order/{token}"))
        assert f"/order/{token}/angra" in page
        assert "Ångra köpet" in page
        done = withdraw_through(client, f"/order/{token}/angra", order)
        assert done.headers["Location"].startswith(f"/order/{token}/angra/")
        assert "Ångrandet är mottaget" in text(client.get(done.headers["Location"]))
    assert count(Withdrawal) == 1


def test_another_customer_gets_404_on_every_withdrawal_url(app: Flask) -> None:
    _owner, order = owner_with_order()
    owner_client = logged_in(app, "agare@example.se")
    with time_machine.travel(DURING, tick=False):
        done = withdraw_through(owner_client, f"/konto/ordrar/{order.number}/angra", order)
    done_path = done.headers["Location"]
    withdrawal_id = db.session.scalars(select(Withdrawal)).one().id
    make_customer(email="nyfiken@example.se")
    other = logged_in(app, "nyfiken@example.se")
    with time_machine.travel(DURING, tick=False):
        for url in (
            f"/konto/ordrar/{order.number}/angra",
            f"/konto/ordrar/{order.number}/angra/bekrafta?k=x",
            done_path,
        ):
            assert other.get(url).status_code == 404, url
        # A guest link to another order cannot show this order's withdrawal.
        foreign = make_order(status=OrderStatus.CONFIRMED, email="gast@example.se")
        foreign_token = orders.guest_order_token(foreign)
        assert other.get(f"/order/{foreign_token}/angra/{withdrawal_id}").status_code == 404


def test_a_tampered_token_gives_404(app: Flask, client: FlaskClient) -> None:
    order = delivered_order(date(2026, 11, 28), email="gast@example.se")
    token = orders.guest_order_token(order)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with time_machine.travel(DURING, tick=False):
        assert client.get(f"/order/{tampered}/angra").status_code == 404
        assert client.get(f"/order/{tampered}/angra/bekrafta?k=x").status_code == 404
        assert client.get("/order/inte-en-token/angra").status_code == 404


def test_the_pages_need_a_login_from_the_account(app: Flask, client: FlaskClient) -> None:
    _owner, order = owner_with_order()
    assert client.get(f"/konto/ordrar/{order.number}/angra").status_code == 302


def test_csrf_is_on_for_both_steps(app: Flask) -> None:
    _owner, order = owner_with_order()
    client = logged_in(app, "agare@example.se")
    base = f"/konto/ordrar/{order.number}/angra"
    with time_machine.travel(DURING, tick=False):
        assert client.post(base, data=step_one_data(order)).status_code == 400
        assert client.post(base + "/bekrafta", data={"submission_key": "x"}).status_code == 400
    assert count(Withdrawal) == 0


def test_nothing_selected_re_renders_in_swedish_keeping_the_input_T5_9(app: Flask) -> None:
    _owner, order = owner_with_order()
    client = logged_in(app, "agare@example.se")
    data = step_one_data(order, line=[], name="Kim Kundsson")
    with time_machine.travel(DURING, tick=False):
        response = post_form(client, f"/konto/ordrar/{order.number}/angra", data)
    assert response.status_code == 200
    assert "Välj minst en vara att ångra." in text(response)
    assert 'value="Kim Kundsson"' in text(response)


def test_a_wrong_order_number_and_bad_quantity_are_refused_in_swedish(app: Flask) -> None:
    _owner, order = owner_with_order()
    client = logged_in(app, "agare@example.se")
    base = f"/konto/ordrar/{order.number}/angra"
    line = order.lines[0]
    with time_machine.travel(DURING, tick=False):
        wrong = post_form(client, base, step_one_data(order, order_number="999"))
        too_many = post_form(client, base, step_one_data(order, **{f"qty-{line.id}": "3"}))
    assert "Ordernumret stämmer inte med den här ordern." in text(wrong)
    assert "Du kan ångra högst 2 st av Bach: Cellosviter." in text(too_many)


def test_after_the_last_day_the_entry_is_gone_and_the_reason_shown_T5_2(app: Flask) -> None:
    _owner, order = owner_with_order()
    with time_machine.travel(AFTER, tick=False):
        client = logged_in(app, "agare@example.se")
        assert "Ångra köpet" not in text(client.get(f"/konto/ordrar/{order.number}"))
        page = text(client.get(f"/konto/ordrar/{order.number}/angra"))
        assert "Ångerfristen gick ut den 14 december 2026." in page
        refused = post_form(client, f"/konto/ordrar/{order.number}/angra", step_one_data(order))
    assert "Ångerfristen gick ut den 14 december 2026." in text(refused)
    assert count(Withdrawal) == 0


def test_an_organisation_sees_no_entry_and_the_reason_T5_1(app: Flask) -> None:
    owner = make_customer(email="org@example.se", kind="organisation")
    order = delivered_order(date(2026, 11, 28), customer=owner)
    client = logged_in(app, "org@example.se")
    with time_machine.travel(DURING, tick=False):
        assert 'id="withdrawal-entry"' not in text(client.get(f"/konto/ordrar/{order.number}"))
        page = text(client.get(f"/konto/ordrar/{order.number}/angra"))
        refused = post_form(client, f"/konto/ordrar/{order.number}/angra", step_one_data(order))
    assert "Ångerrätten gäller endast privatpersoner, inte organisationer." in page
    assert "Ångerrätten gäller endast privatpersoner, inte organisationer." in text(refused)


def test_angra_gives_the_same_answer_for_known_and_unknown_orders(
    app: Flask, client: FlaskClient
) -> None:
    order = delivered_order(date(2026, 11, 28), email="gast@example.se")
    with time_machine.travel(DURING, tick=False):
        assert "Ordernummer" in text(client.get("/angra"))
        known = post_form(
            client, "/angra", {"order_number": order.number, "email": "gast@example.se"}
        )
        unknown = post_form(client, "/angra", {"order_number": "999999", "email": "x@example.se"})
        wrong_mail = post_form(
            client, "/angra", {"order_number": order.number, "email": "x@example.se"}
        )
    assert known.status_code == unknown.status_code == wrong_mail.status_code == 200
    assert text(known) == text(unknown) == text(wrong_mail)
    message = db.session.scalars(select(OutboxMessage)).one()
    assert message.to_address == "gast@example.se"
    assert f"/order/{orders.guest_order_token(order)}/angra" in message.body_text


def test_angra_refuses_a_bad_email_in_swedish(app: Flask, client: FlaskClient) -> None:
    response = post_form(client, "/angra", {"order_number": "1", "email": "inte-en-adress"})
    assert "Ange en giltig e-postadress" in text(response)


def test_the_model_withdrawal_form_as_page_and_pdf_T5_9(app: Flask, client: FlaskClient) -> None:
    page = text(client.get("/angerblankett"))
    assert "Standardformulär för utövande av ångerrätt" in page
    assert "Jag/Vi (*) meddelar härmed" in page
    response = client.get("/angerblankett.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")


def _staff(app: Flask, email: str = "personal@example.se") -> FlaskClient:
    staff = make_customer(email=email)
    db.session.add(RoleGrant(customer_id=staff.id, role="staff", granted_at=NOW))
    db.session.commit()
    return logged_in(app, email)


def staff_data(order: Order, received_on: str, **overrides: Any) -> dict[str, Any]:
    line = order.lines[0]
    data: dict[str, Any] = {
        "name": "Kim Kund",
        "email": "kim@example.se",
        "received_on": received_on,
        "channel": "form",
        "submission_key": f"staff-{received_on}",
        "line": [str(line.id)],
        f"qty-{line.id}": "1",
    }
    data.update(overrides)
    return data


def test_staff_enter_a_letter_received_in_time_after_the_period_T5_9(app: Flask) -> None:
    _owner, order = owner_with_order()
    url = f"/staff/angra/{order.number}"
    with time_machine.travel(AFTER, tick=False):
        client = _staff(app)
        response = post_form(client, url, staff_data(order, "2026-12-14"))
        assert response.status_code == 302
        page = text(client.get(url))
    assert "14 december 2026" in page
    staff_id = db.session.scalar(select(Customer.id).where(Customer.email == "personal@example.se"))
    staff_id = db.session.scalar(select(Customer.id).where(Customer.email == "personal@example.se"))
    withdrawal = db.session.scalars(select(Withdrawal)).one()
    assert withdrawal.channel == "form"
    assert withdrawal.entered_by == str(staff_id)
    assert db.session.get(Order, order.id).status == "partly_withdrawn"  # type: ignore[union-attr]
    message = db.session.scalars(select(OutboxMessage)).one()
    assert "Mottaget: 14 december 2026" in message.body_text


def test_staff_entry_refuses_late_future_and_pre_order_dates_in_swedish(app: Flask) -> None:
    _owner, order = owner_with_order()
    url = f"/staff/angra/{order.number}"
    with time_machine.travel(AFTER, tick=False):
        client = _staff(app)
        late = post_form(client, url, staff_data(order, "2026-12-15"))
        future = post_form(client, url, staff_data(order, "2026-12-16"))
        early = post_form(client, url, staff_data(order, "2026-11-01"))
    assert "Ångerfristen gick ut den 14 december 2026." in text(late)
    assert "Mottagningsdagen kan inte ligga i framtiden." in text(future)
    assert "Mottagningsdagen kan inte ligga före beställningen." in text(early)
    assert count(Withdrawal) == 0


def test_staff_entry_needs_the_staff_role(app: Flask) -> None:
    _owner, order = owner_with_order()
    customer = logged_in(app, "agare@example.se")
    assert customer.get(f"/staff/angra/{order.number}").status_code == 403
    assert _staff(app).get("/staff/angra/999999").status_code == 404
