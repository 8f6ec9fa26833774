"""The health report of ``GET /api/zoom/health``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from sqlalchemy import func, select, text

from attendance import __version__
from attendance.extensions import db
from attendance.models import EventStatus, WebhookEvent
from attendance.models.types import iso

log = logging.getLogger(__name__)


def _message_queue(app: Flask) -> str:
    url = app.config.get("REDIS_URL")
    if not url:
        return "disabled"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError:
        return "unavailable"
    return "ok"


def _scheduler(app: Flask) -> str:
    scheduler = app.extensions.get("attendance.scheduler")
    return "running" if scheduler is not None and scheduler.running else "disabled"


def health_report(app: Flask) -> tuple[dict[str, Any], int]:
    """Probe the database and message queue; 503 ``degraded`` when the database fails."""
    state = app.extensions["attendance.state"]
    checks = {
        "database": "ok",
        "message_queue": _message_queue(app),
        "scheduler": _scheduler(app),
    }
    last_event_at = None
    failed = 0
    try:
        db.session.execute(text("SELECT 1"))
        last_event_at = db.session.scalar(select(func.max(WebhookEvent.received_at)))
        failed = db.session.scalar(
            select(func.count(WebhookEvent.id)).where(
                WebhookEvent.status == EventStatus.FAILED
            )
        )
    except Exception:  # noqa: BLE001 - any database failure means degraded
        log.warning("health: database probe failed", exc_info=True)
        db.session.rollback()
        checks["database"] = "unavailable"
    report = {
        "status": "ok" if checks["database"] == "ok" else "degraded",
        "checks": checks,
        "webhook": {
            "secret_configured": bool(app.config["ZOOM_WEBHOOK_SECRETS"]),
            "last_event_at": iso(last_event_at),
            "last_validation_at": iso(state.get("last_validation_at")),
            "failed_events": int(failed or 0),
        },
        "version": __version__,
    }
    return report, 200 if checks["database"] == "ok" else 503
