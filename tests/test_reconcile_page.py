"""The meeting page's "Zoom's report" section: state, changes by name, runs, Reconcile now."""

from __future__ import annotations

from tests.conftest import INSTRUCTOR_PASSWORD
from tests.engine_support import UUID, make_course, started
from tests.fake_zoom import FakeZoom, app_on_fake_zoom, fake_zoom  # noqa: F401
from tests.test_reconciliation import meeting_id, play_lost_leave, run_jobs, the_report


def login(client, bearers) -> None:
    bearers(root=True)
    answer = client.post(
        "/login", data={"email": "root@uni.edu", "password": INSTRUCTOR_PASSWORD}
    )
    assert answer.status_code in (302, 303)


def test_the_page_offers_reconcile_now_and_then_shows_what_changed(
    app, zoom, client, bearers, fake
):
    make_course(app)
    play_lost_leave(zoom)
    fake.post("/_fake/participants", {"uuid": UUID, "participants": the_report()})
    login(client, bearers)
    mid = meeting_id(app)
    page = client.get(f"/meetings/{mid}").get_data(as_text=True)
    assert "Zoom&#39;s report" in page or "Zoom's report" in page
    assert "Not reconciled" in page and 'data-testid="reconcile-now"' in page

    answer = client.post(f"/meetings/{mid}/reconcile")
    assert answer.status_code in (302, 303)
    page = client.get(f"/meetings/{mid}").get_data(as_text=True)
    assert "Pending" in page and "Reconciliation queued" in page

    run_jobs(app)
    page = client.get(f"/meetings/{mid}").get_data(as_text=True)
    assert "Reconciled" in page and "2 changes" in page
    assert "Ana Díaz" in page and "Chen Wei" in page
    assert "Present → Left Early" in page or "Present → Absent" in page
    assert "Runs (1)" in page and "4 report rows" in page


def test_a_live_meeting_cannot_be_reconciled_yet(app, zoom, client, bearers):
    make_course(app)
    zoom.post(started())
    login(client, bearers)
    mid = meeting_id(app)
    page = client.get(f"/meetings/{mid}").get_data(as_text=True)
    assert 'data-testid="reconcile-now"' not in page
    assert "once the meeting has ended" in page
    assert client.post(f"/meetings/{mid}/reconcile").status_code == 409
