"""The OpenAPI 3.1 document of ``/api/v1`` (CONTRACT §3), at ``GET /api/v1/openapi.json``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from flask import jsonify

from attendance import __version__
from attendance.api.routes import bp

Schema = dict[str, Any]

PREFIX = "/api/v1"

# --------------------------------------------------------------------------- schemas

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
DATETIME: Schema = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601, UTC.",
}
DATE: Schema = {"type": "string", "format": "date", "description": "YYYY-MM-DD."}
STATUSES = ["Present", "Late", "Left Early", "Absent", "Excused"]


def ref(name: str) -> Schema:
    """A reference to ``components/schemas/<name>``."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or ``null`` (OpenAPI 3.1 has no ``nullable``)."""
    kind = schema.get("type")
    if isinstance(kind, str) and "enum" not in schema:
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def obj(
    properties: dict[str, Schema],
    required: Iterable[str] | None = None,
    *,
    closed: bool = False,
    **extra: Any,
) -> Schema:
    """An object schema; every property is required unless ``required`` says otherwise.

    ``closed``: unknown properties are refused (request bodies: the API answers 422).
    """
    schema: Schema = {"type": "object", "properties": properties, **extra}
    names = list(properties if required is None else required)
    if names:
        schema["required"] = names
    if closed:
        schema["additionalProperties"] = False
    return schema


def _policy(required: bool) -> Schema:
    """A course's status thresholds (CONTRACT §5.5); in a body any subset may be sent."""
    return obj(
        {
            "late_after_minutes": {**INT, "minimum": 0, "maximum": 600, "default": 10},
            "left_early_minutes": {**INT, "minimum": 0, "maximum": 600, "default": 10},
            "min_attendance_percent": {
                **NUM,
                "minimum": 0,
                "maximum": 100,
                "default": 50,
            },
        },
        None if required else (),
        closed=not required,
    )


def _course_input(required: Iterable[str]) -> Schema:
    return obj(
        {
            "code": {**STR, "minLength": 1, "maxLength": 64},
            "title": {**STR, "maxLength": 300},
            "timezone": {**STR, "description": "An IANA time zone.", "default": "UTC"},
            "zoom_meeting_ids": array(
                {
                    "type": ["string", "integer"],
                    "description": "A Zoom meeting number, 9-11 digits "
                    "(spaces and dashes are ignored).",
                },
                maxItems=50,
                description="Replaces the course's meeting numbers; "
                "meetings already received for a new number join the course.",
            ),
            "policy": _policy(required=False),
        },
        required,
        closed=True,
    )


_STUDENT_FIELDS: dict[str, Schema] = {
    "student_id": {**STR, "maxLength": 64},
    "first_name": {**STR, "maxLength": 120},
    "last_name": {**STR, "maxLength": 120},
    "email": {**STR, "maxLength": 254},
    "department": {**STR, "maxLength": 120},
}
_ATTENDED: dict[str, Schema] = {
    "attended_seconds": INT,
    "first_join": nullable(DATETIME),
    "last_leave": nullable(DATETIME),
    "sessions": INT,
}
_INSTRUCTOR_FIELDS: dict[str, Schema] = {
    "email": {**STR, "format": "email"},
    "name": {**STR, "maxLength": 200},
    "password": {**STR, "maxLength": 1000, "writeOnly": True},
    "is_admin": {**BOOL, "default": False},
}

SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {"error": obj({"code": STR, "message": STR})},
        description="Every error answer.",
    ),
    "Policy": _policy(required=True),
    "Course": obj(
        {
            "id": INT,
            "code": STR,
            "title": STR,
            "timezone": STR,
            "zoom_meeting_ids": array(STR),
            "policy": ref("Policy"),
        }
    ),
    "CourseCreate": _course_input(["code"]),
    "CourseUpdate": _course_input([]),
    "Student": obj(
        {"id": INT, **_STUDENT_FIELDS, "aliases": array(STR)},
        description="A roster student; ``id`` is the student_pk of other calls.",
    ),
    "StudentInput": obj(
        {
            **_STUDENT_FIELDS,
            "aliases": {
                "anyOf": [array(STR), STR],
                "description": "E-mails or display names; a string is ';'-separated.",
            },
        },
        ["student_id", "first_name", "last_name", "email"],
        closed=True,
        description="A roster row, upserted by student_id.",
    ),
    "StudentImportResult": obj(
        {
            "created": INT,
            "updated": INT,
            "errors": array(
                obj({"line": INT, "message": STR}),
                description="One entry per rejected row; the other rows are imported.",
            ),
        }
    ),
    "Meeting": obj(
        {
            "id": INT,
            "uuid": STR,
            "zoom_meeting_id": nullable(STR),
            "topic": STR,
            "course_id": nullable(INT),
            "status": {"enum": ["live", "ended"]},
            "start_time": nullable(DATETIME),
            "end_time": nullable(DATETIME),
            "participant_count": INT,
        }
    ),
    "Record": obj(
        {
            "student_pk": INT,
            "student_id": STR,
            "first_name": STR,
            "last_name": STR,
            "email": STR,
            "status": {"enum": STATUSES},
            "late": BOOL,
            "left_early": BOOL,
            "attended_seconds": INT,
            "attended_percent": NUM,
            "first_join": nullable(DATETIME),
            "last_leave": nullable(DATETIME),
            "sessions": INT,
            "matched_by": {
                "enum": ["email", "alias", "zoom_user", "name", "manual", None]
            },
            "source": {"enum": ["auto", "manual"]},
            "note": nullable(STR),
        },
        description="A roster student's attendance in one meeting.",
    ),
    "Guest": obj(
        {
            "participant_pk": INT,
            "name": STR,
            "email": STR,
            **_ATTENDED,
            "role": {"enum": ["guest", "co-host"]},
        },
        description="A participant matched to no roster student.",
    ),
    "MeetingAttendance": obj(
        {
            "meeting": ref("Meeting"),
            "records": array(ref("Record")),
            "guests": array(ref("Guest")),
        }
    ),
    "StudentSummary": obj(
        {
            "student_pk": INT,
            "student_id": STR,
            "first_name": STR,
            "last_name": STR,
            "email": STR,
            "meetings": INT,
            "present": INT,
            "late": INT,
            "left_early": INT,
            "absent": INT,
            "excused": INT,
            "attended_seconds": INT,
            "attended_minutes": NUM,
            "attendance_rate": nullable(
                {
                    **NUM,
                    "minimum": 0,
                    "maximum": 100,
                    "description": "Percent, one decimal; null without meetings.",
                }
            ),
            "last_attended": nullable(DATE),
        },
        description="A student's attendance over the course's ended meetings.",
    ),
    "CourseAttendance": obj(
        {
            "course": ref("Course"),
            "meetings": array(
                ref("Meeting"), description="The ended meetings, oldest first."
            ),
            "students": array(ref("StudentSummary")),
        }
    ),
    "AttendanceOverride": obj(
        {
            "status": {
                "enum": [*STATUSES, None],
                "description": "A manual status, kept across recomputation; "
                "null drops the override.",
            },
            "note": nullable({**STR, "maxLength": 2000}),
        },
        ["status"],
        closed=True,
    ),
    "GuestMatch": obj(
        {
            "student_id": {**INT, "description": "The student's id (student_pk)."},
            "remember": {
                **BOOL,
                "default": False,
                "description": "Keep the match so later meetings of the course "
                "make it by themselves.",
            },
        },
        ["student_id"],
        closed=True,
    ),
    "MatchResult": obj(
        {"record": nullable(ref("Record")), "guests": array(ref("Guest"))}
    ),
    "TokenRequest": obj(
        {
            "email": STR,
            "password": {**STR, "writeOnly": True},
            "name": {**STR, "description": "A label for the token.", "default": "api"},
        },
        ["email", "password"],
        closed=True,
    ),
    "Token": obj({"token": {**STR, "description": "Shown once; stored hashed."}}),
    "TokenInfo": obj(
        {
            "id": INT,
            "name": STR,
            "prefix": {**STR, "description": "The token's first characters."},
            "created_at": DATETIME,
            "last_used_at": nullable(DATETIME),
        }
    ),
    "Instructor": obj(
        {
            "id": INT,
            "email": STR,
            "name": STR,
            "is_admin": BOOL,
            "course_ids": array(INT),
        }
    ),
    "InstructorCreate": obj(
        _INSTRUCTOR_FIELDS, ["email", "name", "password"], closed=True
    ),
    "InstructorUpdate": obj(
        {k: v for k, v in _INSTRUCTOR_FIELDS.items() if k != "email"}, [], closed=True
    ),
    "CourseInstructor": obj({"instructor_id": INT}, closed=True),
}

# ------------------------------------------------------------------------- responses

