"""Stored answers (portal.web.answers: feeds, and public pages as a visitor sees them) and the
change watch (portal.core.changes).

A feed polled again while nothing changed is answered without a single SQL statement, with
the same bytes and headers as the first answer; any committed change, made in this process
or by another worker (another app on the same database, with its own engine, watch and
store), is seen by the next request. When the watch loses its connection, feeds are still
right: every request asks the database until the watch is back.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from conftest import AuthActions
from sqlalchemy import create_engine, select, text

from portal.core import changes
from portal.core.db import db, utcnow
from portal.imports.operations import import_data
from portal.seminars import operations
from portal.seminars.models import Seminar

SERIES = "官民連携プラットフォーム オンラインセミナー"


def load(app, *keys: str) -> None:
    with app.app_context():
        import_data({"seminars": [
            {"key": key, "series": SERIES, "number": n, "title": f"回 {key}", "date": f"2021-08-{n:02d}",
             "start": "15:30", "end": "17:00", "status": "published"}
            for n, key in enumerate(keys, start=1)
        ]})
        db.session.commit()


def retitle(app, key: str, title: str) -> None:
    with app.app_context():
        seminar = db.session.scalar(select(Seminar).where(Seminar.key == key))
        operations.update_seminar(seminar, {"title": title})
        db.session.commit()


def seminar_id(app, key: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Seminar.id).where(Seminar.key == key))


def eventually(check, seconds: float = 2.0) -> bool:
    """Another process's commit reaches this one as a notification: allow it to arrive."""
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def test_an_unchanged_feed_is_answered_again_without_a_query(app, client, count_queries):
    load(app, "ans-1", "ans-2")
    paths = ("/calendar.ics", f"/seminars/{seminar_id(app, 'ans-1')}.ics")
    first = {path: client.get(path) for path in paths}
    with count_queries() as queries:
        for path in paths:
            etag = first[path].headers["ETag"]
            again = client.get(path)
            assert again.status_code == 200
            assert again.data == first[path].data
            assert sorted(again.headers.items()) == sorted(first[path].headers.items()), path
            not_modified = client.get(path, headers={"If-None-Match": f'W/{etag}, "other"'})
            assert not_modified.status_code == 304
            assert not_modified.data == b""
            assert not_modified.headers["ETag"] == etag
            since = client.get(path, headers={"If-Modified-Since": first[path].headers["Last-Modified"]})
            assert since.status_code == 304
            head = client.head(path)
            assert head.status_code == 200 and head.data == b""
            assert head.headers["Content-Length"] == str(len(first[path].data))
            assert head.headers["Content-Security-Policy"] == first[path].headers["Content-Security-Policy"]
    assert queries.count == 0, queries.statements


