"""The API's typed edge: spectree validates each route against its pydantic models
(``attendance.api.schemas``) and writes ``/api/v1/openapi.json`` from the same models.

spectree decorates the blueprint's plain Flask routes (nothing else changes shape);
this module adds what the API needs around it: bodies parsed with bounded depth
(``attendance.jsonbody``), validation failures in the API's own error shape, and the
few things a pydantic model cannot say (CSV answers, the auth schemes).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from typing import Any

from flask import request
from flask_login import current_user
from pydantic import BaseModel, RootModel, ValidationError
from spectree import Response, SpecTree
from spectree.utils import get_multidict_items

from attendance.api.schemas import MAX_ID, Error
from attendance.auth import api_login_required
from attendance.errors import ApiError
from attendance.jsonbody import loads
from attendance.version import __version__


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def validation_error(exc: ValidationError, status: int) -> ApiError:
    """The API's answer to a request that does not fit its model (400 or 422)."""
    errors = exc.errors(include_url=False, include_context=False)
    kinds = {e["type"] for e in errors}
    if any(not e["loc"] for e in errors):
        return ApiError(400, "bad_request", "the body must be a JSON object")
    if status == 400:
        return ApiError(400, "bad_request", "; ".join(map(_describe, errors[:5])))
    if kinds == {"extra_forbidden"}:
        names = ", ".join(sorted(_describe_loc(e) for e in errors))
        return ApiError(422, "unknown_fields", f"unknown field(s): {names}")
    if kinds == {"missing"}:
        names = ", ".join(sorted(_describe_loc(e) for e in errors))
        return ApiError(422, "missing_fields", f"missing field(s): {names}")
    return ApiError(422, "invalid", "; ".join(map(_describe, errors[:5])))


def _describe_loc(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error["loc"])


def _before(req: Any, resp: Any, exc: Exception | None, *_args: Any) -> None:
    """spectree's hook after validation: a failure becomes the API's error answer."""
    if isinstance(exc, ValidationError):
        raise validation_error(exc, resp.status_code)


def _after(req: Any, resp: Any, exc: Exception | None, *_args: Any) -> None:
    """An answer that breaks its own model is a bug here: say so loudly (it is a 500)."""
    if exc is not None:
        raise exc


spec = SpecTree(
    "flask",
    mode="strict",
    title="Zoom attendance API",
    version=__version__,
    description="Courses, rosters, meetings and attendance. Errors are "
    '`{"error": {"code", "message"}}`. Every object is scoped to the instructors '
    "of its course: another instructor's ids answer 404. Creating and deleting "
    "courses and changing their meeting numbers are for administrators (403).",
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    validation_error_model=Error,
    before=_before,
    after=_after,
    # Documentation pages are not served: only the document, at our own URL.
    page_templates={},
)

#: Why each error status can answer, unless an operation says more precisely.
ERRORS = {
    400: "The body or query cannot be read.",
    401: "Not signed in: send a bearer token or the session cookie.",
    403: "Administrators only.",
    404: "No such object, or not one of the caller's.",
    409: "Conflicts with the current state.",
    413: "The body is too large.",
    422: "A field is missing, unknown or invalid.",
    429: "Too many attempts; try again later.",
}
#: Operations whose 200 answer is a CSV file, and what it holds.
CSV_ANSWERS: dict[str, tuple[str, str]] = {}
#: Operations that also take ``text/csv`` bodies.
CSV_BODIES: dict[str, dict[str, Any]] = {}


def _wants_object(model: Any) -> bool:
    return isinstance(model, type) and (
        issubclass(model, BaseModel) and not issubclass(model, RootModel)
    )


