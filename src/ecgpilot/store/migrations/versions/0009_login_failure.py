"""Failed logins in the database (login_failure), so that every worker process counts the same failures.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failure_kind_key_at", "login_failure", ["kind", "key", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_login_failure_kind_key_at", table_name="login_failure")
    op.drop_table("login_failure")
