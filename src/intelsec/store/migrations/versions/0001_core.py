"""Core tables: events, alerts, alert deliveries (outbox), decisions, runs.

Revision ID: 0001_core
Revises:
"""

import sqlalchemy as sa
from alembic import op

from intelsec.store.types import JsonType

revision = "0001_core"
down_revision = None
branch_labels = ("core",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("time", TS, nullable=False, index=True),
        sa.Column("source", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(64), nullable=False, index=True),
        sa.Column("entity", sa.String(255)),
        sa.Column("data", JsonType, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("rule", sa.String(128), nullable=False, index=True),
        sa.Column("source", sa.String(64), nullable=False, index=True),
        sa.Column("severity", sa.String(16), nullable=False, index=True),
        sa.Column("entity", sa.String(255)),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("evidence", JsonType, nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=False, index=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("test", sa.Boolean, nullable=False),
        sa.Column("triage", sa.String(16)),
        sa.Column("created_at", TS, nullable=False, index=True),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("acked_at", TS),
        sa.Column("acked_by", sa.String(128)),
        sa.Column("resolved_at", TS),
        sa.Column("resolved_by", sa.String(128)),
    )
    op.create_index("ix_alerts_dedup_open", "alerts", ["dedup_key", "status"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("alert_id", sa.String(32), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("sink", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False, index=True),
        sa.Column("lease_until", TS),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", TS),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("time", TS, nullable=False, index=True),
        sa.Column("source", sa.String(64), nullable=False, index=True),
        sa.Column("query", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255)),
        sa.Column("verdict", sa.String(32), nullable=False, index=True),
        sa.Column("reasons", JsonType, nullable=False),
        sa.Column("policy_digest", sa.String(64), nullable=False),
        sa.Column("input_digest", sa.String(64)),
        sa.Column("result", JsonType),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("started_at", TS, nullable=False, index=True),
        sa.Column("finished_at", TS),
        sa.Column("summary", JsonType, nullable=False),
    )


def downgrade() -> None:
    for name in ("runs", "decisions", "alert_deliveries", "alerts", "events"):
        op.drop_table(name)