_ERRORS = {
    400: "The body or query cannot be read.",
    401: "Not signed in: send a bearer token or the session cookie.",
    403: "Administrators only.",
    404: "No such object, or not one of the caller's.",
    409: "Conflicts with the current state.",
    413: "The body is too large.",
    422: "A field is missing, unknown or invalid.",
    429: "Too many attempts; try again later.",
}

ErrorSpec = int | tuple[int, str]


def json_response(description: str, schema: Schema) -> Schema:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def csv_response(description: str, example: str) -> Schema:
    """A CSV download (sent as an attachment)."""
    return {
        "description": description,
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="attendance-….csv"',
                "schema": STR,
            }
        },
        "content": {"text/csv": {"schema": STR, "example": example}},
    }


def error_response(spec: ErrorSpec) -> tuple[str, Schema]:
    """``(status, response)`` for ``404`` or ``(409, "why")``."""
    status, description = spec if isinstance(spec, tuple) else (spec, _ERRORS[spec])
    return str(status), json_response(description, ref("Error"))


NO_CONTENT: Schema = {"description": "Done; no body."}


def json_body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


# ------------------------------------------------------------------------ operations


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    responses: dict[int, Schema],
    *,
    errors: Iterable[ErrorSpec] = (),
    body: Schema | None = None,
    query: Iterable[Schema] = (),
    public: bool = False,
    admin: bool = False,
    description: str | None = None,
) -> Schema:
    """One operation: its success ``responses``, then its errors (401 unless public)."""
    specs: list[ErrorSpec] = list(errors)
    if body is not None:
        specs.insert(0, 400)
    if not public:
        specs.append(401)
    if admin:
        specs.append(403)
    answers = {str(status): response for status, response in responses.items()}
    failures = dict(error_response(s) for s in specs)
    answers.update(sorted(failures.items(), key=lambda pair: pair[0]))
    op: Schema = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": answers,
    }
    if description:
        op["description"] = description
    if public:
        op["security"] = []
    if query:
        op["parameters"] = list(query)
    if body is not None:
        op["requestBody"] = body
    return op


def query_param(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_PATH_PARAMS = {
    "course_id": "A course's id.",
    "instructor_id": "An instructor's id.",
    "meeting_id": "A meeting's id.",
    "participant_pk": "The guest's participant_pk.",
    "student_pk": "The student's id (Student.id).",
    "token_id": "A token's id (TokenInfo.id).",
}


def path_item(path: str, **operations: Schema) -> tuple[str, Schema]:
    """``(full path, path item)``; the ``{name}`` parameters are declared from the path."""
    item: Schema = dict(operations)
    names = re.findall(r"{(\w+)}", path)
    if names:
        item["parameters"] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": INT,
                "description": _PATH_PARAMS[name],
            }
            for name in names
        ]
    return PREFIX + path, item


_MEETING_CSV = (
    "student_id,last_name,first_name,email,status,late,left_early,attended_minutes,"
    "attended_percent,first_join,last_leave,sessions,matched_by,source,note"
)
_SUMMARY_CSV = (
    "student_id,last_name,first_name,email,meetings,present,late,left_early,absent,"
    "excused,attended_minutes,attendance_rate,last_attended"
)
_CSV_NOTE = (
    "UTF-8, a header row, RFC 4180 quoting; a cell that begins with =, +, -, @, "
    "tab or carriage return is prefixed with '."
)


