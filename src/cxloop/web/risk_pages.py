"""Pages for churn risk: at-risk list per unit (issue 11)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
