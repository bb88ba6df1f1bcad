"""The mail outbox: queued in the business transaction, sent once, retried with backoff."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskCliRunner

from shop.extensions import db
from shop.models import OutboxMessage
from shop.services import mail

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clear_sent() -> Iterator[None]:
    mail.sent_messages.clear()
    yield
    mail.sent_messages.clear()


def queue(n: int = 1, **overrides: Any) -> list[OutboxMessage]:
    messages = []
    for i in range(n):
        values: dict[str, Any] = {
            "to": f"kund{i}@example.se",
            "subject": "Hej",
            "template": "test",
            "text": f"Brödtext {i}: https://example.se/en/lång/länk?token=abc",
            "now": NOW,
        }
        values.update(overrides)
        messages.append(mail.queue_mail(**values))
    db.session.commit()
    return messages


class FailingBackend:
    def __init__(self) -> None:
        self.calls = 0

    def send(self, email: EmailMessage, outbox: OutboxMessage) -> None:
        self.calls += 1
        raise ConnectionRefusedError("SMTP-servern svarar inte")


def test_queued_mail_is_part_of_the_callers_transaction(app: Flask) -> None:
    mail.queue_mail(to="a@example.se", subject="S", template="t", text="x", now=NOW)
    db.session.rollback()
    assert db.session.query(OutboxMessage).count() == 0
    queue()
    row = db.session.query(OutboxMessage).one()
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, NOW)


def test_render_mail_uses_text_and_html_templates(app: Flask) -> None:
    with app.test_request_context():
        text, html = mail.render_mail(
            "password_reset", name="Kim", link="https://x.example/l", valid_minutes=60
        )
    assert "Hej Kim!" in text
    assert "https://x.example/l" in text
    assert html is not None
    assert 'href="https://x.example/l"' in html


def test_worker_sends_due_mail_once(app: Flask) -> None:
    queue(2, html="<p>Hej</p>", headers={"List-Unsubscribe": "<https://x.example/avsluta>"})
    report = mail.send_pending(now=NOW)
    assert (report.sent, report.retried, report.failed) == (2, 0, 0)
    rows = db.session.query(OutboxMessage).order_by(OutboxMessage.id).all()
    assert [(r.status, r.sent_at, r.attempts) for r in rows] == [("sent", NOW, 1)] * 2
    assert len(mail.sent_messages) == 2
    first = mail.sent_messages[0]
    assert first["To"] == "kund0@example.se"
    assert first["From"] == app.config["MAIL_FROM"]
    assert first["List-Unsubscribe"] == "<https://x.example/avsluta>"
    assert first.get_body(("plain",)).get_content().startswith("Brödtext 0")  # type: ignore[union-attr]
    assert first.get_body(("html",)).get_content().strip() == "<p>Hej</p>"  # type: ignore[union-attr]
    assert mail.send_pending(now=NOW + timedelta(hours=5)).handled == 0
    assert len(mail.sent_messages) == 2


def test_mail_not_yet_due_waits(app: Flask) -> None:
    queue()
    assert mail.send_pending(now=NOW - timedelta(seconds=1)).handled == 0
    assert mail.sent_messages == []


def test_batch_limits_how_many_are_sent(app: Flask) -> None:
    queue(3)
    assert mail.send_pending(now=NOW, batch=2).sent == 2
    assert mail.send_pending(now=NOW, batch=2).sent == 1


@pytest.mark.parametrize(
    ("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (4, 8), (6, 32), (7, 60), (20, 60)]
)
def test_backoff_doubles_up_to_an_hour(attempts: int, minutes: int) -> None:
    assert mail.backoff(attempts) == timedelta(minutes=minutes)


def test_failure_is_retried_with_backoff_then_marked_failed(app: Flask) -> None:
    (message,) = queue()
    backend = FailingBackend()
    now = NOW
    waits = []
    for attempt in range(1, mail.MAX_ATTEMPTS + 1):
        report = mail.send_pending(now=now, backend=backend)
        db.session.refresh(message)
        assert message.attempts == attempt
        assert "SMTP-servern svarar inte" in (message.last_error or "")
        if attempt < mail.MAX_ATTEMPTS:
            assert report.retried == 1
            assert message.status == "pending"
            waits.append(message.next_attempt_at - now)
            # Not sent again before the wait is over.
            assert (
                mail.send_pending(
                    now=message.next_attempt_at - timedelta(seconds=1), backend=backend
                ).handled
                == 0
            )
            now = message.next_attempt_at
        else:
            assert report.failed == 1
            assert message.status == "failed"
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]
    assert backend.calls == mail.MAX_ATTEMPTS
    assert mail.send_pending(now=now + timedelta(days=1), backend=backend).handled == 0


def test_a_claimed_message_cannot_be_claimed_again(app: Flask) -> None:
    (message,) = queue()
    claimed = mail.claim(message.id, now=NOW)
    assert claimed is not None
    assert claimed.status == "sending"
    assert mail.claim(message.id, now=NOW) is None
    assert mail.claim_next(now=NOW) is None


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_the_lease(app: Flask) -> None:
    (message,) = queue()
    assert mail.claim(message.id, now=NOW) is not None
    assert mail.send_pending(now=NOW + mail.CLAIM_LEASE - timedelta(seconds=1)).handled == 0
    assert mail.send_pending(now=NOW + mail.CLAIM_LEASE).sent == 1
    assert len(mail.sent_messages) == 1


def test_two_workers_never_send_the_same_mail(app: Flask) -> None:
    queue(30)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                mail.send_pending(now=NOW, batch=100)
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    recipients = [m["To"] for m in mail.sent_messages]
    assert sorted(recipients) == sorted(f"kund{i}@example.se" for i in range(30))
    assert db.session.query(OutboxMessage).filter_by(status="sent").count() == 30


def test_file_backend_writes_eml_files(app: Flask, tmp_path: Path) -> None:
    queue()
    backend = mail.FileBackend(str(tmp_path / "mail"))
    assert mail.send_pending(now=NOW, backend=backend).sent == 1
    (written,) = (tmp_path / "mail").glob("*.eml")
    content = written.read_bytes()
    assert b"To: kund0@example.se" in content


def test_console_backend_prints_the_text_readably(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    queue()
    assert mail.send_pending(now=NOW, backend=mail.ConsoleBackend()).sent == 1
    out = capsys.readouterr().out
    assert "To: kund0@example.se" in out
    assert "https://example.se/en/lång/länk?token=abc" in out


def test_backend_from_config() -> None:
    assert isinstance(mail.backend_from_config({"MAIL_BACKEND": "memory"}), mail.MemoryBackend)
    assert isinstance(mail.backend_from_config({"MAIL_BACKEND": "console"}), mail.ConsoleBackend)
    assert isinstance(
        mail.backend_from_config({"MAIL_BACKEND": "file", "MAIL_FILE_DIR": "/tmp/x"}),
        mail.FileBackend,
    )
    with pytest.raises(ValueError, match="MAIL_BACKEND must be one of"):
        mail.backend_from_config({"MAIL_BACKEND": "pigeon"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_smtp_backend_delivers_to_a_real_smtp_server(app: Flask) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[Any] = []

    class Collect(Message):  # type: ignore[misc]
        def handle_message(self, message: Any) -> None:
            received.append(message)

    port = _free_port()
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        queue(html="<p>Hej <b>där</b></p>", headers={"X-Shop-Test": "ja"})
        backend = mail.SmtpBackend(
            {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_STARTTLS": False}
        )
        assert mail.send_pending(now=NOW, backend=backend).sent == 1
    finally:
        controller.stop()
    (message,) = received
    assert message["To"] == "kund0@example.se"
    assert message["X-Shop-Test"] == "ja"
    assert message.is_multipart()
    types = [part.get_content_type() for part in message.walk()]
    assert "text/plain" in types
    assert "text/html" in types
    plain = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert "Brödtext 0" in plain.get_payload(decode=True).decode("utf-8")


def test_smtp_failure_is_recorded_for_a_retry(app: Flask) -> None:
    queue()
    backend = mail.SmtpBackend({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": _free_port()})
    report = mail.send_pending(now=NOW, backend=backend)
    assert report.retried == 1
    row = db.session.query(OutboxMessage).one()
    assert row.status == "pending"
    assert row.last_error


def test_cli_outbox_send_once(app: Flask, runner: FlaskCliRunner) -> None:
    queue(2)
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        result = runner.invoke(args=["outbox", "send", "--once", "--batch", "5"])
    assert result.exit_code == 0, result.output
    assert "Outbox: 2 sent, 0 to retry, 0 failed." in result.output
    assert len(mail.sent_messages) == 2


def test_deliver_now_only_in_development_with_console(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    (message,) = queue()
    mail.deliver_now_in_development(app, message.id, now=NOW)  # testing + memory: nothing
    assert db.session.get(OutboxMessage, message.id).status == "pending"  # type: ignore[union-attr]
    old = {key: app.config[key] for key in ("ENV", "MAIL_BACKEND")}
    app.config.update(ENV="development", MAIL_BACKEND="console")
    try:
        mail.deliver_now_in_development(app, message.id, now=NOW)
    finally:
        app.config.update(old)
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).status == "sent"  # type: ignore[union-attr]
    assert "kund0@example.se" in capsys.readouterr().out
