"""credentials: when each was last used is stored from now on

A worker credential whose last use is unset counts as never kept by its
worker (master/enrollment.py), which lets the enrollment token replace it.
Until now the last use was never written, so every existing worker
credential is marked used at its creation: they were in use before, and
only an admin's revoke frees their ids, as it did.

Revision ID: 0004_credential_first_use
Revises: 0003_i15_workspace
Create Date: 2026-12-03 13:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0004_credential_first_use"
down_revision = "0003_i15_workspace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE credentials SET last_used_at = created_at "
        "WHERE last_used_at IS NULL AND kind = 'CREDENTIAL_KIND_WORKER'"
    )


def downgrade() -> None:
    # the marks carry no schema; nothing to undo
    pass
