"""storage failures: who runs an import and its heartbeat, posted responses awaiting their cases, the
readiness probe's row

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 10:00:00

``import_runs.owner`` and ``heartbeat_at`` let a start-up tell a run its process left at ``running`` (killed,
crashed) from one still going (``cxloop.store.import_runs.fail_interrupted``). ``pending_arrivals`` holds the
ids of responses posted in real time until their alert rules have run, written in the transaction that opens
the import run (``cxloop.store.arrivals``). ``health_probe`` is the one row ``/readyz`` writes to prove the
app database takes writes (``cxloop.store.health``). Constraint names follow the naming convention of
``cxloop.store.tables``, so SQLite and PostgreSQL get the same schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "pending_arrivals",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("response_ids", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_runs.id"],
            name=op.f("fk_pending_arrivals_run_id_import_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_pending_arrivals")),
    )
    op.create_table(
        "health_probe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_probe")),
    )
    op.execute(
        sa.text("INSERT INTO health_probe (id, checked_at) VALUES (1, :now)").bindparams(
            sa.bindparam("now", datetime.now(UTC), type_=sa.DateTime(timezone=True))
        )
    )


def downgrade() -> None:
    op.drop_table("health_probe")
    op.drop_table("pending_arrivals")
    with op.batch_alter_table("import_runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
