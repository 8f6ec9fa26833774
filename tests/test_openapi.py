"""The OpenAPI document at ``/api/v1/openapi.json`` matches the registered routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SCHEMAS = {
    "Course",
    "Policy",
    "Student",
    "StudentImportResult",
    "Meeting",
    "Record",
    "Guest",
    "MeetingAttendance",
    "CourseAttendance",
    "StudentSummary",
    "Token",
    "TokenInfo",
    "Instructor",
    "Error",
}


@pytest.fixture
def spec(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict, dict]]:
    """(path, method, path item, operation) for every documented operation."""
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, item, op


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_served_without_login(spec):
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["title"] and spec["info"]["version"]
    assert SCHEMAS <= set(spec["components"]["schemas"])
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http"}
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert (schemes["cookieAuth"]["in"], schemes["cookieAuth"]["name"]) == (
        "cookie",
        "session",
    )


def test_documents_exactly_the_registered_routes(app, spec):
    registered = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            registered.add((method.lower(), path))
    documented = {(method, path) for path, method, _item, _op in _operations(spec)}
    undocumented = sorted(registered - documented)
    unregistered = sorted(documented - registered)
    assert not undocumented and not unregistered, (
        f"registered but not documented: {undocumented}; "
        f"documented but not registered: {unregistered}"
    )


def test_every_ref_resolves(spec):
    refs = set(_refs(spec))
    assert refs
    broken = []
    for target in sorted(refs):
        node: Any = spec
        if not target.startswith("#/"):
            broken.append(target)
            continue
        for part in target[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                broken.append(target)
                break
            node = node[part]
    assert not broken, f"unresolved $ref: {broken}"


def test_path_parameters_are_declared(spec):
    problems = []
    for path, method, item, op in _operations(spec):
        declared = {
            p["name"]: p
            for p in [*item.get("parameters", []), *op.get("parameters", [])]
            if p.get("in") == "path"
        }
        wanted = set(re.findall(r"{([^{}]+)}", path))
        if set(declared) != wanted:
            problems.append(f"{method.upper()} {path}: declares {sorted(declared)}")
        problems += [
            f"{method.upper()} {path}: {name} not required"
            for name, p in declared.items()
            if p.get("required") is not True
        ]
    assert not problems, problems


def test_operations_document_their_errors(spec):
    """Each operation has a 2xx answer; errors use Error; login-only calls list 401."""
    error = {"$ref": "#/components/schemas/Error"}
    public = {("post", "/api/v1/tokens"), ("get", "/api/v1/openapi.json")}
    ids = []
    for path, method, _item, op in _operations(spec):
        ids.append(op["operationId"])
        where = f"{method.upper()} {path}"
        statuses = set(op["responses"])
        assert any(s.startswith("2") for s in statuses), where
        for status, response in op["responses"].items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == error, f"{where} {status}"
        if (method, path) in public:
            assert op["security"] == [], where
        else:
            assert "security" not in op and "401" in statuses, where
        if "requestBody" in op:
            assert "400" in statuses or "422" in statuses, where
    assert len(ids) == len(set(ids)), "duplicate operationId"


def test_valid_openapi_31(spec):
    from openapi_spec_validator import validate

    validate(spec)  # raises on anything OpenAPI 3.1 does not allow


def test_documents_what_the_code_enforces(spec):
    """The ranges and types the models validate are the ones the document states."""
    schemas = spec["components"]["schemas"]
    minutes = schemas["PolicyChange"]["properties"]["late_after_minutes"]
    assert (minutes["type"], minutes["minimum"], minutes["maximum"]) == (
        "integer",
        0,
        600,
    )
    assert schemas["CourseCreate"]["additionalProperties"] is False
    assert schemas["CourseCreate"]["required"] == ["code"]
    match = schemas["GuestMatch"]["properties"]["student_id"]
    assert match["maximum"] == 2**31 - 1
    get_course = spec["paths"]["/api/v1/courses/{course_id}"]["get"]
    (course_id,) = get_course["parameters"]
    assert course_id["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 2**31 - 1,
    }
    meetings = spec["paths"]["/api/v1/meetings"]["get"]
    params = {p["name"]: p for p in meetings["parameters"]}
    assert params["zoom_meeting_id"]["schema"]["maximum"] == 2**63 - 1
    assert "400" in meetings["responses"]
    csv = spec["paths"]["/api/v1/meetings/{meeting_id}/attendance.csv"]["get"]
    assert "text/csv" in csv["responses"]["200"]["content"]
    roster = spec["paths"]["/api/v1/courses/{course_id}/students"]["post"]
    assert {"application/json", "text/csv"} <= set(roster["requestBody"]["content"])


def test_is_generated_from_the_models(app, spec):
    """No hand-written document: the served one is spectree's output for the routes."""
    from attendance.api.openapi import spec as spectree

    with app.test_request_context():
        generated = spectree.spec
    assert set(generated["paths"]) == set(spec["paths"])
    assert set(generated["components"]["schemas"]) == set(spec["components"]["schemas"])
