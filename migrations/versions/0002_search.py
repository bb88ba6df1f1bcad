"""search: full-text structures over product.search_text (hand-written)

PostgreSQL: a stored generated column ``fts_vector`` holding a weighted
tsvector (title words, the first line of ``search_text``, weigh A; the whole
text weighs D) and a GIN index ``fts_product_search`` on it; search filters
and ranks on the stored vector, so ranking many matches stays cheap.
SQLite: an FTS5 table ``product_fts`` (title, body) whose rowid is the
product id, kept in sync with ``product`` by triggers.

Names start with ``fts_`` / ``product_fts`` so autogenerate leaves them be
(see ``migrations/env.py``); the column is not mapped by the models.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PG_VECTOR_SQL = (
    "(setweight(to_tsvector('simple'::regconfig, split_part(search_text, E'\\n', 1)), 'A')"
    " || setweight(to_tsvector('simple'::regconfig, search_text), 'D'))"
)


def _sqlite_title(row: str) -> str:
    return (
        f"CASE WHEN instr({row}.search_text, char(10)) > 0 "
        f"THEN substr({row}.search_text, 1, instr({row}.search_text, char(10)) - 1) "
        f"ELSE {row}.search_text END"
    )


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "ALTER TABLE product ADD COLUMN fts_vector tsvector "
            f"GENERATED ALWAYS AS ({PG_VECTOR_SQL}) STORED"
        )
        op.execute("CREATE INDEX fts_product_search ON product USING gin (fts_vector)")
    elif dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE product_fts USING fts5("
            "title, body, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
        )
        op.execute(
            "INSERT INTO product_fts (rowid, title, body) "
            f"SELECT product.id, {_sqlite_title('product')}, product.search_text FROM product"
        )
        op.execute(
            "CREATE TRIGGER product_fts_after_insert AFTER INSERT ON product BEGIN "
            "INSERT INTO product_fts (rowid, title, body) "
            f"VALUES (new.id, {_sqlite_title('new')}, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER product_fts_after_update AFTER UPDATE OF search_text ON product BEGIN "
            "DELETE FROM product_fts WHERE rowid = old.id; "
            "INSERT INTO product_fts (rowid, title, body) "
            f"VALUES (new.id, {_sqlite_title('new')}, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER product_fts_after_delete AFTER DELETE ON product BEGIN "
            "DELETE FROM product_fts WHERE rowid = old.id; END"
        )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS fts_product_search")
        op.execute("ALTER TABLE product DROP COLUMN IF EXISTS fts_vector")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS product_fts_after_delete")
        op.execute("DROP TRIGGER IF EXISTS product_fts_after_update")
        op.execute("DROP TRIGGER IF EXISTS product_fts_after_insert")
        op.execute("DROP TABLE IF EXISTS product_fts")
