"""Mail delivery that cannot hang and never gives up (issue 13, items 1–4).

Real parts only: aiosmtpd servers on free ports (one that answers slowly), raw sockets that accept
and stay silent or trickle, `flask mail deliver` as a real process (killed with SIGKILL in one
test), both databases. Time is moved (``now=``), not waited, where the issue says so.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port
from sqlalchemy import func, select, update

from portal.core.db import db, utcnow
from portal.mail import delivery
from portal.mail.delivery import deliver_batch
from portal.mail.models import OutboxMessage, OutboxStatus
from portal.mail.outbox import enqueue
from portal.mail.queries import waiting_too_long

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "wsgi.py").exists())
SUBJECT = "【官民連携プラットフォーム】お知らせ"


# ----------------------------------------------------------------------------- servers


class SilentServer:
    """Accepts TCP connections and never says a word (a hung SMTP server)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never answered

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


class TricklingServer:
    """A real SMTP dialogue where every reply comes after ``delay`` seconds: each read is well
    within a socket timeout, but the whole conversation is not within the per-message deadline."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _say(self, conn: socket.socket, line: str) -> None:
        time.sleep(self.delay)
        conn.sendall(line.encode() + b"\r\n")

    def _talk(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            self._say(conn, "220 slow.example.org ESMTP")
            while line := reader.readline():
                verb = line[:4].upper()
                if verb == b"DATA":
                    self._say(conn, "354 go ahead")
                    while reader.readline() not in (b".\r\n", b""):
                        pass
                    self.received += 1
                    self._say(conn, "250 OK")
                elif verb == b"QUIT":
                    self._say(conn, "221 bye")
                    return
                else:
                    self._say(conn, "250 OK")
        except OSError:
            return
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


class SlowSMTP:
    """aiosmtpd that takes ``delay`` seconds to accept each message (several clients at once).

    ``hold_at=n``: the n-th DATA (from 0) is never accepted: the server waits until ``release``
    is set, then answers 451, as a server does whose client went away before it said 250."""

    def __init__(self, delay: float, hold_at: int | None = None) -> None:
        self.host, self.port = "127.0.0.1", free_port()
        self.delay = delay
        self.hold_at = hold_at
        self.data_commands = 0
        self.messages: list[EmailMessage] = []
        self.held = threading.Event()
        self.release = threading.Event()
        self.controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        slow = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                index = slow.data_commands
                slow.data_commands += 1
                if index == slow.hold_at:
                    slow.held.set()
                    while not slow.release.is_set():
                        await asyncio.sleep(0.05)
                    return "451 4.3.0 try again later"
                await asyncio.sleep(slow.delay)
                slow.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
                return "250 OK"

        self.controller = Controller(Handler(), hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.release.set()
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def config(self) -> dict[str, Any]:
        return {"MAIL_SERVER": self.host, "MAIL_PORT": self.port, "MAIL_USE_TLS": False}


class StopLoop(Exception):
    pass


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


# ----------------------------------------------------------------------------- helpers


def _enqueue(app, count: int) -> list[int]:
    with app.app_context():
        rows = [enqueue(f"user{i:02d}@example.org", f"{SUBJECT} {i:02d}", "本文\n", kind="test.notice")
                for i in range(1, count + 1)]
        db.session.commit()
        return [row.id for row in rows]


def _rows(app) -> list[OutboxMessage]:
    with app.app_context():
        found = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return found


def _deliver(app, **kwargs) -> delivery.DeliveryReport:
    with app.app_context():
        return deliver_batch(**kwargs)


def _subjects(messages: list[EmailMessage]) -> Counter:
    return Counter(str(m["Subject"]) for m in messages)


def _flask(app, *args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen:
    """``flask --app wsgi …`` as its own process, on the test's database and mail settings."""
    settings = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "liveness-test",
        "PATH": "/usr/bin:/bin", "MAIL_SERVER": str(app.config["MAIL_SERVER"]),
        "MAIL_PORT": str(app.config["MAIL_PORT"]), **(env or {}),
    }
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=settings,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _run(process: subprocess.Popen, limit: float) -> tuple[int, str, float]:
    """Wait for the process; kill it (and fail) if it outlives ``limit`` seconds."""
    started = time.monotonic()
    try:
        out, err = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"still running after {limit:g} s")
    return process.returncode, out + err, time.monotonic() - started


# ----------------------------------------------------------------------------- 1. cannot hang


