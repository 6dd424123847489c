"""gunicorn for the portal, behind deploy/nginx.conf (never facing the internet itself).

    PORTAL_PROXY_HOPS=1 gunicorn -c deploy/gunicorn.conf.py wsgi:app

Sync workers (PORTAL_THREADS=1, the default) serve one request each: fine behind nginx, which
hands them only whole requests and takes their answers at once, and fatal in front of slow
clients (two clients sending a header line every 2 s held both workers of a 2-worker site for
32 s). PORTAL_THREADS=N runs gthread workers of N threads instead; measured on the seminar day
(bench/seminar_day.py, 1,200 questions, 2 workers) they were worse: poll p95 133 ms against
63 ms with sync workers, the app's CPU 0.79 cores against 0.61 (the threads of a worker contend
for one interpreter). Workers: one per core + 1. Each keeps its own snapshot of the live
Q&A list and renews it twice a second, so more workers cost more renewals: on this 2-core
machine 5 workers made the poll p95 831 ms, where 3 workers did better than 2 in two
back-to-back pairs (poll p95 256 vs 456 ms and 102 vs 196 ms; bench/seminar_day.py, short
runs). Settings by environment: PORTAL_BIND (default 127.0.0.1:8000), WEB_CONCURRENCY
(workers, default cores + 1), PORTAL_THREADS (default 1).
"""

import multiprocessing
import os

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("PORTAL_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"

# A request that runs longer than this is killed and its worker replaced. The database gives up
# well before (DATABASE_STATEMENT_TIMEOUT_MS 10 s, lock 5 s, pool 10 s), so a hung database
# answers an error page, not a killed worker; nginx waits a little longer (proxy_read_timeout 35 s).
timeout = 30
graceful_timeout = 30
keepalive = 2  # only nginx connects

# Requests nginx would refuse anyway (large_client_header_buffers 8 8k) are refused here too.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# A worker replaced now and then bounds what any leak can cost. Not too often: a new worker
# imports the app and compiles its templates and queries again (about a second of CPU); at a
# seminar's 150 requests/s, 2,000 requests replaced each worker every 25 s.
max_requests = 50000
max_requests_jitter = 5000

# Each worker imports the app itself (no state shared through a fork: database pools, the
# change watch's connection, the health probe's thread).
preload_app = False

# No control socket under ~/.gunicorn/ (STACK.md): nothing administers workers but signals.
control_socket_disable = True

accesslog = "-"
errorlog = "-"


def post_worker_init(worker) -> None:
    """Once the worker has imported the app, its objects (modules, templates, mappers: ~140,000)
    go to the collector's permanent generation. A full collection scanned them all: 70–90 ms
    with the worker stalled (in process, on this machine), and a live seminar's snapshot
    renewals make objects that live long enough to bring one on. Now it scans what was made
    since. Measured on the seminar day (bench/seminar_day.py, same code otherwise): poll p95
    139 → 54 ms, votes 167 → 63 ms; the machine was faster in the second run (one-route app
    1,192 → 1,458 req/s)."""
    import gc

    gc.freeze()
