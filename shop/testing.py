"""Throwaway PostgreSQL databases for the test suite and the benchmarks.

Each run gets a database of its own, created from an administrative URL and
dropped afterwards, so parallel runs never collide and nothing is left behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


def psycopg_url(url: str) -> str:
    """The same PostgreSQL URL with the psycopg 3 driver named."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"expected a PostgreSQL URL, not {url!r}")


@contextmanager
def scratch_postgres_database(admin_url: str, prefix: str = "shop_scratch") -> Iterator[str]:
    """Create an empty database next to ``admin_url``'s, yield its URL, then drop it."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = sa.create_engine(psycopg_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()
