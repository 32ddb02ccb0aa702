"""Pydantic models of what the API sends, named by role (``...Public``); they are the OpenAPI schema."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "UtcDateTime",
    "CommentPublic",
    "CommentsPagePublic",
    "ComparisonPublic",
    "DriverPublic",
    "DriversPublic",
    "ErrorDetailPublic",
    "ErrorPublic",
    "FieldErrorPublic",
    "HealthPublic",
    "MetricCellPublic",
    "MetricsPublic",
    "ReadinessCheckPublic",
    "ReadinessPublic",
    "TokenPublic",
    "UnitPublic",
    "UnitsPagePublic",
]


def _in_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


#: A moment as the API sends it: with its offset (``...Z``), as the schema's ``date-time`` (RFC 3339) says.
#: The stores keep UTC, and some hand it back without a zone (SQLite, the warehouse's naive timestamps).
UtcDateTime = Annotated[datetime, AfterValidator(_in_utc)]


class FieldErrorPublic(BaseModel):
    field: str = Field(description="The parameter, e.g. `limit` or `from`.")
    reason: str


class ErrorDetailPublic(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `unit_not_found`, `validation_error`.")
    message: str = Field(description="What went wrong and what to do, for people.")
    fields: list[FieldErrorPublic] | None = None
    suggestions: list[str] | None = Field(None, description="Visible units with similar ids.")


class ErrorPublic(BaseModel):
    """Every error response has this body."""

    error: ErrorDetailPublic


class HealthPublic(BaseModel):
    status: str
    version: str


class ReadinessCheckPublic(BaseModel):
    ok: bool
    reason: str | None = Field(None, description="Why not, and what to do (only when not ok).")


class ReadinessPublic(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, ReadinessCheckPublic] = Field(
        description="`app_database`, `migrations`, `warehouse`, `data_directory`, `disk`."
    )


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the token expires.")


class UnitPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    unit_id: str
    parent_id: str | None = Field(
        description="The parent unit, or null at the top of your subtree (units above it are not shown)."
    )
    name: str
    level: str
    depth: int


class UnitsPagePublic(BaseModel):
    items: list[UnitPublic]
    total: int
    limit: int
    offset: int


class ComparisonPublic(BaseModel):
    name: str = Field(description="previous, last_year, parent, company, siblings, peers or target.")
    reference: float | None = None
    difference: float | None = None
    difference_se: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    significant: bool | None = None
    note: str | None = None
    rank: int | None = Field(None, description="siblings and peers: 1 + the units with a higher estimate.")
    rank_low: int | None = None
    rank_high: int | None = None
    league_size: int | None = None
    median: float | None = Field(None, description="peers: the peer median (also the reference).")
    top_quartile: float | None = Field(
        None, description="peers: the 75th percentile of peer units' estimates."
    )


class MetricCellPublic(BaseModel):
    unit: str
    unit_name: str | None = None
    level: str | None = None
    period: str | None = Field(None, description="Period label; null for a total over the whole range.")
    period_start: date | None = None
    touchpoint: str | None = None
    channel: str | None = None
    segment: str | None = None
    metric: str
    n: int | None = Field(None, description="Responses behind the cell; null when suppressed.")
    estimate: float | None = None
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    suppressed: bool
    difference: float | None = Field(None, description="Difference against the first comparison asked for.")
    significant: bool | None = Field(None, description="Whether that difference is significant (corrected).")
    comparisons: list[ComparisonPublic] = Field(default_factory=list)


class MetricsPublic(BaseModel):
    unit: str
    grain: str | None
    metrics: list[str]
    compare: list[str]
    confidence: float
    min_n: int
    correction: str
    notes: list[str]
    cells: list[MetricCellPublic]


class DriverPublic(BaseModel):
    driver: str
    label: str
    rank: int
    importance: float
    relative_importance: float
    p_value: float | None = None


class DriversPublic(BaseModel):
    unit: str
    outcome: str
    outcome_type: str
    method: str
    segment: str | None
    touchpoint: str | None
    start: date | None
    end: date | None
    suppressed: bool
    min_n: int
    n: int | None
    r2: float | None
    drivers: list[DriverPublic]
    notes: list[str]


class CommentPublic(BaseModel):
    response_id: str
    unit_id: str
    submitted_at: UtcDateTime
    touchpoint: str | None = None
    channel: str | None = None
    segment: str | None = None
    nps: float | None = None
    csat: float | None = None
    ces: float | None = None
    comment: str = Field(description="The verbatim with personal data redacted; plain text, not HTML.")
    themes: list[str] = Field(default_factory=list, description="Themes the comment is tagged with.")


class CommentsPagePublic(BaseModel):
    unit: str
    suppressed: bool = Field(description="True when fewer than min_n responses match: no comments shown.")
    min_n: int
    n: int | None = Field(None, description="Responses matching the filters (null when suppressed).")
    total: int = Field(description="Comments matching the filters and the search.")
    limit: int
    offset: int
    items: list[CommentPublic]
