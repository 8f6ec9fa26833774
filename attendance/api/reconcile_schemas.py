"""The shapes of a meeting's reconciliation with Zoom's report (CONTRACT §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from attendance.api.schemas import Answer


class ReconcileChange(Answer):
    """One student's (or unmatched person's) attended time and status, before and after."""

    student_pk: int | None = Field(None, description="Set for a roster student.")
    participant_pk: int | None = Field(
        None, description="Set for a person matched to no student."
    )
    seconds_before: int = Field(description="From the webhooks alone.")
    seconds_after: int = Field(description="With Zoom's report.")
    status_before: str | None
    status_after: str | None


class Reconciliation(Answer):
    status: Literal["pending", "done", "not_available", "error"]
    at: datetime | None = Field(description="When it last finished, or gave up.")
    rows: int = Field(description="Report rows used by the last reconciliation.")
    changes: list[ReconcileChange]
    error: str | None


class ReconcileQueued(Answer):
    status: Literal["pending"]
    job_id: int
