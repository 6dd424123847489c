"""Seminar day: a scripted live seminar through the production stack, in one run.

    .venv/bin/python bench/seminar_day.py [--accounts 1000] [--live-minutes 10] [--sqlite]
    .venv/bin/python bench/seminar_day.py --accounts 100 --login-minutes 0.5 --register-minutes 0.25 \\
        --live-minutes 1            # a short run (about 3 minutes)

The stack is the one ``deploy/stack`` starts (nginx with deploy/nginx.conf → gunicorn with
deploy/gunicorn.conf.py, PORTAL_PROXY_HOPS=1, the mail worker, Redis) on a private PostgreSQL
database, with a one-route Flask app behind the same nginx. Every client connects from one of
127.0.0.2–127.0.0.6 (five city halls' gateways), so nginx forwards five addresses and the
rate limits stay on as in production. In order:

1. log-in: ``--accounts`` member accounts log in (GET /login, POST /login) spread over
   ``--login-minutes`` (default 5);
2. registration: 60 % of them register (GET the seminar page, POST the registration) within
   ``--register-minutes`` (default 1) for 50 % as many seats (600 for 500 with 1,000 accounts);
3. live, ``--live-minutes`` (default 10): every registered attendee and the moderator poll the
   question list every ``--poll-seconds`` (5; conditional: If-None-Match when an ETag came),
   attendees ask ``--question-rate`` questions/s (2) and cast ``--vote-rate`` votes/s (20; never on
   their own question), the moderator marks the most-voted open question answered every
   ``--moderate-seconds`` (15), visitors without a cookie read the schedule, the program and
   /calendar.ics at ``--visitor-rate`` requests/s (100);
4. Q&A closes (two moderators click at once) and the digest goes to the mailbox;
5. the one-route app and the poll, each loaded alone by 8 clients through the same nginx.

It prints per request class the rate achieved, p50/p95/p99 latency, errors and 429s; the time
from a vote's answer until its count is in every poller's list; the seats (registered/waiting);
the digest (exactly once, sent); the resident memory of the workers; the one-route comparison.
Targets are printed as PASS/MISS; the script never asserts and exits 0 once it has printed its
figures (non-zero only when the setup fails). Every request loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import http.client
import json
import os
import random
import re
import socket
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pages import (
    HELLO_APP,
    SECRET_KEY,
    BehindNginx,
    Databases,
    Gunicorn,
    add_database_options,
    app_env,
    flask,
    in_scratch,
    load_average,
    rss_mb,
    verdict,
    worker_kind,
)

# The attendees' list as the page refreshes it. qa14 may change its URL or format (JSON): keep
# it here; parse_poll() reads the HTML fragment and any JSON with question ids and vote counts.
POLL_PATH = "/seminars/{seminar_id}/questions?fragment=1"
VOTE_PATH = "/questions/{question_id}/vote"
ASK_PATH = "/seminars/{seminar_id}/questions"
ANSWERED_PATH = "/secretariat/questions/{question_id}/answered"
CLOSE_PATH = "/secretariat/seminars/{seminar_id}/qa/close"
SOURCES = [f"127.0.0.{n}" for n in range(2, 7)]  # five client addresses, forwarded by nginx
PASSWORD = "bench-seminar-day-2026"  # every bench account has it; local throwaway data only
MODERATOR = "bench-moderator@example.org"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ITEM_RE = re.compile(r'<li [^>]*data-question-id="(\d+)"[^>]*data-votes="(\d+)"')
TAG_RE = re.compile(r"\[bq (\d+)/(\d+)\]")  # a question's author index and number, in its body

TARGET_POLL_P95_MS = 100.0
TARGET_WRITE_P95_MS = 300.0
TARGET_VISIBLE_S = 6.0
WRITES = {"login", "register", "ask", "vote", "moderate", "close"}
MAX_TASKS = 2_000_000  # a bound on every schedule besides its deadline


# ----------------------------------------------------------------------------- figures


class Figures:
    """Per request class: latencies of expected answers, errors, 429s, other statuses."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.lag: list[float] = []
        self.samples: dict[str, str] = {}

    def add(self, name: str, status: int | None, seconds: float, expected: tuple[int, ...]) -> None:
        with self.lock:
            counts = self.counts[name]
            if status in expected:
                counts["ok"] += 1
                if status == 304:
                    counts["304"] += 1
                self.latencies[name].append(seconds)
            elif status == 429:
                counts["429"] += 1
            else:
                counts["errors"] += 1
                self.samples.setdefault(name, f"status {status}" if status else "connection error")

    def report(self, title: str, seconds: float) -> dict[str, dict[str, float]]:
        print(f"\n{title} ({seconds:.0f} s)")
        print(f"  {'class':<22}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'ok':>8}{'304':>7}"
              f"{'errors':>8}{'429':>6}")
        summary = {}
        for name in sorted(self.counts):
            lat = sorted(self.latencies[name])
            c = self.counts[name]

            def pct(p: float, lat: list[float] = lat) -> float:
                return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

            summary[name] = {"rps": c["ok"] / seconds, "p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99),
                             "errors": c["errors"], "429": c["429"]}
            print(f"  {name:<22}{c['ok'] / seconds:8.1f}{pct(0.5):9.1f}{pct(0.95):9.1f}{pct(0.99):9.1f}"
                  f"{c['ok']:8d}{c['304']:7d}{c['errors']:8d}{c['429']:6d}")
        for name, sample in self.samples.items():
            print(f"  first error of {name}: {sample}")
        if self.lag:
            lag = sorted(self.lag)
            late = lag[int(0.95 * (len(lag) - 1))] * 1000
            print(f"  load generator: {len(lag)} tasks, started late by p95 {late:.0f} ms"
                  f", max {lag[-1] * 1000:.0f} ms (large values: the client machine fell behind, not the server)")
        return summary


