"""Drill: the SMTP server is down for a while. The outbox keeps every mail and sends it later,
each exactly once (a real SMTP server on loopback, aiosmtpd, stopped and started again).

Time is passed in (``now=``): the retries follow the outbox's backoff (1, 2, 4 … minutes)
without waiting for it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from shop.extensions import db
from shop.models import OutboxMessage
from shop.services import mail

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """aiosmtpd on a fixed loopback port that can be stopped and started again.

    ``refuse`` messages are answered with a temporary failure (451) first, as a
    server that is up but cannot take mail right now does.
    """

    def __init__(self) -> None:
        self.port = _free_port()
        self.received: list[Any] = []
        self.refuse = 0
        self._controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
                if server.refuse > 0:
                    server.refuse -= 1
                    return "451 4.3.0 Try again later"
                server.received.append(envelope)
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def recipients(self) -> list[str]:
        return sorted(to for envelope in self.received for to in envelope.rcpt_tos)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clear_sent() -> Iterator[None]:
    mail.sent_messages.clear()
    yield
    mail.sent_messages.clear()


def _queue(n: int) -> list[str]:
    addresses = [f"kund{i}@example.se" for i in range(n)]
    for address in addresses:
        mail.queue_mail(to=address, subject="Orderbekräftelse", template="t", text="Tack!", now=NOW)
    db.session.commit()
    return addresses


def _backend(smtp: SmtpServer) -> mail.SmtpBackend:
    return mail.SmtpBackend({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port})


def _statuses() -> list[tuple[str, int]]:
    db.session.expire_all()
    rows = db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id))
    return [(row.status, row.attempts) for row in rows]


def test_smtp_down_for_a_while_every_mail_is_kept_and_sent_later_once(
    app: Flask, smtp: SmtpServer
) -> None:
    addresses = _queue(6)
    backend = _backend(smtp)
    smtp.start()
    assert mail.send_pending(now=NOW, backend=backend, batch=2).sent == 2
    smtp.stop()  # the server goes away in the middle of the queue

    down = mail.send_pending(now=NOW, backend=backend)
    assert (down.sent, down.retried, down.failed) == (0, 4, 0)
    assert _statuses() == [("sent", 1)] * 2 + [("pending", 1)] * 4
    # Nothing is tried again before the backoff has passed...
    assert mail.send_pending(now=NOW + timedelta(seconds=59), backend=backend).handled == 0
    # ...and the server is still down at the next attempt: kept again, not lost.
    assert mail.send_pending(now=NOW + timedelta(minutes=1), backend=backend).retried == 4
    assert _statuses() == [("sent", 1)] * 2 + [("pending", 2)] * 4

    smtp.start()  # back, on the same address
    later = NOW + timedelta(minutes=3)
    assert mail.send_pending(now=later, backend=backend).sent == 4
    assert mail.send_pending(now=later + timedelta(days=1), backend=backend).handled == 0
    assert smtp.recipients() == sorted(addresses)  # every mail, each once
    assert _statuses() == [("sent", 1)] * 2 + [("sent", 3)] * 4


def test_a_server_that_answers_try_again_later_gets_the_mail_once_later(
    app: Flask, smtp: SmtpServer
) -> None:
    addresses = _queue(3)
    backend = _backend(smtp)
    smtp.refuse = 2  # up, but 451 for the first two messages
    smtp.start()
    first = mail.send_pending(now=NOW, backend=backend)
    assert (first.sent, first.retried) == (1, 2)
    assert mail.send_pending(now=NOW + timedelta(minutes=1), backend=backend).sent == 2
    assert mail.send_pending(now=NOW + timedelta(days=1), backend=backend).handled == 0
    assert smtp.recipients() == sorted(addresses)
    assert [status for status, _ in _statuses()] == ["sent"] * 3
