"""The app database's tables: the one list of them, for Alembic (``migrations/env.py``) and ``create_all``.

Every table module derives from :class:`~cxloop.store.tables._base.Base` and is imported here, explicitly,
so ``Base.metadata`` holds every table whichever module of the package is imported first; nothing
else registers tables. One module per domain:

* :mod:`~cxloop.store.tables.org`: units, users and their roles;
* :mod:`~cxloop.store.tables.catalog`: touchpoints, segments, surveys and questions;
* :mod:`~cxloop.store.tables.imports`: import runs, posted responses awaiting their cases, survey-tool export
  uploads;
* :mod:`~cxloop.store.tables.themes`: the comment codebook;
* :mod:`~cxloop.store.tables.pilots`: pilots, their units, waves and decisions;
* :mod:`~cxloop.store.tables.keys`: API keys;
* :mod:`~cxloop.store.tables.logins`: login sessions (what a session cookie or API token stands for);
* :mod:`~cxloop.store.tables.audit`: the audit trail;
* :mod:`~cxloop.store.tables.cases`: alert rules, cases and the notifications outbox;
* :mod:`~cxloop.store.tables.plans`: targets and actions;
* :mod:`~cxloop.store.tables.predict`: churn models and the outreach they picked;
* :mod:`~cxloop.store.tables.revision`: the scope stamp;
* :mod:`~cxloop.store.tables.health`: the readiness probe's row.

Natural keys (``unit_id``, ``touchpoint_id``, ``question_id``, ``segment_id``) are the primary keys: they
are what imports, the warehouse and the API all speak, and keeping them avoids a surrogate-key mapping
layer. Schema changes go through Alembic only (``cxloop db upgrade``). The functions that read and write
these tables are the repositories beside this package (``cxloop.store.units``, ``cxloop.store.audit``...).
"""

from __future__ import annotations

from cxloop.store.tables._base import NAMING_CONVENTION, Base, utcnow
from cxloop.store.tables.audit import AuditEvent
from cxloop.store.tables.cases import AlertRule, Case, CaseStatus, Notification, NotificationStatus
from cxloop.store.tables.catalog import Question, QuestionType, Segment, Survey, Touchpoint
from cxloop.store.tables.health import HealthProbe
from cxloop.store.tables.imports import ImportRun, PendingArrival, UploadJob
from cxloop.store.tables.keys import ApiKey
from cxloop.store.tables.logins import LoginSession
from cxloop.store.tables.org import Role, Unit, User
from cxloop.store.tables.pilots import Pilot, PilotDecision, PilotDecisionKind, PilotUnit, PilotWave
from cxloop.store.tables.plans import (
    Action,
    ActionHorizon,
    ActionNote,
    ActionStatus,
    ActionTarget,
    Target,
    TargetOrigin,
)
from cxloop.store.tables.predict import ChurnModel, ChurnOutreach
from cxloop.store.tables.revision import AppRevision
from cxloop.store.tables.themes import Theme

__all__ = [
    "NAMING_CONVENTION",
    "Action",
    "ActionHorizon",
    "ActionNote",
    "ActionStatus",
    "ActionTarget",
    "AlertRule",
    "ApiKey",
    "AppRevision",
    "AuditEvent",
    "Base",
    "Case",
    "CaseStatus",
    "ChurnModel",
    "ChurnOutreach",
    "HealthProbe",
    "ImportRun",
    "LoginSession",
    "Notification",
    "NotificationStatus",
    "PendingArrival",
    "Pilot",
    "PilotDecision",
    "PilotDecisionKind",
    "PilotUnit",
    "PilotWave",
    "Question",
    "QuestionType",
    "Role",
    "Segment",
    "Survey",
    "Target",
    "TargetOrigin",
    "Theme",
    "Touchpoint",
    "Unit",
    "UploadJob",
    "User",
    "utcnow",
]
