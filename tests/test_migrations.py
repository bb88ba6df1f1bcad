"""The models and the migrations agree, and the migrations run both ways.

The schema is built by migrations only: 0001 is generated from the models and
0002 holds the hand-written search structures (SQLite FTS5 ``product_fts`` with
its triggers, the PostgreSQL ``fts_*`` GIN index). Autogenerate must find no
difference between the migrated database and the models, on SQLite and on
PostgreSQL, and ``upgrade`` → ``downgrade base`` → ``upgrade`` must work on both.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade

from shop import create_app
from shop.config import PROJECT_ROOT
from shop.extensions import db
from shop.testing import scratch_postgres_database
from tests.conftest import TEST_DATABASE_URL, make_test_config

ENV_PY = PROJECT_ROOT / "migrations" / "env.py"


def _env_include_name() -> Callable[..., bool]:
    """``include_name`` exactly as migrations/env.py defines it.

    env.py runs migrations when imported, so only the filter and the constant it
    uses are taken from its source.
    """
    tree = ast.parse(ENV_PY.read_text(encoding="utf-8"), filename=str(ENV_PY))
    wanted: list[ast.stmt] = []
    for node in tree.body:
        is_filter = isinstance(node, ast.FunctionDef) and node.name == "include_name"
        is_prefixes = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "HAND_WRITTEN_PREFIXES" for t in node.targets
        )
        if is_filter or is_prefixes:
            wanted.append(node)
    assert len(wanted) == 2, "migrations/env.py must define HAND_WRITTEN_PREFIXES and include_name"
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(ENV_PY), "exec"), namespace)
    include_name: Callable[..., bool] = namespace["include_name"]
    return include_name


def _differences(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"include_name": _env_include_name(), "compare_type": True},
    )
    return list(compare_metadata(context, db.metadata))


def _search_structures(connection: sa.Connection) -> set[str]:
    """Names of the hand-written search structures present (migration 0002)."""
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            sa.text(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') "
                "AND (name = 'product_fts' OR (type = 'trigger' AND sql LIKE '%product_fts%'))"
            )
        )
    else:
        rows = connection.execute(
            sa.text(
                "SELECT indexname FROM pg_indexes "
                "WHERE schemaname = current_schema() AND indexname LIKE 'fts\\_%'"
            )
        )
    return {row[0] for row in rows}


def _user_tables(connection: sa.Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def test_models_match_migrations(app: Flask) -> None:
    """Autogenerate finds nothing between the models and the migrated database."""
    with db.engine.connect() as connection:
        differences = _differences(connection)
    assert differences == [], (
        f"models and migrations differ on {db.engine.dialect.name}; "
        f"run scripts/regen-initial-migration: {differences}"
    )


def test_env_filter_leaves_only_search_structures_out() -> None:
    """The autogenerate filter skips the hand-written search structures and nothing else."""
    include_name = _env_include_name()
    assert not include_name("product_fts", "table", {})
    assert not include_name("product_fts_data", "table", {})
    assert not include_name("fts_product_search", "index", {})
    assert include_name("product", "table", {})
    assert include_name("ix_product_sort_title", "index", {})


def test_migrations_have_one_head() -> None:
    """One linear history: a second head would make ``flask db upgrade`` refuse to run."""
    heads = ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on a database of its own (never the shared session database)."""
    if request.param == "sqlite":
        yield create_app(make_test_config(f"sqlite:///{tmp_path / 'scratch.sqlite3'}", tmp_path))
        return
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests are off")
    with scratch_postgres_database(TEST_DATABASE_URL, prefix="shop_migr") as url:
        app = create_app(make_test_config(url, tmp_path))
        try:
            yield app
        finally:
            with app.app_context():
                db.engine.dispose()


def test_upgrade_downgrade_upgrade(scratch_app: Flask) -> None:
    """``flask db upgrade``, ``flask db downgrade base`` and ``upgrade`` again all work.

    Every migration runs, the hand-written search structures (0002) included:
    they exist after upgrade and are gone after the downgrade.
    """
    with scratch_app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            tables = _user_tables(connection)
            search = _search_structures(connection)
        assert {"product", "customer", "cart_line", "alembic_version"} <= tables
        assert search, "migration 0002 did not create the search structures"

        downgrade(revision="base")
        with db.engine.connect() as connection:
            left = _user_tables(connection) - {"alembic_version"}
            search_left = _search_structures(connection)
        assert left == set(), f"downgrade base left tables behind: {sorted(left)}"
        assert search_left == set(), f"downgrade base left search structures: {search_left}"

        upgrade()
        with db.engine.connect() as connection:
            assert _user_tables(connection) == tables
            assert _search_structures(connection) == search
            assert _differences(connection) == []
        db.engine.dispose()
