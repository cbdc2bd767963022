"""Deception: asset registry, versioned material, touches.

Revision ID: deception_0001
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

from intelsec.store.types import JsonType

revision = "deception_0001"
down_revision = "0001_core"
branch_labels = ("deception",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deception_assets",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column("placement", sa.Text, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("spec", JsonType, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("rotated_at", TS, nullable=False),
        sa.Column("next_rotation_at", TS),
        sa.Column("last_touched_at", TS),
        sa.Column("touch_count", sa.Integer, nullable=False),
        sa.Column("last_test_at", TS),
        sa.Column("last_test_ok", sa.Boolean),
    )
    op.create_table(
        "deception_materials",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("asset_id", sa.String(64), sa.ForeignKey("deception_assets.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("public", sa.String(255), nullable=False, index=True),
        sa.Column("secret", JsonType, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS),
    )
    op.create_table(
        "deception_touches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("asset_id", sa.String(64), sa.ForeignKey("deception_assets.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("time", TS, nullable=False, index=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("source_ip", sa.String(64)),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("path", sa.String(1024)),
        sa.Column("identity", sa.String(512)),
        sa.Column("test", sa.Boolean, nullable=False),
        sa.Column("alert_id", sa.String(32)),
    )


def downgrade() -> None:
    for name in ("deception_touches", "deception_materials", "deception_assets"):
        op.drop_table(name)
