"""Calendar feed benchmark: /calendar.ics (200 and 304) and /seminars/<id>.ics under gunicorn.

    .venv/bin/python bench/feeds.py [--duration 5] [--concurrency 8] [--database-url URL]

What it measures (see bench/README.md), with 500 and then 1,000 published seminars:

1. Requests per second of ``GET /calendar.ics`` answered 200 (the feed unchanged since the
   workers built it), of the same request with ``If-None-Match`` set to the current ETag
   (answered 304) and of ``GET /seminars/<id>.ics``, under gunicorn (the portal's workers,
   ``--no-control-socket``, a free 127.0.0.1 port), each as a ratio to a one-route
   ``Flask(__name__)`` app served the same way in the same run, in alternating rounds.
2. The byte size of the feeds.
3. The cold build of the public feed in-process: ``feeds.public_feed().events()`` and
   ``ics.calendar_bytes`` over them, in a fresh app context each time, as ms per event and the
   ratio between 1,000 and 500 events (linear growth keeps the per-event cost flat).

When a target misses, one request of the missing kind (or the cold build) is profiled
in-process with cProfile and the top entries are printed. Targets are printed next to the
figures as PASS/MISS; the script never asserts on timings and exits 0 once it has printed its
figures (non-zero only when the setup itself fails). Helpers (databases, gunicorn) come from
bench/pages.py.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import http.client
import io
import multiprocessing
import os
import pstats
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pages import (
    HELLO_APP,
    ROOT,
    SECRET_KEY,
    BehindNginx,
    Databases,
    Gunicorn,
    add_database_options,
    add_load_options,
    app_env,
    check_load_options,
    client_process,
    flask,
    in_scratch,
    load_average,
    load_line,
    summarize,
    verdict,
)

TARGET_304_RATIO = 0.8  # a 304 at least 0.8x the one-route app
TARGET_200_RATIO = 0.3  # an unchanged feed (200) at least 0.3x the one-route app
TARGET_BUILD_MS_PER_EVENT = 0.15  # cold build of the public feed
TARGET_LINEAR = 1.25  # per-event cost at 1,000 events at most 1.25x that at 500
EVENT_COUNTS = (500, 1000)
START_DELAY = 0.4  # seconds for the (already running) client processes to pick up a task

FEEDS_SERIES = "フィード用ベンチマーク オンラインセミナー"
ORGANIZATIONS = [
    ("横浜市", "スマートシティ推進課"),
    ("会津若松市", "デジタル戦略室"),
    ("加古川市", None),
    ("株式会社スマートシティ技研", "ソリューション事業部"),
    ("国土交通省 都市局", "都市計画課"),
    ("一般社団法人 データ連携推進機構", None),
]
TALKS = [
    ("データ連携基盤の導入と運用", ["導入の経緯", "運用体制と費用負担"]),
    ("官民連携による交通データの活用", ["実証の概要", "得られた知見", "今後の展開"]),
    ("住民参加型のまちづくりとデジタル技術", ["合意形成の進め方"]),
    ("エネルギーマネジメントの実装事例", ["地域新電力との連携", "効果の測定"]),
    ("防災・減災へのデータ活用", ["避難所情報の共有", "平時からの訓練"]),
]


# ----------------------------------------------------------------------------- data


def feed_seminars(first: int, last: int, fy: int) -> dict[str, Any]:
    """An import file with published seminars number ``first``..``last`` in fiscal year ``fy``.

    Each has a program of 2–4 items (an opening, one to two talks with presenters, a
    discussion or Q&A), so the feed's DESCRIPTION is as long as a real one.
    """
    start_day = date(fy, 4, 1)
    seminars = []
    for i in range(first, last + 1):
        org = ORGANIZATIONS[i % len(ORGANIZATIONS)]
        other = ORGANIZATIONS[(i + 2) % len(ORGANIZATIONS)]
        talk = TALKS[i % len(TALKS)]
        program: list[dict[str, Any]] = [
            {"start": "15:30", "title": "開会・趣旨説明", "points": ["本日のプログラム紹介"],
             "presenters": [{"organization": "国土交通省 都市局", "department": "都市計画課"}]},
            {"start": "15:40", "title": talk[0], "points": talk[1],
             "presenters": [{"organization": org[0], "department": org[1], "point": 0}]},
        ]
        items = 2 + i % 3  # 2, 3 or 4 items
        if items >= 3:
            second = TALKS[(i + 1) % len(TALKS)]
            program.append({"start": "16:10", "title": second[0], "points": second[1],
                            "presenters": [{"organization": other[0], "department": other[1]},
                                           {"organization": "株式会社スマートシティ技研", "person": "山田 太郎"}]})
        if items == 4:
            program.append({"start": "16:40", "title": "質疑応答・意見交換",
                            "notes": ["ご質問は「質問」からご記入ください。"]})
        seminars.append({
            "key": f"feeds-{i:04d}", "series": FEEDS_SERIES, "fiscal_year": fy, "number": i,
            "title": f"{talk[0]}（第{i}回）",
            "date": (start_day + timedelta(days=(i - 1) % 360)).isoformat(),
            "start": "15:30", "end": "17:00", "status": "published", "capacity": 100,
            "registration": "open", "qa": "open", "program": program,
        })
    return {
        "series": [{"name": FEEDS_SERIES, "fiscal_year": fy, "description": "フィードのベンチマーク用データ"}],
        "seminars": seminars,
    }


def import_seminars(app, first: int, last: int, fy: int) -> float:
    from portal.core.db import db
    from portal.imports.operations import import_data

    began = time.perf_counter()
    with app.app_context():
        import_data(feed_seminars(first, last, fy))
        db.session.commit()
    return time.perf_counter() - began


def seminar_id(app, key: str) -> int:
    from sqlalchemy import select

    from portal.core.db import db
    from portal.seminars.models import Seminar

    with app.app_context():
        found = db.session.scalar(select(Seminar.id).where(Seminar.key == key))
    if found is None:
        raise SystemExit(f"seminar {key} not found after the import")
    return found


# ----------------------------------------------------------------------------- load generator


def fetch(port: int, path: str, headers: dict[str, str] | None = None,
          timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _ready() -> int:
    time.sleep(0.3)  # keeps this process busy, so the pool starts all of its processes
    return os.getpid()


class LoadGenerator:
    """``concurrency`` clients in ``processes`` client processes, started once for the run (so
    a measurement does not wait for processes to start)."""

    def __init__(self, concurrency: int, processes: int):
        self.processes = max(1, min(processes, concurrency))
        self.shares = [concurrency // self.processes + (i < concurrency % self.processes)
                       for i in range(self.processes)]
        self.pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"))

    def __enter__(self) -> LoadGenerator:
        for future in [self.pool.submit(_ready) for _ in range(self.processes)]:
            future.result(timeout=120)
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)  # every client stops at its deadline

    def run(self, port: int, path: str, headers: dict[str, str], expect: int, *,
            warmup: float, duration: float) -> dict[str, Any]:
        start_at = time.time() + START_DELAY + warmup
        stop_at = start_at + duration
        futures = [self.pool.submit(client_process, port, path, n, start_at, stop_at, headers, expect)
                   for n in self.shares]
        totals: dict[str, Any] = {"ok": 0, "other": 0, "errors": 0, "bytes": 0, "latencies": []}
        for future in futures:
            part = future.result(timeout=stop_at - time.time() + 120)
            for key in ("ok", "other", "errors", "bytes"):
                totals[key] += part[key]
            totals["latencies"].extend(part["latencies"])
        totals["seconds"] = duration
        return totals


# ----------------------------------------------------------------------------- in-process


class GcClock:
    """Time spent in Python's cyclic garbage collector while it is installed (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._began = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began
            self.collections += 1

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def cold_build(app, repeats: int) -> dict[str, Any]:
    """The public feed built from scratch: events() (queries, ORM, Event objects), then
    calendar_bytes; each repetition in a fresh app context (a new session), after one untimed
    warm-up. Medians over ``repeats``; the time the garbage collector took is counted too."""
    from portal.calendar import feeds
    from portal.calendar.ics import calendar_bytes

    events_s, bytes_s, gc_s = [], [], []
    count = size = 0
    for r in range(repeats + 1):
        with app.app_context(), GcClock() as collector:
            began = time.perf_counter()
            feed = feeds.public_feed()
            events = feed.events()
            built = time.perf_counter()
            body = calendar_bytes(feed.name, events)
            ended = time.perf_counter()
        if r:
            events_s.append(built - began)
            bytes_s.append(ended - built)
            gc_s.append(collector.seconds)
        count, size = len(events), len(body)
    totals = [a + b for a, b in zip(events_s, bytes_s, strict=True)]
    total = statistics.median(totals)
    return {
        "events": count, "bytes": size, "repeats": repeats,
        "events_ms": statistics.median(events_s) * 1000, "bytes_ms": statistics.median(bytes_s) * 1000,
        "gc_ms": statistics.median(gc_s) * 1000, "total_ms": total * 1000, "min_ms": min(totals) * 1000,
        "per_event_ms": total * 1000 / count if count else float("nan"),
    }


