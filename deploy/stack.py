"""The whole production stack on one machine: nginx → gunicorn → PostgreSQL, Redis, the mail worker.

    deploy/stack start|stop|status [--run-dir DIR]     (or: make stack-start / make stack-stop)

``start`` renders deploy/nginx.conf with envsubst into RUN_DIR, creates the database if it is
missing and migrates it (``flask db upgrade``), uses Redis at RATELIMIT_STORAGE_URI (or starts a
redis-server of its own on a free port when nothing answers there), then starts gunicorn
(deploy/gunicorn.conf.py, PORTAL_PROXY_HOPS=1), the mail worker and nginx, each in a session of
its own, writes each PID into RUN_DIR/pids/ and returns once nginx answers /healthz. ``stop``
signals exactly those PIDs (after checking each is still the program it started: a PID can be
reused) and waits until they and their process groups are gone. ``status`` says which run.

Settings come from the environment (the systemd units read the same ones from an
EnvironmentFile): DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/portal),
PORTAL_RATELIMIT_STORAGE_URI (default redis://127.0.0.1:6379), STACK_LISTEN (nginx; the command's
default 127.0.0.1:8080, start()'s a free port), STACK_UPSTREAM (gunicorn, default a free
127.0.0.1 port), WEB_CONCURRENCY (default 3), RUN_DIR (default instance/stack), STACK_DEMO=1
(load the demo data if empty); every other PORTAL_* setting is handed to the app unchanged.

Standard library (and SQLAlchemy for CREATE DATABASE): bench/ and tests/ import it (``start``,
``stop``) so the stack they measure and test is the one this command starts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
NGINX = os.environ.get("STACK_NGINX", "/usr/sbin/nginx")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
PLACEHOLDERS = "${LISTEN} ${UPSTREAM} ${STATIC_DIR} ${RUN_DIR}"
# Started last, stopped first: nginx stops taking requests before the app goes away.
ORDER = ("redis", "gunicorn", "mail", "nginx")


@dataclass
class Stack:
    """What ``start`` started, as written to RUN_DIR/stack.json."""

    run_dir: str
    listen: str  # nginx, host:port
    upstream: str  # gunicorn, host:port
    database_url: str
    redis_url: str
    pids: dict[str, int] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # name -> nginx listen address of an extra upstream

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.listen.rsplit(":", 1)
        return host, int(port)

    def address_of(self, name: str) -> tuple[str, int]:
        host, port = self.extra[name].rsplit(":", 1)
        return host, int(port)


class StackError(RuntimeError):
    pass


# ----------------------------------------------------------------------------- helpers


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def python() -> str:
    """The interpreter of the project's virtual environment (flask, gunicorn live there)."""
    venv = ROOT / ".venv" / "bin" / "python"
    if os.environ.get("STACK_PYTHON"):
        return os.environ["STACK_PYTHON"]
    if sys.prefix != sys.base_prefix or not venv.exists():
        return sys.executable
    return str(venv)


