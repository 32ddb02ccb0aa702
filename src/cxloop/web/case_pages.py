"""Pages for cases: my cases, unit cases, case detail (issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