def _paths() -> dict[str, Schema]:
    course_404 = (404, "No such course, or not one of the caller's.")
    meeting_404 = (404, "No such meeting, or not one of the caller's.")
    items = [
        path_item(
            "/tokens",
            get=operation(
                "list_tokens",
                "The caller's live tokens.",
                "tokens",
                {200: json_response("The tokens.", array(ref("TokenInfo")))},
            ),
            post=operation(
                "create_token",
                "Exchange an instructor's e-mail and password for an API token.",
                "tokens",
                {201: json_response("The new token.", ref("Token"))},
                body=json_body(ref("TokenRequest")),
                errors=[(401, "Wrong e-mail or password."), 422, 429],
                public=True,
            ),
        ),
        path_item(
            "/tokens/{token_id}",
            delete=operation(
                "revoke_token",
                "Revoke one of the caller's tokens.",
                "tokens",
                {204: NO_CONTENT},
                errors=[(404, "No such token of the caller's.")],
            ),
        ),
        path_item(
            "/me",
            get=operation(
                "me",
                "The caller.",
                "instructors",
                {200: json_response("The caller.", ref("Instructor"))},
            ),
        ),
        path_item(
            "/courses",
            get=operation(
                "list_courses",
                "The caller's courses (every course for an administrator).",
                "courses",
                {200: json_response("The courses.", array(ref("Course")))},
            ),
            post=operation(
                "create_course",
                "Create a course; its creator teaches it.",
                "courses",
                {201: json_response("The new course.", ref("Course"))},
                body=json_body(ref("CourseCreate")),
                errors=[
                    (409, "The code, or a meeting number, belongs to another course."),
                    422,
                ],
            ),
        ),
        path_item(
            "/courses/{course_id}",
            get=operation(
                "get_course",
                "One course.",
                "courses",
                {200: json_response("The course.", ref("Course"))},
                errors=[course_404],
            ),
            patch=operation(
                "update_course",
                "Change a course; a new policy recomputes its attendance.",
                "courses",
                {200: json_response("The course.", ref("Course"))},
                body=json_body(ref("CourseUpdate")),
                errors=[
                    course_404,
                    (409, "The code, or a meeting number, belongs to another course."),
                    422,
                ],
            ),
            delete=operation(
                "delete_course",
                "Delete a course and its roster; its meetings are kept, unlinked.",
                "courses",
                {204: NO_CONTENT},
                errors=[course_404],
            ),
        ),
        path_item(
            "/courses/{course_id}/students",
            get=operation(
                "list_students",
                "The course's roster.",
                "students",
                {200: json_response("The students.", array(ref("Student")))},
                errors=[course_404],
            ),
            post=operation(
                "import_students",
                "Upsert roster rows by student_id.",
                "students",
                {
                    200: json_response(
                        "What was imported, and each rejected row.",
                        ref("StudentImportResult"),
                    )
                },
                body={
                    "required": True,
                    "content": {
                        "application/json": {"schema": array(ref("StudentInput"))},
                        "text/csv": {
                            "schema": {
                                **STR,
                                "description": "Header student_id,first_name,"
                                "last_name,email[,department][,aliases]; aliases "
                                "are ';'-separated.",
                            },
                            "example": "student_id,first_name,last_name,email\r\n"
                            "S1,Ada,Lovelace,ada@uni.edu\r\n",
                        },
                    },
                },
                errors=[course_404, 413, 422],
            ),
        ),
        path_item(
            "/courses/{course_id}/attendance",
            get=operation(
                "course_attendance",
                "Each student's attendance over the course's ended meetings.",
                "attendance",
                {200: json_response("The summary.", ref("CourseAttendance"))},
                errors=[course_404],
            ),
        ),
        path_item(
            "/courses/{course_id}/attendance.csv",
            get=operation(
                "course_attendance_csv",
                "The course's attendance as CSV.",
                "attendance",
                {
                    200: csv_response(
                        "summary: one row per student. wide: student_id,last_name,"
                        "first_name,email, then one column per ended meeting (its "
                        "local start date, YYYY-MM-DD, with ' HH:MM' when two "
                        "meetings share a date) holding the status. " + _CSV_NOTE,
                        _SUMMARY_CSV + "\r\n",
                    )
                },
                query=[
                    query_param(
                        "layout",
                        {"enum": ["summary", "wide"], "default": "summary"},
                        "One row per student with totals, or one column per meeting.",
                    )
                ],
                errors=[course_404, (422, "Unknown layout.")],
            ),
        ),
        path_item(
            "/courses/{course_id}/instructors",
            get=operation(
                "list_course_instructors",
                "Who teaches the course.",
                "courses",
                {200: json_response("The instructors.", array(ref("Instructor")))},
                errors=[course_404],
            ),
            post=operation(
                "add_course_instructor",
                "Add an instructor to the course.",
                "courses",
                {
                    201: json_response(
                        "The course's instructors.", array(ref("Instructor"))
                    )
                },
                body=json_body(ref("CourseInstructor")),
                errors=[course_404, (422, "Not an instructor's id.")],
                admin=True,
            ),
        ),
        path_item(
            "/courses/{course_id}/instructors/{instructor_id}",
            delete=operation(
                "remove_course_instructor",
                "Remove an instructor from the course.",
                "courses",
                {204: NO_CONTENT},
                errors=[(404, "No such course, or the instructor does not teach it.")],
                admin=True,
            ),
        ),
        path_item(
            "/instructors",
            get=operation(
                "list_instructors",
                "Every instructor.",
                "instructors",
                {200: json_response("The instructors.", array(ref("Instructor")))},
                admin=True,
            ),
            post=operation(
                "create_instructor",
                "Create an instructor account.",
                "instructors",
                {201: json_response("The new instructor.", ref("Instructor"))},
                body=json_body(ref("InstructorCreate")),
                errors=[(409, "The e-mail is taken."), 422],
                admin=True,
            ),
        ),
        path_item(
            "/instructors/{instructor_id}",
            get=operation(
                "get_instructor",
                "One instructor.",
                "instructors",
                {200: json_response("The instructor.", ref("Instructor"))},
                errors=[404],
                admin=True,
            ),
            patch=operation(
                "update_instructor",
                "Change an instructor's name, password or role.",
                "instructors",
                {200: json_response("The instructor.", ref("Instructor"))},
                body=json_body(ref("InstructorUpdate")),
                errors=[
                    404,
                    (409, "Administrators cannot remove their own admin rights."),
                    422,
                ],
                admin=True,
            ),
            delete=operation(
                "delete_instructor",
                "Delete an instructor account.",
                "instructors",
                {204: NO_CONTENT},
                errors=[404, (409, "Administrators cannot delete themselves.")],
                admin=True,
            ),
        ),
        path_item(
            "/meetings",
            get=operation(
                "list_meetings",
                "Meetings of the caller's courses, newest first.",
                "meetings",
                {200: json_response("The meetings.", array(ref("Meeting")))},
                query=[
                    query_param("course_id", INT, "Only this course's meetings."),
                    query_param(
                        "zoom_meeting_id",
                        {**INT, "format": "int64"},
                        "Only runs of this Zoom meeting number.",
                    ),
                    query_param("uuid", STR, "Only the run with this Zoom uuid."),
                    query_param(
                        "status", {"enum": ["live", "ended"]}, "Live or ended."
                    ),
                ],
                errors=[(400, "An unknown or malformed filter.")],
            ),
        ),
        path_item(
            "/meetings/{meeting_id}/attendance",
            get=operation(
                "meeting_attendance",
                "A meeting's attendance (computed on the fly while it is live).",
                "meetings",
                {200: json_response("The attendance.", ref("MeetingAttendance"))},
                errors=[meeting_404],
            ),
        ),
        path_item(
            "/meetings/{meeting_id}/attendance.csv",
            get=operation(
                "meeting_attendance_csv",
                "A meeting's attendance as CSV.",
                "meetings",
                {
                    200: csv_response(
                        "One row per roster student, then one per guest (empty "
                        "student_id, the display name in last_name, status Guest). "
                        "Times are ISO 8601 UTC. " + _CSV_NOTE,
                        _MEETING_CSV + "\r\n",
                    )
                },
                errors=[meeting_404],
            ),
        ),
        path_item(
            "/meetings/{meeting_id}/attendance/{student_pk}",
            patch=operation(
                "override_attendance",
                "Set (or, with null, drop) a student's manual status and note.",
                "meetings",
                {200: json_response("The student's record.", ref("Record"))},
                body=json_body(ref("AttendanceOverride")),
                errors=[
                    (404, "No such meeting, or the student is not on its roster."),
                    (409, "The meeting is still live."),
                    422,
                ],
            ),
        ),
        path_item(
            "/meetings/{meeting_id}/participants/{participant_pk}/match",
            post=operation(
                "match_guest",
                "Assign a guest to a roster student.",
                "meetings",
                {
                    200: json_response(
                        "The student's record and the remaining guests.",
                        ref("MatchResult"),
                    )
                },
                body=json_body(ref("GuestMatch")),
                errors=[(404, "No such meeting, guest or student."), 422],
            ),
        ),
        path_item(
            "/openapi.json",
            get=operation(
                "openapi",
                "This document.",
                "meta",
                {200: json_response("OpenAPI 3.1.", {"type": "object"})},
                public=True,
            ),
        ),
    ]
    return dict(items)


@cache
def document() -> dict[str, Any]:
    """The whole document (built once; callers must not change it)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Zoom attendance API",
            "version": __version__,
            "description": "Courses, rosters, meetings and attendance. Errors are "
            '`{"error": {"code", "message"}}`. Every object is scoped to the '
            "instructors of its course: another instructor's ids answer 404.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "tags": [
            {"name": name}
            for name in (
                "tokens",
                "courses",
                "students",
                "attendance",
                "meetings",
                "instructors",
                "meta",
            )
        ],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from POST /api/v1/tokens.",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "The dashboard's session; writes also need "
                    "its CSRF token in an X-CSRFToken header.",
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI document (no login needed)."""
    return jsonify(document())
