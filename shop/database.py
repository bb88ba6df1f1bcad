"""Pooled database connections: checked before use only when they sat idle.

SQLAlchemy's ``pool_pre_ping`` sends a ``SELECT 1`` every time a connection
leaves the pool, that is on every request that touches the database: one more
round trip for each of them (a sixth of the round trips of a purchase, measured
with bench/flow_profile.py). A connection a request gave back a moment ago is
as alive as it was then; the one worth checking is the connection that sat in
the pool long enough for the database to restart, fail over or cut it for
idleness.

So a connection is pinged only when it sat idle for at least
``DATABASE_PING_IDLE_SECONDS`` (default 1 second; 0 pings on every checkout,
as ``pool_pre_ping`` does). A ping that fails raises
:class:`~sqlalchemy.exc.DisconnectionError`, on which the pool throws the
connection away and opens a new one, so the request never sees it.

A restart that begins and ends within that second while a connection sits
unused is caught later: its first statement fails, the request gets the 503
page (shop/web/errors.py), and SQLAlchemy invalidates every connection of the
pool opened before the failure, so the next request reconnects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

#: ``ConnectionRecord.info`` key: ``time.monotonic()`` when the connection was last given back.
_RETURNED_AT = "shop.returned_at"


def ping_idle_connections(
    engine: Engine, idle_seconds: float, clock: Callable[[], float] = time.monotonic
) -> None:
    """Ping each connection of ``engine``'s pool that was idle ``idle_seconds`` or longer
    before it is handed out; replace it when the ping fails."""

    @event.listens_for(engine, "checkin")
    def returned(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = clock()

    @event.listens_for(engine, "checkout")
    def handed_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or clock() - returned_at < idle_seconds:
            return  # just opened, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(f"idle connection failed its ping: {error}") from error
