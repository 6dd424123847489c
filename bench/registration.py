"""Registration benchmark: concurrent seminar registrations over HTTP through gunicorn.

    .venv/bin/python bench/registration.py [--accounts 300] [--capacity 100] [--concurrency 16]

N member accounts and one published seminar with registration open and ``--capacity`` places
are created in a database of the script's own (import_data and create_user in an app
context). Every account logs in through gunicorn (GET /login for the csrf_token, POST /login,
GET the seminar page for the form's token); then all of them POST
``/seminars/<id>/registration`` at once from ``--concurrency`` client threads. The script
prints the elapsed time, registrations per second, the registered and waiting counts from the
database, and whether registered == capacity (PASS/MISS). See bench/README.md.

It never asserts on timings and exits 0 once it has printed its figures (non-zero only when
the setup itself fails).
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import re
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from pages import (
    ROOT,
    SECRET_KEY,
    Databases,
    Gunicorn,
    add_database_options,
    app_env,
    flask,
    in_scratch,
    worker_kind,
)

PASSWORD = "bench-password-2026"  # every bench account has it; local throwaway data only
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# ----------------------------------------------------------------------------- databases


# ----------------------------------------------------------------------------- gunicorn


# ----------------------------------------------------------------------------- HTTP client


class Browser:
    """One account's session: its cookies, its csrf_token, a connection to 127.0.0.1."""

    def __init__(self, port: int, email: str):
        self.port = port
        self.email = email
        self.cookies: dict[str, str] = {}
        self.token: str | None = None

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Status, Location header and body; redirects are not followed."""
        headers = {}
        body = None
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                pair, _, attributes = header.partition(";")
                name, _, value = pair.strip().partition("=")
                if not value or "max-age=0" in attributes.lower().replace(" ", ""):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
            return response.status, response.headers.get("Location", ""), text
        finally:
            conn.close()

    def read_token(self, body: str) -> None:
        match = CSRF_RE.search(body)
        self.token = match.group(1) if match else None

    def log_in(self, seminar_id: int) -> str | None:
        """Log in as a person would, and open the seminar page; the problem, or None."""
        status, _, body = self.request("GET", "/login")
        self.read_token(body)
        if status != 200 or not self.token:
            return f"GET /login answered {status}{'' if self.token else ' without a csrf_token'}"
        status, _, body = self.request(
            "POST", "/login", {"csrf_token": self.token, "email": self.email, "password": PASSWORD})
        if status != 302:
            return f"POST /login answered {status}"
        status, _, body = self.request("GET", f"/seminars/{seminar_id}")
        self.read_token(body)
        if status != 200 or not self.token:
            return f"GET /seminars/{seminar_id} answered {status}{'' if self.token else ' without a csrf_token'}"
        if f"/seminars/{seminar_id}/registration" not in body:
            return "the seminar page shows no registration form"
        return None

    def register(self, seminar_id: int) -> tuple[int, str]:
        status, location, _ = self.request(
            "POST", f"/seminars/{seminar_id}/registration", {"csrf_token": self.token or ""})
        return status, location


# ----------------------------------------------------------------------------- setup


def set_up(database_url: str, scratch: Path, accounts: int, capacity: int, tag: str) -> tuple[int, list[str]]:
    """A published seminar with registration open and ``accounts`` active member accounts."""
    import werkzeug.security

    from portal import create_app
    from portal.accounts import operations as account_services
    from portal.accounts.models import Membership, OrganizationKind, Role
    from portal.core.dates import today_local
    from portal.core.db import db
    from portal.imports.operations import import_data

    app = create_app({
        "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
        "MAIL_FILE_DIR": str(scratch / "mail"), "UPLOAD_DIR": str(scratch / "uploads"),
    })
    key = f"bench-registration-{tag}"
    day = today_local() + timedelta(days=30)
    emails = [f"bench-{tag}-{i:04d}@example.org" for i in range(1, accounts + 1)]
    # scrypt takes ~0.15 s a hash here: hash the one shared password once and give every
    # account that hash (log-in still checks it in full, through gunicorn).
    shared_hash = werkzeug.security.generate_password_hash(PASSWORD)
    original = account_services.generate_password_hash
    account_services.generate_password_hash = lambda password, *a, **k: (
        shared_hash if password == PASSWORD else original(password, *a, **k))
    try:
        with app.app_context():
            import_data({"seminars": [{
                "key": key, "number": 1, "title": "【ベンチマーク】同時申込の検証",
                "date": day.isoformat(), "start": "15:30", "end": "17:00",
                "status": "published", "capacity": capacity, "registration": "open", "qa": "open",
                "join_url": "https://example.org/webinar/bench",
            }]})
            org = account_services.find_or_create_organization(
                "ベンチマーク市", OrganizationKind.MUNICIPALITY, Membership.MEMBER)
            for i, email in enumerate(emails, start=1):
                account_services.create_user(email=email, name=f"ベンチ 利用者{i}", password=PASSWORD,
                                             role=Role.MEMBER, organization=org)
            db.session.commit()
            from sqlalchemy import select

            from portal.seminars.models import Seminar

            seminar_id = db.session.scalar(select(Seminar.id).where(Seminar.key == key))
            db.engine.dispose()
    finally:
        account_services.generate_password_hash = original
    return seminar_id, emails


def count_registrations(database_url: str, scratch: Path, seminar_id: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from portal import create_app
    from portal.core.db import db
    from portal.seminars.models import Registration

    app = create_app({
        "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
        "MAIL_FILE_DIR": str(scratch / "mail"), "UPLOAD_DIR": str(scratch / "uploads"),
    })
    with app.app_context():
        rows = db.session.execute(
            select(Registration.state, func.count())
            .where(Registration.seminar_id == seminar_id)
            .group_by(Registration.state)
        ).all()
        db.session.remove()
        db.engine.dispose()
    return {state.value: count for state, count in rows}


# ----------------------------------------------------------------------------- main


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=300, help="accounts that register (default 300)")
    parser.add_argument("--capacity", type=int, default=100, help="places of the seminar (default 100)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent client threads (default 16)")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn workers (default 2; sync, or PORTAL_THREADS threads each)")
    add_database_options(parser, "database to run in (migrated; a seminar and accounts with a random tag are "
                                 "added and kept)")
    args = parser.parse_args()
    if not 1 <= args.accounts <= 5000 or not 1 <= args.capacity <= 100_000:
        parser.error("--accounts 1..5000, --capacity 1..100000")
    if not 1 <= args.concurrency <= 256 or not 1 <= args.workers <= 32:
        parser.error("--concurrency 1..256, --workers 1..32")

    return in_scratch(args, "registration", run)


def run(args: argparse.Namespace, scratch: Path, databases: Databases, started: float) -> int:
    url = args.database_url or databases.create("db")
    kind = "given by --database-url" if args.database_url else f"private {databases.kind}"
    env = app_env(url, scratch)
    # Every account logs in from 127.0.0.1 here, where people log in from their own addresses:
    # the per-address log-in limit (20 a minute) would stop the bench at 40 accounts. The
    # limiter stays on, with a limit this load cannot reach, so its cost is still measured.
    env["PORTAL_RATELIMIT_LOGIN"] = "100000 per minute"
    flask(["db", "upgrade"], env)
    tag = uuid.uuid4().hex[:8]
    t0 = time.monotonic()
    seminar_id, emails = set_up(url, scratch, args.accounts, args.capacity, tag)
    print(f"database: {kind}; schema by `flask db upgrade`; seminar {seminar_id} (published, registration open, "
          f"{args.capacity} places) and {len(emails)} member accounts created in {time.monotonic() - t0:.1f} s")
    print(f"gunicorn: {args.workers} workers ({' '.join(worker_kind())}), --no-control-socket, 127.0.0.1; "
          f"clients: {args.concurrency} threads, HTTP, one session per account; load average {load_average()}")

    browsers: list[Browser] = []
    with Gunicorn("wsgi:app", ROOT, env, args.workers, scratch / "gunicorn.log", "/login") as server:
        browsers = [Browser(server.port, email) for email in emails]

        # 1. Every account logs in and opens the seminar page (not timed as registration).
        t0 = time.monotonic()
        pool = ThreadPoolExecutor(max_workers=args.concurrency)
        try:
            problems = list(pool.map(lambda b: b.log_in(seminar_id), browsers))
        finally:  # on an interruption, drop the log-ins not yet started
            pool.shutdown(wait=False, cancel_futures=True)
        login_seconds = time.monotonic() - t0
        failed = [(b.email, p) for b, p in zip(browsers, problems, strict=True) if p]
        print(f"log-in: {len(browsers) - len(failed)}/{len(browsers)} accounts logged in and on the seminar page "
              f"in {login_seconds:.1f} s ({len(browsers) / login_seconds:.1f} log-ins/s; scrypt check per log-in)")
        for email, problem in failed[:5]:
            print(f"  {email}: {problem}")
        ready = [b for b, p in zip(browsers, problems, strict=True) if not p]
        if failed:
            print("  gunicorn log tail:\n" + server.log_tail())

        # 2. All of them register at once; the clock runs from the start signal to the last answer.
        work: queue.Queue[Browser] = queue.Queue()
        for b in ready:
            work.put(b)
        results: list[tuple[int, str, float]] = []
        lock = threading.Lock()
        start = threading.Barrier(args.concurrency + 1)

        def client() -> None:
            mine = []
            start.wait(timeout=60)
            for _ in range(len(ready)):
                try:
                    browser = work.get_nowait()
                except queue.Empty:
                    break
                began = time.perf_counter()
                try:
                    status, location = browser.register(seminar_id)
                except (OSError, http.client.HTTPException) as exc:
                    status, location = 0, type(exc).__name__
                mine.append((status, location, time.perf_counter() - began))
            with lock:
                results.extend(mine)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        start.wait(timeout=60)
        t0 = time.perf_counter()
        for t in threads:
            t.join(timeout=300)
        elapsed = time.perf_counter() - t0
        log_tail = server.log_tail()

    counts = count_registrations(url, scratch, seminar_id)
    registered, waiting = counts.get("registered", 0), counts.get("waiting", 0)
    redirected = [r for r in results if r[0] == 302 and urlsplit(r[1]).path == f"/seminars/{seminar_id}"]
    statuses: dict[str, int] = {}
    for status, _, _ in results:
        statuses[str(status or "connection error")] = statuses.get(str(status or "connection error"), 0) + 1
    latencies = sorted(r[2] for r in results)

    print()
    print(f"registration: {len(results)} POST /seminars/{seminar_id}/registration from {args.concurrency} clients "
          f"at once")
    print(f"  elapsed                 {elapsed:8.2f} s")
    print(f"  registrations/s         {len(redirected) / elapsed if elapsed else 0:8.1f}   "
          f"(answered requests that redirected back to the seminar, per second)")
    if latencies:
        print(f"  latency                 p50 {statistics.median(latencies) * 1000:.0f} ms   "
              f"p95 {latencies[int(0.95 * (len(latencies) - 1))] * 1000:.0f} ms   max {latencies[-1] * 1000:.0f} ms")
    print(f"  answers                 {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}")
    print(f"  places                  {args.capacity}")
    print(f"  registered              {registered}")
    print(f"  waiting                 {waiting}")
    others = {k: v for k, v in counts.items() if k not in ("registered", "waiting")}
    if others:
        print(f"  other states            {others}")
    expected_registered = min(args.capacity, len(ready))
    print(f"  registered == capacity  {registered} == {expected_registered}   "
          f"{verdict(registered == expected_registered)}"
          + ("" if len(ready) >= args.capacity else f"   (only {len(ready)} accounts logged in, below capacity)"))
    print(f"  every account answered  {registered + waiting} == {len(ready)}   "
          f"{verdict(registered + waiting == len(ready))}")
    if len(redirected) != len(results):
        print("  gunicorn log tail:\n" + log_tail)
    print()
    print(f"done in {time.monotonic() - started:.0f} s; load average {load_average()} "
          "(other processes on the machine make the timings noisy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
