"""Change versions: one counter per table, moved by the database itself on every write.

HTTP validators (ETags) of pages, the API and feeds are made from the versions of the tables
an answer reads, found in one small query, without building the answer. A counter, not a
timestamp: two changes within the same second (or microsecond) still give two versions.

The counters are moved by triggers, not by a session hook, so a write that bypasses the ORM
(``psql``, a bulk script, another program) moves them too:

- PostgreSQL: a row trigger notes the table in a transaction-local setting (an UPDATE that
  changes nothing, such as ``lock_seminar``'s, is not noted); a deferred constraint trigger
  then moves the noted counters at commit, in name order, so two transactions that wrote the
  same tables in different orders never deadlock on the counters, and each counter's row lock
  is held only for the commit.
- SQLite: a trigger per table and operation (SQLite has one writer at a time).

TRUNCATE fires no row trigger: after one, move the counters by hand
(``UPDATE change_versions SET version = version + 1``).

The counter moves in the writer's transaction: it is visible exactly when the data is. A
reader reads the versions *before* the data (``conditional`` asks for the validator first),
so a change racing a build gives a newer version later, never an old version on new data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import BigInteger, String, event, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import Model, UTCDateTime, db

# Tables whose content people see on shared pages, the API or feeds. Left out on purpose:
# tables written on every log-in, delivery or request (sessions, throttles, reset tokens,
# the outbox, the audit log), which no cached answer shows.
TRACKED = (
    "organizations",
    "users",
    "seminar_series",
    "seminars",
    "program_items",
    "presenters",
    "registrations",
    "materials",
    "questions",
    "question_votes",
    "subcommittees",
    "subcommittee_members",
    "subcommittee_activities",
    "subcommittee_sessions",
    "milestones",
    "subcommittee_contacts",
    "calendar_tombstones",
)
# Counters of one kind of write rather than of a table: ``sessions_ended`` moves when a log-in's
# record is deleted (log-out, a password or role change, deactivation, an expired record cleared),
# never when one is added, so the live list's passes (qa/live.py) hold through a seminar's
# log-ins and end with any session that ends.
EVENTS = {"sessions_ended": ("user_sessions", "DELETE")}
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class ChangeVersion(Model):
    __tablename__ = "change_versions"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)  # a table's name
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last commit that moved it


_PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION portal_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE noted text := coalesce(current_setting('portal.changed', true), '');
BEGIN
    IF position(' ' || TG_TABLE_NAME || ' ' IN ' ' || noted) = 0 THEN
        PERFORM set_config('portal.changed', noted || TG_TABLE_NAME || ' ', true);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION portal_bump_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    noted text := coalesce(current_setting('portal.changed', true), '');
    name text;
BEGIN
    IF noted <> '' THEN
        PERFORM set_config('portal.changed', '', true);
        FOR name IN SELECT DISTINCT t FROM unnest(string_to_array(trim(noted), ' ')) AS t ORDER BY 1 LOOP
            UPDATE change_versions SET version = version + 1, changed_at = clock_timestamp() WHERE scope = name;
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
"""

_PG_TRIGGERS = """
DROP TRIGGER IF EXISTS portal_note_{t} ON {t};
CREATE TRIGGER portal_note_{t} AFTER INSERT OR DELETE ON {t}
    FOR EACH ROW EXECUTE FUNCTION portal_note_change();
DROP TRIGGER IF EXISTS portal_note_update_{t} ON {t};
CREATE TRIGGER portal_note_update_{t} AFTER UPDATE ON {t}
    FOR EACH ROW WHEN (OLD::text IS DISTINCT FROM NEW::text) EXECUTE FUNCTION portal_note_change();
DROP TRIGGER IF EXISTS portal_bump_{t} ON {t};
CREATE CONSTRAINT TRIGGER portal_bump_{t} AFTER INSERT OR UPDATE OR DELETE ON {t}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION portal_bump_versions();
"""