def print_profile(profile: cProfile.Profile, calls: int, top: int) -> None:
    """The ``top`` functions by own time, per call of what was profiled (the profiler's own
    overhead inflates functions that are called very often)."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename
        for marker in ("/site-packages/", str(ROOT) + "/"):
            if marker in where:
                where = where.split(marker, 1)[1]
        rows.append((tottime, cumtime, ncalls, f"{where}:{line}({name})" if line else name))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    print(f"    cProfile, top {top} by own time "
          f"(ms per profiled call; all own time together {total * 1000 / calls:.2f} ms)")
    print(f"    {'own ms':>8} {'cum ms':>8} {'calls':>7}  function")
    for tottime, cumtime, ncalls, name in rows[:top]:
        print(f"    {tottime * 1000 / calls:8.3f} {cumtime * 1000 / calls:8.3f} {ncalls / calls:7.1f}  {name}")


def per_call_ms(func, calls: int) -> float:
    """Median ms of ``func()`` over ``calls`` calls, in batches of ten."""
    batches = []
    for _ in range(max(1, calls // 10)):
        began = time.perf_counter()
        for _ in range(10):
            func()
        batches.append((time.perf_counter() - began) * 100)
    return statistics.median(batches)


def profile_requests(app, path: str, headers: dict[str, str], expect: int, calls: int, top: int) -> None:
    """One kind of request through the test client: ms per request, the SQL statements and the
    time of the feed's version (the aggregate queries behind ETag), then cProfile."""
    from sqlalchemy import event

    from portal.calendar import feeds
    from portal.core.db import db

    client = app.test_client()
    status = 0
    for _ in range(3):  # warm-up: the first request of a version builds the feed
        status = client.get(path, headers=headers).status_code
    request_ms = per_call_ms(lambda: client.get(path, headers=headers), calls)

    statements = [0]

    def on_execute(*_args: object) -> None:
        statements[0] += 1

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            client.get(path, headers=headers)
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
        version_ms = per_call_ms(lambda: feeds.validator(feeds.public_feed()), calls)
        db.session.rollback()
    label = f"GET {path}" + (" with If-None-Match" if headers else "")
    print(f"  {label} (test client): status {status} (expected {expect}); {request_ms:.2f} ms per request, "
          f"{statements[0]} SQL statements; the public feed's validator alone (feeds.validator: "
          f"the versions query) {version_ms:.2f} ms")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        client.get(path, headers=headers)
    profile.disable()
    print_profile(profile, calls, top)