def _read_json(model: Any) -> None:
    """Parse the body with bounded depth before spectree reads it.

    :raises MalformedJSON: when it cannot (400, as every body that is not JSON).
    """
    if not request.is_json:
        raise ApiError(400, "bad_request", "send a JSON body (application/json)")
    data = loads(request.get_data(cache=True))
    if _wants_object(model) and not isinstance(data, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")


def _query(model: Any, status: int) -> Any:
    """The request's query string as ``model`` (the API's error answer when it is not)."""
    try:
        return model.model_validate(get_multidict_items(request.args, model))
    except ValidationError as exc:
        raise validation_error(exc, status) from None


def endpoint(
    tag: str,
    ok: int | tuple[int, Any] | tuple[int, Any, str],
    *,
    errors: Iterable[int | tuple[int, str]] = (),
    json: Any = None,
    query: Any = None,
    public: bool = False,
    admin: bool = False,
    bad_request: int = 422,
    csv: tuple[str, str] | None = None,
    csv_body: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a route's models: ``ok`` is ``status`` or ``(status, model[, description])``.

    ``errors`` lists the error statuses besides 401 (login-only calls), 403
    (``admin``), 400 (a body) and the validation status ``bad_request``. ``csv``:
    the 200 answer is a CSV file (description, example). ``csv_body``: the route
    also takes ``text/csv`` (its OpenAPI media type); it validates its JSON itself.
    ``admin``: the route is for admins, enforced here (401, then 403) as documented,
    so the document and the check cannot disagree.
    """
    status, model, description = (*((ok,) if isinstance(ok, int) else ok), None, None)[
        :3
    ]
    answers: dict[str, Any] = {
        f"HTTP_{status}": (model, description) if description else model
    }
    specs: list[int | tuple[int, str]] = list(errors)
    if json is not None:
        specs.append(400)
    if not public:
        specs.append(401)
    if admin:
        specs.append(403)
    for item in specs:
        code, why = item if isinstance(item, tuple) else (item, ERRORS[item])
        answers[f"HTTP_{code}"] = (Error, why)
    answers.setdefault(f"HTTP_{bad_request}", (Error, ERRORS[bad_request]))

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        validated = spec.validate(
            json=json,
            query=query,
            resp=Response(**answers),
            tags=(tag,),
            security={} if public else None,
            operation_id=view.__name__,
            validation_error_status=bad_request,
            # spectree would read a CSV body as JSON: such a route checks its own.
            skip_validation=csv_body is not None,
        )(view)
        if csv is not None:
            CSV_ANSWERS[view.__name__] = csv
        if csv_body is not None:
            CSV_BODIES[view.__name__] = csv_body

        @functools.wraps(validated)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if json is not None and not (
                csv_body is not None and request.mimetype == "text/csv"
            ):
                _read_json(json)
            if csv is not None:
                # spectree reads every answer into memory to check it: a CSV is
                # streamed (a course export can be large), so it skips spectree
                # and only its query is validated, against the same model.
                if query is not None:
                    kwargs["query"] = _query(query, bad_request)
                return view(*args, **kwargs)
            return validated(*args, **kwargs)

        # Checked before the body, as the OpenAPI answer list says (401, 403).
        return api_login_required(_admin_only(wrapped)) if admin else wrapped

    return decorate


def _admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            raise ApiError(403, "forbidden", "only an administrator may do this")
        return view(*args, **kwargs)

    return checked


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document: spectree's, plus auth schemes and CSV media types."""
    doc = copy.deepcopy(spec.spec)
    doc["servers"] = [{"url": "/"}]
    doc["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
    doc["components"]["securitySchemes"] = {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from POST /api/v1/tokens.",
        },
        "cookieAuth": {
            "type": "apiKey",
            "in": "cookie",
            "name": "session",
            "description": "The dashboard's session; writes also need its CSRF "
            "token in an X-CSRFToken header.",
        },
    }
    for item in doc["paths"].values():
        for op in item.values():
            _finish(op)
    return doc


def _finish(op: dict[str, Any]) -> None:
    """Add what the models cannot say to one operation."""
    if not op.get("description"):
        op.pop("description", None)
    for parameter in op.get("parameters", []):
        if not parameter.get("description"):
            parameter.pop("description", None)
        if parameter["in"] == "path" and parameter["schema"] is None:
            # spectree knows werkzeug's converters only: this is ours, <id:…>.
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    name = op["operationId"]
    if name in CSV_ANSWERS:
        description, example = CSV_ANSWERS[name]
        op["responses"]["200"] = {
            "description": description,
            "headers": {
                "Content-Disposition": {
                    "description": 'attachment; filename="attendance-….csv"',
                    "schema": {"type": "string"},
                }
            },
            "content": {"text/csv": {"schema": {"type": "string"}, "example": example}},
        }
    if name in CSV_BODIES:
        op["requestBody"]["content"]["text/csv"] = CSV_BODIES[name]
