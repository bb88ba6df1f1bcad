"""complaint refunds: Refund.complaint_id (one refund per complaint, T6) and
Invoice.credited_ore (an unpaid invoice credited instead of paid back)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 07:18:04.065535

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credited_ore", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_invoice_credited_ore_non_negative"), "credited_ore >= 0"
        )

    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("complaint_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_refund_complaint_id"), ["complaint_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_refund_complaint_id_complaint"), "complaint", ["complaint_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_refund_complaint_id_complaint"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_refund_complaint_id"), type_="unique")
        batch_op.drop_column("complaint_id")

    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_invoice_credited_ore_non_negative"), type_="check")
        batch_op.drop_column("credited_ore")
