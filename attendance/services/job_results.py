"""What one run of a background job reports: recorded in ``job_runs`` and shown on pages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class JobResult:
    """A finished run: how much it fetched from Zoom, how much it changed, one line for people."""

    fetched: int = 0
    changed: int = 0
    summary: str = ""
    #: ``done``, or ``not_available`` (Zoom has nothing yet: the job is retried later).
    outcome: str = "done"
