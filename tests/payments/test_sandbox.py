"""The sandbox: a whole purchase with no keys, signed events, refused in production."""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from shop.payments.base import CaptureRequest, PaymentFlow, PaymentState, RefundRequest
from shop.payments.errors import (
    IdempotencyConflict,
    InvalidWebhook,
    PaymentConfigError,
    PaymentNotAllowed,
    PaymentNotFound,
)
from shop.payments.sandbox import (
    SIGNATURE_HEADER,
    JsonFileSandboxStore,
    SandboxOutcome,
    SandboxPayment,
    SandboxProvider,
    sign,
)
from tests.payments.factories import FIXED_NOW, payment_request

SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture
def sandbox() -> SandboxProvider:
    return SandboxProvider(SECRET)


def _start(sandbox: SandboxProvider, key: str = "pay-1") -> str:
    return sandbox.start_payment(payment_request(key=key), FIXED_NOW).provider_reference


def test_a_test_payment_completes_with_no_keys(sandbox: SandboxProvider) -> None:
    start = sandbox.start_payment(payment_request(), FIXED_NOW)
    assert start.flow is PaymentFlow.REDIRECT
    assert start.test_mode
    assert start.redirect_url == f"/kassa/testbetalning/{start.provider_reference}"
    assert sandbox.fetch_state(start.provider_reference) is PaymentState.PENDING

    signed = sandbox.simulate(start.provider_reference, SandboxOutcome.PAY, FIXED_NOW)
    event = sandbox.parse_webhook(signed.payload, signed.headers, FIXED_NOW)

    assert event.state is PaymentState.PAID
    assert (event.order_reference, event.amount_ore, event.currency) == ("1001", 95600, "SEK")
    assert sandbox.fetch_state(start.provider_reference) is PaymentState.PAID


def test_the_same_key_gives_the_same_payment(sandbox: SandboxProvider) -> None:
    assert _start(sandbox) == _start(sandbox)
    with pytest.raises(IdempotencyConflict):
        sandbox.start_payment(payment_request(key="pay-1", order_reference="1002"), FIXED_NOW)


def test_a_double_click_gives_the_same_event_id(sandbox: SandboxProvider) -> None:
    reference = _start(sandbox)
    first = sandbox.simulate(reference, SandboxOutcome.PAY, FIXED_NOW)
    second = sandbox.simulate(reference, SandboxOutcome.PAY, FIXED_NOW + timedelta(seconds=5))

    a = sandbox.parse_webhook(first.payload, first.headers, FIXED_NOW)
    b = sandbox.parse_webhook(second.payload, second.headers, FIXED_NOW + timedelta(seconds=5))
    replay = sandbox.parse_webhook(first.payload, first.headers, FIXED_NOW + timedelta(seconds=9))

    assert a.event_id == b.event_id == replay.event_id


def test_an_async_payment_is_pending_then_settles(sandbox: SandboxProvider) -> None:
    reference = _start(sandbox)
    later = sandbox.simulate(reference, SandboxOutcome.PAY_LATER, FIXED_NOW)
    assert sandbox.parse_webhook(later.payload, later.headers, FIXED_NOW).state is (
        PaymentState.PENDING
    )
    with pytest.raises(PaymentNotAllowed):
        sandbox.simulate(reference, SandboxOutcome.PAY, FIXED_NOW)

    settled = sandbox.simulate(reference, SandboxOutcome.SETTLE, FIXED_NOW)

    assert sandbox.parse_webhook(settled.payload, settled.headers, FIXED_NOW).state is (
        PaymentState.PAID
    )


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        (SandboxOutcome.FAIL, PaymentState.FAILED),
        (SandboxOutcome.EXPIRE, PaymentState.EXPIRED),
        (SandboxOutcome.ABORT, PaymentState.CANCELLED),
    ],
)
def test_unpaid_outcomes_leave_the_order_unpaid(
    sandbox: SandboxProvider, outcome: SandboxOutcome, state: PaymentState
) -> None:
    reference = _start(sandbox)
    signed = sandbox.simulate(reference, outcome, FIXED_NOW)

    assert sandbox.parse_webhook(signed.payload, signed.headers, FIXED_NOW).state is state
    assert sandbox.fetch_state(reference) is state
    with pytest.raises(PaymentNotAllowed):
        sandbox.simulate(reference, SandboxOutcome.PAY, FIXED_NOW)


