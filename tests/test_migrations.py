"""Models and migrations agree: `flask db upgrade` on an empty database, then `flask db check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

ROOT = Path(__file__).resolve().parent.parent


def flask(*args: str, database_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"DATABASE_URL": database_url, "SECRET_KEY": "migration-test", "PATH": "/usr/bin:/bin"},
    )


def test_upgrade_on_an_empty_database_then_check_finds_no_drift(database_url):
    if database_url.startswith("postgresql"):
        # The suite's own schema lives in this database; migrate an empty one beside it.
        engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()

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
