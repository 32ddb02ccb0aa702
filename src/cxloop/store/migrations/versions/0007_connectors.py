"""survey-tool connectors: saved mappings and upload jobs (issue 10)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 13:20:00

Reserved in the migration chain so that capabilities built side by side never fork Alembic's history.
Its tables live in ``cxloop.store.connectors_tables``; until they exist this revision changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
