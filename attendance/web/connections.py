"""Admin page for Zoom connections: each Zoom app's webhook URL, secrets and health."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from attendance.errors import Conflict, ValidationFailed
from attendance.extensions import db
from attendance.models import ZoomConnection
from attendance.services.connections import (
    all_connections,
    connection_cache,
    create_connection,
    delete_connection,
    update_connection,
    webhook_url,
)
from attendance.services.jobs import recent_runs, wake
from attendance.services.zoom_clients import credentials_of
from attendance.services.zoom_jobs import (
    BACKFILL,
    USERS_SYNC,
    request_connection_job,
)
from attendance.text import is_digits
from attendance.web.access import ID, admin_required
from attendance.web.forms import ActionForm, sentence
from attendance.web.routes import bp
from attendance.zoom.catalog import CATALOG

#: Events a Zoom app should subscribe to: every event handled, but the seed-era
#: ``meeting.participant_updated`` (Zoom offers no such subscription).
SUBSCRIBE = tuple(
    spec.name for spec in CATALOG if spec.name != "meeting.participant_updated"
)


class ConnectionForm(FlaskForm):
    """A Zoom connection; blank secret fields keep what is stored (they are never shown)."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    account_id = StringField(
        "Zoom account id", validators=[Optional(), Length(max=100)]
    )
    secrets = TextAreaField(
        "Secret token(s)",
        validators=[Optional(), Length(max=5000)],
        description="From the Zoom app's Features page; one per line (several "
        "while you rotate it). Never shown again.",
    )
    client_id = StringField(
        "Client id (Server-to-Server OAuth)", validators=[Optional(), Length(max=100)]
    )
    client_secret = PasswordField(
        "Client secret", validators=[Optional(), Length(max=500)]
    )
    clear_credentials = BooleanField("Remove the client id and secret")


#: Background runs listed on the page.
RUNS_SHOWN = 20


def _url(connection: ZoomConnection) -> str:
    return webhook_url(request.host_url, connection)


def _page(
    form: ConnectionForm | None = None,
    editing: ZoomConnection | None = None,
    status: int = 200,
):
    connections = all_connections()
    config = current_app.config
    if form is not None:
        # Write-only, even on a form sent back with an error: type them again.
        form.secrets.data = ""
        form.client_secret.data = ""
    return render_template(
        "connections.html",
        connections=connections,
        urls={c.id: _url(c) for c in connections},
        editing=editing,
        form=form or _form_for(editing),
        action=ActionForm(formdata=None),
        subscribe=SUBSCRIBE,
        env_url=webhook_url(request.host_url, None),
        env_secrets=len(config["ZOOM_WEBHOOK_SECRETS"]),
        env_account=config.get("ZOOM_ACCOUNT_ID"),
        env_credentials=credentials_of(None) is not None,
        runs=recent_runs(limit=RUNS_SHOWN),
        names={c.id: c.name for c in connections},
    ), status


def _form_for(connection: ZoomConnection | None) -> ConnectionForm:
    if connection is None:
        return ConnectionForm(formdata=None)
    return ConnectionForm(
        formdata=None,
        data={
            "name": connection.name,
            "account_id": connection.account_id,
            "client_id": connection.client_id or "",
        },
    )


def _connection(connection_id: int) -> ZoomConnection | None:
    connection = db.session.get(ZoomConnection, connection_id)
    if connection is None:
        flash(f"There is no connection #{connection_id}.", "error")
    return connection


def _saved(message: str):
    db.session.commit()
    connection_cache(current_app).invalidate()
    flash(message, "success")
    return redirect(url_for("web.connections"), 303)


@bp.get("/admin/connections")
@admin_required
def connections():
    """Every Zoom connection with its webhook URL, status, and a form for a new one."""
    return _page()


@bp.post("/admin/connections")
@admin_required
def create_connection_view():
    """Add a connection; a taken name is a 409, missing input a 422, shown inline."""
    form = ConnectionForm()
    if not form.validate_on_submit():
        return _page(form=form, status=422)
    try:
        connection = create_connection(
            form.name.data or "",
            form.secrets.data or "",
            account_id=form.account_id.data or "",
            client_id=form.client_id.data,
            client_secret=form.client_secret.data,
        )
    except Conflict as exc:
        db.session.rollback()
        form.name.errors = [sentence(exc)]
        return _page(form=form, status=409)
    except ValidationFailed as exc:
        db.session.rollback()
        form.secrets.errors = [sentence(exc)]
        return _page(form=form, status=422)
    return _saved(f"Added {connection.name}. Paste its webhook URL into the Zoom app.")


@bp.get(f"/admin/connections/<{ID}:connection_id>")
@admin_required
def edit_connection(connection_id: int):
    """The page with the edit form of one connection."""
    connection = _connection(connection_id)
    if connection is None:
        return _page(status=404)
    return _page(editing=connection)


@bp.post(f"/admin/connections/<{ID}:connection_id>")
@admin_required
def update_connection_view(connection_id: int):
    """Change a connection; blank secret fields keep the stored secrets."""
    connection = _connection(connection_id)
    if connection is None:
        return _page(status=404)
    form = ConnectionForm()
    if not form.validate_on_submit():
        return _page(form=form, editing=connection, status=422)
    clients: dict[str, str | None] = {"client_id": form.client_id.data}
    if form.clear_credentials.data:
        clients = {"client_id": None, "client_secret": None}
    elif form.client_secret.data:
        clients["client_secret"] = form.client_secret.data
    try:
        update_connection(
            connection,
            name=form.name.data or "",
            account_id=form.account_id.data or "",
            secrets=form.secrets.data or None,
            **clients,
        )
    except (Conflict, ValidationFailed) as exc:
        db.session.rollback()
        field = form.name if isinstance(exc, Conflict) else form.secrets
        field.errors = [sentence(exc)]
        return _page(
            form=form,
            editing=db.session.get(ZoomConnection, connection_id),
            status=exc.status,
        )
    return _saved(f"Saved {connection.name}.")


@bp.post("/admin/connections/run")
@admin_required
def run_connection_job():
    """Queue a connection's users sync or backfill now (``connection`` blank: the environment's)."""
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    kind = request.form.get("kind", "")
    if kind not in (BACKFILL, USERS_SYNC):
        abort(400, description="Unknown kind of job.")
    raw = request.form.get("connection", "").strip()
    connection_id: int | None = None
    if raw:
        if not is_digits(raw) or len(raw) > 9:  # not str.isdigit: "²" is one
            abort(400, description="Unknown connection.")
        connection_id = int(raw)
        if db.session.get(ZoomConnection, connection_id) is None:
            abort(404, description="There is no such connection.")
    try:
        request_connection_job(kind, connection_id)
    except Conflict as exc:
        abort(409, description=sentence(exc))
    db.session.commit()
    wake()
    what = "Users sync" if kind == USERS_SYNC else "Backfill of missed meetings"
    flash(f"{what} queued: its run shows below when it finishes.", "success")
    return redirect(url_for("web.connections", _anchor="runs-title"), 303)


@bp.post(f"/admin/connections/<{ID}:connection_id>/delete")
@admin_required
def delete_connection_view(connection_id: int):
    """Delete a connection: its URL stops answering (404); its stored events stay."""
    connection = _connection(connection_id)
    if connection is None:
        return _page(status=404)
    name = connection.name
    delete_connection(connection)
    return _saved(f"Deleted {name}; its webhook URL no longer answers.")
