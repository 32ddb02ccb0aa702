"""``cxloop predict train|score|explain``: churn risk (issue 11).

Registers its command group on ``cxloop.cli._app.app`` when imported (see ``_register``)."""

from __future__ import annotations
