"""Privacy: detokenization audit trail.

Revision ID: privacy_0001
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "privacy_0001"
down_revision = "0001_core"
branch_labels = ("privacy",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "privacy_detokenize_audit",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("time", TS, nullable=False, index=True),
        sa.Column("caller", sa.String(128), nullable=False, index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("field", sa.String(255)),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("ticket", sa.String(128)),
        sa.Column("granted", sa.Boolean, nullable=False, index=True),
        sa.Column("decision", sa.String(255), nullable=False),
        sa.Column("key_id", sa.String(64)),
        sa.Column("key_version", sa.Integer),
    )


def downgrade() -> None:
    op.drop_table("privacy_detokenize_audit")
