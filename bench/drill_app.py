"""``gunicorn bench.drill_app:app``: the shop with a kill switch, for bench/drills.py only.

The switch is off unless ``SHOP_DRILL_KILL_AT`` is set; nothing in ``shop/``
knows about it. When set, the first worker to reach that point kills itself
with SIGKILL (no cleanup, no rollback, as the kernel's OOM killer or a
power cut would), which makes the fault land in the same place every run:

- ``place-order``: inside the checkout's transaction, after the stock was
  reserved and the order and its stock movements were written, before COMMIT;
- ``placed``: just after that transaction committed, before the payment is
  started (the buyer never gets the answer);
- ``confirm``: inside the payment's confirmation, after the order was marked
  confirmed and flushed, before COMMIT.

``SHOP_DRILL_KILL_ONCE`` names a file the dying worker creates first
(``O_EXCL``): only one worker dies, so the buyer's retry goes through on the
worker gunicorn starts in its place.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from wsgi import app

KILL_AT = os.environ.get("SHOP_DRILL_KILL_AT", "").strip()
KILL_ONCE = os.environ.get("SHOP_DRILL_KILL_ONCE", "").strip()
POINTS = ("place-order", "placed", "confirm")

__all__ = ["app"]


def _die() -> None:
    try:
        os.close(os.open(KILL_ONCE, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return  # a worker died here already: this is the retry
    os.kill(os.getpid(), signal.SIGKILL)


def _reserves(session: Session) -> bool:
    from shop.models import StockMovement

    return any(isinstance(o, StockMovement) and o.kind == "reserve" for o in session.new)


def _confirms(session: Session) -> bool:
    from shop.models import Order

    return any(isinstance(o, Order) and o.status == "confirmed" for o in session.dirty)


def _after_flush(session: Session, context: Any) -> None:
    if KILL_AT == "place-order" and _reserves(session):
        _die()
    elif KILL_AT == "placed" and _reserves(session):
        session.info["drill_placed"] = True
    elif KILL_AT == "confirm" and _confirms(session):
        _die()


def _after_commit(session: Session) -> None:
    if session.info.pop("drill_placed", False):
        _die()


def _after_rollback(session: Session) -> None:
    session.info.pop("drill_placed", None)


if KILL_AT:
    if KILL_AT not in POINTS or not KILL_ONCE:
        raise RuntimeError(f"SHOP_DRILL_KILL_AT must be one of {POINTS}, with SHOP_DRILL_KILL_ONCE")
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", lambda session, tx: _after_rollback(session))
