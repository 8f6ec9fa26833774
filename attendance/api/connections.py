"""``/api/v1/connections``: admins manage the Zoom apps whose webhooks this server takes."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request

from attendance.api import connections_schemas as c
from attendance.api.blueprint import ID, bp
from attendance.api.openapi import endpoint
from attendance.errors import NotFound
from attendance.extensions import db
from attendance.models import ZoomConnection
from attendance.models.types import iso
from attendance.services.connections import (
    all_connections,
    connection_cache,
    create_connection,
    delete_connection,
    update_connection,
    webhook_url,
)


def connection_json(connection: ZoomConnection) -> dict[str, Any]:
    """A Connection as admins see it: never a secret."""
    return {
        "id": connection.id,
        "name": connection.name,
        "account_id": connection.account_id,
        "webhook_url": webhook_url(request.host_url, connection),
        "has_credentials": connection.has_credentials,
        "secrets_configured": len(connection.secrets),
        "created_at": iso(connection.created_at),
        "last_event_at": iso(connection.last_event_at),
        "last_reconcile_at": iso(connection.last_reconcile_at),
        "status": connection.status,
        "error": connection.error,
    }


def _connection_or_404(connection_id: int) -> ZoomConnection:
    connection = db.session.get(ZoomConnection, connection_id)
    if connection is None:
        raise NotFound("no such connection")
    return connection


def _committed() -> None:
    """Commit, then let the webhook front see the change at once."""
    db.session.commit()
    connection_cache(current_app).invalidate()


_ONE = (200, c.Connection, "The connection.")


@bp.get("/connections")
@endpoint("connections", (200, list[c.Connection], "The connections."), admin=True)
def list_connections():
    """Every Zoom connection, by name."""
    return jsonify([connection_json(x) for x in all_connections()])


@bp.post("/connections")
@endpoint(
    "connections",
    (201, c.Connection, "The new connection, with its webhook URL."),
    json=c.ConnectionCreate,
    errors=[(409, "The name is taken.")],
    admin=True,
)
def add_connection(json: c.ConnectionCreate):
    """Add a Zoom connection; its webhook URL gets a new random key."""
    connection = create_connection(
        json.name,
        json.secrets,
        account_id=json.account_id,
        client_id=json.client_id,
        client_secret=json.client_secret,
    )
    _committed()
    return jsonify(connection_json(connection)), 201


@bp.get(f"/connections/<{ID}:connection_id>")
@endpoint("connections", _ONE, errors=[404], admin=True)
def get_connection(connection_id: int):
    """One connection."""
    return jsonify(connection_json(_connection_or_404(connection_id)))


@bp.patch(f"/connections/<{ID}:connection_id>")
@endpoint(
    "connections",
    _ONE,
    json=c.ConnectionUpdate,
    errors=[404, (409, "The name is taken.")],
    admin=True,
)
def change_connection(connection_id: int, json: c.ConnectionUpdate):
    """Change a connection; fields left out stay, ``secrets`` replaces them all."""
    connection = _connection_or_404(connection_id)
    given = json.model_fields_set
    clients = {
        k: getattr(json, k) for k in ("client_id", "client_secret") if k in given
    }
    update_connection(
        connection,
        name=json.name,
        account_id=json.account_id,
        secrets=json.secrets,
        **clients,
    )
    _committed()
    return jsonify(connection_json(connection))


@bp.delete(f"/connections/<{ID}:connection_id>")
@endpoint("connections", 204, errors=[404], admin=True)
def remove_connection(connection_id: int):
    """Delete a connection: its URL answers 404 from then on; its events stay."""
    delete_connection(_connection_or_404(connection_id))
    _committed()
    return "", 204
