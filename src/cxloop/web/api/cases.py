"""Cases and alert rules: ``/api/v1/cases``, ``/api/v1/rules`` (issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["cases"])
