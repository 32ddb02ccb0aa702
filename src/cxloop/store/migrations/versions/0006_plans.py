"""targets and action plans (issue 7)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 13:20:00

Reserved in the migration chain so that capabilities built side by side never fork Alembic's history.
Its tables live in ``cxloop.store.plans_tables``; until they exist this revision changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
