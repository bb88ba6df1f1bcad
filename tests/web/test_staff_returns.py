"""The returns desk pages (T5.5–T5.8): roles, CSRF, Swedish errors, the flow to a refund."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine
from flask import Flask

from shop.domain.lifecycle import ReturnStatus
from shop.extensions import db
from shop.models import Refund
from shop.models.aftersale import Withdrawal
from shop.models.customer import Role
from shop.payments.base import RefundRequest, RefundResult
from shop.payments.errors import ProviderUnavailable
from shop.services import payments
from tests.conftest import new_client, post_form
from tests.factories import make_customer
from tests.services.test_returns import BACK_ON, LATER, inspected, paid_order, received, withdraw
from tests.web.test_documents import log_in, staff_client


@pytest.fixture
def frozen() -> Iterator[object]:
    with time_machine.travel(LATER, tick=False) as traveller:
        yield traveller


pytestmark = pytest.mark.usefixtures("frozen")


def desk_url(withdrawal: Withdrawal) -> str:
    return f"/staff/returer/{withdrawal.id}"


def fresh(withdrawal: Withdrawal) -> Withdrawal:
    db.session.expire_all()
    found = db.session.get(Withdrawal, withdrawal.id)
    assert found is not None
    return found


def test_pages_answer_staff_refuse_customers_and_send_anonymous_to_login(app: Flask) -> None:
    withdrawal = withdraw(paid_order())
    urls = ["/staff/returer", desk_url(withdrawal)]
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    for url in urls:
        assert staff.get(url).status_code == 200, url
    make_customer(email="kund@example.se")
    customer = new_client(app)
    log_in(customer, "kund@example.se")
    anonymous = new_client(app)
    for url in urls:
        assert customer.get(url).status_code == 403, url
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert "/konto/logga-in" in response.location, url
    response = post_form(
        customer, f"{desk_url(withdrawal)}/godkann", {}, form_url="/konto/uppgifter"
    )
    assert response.status_code == 403
    assert staff.get("/staff/returer/999999").status_code == 404


def test_csrf_is_required_for_every_action(app: Flask) -> None:
    withdrawal = inspected(paid_order())
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    for action in ("mottag", "inspektera", "godkann", "forsok-igen"):
        response = staff.post(f"{desk_url(withdrawal)}/{action}", data={})
        assert response.status_code == 400, action
    assert db.session.query(Refund).count() == 0


def test_receive_inspect_approve_through_the_pages_t5_5_t5_8(app: Flask) -> None:
    order = paid_order()
    withdrawal = withdraw(order)
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = desk_url(withdrawal)
    response = post_form(
        staff,
        f"{url}/mottag",
        {"received_on": BACK_ON.isoformat(), "outcome": "accepted"},
        form_url=url,
    )
    assert response.status_code == 302
    assert fresh(withdrawal).status == ReturnStatus.RECEIVED.value
    line = order.lines[0]
    response = post_form(
        staff,
        f"{url}/inspektera",
        {f"condition-{line.id}": "handled", f"deduction-{line.id}": "10,50"},
        form_url=url,
    )
    assert response.status_code == 302
    page = staff.get(url).get_data(as_text=True)
    credit = line.total_ore - 1050
    assert "Godkänn återbetalning" in page
    response = post_form(staff, f"{url}/godkann", {}, form_url=url)
    assert response.status_code == 302
    assert fresh(withdrawal).status == ReturnStatus.REFUNDED.value
    refund = db.session.query(Refund).one()
    assert refund.status == "done"
    # whole order withdrawn: the delivery fee is refunded too (T5.6)
    delivery = sum(fee.amount_ore for fee in order.fees if fee.kind == "delivery")
    assert refund.amount_ore == credit + delivery
    page = staff.get(url).get_data(as_text=True)
    assert "Genomförd" in page
    assert "Försök igen" not in page


def test_deadline_is_red_when_near_t5_8(app: Flask, frozen: time_machine.Coordinates) -> None:
    withdrawal = withdraw(paid_order())  # refund due 10 December
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    page = staff.get(desk_url(withdrawal)).get_data(as_text=True)
    assert "10 december 2026" in page
    assert "deadline-near" not in page
    frozen.move_to("2026-12-08 12:00:00+01:00")
    page = staff.get(desk_url(withdrawal)).get_data(as_text=True)
    assert "deadline-near" in page
    assert "deadline-near" in staff.get("/staff/returer").get_data(as_text=True)


def test_refused_parcel_is_shown_with_the_reason_t5_7(app: Flask) -> None:
    withdrawal = withdraw(paid_order())
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = desk_url(withdrawal)
    post_form(
        staff,
        f"{url}/mottag",
        {"received_on": BACK_ON.isoformat(), "outcome": "registered"},
        form_url=url,
    )
    assert fresh(withdrawal).status == ReturnStatus.PARCEL_REFUSED.value
    assert "Paketet skickades rekommenderat." in staff.get(url).get_data(as_text=True)


def test_errors_are_swedish_and_keep_the_input(app: Flask) -> None:
    order = paid_order()
    withdrawal = withdraw(order)
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = desk_url(withdrawal)
    response = post_form(
        staff, f"{url}/mottag", {"received_on": "2026-12-24", "outcome": "accepted"}, form_url=url
    )
    assert response.status_code == 400
    assert "Mottagningsdagen kan inte ligga i framtiden." in response.get_data(as_text=True)
    response = post_form(
        staff, f"{url}/mottag", {"received_on": "", "outcome": "accepted"}, form_url=url
    )
    assert "Ange mottagningsdag" in response.get_data(as_text=True)
    received_withdrawal = received(paid_order(email="annan@example.se"))
    url = desk_url(received_withdrawal)
    line = received_withdrawal.lines[0].order_line
    response = post_form(
        staff,
        f"{url}/inspektera",
        {f"condition-{line.id}": "handled", f"deduction-{line.id}": "99999"},
        form_url=url,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Värdeminskningen kan inte vara större än varans värde." in page
    assert 'value="99999"' in page
    response = post_form(
        staff,
        f"{url}/inspektera",
        {f"condition-{line.id}": "handled", f"deduction-{line.id}": "tio"},
        form_url=url,
    )
    assert "Ange avdraget i kronor" in response.get_data(as_text=True)
    assert fresh(received_withdrawal).status == ReturnStatus.RECEIVED.value


def test_failed_refund_shows_the_error_and_retry_completes_it_t5_8(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = payments.sandbox_provider()
    assert provider is not None
    original = provider.refund
    keys: list[str] = []
    state = {"down": True}

    def flaky(request: RefundRequest) -> RefundResult:
        keys.append(request.idempotency_key)
        if state["down"]:
            raise ProviderUnavailable(detail="503 from the provider", provider="sandbox")
        return original(request)

    monkeypatch.setattr(provider, "refund", flaky)
    withdrawal = inspected(paid_order())
    staff = staff_client(app, "personal@example.se", Role.STAFF)
    url = desk_url(withdrawal)
    post_form(staff, f"{url}/godkann", {}, form_url=url)
    page = staff.get(url).get_data(as_text=True)
    assert "Misslyckades" in page
    assert "503 from the provider" in page
    assert "Försök igen" in page
    # a double click on approve makes no second refund
    post_form(staff, f"{url}/godkann", {}, form_url=url)
    assert db.session.query(Refund).count() == 1
    state["down"] = False
    response = post_form(staff, f"{url}/forsok-igen", {}, form_url=url)
    assert response.status_code == 302
    db.session.expire_all()
    refund = db.session.query(Refund).one()
    assert refund.status == "done"
    assert keys == [refund.idempotency_key, refund.idempotency_key]
    assert "Försök igen" not in staff.get(url).get_data(as_text=True)