def test_settle_without_an_async_payment_is_not_allowed(sandbox: SandboxProvider) -> None:
    with pytest.raises(PaymentNotAllowed):
        sandbox.simulate(_start(sandbox), SandboxOutcome.SETTLE, FIXED_NOW)


def test_bad_old_and_malformed_webhooks_are_refused(sandbox: SandboxProvider) -> None:
    reference = _start(sandbox)
    signed = sandbox.simulate(reference, SandboxOutcome.PAY, FIXED_NOW)
    forged = signed.payload.replace(b'"paid"', b'"refunded"')
    other = SandboxProvider("another-secret-that-is-long-enough-000000")
    foreign = other.simulate(_start(other), SandboxOutcome.PAY, FIXED_NOW)

    with pytest.raises(InvalidWebhook):
        sandbox.parse_webhook(forged, signed.headers, FIXED_NOW)
    with pytest.raises(InvalidWebhook):
        sandbox.parse_webhook(foreign.payload, foreign.headers, FIXED_NOW)
    with pytest.raises(InvalidWebhook):
        sandbox.parse_webhook(signed.payload, {}, FIXED_NOW)
    with pytest.raises(InvalidWebhook):
        sandbox.parse_webhook(signed.payload, signed.headers, FIXED_NOW + timedelta(seconds=301))


def test_a_signed_but_malformed_event_is_refused(sandbox: SandboxProvider) -> None:
    payload = json.dumps({"id": "evt_x", "type": "t"}).encode()
    key = sandbox._key  # the provider's own signing key, to sign a malformed body
    headers = {SIGNATURE_HEADER: sign(payload, key, int(FIXED_NOW.timestamp()))}

    with pytest.raises(InvalidWebhook):
        sandbox.parse_webhook(payload, headers, FIXED_NOW)


def test_t5_8_refunds_are_idempotent_and_bounded(sandbox: SandboxProvider) -> None:
    reference = _start(sandbox)
    with pytest.raises(PaymentNotAllowed):
        sandbox.refund(RefundRequest(reference, 100, "r-0"))
    sandbox.simulate(reference, SandboxOutcome.PAY, FIXED_NOW)

    first = sandbox.refund(RefundRequest(reference, 50000, "r-1"))
    again = sandbox.refund(RefundRequest(reference, 50000, "r-1"))

    assert first == again
    with pytest.raises(IdempotencyConflict):
        sandbox.refund(RefundRequest(reference, 1, "r-1"))
    with pytest.raises(PaymentNotAllowed):
        sandbox.refund(RefundRequest(reference, 45601, "r-2"))
    sandbox.refund(RefundRequest(reference, 45600, "r-3"))
    assert sandbox.fetch_state(reference) is PaymentState.REFUNDED


def test_capture_and_cancel(sandbox: SandboxProvider) -> None:
    unpaid, paid = _start(sandbox, "k-1"), _start(sandbox, "k-2")
    sandbox.simulate(paid, SandboxOutcome.PAY, FIXED_NOW)

    assert sandbox.capture(CaptureRequest(paid, 95600, "c-1")).amount_ore == 95600
    with pytest.raises(PaymentNotAllowed):
        sandbox.capture(CaptureRequest(unpaid, 95600, "c-2"))
    assert sandbox.cancel(unpaid, "x-1") is PaymentState.CANCELLED
    assert sandbox.cancel(unpaid, "x-1") is PaymentState.CANCELLED
    with pytest.raises(PaymentNotAllowed):
        sandbox.cancel(paid, "x-2")
    with pytest.raises(PaymentNotFound):
        sandbox.fetch_state("sbx_unknown")


