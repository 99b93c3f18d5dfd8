"""Drop the duplicate unique index on user_account.oidc_subject (the table's UNIQUE constraint enforces it).

The old runner's step 2 created ``ix_user_oidc_subject`` next to the UNIQUE constraint that the table got
from the model. A database whose table was made before that step (by an older runner) has the index only:
there it is kept, as the one thing that keeps the subjects unique.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_INDEX = "ix_user_oidc_subject"


def _has_unique_constraint() -> bool:
    return any(u["column_names"] == ["oidc_subject"]
               for u in sa.inspect(op.get_bind()).get_unique_constraints("user_account"))


def _has_index() -> bool:
    return _INDEX in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("user_account")}


def upgrade() -> None:
    if _has_unique_constraint() and _has_index():
        op.drop_index(_INDEX, table_name="user_account")


def downgrade() -> None:
    if not _has_index():
        op.create_index(_INDEX, "user_account", ["oidc_subject"], unique=True)
