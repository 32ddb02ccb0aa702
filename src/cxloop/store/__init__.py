"""App database: the org hierarchy, users, touchpoints, surveys and questions, segments, import runs, and
the closed loop's cases, targets, actions and pilots.

SQLAlchemy 2 tables in :mod:`cxloop.store.tables` (one module per domain, listed once there); the modules
beside it are the repositories that read and write them (:mod:`~cxloop.store.units`,
:mod:`~cxloop.store.audit`...), :mod:`~cxloop.store.db` builds engines and sessions from settings, and
schema changes go only through Alembic (:mod:`cxloop.store.migrations`, run by :mod:`cxloop.store.migrate`).
SQLite by default, PostgreSQL at scale.
"""