_PG_EVENT = """
CREATE OR REPLACE FUNCTION portal_note_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE noted text := coalesce(current_setting('portal.changed', true), '');
BEGIN
    IF position(' ' || TG_ARGV[0] || ' ' IN ' ' || noted) = 0 THEN
        PERFORM set_config('portal.changed', noted || TG_ARGV[0] || ' ', true);
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS portal_note_{scope} ON {t};
CREATE TRIGGER portal_note_{scope} AFTER {op} ON {t}
    FOR EACH ROW EXECUTE FUNCTION portal_note_event('{scope}');
DROP TRIGGER IF EXISTS portal_bump_{scope} ON {t};
CREATE CONSTRAINT TRIGGER portal_bump_{scope} AFTER {op} ON {t}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION portal_bump_versions();
"""

_SQLITE_EVENT = """
CREATE TRIGGER IF NOT EXISTS portal_bump_{scope} AFTER {op} ON {t} BEGIN
    UPDATE change_versions SET version = version + 1, changed_at = strftime('%Y-%m-%d %H:%M:%f000', 'now')
    WHERE scope = '{scope}';
END
"""

_SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS portal_bump_{t}_{op} AFTER {op} ON {t} BEGIN
    UPDATE change_versions SET version = version + 1, changed_at = strftime('%Y-%m-%d %H:%M:%f000', 'now')
    WHERE scope = '{t}';
END
"""


def _add_counter(conn: Connection, scope: str) -> None:
    if conn.execute(text("SELECT 1 FROM change_versions WHERE scope = :t"), {"t": scope}).first() is None:
        conn.execute(text("INSERT INTO change_versions (scope, version) VALUES (:t, 0)"), {"t": scope})


def install(conn: Connection, tables: Iterable[str] = TRACKED) -> None:
    """Counter rows and triggers for ``tables`` (idempotent). Called by the migration that
    added them and when tables are created from the models (tests)."""
    tables = tuple(tables)
    for table in tables:
        _add_counter(conn, table)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_FUNCTIONS)
        for table in tables:
            conn.exec_driver_sql(_PG_TRIGGERS.format(t=table))
    elif conn.dialect.name == "sqlite":
        for table in tables:
            for op in ("INSERT", "UPDATE", "DELETE"):
                conn.exec_driver_sql(_SQLITE_TRIGGER.format(t=table, op=op))


def install_events(conn: Connection) -> None:
    """Counter rows and triggers for ``EVENTS`` (idempotent); after ``install`` (it defines
    ``portal_bump_versions``). The migration that added them holds its own copy."""
    for scope, (table, op) in EVENTS.items():
        _add_counter(conn, scope)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(_PG_EVENT.format(scope=scope, t=table, op=op))
        elif conn.dialect.name == "sqlite":
            conn.exec_driver_sql(_SQLITE_EVENT.format(scope=scope, t=table, op=op))


@event.listens_for(Model.metadata, "after_create")
def _after_create(metadata, conn: Connection, **kw) -> None:
    install(conn)
    install_events(conn)


def versions(*scopes: str) -> tuple[tuple[int, ...], datetime]:
    """The versions of ``scopes`` (table names, in the order given) and when the newest of them
    last moved, in one query."""
    unknown = set(scopes) - set(TRACKED) - set(EVENTS)
    assert not unknown, f"not tracked: {unknown}"  # a validator over an untracked table would never move
    rows = dict(
        (scope, (version, changed_at))
        for scope, version, changed_at in db.session.execute(
            select(ChangeVersion.scope, ChangeVersion.version, ChangeVersion.changed_at)
            .where(ChangeVersion.scope.in_(scopes))
        )
    )
    found = tuple(rows.get(s, (0, None)) for s in scopes)
    newest = max((at for _, at in found if at is not None), default=EPOCH)
    return tuple(v for v, _ in found), newest


def validator(*parts: object, scopes: Iterable[str]) -> tuple[str, datetime]:
    """A validator string for an answer made of ``parts`` (a URL's arguments, the day, a format
    number) and the tables ``scopes``; and its Last-Modified."""
    scopes = tuple(scopes)
    numbers, newest = versions(*scopes)
    return repr((parts, dict(zip(scopes, numbers, strict=True)))), newest