# ----------------------------------------------------------------------------- HTTP


class Session:
    """One person's browser: an address of its own among SOURCES, cookies, the CSRF token, and a
    kept-alive connection (a browser polling every 5 s keeps its connection; nginx keeps it 15 s)."""

    def __init__(self, port: int, source: str, email: str | None = None, index: int = -1):
        self.port, self.source, self.email, self.index = port, source, email, index
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.etag = ""
        self.state: dict[int, int] = {}  # question id -> votes, as this person's list shows them
        self.voted: set[int] = set()
        self.conn: http.client.HTTPConnection | None = None
        self.busy = threading.Lock()  # the kept connection serves one request at a time

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=40, source_address=(self.source, 0))

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int | None, dict[str, str], bytes]:
        """Status (None: no answer), headers and body, on the kept connection; a request made
        while another of this person's is under way (a vote during a poll) gets a connection of
        its own, as a browser opens a second one."""
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode({**form, "csrf_token": self.token})
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        kept = self.busy.acquire(blocking=False)
        try:
            conn = (self.conn or self._connect()) if kept else self._connect()
            reused = kept and self.conn is not None
            for attempt in (1, 2):
                try:
                    conn.request(method, path, body=body, headers=sent)
                    response = conn.getresponse()
                    data = response.read()
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    conn.close()
                    # The server closed the idle kept connection before reading this request
                    # (nginx's keepalive_timeout): a browser sends it again on a new one.
                    if attempt == 2 or not reused:
                        return None, {}, b""
                    conn = self._connect()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    return None, {}, b""
            if kept and not response.will_close:
                self.conn = conn
            else:
                conn.close()
                if kept:
                    self.conn = None
        finally:
            if kept:
                self.busy.release()
        for header in response.headers.get_all("Set-Cookie") or []:
            pair, _, attributes = header.partition(";")
            name, _, value = pair.strip().partition("=")
            if not value or "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        if b"csrf_token" in data and (match := CSRF_RE.search(data.decode("utf-8", "replace"))):
            self.token = match.group(1)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def timed(figures: Figures, name: str, expected: tuple[int, ...], call: Callable[[], tuple[int | None, Any, Any]]
          ) -> tuple[int | None, Any, Any]:
    began = time.monotonic()
    result = call()
    figures.add(name, result[0], time.monotonic() - began, expected)
    return result


STATE_RE = re.compile(r"id=\"question-state\" data-entries='([^']*)'")


def parse_poll(body: bytes) -> dict[int, tuple[int, str]]:
    """Question id -> (votes, body text) from the poll's answer: the HTML fragment (the questions
    named in full as items with data-question-id and data-votes, every question's id and votes in
    its data, id="question-state" data-entries) or JSON holding objects with an id and a vote count."""
    text = body.decode("utf-8", "replace")
    found: dict[int, tuple[int, str]] = {}
    if text.lstrip()[:1] in ("{", "["):
        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if "id" in node and "votes" in node:
                    found[int(node["id"])] = (int(node["votes"]), str(node.get("body") or node.get("text") or ""))
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)
        try:
            walk(json.loads(text))
        except ValueError:
            pass
        return found
    if state := STATE_RE.search(text):  # [id, votes, classes, status] for every question
        for entry in json.loads(state.group(1)):
            found[int(entry[0])] = (int(entry[1]), "")
    # One pass over the items named in full (read by the same machine that serves it, 120 times
    # a second): each item's opening tag, then each body's tag assigned to the item it follows.
    starts, ids = [], []
    for match in ITEM_RE.finditer(text):
        qid, votes = int(match.group(1)), int(match.group(2))
        found[qid] = (votes, "")
        starts.append(match.start())
        ids.append(qid)
    for tag in TAG_RE.finditer(text):
        at = bisect.bisect_right(starts, tag.start()) - 1
        if at >= 0:
            found[ids[at]] = (found[ids[at]][0], tag.group(0))
    return found