def test_a_change_in_this_process_is_seen_by_the_next_request(app, client):
    load(app, "ans-1")
    before = client.get("/calendar.ics")
    client.get("/calendar.ics")  # stored
    retitle(app, "ans-1", "直後に変えたタイトル")
    after = client.get("/calendar.ics", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert "直後に変えたタイトル" in after.data.decode()
    assert after.headers["ETag"] != before.headers["ETag"]


def test_a_change_committed_by_another_worker_is_seen(make_app, app, client):
    load(app, "ans-1")
    path = f"/seminars/{seminar_id(app, 'ans-1')}.ics"
    before = {p: client.get(p) for p in ("/calendar.ics", path)}
    assert client.get("/calendar.ics").data == before["/calendar.ics"].data  # served from the store
    other = make_app()  # another gunicorn worker: its commit does not touch this app's memory
    retitle(other, "ans-1", "別のワーカーが変えたタイトル")
    for p, first in before.items():
        assert eventually(lambda p=p, first=first: client.get(p).headers["ETag"] != first.headers["ETag"]), (
            f"{p} still answers its old ETag after another worker's commit")
        assert "別のワーカーが変えたタイトル" in client.get(p).data.decode()
        stale = client.get(p, headers={"If-None-Match": first.headers["ETag"]})
        assert stale.status_code == 200


def test_a_rolled_back_write_and_a_read_leave_the_answer_stored(make_app, app, client, count_queries):
    load(app, "ans-1")
    client.get("/calendar.ics")
    with app.app_context():
        seminar = db.session.scalar(select(Seminar).where(Seminar.key == "ans-1"))
        seminar.title = "取り消される変更"
        db.session.flush()
        db.session.rollback()
    with make_app().app_context():
        db.session.scalar(select(Seminar.title))  # another worker reading
    with count_queries() as queries:
        assert "取り消される変更" not in client.get("/calendar.ics").data.decode()
    assert queries.count == 0, queries.statements


def test_links_follow_the_request_host_when_no_base_url_is_set(make_app):
    app = make_app(PORTAL_BASE_URL=None, TRUSTED_HOSTS=["portal-a.example", "portal-b.example"])
    load(app, "ans-1")
    client = app.test_client()
    for host in ("portal-a.example", "portal-b.example", "portal-a.example"):
        body = client.get("/calendar.ics", headers={"Host": host}).data.decode()
        assert f"http://{host}/seminars/" in body
        other = "portal-b.example" if host == "portal-a.example" else "portal-a.example"
        assert other not in body


def test_a_lost_watch_falls_back_to_the_database_and_comes_back(make_app, app, client, count_queries, monkeypatch):
    load(app, "ans-1")
    first = client.get("/calendar.ics")
    watch = app.extensions["portal.core.changes"]
    with app.app_context():
        if db.engine.dialect.name == "postgresql":  # the server ends the listening session
            listeners = db.session.scalars(text(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()")).all()
            assert listeners, "the watch is not listening"
            for pid in listeners:
                db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            db.session.commit()
        else:  # SQLite: the watch's own connection is gone
            watch._conn.close()
    # Another worker changes the seminar while this one's watch is gone.
    retitle(make_app(), "ans-1", "監視が切れている間の変更")
    after = client.get("/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200
    assert "監視が切れている間の変更" in after.data.decode()
    with count_queries() as queries:
        client.get("/calendar.ics")
    assert queries.count >= 1, "answered from the store although changes could not be watched"
    monkeypatch.setattr(changes, "RETRY_SECONDS", 0.0)
    watch._retry_at = 0.0
    client.get("/calendar.ics")  # reconnects, then stores
    with count_queries() as queries:
        assert client.get("/calendar.ics").status_code == 200
    assert queries.count == 0, queries.statements


def test_a_draft_seen_by_the_secretariat_is_never_served_to_others(app, client, auth, create_user):
    with app.app_context():
        import_data({"seminars": [{"key": "ans-draft", "series": SERIES, "number": 9, "title": "下書き",
                                   "date": "2021-09-15", "start": "10:00", "status": "draft"}]})
        db.session.commit()
    path = f"/seminars/{seminar_id(app, 'ans-draft')}.ics"
    auth.login(create_user("secretariat"))
    for _ in range(2):
        seen = client.get(path)
        assert seen.status_code == 200
        assert seen.headers["Cache-Control"].startswith("private")
    visitor = app.test_client()
    assert visitor.get(path).status_code == 404
    assert visitor.get(path, headers={"If-None-Match": seen.headers["ETag"]}).status_code == 404


def test_a_feed_edited_many_times_keeps_one_body_per_process(app, client):
    """Each edit makes a new version; only the newest one's bytes are kept (memory stays flat)."""
    from portal.calendar import feeds

    load(app, "ans-1")
    with feeds._cache_lock:
        feeds._cache.clear()  # the module's cache is shared by the apps of earlier tests
    for n in range(5):
        retitle(app, "ans-1", f"版 {n}")
        assert f"版 {n}" in client.get("/calendar.ics").data.decode()
    with feeds._cache_lock:
        public = [key for key in feeds._cache if key[0] == "public"]
    assert len(public) == 1, public


# --------------------------------------------------------------------------- public pages


def open_seminar(app, key: str, **extra) -> int:
    """A published seminar three weeks ahead, registration open, 20 places."""
    from portal.core.dates import fiscal_year, today_local

    day = today_local() + timedelta(days=21)
    with app.app_context():
        import_data({"seminars": [{
            "key": key, "series": SERIES, "fiscal_year": fiscal_year(day), "number": 4, "title": f"公開ページ {key}",
            "date": day.isoformat(), "start": "15:30", "end": "17:00", "status": "published",
            "capacity": 20, "registration": "open", "join_url": f"https://example.org/webinar/{key}", **extra,
        }]})
        db.session.commit()
    return seminar_id(app, key)


def test_a_visitors_page_is_answered_again_without_a_query(app, client, count_queries):
    sid = open_seminar(app, "page-1")
    paths = ("/seminars", f"/seminars/{sid}")
    first = {path: client.get(path) for path in paths}
    with count_queries() as queries:
        for path in paths:
            again = client.get(path)
            assert again.status_code == 200
            assert again.data == first[path].data
            assert sorted(again.headers.items()) == sorted(first[path].headers.items()), path
            assert again.headers["Content-Type"] == "text/html; charset=utf-8"
            assert "Set-Cookie" not in again.headers
            not_modified = client.get(path, headers={"If-None-Match": first[path].headers["ETag"]})
            assert not_modified.status_code == 304 and not_modified.data == b""
    assert queries.count == 0, queries.statements
    assert "公開ページ page-1" in first[f"/seminars/{sid}"].data.decode()


def test_a_write_is_on_the_visitors_page_at_once(app, client, create_user):
    sid = open_seminar(app, "page-2")
    assert "残り 20席" in client.get(f"/seminars/{sid}").data.decode()
    member = AuthActions(app.test_client())
    member.login(create_user("member"))
    assert member.post(f"/seminars/{sid}/registration").status_code == 302
    assert "残り 19席" in client.get(f"/seminars/{sid}").data.decode()
    retitle(app, "page-2", "変更後のテーマ")
    assert "変更後のテーマ" in client.get("/seminars").data.decode()


def test_a_page_with_a_cookie_is_never_taken_from_or_put_in_the_store(app, client, create_user):
    """An account sees its own page (its state, the join link), and a visitor never sees it."""
    sid = open_seminar(app, "page-3")
    path = f"/seminars/{sid}"
    visitor_page = client.get(path).data.decode()
    member = AuthActions(app.test_client())
    member.login(create_user("member"))
    member.post(f"/seminars/{sid}/registration")
    assert "残り 19席" in client.get(path).data.decode()  # the registration moved the generation
    for _ in range(2):
        own = member.client.get(path).data.decode()
        assert "参加登録済みです" in own and "https://example.org/webinar/page-3" in own
    for _ in range(2):
        seen = client.get(path).data.decode()
        assert "https://example.org/webinar/page-3" not in seen and "参加登録済みです" not in seen
    assert "ログインして参加を申し込む" in visitor_page
    # A visitor who chose English has a session cookie: English, not the stored Japanese page.
    english = app.test_client()
    english.get("/language/en?next=/")
    for _ in range(2):
        seen = english.get(path).data.decode()
        assert "Log in to register" in seen and "ログインして参加を申し込む" not in seen
    assert "ログインして参加を申し込む" in client.get(path).data.decode()


def test_a_stored_page_ends_when_registration_closes(app, client):
    closes = utcnow() + timedelta(seconds=1.5)
    sid = open_seminar(app, "page-4")
    with app.app_context():
        db.session.get(Seminar, sid).registration_closes_at = closes
        db.session.commit()
    path = f"/seminars/{sid}"
    for _ in range(2):
        assert "受付中" in client.get(path).data.decode()
    time.sleep(max(0.0, (closes - utcnow()).total_seconds()) + 0.05)
    assert "締め切りました" in client.get(path).data.decode()  # no write happened: the clock did it


def test_when_a_seminar_page_changes_by_itself(app):
    from datetime import UTC, datetime

    from portal.core.dates import Precision

    now = datetime(2021, 7, 1, 3, 0, tzinfo=UTC)
    opens, closes = now + timedelta(days=1), now + timedelta(days=30)
    seminar = Seminar(precision=Precision.DAY, starts_at=now + timedelta(days=33),
                      ends_at=now + timedelta(days=33, hours=1), registration_opens_at=opens,
                      registration_closes_at=closes)
    assert seminar.next_change_by_time(now) == opens
    assert seminar.next_change_by_time(opens) == closes
    # At its start the page shows 開催中 (and the registered a 参加する button); then it is over.
    assert seminar.next_change_by_time(closes) == seminar.starts_at
    assert seminar.next_change_by_time(seminar.starts_at) == seminar.ends_at
    assert seminar.next_change_by_time(seminar.ends_at) is None
    # 10月上旬 is over at midnight (Tokyo) after October 10th.
    from datetime import date

    early = Seminar(precision=Precision.EARLY, date_on=date(2021, 10, 1))
    assert early.next_change_by_time(now) == datetime(2021, 10, 10, 15, 0, tzinfo=UTC)
    assert Seminar(precision=Precision.UNDECIDED).next_change_by_time(now) is None


def test_a_schedule_for_another_year_is_not_stored(app, client, count_queries):
    open_seminar(app, "page-5")
    client.get("/seminars?fy=2021")
    with count_queries() as queries:
        assert client.get("/seminars?fy=2021").status_code == 200
    assert queries.count > 0


# --------------------------------------------------------------------------- races and limits


def test_a_token_regenerated_while_its_feed_is_being_made_is_404_afterwards(app, client, create_user, monkeypatch):
    """The view looked the account up by its old token; the token changes before the feed is
    stored. The old URL must not go on answering from the store."""
    from portal.accounts.models import User
    from portal.calendar import tokens

    member = create_user("member")
    old = f"/calendar/{member.calendar_token}.ics"
    looked_up = tokens.user_for_token

    def racing(token: str):
        found = looked_up(token)
        with app.app_context():  # another request, committing in the middle of this one
            tokens.regenerate_token(db.session.get(User, member.id))
            db.session.commit()
        return found

    monkeypatch.setattr(tokens, "user_for_token", racing)
    client.get(old)
    monkeypatch.setattr(tokens, "user_for_token", looked_up)
    for _ in range(2):
        assert client.get(old).status_code == 404


@pytest.mark.postgres_only
def test_a_change_no_one_announced_is_seen_within_the_maximum_age(app, client, database_url, monkeypatch):
    """A write that bypasses the portal (psql) sends no NOTIFY: stored answers still end."""
    from portal.web import answers

    if not database_url.startswith("postgresql"):
        pytest.skip("on SQLite the watch sees every write (PRAGMA data_version)")
    monkeypatch.setattr(answers, "MAX_AGE", timedelta(seconds=1))
    load(app, "ans-quiet")
    assert "回 ans-quiet" in client.get("/calendar.ics").data.decode()
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:  # not a portal session: no notification
            conn.execute(text(
                "UPDATE seminars SET title = '黙って変えたタイトル', updated_at = now() WHERE key = 'ans-quiet'"))
    finally:
        engine.dispose()
    assert "黙って変えたタイトル" not in client.get("/calendar.ics").data.decode()  # from the store
    assert eventually(lambda: "黙って変えたタイトル" in client.get("/calendar.ics").data.decode(), seconds=3)


def test_renaming_a_series_or_an_account_changes_the_feeds_that_show_the_name(app, client, create_user):
    from portal.accounts.models import User
    from portal.seminars.models import SeminarSeries

    load(app, "ans-1")
    member = create_user("member")
    paths = ("/calendar.ics", f"/seminars/{seminar_id(app, 'ans-1')}.ics", f"/calendar/{member.calendar_token}.ics")
    before = {p: client.get(p).headers["ETag"] for p in paths}
    with app.app_context():
        series = db.session.scalar(select(SeminarSeries).where(SeminarSeries.name == SERIES))
        operations.update_series(series, name="改称後のセミナー", fiscal_year=series.fiscal_year,
                                       description=None)
        db.session.get(User, member.id).name = "改名 花子"
        db.session.commit()
    for path in paths:
        again = client.get(path, headers={"If-None-Match": before[path]})
        assert again.status_code == 200, path
        body = again.data.decode()
        assert ("改名 花子" in body) if path.startswith("/calendar/") else ("改称後のセミナー" in body), path
