"""Stored feed answers (portal.answers) and the change watch (portal.changes).

A feed polled again while nothing changed is answered without a single SQL statement, with
the same bytes and headers as the first answer; any committed change, made in this process
or by another worker (another app on the same database, with its own engine, watch and
store), is seen by the next request. When the watch loses its connection, feeds are still
right: every request asks the database until the watch is back.
"""

from __future__ import annotations

import time

from sqlalchemy import select, text

from portal import changes
from portal.extensions import db
from portal.imports.services import import_data
from portal.seminars import services as seminar_services
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
        seminar_services.update_seminar(seminar, {"title": title})
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
    app = make_app(PORTAL_BASE_URL=None)
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
    watch = app.extensions["portal.changes"]
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
    from portal.calendar import services as calendar_services

    load(app, "ans-1")
    with calendar_services._cache_lock:
        calendar_services._cache.clear()  # the module's cache is shared by the apps of earlier tests
    for n in range(5):
        retitle(app, "ans-1", f"版 {n}")
        assert f"版 {n}" in client.get("/calendar.ics").data.decode()
    with calendar_services._cache_lock:
        public = [key for key in calendar_services._cache if key[0] == "public"]
    assert len(public) == 1, public
