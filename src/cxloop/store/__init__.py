"""App database: the org hierarchy, users, touchpoints, surveys and questions, segments, import runs.

SQLAlchemy 2 tables in :mod:`cxloop.store.tables`; schema changes only through Alembic
(:mod:`cxloop.store.migrations`). SQLite by default, PostgreSQL at scale.
"""
