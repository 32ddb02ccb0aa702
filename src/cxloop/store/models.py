"""SQLAlchemy tables of the app database.

Natural keys (``unit_id``, ``touchpoint_id``, ``question_id``, ``segment_id``) are the primary keys: they
are what imports, the warehouse and the API all speak, and keeping them avoids a surrogate-key mapping
layer. Schema changes go through Alembic only (``cxloop db upgrade``).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(enum.StrEnum):
    """What a user may do; what they may *see* is set by their scope unit."""

    admin = "admin"
    executive = "executive"
    manager = "manager"
    analyst = "analyst"
    frontline = "frontline"


class QuestionType(enum.StrEnum):
    nps = "nps"
    csat = "csat"
    ces = "ces"
    rating = "rating"
    text = "text"
    choice = "choice"


class Unit(Base):
    """A node of the org hierarchy (company, division, region, branch, team...).

    ``path`` is the materialised path of unit ids from the root (``/bank/retail/north/b01/``), so a
    subtree is one ``LIKE 'prefix%'`` on any database; ``depth`` is 0 at the root.
    """

    __tablename__ = "units"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("units.unit_id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(64))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(String(2000), index=True)
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_units_owner_user_id_users"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[unit_id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_user_id])


class User(Base):
    """A person who logs in. They see their scope unit's subtree and nothing else."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", native_enum=False, length=32))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])


class Touchpoint(Base):
    """A journey stage (onboarding, branch visit, call centre...), ordered along the journey."""

    __tablename__ = "touchpoints"

    touchpoint_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    stage_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Segment(Base):
    """A customer segment; ``value_rank`` orders value tiers (1 = most valuable), if it is one."""

    __tablename__ = "segments"

    segment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    value_rank: Mapped[int | None] = mapped_column(Integer)


class Survey(Base):
    __tablename__ = "surveys"

    survey_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    questions: Mapped[list[Question]] = relationship(back_populates="survey")


class Question(Base):
    """A question (or driver item). ``question_id`` is the item name used in the warehouse ``answers``.

    The standard headline questions have the ids ``nps``, ``csat`` and ``ces``; driver items are the
    ``q_<item>`` columns of a canonical responses file, stored under ``<item>``.
    """

    __tablename__ = "questions"

    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    survey_id: Mapped[str | None] = mapped_column(ForeignKey("surveys.survey_id"), index=True)
    label: Mapped[str] = mapped_column(String(500))
    type: Mapped[QuestionType] = mapped_column(
        Enum(QuestionType, name="question_type", native_enum=False, length=16)
    )
    scale_min: Mapped[float | None] = mapped_column(Float)
    scale_max: Mapped[float | None] = mapped_column(Float)
    is_driver: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    survey: Mapped[Survey | None] = relationship(back_populates="questions")


class ImportRun(Base):
    """Audit of one import: what came in, what was kept, where the rejects went."""

    __tablename__ = "import_runs"
    __table_args__ = (Index("ix_import_runs_kind_started", "kind", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, done, failed
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    quarantine_path: Mapped[str | None] = mapped_column(String(2000))
    message: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Theme(Base):
    """A theme of the programme's comment codebook (``cxloop.text``), editable by analysts.

    ``keywords`` holds one keyword or phrase per line (``*`` stands for up to three words). A parent
    theme groups children ("staff" over "friendly_staff" and "unhelpful_staff"); inactive themes are
    kept (their past tags stay readable) but no longer tag new comments.
    """

    __tablename__ = "themes"

    theme_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("themes.theme_id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    parent: Mapped[Theme | None] = relationship(remote_side=[theme_id])


class PilotDecisionKind(enum.StrEnum):
    """What was decided after a pilot (or a wave) was measured."""

    scale = "scale"
    iterate = "iterate"
    stop = "stop"


class Pilot(Base):
    """A pilot: an improvement tried on a few units (or touchpoints, segments) first, to prove its return.

    Lists (touchpoints, segments, target metrics, linked actions) are JSON arrays: they are read whole and
    never queried into. Units in the pilot and in its control group are rows of :class:`PilotUnit`.
    """

    __tablename__ = "pilots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    one_off_cost: Mapped[float] = mapped_column(Float, default=0.0)
    running_cost: Mapped[float] = mapped_column(Float, default=0.0)  # a month
    touchpoints: Mapped[list[str]] = mapped_column(JSON, default=list)
    segments: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_metrics: Mapped[list[str]] = mapped_column(JSON, default=list)
    linked_actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    units: Mapped[list[PilotUnit]] = relationship(back_populates="pilot", cascade="all, delete-orphan")
    waves: Mapped[list[PilotWave]] = relationship(
        back_populates="pilot", cascade="all, delete-orphan", order_by="PilotWave.start_date"
    )
    decisions: Mapped[list[PilotDecision]] = relationship(
        back_populates="pilot", cascade="all, delete-orphan", order_by="PilotDecision.decided_at"
    )


class PilotWave(Base):
    """A rollout wave: the pilot's change taken to further units, measured like the pilot."""

    __tablename__ = "pilot_waves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    one_off_cost: Mapped[float] = mapped_column(Float, default=0.0)
    running_cost: Mapped[float] = mapped_column(Float, default=0.0)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    pilot: Mapped[Pilot] = relationship(back_populates="waves")


class PilotUnit(Base):
    """A unit in a pilot (``role`` treated) or in its control group (``role`` control); ``wave_id`` set
    for units a rollout wave adds."""

    __tablename__ = "pilot_units"
    __table_args__ = (Index("ix_pilot_units_unit", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"))
    role: Mapped[str] = mapped_column(String(16))  # treated, control
    wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("pilot_waves.id", ondelete="CASCADE"), nullable=True
    )

    pilot: Mapped[Pilot] = relationship(back_populates="units")


class PilotDecision(Base):
    """A recorded decision on a pilot (or one of its waves): scale, iterate or stop, by whom, when, why."""

    __tablename__ = "pilot_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("pilot_waves.id", ondelete="CASCADE"), nullable=True
    )
    decision: Mapped[PilotDecisionKind] = mapped_column(
        Enum(PilotDecisionKind, name="pilot_decision", native_enum=False, length=16)
    )
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(320), default="")
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    pilot: Mapped[Pilot] = relationship(back_populates="decisions")


class ApiKey(Base):
    """A long-lived key for an integration, scoped to a unit's subtree. Only a hash of the key is stored.

    ``prefix`` (the key's first characters, unique) finds the row; ``key_hash`` (SHA-256 of the whole key,
    which is 256 random bits, so a slow hash adds nothing) proves it.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, name="api_key_role", native_enum=False, length=32))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Each later capability keeps its tables in a module of its own (one migration each); importing them here
# registers them on ``Base.metadata`` for Alembic and for ``create_all`` in tests.
from cxloop.store import (  # noqa: E402,F401  (registration import, after Base is defined)
    audit,
    cases_tables,
    connectors_tables,
    plans_tables,
    predict_tables,
    revision,
)
