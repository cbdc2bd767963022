"""Identity: audit of short-lived credentials issued by the broker.

Revision ID: identity_0001
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0001"
down_revision = "0001_core"
branch_labels = ("identity",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "identity_credential_issues",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("spiffe_id", sa.String(2048), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("role_name", sa.String(63), nullable=False),
        sa.Column("group_role", sa.String(63), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("valid_until", TS, nullable=False),
        sa.Column("dropped_at", TS),
    )
    op.create_index("ix_identity_credential_issues_role_name", "identity_credential_issues", ["role_name"])
    op.create_index("ix_identity_credential_issues_issued_at", "identity_credential_issues", ["issued_at"])
    op.create_index("ix_identity_credential_issues_valid_until", "identity_credential_issues", ["valid_until"])


def downgrade() -> None:
    op.drop_index("ix_identity_credential_issues_valid_until", table_name="identity_credential_issues")
    op.drop_index("ix_identity_credential_issues_issued_at", table_name="identity_credential_issues")
    op.drop_index("ix_identity_credential_issues_role_name", table_name="identity_credential_issues")
    op.drop_table("identity_credential_issues")