# ----------------------------------------------------------------------------- scheduling


class Scheduler:
    """Open-loop load: tasks run at their due time on a pool of threads (a slow answer delays
    no other request); how late each task started is recorded, to tell a lagging client."""

    def __init__(self, threads: int, figures: Figures):
        self.heap: list[tuple[float, int, Callable[[], None]]] = []
        self.cond = threading.Condition()
        self.threads, self.figures = threads, figures
        self.counter = 0
        self.stopping = False

    def at(self, when: float, task: Callable[[], None]) -> None:
        with self.cond:
            if self.counter < MAX_TASKS:
                self.counter += 1
                heapq.heappush(self.heap, (when, self.counter, task))
                self.cond.notify()

    def _worker(self, until: float) -> None:
        while True:
            with self.cond:
                while True:
                    now = time.monotonic()
                    if self.stopping or now >= until:
                        return
                    if self.heap and self.heap[0][0] <= now:
                        due, _, task = heapq.heappop(self.heap)
                        break
                    self.cond.wait(min(0.5, (self.heap[0][0] - now) if self.heap else 0.5))
            with self.figures.lock:
                self.figures.lag.append(now - due)
            try:
                task()
            except Exception as exc:  # a bug in a task must not stop the run; say so
                with self.figures.lock:
                    self.figures.samples.setdefault("task", repr(exc))

    def run(self, until: float, drain: float = 45.0) -> None:
        """Runs due tasks until ``until``; tasks still running then get ``drain`` s to finish."""
        workers = [threading.Thread(target=self._worker, args=(until,), daemon=True) for _ in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(max(0.0, until - time.monotonic()) + drain)
        with self.cond:
            self.stopping = True
            self.heap.clear()
            self.cond.notify_all()


def spread(start: float, seconds: float, count: int) -> list[float]:
    """``count`` moments evenly over ``seconds`` from ``start`` (with a little jitter)."""
    step = seconds / max(count, 1)
    return [start + i * step + random.uniform(0, step) for i in range(count)]


# ----------------------------------------------------------------------------- setup


def set_up(database_url: str, scratch: Path, accounts: int, seats: int) -> tuple[int, list[str]]:
    """A published seminar (registration and Q&A open, ``seats`` places), ``accounts`` members and
    one secretariat account (the moderator), all with one password hashed once."""
    import werkzeug.security

    from portal import create_app
    from portal.accounts import operations as account_services
    from portal.accounts.models import Membership, OrganizationKind, Role
    from portal.core.dates import today_local
    from portal.core.db import db
    from portal.imports.operations import import_data
    from portal.seminars.models import Seminar

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
                      "MAIL_FILE_DIR": str(scratch / "mail"), "UPLOAD_DIR": str(scratch / "uploads")})
    emails = [f"bench-day-{i:04d}@example.org" for i in range(accounts)]
    shared_hash = werkzeug.security.generate_password_hash(PASSWORD)
    original = account_services.generate_password_hash
    account_services.generate_password_hash = lambda password, *a, **k: (  # type: ignore[assignment]
        shared_hash if password == PASSWORD else original(password, *a, **k))
    day = today_local() + timedelta(days=14)
    try:
        with app.app_context():
            import_data({"seminars": [{
                "key": "bench-seminar-day", "number": 1, "title": "【ベンチマーク】セミナー当日",
                "date": day.isoformat(), "start": "15:30", "end": "17:00", "status": "published",
                "capacity": seats, "registration": "open", "qa": "open",
                "join_url": "https://example.org/webinar/bench-day",
                "program": [{"start": "15:30", "title": "イントロダクション", "points": ["本日のプログラム紹介"]},
                            {"start": "15:40", "title": "実践都市による発表", "points": ["取組紹介"]},
                            {"start": "16:30", "title": "質疑応答"}],
            }]})
            cities = [account_services.find_or_create_organization(
                f"ベンチ市{n}", OrganizationKind.MUNICIPALITY, Membership.MEMBER) for n in range(len(SOURCES))]
            for i, email in enumerate(emails):
                account_services.create_user(email=email, name=f"ベンチ 参加者{i}", password=PASSWORD,
                                             role=Role.MEMBER, organization=cities[i % len(cities)])
            account_services.create_user(email=MODERATOR, name="ベンチ 事務局", password=PASSWORD,
                                         role=Role.SECRETARIAT, organization=cities[0])
            db.session.commit()
            from sqlalchemy import select

            seminar_id = db.session.scalar(select(Seminar.id).where(Seminar.key == "bench-seminar-day"))
            db.session.remove()
            db.engine.dispose()
    finally:
        account_services.generate_password_hash = original  # type: ignore[assignment]
    return int(seminar_id), emails


