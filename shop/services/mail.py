"""The mail outbox (filled in by the accounts work)."""

from __future__ import annotations

from flask.cli import AppGroup

outbox_cli = AppGroup("outbox", help="Send the mail waiting in the outbox.")
