"""Targets and action plans: ``/api/v1/targets``, ``/api/v1/actions`` (issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["plans"])
