"""Page benchmark: /seminars and /seminars/<id> under gunicorn, next to a one-route Flask app.

    .venv/bin/python bench/pages.py [--duration 5] [--concurrency 8] [--database-url URL]

What it measures (see bench/README.md):

1. Requests per second of ``/seminars`` and ``/seminars/<id>`` (the seed's fy2021-1 from the
   demo data) under gunicorn (the worker class and threads of deploy/gunicorn.conf.py,
   ``--no-control-socket``, a free 127.0.0.1 port),
   each as a ratio to a one-route ``Flask(__name__)`` app served the same way in the same run;
   as a visitor and rendered (a request with a cookie).
2. The resident memory (VmRSS) of each gunicorn worker after the load.
3. SQL queries per page with 10 and with 1,000 seminars in a fresh database (in-process, test
   client, a ``before_cursor_execute`` listener).

Targets are printed next to the figures as PASS/MISS; the script never asserts on timings and
exits 0 once it has printed its figures (non-zero only when the setup itself fails).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET_KEY = "bench"

TARGET_RATIO = 0.1  # each page at least 0.1x the one-route app
TARGET_RSS_MB = 100.0  # per gunicorn worker, after the load
MAX_REQUESTS_PER_CLIENT = 2_000_000  # a bound on every client loop besides its deadline

HELLO_APP = '''\
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello, World!"
'''


# ----------------------------------------------------------------------------- databases


class Databases:
    """Private databases: created on a PostgreSQL server and dropped at the end, or SQLite
    files in the scratch directory when the server does not answer (or --sqlite)."""

    def __init__(self, server_url: str, scratch: Path, prefix: str, force_sqlite: bool = False):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.scratch = scratch
        self.prefix = prefix
        self.created: list[str] = []
        self.server = None
        if force_sqlite:
            print("databases: SQLite in a temporary directory (--sqlite)")
            return
        try:
            engine = create_engine(
                server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool,
                connect_args={"connect_timeout": 3},
            )
            with engine.connect():
                pass
        except Exception as exc:
            print(f"databases: PostgreSQL at {server_url} does not answer ({type(exc).__name__}); "
                  "using SQLite in a temporary directory")
            return
        self.server = engine
        print(f"databases: private PostgreSQL databases on {engine.url.render_as_string(hide_password=True)}")

    @property
    def kind(self) -> str:
        return "postgresql" if self.server is not None else "sqlite"

    def create(self, label: str) -> str:
        if self.server is None:
            return f"sqlite:///{self.scratch / (label + '.sqlite')}"
        from sqlalchemy import text

        name = f"{self.prefix}_{label}_{uuid.uuid4().hex[:8]}"
        with self.server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.server.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.server is None:
            return
        from sqlalchemy import text

        for name in self.created:
            try:
                with self.server.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as exc:  # report and go on: the others still get dropped
                print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)
        self.created.clear()
        self.server.dispose()


def in_scratch(args: argparse.Namespace, name: str, run: Callable[..., int]) -> int:
    """``run(args, scratch, databases, started)`` with a temporary directory and private databases,
    dropped at the end, also after an error, Ctrl-C or a plain `kill`."""
    # A plain `kill` unwinds like Ctrl-C, so the finally blocks stop gunicorn and drop the databases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        scratch = Path(tmp)
        os.chmod(scratch, 0o755)  # nginx's workers (nobody, when started by root) reach RUN_DIR through it
        databases = Databases(args.pg_server, scratch, f"bench_{name}", args.sqlite)
        try:
            return run(args, scratch, databases, started)
        finally:
            databases.drop_all()


def app_env(database_url: str, scratch: Path) -> dict[str, str]:
    """Environment for the flask CLI and gunicorn: the database, a fixed key, scratch dirs."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        PORTAL_MAIL_FILE_DIR=str(scratch / "mail"),
        PORTAL_UPLOAD_DIR=str(scratch / "uploads"),
    )
    return env


def flask(args: list[str], env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"`flask --app wsgi {' '.join(args)}` failed ({result.returncode}):\n"
                         f"{result.stdout}{result.stderr}")
    return result.stdout


# ----------------------------------------------------------------------------- gunicorn


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def child_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def worker_kind() -> list[str]:
    """gunicorn's worker class and threads as deploy/gunicorn.conf.py chooses them (PORTAL_THREADS),
    so the one-route app is served the same way as the portal."""
    threads = int(os.environ.get("PORTAL_THREADS", "1"))
    return ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else ["--worker-class", "sync"]


