"""web.conditional: 304s decided from a validator without building the answer; who may keep
what (Cache-Control); a personal answer never marked for a shared cache (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from portal.calendar import feeds
from portal.core.db import db
from portal.web.conditional import PERSONAL, PRIVATE, SHARED, conditional


@pytest.fixture
def build_spy(monkeypatch):
    """Counts feed builds (the part a 304 must skip)."""
    calls: list[str] = []
    real = feeds.build

    def spy(feed):
        calls.append(feed.key)
        return real(feed)

    monkeypatch.setattr(feeds, "build", spy)
    return calls


def test_a_feed_revalidation_is_a_304_from_one_query_without_a_build(client, demo, build_spy, count_queries):
    first = client.get("/calendar.ics")
    assert first.status_code == 200 and build_spy == ["public"]
    assert first.headers["Cache-Control"] == SHARED
    with count_queries() as counter:
        again = client.get("/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == SHARED
    assert build_spy == ["public"], "a 304 built the feed"
    assert counter.count == 1, counter.statements  # the versions, nothing else
    # If-Modified-Since alone, as some calendar apps send it.
    since = client.get("/calendar.ics", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304 and build_spy == ["public"]


def test_a_page_revalidation_builds_nothing(client, demo, count_queries):
    first = client.get("/seminars?fy=2021")
    with count_queries() as counter:
        again = client.get("/seminars?fy=2021", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert counter.count == 1, counter.statements


def test_two_edits_in_the_same_second_give_two_validators(app, client, demo):
    etags = [client.get("/calendar.ics").headers["ETag"]]
    for title in ("一度目の変更", "二度目の変更"):
        with app.app_context():
            db.session.execute(text("UPDATE seminars SET title = :t WHERE key = 'fy2021-1'"), {"t": title})
            db.session.commit()
        response = client.get("/calendar.ics", headers={"If-None-Match": etags[-1]})
        assert response.status_code == 200, f"304 after {title}"
        etags.append(response.headers["ETag"])
    assert len(set(etags)) == 3


def test_a_logged_in_members_page_is_personal(client, demo, create_user, auth):
    for path in ("/", "/seminars", "/subcommittees", "/subcommittees/net-zero", "/api/v1/seminars"):
        assert client.get(path).headers["Cache-Control"] == SHARED, path
    auth.login(create_user("member"))
    for path in ("/", "/seminars", "/subcommittees", "/subcommittees/net-zero", "/api/v1/seminars"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == PERSONAL, path
        assert "ETag" not in response.headers and "Cookie" in response.headers["Vary"], path
    # The public feed is the same for them, but no shared cache keeps what a cookie asked for.
    assert client.get("/calendar.ics").headers["Cache-Control"] == PRIVATE


def test_a_guessed_etag_of_a_hidden_seminar_is_a_404(client, make_seminar):
    hidden = make_seminar("cond-draft", status="draft")
    assert client.get(f"/seminars/{hidden}", headers={"If-None-Match": "*"}).status_code == 404


def test_conditional_follows_rfc_9110(app):
    changed = datetime(2026, 12, 7, 4, 0, 0, 500_000, tzinfo=UTC)
    built: list[int] = []

    def answer(**headers: str):
        with app.test_request_context("/x", headers=headers):
            return conditional("v1", lambda: built.append(1) or "body", last_modified=changed)

    full = answer()
    assert full.status_code == 200 and full.headers["Cache-Control"] == "no-cache"
    etag = full.headers["ETag"]
    assert answer(**{"If-None-Match": etag}).status_code == 304
    assert answer(**{"If-None-Match": f'W/{etag}, "other"'}).status_code == 304  # weak, in a list
    assert answer(**{"If-None-Match": '"other"'}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    later = (changed + timedelta(days=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert answer(**{"If-None-Match": '"other"', "If-Modified-Since": later}).status_code == 200
    assert answer(**{"If-Modified-Since": later}).status_code == 304
    assert answer(**{"If-Modified-Since": full.headers["Last-Modified"]}).status_code == 304
    earlier = (changed - timedelta(seconds=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert answer(**{"If-Modified-Since": earlier}).status_code == 200
    assert answer(**{"If-Modified-Since": "garbage"}).status_code == 200
    assert len(built) == 5