def profile_build(app, top: int) -> None:
    """The cold build split into the load (seminars with series, program and presenters, as
    plain rows), the Event objects and the bytes, with the garbage collector's share; then
    cProfile."""
    from portal.calendar import feeds
    from portal.calendar.events import seminar_event
    from portal.calendar.ics import calendar_bytes

    with app.app_context(), GcClock() as collector:
        began = time.perf_counter()
        seminars = feeds.seminar_facts()
        loaded = time.perf_counter()
        load_gc = collector.seconds
        events = [e for e in (seminar_event(s) for s in seminars) if e]
        made = time.perf_counter()
        calendar_bytes("bench", events)
        ended = time.perf_counter()
    print(f"  cold build, {len(seminars)} seminars: "
          "load (seminar_facts: seminars with series, program items, presenters) "
          f"{(loaded - began) * 1000:.1f} ms, of which garbage collection {load_gc * 1000:.1f} ms; "
          f"seminar_event {(made - loaded) * 1000:.1f} ms; calendar_bytes {(ended - made) * 1000:.1f} ms; "
          f"garbage collection in all {collector.seconds * 1000:.1f} ms in {collector.collections} collections")
    profile = cProfile.Profile()
    with app.app_context():
        profile.enable()
        feed = feeds.public_feed()
        calendar_bytes(feed.name, feed.events())
        profile.disable()
    print_profile(profile, 1, top)


