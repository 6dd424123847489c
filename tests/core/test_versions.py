"""core.versions: counters moved by the database's own triggers, on every write to a tracked
table, from the ORM or behind its back, and never a deadlock between writers (issue 14)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from portal.core import versions
from portal.core.db import db


def current(app, *scopes: str) -> tuple[int, ...]:
    with app.app_context():
        numbers, _ = versions.versions(*scopes)
        db.session.rollback()
        return numbers


def test_a_write_behind_the_orms_back_moves_the_version(app, demo, database_url):
    before = current(app, "seminars", "program_items", "questions")
    engine = create_engine(database_url)  # another program: no session, no hook of the portal
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE seminars SET title = title || '（改）' WHERE key = 'fy2021-1'"))
        after = current(app, "seminars", "program_items", "questions")
        assert after[0] == before[0] + 1 and after[1:] == before[1:]
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM presenters"))
        assert current(app, "presenters")[0] > 0
    finally:
        engine.dispose()


def test_a_rolled_back_write_moves_nothing(app, demo):
    before = current(app, "seminars")
    with app.app_context():
        db.session.execute(text("UPDATE seminars SET title = 'x'"))
        db.session.rollback()
    assert current(app, "seminars") == before


def test_every_tracked_table_has_its_counter(app):
    with app.app_context():
        numbers, _ = versions.versions(*versions.TRACKED)
    assert len(numbers) == len(versions.TRACKED)
    with pytest.raises(AssertionError):
        versions.versions("outbox_messages")  # untracked: a validator over it would never move


def test_writers_of_the_same_tables_in_opposite_orders_never_deadlock(app, demo, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time")
    # Two transactions on different rows write seminars and program_items in opposite orders:
    # counters moved at each statement would lock their rows in those orders and deadlock.
    engine = create_engine(database_url, pool_size=2)
    with engine.connect() as conn:
        (a, item_a), (b, item_b) = conn.execute(text(
            "SELECT seminar_id, min(id) FROM program_items GROUP BY seminar_id ORDER BY seminar_id LIMIT 2")).all()
    both_wrote_first = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def writer(statements: list[tuple[str, int]]) -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                conn.execute(text(statements[0][0]), {"id": statements[0][1]})
                both_wrote_first.wait()
                conn.execute(text(statements[1][0]), {"id": statements[1][1]})
        except BaseException as error:
            errors.append(error)

    seminar = "UPDATE seminars SET title = title || '.' WHERE id = :id"
    item = "UPDATE program_items SET title = title || '.' WHERE id = :id"
    before = current(app, "program_items", "seminars")
    threads = [threading.Thread(target=writer, args=([(seminar, a), (item, item_a)],)),
               threading.Thread(target=writer, args=([(item, item_b), (seminar, b)],))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    engine.dispose()
    assert errors == []
    assert current(app, "program_items", "seminars") == (before[0] + 2, before[1] + 2)
