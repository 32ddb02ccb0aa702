"""Alembic migrations of the app database, shipped inside the package.

Run them with ``cxloop db upgrade`` or :func:`cxloop.store.migrate.upgrade`; no ``alembic.ini`` is needed.
To write a new revision from a checkout (developers only)::

    python -m cxloop.store.migrate revision -m "add cases"

then read the generated file in ``versions/`` and edit it until it says exactly what you mean.
"""