def test_the_sandbox_is_refused_in_production() -> None:
    with pytest.raises(PaymentConfigError, match="production"):
        SandboxProvider(SECRET, env="production")


def test_a_file_store_is_shared_between_processes(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    one = SandboxProvider(SECRET, store=JsonFileSandboxStore(path))
    two = SandboxProvider(SECRET, store=JsonFileSandboxStore(path))

    reference = _start(one)
    signed = two.simulate(reference, SandboxOutcome.PAY, FIXED_NOW)
    one.refund(RefundRequest(reference, 100, "r-1"))

    assert one.parse_webhook(signed.payload, signed.headers, FIXED_NOW).state is PaymentState.PAID
    assert two.fetch_state(reference) is PaymentState.PAID
    assert two.refund(RefundRequest(reference, 100, "r-1")).amount_ore == 100


def _save_many(path: str, prefix: str, count: int) -> None:
    """Save ``count`` payments of one writer (a thread, or a process of its own)."""
    store = JsonFileSandboxStore(path)
    for number in range(count):
        store.put(
            SandboxPayment(
                reference=f"sbx_{prefix}_{number}",
                order_reference=f"{prefix}-{number}",
                amount_ore=100 + number,
                state=PaymentState.PENDING,
                created_at=FIXED_NOW.isoformat(),
            )
        )


def _references(path: Path) -> set[str]:
    return JsonFileSandboxStore(path).references()


def test_a_file_store_loses_nothing_when_threads_save_at_once(tmp_path: Path) -> None:
    """Each payment is a file of its own, replaced whole on every save."""
    path = tmp_path / "sandbox.json"
    writers, each = 8, 25
    threads = [
        threading.Thread(target=_save_many, args=(str(path), f"t{n}", each)) for n in range(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    expected = {f"sbx_t{n}_{i}" for n in range(writers) for i in range(each)}
    assert _references(path) == expected
    assert JsonFileSandboxStore(path).get("sbx_t3_7") == SandboxPayment(
        "sbx_t3_7", "t3-7", 107, PaymentState.PENDING, FIXED_NOW.isoformat()
    )
    assert sorted(p.name for p in (tmp_path / "sandbox.json.d").iterdir()) == sorted(
        f"{reference}.json" for reference in expected
    ), "a temporary file was left behind"


def test_a_file_store_reads_one_payment_and_refuses_references_that_are_no_file_name(
    tmp_path: Path,
) -> None:
    """A save rewrites only its own payment's file (the cost does not grow with the store),
    and a reference from a URL never names a file outside the store."""
    path = tmp_path / "sandbox.json"
    _save_many(str(path), "a", 3)
    store = JsonFileSandboxStore(path)
    first = tmp_path / "sandbox.json.d" / "sbx_a_0.json"
    before = first.stat().st_mtime_ns, first.read_bytes()
    store.put(SandboxPayment("sbx_a_2", "a-2", 1, PaymentState.PAID, FIXED_NOW.isoformat()))
    assert (first.stat().st_mtime_ns, first.read_bytes()) == before
    assert store.get("sbx_a_2") == SandboxPayment(
        "sbx_a_2", "a-2", 1, PaymentState.PAID, FIXED_NOW.isoformat()
    )
    (tmp_path / "secret.json").write_text(json.dumps({"reference": "x"}), encoding="utf-8")
    for reference in ("../secret", "..", "sbx_a_0.json/..", "", "a" * 101):
        assert store.get(reference) is None
    assert store.get("sbx_unknown") is None
    with pytest.raises(ValueError, match="not a sandbox payment reference"):
        store.put(SandboxPayment("../x", "x", 1, PaymentState.PENDING, FIXED_NOW.isoformat()))


def test_a_file_store_loses_nothing_when_processes_save_at_once(tmp_path: Path) -> None:
    """Like gunicorn's workers: separate processes, one file."""
    path = tmp_path / "sandbox.json"
    writers, each = 4, 30
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_save_many, args=(str(path), f"p{n}", each)) for n in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0] * writers

    assert _references(path) == {f"sbx_p{n}_{i}" for n in range(writers) for i in range(each)}