class Gunicorn:
    """``gunicorn APP`` with the portal's kind of workers on a socket this process binds to a free 127.0.0.1
    port and hands over as ``fd://N`` (no port race). Stopped, with its workers, on exit."""

    def __init__(self, app: str, chdir: Path, env: dict[str, str], workers: int, log: Path,
                 ready_path: str = "/"):
        self.app, self.chdir, self.env, self.workers = app, chdir, env, workers
        self.log_path, self.ready_path = log, ready_path
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> Gunicorn:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            sock.listen(512)
            self.port = sock.getsockname()[1]
            fd = sock.fileno()
            os.set_inheritable(fd, True)
            command = [
                sys.executable, "-m", "gunicorn",
                "--workers", str(self.workers), *worker_kind(),
                "--no-control-socket", "--bind", f"fd://{fd}",
                "--chdir", str(self.chdir), "--log-level", "warning",
                self.app,
            ]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    command, cwd=self.chdir, env=self.env, pass_fds=(fd,), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
        finally:
            sock.close()  # gunicorn holds its own copy
        deadline = time.monotonic() + 60
        for _ in range(600):
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn {self.app} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, _body = http_get(self.port, self.ready_path)
                if status < 500:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        raise SystemExit(f"gunicorn {self.app} did not answer within 60 s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        return child_pids(self.proc.pid) if self.proc else []

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        # Master and workers share a process group of the master's id (start_new_session).
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            proc.wait(timeout=10)


class BehindNginx:
    """The portal as production runs it, started by ``deploy/stack`` (nginx with deploy/nginx.conf →
    gunicorn with deploy/gunicorn.conf.py and PORTAL_PROXY_HOPS=1, the mail worker, Redis), with the
    one-route app's gunicorn behind the same nginx, in a server that copies the portal's. ``port``
    is nginx in front of the portal, ``hello_port`` nginx in front of the one-route app. Stopped by
    PID on exit."""

    def __init__(self, env: dict[str, str], scratch: Path, workers: int, hello: Gunicorn):
        self.env = {**env, "WEB_CONCURRENCY": str(workers),
                    # Counters in the shared Redis under a key prefix of this run's own.
                    "PORTAL_RATELIMIT_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}/"}
        self.run_dir = scratch / "stack"
        self.hello = hello
        self.port = self.hello_port = 0
        self.pids: dict[str, int] = {}

    def __enter__(self) -> BehindNginx:
        from deploy import stack  # the repository root is on sys.path (in_scratch)

        started = stack.start(self.run_dir, self.env,
                              extra={"hello": (f"127.0.0.1:{stack.free_port()}", f"127.0.0.1:{self.hello.port}")})
        self.port, self.hello_port, self.pids = started.address[1], started.address_of("hello")[1], started.pids
        return self

    def __exit__(self, *exc: object) -> None:
        from deploy import stack

        stack.stop(self.run_dir)

    def worker_pids(self) -> list[int]:
        return child_pids(self.pids["gunicorn"]) if "gunicorn" in self.pids else []

    def log_tail(self, lines: int = 30) -> str:
        from deploy import stack

        return stack.tail(self.run_dir / "gunicorn.log", lines)


# ----------------------------------------------------------------------------- load generator


def client_process(port: int, path: str, threads: int, start_at: float, stop_at: float,
                   headers: dict[str, str] | None = None, expect: int = 200) -> dict[str, Any]:
    """Runs in a client process: ``threads`` keep-alive clients loop GET ``path`` (with
    ``headers``) until ``stop_at``. Answers with status ``expect`` (200, or 304 for feeds.py)
    that start at or after ``start_at`` and end by ``stop_at`` count as served."""
    lock = threading.Lock()
    totals: dict[str, Any] = {"ok": 0, "other": 0, "errors": 0, "bytes": 0, "latencies": []}

    def client() -> None:
        ok = other = errors = size = 0
        latencies: list[float] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            began = time.time()
            if began >= stop_at:
                break
            try:
                conn.request("GET", path, headers=headers or {})
                response = conn.getresponse()
                body = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                if began >= start_at:
                    errors += 1
                time.sleep(0.01)
                continue
            ended = time.time()
            if began >= start_at and ended <= stop_at:
                if status == expect:
                    ok += 1
                    size += len(body)
                    latencies.append(ended - began)
                else:
                    other += 1
        conn.close()
        with lock:
            totals["ok"] += ok
            totals["other"] += other
            totals["errors"] += errors
            totals["bytes"] += size
            totals["latencies"].extend(latencies)

    workers = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=max(0.0, stop_at - time.time()) + 30)
    return totals