def query(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- the day


class Live:
    """Shared state of the live phase: known questions, the vote-visibility tracking."""

    def __init__(self, pollers: list[Session]):
        self.lock = threading.Lock()
        self.questions: dict[int, int] = {}  # question id -> author index (-1: unknown yet)
        self.open: dict[int, int] = {}  # question id -> votes, as the moderator last saw them
        self.tracked: dict[int, tuple[int, int, float, set[int]]] = {}
        self.visible: list[float] = []
        self.track_counter = 0
        self.pollers = pollers
        self.asked = 0

    def learn(self, parsed: dict[int, tuple[int, str]]) -> None:
        # Only the items named in full carry a body (the rest: id and votes), 120 times a second.
        with self.lock:
            for qid in parsed.keys() - self.questions.keys():
                self.questions[qid] = -1
            for qid, (_votes, tag) in parsed.items():
                if tag and (match := TAG_RE.search(tag)):
                    self.questions[qid] = int(match.group(1))

    def track(self, qid: int, votes: int, answered_at: float) -> None:
        with self.lock:
            self.track_counter += 1
            self.tracked[self.track_counter] = (qid, votes, answered_at, {id(p) for p in self.pollers})

    def seen_by(self, poller: Session, now: float) -> None:
        with self.lock:
            for key, (qid, votes, answered_at, waiting) in list(self.tracked.items()):
                if id(poller) in waiting and poller.state.get(qid, 0) >= votes:
                    waiting.discard(id(poller))
                    if not waiting:
                        self.visible.append(now - answered_at)
                        del self.tracked[key]


def log_in(session: Session, figures: Figures) -> bool:
    timed(figures, "login page", (200,), lambda: session.request("GET", "/login"))
    status, _, _ = timed(figures, "login", (302,), lambda: session.request(
        "POST", "/login", {"email": session.email or "", "password": PASSWORD}))
    return status == 302


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000, help="member accounts that log in (default 1000)")
    parser.add_argument("--login-minutes", type=float, default=5.0, help="log-ins spread over (default 5)")
    parser.add_argument("--register-minutes", type=float, default=1.0, help="registrations within (default 1)")
    parser.add_argument("--live-minutes", type=float, default=10.0, help="the live Q&A (default 10)")
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="each attendee's refresh (default 5)")
    parser.add_argument("--question-rate", type=float, default=2.0, help="questions per second (default 2)")
    parser.add_argument("--vote-rate", type=float, default=20.0, help="votes per second (default 20)")
    parser.add_argument("--visitor-rate", type=float, default=100.0, help="visitor requests per second (default 100)")
    parser.add_argument("--moderate-seconds", type=float, default=15.0, help="one answer marked every (default 15)")
    parser.add_argument("--compare-seconds", type=float, default=10.0,
                        help="one-route app vs the poll through nginx, each (default 10)")
    parser.add_argument("--workers", type=int, default=3,
                        help="gunicorn workers (default 3, as deploy/stack; sync, or PORTAL_THREADS threads each)")
    parser.add_argument("--threads", type=int, default=96, help="client threads (default 96)")
    add_database_options(parser, "database to run the day on (migrated, gets the script's data, kept)")
    args = parser.parse_args()
    if not 10 <= args.accounts <= 5000 or not 0 < args.live_minutes <= 60 or not 0 < args.login_minutes <= 30 \
            or not 0 < args.register_minutes <= 10 or not 1 <= args.threads <= 512 or not 1 <= args.workers <= 16:
        parser.error("--accounts 10..5000, --live-minutes (0, 60], --login-minutes (0, 30], "
                     "--register-minutes (0, 10], --threads 1..512, --workers 1..16")
    for source in SOURCES:  # the loopback range answers on every 127.x address on Linux
        try:
            with socket.socket() as probe:
                probe.bind((source, 0))
        except OSError as exc:
            raise SystemExit(f"cannot use client address {source}: {exc}") from exc
    return in_scratch(args, "seminar_day", run)


