"""The mail outbox: mail is queued in the business transaction and sent by a worker.

``queue_mail`` adds an :class:`~shop.models.OutboxMessage` to the current
session; the caller's commit stores it together with the change the mail is
about (a reset token, an order), so a mail is never sent for a change that
rolled back, and never lost for one that committed.

``flask outbox send`` sends what is due. Each message is claimed atomically
before it is sent (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, a
conditional ``UPDATE`` everywhere), so two workers never send the same mail.
A claim is a lease: a worker that dies mid-send leaves the row in
``sending`` until the lease runs out, then another worker picks it up.
Failures are retried with exponential backoff (1, 2, 4 … minutes, at most an
hour) and marked ``failed`` after :data:`MAX_ATTEMPTS` attempts.

Backends (config ``MAIL_BACKEND``): ``console`` (development: printed),
``file`` (``.eml`` files in ``MAIL_FILE_DIR``), ``smtp`` and ``memory``
(tests: :data:`sent_messages`).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Protocol

import click
from flask import Flask, current_app, render_template
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel.speaklater import LazyString
from jinja2 import TemplateNotFound
from sqlalchemy import select, update

from shop import clock
from shop.extensions import db
from shop.models import BookkeepingRecord, OutboxAttachment, OutboxMessage
from shop.services import receipts

log = logging.getLogger(__name__)

#: A message is marked ``failed`` after this many unsuccessful attempts.
MAX_ATTEMPTS = 8
#: The longest wait between two attempts.
MAX_BACKOFF = timedelta(hours=1)
#: How long a claimed message stays reserved for the worker that claimed it.
CLAIM_LEASE = timedelta(minutes=10)
DEFAULT_BATCH = 50

#: Messages "sent" by the ``memory`` backend, oldest first (tests read and clear it).
sent_messages: list[EmailMessage] = []


# --- Queueing -----------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """A file to send with a mail (a PDF invoice, the withdrawal form).

    ``data``, or ``record_id``: the bookkeeping record (a receipt) whose PDF
    is attached; the worker renders it from the record's frozen content when
    it sends the mail (:func:`shop.services.receipts.record_pdf`), so the
    request that queues the mail does not.
    """

    filename: str
    content_type: str
    data: bytes | None = None
    record_id: int | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.record_id is None):
            raise ValueError("an attachment has either data or a bookkeeping record")


def _in_language(language: str | None) -> AbstractContextManager[None]:
    """Translate in ``language`` (the recipient's), or in the current locale when None."""
    if language and language in current_app.config.get("LANGUAGES", ()):
        return force_locale(language)
    return nullcontext()


def render_mail(
    template: str, *, language: str | None = None, **context: Any
) -> tuple[str, str | None]:
    """Render ``templates/emails/<template>.txt`` and, if it exists, ``.html``.

    ``language`` (``sv``/``en``: the order's or the customer's) is the language
    of the mail; without it the mail is in the current request's language.
    """
    with _in_language(language):
        text = render_template(f"emails/{template}.txt", **context)
        try:
            html: str | None = render_template(f"emails/{template}.html", **context)
        except TemplateNotFound:
            html = None
    return text, html


def queue_mail(
    *,
    to: str,
    subject: str,
    template: str,
    text: str,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[Attachment] = (),
    now: datetime,
) -> OutboxMessage:
    """Add a mail to the outbox in the current transaction (the caller commits).

    ``template`` names the kind of mail (``password_reset`` …) for staff and
    tests; ``text`` and ``html`` are the rendered bodies (see :func:`render_mail`).
    ``attachments`` are stored as :class:`~shop.models.OutboxAttachment` rows
    with the message and sent by every backend.
    """
    message = OutboxMessage(
        to_address=to,
        subject=subject,
        body_text=text,
        body_html=html,
        headers=dict(headers or {}),
        template=template,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    for attachment in attachments:
        message.attachments.append(
            OutboxAttachment(
                filename=attachment.filename,
                content_type=attachment.content_type,
                data=attachment.data,
                record_id=attachment.record_id,
            )
        )
    db.session.add(message)
    return message


def queue_templated_mail(
    *,
    to: str,
    subject: str | LazyString,
    template: str,
    context: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[Attachment] = (),
    now: datetime,
    language: str | None = None,
) -> OutboxMessage:
    """Render ``emails/<template>`` with ``context`` and queue it (the caller commits).

    ``language`` is the recipient's (``order.language``, ``customer.language``):
    the body and a lazy ``subject`` (``lazy_gettext(...)``) are translated into
    it; without it the current request's language is used.
    """
    text, html = render_mail(template, language=language, **context)
    with _in_language(language):
        subject = str(subject)
    return queue_mail(
        to=to,
        subject=subject,
        template=template,
        text=text,
        html=html,
        headers=headers,
        attachments=attachments,
        now=now,
    )


# --- Backends -------------------------------------------------------------------


class MailBackend(Protocol):
    def send(self, email: EmailMessage, outbox: OutboxMessage) -> None: ...


class MemoryBackend:
    """Tests: keep the message in :data:`sent_messages`."""

    def send(self, email: EmailMessage, outbox: OutboxMessage) -> None:
        sent_messages.append(email)


class ConsoleBackend:
    """Development: print the mail readably (links unbroken) to the console."""

    def send(self, email: EmailMessage, outbox: OutboxMessage) -> None:
        lines = [f"{name}: {value}" for name, value in email.items()]
        files = [
            f"[Bilaga: {a.filename} ({a.content_type}, {len(attachment_data(a))} byte)]"
            for a in outbox.attachments
        ]
        click.echo("\n".join(["-" * 72, *lines, "", outbox.body_text, *files, "-" * 72]))


class FileBackend:
    """Write each mail as an ``.eml`` file to ``MAIL_FILE_DIR``."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def send(self, email: EmailMessage, outbox: OutboxMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = (outbox.created_at or clock.utcnow()).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{outbox.id:08d}.eml"
        path.write_bytes(email.as_bytes())


class SmtpBackend:
    """Send through an SMTP server (``SMTP_HOST``/``PORT``/``USERNAME``/``PASSWORD``)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = str(config["SMTP_HOST"])
        self.port = int(config["SMTP_PORT"])
        self.username = str(config.get("SMTP_USERNAME") or "")
        self.password = str(config.get("SMTP_PASSWORD") or "")
        self.starttls = bool(config.get("SMTP_STARTTLS"))
        self.timeout = float(config.get("SMTP_TIMEOUT", 30))

    def send(self, email: EmailMessage, outbox: OutboxMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(email)


def backend_from_config(config: Mapping[str, Any]) -> MailBackend:
    """The backend ``MAIL_BACKEND`` names; an unknown name is a configuration error."""
    name = str(config.get("MAIL_BACKEND", "console"))
    if name == "memory":
        return MemoryBackend()
    if name == "console":
        return ConsoleBackend()
    if name == "file":
        return FileBackend(str(config["MAIL_FILE_DIR"]))
    if name == "smtp":
        return SmtpBackend(config)
    raise ValueError(f"MAIL_BACKEND must be one of console, file, smtp or memory, not {name!r}.")


def attachment_data(attachment: OutboxAttachment) -> bytes:
    """The attachment's bytes; a receipt's PDF is rendered and stored the first time."""
    if attachment.data is not None:
        return attachment.data
    record = db.session.get(BookkeepingRecord, attachment.record_id)
    if record is None:
        raise LookupError(f"attachment {attachment.filename}: no bookkeeping record")
    return receipts.record_pdf(record)


def build_email(outbox: OutboxMessage, *, sender: str, sent_at: datetime) -> EmailMessage:
    """The RFC 5322 message for an outbox row: text, an HTML alternative if any, attachments.

    A receipt attached by reference is rendered (and stored) here, in the
    worker's transaction, on the first send.
    """
    email = EmailMessage()
    email["From"] = sender
    email["To"] = outbox.to_address
    email["Subject"] = outbox.subject
    email["Date"] = format_datetime(sent_at)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    email["Message-ID"] = make_msgid(idstring=f"outbox{outbox.id}", domain=domain)
    for name, value in (outbox.headers or {}).items():
        email[name] = str(value)
    email.set_content(outbox.body_text)
    if outbox.body_html:
        email.add_alternative(outbox.body_html, subtype="html")
    for attachment in outbox.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment_data(attachment),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return email


# --- The worker -------------------------------------------------------------------


@dataclass
class SendReport:
    """What one run of the worker did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failures: 1, 2, 4 … min, at most 1 h."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _due(now: datetime) -> Any:
    return OutboxMessage.status.in_(("pending", "sending")) & (OutboxMessage.next_attempt_at <= now)


def claim(message_id: int, *, now: datetime) -> OutboxMessage | None:
    """Reserve one due message for this worker, atomically; None if another has it.

    The conditional UPDATE succeeds for exactly one worker: it moves the
    message's ``next_attempt_at`` past ``now`` (the lease), so a second
    worker's identical UPDATE matches no row.
    """
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _due(now))
        .values(status="sending", next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return db.session.get(OutboxMessage, message_id, populate_existing=True)


def claim_next(*, now: datetime) -> OutboxMessage | None:
    """Claim the oldest due message. On PostgreSQL rows locked by others are skipped."""
    if db.engine.dialect.name == "postgresql":
        message_id = db.session.scalar(
            select(OutboxMessage.id)
            .where(_due(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if message_id is None:
            db.session.rollback()
            return None
        # Still inside the transaction holding the row lock: the UPDATE cannot race.
        return claim(message_id, now=now)
    candidates = db.session.scalars(
        select(OutboxMessage.id)
        .where(_due(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(5)
    ).all()
    db.session.rollback()
    for message_id in candidates:
        message = claim(message_id, now=now)
        if message is not None:
            return message
    return None


def deliver(message: OutboxMessage, *, backend: MailBackend, now: datetime) -> str:
    """Send one claimed message and record the outcome: ``sent``, ``pending`` or ``failed``."""
    sender = str(current_app.config["MAIL_FROM"])
    try:
        email = build_email(message, sender=sender, sent_at=now)
        # A receipt PDF rendered for this mail is stored before sending, not while it sends.
        db.session.commit()
        backend.send(email, message)
    except Exception as error:  # noqa: BLE001 - any failure of a backend is retried
        db.session.rollback()  # whatever building the message left unfinished
        message.attempts += 1
        message.last_error = f"{type(error).__name__}: {error}"[:2000]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
            log.error("Mail %s failed for good: %s", message.id, message.last_error)
        else:
            message.status = "pending"
            message.next_attempt_at = now + backoff(message.attempts)
            log.warning("Mail %s failed (attempt %s): %s", message.id, message.attempts, error)
    else:
        message.attempts += 1
        message.status = "sent"
        message.sent_at = now
        message.last_error = None
    db.session.commit()
    return message.status


def send_pending(
    *, now: datetime, batch: int = DEFAULT_BATCH, backend: MailBackend | None = None
) -> SendReport:
    """Send up to ``batch`` due messages, each claimed and committed on its own."""
    backend = backend or backend_from_config(current_app.config)
    report = SendReport()
    for _ in range(batch):
        message = claim_next(now=now)
        if message is None:
            break
        outcome = deliver(message, backend=backend, now=now)
        if outcome == "sent":
            report.sent += 1
        elif outcome == "failed":
            report.failed += 1
        else:
            report.retried += 1
    return report


def send_one(message_id: int, *, now: datetime, backend: MailBackend | None = None) -> bool:
    """Send one particular message now if it is due and nobody else has it."""
    message = claim(message_id, now=now)
    if message is None:
        return False
    outcome = deliver(message, backend=backend or backend_from_config(current_app.config), now=now)
    return outcome == "sent"


def deliver_now_in_development(app: Flask, message_id: int, *, now: datetime) -> None:
    """In development with the console backend, send a just-committed mail at once.

    So the password-reset link shows in the ``make run`` console without a
    separate worker. Elsewhere this does nothing: the worker sends it.
    """
    if app.config.get("ENV") == "development" and app.config.get("MAIL_BACKEND") == "console":
        send_one(message_id, now=now)


# --- CLI ------------------------------------------------------------------------------

outbox_cli = AppGroup("outbox", help="Send the mail waiting in the outbox.")


@outbox_cli.command("send")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option(
    "--batch",
    default=DEFAULT_BATCH,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many messages per round.",
)
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait when nothing is due (without --once).",
)
def send_command(once: bool, batch: int, interval: float) -> None:
    """Send due mail: once, or keep running until stopped (Ctrl-C)."""
    try:
        backend = backend_from_config(current_app.config)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    try:
        while True:
            report = send_pending(now=clock.utcnow(), batch=batch, backend=backend)
            if report.handled or once:
                click.echo(
                    f"Outbox: {report.sent} sent, {report.retried} to retry, "
                    f"{report.failed} failed."
                )
            if once:
                return
            if report.handled < batch:
                time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("Outbox worker stopped.")
