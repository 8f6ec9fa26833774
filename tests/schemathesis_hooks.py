"""schemathesis hooks for ``tests/schemathesis.sh`` (loaded through SCHEMATHESIS_HOOKS).

schemathesis reuses ids it reads in answers (``GET /me``, ``GET /tokens``) as path
parameters of other calls. Two of those calls would end the run's own identity:
revoking the token it sends, or changing its owner's password (which revokes every
token of theirs, by design). Every later call would then be a 401 and test nothing.
Such calls are sent for an id that exists for no one instead (a 404).
"""

from __future__ import annotations

from typing import Any

import schemathesis

#: The seeded administrator and the token the run sends (tests/schemathesis_seed.py).
ADMIN_ID = 1_234_567_001
TOKEN_ID = 1_234_567_002
#: An id no row has: the seed never creates this many rows.
NOBODY = 2_000_000_000


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Point calls that would revoke the run's own credentials at no one."""
    params = case.path_parameters or {}
    method = case.method.upper()
    path = case.operation.path
    if (
        method == "DELETE"
        and path.endswith("/tokens/{token_id}")
        and str(params.get("token_id")) == str(TOKEN_ID)
    ):
        params["token_id"] = NOBODY
    if (
        method == "PATCH"
        and path.endswith("/instructors/{instructor_id}")
        and str(params.get("instructor_id")) == str(ADMIN_ID)
        and isinstance(case.body, dict)
        and "password" in case.body
    ):
        params["instructor_id"] = NOBODY
