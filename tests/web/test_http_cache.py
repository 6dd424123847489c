"""Caching by HTTP's rules through the real nginx (deploy/nginx.conf with its proxy_cache) in
front of gunicorn: a visitor's copy is kept briefly and revalidated with a 304, a change shows
up within the allowed seconds (also one made behind the ORM's back), and a logged-in member's
page is never stored nor served to anyone else (issue 14)."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest
from conftest import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
NGINX = "/usr/sbin/nginx"
GUNICORN = Path(sys.executable).with_name("gunicorn")
FLASK = Path(sys.executable).with_name("flask")
S_MAXAGE = 5  # what portal.web.conditional.SHARED lets a shared cache keep
ALLOWED = S_MAXAGE + 2  # …plus one revalidation, with room for a busy machine


@dataclass
class CacheStack:
    address: tuple[str, int]
    database: Path
    cache_dir: Path
    app_log: Path


def _wait(address: tuple[str, int], process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args[0]} exited with {process.returncode}"
        try:
            socket.create_connection(address, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answers on {address}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)


@pytest.fixture(scope="module")
def cache_stack() -> Iterator[CacheStack]:
    if not os.path.exists(NGINX):
        pytest.skip(f"needs Debian's nginx at {NGINX} (apt-get install nginx-light)")
    work = Path(tempfile.mkdtemp(prefix="portal-cache-"))
    run_dir = work / "nginx"
    run_dir.mkdir()
    os.chmod(work, 0o755)
    os.chmod(run_dir, 0o777)  # nginx started as root runs its workers as nobody
    database = work / "portal.sqlite"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PORTAL_") and k != "DATABASE_URL"},
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "cache-test-secret",
        "PORTAL_PROXY_HOPS": "1",
        "PORTAL_MAIL_FILE_DIR": str(work / "mail"),
        "PORTAL_UPLOAD_DIR": str(work / "uploads"),
    }
    for command in (["db", "upgrade"], ["portal", "demo"]):
        subprocess.run([str(FLASK), "--app", "wsgi", *command], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)
    app_address = ("127.0.0.1", free_port())
    app_log = work / "gunicorn.log"
    logs = [open(app_log, "wb"), open(work / "nginx.stderr", "wb")]
    gunicorn = subprocess.Popen(
        [str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "--workers", "2", "--bind",
         f"{app_address[0]}:{app_address[1]}", "wsgi:app"], cwd=ROOT, env=env, stdout=logs[0], stderr=subprocess.STDOUT)
    nginx = None
    try:
        _wait(app_address, gunicorn)
        address = ("127.0.0.1", free_port())
        config = run_dir / "nginx.conf"
        config.write_text(Template((ROOT / "deploy" / "nginx.conf").read_text()).safe_substitute(
            LISTEN=f"{address[0]}:{address[1]}", UPSTREAM=f"{app_address[0]}:{app_address[1]}",
            STATIC_DIR=str(ROOT / "static"), RUN_DIR=str(run_dir)))
        nginx = subprocess.Popen([NGINX, "-c", str(config), "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                 stderr=logs[1])
        _wait(address, nginx)
        yield CacheStack(address, database, run_dir / "cache", app_log)
    finally:
        if nginx is not None:
            _stop(nginx)
        _stop(gunicorn)
        for log in logs:
            log.close()
        shutil.rmtree(work, ignore_errors=True)


def get(stack: CacheStack, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    conn = http.client.HTTPConnection(*stack.address, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def seminar_id(stack: CacheStack, key: str) -> int:
    with sqlite3.connect(stack.database) as db:
        return db.execute("SELECT id FROM seminars WHERE key = ?", (key,)).fetchone()[0]


def app_answers(stack: CacheStack, path: str) -> list[int]:
    """Statuses gunicorn logged for ``path`` (what reached the app, not what nginx answered)."""
    time.sleep(0.5)  # the access log is written after the answer
    pattern = re.compile(r'"GET ' + re.escape(path) + r' HTTP/1\.[01]" (\d{3}) ')
    return [int(m.group(1)) for m in pattern.finditer(stack.app_log.read_text(errors="replace"))]


def readable(body: str) -> str:
    """The text of a page, a JSON answer (escaped non-ASCII) or a feed (folded lines)."""
    if body.startswith("{"):
        return json.dumps(json.loads(body), ensure_ascii=False)
    return body.replace("\r\n ", "")


def log_in(stack: CacheStack, email: str, password: str) -> str:
    conn = http.client.HTTPConnection(*stack.address, timeout=30)
    try:
        conn.request("GET", "/login")
        response = conn.getresponse()
        page = response.read().decode()
        cookie = response.getheader("Set-Cookie").split(";", 1)[0]
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        body = f"email={email.replace('@', '%40')}&password={password}&csrf_token={token}"
        conn.request("POST", "/login", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        done = conn.getresponse()
        done.read()
        assert done.status == 302, done.status
        return done.getheader("Set-Cookie").split(";", 1)[0]
    finally:
        conn.close()


def test_a_visitor_gets_a_kept_copy_revalidated_with_a_304(cache_stack):
    path = f"/seminars/{seminar_id(cache_stack, 'fy2021-1')}"
    status, page, headers = get(cache_stack, path)
    assert status == 200
    assert headers["cache-control"] == f"public, max-age=0, s-maxage={S_MAXAGE}"
    etag = headers["etag"]
    assert headers["x-cache-status"] in ("MISS", "EXPIRED")
    reached = len(app_answers(cache_stack, path))

    # Within s-maxage: nginx answers alone, the body and, to a browser's revalidation, a 304.
    status, again, headers = get(cache_stack, path)
    assert (status, headers["x-cache-status"], again) == (200, "HIT", page)
    status, _, headers = get(cache_stack, path, {"If-None-Match": etag})
    assert status == 304 and headers["etag"] == etag
    assert len(app_answers(cache_stack, path)) == reached, "a kept copy went to the app"

    # Past it: nginx asks the app with the ETag, the app says 304 (no page built), nginx serves its copy.
    time.sleep(S_MAXAGE + 0.5)
    status, again, headers = get(cache_stack, path)
    assert (status, headers["x-cache-status"], again) == (200, "REVALIDATED", page)
    assert app_answers(cache_stack, path)[reached:] == [304]


@pytest.mark.parametrize("path", ["/seminars?fy=2021", "/api/v1/seminars", "/calendar.ics", "/"])
def test_every_public_answer_is_kept_and_revalidated(cache_stack, path):
    status, _, headers = get(cache_stack, path)
    assert status == 200 and headers["etag"]
    assert headers["cache-control"] == f"public, max-age=0, s-maxage={S_MAXAGE}"
    assert get(cache_stack, path)[2]["x-cache-status"] == "HIT"
    assert get(cache_stack, path, {"If-None-Match": headers["etag"]})[0] == 304


def test_a_change_shows_up_within_the_allowed_seconds_even_behind_the_orms_back(cache_stack):
    sid = seminar_id(cache_stack, "fy2021-2")
    paths = (f"/seminars/{sid}", "/seminars?fy=2021", "/api/v1/seminars", "/calendar.ics")
    for path in paths:
        get(cache_stack, path)
        assert get(cache_stack, path)[2]["x-cache-status"] == "HIT"
    title = "キャッシュ越しに見える新しいタイトル"
    # Written as any other program would (psql, a script): no session hook of the portal runs.
    with sqlite3.connect(cache_stack.database) as db:
        db.execute("UPDATE seminars SET title = ? WHERE id = ?", (title, sid))
    changed = time.monotonic()
    pending = set(paths)
    while pending and time.monotonic() - changed < ALLOWED:
        for path in list(pending):
            if title in readable(get(cache_stack, path)[1]):
                pending.discard(path)
        time.sleep(0.25)
    assert not pending, f"still the old content {ALLOWED} s after the change: {sorted(pending)}"


def test_a_members_page_is_never_stored_nor_shown_to_a_visitor(cache_stack):
    sid = seminar_id(cache_stack, "demo-upcoming")
    path = f"/seminars/{sid}"
    cookie = log_in(cache_stack, "member@example.org", "demo-member-2021")
    for _ in range(2):
        status, page, headers = get(cache_stack, path, {"Cookie": cookie})
        assert status == 200 and "山田 花子" in page  # the member's own page
        assert headers["cache-control"] == "private, no-store"
        assert headers["x-cache-status"] == "BYPASS"
    # A visitor right after: never the member's page, and not from a copy the member's request left.
    status, page, headers = get(cache_stack, path)
    assert status == 200 and "山田 花子" not in page
    assert headers["x-cache-status"] in ("MISS", "EXPIRED")
    # Nothing nginx keeps holds the member's name.
    name = "山田 花子".encode()
    kept = [p for p in cache_stack.cache_dir.rglob("*") if p.is_file() and name in p.read_bytes()]
    assert kept == []


def test_a_member_never_gets_a_visitors_copy(cache_stack):
    sid = seminar_id(cache_stack, "demo-upcoming")
    path = f"/seminars/{sid}"
    get(cache_stack, path)
    assert get(cache_stack, path)[2]["x-cache-status"] == "HIT"  # a visitor's copy is kept
    cookie = log_in(cache_stack, "member@example.org", "demo-member-2021")
    _, page, headers = get(cache_stack, path, {"Cookie": cookie})
    assert headers["x-cache-status"] == "BYPASS" and "山田 花子" in page


def test_a_personal_feed_is_kept_by_its_client_only(cache_stack):
    with sqlite3.connect(cache_stack.database) as db:
        token = db.execute("SELECT calendar_token FROM users WHERE email = 'member@example.org'").fetchone()[0]
    path = f"/calendar/{token}.ics"
    status, _, headers = get(cache_stack, path)
    assert status == 200 and headers["cache-control"] == "private, no-cache"
    assert get(cache_stack, path)[2]["x-cache-status"] == "MISS"  # never kept by nginx
    assert get(cache_stack, path, {"If-None-Match": headers["etag"]})[0] == 304  # the calendar app's poll