def run(args: argparse.Namespace, scratch: Path, databases: Databases, started: float) -> int:
    seats = args.accounts // 2
    registrants = args.accounts * 6 // 10
    print(f"machine: {os.cpu_count()} cores; stack by deploy/stack (nginx → gunicorn {args.workers} workers, "
          f"{' '.join(worker_kind())}, "
          f"mail worker, Redis); clients: {args.threads} threads from {SOURCES[0]}–{SOURCES[-1]}; "
          f"load average {load_average()}")
    url = args.database_url or databases.create("day")
    env = app_env(url, scratch)
    flask(["db", "upgrade"], env)
    seminar_id, emails = set_up(url, scratch, args.accounts, seats)
    print(f"database: {'given' if args.database_url else 'private ' + databases.kind}; seminar {seminar_id} with "
          f"{seats} seats; {args.accounts} member accounts and a moderator")

    hello_dir = scratch / "hello"
    hello_dir.mkdir()
    (hello_dir / "hello.py").write_text(HELLO_APP)
    hello_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    with (
        Gunicorn("hello:app", hello_dir, hello_env, args.workers, scratch / "gunicorn-hello.log") as hello,
        BehindNginx(env, scratch, args.workers, hello) as stack,
    ):
        port = stack.port
        people = [Session(port, SOURCES[i % len(SOURCES)], email, i) for i, email in enumerate(emails)]
        moderator = Session(port, SOURCES[0], MODERATOR, -1)

        # 1. log-in
        figures = Figures()
        scheduler = Scheduler(args.threads, figures)
        window = args.login_minutes * 60
        begin = time.monotonic() + 1
        logged_in: list[Session] = []
        done = threading.Lock()

        def login_task(person: Session) -> Callable[[], None]:
            def task() -> None:
                if log_in(person, figures):
                    with done:
                        logged_in.append(person)
            return task

        for when, person in zip(spread(begin, window, len(people)), people, strict=True):
            scheduler.at(when, login_task(person))
        scheduler.run(begin + window + 1)
        login_summary = figures.report(f"1. log-in: {len(people)} accounts from {len(SOURCES)} addresses", window)
        print(f"  logged in: {len(logged_in)} of {len(people)}   {verdict(len(logged_in) == len(people))}")
        if not log_in(moderator, Figures()):
            raise SystemExit(f"the moderator could not log in:\n{stack.log_tail()}")
        moderator.request("GET", f"/secretariat/seminars/{seminar_id}/questions")

        # 2. registration
        figures = Figures()
        scheduler = Scheduler(args.threads, figures)
        window = args.register_minutes * 60
        begin = time.monotonic() + 1
        chosen = sorted(logged_in, key=lambda p: p.index)[:registrants]

        def register_task(person: Session) -> Callable[[], None]:
            def task() -> None:
                status, _, _ = timed(figures, "seminar page (member)", (200,),
                                     lambda: person.request("GET", f"/seminars/{seminar_id}"))
                if status == 200:
                    timed(figures, "register", (302,),
                          lambda: person.request("POST", f"/seminars/{seminar_id}/registration", {}))
            return task

        for when, person in zip(spread(begin, window, len(chosen)), chosen, strict=True):
            scheduler.at(when, register_task(person))
        scheduler.run(begin + window + 1)
        register_summary = figures.report(f"2. registration: {len(chosen)} members for {seats} seats", window)
        states = dict(query(url, "SELECT state, count(*) FROM registrations WHERE seminar_id = :s GROUP BY state",
                            s=seminar_id))
        states = {str(k).lower(): v for k, v in states.items()}
        registered, waiting = states.get("registered", 0), states.get("waiting", 0)
        print(f"  seats: {registered} registered, {waiting} waiting (expected {seats} / {len(chosen) - seats})   "
              f"{verdict(registered == seats and waiting == len(chosen) - seats)}")
        attendee_ids = {row[0] for row in query(
            url, "SELECT u.email FROM registrations r JOIN users u ON u.id = r.user_id "
                 "WHERE r.seminar_id = :s AND r.state IN ('registered', 'REGISTERED')", s=seminar_id)}
        attendees = [p for p in chosen if p.email in attendee_ids]

        # 3. live
        pollers = [*attendees, moderator]
        live = Live(pollers)
        figures = Figures()
        scheduler = Scheduler(args.threads, figures)
        window = args.live_minutes * 60
        begin = time.monotonic() + 1
        until = begin + window
        poll_path = POLL_PATH.format(seminar_id=seminar_id)
        track_every = max(1, int(args.vote_rate * 2))  # one tracked vote every ~2 s
        votes_cast = [0]

        def poll(person: Session) -> None:
            name = "poll (moderator)" if person is moderator else "poll"
            headers = {"If-None-Match": person.etag} if person.etag else {}
            status, answer_headers, body = timed(figures, name, (200, 304),
                                                 lambda: person.request("GET", poll_path, headers=headers))
            if status == 200:
                parsed = parse_poll(body)
                person.state = {qid: votes for qid, (votes, _) in parsed.items()}
                person.etag = answer_headers.get("etag", "")
                live.learn(parsed)
                if person is moderator:
                    with live.lock:
                        live.open = {qid: votes for qid, (votes, _) in parsed.items()}
            if status in (200, 304):
                live.seen_by(person, time.monotonic())
            if time.monotonic() + args.poll_seconds < until:
                scheduler.at(time.monotonic() + args.poll_seconds, lambda: poll(person))

        def ask() -> None:
            person = random.choice(attendees)
            with live.lock:
                live.asked += 1
                number = live.asked
            body = f"質問です（ベンチマーク）。取組の費用と体制について教えてください。 [bq {person.index}/{number}]"
            timed(figures, "ask", (302,), lambda: person.request(
                "POST", ASK_PATH.format(seminar_id=seminar_id),
                {"body": body, "program_item": "0", **({"anonymous": "y"} if number % 3 == 0 else {})}))

        def vote() -> None:
            person = random.choice(attendees)
            with live.lock:
                choices = [qid for qid, author in live.questions.items()
                           if author != person.index and author != -1 and qid not in person.voted]
            if not choices:
                return  # nothing this person may vote on yet
            qid = random.choice(choices)
            person.voted.add(qid)
            status, _, body = timed(figures, "vote", (200,), lambda: person.request(
                "POST", VOTE_PATH.format(question_id=qid), {}, headers={"Accept": "application/json"}))
            if status == 200:
                with live.lock:
                    votes_cast[0] += 1
                    tracked = votes_cast[0] % track_every == 1
                if tracked:
                    try:
                        live.track(qid, int(json.loads(body)["votes"]), time.monotonic())
                    except (ValueError, KeyError, TypeError):
                        pass

        marked: set[int] = set()

        def moderate() -> None:
            # The most-voted open question on the moderator's screen (any known one before it showed).
            with live.lock:
                seen = {qid: votes for qid, votes in live.open.items() if qid not in marked}
                pool = seen or {q: 0 for q in live.questions if q not in marked}
                candidates = sorted(pool, key=lambda q: -pool[q])
                if candidates:
                    marked.add(candidates[0])
            if candidates:
                timed(figures, "moderate", (302, 303), lambda: moderator.request(
                    "POST", ANSWERED_PATH.format(question_id=candidates[0]), {}))

        def visit(path: str, name: str) -> Callable[[], None]:
            def task() -> None:
                visitor = Session(port, random.choice(SOURCES))
                timed(figures, name, (200,), lambda: visitor.request("GET", path))
            return task

        for when, person in zip(spread(begin, args.poll_seconds, len(pollers)), pollers, strict=True):
            scheduler.at(when, lambda person=person: poll(person))
        for when in spread(begin, window, int(window * args.question_rate)):
            scheduler.at(when, ask)
        for when in spread(begin, window, int(window * args.vote_rate)):
            scheduler.at(when, vote)
        for when in spread(begin + args.moderate_seconds, window - args.moderate_seconds,
                           max(0, int((window - args.moderate_seconds) / args.moderate_seconds))):
            scheduler.at(when, moderate)
        pages = [("/seminars", "visitor schedule"), (f"/seminars/{seminar_id}", "visitor program"),
                 ("/calendar.ics", "visitor calendar.ics")]
        for i, when in enumerate(spread(begin, window, int(window * args.visitor_rate))):
            path, name = pages[i % len(pages)]
            scheduler.at(when, visit(path, name))
        wall = time.time() - time.monotonic()
        cpu_before = cpu_by_program()
        scheduler.run(until)
        cpu_after = cpu_by_program()
        live_summary = figures.report(
            f"3. live: {len(attendees)} attendees + moderator polling every {args.poll_seconds:g} s, "
            f"{args.question_rate:g} questions/s, {args.vote_rate:g} votes/s, visitors {args.visitor_rate:g} req/s",
            window)
        visible = sorted(live.visible)
        unseen = len(live.tracked)
        # A vote cast in the last seconds of the phase has not had its 6 s when the polls stop
        # (one is tracked every 2 s, so 2 or 3 always remain): only one older than the target
        # that every poller has not seen yet misses it.
        overdue = sum(1 for _qid, _votes, answered_at, _waiting in live.tracked.values()
                      if until - answered_at > TARGET_VISIBLE_S)
        if visible:
            print(f"  vote → visible to every poller: {len(visible)} tracked votes, "
                  f"p50 {statistics.median(visible):.1f} s,"
                  f" p95 {visible[min(len(visible) - 1, int(0.95 * len(visible)))]:.1f} s, max {visible[-1]:.1f} s; "
                  f"{unseen} not yet seen by all at the end, {overdue} of them cast over "
                  f"{TARGET_VISIBLE_S:g} s before it   target <= {TARGET_VISIBLE_S:g} s   "
                  f"{verdict(visible[-1] <= TARGET_VISIBLE_S and overdue == 0)}")
        else:
            print(f"  vote → visible: no tracked vote was seen by every poller ({unseen} pending)   MISS")
        served = server_side(stack.run_dir / "access.log", begin + wall, until + wall, seminar_id)
        print("  CPU used in the live phase (cores, averaged): " + ", ".join(
            f"{name} {(cpu_after.get(name, 0) - cpu_before.get(name, 0)) / window:.2f}"
            for name in sorted(cpu_after, key=lambda n: -(cpu_after[n] - cpu_before.get(n, 0)))
            if cpu_after.get(name, 0) - cpu_before.get(name, 0) > 0.01 * window))
        counted = query(url, "SELECT count(*) FROM questions WHERE seminar_id = :s", s=seminar_id)[0][0]
        print(f"  questions asked: {counted}; known to the clients: {len(live.questions)}; votes cast: {votes_cast[0]}")

        # 4. Q&A closes: two moderators click at once; the digest goes out once.
        figures = Figures()
        second = Session(port, SOURCES[1], MODERATOR)
        log_in(second, Figures())
        clicks = [threading.Thread(target=lambda s=s: timed(
            figures, "close", (302, 303), lambda: s.request("POST", CLOSE_PATH.format(seminar_id=seminar_id), {})))
            for s in (moderator, second)]
        for t in clicks:
            t.start()
        for t in clicks:
            t.join(60)
        figures.report("4. Q&A closes (two moderators at once)", 1.0)
        deadline = time.monotonic() + 60
        digests: list[tuple[Any, ...]] = []
        while time.monotonic() < deadline:
            digests = query(url, "SELECT id, status FROM outbox_messages WHERE kind = 'qa.digest'")
            if digests and all(str(status).lower() == "sent" for _, status in digests):
                break
            time.sleep(1)
        print(f"  digest: {len(digests)} message(s), {', '.join(str(s).lower() for _, s in digests) or 'none'} "
              f"(expected exactly 1, sent by the mail worker)   "
              f"{verdict(len(digests) == 1 and str(digests[0][1]).lower() == 'sent')}")

        # Resident memory after the day.
        print("\nresident memory (VmRSS)")
        for pid in stack.worker_pids():
            print(f"  gunicorn worker {pid:<8} {rss_mb(pid) or 0:6.1f} MB")
        for name in ("mail", "nginx", "redis"):
            if name in stack.pids:
                print(f"  {name:<15} {stack.pids[name]:<8} {rss_mb(stack.pids[name]) or 0:6.1f} MB")

        # 5. The one-route app and a poll, alone, through the same nginx.
        print(f"\n5. through the same nginx, 8 clients each, {args.compare_seconds:g} s (closed loop)")
        probe = attendees[0] if attendees else moderator
        _, head, _ = probe.request("GET", poll_path)
        rates = {}
        for name, target_port, session, headers in (
                ("one-route app GET /", stack.hello_port, None, {}),
                ("poll, rendered", port, probe, {}),
                ("poll, If-None-Match", port, probe, {"If-None-Match": head.get("etag", "-")}),
                ("visitor schedule", port, None, {})):
            path = "/" if target_port == stack.hello_port else (poll_path if session else "/seminars")
            rates[name] = closed_loop(target_port, path, session, headers, args.compare_seconds)
        base = rates["one-route app GET /"][0] or 1.0
        for name, (rps, p95, bad) in rates.items():
            print(f"  {name:<24} {rps:8.1f} req/s   p95 {p95:6.1f} ms   not 200/304: {bad}   "
                  f"ratio {rps / base:.3f}x")

    print("\ntargets")
    everything = {**{f"log-in: {k}": v for k, v in login_summary.items()},
                  **{f"registration: {k}": v for k, v in register_summary.items()},
                  **{f"live: {k}": v for k, v in live_summary.items()}}
    everything.update({f"live, as nginx timed it: {k}": v for k, v in served.items()})
    errors = sum(v["errors"] for v in everything.values())
    refused = sum(v["429"] for v in everything.values())
    print(f"  errors {errors}, 429 refusals {refused}   target 0 / 0   {verdict(errors == 0 and refused == 0)}")
    for name, v in everything.items():
        cls = name.split(": ", 1)[1]
        limit = TARGET_WRITE_P95_MS if cls in WRITES else TARGET_POLL_P95_MS
        print(f"  {name:<38} p95 {v['p95']:7.1f} ms   target <= {limit:g} ms   {verdict(v['p95'] <= limit)}")
    print(f"\ndone in {time.monotonic() - started:.0f} s; load average {load_average()}")
    return 0


