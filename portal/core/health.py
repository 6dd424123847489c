"""Is the database answering? Asked by ``/healthz``, answered within a deadline, whatever hangs.

A probe reads the tables every page reads (a lock held on one of them is a hung site, while
``SELECT 1`` would still answer), on a thread of its own, and the caller waits for it at most
the deadline: a connection that cannot be made, a pool with no free connection, a lock that is
never released or a server that stopped answering all come back as "no" in time. On PostgreSQL
the probe's own statement and lock timeouts end it before that (``SET LOCAL``: only its
transaction). One probe runs at a time per process and engine; callers that arrive while it
runs wait for the same answer, so a hung database never gathers probe threads.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

PROBE_TABLES = ("users", "seminars")  # every logged-in request reads the one, every schedule the other

_lock = threading.Lock()
_running: dict[int, tuple[int, Future[bool]]] = {}  # id(engine) -> (pid, the probe under way)


def database_answers(engine: Engine, timeout_ms: int) -> bool:
    """True when the database answered the probe within ``timeout_ms``."""
    key = id(engine)
    with _lock:
        pid, future = _running.get(key, (0, None))
        if future is None or future.done() or pid != os.getpid():  # a forked child has no probe thread
            future = Future()
            _running[key] = (os.getpid(), future)
            threading.Thread(target=_probe, args=(engine, timeout_ms, future), name="portal-db-probe",
                             daemon=True).start()
    try:
        return future.result(timeout=timeout_ms / 1000)
    except FutureTimeout:
        log.warning("database probe: no answer within %d ms", timeout_ms)
        return False


def _probe(engine: Engine, timeout_ms: int, future: Future[bool]) -> None:
    try:
        with engine.connect() as conn:  # waits for the pool at most its own pool_timeout
            if conn.dialect.name == "postgresql":
                # Half the deadline: the server ends a probe that waits before its caller stops
                # waiting for it, so the next request asks afresh instead of joining a stale one.
                limit = max(int(timeout_ms) // 2, 1)
                conn.execute(text(f"SET LOCAL statement_timeout = {limit}"))
                conn.execute(text(f"SET LOCAL lock_timeout = {limit}"))
            for table in PROBE_TABLES:
                conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
            conn.rollback()
    except Exception as exc:
        log.warning("database probe failed: %s", exc)
        future.set_result(False)
    else:
        future.set_result(True)
