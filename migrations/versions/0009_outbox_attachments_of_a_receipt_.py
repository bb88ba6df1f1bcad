"""outbox attachments of a receipt rendered when sent

An order confirmation's receipt is attached by reference to its bookkeeping
record (``record_id``); the outbox worker renders the PDF from the record's
frozen content when it sends the mail, so ``data`` may be empty then.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 06:26:48.699426

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_attachment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_id", sa.Integer(), nullable=True))
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_outbox_attachment_record_id"), ["record_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_attachment_record_id_bookkeeping_record"),
            "bookkeeping_record",
            ["record_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_outbox_attachment_data_or_record"),
            "data IS NOT NULL OR record_id IS NOT NULL",
        )


def downgrade():
    with op.batch_alter_table("outbox_attachment", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_attachment_data_or_record"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_attachment_record_id_bookkeeping_record"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_attachment_record_id"))
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("record_id")
