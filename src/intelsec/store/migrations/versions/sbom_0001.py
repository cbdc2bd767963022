"""SBOM remediation: per-project vulnerability state for burn-down (new / open / fixed).

Revision ID: sbom_0001
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "sbom_0001"
down_revision = "0001_core"
branch_labels = ("sbom",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sbom_findings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("vuln_id", sa.String(128), nullable=False),
        sa.Column("package", sa.String(255), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("ecosystem", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("fixed_at", TS),
        sa.UniqueConstraint("project", "fingerprint", name="uq_sbom_findings_project_fp"),
    )
    op.create_index("ix_sbom_findings_open", "sbom_findings", ["project", "fixed_at"])


def downgrade() -> None:
    op.drop_index("ix_sbom_findings_open", table_name="sbom_findings")
    op.drop_table("sbom_findings")
