"""``cxloop cases ...``: alert rules and closed-loop cases (issue 7).

Registers its command group on ``cxloop.cli._app.app`` when imported (see ``_register``)."""

from __future__ import annotations