def test_a_silent_smtp_server_cannot_hang_delivery(make_app, silent_server):
    """Issue 13.1: a server that accepts and never answers. `mail deliver --once` ends within
    the timeout (+ the process's start-up), exits 0, and every message stays pending with its
    error and a first retry within 30 s; none is left in `sending`."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=silent_server.port)
    ids = _enqueue(app, count=3)

    before = utcnow()
    code, output, elapsed = _run(_flask(app, "mail", "deliver", "--once", env={"PORTAL_MAIL_TIMEOUT_SECONDS": "2"}),
                                 limit=60)
    after = utcnow()

    assert code == 0, output
    assert elapsed < 2 + 15, output  # one deadline for the whole outage, plus start-up on a busy machine
    assert silent_server.accepted, "the worker never connected"
    rows = _rows(app)
    assert [r.id for r in rows] == ids
    for row in rows:
        assert row.status == OutboxStatus.PENDING
        assert row.attempts == 1
        assert "no answer from the SMTP server within 2 s" in row.last_error
        assert before <= row.next_attempt_at <= after + timedelta(seconds=30)


def test_a_server_that_answers_too_slowly_meets_the_per_message_deadline(make_app):
    """Every reply comes 0.8 s late: no single read times out, but the conversation outlives the
    2 s deadline, so the attempt ends there and the message waits for its retry."""
    server = TricklingServer(delay=0.8)
    try:
        app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_TIMEOUT_SECONDS=2.0)
        [message_id] = _enqueue(app, count=1)
        started = time.monotonic()
        report = _deliver(app)
        elapsed = time.monotonic() - started
    finally:
        server.close()

    assert (report.claimed, report.sent, report.failed) == (1, 0, 1)
    assert elapsed < 2 + 5
    assert server.received == 0
    [row] = _rows(app)
    assert (row.id, row.status, row.attempts) == (message_id, OutboxStatus.PENDING, 1)
    assert "no answer" in row.last_error


def test_the_delivery_loop_survives_any_exception_and_logs_it_with_the_message_id(
    make_app, smtp_server, monkeypatch, caplog
):
    """A database error while recording an outcome: the pass stops, the log names the message,
    the loop goes on to its next pass, and the message is sent again after its lease."""
    app = make_app(**smtp_server.config())
    [message_id] = _enqueue(app, count=1)
    calls = {"sleep": 0}

    def database_gone(real):
        def mark(*args, **kwargs):
            if calls["sleep"] == 0:  # during the first pass
                raise RuntimeError("the database went away")
            return real(*args, **kwargs)
        return mark

    def sleep(seconds: float) -> None:
        calls["sleep"] += 1
        if calls["sleep"] == 3:
            raise StopLoop  # end the endless loop after three passes

    for name in ("_mark_sent", "_mark_failed_attempt"):
        monkeypatch.setattr(delivery, name, database_gone(getattr(delivery, name)))
    monkeypatch.setattr("portal.mail.cli.time.sleep", sleep)
    result = app.test_cli_runner().invoke(args=["mail", "deliver", "--interval", "0"])

    assert calls["sleep"] == 3  # three passes: the exception did not end the loop
    assert isinstance(result.exception, StopLoop)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"message {message_id}" in logged and "could not be recorded" in logged
    [row] = _rows(app)
    assert row.status == OutboxStatus.SENDING  # its claim runs out on its own

    report = _deliver(app, now=utcnow() + timedelta(minutes=1))
    assert (report.claimed, report.sent) == (1, 1)
    assert [r.status for r in _rows(app)] == [OutboxStatus.SENT]
    # At least once: the server got it twice, visibly the same message.
    assert [m["Message-ID"] for m in smtp_server.messages] == [smtp_server.messages[0]["Message-ID"]] * 2


# ----------------------------------------------------------------------------- 2. never gives up


def test_an_outage_past_the_back_off_ceiling_never_gives_up_and_each_message_is_sent_once(make_app, smtp_server):
    """Issue 13.2: SMTP down for 30 hours (time moved, not waited). Retries come 15 s, 30 s, …
    then every hour, never `failed`; when SMTP is back every message, the Q&A digest included,
    is sent exactly once."""
    app = make_app(**smtp_server.config())
    smtp_server.stop()
    ids = _enqueue(app, count=2)
    with app.app_context():
        digest = enqueue("secretariat-box@example.org", f"{SUBJECT} digest", "未回答の質問\n", kind="qa.digest",
                         dedupe_key="qa-digest:liveness")
        db.session.commit()
        ids.append(digest.id)

    now = utcnow()
    delays: list[timedelta] = []
    while now < utcnow() + timedelta(hours=30):
        report = _deliver(app, now=now)
        assert (report.claimed, report.sent, report.failed) == (3, 0, 3)
        rows = _rows(app)
        assert {r.status for r in rows} == {OutboxStatus.PENDING}
        delays.append(min(r.next_attempt_at for r in rows) - now)
        now = max(r.next_attempt_at for r in rows) + timedelta(seconds=1)

    assert delays[0] <= timedelta(seconds=30)  # the contract: the first retry within 30 s
    assert delays == sorted(delays)
    assert delays[-1] == timedelta(hours=1)  # the ceiling, kept
    assert len(delays) > 30
    assert all(r.attempts == len(delays) and "refused" in r.last_error.lower() for r in _rows(app))
    with app.app_context():
        waiting = waiting_too_long(now=now)
    assert waiting is not None and waiting.count == 3 and waiting.oldest_seconds >= 30 * 3600

    smtp_server.start()
    report = _deliver(app, now=now)
    assert (report.claimed, report.sent) == (3, 3)
    for later in (now, now + timedelta(hours=1), now + timedelta(days=2)):
        assert _deliver(app, now=later).claimed == 0
    assert _subjects(smtp_server.messages) == Counter({f"{SUBJECT} 01": 1, f"{SUBJECT} 02": 1, f"{SUBJECT} digest": 1})
    assert [(r.id, r.status) for r in _rows(app)] == [(i, OutboxStatus.SENT) for i in ids]


def test_retry_settings_from_the_environment_do_not_crash_delivery_during_an_outage(make_app, smtp_server):
    """Issue 13.3: `PORTAL_MAIL_RETRY_BASE_SECONDS=5` (and the old `PORTAL_MAIL_MAX_ATTEMPTS=3`)
    from the environment: `mail deliver --once` during an outage exits 0, leaves nothing in
    `sending`, retries after 5 s, and still never gives up."""
    app = make_app(**smtp_server.config())
    smtp_server.stop()
    _enqueue(app, count=2)
    env = {"PORTAL_MAIL_RETRY_BASE_SECONDS": "5", "PORTAL_MAIL_MAX_ATTEMPTS": "3",
           "PORTAL_MAIL_RETRY_MAX_SECONDS": "60", "PORTAL_MAIL_TIMEOUT_SECONDS": "5"}

    for attempt in range(1, 6):
        if attempt > 1:  # make the messages due again (time moved in the database)
            with app.app_context():
                db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
                db.session.commit()
        started = utcnow()
        code, output, _ = _run(_flask(app, "mail", "deliver", "--once", env=env), limit=60)
        assert code == 0, output
        assert "Traceback" not in output, output
        for row in _rows(app):
            assert (row.status, row.attempts) == (OutboxStatus.PENDING, attempt)
            expected = min(5 * 2 ** (attempt - 1), 60)
            assert started + timedelta(seconds=expected) <= row.next_attempt_at
            assert row.next_attempt_at <= utcnow() + timedelta(seconds=expected)


# ----------------------------------------------------------------------------- 4. claims


def test_a_second_worker_during_a_slow_batch_never_sends_a_message_twice(make_app):
    """Issue 13.4: 1 s per message, ten messages (longer than a claim's lease), two workers:
    they share the work and every message arrives once."""
    server = SlowSMTP(delay=1.0)
    server.start()
    try:
        app = make_app(**server.config(), MAIL_TIMEOUT_SECONDS=5.0)  # a lease of 7.5 s
        with app.app_context():
            assert delivery.lease() < timedelta(seconds=10)
        ids = _enqueue(app, count=10)
        sent: dict[str, int] = {"worker-a": 0, "worker-b": 0}
        errors: list[BaseException] = []

        def unsent() -> int:
            return db.session.scalar(select(func.count()).where(OutboxMessage.status != OutboxStatus.SENT)) or 0

        def work(name: str) -> None:  # as `mail deliver` does: pass after pass, until all is sent
            give_up = time.monotonic() + 60
            try:
                with app.app_context():
                    while unsent() and time.monotonic() < give_up:
                        report = deliver_batch(worker=name)
                        sent[name] += report.sent
                        if not report.claimed:
                            time.sleep(0.2)
            except BaseException as exc:
                errors.append(exc)

        first = threading.Thread(target=work, args=("worker-a",))
        first.start()
        time.sleep(1.5)  # worker A is in the middle of its batch
        second = threading.Thread(target=work, args=("worker-b",))
        second.start()
        for thread in (first, second):
            thread.join(60)
        assert not first.is_alive() and not second.is_alive()
    finally:
        server.stop()

    assert errors == []
    assert _subjects(server.messages) == Counter({f"{SUBJECT} {i:02d}": 1 for i in range(1, 11)})
    assert len({m["Message-ID"] for m in server.messages}) == 10
    assert sent["worker-a"] > 0 and sent["worker-b"] > 0  # a claim covers only what is being sent
    assert sent["worker-a"] + sent["worker-b"] == 10
    assert [(r.id, r.status, r.attempts) for r in _rows(app)] == [(i, OutboxStatus.SENT, 1) for i in ids]


def test_a_killed_worker_s_messages_are_sent_within_a_minute_each_once(make_app):
    """Issue 13.4: `kill -9` of a `mail deliver` worker in the middle of a slow batch. The rest
    of the batch is not held by its claim; the message it was sending is due again within a
    minute (time moved), and every message arrives once."""
    server = SlowSMTP(delay=0.5, hold_at=2)  # the third message is in flight when the worker dies
    server.start()
    try:
        app = make_app(**server.config())  # the default timeout: a lease of 45 s
        ids = _enqueue(app, count=6)
        worker = _flask(app, "mail", "deliver", "--interval", "0.5", start_new_session=True)
        try:
            assert server.held.wait(60), "the worker never reached the third message"
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate(timeout=30)
        server.release.set()
        killed_at = utcnow()

        rows = {r.id: r for r in _rows(app)}
        assert [rows[i].status for i in ids[:2]] == [OutboxStatus.SENT] * 2
        in_flight = rows[ids[2]]
        assert in_flight.status == OutboxStatus.SENDING

        # Right away, another worker sends the rest, but not the message whose lease still runs.
        report = _deliver(app, worker="rescuer")
        assert (report.claimed, report.sent) == (3, 3)
        assert _rows(app)[2].status == OutboxStatus.SENDING
        # Within a minute of the kill, it is due again.
        report = _deliver(app, worker="rescuer", now=killed_at + timedelta(minutes=1))
        assert (report.claimed, report.sent) == (1, 1)
    finally:
        server.stop()

    assert _subjects(server.messages) == Counter({f"{SUBJECT} {i:02d}": 1 for i in range(1, 7)})
    assert [(r.id, r.status) for r in _rows(app)] == [(i, OutboxStatus.SENT) for i in ids]


# ----------------------------------------------------------------------------- the secretariat is told


def test_healthz_and_the_back_office_say_when_mail_has_waited_too_long(app, client, create_user, auth):
    """Past MAIL_ALERT_AFTER_SECONDS (30 min): /healthz says `"mail": "retrying"` with the count
    and the oldest age, and the dashboard and the outbox carry a banner; fresh mail says nothing."""
    old_ids = _enqueue(app, count=2)
    _enqueue(app, count=1)  # fresh: not counted
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok", "mail": "ok"}
    assert auth.login(create_user(role="secretariat")).status_code == 302
    assert "mail-alert" not in client.get("/secretariat/").get_data(as_text=True)

    with app.app_context():
        for minutes, message_id in zip((40, 95), old_ids, strict=True):
            db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                               .values(created_at=utcnow() - timedelta(minutes=minutes), attempts=7,
                                       last_error="ConnectionRefusedError: [Errno 111] Connection refused"))
        db.session.commit()

    response = client.get("/healthz")
    assert response.status_code == 200
    health = response.get_json()
    assert {k: health[k] for k in ("status", "database", "mail", "mail_waiting")} == \
        {"status": "ok", "database": "ok", "mail": "retrying", "mail_waiting": 2}
    assert 95 * 60 <= health["mail_oldest_seconds"] < 97 * 60

    for page in ("/secretariat/", "/secretariat/outbox"):
        html = client.get(page).get_data(as_text=True)
        banner = re.search(r'<p class="[^"]*mail-alert[^"]*"[^>]*>(.*?)</p>', html, re.S)
        assert banner, page
        assert "2 件のメールが送信待ちのままです（最も長いもので 95 分）" in banner.group(1)