def hello_in_process(hello_dir: Path, calls: int) -> float:
    """ms per ``GET /`` of the one-route app through its test client (no gunicorn, no sockets)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_hello", hello_dir / "hello.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    client = module.app.test_client()
    client.get("/")
    return per_call_ms(lambda: client.get("/"), calls)


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_options(parser)
    parser.add_argument("--build-repeats", type=int, default=5,
                        help="timed repetitions of the in-process cold build (default 5)")
    parser.add_argument("--profile", choices=("miss", "always", "never"), default="miss",
                        help="profile in-process what misses its target (default), everything, or nothing")
    parser.add_argument("--profile-top", type=int, default=12, help="functions listed per profile (default 12)")
    add_database_options(parser, "database to use (migrated, gets the script's seminars, kept; the feed then "
                                 "also holds what it already had)")
    args = parser.parse_args()
    check_load_options(parser, args)
    if not 1 <= args.build_repeats <= 50 or not 1 <= args.profile_top <= 100:
        parser.error("--build-repeats 1..50, --profile-top 1..100")

    return in_scratch(args, "feeds", run)


def run(args: argparse.Namespace, scratch: Path, databases: Databases, started: float) -> int:
    from portal import create_app
    from portal.core.dates import fiscal_year, today_local
    from portal.core.db import db

    print(load_line(args, f"for {' and '.join(str(n) for n in EVENT_COUNTS)} events"))

    url = args.database_url or databases.create("load")
    env = app_env(url, scratch)
    flask(["db", "upgrade"], env)
    app = create_app({
        "DATABASE_URL": url, "SECRET_KEY": SECRET_KEY,
        "MAIL_FILE_DIR": str(scratch / "mail"), "UPLOAD_DIR": str(scratch / "uploads"),
    })
    fy = fiscal_year(today_local()) + 1  # ahead: published and upcoming
    seconds = import_seminars(app, 1, EVENT_COUNTS[0], fy)
    print(f"database: {'given by --database-url' if args.database_url else 'private ' + databases.kind}, "
          f"schema by `flask db upgrade`; {EVENT_COUNTS[0]} published seminars imported with import_data "
          f"in {seconds:.1f} s (programs of 2-4 items with presenters)")
    one_id = seminar_id(app, "feeds-0001")

    hello_dir = scratch / "hello"
    hello_dir.mkdir()
    (hello_dir / "hello.py").write_text(HELLO_APP)
    hello_env = dict(os.environ)
    for name in ("DATABASE_URL", "SECRET_KEY"):
        hello_env.pop(name, None)

    per_round = args.duration / args.rounds
    phases: list[dict[str, Any]] = []
    with (
        Gunicorn("hello:app", hello_dir, hello_env, args.workers, scratch / "gunicorn-hello.log") as hello,
        BehindNginx(env, scratch, args.workers, hello) as portal,
        LoadGenerator(args.concurrency, args.client_processes) as clients,
    ):
        for count in EVENT_COUNTS:
            phase: dict[str, Any] = {"count": count}
            if count != EVENT_COUNTS[0]:
                seconds = import_seminars(app, EVENT_COUNTS[0] + 1, count, fy)
                print(f"imported seminars {EVENT_COUNTS[0] + 1}..{count} in {seconds:.1f} s")
            status, headers, body = fetch(portal.port, "/calendar.ics")
            etag = headers.get("ETag", "")
            if status != 200 or not etag:
                raise SystemExit(f"/calendar.ics answered {status} (ETag {etag!r}):\n{portal.log_tail()}")
            phase["feed_bytes"] = len(body)
            phase["feed_events"] = body.count(b"BEGIN:VEVENT")
            status304, _h, _b = fetch(portal.port, "/calendar.ics", {"If-None-Match": etag})
            seminar_status, _h, seminar_body = fetch(portal.port, f"/seminars/{one_id}.ics")
            phase["seminar_bytes"] = len(seminar_body)
            if status304 != 304 or seminar_status != 200:
                print(f"warning: If-None-Match answered {status304}, /seminars/{one_id}.ics answered {seminar_status}")
            targets = {
                "one-route app  GET /": (portal.hello_port, "/", {}, 200),
                "GET /calendar.ics  200": (portal.port, "/calendar.ics", {}, 200),
                "GET /calendar.ics  304": (portal.port, "/calendar.ics", {"If-None-Match": etag}, 304),
                f"GET /seminars/{one_id}.ics": (portal.port, f"/seminars/{one_id}.ics", {}, 200),
            }
            # Rounds alternate the targets, so a change in the machine's other load hits all alike.
            parts: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
            for r in range(args.rounds):
                for name, (port, path, request_headers, expect) in targets.items():
                    warmup = args.warmup if r == 0 else 0.0
                    parts[name].append(clients.run(port, path, request_headers, expect,
                                                   warmup=warmup, duration=per_round))
            phase["figures"] = {name: summarize(p) | {"bytes": sum(x["bytes"] for x in p)}
                                for name, p in parts.items()}
            phase["build"] = cold_build(app, args.build_repeats)  # the load has stopped: CPU to itself
            phase["log"] = portal.log_tail()
            phases.append(phase)
            print(f"measured {count} events ({time.monotonic() - started:.0f} s so far)")

    print()
    print("throughput (requests/s answered with the expected status, 200 or 304; latency of those answers)")
    misses: set[str] = set()
    for phase in phases:
        figures = phase["figures"]
        baseline = figures["one-route app  GET /"]["rps"]
        print(f"  {phase['count']} published events ({phase['feed_events']} in the feed); "
              f"feed {phase['feed_bytes']:,} bytes "
              f"({phase['feed_bytes'] / max(1, phase['feed_events']):,.0f} per event), "
              f"one seminar's feed {phase['seminar_bytes']:,} bytes")
        for name, f in figures.items():
            line = (f"    {name:<26} {f['rps']:8.1f} req/s   p50 {f['p50_ms']:6.1f} ms   p95 {f['p95_ms']:6.1f} ms"
                    f"   ok {f['ok']}  other {f['other']}  errors {f['errors']}")
            if len(f["rounds"]) > 1:
                line += f"\n    {'':<26} per round: {' '.join(f'{x:.0f}' for x in f['rounds'])} req/s"
            if not name.startswith("one-route"):
                ratio = f["rps"] / baseline if baseline else 0.0
                line += f"\n    {'':<26} ratio to one-route app {ratio:.3f}x"
                if name.endswith("304"):
                    line += f"   target >= {TARGET_304_RATIO}x   {verdict(ratio >= TARGET_304_RATIO)}"
                    if ratio < TARGET_304_RATIO:
                        misses.add("304")
                elif name.endswith("200"):
                    line += f"   target >= {TARGET_200_RATIO}x   {verdict(ratio >= TARGET_200_RATIO)}"
                    if ratio < TARGET_200_RATIO:
                        misses.add("200")
                else:
                    line += "   (no target)"
            print(line)
        if any(f["other"] or f["errors"] for f in figures.values()):
            print("    (other answers or connection errors above; portal log tail:)\n" + phase["log"])

    print()
    print(f"cold build of the public feed, in-process (feeds.public_feed().events() + ics.calendar_bytes, "
          f"fresh app context each time; median of {args.build_repeats} after a warm-up)")
    for phase in phases:
        b = phase["build"]
        ok = b["per_event_ms"] <= TARGET_BUILD_MS_PER_EVENT
        if not ok:
            misses.add("build")
        print(f"  {b['events']:>5} events  {b['total_ms']:7.1f} ms "
              f"(min {b['min_ms']:.1f}; events() {b['events_ms']:.1f} ms "
              f"+ calendar_bytes {b['bytes_ms']:.1f} ms; garbage collection {b['gc_ms']:.1f} ms of it)  "
              f"{b['bytes']:,} bytes   "
              f"{b['per_event_ms']:.4f} ms per event   target <= {TARGET_BUILD_MS_PER_EVENT} ms   {verdict(ok)}")
    if len(phases) == 2:
        small, large = phases[0]["build"], phases[1]["build"]
        total_ratio = large["total_ms"] / small["total_ms"]
        per_event_ratio = large["per_event_ms"] / small["per_event_ms"]
        ok = per_event_ratio <= TARGET_LINEAR
        if not ok:
            misses.add("build")
        print(f"  ratio {large['events']}/{small['events']} events: total {total_ratio:.2f}x (2.00 = linear), "
              f"per event {per_event_ratio:.2f}x (1.00 = linear)   "
              f"target: per event <= {TARGET_LINEAR}x   {verdict(ok)}")

    wanted = {"never": set(), "always": {"200", "304", "build"}, "miss": misses}[args.profile]
    if wanted:
        print()
        print(f"where the time goes ({'targets that missed' if args.profile == 'miss' else 'every target'}; "
              f"in-process on the same database, {phases[-1]['feed_events']} events, no gunicorn; medians)")
        print(f"  one-route app GET / (test client): {hello_in_process(hello_dir, 500):.3f} ms per request")
        client = app.test_client()
        client.get("/healthz")
        print(f"  portal GET /healthz (test client; the portal's per-request cost with one `SELECT 1`): "
              f"{per_call_ms(lambda: client.get('/healthz'), 200):.3f} ms per request")
        if "304" in wanted:
            etag = app.test_client().get("/calendar.ics").headers["ETag"]
            profile_requests(app, "/calendar.ics", {"If-None-Match": etag}, 304, 200, args.profile_top)
        if "200" in wanted:
            profile_requests(app, "/calendar.ics", {}, 200, 100, args.profile_top)
        if "build" in wanted:
            profile_build(app, args.profile_top)
    with app.app_context():
        db.engine.dispose()

    print()
    print(f"done in {time.monotonic() - started:.0f} s; load average {load_average()} "
          f"(other processes on the machine make the figures noisy; compare ratios, and re-run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