def pid_dir(run_dir: Path) -> Path:
    return run_dir / "pids"


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid`` (gunicorn's workers, nginx's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def reap(pid: int) -> None:
    """Collects the exit status when this process started ``pid`` itself (a test, a benchmark)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# What each PID file's process must look like before it is signalled (a reused PID is left alone).
SIGNATURES = {"redis": "redis-server", "gunicorn": "gunicorn", "mail": "mail deliver", "nginx": "nginx"}


def app_env(stack_env: dict[str, str], database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(stack_env)
    env["DATABASE_URL"] = database_url
    env["PORTAL_RATELIMIT_STORAGE_URI"] = redis_url
    env.pop("RATELIMIT_STORAGE_URI", None)
    env["PORTAL_PROXY_HOPS"] = "1"  # exactly nginx is trusted for X-Forwarded-*
    env.setdefault("WEB_CONCURRENCY", "3")
    return env


def flask(args: list[str], env: dict[str, str], log: Path) -> None:
    with open(log, "ab") as out:
        result = subprocess.run([python(), "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=600)
    if result.returncode != 0:
        raise StackError(f"`flask --app wsgi {' '.join(args)}` failed ({result.returncode}); see {log}:\n"
                         + tail(log))


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def ensure_database(url: str) -> None:
    """CREATE DATABASE on a PostgreSQL server when the named one is missing (SQLite needs nothing)."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool,
                          connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": target.database}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def render_nginx(run_dir: Path, listen: str, upstream: str, extra: dict[str, tuple[str, str]]) -> Path:
    """deploy/nginx.conf through envsubst into RUN_DIR/nginx.conf. ``extra`` (name -> (listen,
    upstream)) adds servers that are copies of the portal's, each in front of another app: the
    benchmarks' one-route app sits behind the very same nginx, settings and all."""
    values = {"LISTEN": listen, "UPSTREAM": upstream, "STATIC_DIR": str(ROOT / "static"), "RUN_DIR": str(run_dir)}
    source = (ROOT / "deploy" / "nginx.conf").read_text()
    envsubst = shutil.which("envsubst")
    if envsubst:
        text = subprocess.run([envsubst, PLACEHOLDERS], input=source, capture_output=True, text=True,
                              env={**os.environ, **values}, check=True).stdout
    else:  # gettext-base missing: the same substitution of exactly those four names
        text = Template(source).safe_substitute(values)
    for name, (extra_listen, extra_upstream) in extra.items():
        text = add_server(text, name, extra_listen, extra_upstream)
    config = run_dir / "nginx.conf"
    config.write_text(text)
    return config


def _block(text: str, opening: str) -> tuple[int, int]:
    """Start and end (after its closing brace) of the first block that ``opening`` begins."""
    match = re.search(opening, text)
    if match is None:
        raise StackError(f"deploy/nginx.conf has no block matching {opening!r}")
    depth, i = 0, text.index("{", match.start())
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return match.start(), i + 1
        i += 1
    raise StackError(f"unbalanced braces after {opening!r} in deploy/nginx.conf")


def add_server(text: str, name: str, listen: str, upstream: str) -> str:
    start, end = _block(text, r"\n\s*server\s*\{")
    server = text[start:end]
    server = re.sub(r"listen\s+[^;]+;", f"listen {listen};", server, count=1)
    server = server.replace("proxy_pass http://portal;", f"proxy_pass http://{name};")
    up_start, _ = _block(text, r"\n\s*upstream\s+portal\s*\{")
    upstream_block = f"\n    upstream {name} {{\n        server {upstream};\n    }}\n"
    text = text[:end] + "\n" + server + text[end:]
    return text[:up_start] + upstream_block + text[up_start:]


def spawn(name: str, command: list[str], run_dir: Path, env: dict[str, str]) -> int:
    """Starts ``command`` in a session of its own (it outlives this command), logs to RUN_DIR/NAME.log,
    records its PID."""
    with open(run_dir / f"{name}.log", "ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    (pid_dir(run_dir) / f"{name}.pid").write_text(f"{process.pid}\n")
    # Popen objects of detached children are dropped on purpose; stop() waits by PID.
    process.returncode = 0  # keep Python from warning that it is still running at exit
    return process.pid


def wait_until(check, what: str, pid: int, log: Path, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            raise StackError(f"{what} exited while starting; see {log}:\n{tail(log)}")
        if check():
            return
        time.sleep(0.1)
    raise StackError(f"{what} did not come up within {seconds:g} s; see {log}:\n{tail(log)}")


def healthy(listen: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{listen}/healthz", timeout=3) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


# ----------------------------------------------------------------------------- start / stop / status


def start(run_dir: Path | str | None = None, env: dict[str, str] | None = None,
          extra: dict[str, tuple[str, str]] | None = None) -> Stack:
    """Starts the stack (see the module's docstring) and returns what runs; stops what it started
    if any part fails. ``env`` replaces os.environ for the settings; ``extra`` (name -> (nginx
    listen, upstream)) puts other apps behind the same nginx."""
    env = dict(os.environ if env is None else env)
    run = Path(run_dir or env.get("RUN_DIR") or ROOT / "instance" / "stack").resolve()
    run.mkdir(parents=True, exist_ok=True)
    pid_dir(run).mkdir(exist_ok=True)
    if any(pid_dir(run).glob("*.pid")):
        raise StackError(f"{run} holds PID files of a running stack: `deploy/stack stop --run-dir {run}` first")
    # nginx started by root runs its workers as nobody: they write temporary files under RUN_DIR.
    os.chmod(run, 0o777)
    if os.geteuid() == 0:
        # ... and must reach it: a parent closed to others (a mkdtemp folder) would leave every
        # request failing on the cache with "Permission denied"; say so now, not after 60 s.
        closed = [p for p in run.parents if not os.stat(p).st_mode & 0o001]
        if closed:
            raise StackError(f"nginx's workers (nobody) cannot reach {run}: {closed[0]} is closed to others "
                             f"(chmod o+x {closed[0]}, or choose another RUN_DIR)")

    database_url = env.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = env.get("PORTAL_RATELIMIT_STORAGE_URI") or env.get("RATELIMIT_STORAGE_URI") or DEFAULT_REDIS
    listen = env.get("STACK_LISTEN") or f"127.0.0.1:{free_port()}"
    upstream = env.get("STACK_UPSTREAM") or f"127.0.0.1:{free_port()}"
    stack = Stack(str(run), listen, upstream, database_url, redis_url)
    try:
        if not redis_answers(redis_url):
            port = free_port()
            stack.redis_url = f"redis://127.0.0.1:{port}"
            stack.pids["redis"] = spawn("redis", [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port),
                                                  "--save", "", "--appendonly", "no", "--dir", str(run)], run, env)
            wait_until(lambda: redis_answers(stack.redis_url), "redis-server", stack.pids["redis"], run / "redis.log")
        app = app_env(env, database_url, stack.redis_url)
        ensure_database(database_url)
        flask(["db", "upgrade"], app, run / "migrate.log")
        if env.get("STACK_DEMO") == "1":
            flask(["portal", "demo", "--if-empty"], app, run / "migrate.log")

        app["PORTAL_BIND"] = upstream
        stack.pids["gunicorn"] = spawn("gunicorn", [python(), "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                                                    "wsgi:app"], run, app)
        host, port = upstream.rsplit(":", 1)
        wait_until(lambda: answers(host, int(port)), "gunicorn", stack.pids["gunicorn"], run / "gunicorn.log")
        stack.pids["mail"] = spawn("mail", [python(), "-m", "flask", "--app", "wsgi", "mail", "deliver"], run, app)

        stack.extra = {name: pair[0] for name, pair in (extra or {}).items()}
        config = render_nginx(run, listen, upstream, extra or {})
        checked = subprocess.run([NGINX, "-t", "-q", "-c", str(config), "-g", "daemon off;"],
                                 capture_output=True, text=True)
        if checked.returncode != 0:
            raise StackError(f"nginx -t refused {config}:\n{checked.stderr}")
        stack.pids["nginx"] = spawn("nginx", [NGINX, "-c", str(config), "-g", "daemon off;"], run, env)
        wait_until(lambda: healthy(listen), "nginx → gunicorn /healthz", stack.pids["nginx"], run / "error.log")
        if not alive(stack.pids["mail"]):
            raise StackError(f"the mail worker exited; see {run / 'mail.log'}:\n{tail(run / 'mail.log')}")
    except BaseException:
        stop(run)
        raise
    (run / "stack.json").write_text(json.dumps(asdict(stack), indent=2))
    return stack


def stop(run_dir: Path | str | None = None, timeout: float = 30) -> list[str]:
    """Stops every process whose PID file is in RUN_DIR/pids (nginx first) and waits until it and
    its process group are gone. Returns what it stopped."""
    run = Path(run_dir or os.environ.get("RUN_DIR") or ROOT / "instance" / "stack").resolve()
    stopped = []
    for name in reversed(ORDER):
        pid_file = pid_dir(run) / f"{name}.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text().split()[0])
        if alive(pid) and SIGNATURES[name] in command_line(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while (alive(pid) or group_members(pid)) and time.monotonic() < deadline:
                reap(pid)
                time.sleep(0.1)
            if alive(pid) or group_members(pid):
                for member in [pid, *group_members(pid)]:
                    try:
                        os.kill(member, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.5)
            reap(pid)
            stopped.append(f"{name} ({pid})")
        pid_file.unlink()
    (run / "stack.json").unlink(missing_ok=True)
    return stopped


def status(run_dir: Path | str | None = None) -> dict[str, tuple[int, bool]]:
    run = Path(run_dir or os.environ.get("RUN_DIR") or ROOT / "instance" / "stack").resolve()
    found = {}
    for name in ORDER:
        pid_file = pid_dir(run) / f"{name}.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            found[name] = (pid, alive(pid) and SIGNATURES[name] in command_line(pid))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--run-dir", help="PID files, logs, nginx.conf (default $RUN_DIR or instance/stack)")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            env = dict(os.environ)
            env.setdefault("STACK_LISTEN", "127.0.0.1:8080")
            stack = start(args.run_dir, env)
            print(f"stack: nginx http://{stack.listen}/ → gunicorn {stack.upstream} "
                  f"(database {stack.database_url.split('@')[-1]}, redis {stack.redis_url})")
            print(f"stack: PIDs {', '.join(f'{k} {v}' for k, v in stack.pids.items())} in {stack.run_dir}/pids")
        elif args.action == "stop":
            stopped = stop(args.run_dir)
            print("stack: stopped " + (", ".join(stopped) if stopped else "nothing (no PID files)"))
        else:
            found = status(args.run_dir)
            for name, (pid, running) in found.items():
                print(f"{name:<9} {pid:<8} {'running' if running else 'NOT running'}")
            if not found:
                print("stack: not started (no PID files)")
            return 0 if found and all(running for _, running in found.values()) else 3
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