def load(port: int, path: str, *, concurrency: int, processes: int, warmup: float, duration: float,
         headers: dict[str, str] | None = None) -> dict[str, Any]:
    """``concurrency`` keep-alive clients in ``processes`` processes; warm-up, then ``duration`` s."""
    processes = max(1, min(processes, concurrency))
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    start_at = time.time() + 1.0 + warmup  # 1 s for the processes to start, then the warm-up
    stop_at = start_at + duration
    totals: dict[str, Any] = {"ok": 0, "other": 0, "errors": 0, "latencies": []}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [pool.submit(client_process, port, path, n, start_at, stop_at, headers) for n in shares]
        for future in futures:
            part = future.result(timeout=stop_at - time.time() + 120)
            for key in ("ok", "other", "errors"):
                totals[key] += part[key]
            totals["latencies"].extend(part["latencies"])
    totals["seconds"] = duration
    return totals


def summarize(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One target's rounds together: req/s over all measured seconds, latency percentiles."""
    seconds = sum(p["seconds"] for p in parts)
    latencies = sorted(x for p in parts for x in p["latencies"])
    result: dict[str, Any] = {key: sum(p[key] for p in parts) for key in ("ok", "other", "errors")}
    result["rps"] = result["ok"] / seconds if seconds else 0.0
    result["p50_ms"] = statistics.median(latencies) * 1000 if latencies else float("nan")
    result["p95_ms"] = latencies[int(0.95 * (len(latencies) - 1))] * 1000 if latencies else float("nan")
    result["rounds"] = [p["ok"] / p["seconds"] for p in parts]
    return result


# ----------------------------------------------------------------------------- query counts

BENCH_SERIES = "ベンチマーク用 オンラインセミナー"


def bench_seminars(count: int, fy: int) -> dict[str, Any]:
    """An import file with ``count`` published seminars in fiscal year ``fy``, each with a
    program of three items and two presenters (so per-row loading would show in the counts)."""
    orgs = [{"name": f"ベンチ市{i}", "kind": "municipality", "membership": "member"} for i in range(1, 4)]
    first = date(fy, 4, 1)
    seminars = []
    for i in range(1, count + 1):
        seminars.append({
            "key": f"bench-{i:04d}", "series": BENCH_SERIES, "fiscal_year": fy, "number": i,
            "title": f"ベンチマーク用セミナー 第{i}回", "date": (first + timedelta(days=(i - 1) % 360)).isoformat(),
            "start": "15:30", "end": "17:00", "status": "published", "capacity": 100,
            "registration": "open", "qa": "open",
            "program": [
                {"start": "15:30", "title": "イントロダクション", "points": ["本日のプログラム紹介"]},
                {"start": "15:40", "title": "実践都市による発表", "points": ["取組紹介", "意見交換"],
                 "presenters": [{"organization": orgs[0]["name"], "point": 0},
                                {"organization": orgs[1]["name"], "department": "スマートシティ推進課", "point": 1}]},
                {"start": "16:30", "title": "質疑応答", "notes": ["ご質問は「質問」からご記入ください。"]},
            ],
        })
    return {
        "series": [{"name": BENCH_SERIES, "fiscal_year": fy, "description": "ベンチマーク用のデータ"}],
        "organizations": orgs,
        "seminars": seminars,
    }


def count_queries(database_url: str, env: dict[str, str], scratch: Path) -> list[dict[str, Any]]:
    """SQL statements per page after importing 10, then 1,000 seminars into a fresh database."""
    from sqlalchemy import event, select

    from portal import create_app
    from portal.core.dates import fiscal_year, today_local
    from portal.core.db import db
    from portal.imports.operations import import_data
    from portal.seminars.models import Seminar

    flask(["db", "upgrade"], env)
    app = create_app({
        "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
        "MAIL_FILE_DIR": str(scratch / "mail"), "UPLOAD_DIR": str(scratch / "uploads"),
    })
    statements = [0]

    def on_execute(*_args: object) -> None:
        statements[0] += 1

    fy = fiscal_year(today_local()) + 1  # ahead: published, upcoming, registration open
    results = []
    try:
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", on_execute)
        client = app.test_client()
        for count in (10, 1000):
            with app.app_context():  # its own context, so the requests below start cold
                import_data(bench_seminars(count, fy))
                db.session.commit()
                seminar_id = db.session.scalar(select(Seminar.id).where(Seminar.key == "bench-0001"))
            row: dict[str, Any] = {"seminars": count}
            for label, path in (("schedule", "/seminars"), ("detail", f"/seminars/{seminar_id}")):
                client.get(path)  # warm-up: one-time work is not the page's
                statements[0] = 0
                response = client.get(path)
                row[label] = statements[0]
                statements[0] = 0
                client.get(path)  # the same page again: rendered again (nginx keeps copies, not the app)
                row[f"{label}_stored"] = statements[0]
                row[f"{label}_status"] = response.status_code
                if label == "schedule":
                    row["listed"] = len(set(re.findall(r'href="/seminars/(\d+)"', response.get_data(as_text=True))))
            results.append(row)
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", on_execute)
            db.engine.dispose()
    return results


# ----------------------------------------------------------------------------- main


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """The load options pages.py and feeds.py share."""
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per target (default 5)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="the duration is split into this many rounds alternating the targets (default 5)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per target (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--client-processes", type=int, default=2,
                        help="processes the clients are spread over (default 2)")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn workers (default 2; sync, or PORTAL_THREADS threads each)")


