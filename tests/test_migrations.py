"""Models and migrations agree: `flask db upgrade` on an empty database, then `flask db check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

ROOT = Path(__file__).resolve().parent.parent


def flask(*args: str, database_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"DATABASE_URL": database_url, "SECRET_KEY": "migration-test", "PATH": "/usr/bin:/bin"},
    )


def empty(database_url: str) -> None:
    if database_url.startswith("postgresql"):
        # The suite's own schema lives in this database; migrate an empty one beside it.
        engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()


def test_upgrade_on_an_empty_database_then_check_finds_no_drift(database_url):
    empty(database_url)
    upgrade = flask("db", "upgrade", database_url=database_url)
    assert upgrade.returncode == 0, upgrade.stderr
    check = flask("db", "check", database_url=database_url)
    assert check.returncode == 0, check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr

    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"organizations", "users", "seminars", "program_items", "presenters", "subcommittees",
            "subcommittee_sessions", "milestones", "outbox_messages", "alembic_version"} <= tables


def test_the_vote_count_migration_counts_the_votes_already_cast_and_every_later_one(database_url):
    """0015 adds each question's vote count: it counts the votes a database already holds, and
    its trigger (the migration's own copy) counts every later vote, however it is written."""
    empty(database_url)
    assert flask("db", "upgrade", "0014_attendance", database_url=database_url).returncode == 0
    engine = create_engine(database_url)
    now = "CURRENT_TIMESTAMP"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO seminar_series (id, name, fiscal_year) VALUES (1, 'シリーズ', 2026)"))
        conn.execute(text(
            "INSERT INTO seminars (id, key, series_id, status, precision, registration_open, qa_open, qa_approval,"
            " sequence, created_at, updated_at)"
            f" VALUES (1, 'm', 1, 'published', 'day', true, true, false, 0, {now}, {now})"))
        for n in range(1, 4):
            conn.execute(text(
                "INSERT INTO users (id, email, name, password_hash, role, state, session_version, calendar_token,"
                f" password_changed_at, created_at) VALUES ({n}, 'u{n}@example.org', '会員{n}', 'x', 'member',"
                f" 'active', 0, 'token-{n}', {now}, {now})"))
        for q in (1, 2):
            conn.execute(text(
                "INSERT INTO questions (id, seminar_id, author_id, body, anonymous, followup, state, created_at,"
                f" pending, faq_published) VALUES ({q}, 1, 1, '質問{q}', false, false, 'open', {now}, false, false)"))
        for user in (2, 3):
            conn.execute(text("INSERT INTO question_votes (question_id, user_id, created_at)"
                              f" VALUES (1, {user}, {now})"))

    assert flask("db", "upgrade", database_url=database_url).returncode == 0
    counts = "SELECT id, vote_count FROM questions ORDER BY id"
    with engine.begin() as conn:
        assert [tuple(row) for row in conn.execute(text(counts))] == [(1, 2), (2, 0)]
        conn.execute(text(f"INSERT INTO question_votes (question_id, user_id, created_at) VALUES (2, 3, {now})"))
        conn.execute(text("UPDATE question_votes SET question_id = 2 WHERE question_id = 1 AND user_id = 2"))
        conn.execute(text("DELETE FROM question_votes WHERE question_id = 1 AND user_id = 3"))
    with engine.begin() as conn:
        assert [tuple(row) for row in conn.execute(text(counts))] == [(1, 0), (2, 2)]
    engine.dispose()
