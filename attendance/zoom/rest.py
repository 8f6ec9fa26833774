"""A client of Zoom's REST API: Server-to-Server OAuth, retries, rate limits, paging.

What Zoom does is in ../shared/ZOOM.md §5-§6 and ../shared/ZOOM-REST.md §5; what the
client promises is CONTRACT §6's last bullet. It runs in jobs, never on a request's
path: a QPS 429 is waited out briefly with ``time.sleep`` (eventlet's, once the
server has monkey-patched it), a daily one raises :class:`ZoomRateLimited` so the job
is deferred rather than a worker put to sleep for hours.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from attendance.errors import (
    BadPayload,
    ZoomApiError,
    ZoomAuthError,
    ZoomNotFound,
    ZoomRateLimited,
    ZoomUnavailable,
)
from attendance.text import is_digits
from attendance.zoom.fields import parse_time
from attendance.zoom.rest_rows import (
    AccountUser,
    PastInstance,
    ReportParticipant,
    account_user,
    parse_rows,
    past_instance,
    past_participant,
    report_participant,
)

log = logging.getLogger(__name__)

#: Zoom's largest page (ZOOM.md §6).
PAGE_SIZE = 300
#: The most pages one list is followed for: 300,000 rows, far past any class or
#: account this app serves; a Zoom that keeps answering new tokens is a broken one.
MAX_PAGES = 1000
#: A token is used until this long before Zoom says it expires (Rivet's margin, ZOOM.md §5).
TOKEN_MARGIN = 60.0
#: (connect, read) seconds for every call.
TIMEOUT = (5.0, 30.0)
#: The longest a QPS 429 is waited out in the worker; a longer Retry-After defers the job.
MAX_QPS_WAIT = 10.0
#: How often a QPS 429 is waited out before the job is deferred instead.
QPS_RETRIES = 3
#: The wait after a 429 that names no time (Zoom sometimes sends no header at all).
DEFAULT_QPS_WAIT = 1.0
#: What urllib3 retries, with backoff: 5xx answers and failed connections.
RETRY_STATUSES = frozenset({500, 502, 503, 504})

#: Tokens shared by every client of the process, by (oauth base, account, client id):
#: the value is (token, monotonic time it stops being used).
_TOKENS: dict[tuple[str, str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


def encode_uuid(uuid: str) -> str:
    """A meeting UUID as a path segment: twice percent-encoded if it begins with ``/``
    or holds ``//`` (Zoom's rule, ZOOM-REST.md §5), once otherwise (a ``/`` inside
    must never reach the path raw)."""
    once = quote(uuid, safe="")
    if uuid.startswith("/") or "//" in uuid:
        return quote(once, safe="")
    return once


def forget_tokens() -> None:
    """Drop every cached token of the process (a connection's credentials changed)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()


def _retry(backoff_factor: float) -> Retry:
    # 429 is not urllib3's: it would sleep a daily limit's Retry-After in the worker.
    return Retry(
        total=4,
        connect=3,
        read=1,
        status=3,
        other=0,
        backoff_factor=backoff_factor,
        backoff_max=8.0,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "POST"}),  # the token POST is idempotent
        respect_retry_after_header=False,
        raise_on_status=False,
    )


