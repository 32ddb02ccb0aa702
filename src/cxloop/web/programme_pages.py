"""Pages for pilots (report, programme) and verbatims (themes) (issues 8 and 9)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