def check_load_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.duration <= 0 or args.duration > 600 or args.warmup < 0 or args.warmup > 60:
        parser.error("--duration must be in (0, 600] and --warmup in [0, 60]")
    if not 1 <= args.rounds <= 50:
        parser.error("--rounds 1..50")
    if not 1 <= args.concurrency <= 256 or not 1 <= args.workers <= 32 or not 1 <= args.client_processes <= 16:
        parser.error("--concurrency 1..256, --workers 1..32, --client-processes 1..16")


def add_database_options(parser: argparse.ArgumentParser, database_help: str) -> None:
    """--database-url, --pg-server and --sqlite, as every script takes them."""
    parser.add_argument("--database-url",
                        help=f"{database_help}; default: a private one created and dropped by the script")
    parser.add_argument("--pg-server", default=DEFAULT_PG_SERVER,
                        help=f"PostgreSQL server for private databases (default {DEFAULT_PG_SERVER}); "
                             "SQLite in a temporary directory when it does not answer")
    parser.add_argument("--sqlite", action="store_true", help="private databases on SQLite, even if PostgreSQL answers")


def load_line(args: argparse.Namespace, counted: str) -> str:
    return (f"machine: {os.cpu_count()} cores; both apps behind one nginx (deploy/nginx.conf, by deploy/stack); "
            f"gunicorn: {args.workers} workers each ({' '.join(worker_kind())}), 127.0.0.1; "
            f"load: {args.concurrency} clients in {args.client_processes} processes, "
            f"{args.warmup:g} s warm-up + {args.duration:g} s per target in {args.rounds} alternating rounds, "
            f"{counted}; load average {load_average()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_options(parser)
    add_database_options(parser, "database for the page load (migrated, demo data loaded, kept)")
    args = parser.parse_args()
    check_load_options(parser, args)

    return in_scratch(args, "pages", run)


def run(args: argparse.Namespace, scratch: Path, databases: Databases, started: float) -> int:
    print(load_line(args, "only 200 answers counted"))

    # The database gunicorn serves: migrated, with the bundled demo data.
    url = args.database_url or databases.create("load")
    env = app_env(url, scratch)
    flask(["db", "upgrade"], env)
    flask(["portal", "demo"], env)
    print(f"load database: {'given by --database-url' if args.database_url else 'private ' + databases.kind}, "
          "schema by `flask db upgrade`, data by `flask portal demo`")

    hello_dir = scratch / "hello"
    hello_dir.mkdir()
    (hello_dir / "hello.py").write_text(HELLO_APP)
    hello_env = dict(os.environ)
    for name in ("DATABASE_URL", "SECRET_KEY"):
        hello_env.pop(name, None)

    memory: dict[str, list[tuple[int, float | None]]] = {}
    rounds = args.rounds
    per_round = args.duration / rounds
    options = {"concurrency": args.concurrency, "processes": args.client_processes}

    with (
        Gunicorn("hello:app", hello_dir, hello_env, args.workers, scratch / "gunicorn-hello.log") as hello,
        BehindNginx(env, scratch, args.workers, hello) as portal,
    ):
        status, body = http_get(portal.port, "/api/v1/seminars")
        seminars = json.loads(body)["seminars"] if status == 200 else []
        seminar_id = next((s["id"] for s in seminars if s["key"] == "fy2021-1"), None)
        if seminar_id is None:
            raise SystemExit(f"fy2021-1 not found in /api/v1/seminars (status {status})")
        # Without nginx in front (this script talks to gunicorn) every page is rendered: a
        # visitor's copy is kept by nginx's proxy_cache (deploy/nginx.conf), not by the app. A
        # request with a cookie is never kept, so the "rendered" targets measure the view itself.
        rendered = {"Cookie": "bench=rendered"}
        targets: dict[str, tuple[int, str, dict[str, str] | None]] = {
            "one-route app  GET /": (portal.hello_port, "/", None),
            "portal  GET /seminars": (portal.port, "/seminars", None),
            f"portal  GET /seminars/{seminar_id}": (portal.port, f"/seminars/{seminar_id}", None),
            "portal  GET /seminars rendered": (portal.port, "/seminars", rendered),
            f"portal  GET /seminars/{seminar_id} rendered": (portal.port, f"/seminars/{seminar_id}", rendered),
        }
        for name, (port, path, _headers) in targets.items():
            status, _body = http_get(port, path)  # through nginx, like every request below
            if status != 200:
                print(f"warning: {name} answered {status} before the load")
        # Rounds alternate the targets, so a change in the machine's other load hits all alike.
        parts: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for r in range(rounds):
            for name, (port, path, headers) in targets.items():
                warmup = args.warmup if r == 0 else 0.0
                parts[name].append(load(port, path, warmup=warmup, duration=per_round, headers=headers, **options))
        figures = {name: summarize(p) for name, p in parts.items()}
        memory["one-route app"] = [(pid, rss_mb(pid)) for pid in hello.worker_pids()]
        memory["portal"] = [(pid, rss_mb(pid)) for pid in portal.worker_pids()]
        portal_log = portal.log_tail()

    print()
    print("throughput (requests/s answered 200; latency of those answers)")
    baseline = figures["one-route app  GET /"]["rps"]
    for name, f in figures.items():
        line = (f"  {name:<34} {f['rps']:9.1f} req/s   p50 {f['p50_ms']:6.1f} ms   p95 {f['p95_ms']:6.1f} ms"
                f"   ok {f['ok']}  non-200 {f['other']}  errors {f['errors']}")
        if len(f["rounds"]) > 1:
            line += f"\n  {'':<34} per round: {' '.join(f'{x:.0f}' for x in f['rounds'])} req/s"
        if name.startswith("portal"):
            ratio = f["rps"] / baseline if baseline else 0.0
            line += (f"\n  {'':<34} ratio to one-route app {ratio:.3f}x   "
                     f"target >= {TARGET_RATIO}x   {verdict(ratio >= TARGET_RATIO)}")
        print(line)
    if any(f["other"] or f["errors"] for f in figures.values()):
        print("  (non-200 answers or connection errors above; portal log tail:)\n" + portal_log)

    print()
    print("resident memory of gunicorn workers after the load "
          f"(VmRSS; target <= {TARGET_RSS_MB:g} MB per portal worker)")
    for name, workers in memory.items():
        for pid, mb in workers:
            shown = f"{mb:6.1f} MB" if mb is not None else "  n/a   "
            mark = f"   {verdict(mb is not None and mb <= TARGET_RSS_MB)}" if name == "portal" else ""
            print(f"  {name:<14} worker pid {pid:<8} {shown}{mark}")
        if not workers:
            print(f"  {name:<14} no worker processes found   {'MISS' if name == 'portal' else ''}")

    print()
    query_url = databases.create("queries")
    print(f"SQL statements per page (in-process test client, fresh private {databases.kind} database, "
          "seminars imported with import_data, anonymous visitor; "
          "the page rendered, then again from its stored answer)")
    rows = count_queries(query_url, app_env(query_url, scratch), scratch)
    for row in rows:
        print(f"  {row['seminars']:>5} seminars   "
              f"/seminars {row['schedule']:3d} queries (status {row['schedule_status']}, "
              f"{row['listed']} seminars listed; stored: {row['schedule_stored']})   "
              f"/seminars/<id> {row['detail']:3d} queries "
              f"(status {row['detail_status']}; stored: {row['detail_stored']})")
    for label, path in (("schedule", "/seminars"), ("detail", "/seminars/<id>")):
        counts = [row[label] for row in rows]
        print(f"  {path:<15} {counts[0]} vs {counts[1]} queries with 10 vs 1,000 seminars   "
              f"target: the same   {verdict(counts[0] == counts[1])}")

    print()
    print(f"done in {time.monotonic() - started:.0f} s; load average {load_average()} "
          f"(other processes on the machine make the figures noisy; compare ratios, and re-run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
