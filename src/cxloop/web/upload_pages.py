"""Admin page to upload a survey-tool export, preview and adjust the mapping, import (issue 10)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