def cpu_by_program() -> dict[str, float]:
    """CPU seconds used so far by each program on the machine (every process's utime + stime, by
    its name: gunicorn workers, postgres, nginx, redis-server, this load generator (python))."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = defaultdict(float)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if b"gunicorn" in b" ".join(cmdline):
            name = "gunicorn (app and one-route)"
        elif entry.name == str(os.getpid()):
            name = "load generator"
        # Its own time and that of its children already reaped (a gunicorn worker replaced, a
        # PostgreSQL backend that ended): each CPU second is counted once, under its parent then.
        used[name] += sum(int(fields[i]) for i in (11, 12, 13, 14)) / tick
    return used


LOG_RE = re.compile(r'"(GET|POST) (\S+) HTTP/[\d.]+" (\d{3}) .* t=([\d.]+) rt=([\d.]+) urt=([\d.]+|-)')
CLASSES = [("POST", re.compile(r"/questions/\d+/vote$"), "vote"),
           ("POST", re.compile(r"/seminars/\d+/questions$"), "ask"),
           ("POST", re.compile(r"/secretariat/questions/\d+/answered$"), "moderate"),
           ("GET", re.compile(r"/seminars/\d+/questions\?"), "poll"),
           ("GET", re.compile(r"/seminars$"), "visitor schedule"),
           ("GET", re.compile(r"/seminars/\d+$"), "visitor program"),
           ("GET", re.compile(r"/calendar\.ics$"), "visitor calendar.ics")]


def server_side(log: Path, start: float, end: float, seminar_id: int) -> dict[str, dict[str, float]]:
    """The live phase's latencies as nginx timed them (its access log's request_time: from the
    request's first byte to the answer's last), per request class: what the server did, apart
    from the load generator, which runs on the same 2 cores and whose own figures above include
    its waits for a core. Beside it the upstream's time (upstream_response_time: from nginx's
    connecting to gunicorn to the answer's last byte; none for an answer from nginx's cache)."""
    times: dict[str, list[float]] = defaultdict(list)
    upstream: dict[str, list[float]] = defaultdict(list)
    bad: dict[str, int] = defaultdict(int)
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        match = LOG_RE.search(line)
        if not match or not start <= float(match.group(4)) <= end:
            continue
        method, path, status = match.group(1), match.group(2), int(match.group(3))
        name = next((n for m, pattern, n in CLASSES if m == method and pattern.search(path)), None)
        if name is None:
            continue
        times[name].append(float(match.group(5)) * 1000)
        if match.group(6) != "-":
            upstream[name].append(float(match.group(6)) * 1000)
        if status >= 400:
            bad[name] += 1
    print("\n  as nginx timed it (request in → answer out), live phase")
    print(f"  {'class':<22}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'>=400':>8}"
          f"{'upstream p50/p95/p99 ms':>26}")
    summary = {}
    for name in sorted(times):
        lat = sorted(times[name])
        def pct(p: float, lat: list[float] = lat) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))]
        up = sorted(upstream[name])
        shown = "/".join(f"{x[min(len(x) - 1, int(p * len(x)))]:.0f}" for x in [up] for p in (0.5, 0.95, 0.99)) \
            if up else "(cache)"
        print(f"  {name:<22}{len(lat) / max(end - start, 1):8.1f}{pct(0.5):9.1f}{pct(0.95):9.1f}{pct(0.99):9.1f}"
              f"{bad[name]:8d}{shown:>26}")
        summary[name] = {"p95": pct(0.95), "errors": 0, "429": 0}
    return summary


def closed_loop(port: int, path: str, session: Session | None, headers: dict[str, str],
                seconds: float) -> tuple[float, float, int]:
    """8 clients back to back for ``seconds``: requests/s answered 200 or 304, p95 ms, others."""
    latencies: list[float] = []
    bad = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        me = Session(port, SOURCES[n % len(SOURCES)])
        if session is not None:
            me.cookies = dict(session.cookies)
        for _ in range(1_000_000):
            began = time.monotonic()
            if began >= stop_at:
                break
            status, _, _ = me.request("GET", path, headers=headers)
            with lock:
                if status in (200, 304):
                    latencies.append(time.monotonic() - began)
                else:
                    bad[0] += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000 if latencies else float("nan")
    return len(latencies) / seconds, p95, bad[0]


if __name__ == "__main__":
    sys.exit(main())
