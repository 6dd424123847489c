"""Has the database changed? Known without a query, so a feed poll costs no round trip.

Each process keeps a *generation* number that moves whenever a transaction that wrote
anything commits, in this process or in any other:

- PostgreSQL: every session that wrote sends ``NOTIFY portal_changes`` just before it commits
  (delivered with the commit, dropped with a rollback). Each process LISTENs on a connection of
  its own and drains what arrived without blocking (a few microseconds).
- SQLite: ``PRAGMA data_version`` on a connection of its own moves when another connection
  commits.
- A commit in this process moves the generation at once, before the notification comes back.

A change committed by another process is seen once PostgreSQL has signalled the listener
(tens of microseconds on one host). When the watch cannot work (an in-memory SQLite database,
another driver, a lost connection), ``generation()`` answers None and callers ask the database,
as they would without it. Any write counts, not only the tables a cache reads: a table added
to a feed later can never be forgotten here, and a needless miss costs one query.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from flask import Flask, current_app
from sqlalchemy import URL, event, text
from sqlalchemy.orm import ORMExecuteState, Session

log = logging.getLogger(__name__)

CHANNEL = "portal_changes"
_WROTE = "portal.wrote"  # Session.info flag: this transaction wrote something
RETRY_SECONDS = 5.0  # after a failed (re)connection, ask the database for that long


class ChangeWatch:
    """One per app and process: the generation, and the connection that watches for changes."""

    def __init__(self, url: URL) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._generation = 0
        self._conn: Any = None
        self._pid = 0
        self._kind: str | None = None
        self._data_version: int | None = None
        self._retry_at = 0.0

    def generation(self) -> int | None:
        """The current generation, or None when changes cannot be watched right now."""
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                # A forked child must not use (or close) its parent's connection.
                if time.monotonic() < self._retry_at or not self._connect():
                    return None
            try:
                if self._kind == "postgresql":
                    if any(True for _ in self._conn.notifies(timeout=0)):
                        self._generation += 1
                else:
                    version = self._conn.execute("PRAGMA data_version").fetchone()[0]
                    if version != self._data_version:
                        self._data_version = version
                        self._generation += 1
            except Exception:  # the watch is lost: what it missed is unknown
                log.warning("change watch lost its connection; asking the database", exc_info=True)
                self._drop()
                return None
            return self._generation

    def bump(self) -> None:
        """A commit in this process: what was cached before it is stale."""
        with self._lock:
            self._generation += 1

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._drop()

    def _connect(self) -> bool:
        self._conn = None
        self._retry_at = time.monotonic() + RETRY_SECONDS
        url = self._url
        conn: Any  # a psycopg or a sqlite3 connection, by the database's kind
        try:
            if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg":
                import psycopg

                # Keepalives: a connection dropped without a word (a NAT, a failover) raises
                # within about a minute instead of leaving the listener deaf.
                conn = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False),
                                       autocommit=True, connect_timeout=3, keepalives=1, keepalives_idle=30,
                                       keepalives_interval=10, keepalives_count=3)
                conn.execute(f"LISTEN {CHANNEL}")
                self._kind = "postgresql"
            elif url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
                import sqlite3

                conn = sqlite3.connect(url.database, check_same_thread=False)
                self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]
                self._kind = "sqlite"
            else:
                return False
        except Exception:
            log.warning("change watch could not connect; asking the database", exc_info=True)
            return False
        self._conn, self._pid = conn, os.getpid()
        # Whatever was cached before the watch (re)started may have missed a change.
        self._generation += 1
        return True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._generation += 1
        self._retry_at = time.monotonic() + RETRY_SECONDS
        try:
            conn.close()
        except Exception:
            pass


def watch() -> ChangeWatch:
    return watch_of(current_app)


def watch_of(app: Flask) -> ChangeWatch:
    return app.extensions["portal.core.changes"]


def init_app(app: Flask) -> None:
    from portal.core.db import db

    with app.app_context():
        url = db.engine.url
    app.extensions["portal.core.changes"] = ChangeWatch(url)


# Session hooks, for every app: a transaction that wrote tells the others when it commits.


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, flush_context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if not state.is_select:  # bulk UPDATE / DELETE / INSERT, or raw SQL that may write
        state.session.info[_WROTE] = True


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    session.flush()  # the commit would flush after this hook: its writes count too
    if session.info.get(_WROTE) and session.get_bind().dialect.name == "postgresql":
        session.connection().execute(text(f"NOTIFY {CHANNEL}"))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        try:
            watch().bump()
        except (RuntimeError, KeyError):  # no app context, or an app without a watch
            pass


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WROTE, None)
