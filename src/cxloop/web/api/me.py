"""The person logged in: their next steps (``GET /api/v1/me/next-steps``), the home page's list as JSON.

One service call (:func:`cxloop.services.prove.next_steps.next_steps`) with the viewer from the credentials;
the home page renders the same answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cxloop.services.prove.next_steps import next_steps
from cxloop.web.deps import StoresDep, ViewerDep
from cxloop.web.schemas import ErrorPublic

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/me", tags=["me"])


class NextStepPublic(BaseModel):
    id: int | None = None
    title: str
    detail: str
    link: str = Field(description="Where to act: a page of the app.")
    overdue: bool | None = Field(None, description="Cases: an SLA clock has run out.")
    due_date: str | None = Field(None, description="Actions: the due date.")
    gap: float | None = Field(None, description="Targets: value - target on the metric's scale.")


class TopPriorityPublic(BaseModel):
    driver: str
    title: str
    label: str
    detail: str = Field(description="One sentence: where you stand and what closing half the gap is worth.")
    benchmark_label: str | None
    expected_nps_points: float | None
    expected_margin: float | None
    currency: str
    link: str
    action: dict[str, str] = Field(description='The fields of a prefilled "Create action" form.')


class NextStepsPublic(BaseModel):
    unit: str
    top_priority: TopPriorityPublic | None
    targets_off_track: list[NextStepPublic]
    cases: list[NextStepPublic] = Field(description="Open cases assigned to you, the overdue first.")
    actions_due: list[NextStepPublic] = Field(description="Your open actions due within 7 days, or overdue.")
    pilots_awaiting_decision: list[NextStepPublic]
    empty: dict[str, str] = Field(description='What to say for each empty section, e.g. "No overdue cases."')


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "No or invalid credentials."},
}


@router.get(
    "/next-steps", response_model=NextStepsPublic, summary="What to do next, for you", responses=_ERRORS
)
def my_next_steps(viewer: ViewerDep, stores: StoresDep) -> NextStepsPublic:
    """The top priority of your unit with its expected gain, targets off track, your open and overdue
    cases, your actions due in the next 7 days and the pilots awaiting a decision: the home page's list."""
    return NextStepsPublic(**next_steps(viewer, stores=stores).to_dict())
