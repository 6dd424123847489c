"""The production stack (DESIGN.md "Production stack"), started by the very command the README
documents (deploy/stack start, stopped by PID): Debian's nginx with deploy/nginx.conf in front of
gunicorn with deploy/gunicorn.conf.py and 3 sync workers, the mail worker, Redis (its own
redis-server here, as when nothing answers at RATELIMIT_STORAGE_URI), on PostgreSQL when
TEST_DATABASE_URL is set (SQLite otherwise). Through nginx: a page, a feed's 304, a log-in, a
registration and its mail, the address nginx saw in the audit log (a forged X-Forwarded-For is
not believed); slow clients and short bodies are nginx's to wait for, never a worker's."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import TEST_DATABASE_URL, free_port
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from deploy import stack as stack_command

ROOT = Path(__file__).resolve().parent.parent
NGINX = "/usr/sbin/nginx"
QUICK = 2.0  # a normal page while others trickle: the issue measured 32 s
FORGED = "203.0.113.9"  # what a client claims to be in X-Forwarded-For


@dataclass
class Stack:
    nginx: tuple[str, int]
    gunicorn: tuple[str, int]
    db: Engine
    mail_dir: Path
    pids: dict[str, int]


def processes_in_group(pgid: int) -> list[str]:
    return [stack_command.command_line(pid) for pid in stack_command.group_members(pgid)]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not os.path.exists(NGINX):
        pytest.skip(f"the production stack test needs Debian's nginx at {NGINX} (apt-get install nginx-light)")
    if not shutil.which("redis-server"):
        pytest.skip("the production stack test needs Debian's redis-server (apt-get install redis-server)")
    work = Path(tempfile.mkdtemp(prefix="portal-stack-"))
    os.chmod(work, 0o755)  # nginx's workers (nobody) reach RUN_DIR through it
    admin = database = None
    if TEST_DATABASE_URL:  # a database of this module's own, created by `deploy/stack start`
        server = make_url(TEST_DATABASE_URL)
        database = f"portal_stack_{uuid.uuid4().hex[:10]}"
        url = server.set(database=database).render_as_string(hide_password=False)
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
    else:
        url = f"sqlite:///{work / 'portal.sqlite'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "STACK_")) and k != "DATABASE_URL"},
        "DATABASE_URL": url,
        "SECRET_KEY": "stack-test-secret",
        "STACK_DEMO": "1",
        "STACK_PYTHON": sys.executable,
        # Nothing answers there, so the command starts a redis-server of its own (and stops it).
        "PORTAL_RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{free_port()}",
        "PORTAL_MAIL_FILE_DIR": str(work / "mail"),
        "PORTAL_UPLOAD_DIR": str(work / "uploads"),
        "PORTAL_MAIL_RETRY_BASE_SECONDS": "1",
    }
    run_dir = work / "run"
    # The command itself, as `make stack-start` runs it: it must return with everything running.
    started = subprocess.run([str(ROOT / "deploy" / "stack"), "start", "--run-dir", str(run_dir)], env=env,
                             capture_output=True, text=True, timeout=300)
    engine = None
    pids: dict[str, int] = {}
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        pids = {name: pid for name, (pid, running) in stack_command.status(run_dir).items() if running}
        assert set(pids) == {"redis", "gunicorn", "mail", "nginx"}, stack_command.status(run_dir)
        info = stack_command.Stack(**json.loads((run_dir / "stack.json").read_text()))
        host, port = info.upstream.rsplit(":", 1)
        engine = create_engine(url)
        yield Stack(info.address, (host, int(port)), engine, work / "mail", pids)
    finally:
        if engine is not None:
            engine.dispose()
        stopped = subprocess.run([str(ROOT / "deploy" / "stack"), "stop", "--run-dir", str(run_dir)], env=env,
                                 capture_output=True, text=True, timeout=120)
        left = {name: processes_in_group(pid) for name, pid in pids.items() if processes_in_group(pid)}
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(work, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not left, f"still running after `deploy/stack stop`: {left}"


def address(pair: tuple[str, int]) -> str:
    return f"{pair[0]}:{pair[1]}"


def get(address: tuple[str, int], path: str, headers: dict[str, str] | None = None,
        source: str | None = None) -> tuple[int, str, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection(*address, timeout=40, source_address=(source, 0) if source else None)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode(), response
    finally:
        conn.close()


def timed_get(address: tuple[str, int], path: str) -> tuple[int, float]:
    started = time.monotonic()
    status, _, _ = get(address, path)
    return status, time.monotonic() - started


class Tricklers:
    """Clients that open a request and send one header line every ``every`` seconds."""

    def __init__(self, address: tuple[str, int], count: int, every: float = 2.0) -> None:
        self.sockets = [socket.create_connection(address, timeout=5) for _ in range(count)]
        self.every = every
        self.stopped = threading.Event()
        for s in self.sockets:
            s.sendall(b"GET /seminars HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        n = 0
        while not self.stopped.wait(self.every):
            n += 1
            for s in self.sockets:
                try:
                    s.sendall(b"X-Slow-%d: still typing\r\n" % n)
                except OSError:
                    pass

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        for s in self.sockets:
            s.close()


def short_bodies(address: tuple[str, int], count: int) -> list[socket.socket]:
    """POSTs that promise 1000 bytes, send 10 and then nothing."""
    sockets = []
    for _ in range(count):
        s = socket.create_connection(address, timeout=5)
        s.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 1000\r\n\r\nemail=a%40b")
        sockets.append(s)
    return sockets


@pytest.mark.parametrize("count", [3, 10])  # as many as the workers, and more
def test_slow_clients_do_not_delay_a_normal_page(stack, count):
    slow = Tricklers(stack.nginx, count)
    try:
        for _ in range(3):  # while they trickle (about 6 s: three of their lines)
            time.sleep(1.5)
            status, elapsed = timed_get(stack.nginx, "/seminars")
            assert status == 200
            assert elapsed < QUICK, f"GET /seminars took {elapsed:.1f} s behind {count} slow clients"
    finally:
        slow.close()


def test_a_body_shorter_than_its_length_holds_no_worker(stack):
    stalled = short_bodies(stack.nginx, 6)  # twice the workers (deploy/stack starts 3)
    try:
        time.sleep(1)
        for _ in range(2):
            status, elapsed = timed_get(stack.nginx, "/seminars")
            assert status == 200
            assert elapsed < QUICK, f"GET /seminars took {elapsed:.1f} s behind stalled bodies"
    finally:
        for s in stalled:
            s.close()


def test_static_files_come_from_nginx(stack):
    status, body, response = get(stack.nginx, "/static/portal.css")
    assert status == 200
    assert body == (ROOT / "static" / "portal.css").read_text()
    assert response.getheader("Expires")  # nginx's, not Flask's


class Visitor:
    """A browser from one client address: cookies kept, forms posted with their CSRF token, and a
    forged ``X-Forwarded-For`` (plus host and scheme) on every request, as an attacker would send."""

    def __init__(self, address: tuple[str, int], source: str) -> None:
        self.address, self.source = address, source
        self.cookies: dict[str, str] = {}
        self.token = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str, http.client.HTTPResponse]:
        conn = http.client.HTTPConnection(*self.address, timeout=40, source_address=(self.source, 0))
        sent = {"X-Forwarded-For": FORGED, "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
                **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = "&".join(f"{k}={quote(v)}" for k, v in {**form, "csrf_token": self.token}.items())
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            page = response.read().decode()
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        if match := re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page):
            self.token = match.group(1)
        return response.status, page, response

    def log_in(self, email: str, password: str) -> int:
        self.request("GET", "/login")
        status, _, _ = self.request("POST", "/login", {"email": email, "password": password})
        return status


def audited_addresses(stack: Stack, action: str, subject: str) -> list[str]:
    with stack.db.connect() as conn:
        return list(conn.scalars(text("SELECT ip FROM audit_events WHERE action = :a AND subject = :s"),
                                 {"a": action, "s": subject}))


def test_the_recorded_client_address_is_the_one_nginx_saw(stack):
    # A city hall at 127.0.0.2 fails to log in and forges X-Forwarded-For on the way.
    email = "nobody-stack@example.org"
    assert Visitor(stack.nginx, "127.0.0.2").log_in(email, "wrong-password") == 422
    assert audited_addresses(stack, "login.failure", email) == ["127.0.0.2"]


def test_a_visitor_reads_pages_and_feeds_through_nginx(stack):
    visitor = Visitor(stack.nginx, "127.0.0.4")
    status, page, _ = visitor.request("GET", "/seminars")
    assert status == 200
    assert "データ連携基盤（都市OS）の導入・運用" in page  # the demo's upcoming seminar, listed

    status, feed, first = visitor.request("GET", "/calendar.ics")
    assert status == 200 and "BEGIN:VCALENDAR" in feed
    etag = first.getheader("ETag")
    assert etag
    status, body, again = visitor.request("GET", "/calendar.ics", headers={"If-None-Match": etag})
    assert status == 304, status
    assert body == "" and again.getheader("ETag") == etag


def test_a_member_logs_in_registers_and_is_mailed_through_the_stack(stack):
    member = Visitor(stack.nginx, "127.0.0.3")
    assert member.log_in("member@example.org", "demo-member-2021") == 302
    # The address nginx saw, not the one the client claimed beyond it.
    assert audited_addresses(stack, "login.success", "member@example.org") == ["127.0.0.3"]

    status, listing, _ = member.request("GET", "/api/v1/seminars")
    assert status == 200
    seminar_id = next(s["id"] for s in json.loads(listing)["seminars"] if s["key"] == "demo-upcoming")
    status, _, _ = member.request("GET", f"/seminars/{seminar_id}")
    assert status == 200
    status, _, response = member.request("POST", f"/seminars/{seminar_id}/registration", {})
    assert status == 302, status
    assert response.getheader("Location").endswith(f"/seminars/{seminar_id}")
    with stack.db.connect() as conn:
        states = list(conn.scalars(text(
            "SELECT r.state FROM registrations r JOIN users u ON u.id = r.user_id "
            "WHERE u.email = 'member@example.org' AND r.seminar_id = :s"), {"s": seminar_id}))
    assert [state.lower() for state in states] == ["registered"]

    # The mail worker of the stack sends the confirmation (requests never send mail).
    deadline = time.monotonic() + 30
    sent: list[str] = []
    while time.monotonic() < deadline and not sent:
        with stack.db.connect() as conn:
            rows = conn.execute(text("SELECT status, recipients, delivered_to FROM outbox_messages "
                                     "WHERE kind LIKE 'registration%'")).all()
        sent = [str(path) for status, recipients, path in rows
                if str(status).lower() == "sent" and "member@example.org" in str(recipients)]
        time.sleep(0.5)
    assert sent, f"the stack's mail worker sent no registration mail within 30 s: {rows}"
    assert all(Path(path).parent == stack.mail_dir and Path(path).exists() for path in sent), sent


def test_the_systemd_units_verify(tmp_path):
    """deploy/systemd as systemd reads them: every key known, every command there (paths pointed
    at this checkout, the service account at root, which exists here)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    units = sorted((ROOT / "deploy" / "systemd").glob("portal*.[stn]*"))
    assert {u.name for u in units} >= {"portal-web.service", "portal-mail.service", "portal-reminders.service",
                                       "portal-reminders.timer", "portal-nginx.service", "portal.target"}
    (tmp_path / "portal.env").write_text((ROOT / "deploy" / "systemd" / "portal.env.example").read_text())
    for unit in units:
        if unit.suffix in (".service", ".timer", ".target"):
            text_ = unit.read_text().replace("/srv/portal", str(ROOT))
            text_ = text_.replace("/etc/portal/portal.env", str(tmp_path / "portal.env"))
            text_ = re.sub(r"^(User|Group)=portal$", r"\1=root", text_, flags=re.M)
            (tmp_path / unit.name).write_text(text_)
    venv_python = Path(sys.executable)
    if not (ROOT / ".venv" / "bin" / "gunicorn").exists():  # the units name the checkout's .venv
        pytest.skip(f"no .venv in {ROOT} (the units' commands live there); tests run with {venv_python}")
    checked = subprocess.run([analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.glob("portal*.[stn]*")
                                                                     if p.suffix != ".example")],
                             capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="nginx drops to nobody only when started by root")
def test_a_run_dir_nginx_workers_cannot_reach_is_refused_at_once(tmp_path):
    """Under a folder closed to others (mkdtemp's 0700), nginx's workers failed every request
    with "Permission denied" on the cache and the start waited 60 s for /healthz."""
    closed = Path(tempfile.mkdtemp(prefix="portal-closed-"))
    try:
        began = time.monotonic()
        with pytest.raises(stack_command.StackError, match="cannot reach"):
            stack_command.start(closed / "run", {"PATH": os.environ.get("PATH", "")})
        assert time.monotonic() - began < 5
        assert not any((closed / "run" / "pids").glob("*.pid"))
    finally:
        shutil.rmtree(closed, ignore_errors=True)