class ZoomClient:
    """One Zoom account's API through one connection's S2S OAuth app."""

    def __init__(
        self,
        account_id: str,
        client_id: str,
        client_secret: str,
        api_base_url: str = "https://api.zoom.us/v2",
        oauth_base_url: str = "https://zoom.us",
        *,
        timeout: tuple[float, float] = TIMEOUT,
        backoff_factor: float = 0.5,
    ) -> None:
        self.account_id = account_id
        self.client_id = client_id
        self._client_secret = client_secret
        self.api_base_url = api_base_url.rstrip("/")
        self.oauth_base_url = oauth_base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=_retry(backoff_factor))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __repr__(self) -> str:
        # Never the secret, nor the token: a repr ends up in logs and tracebacks.
        return f"<ZoomClient account={self.account_id!r} client={self.client_id!r}>"

    def close(self) -> None:
        """Close the session's pooled connections."""
        self._session.close()

    def __enter__(self) -> ZoomClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the endpoints ---------------------------------------------------------

    def report_participants(self, uuid: str) -> Iterator[ReportParticipant]:
        """Every row of a meeting instance's participant report, page after page.

        :raises ZoomNotFound: when Zoom has no report for it (yet).
        """
        return self._report("meetings", uuid)

    def webinar_report_participants(self, uuid: str) -> Iterator[ReportParticipant]:
        """Every row of a webinar instance's participant report (the same row shape)."""
        return self._report("webinars", uuid)

    def _report(self, kind: str, uuid: str) -> Iterator[ReportParticipant]:
        rows = self._paged(
            f"/report/{kind}/{encode_uuid(uuid)}/participants",
            "participants",
            {"include_fields": "registrant_id"},
        )
        return parse_rows(rows, report_participant, f"{kind} report participants")

    def past_participants(self, uuid: str) -> Iterator[ReportParticipant]:
        """Every row of ``/past_meetings/{uuid}/participants`` (the report's fallback)."""
        rows = self._paged(
            f"/past_meetings/{encode_uuid(uuid)}/participants", "participants", {}
        )
        return parse_rows(rows, past_participant, "past participants")

    def past_instances(self, meeting_id: int) -> list[PastInstance]:
        """The ended instances of a meeting number (Zoom does not page this list).

        :raises ZoomNotFound: when the number is not a meeting of this account.
        """
        return self._instances("past_meetings", meeting_id, "meetings")

    def past_webinar_instances(self, webinar_id: int) -> list[PastInstance]:
        """The ended instances of a webinar number (``/past_webinars/{id}/instances``).

        Zoom answers 404 for a webinar's number on the meetings' list, and the
        other way round: a course's number may be either (CONTRACT §6).

        :raises ZoomNotFound: when the number is not a webinar of this account.
        """
        return self._instances("past_webinars", webinar_id, "webinars")

    def _instances(self, kind: str, number: int, key: str) -> list[PastInstance]:
        body = self._get(f"/{kind}/{int(number)}/instances", {})
        rows = _rows_of(body, key)
        return list(parse_rows(rows, past_instance, f"{key} instances"))

    def users(self, status: str = "active") -> Iterator[AccountUser]:
        """Every user of the account with this status, page after page."""
        rows = self._paged("/users", "users", {"status": status})
        return parse_rows(rows, account_user, "users")

    # -- paging ----------------------------------------------------------------

    def _paged(self, path: str, key: str, params: dict[str, str]) -> Iterator[Any]:
        """The rows under ``key`` of every page, following ``next_page_token``.

        :raises ZoomApiError: when a page has no ``key`` list (read as no rows, a
            users sync would unlink every account), when a page token comes back
            (A, B, A… would page forever), or past ``MAX_PAGES`` pages.
        """
        token = ""
        seen: set[str] = set()
        pages = 0
        while True:
            query = {**params, "page_size": str(PAGE_SIZE)}
            if token:
                query["next_page_token"] = token
            body = self._get(path, query)
            pages += 1
            yield from _rows_of(body, key)
            following = body.get("next_page_token")
            if not isinstance(following, str) or not following:
                return
            if following in seen:
                raise ZoomApiError(200, None, "Zoom's paging repeats a page token")
            if pages >= MAX_PAGES:
                raise ZoomApiError(
                    200, None, f"a list of more than {MAX_PAGES} pages: not followed"
                )
            seen.add(following)
            token = following

    # -- one call --------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """GET an API path as JSON: a fresh token once on a 401, QPS 429s waited out.

        :raises ZoomRateLimited: for a daily limit, or a wait longer than allowed.
        :raises ZoomAuthError: when a fresh token is refused too.
        :raises ZoomNotFound: on 404 or Zoom's code 3001.
        :raises ZoomApiError: on any other error answer (5xx after urllib3's retries).
        :raises ZoomUnavailable: when Zoom cannot be reached or does not answer in time.
        """
        url = self.api_base_url + path
        refreshed = False
        waits = 0
        while True:
            token = self._access_token()
            response = self._send(
                "GET", url, params=params, headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code == 401 and not refreshed:
                log.info("zoom %s: token refused, fetching a new one", self.account_id)
                self._drop_token(token)
                refreshed = True
                continue
            if response.status_code == 429:
                wait = self._rate_limit_wait(response, waits)
                waits += 1
                log.warning(
                    "zoom %s: rate limited, waiting %.1f s", self.account_id, wait
                )
                time.sleep(wait)
                continue
            if response.status_code == 401:
                raise ZoomAuthError(*_error_of(response))
            return _json_of(response)

    def _rate_limit_wait(self, response: requests.Response, waits: int) -> float:
        """How long to wait before retrying a 429, or :class:`ZoomRateLimited` to defer.

        ``X-RateLimit-Type`` names the limit (``QPS``, ``Daily-limit``); ``Retry-After``
        is seconds or a date (an HTTP date or ISO 8601, ZOOM.md §5); either may be absent.
        """
        kind = response.headers.get("X-RateLimit-Type", "").strip().lower()
        now = datetime.now(UTC)
        reset_at = _retry_after(response.headers.get("Retry-After", ""), now)
        if "daily" in kind:
            raise ZoomRateLimited(reset_at or _next_utc_midnight(now), "daily")
        wait = (
            DEFAULT_QPS_WAIT if reset_at is None else (reset_at - now).total_seconds()
        )
        wait = max(wait, 0.0)
        if wait > MAX_QPS_WAIT or waits >= QPS_RETRIES:
            raise ZoomRateLimited(now + timedelta(seconds=wait), "qps")
        return wait

    # -- the token -------------------------------------------------------------

    def _access_token(self) -> str:
        """The account's token: the process's (shared by its clients), or a new one."""
        key = self._token_key
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        token, expires_in = self._fetch_token()
        entry = (token, time.monotonic() + max(expires_in - TOKEN_MARGIN, 0.0))
        with _TOKENS_LOCK:
            _TOKENS[key] = entry
        return token

    def _drop_token(self, token: str) -> None:
        """Forget a token Zoom refused, unless another client replaced it already."""
        with _TOKENS_LOCK:
            if _TOKENS.get(self._token_key, ("",))[0] == token:
                del _TOKENS[self._token_key]

    @property
    def _token_key(self) -> tuple[str, str, str]:
        return (self.oauth_base_url, self.account_id, self.client_id)

    def _fetch_token(self) -> tuple[str, float]:
        """A new S2S token and its lifetime in seconds (ZOOM.md §5).

        :raises ZoomAuthError: when Zoom refuses the credentials or answers no token.
        """
        response = self._send(
            "POST",
            f"{self.oauth_base_url}/oauth/token",
            params={"grant_type": "account_credentials", "account_id": self.account_id},
            auth=(self.client_id, self._client_secret),
        )
        if response.status_code >= 400:
            status, code, message = _error_of(response)
            if status >= 500:
                raise ZoomApiError(status, code, message)
            raise ZoomAuthError(status, code, message)
        body = _json_of(response)
        token = body.get("access_token")
        expires_in = body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise ZoomAuthError(response.status_code, None, "no access_token answered")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            expires_in = 3600
        log.info("zoom %s: new access token", self.account_id)
        return token, float(expires_in)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request with the client's timeout; transport failures become ZoomUnavailable."""
        try:
            return self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise ZoomUnavailable(f"Zoom did not answer {method} in time") from exc
        except requests.RequestException as exc:
            raise ZoomUnavailable(
                f"Zoom could not be reached: {type(exc).__name__}"
            ) from exc


def _json_of(response: requests.Response) -> dict[str, Any]:
    """A success's JSON object; an error answer raised as its typed error."""
    if response.status_code >= 400:
        status, code, message = _error_of(response)
        if status == 404 or code == 3001:
            raise ZoomNotFound(status, code, message)
        raise ZoomApiError(status, code, message)
    try:
        body = response.json()
    except ValueError as exc:
        raise ZoomApiError(
            response.status_code, None, "an answer that is not JSON"
        ) from exc
    if not isinstance(body, dict):
        raise ZoomApiError(
            response.status_code, None, "an answer that is not an object"
        )
    return body


def _rows_of(body: dict[str, Any], key: str) -> list[Any]:
    """The list under ``key`` of a success; an empty list is one, a missing key is not.

    :raises ZoomApiError: when ``key`` is missing or not a list (a malformed answer
        must never read as "no rows": the callers act on what is absent).
    """
    rows = body.get(key)
    if not isinstance(rows, list):
        raise ZoomApiError(200, None, f"an answer without a {key!r} list")
    return rows


def _error_of(response: requests.Response) -> tuple[int, int | None, str]:
    """(status, Zoom's code, message) of an error answer, whatever its body holds."""
    code: int | None = None
    message = response.reason or ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        number = body.get("code")
        if isinstance(number, int) and not isinstance(number, bool):
            code = number
        text = body.get("message") or body.get("reason") or body.get("error")
        if isinstance(text, str) and text:
            message = text
    return response.status_code, code, message[:300]


def _retry_after(value: str, now: datetime) -> datetime | None:
    """``Retry-After`` as the time it names: seconds, an HTTP date or ISO 8601; None if none."""
    text = value.strip()
    if not text:
        return None
    if is_digits(text) and len(text) <= 9:
        return now + timedelta(seconds=int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = parse_time(text)
        except BadPayload:
            return None
        return parsed
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _next_utc_midnight(now: datetime) -> datetime:
    """When Zoom's daily limits reset when it does not say: 00:00 GMT (ZOOM.md §5)."""
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
