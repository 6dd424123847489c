"""The live list's fast lane (portal/qa/live.py): a poll of a session Flask has already answered
for this list is answered from the process's snapshot before Flask, with no query, the same
answer Flask gives; and it ends for a session that ends, an attendee who cancels or a seminar
made a draft, within the snapshot's age, as fresh as the list itself."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import logged_in, queries_of, register_accounts
from sqlalchemy import text

from portal.core.db import db


@pytest.fixture
def seminar_defaults() -> dict[str, Any]:
    return {"qa": "open", "program": [{"start": "15:30", "title": "イントロダクション"}]}


def headers_of(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() != "date"}


def with_a_pass(app, make_app, make_seminar, create_user, key: str, **config):
    """A seminar with one question, an attendee and the list's path; the attendee's session has
    polled twice through Flask (the second poll leaves the pass). Returns (app, attendee, path,
    Flask's second answer, the asker (another attendee), the seminar id)."""
    sid = make_seminar(key)
    asker, reader = create_user("member"), create_user("member")
    register_accounts(app, sid, asker, reader)
    assert logged_in(app, asker).post(f"/seminars/{sid}/questions", {"body": "速い道の質問"}).status_code == 302
    app = make_app(**config)  # the same database
    attendee = logged_in(app, reader)
    path = f"/seminars/{sid}/questions?fragment=1"
    assert attendee.client.get(path).status_code == 200  # builds the snapshot
    flask_answer = attendee.client.get(path)  # a snapshot was held before its checks: the pass
    assert flask_answer.status_code == 200
    return app, attendee, path, flask_answer, asker, sid


def test_a_poll_with_a_pass_is_answered_without_a_query_and_as_flask_answers_it(
    app, make_app, make_seminar, create_user
):
    app, attendee, path, flask_answer, _reader, _sid = with_a_pass(
        app, make_app, make_seminar, create_user, "lane-same", QA_LIVE_MAX_AGE_SECONDS=60)
    with queries_of(app) as counted:
        lane = attendee.client.get(path)
        not_modified = attendee.client.get(path, headers={"If-None-Match": lane.headers["ETag"]})
    assert counted.statements == [], f"the lane's polls queried the database: {counted.statements}"
    assert lane.status_code == 200 and lane.get_data() == flask_answer.get_data()
    assert headers_of(lane) == headers_of(flask_answer)
    assert "速い道の質問" in lane.get_data(as_text=True)
    assert not_modified.status_code == 304 and not_modified.get_data() == b""
    assert not_modified.headers["ETag"] == flask_answer.headers["ETag"]
    assert "Set-Cookie" not in lane.headers and "Set-Cookie" not in not_modified.headers


def test_another_sessions_cookie_or_a_forged_one_gets_no_pass(app, make_app, make_seminar, create_user):
    app, attendee, path, _flask_answer, _asker, _sid = with_a_pass(
        app, make_app, make_seminar, create_user, "lane-others", QA_LIVE_MAX_AGE_SECONDS=60)
    outsider = create_user("member")  # logged in, not registered: Flask's 403 with the reason
    with queries_of(app) as counted:
        refused = logged_in(app, outsider).client.get(path)
    assert refused.status_code == 403 and counted.count, "the outsider's poll was not checked"
    forged = app.test_client()
    cookie = attendee.client.get_cookie("session")
    assert cookie is not None
    forged.set_cookie("session", cookie.value[:-4] + ("AAAA" if not cookie.value.endswith("AAAA") else "BBBB"))
    assert forged.get(path).status_code == 302  # a broken signature: a visitor, sent to log in


@pytest.mark.parametrize("ending", ["logout", "cancel", "draft"])
def test_the_lane_ends_within_the_snapshots_age_when_access_ends(app, make_app, make_seminar, create_user, ending):
    """A log-out (the cookie replayed afterwards), a cancelled registration, a seminar made a
    draft: once the snapshot is renewed (another viewer's poll), the session's next poll is
    checked by Flask and refused, although it held a pass and the snapshot is fresh."""
    app, attendee, path, _flask_answer, asker, sid = with_a_pass(
        app, make_app, make_seminar, create_user, f"lane-end-{ending}", QA_LIVE_MAX_AGE_SECONDS=0.3)
    time.sleep(0.35)
    assert attendee.client.get(path).status_code == 200  # renews the snapshot
    served = attendee.client.get(path)
    assert served.status_code == 200
    cookie = attendee.client.get_cookie("session")
    assert cookie is not None
    if ending == "logout":
        assert attendee.post("/logout").status_code == 302
    elif ending == "cancel":
        assert attendee.post(f"/seminars/{sid}/registration/cancel", {"confirmed": "1"}).status_code == 302
    else:
        with app.app_context():
            db.session.execute(text("UPDATE seminars SET status = 'draft' WHERE id = :s"), {"s": sid})
            db.session.commit()
    time.sleep(0.35)
    # Another attendee's poll renews the snapshot (the secretariat's, of a draft): the replay
    # below comes within its age.
    renewer = create_user("secretariat") if ending == "draft" else asker
    assert logged_in(app, renewer).client.get(path).status_code == 200
    replay = app.test_client()
    replay.set_cookie("session", cookie.value)
    answer = replay.get(path)
    assert answer.status_code in {"logout": (302,), "cancel": (403,), "draft": (404,)}[ending], answer.status_code
    assert "速い道の質問" not in answer.get_data(as_text=True)


def test_a_pass_is_for_its_own_list_view_and_language(app, make_app, make_seminar, create_user):
    """The pass names the view Flask served: the list in the order asked, or in English, is
    another view, answered by Flask first (then by the lane)."""
    app, attendee, path, flask_answer, _reader, _sid = with_a_pass(
        app, make_app, make_seminar, create_user, "lane-views", QA_LIVE_MAX_AGE_SECONDS=60)
    with queries_of(app) as counted:
        by_time = attendee.client.get(path + "&sort=time")
    assert by_time.status_code == 200 and counted.count, "another order took the pass of the list by votes"
    assert attendee.client.get("/language/en").status_code in (302, 303)
    with queries_of(app) as counted:
        english = attendee.client.get(path)
    assert english.status_code == 200 and counted.count, "another language took the Japanese list's pass"
    assert english.headers["ETag"] != flask_answer.headers["ETag"]
