"""Fixtures: real databases (SQLite, and PostgreSQL when TEST_DATABASE_URL is set), a real SMTP
server (aiosmtpd), factories for accounts, seminars and subcommittees, the helpers every suite
shares (log-in, CSRF, page text), and a live server driven by Debian's chromium.

Every test that takes ``app`` runs once per database: ids end in [sqlite] or [postgresql].

Layout: tests are laid out like the code (``tests/core``, ``tests/web``, one folder per domain);
the suites that try the whole app at once (the access matrix, fuzzing, layout, English, migrations,
smoke, browser) stay at the top. Test file names are unique across folders (there are no
``__init__.py`` files: a ``tests/calendar`` package would shadow the standard library's calendar),
and every suite imports the shared helpers with ``from conftest import ...``.
"""

from __future__ import annotations

import html as html_lib
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.core.db import db as _db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
DATABASES = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"databases: {', '.join(DATABASES)}"]
    if not TEST_DATABASE_URL:
        lines.append("PostgreSQL skipped: TEST_DATABASE_URL is not set")
    if not os.path.exists("/usr/bin/chromium"):
        lines.append("browser tests skipped: /usr/bin/chromium is not installed")
    return lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A database of this test session's own on the PostgreSQL server, dropped at the end."""
    if not TEST_DATABASE_URL:
        yield None
        return
    server = make_url(TEST_DATABASE_URL)
    name = f"portal_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path, postgres_url) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'portal.sqlite'}"
    return postgres_url


@pytest.fixture
def make_app(database_url: str, tmp_path):
    """Build an app on this test's database; ``make_app(MAIL_SERVER=…)`` for other settings.

    Flask-Mail reads its settings when the app is created, so a test that needs SMTP builds
    its app after starting the server.
    """
    apps = []

    def factory(**overrides: Any):
        config = {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            "MAIL_FILE_DIR": str(tmp_path / "mail"),
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "SECRETARIAT_EMAIL": "secretariat-box@example.org",
            "PORTAL_BASE_URL": "http://portal.test",
            "MAIL_SUPPRESS_SEND": False,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            # Many tests log in dozens of accounts from 127.0.0.1; rate limits and the
            # secretariat's second factor have their own tests, which switch them on.
            "RATELIMIT_ENABLED": False,
            "TOTP_REQUIRED_FOR_SECRETARIAT": False,
            # A test reads the list right after a vote; the snapshot's own test sets its age.
            "QA_LIVE_MAX_AGE_SECONDS": 0,
            "QA_LIVE_STALE_SECONDS": 0,
            **overrides,
        }
        app = create_app(config)
        if not apps:
            with app.app_context():
                _reset_schema()
        apps.append(app)
        return app

    yield factory
    for built in apps:
        with built.app_context():
            _db.session.remove()
            _db.engine.dispose()


def _reset_schema() -> None:
    if _db.engine.dialect.name == "postgresql":
        _db.drop_all()
    _db.create_all()


@pytest.fixture
def app(make_app):
    """The app. No app context is held across requests (as in production): each request gets
    its own session, so a view that forgets to commit fails its test. Use
    ``with app.app_context():`` to look at the database."""
    return make_app()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# ----------------------------------------------------------------------------- accounts


DEFAULT_PASSWORD = "correct-horse-battery"


@pytest.fixture
def create_user(app):
    """``create_user(role="member", state="active", email=None, org="テスト市")``"""
    from portal.accounts.models import AccountState, Membership, OrganizationKind, Role
    from portal.accounts.operations import create_user as _create
    from portal.accounts.operations import find_or_create_organization

    counter = iter(range(1, 10_000))

    def factory(role: str = "member", *, state: str = "active", email: str | None = None,
                name: str | None = None, org: str | None = "テスト市", password: str = DEFAULT_PASSWORD):
        """Returns the committed User, detached, with its columns loaded."""
        n = next(counter)
        with app.app_context():
            organization = None
            if org:
                membership = Membership.OBSERVER if role == "observer" else Membership.MEMBER
                organization = find_or_create_organization(org, OrganizationKind.MUNICIPALITY, membership)
            user = _create(
                email=email or f"{role}{n}@example.org", name=name or f"テスト {role} {n}",
                password=password, role=Role(role), organization=organization, state=AccountState(state),
            )
            _db.session.commit()
            _db.session.refresh(user)
            _db.session.expunge(user)
            return user

    return factory


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a rendered form."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, user_or_email, password: str = DEFAULT_PASSWORD, follow: bool = False):
        email = getattr(user_or_email, "email", user_or_email)
        return self.client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": csrf_token(self.client)},
            follow_redirects=follow,
        )

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")})

    def post(self, path: str, data: dict | None = None, **kwargs):
        """POST a form with this session's CSRF token (read from the log-in form, which every
        visitor and account gets; public pages carry no token for visitors)."""
        return self.client.post(path, data={**(data or {}), "csrf_token": csrf_token(self.client, "/login")}, **kwargs)


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


def logged_in(app, user, password: str = DEFAULT_PASSWORD) -> AuthActions:
    """A client of its own, logged in as ``user`` through the form (and sent home); a visitor's
    when ``user`` is None."""
    actions = AuthActions(app.test_client())
    if user is None:
        return actions
    response = actions.login(user, password)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert urlsplit(response.location).path == "/", response.location
    return actions


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers.get("Location", "")).path == "/login"


def is_logged_in(client) -> bool:
    """What a person notices: the account page opens, or they are sent to log in."""
    response = client.get("/account")
    if response.status_code == 200:
        return True
    assert is_login_redirect(response), (response.status_code, response.location)
    return False


# ----------------------------------------------------------------------------- pages


def get_html(client, path: str) -> str:
    """GET a page that must answer 200; its HTML."""
    response = client.get(path)
    assert response.status_code == 200, f"GET {path} -> {response.status_code}"
    return response.get_data(as_text=True)


def asks_first(response, action: str, mails: int | None) -> str:
    """A first post that only asks: the confirmation page (200), whose form posts ``action``
    again with ``confirmed=1`` and says how many people it mails (None: it mails nobody)."""
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    assert re.search(rf'<form method="post" action="{re.escape(action)}"', html), action
    assert '<input type="hidden" name="confirmed" value="1">' in html
    if mails is None:
        assert "data-mails=" not in html
    else:
        assert f'data-mails="{mails}"' in html
    return html


def page_text(html: str) -> str:
    """The visible text of a page: scripts, styles and tags dropped, entities decoded,
    whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


# ----------------------------------------------------------------------------- seminars


SERIES = "官民連携プラットフォーム オンラインセミナー"


def join_url(key: str) -> str:
    return f"https://example.org/webinar/{key}"


def seminar_record(key: str, *, day: date | None = None, days: int = 21, **fields: Any) -> dict[str, Any]:
    """An import record for a published seminar ``days`` from today (or on ``day``), 15:30–17:00
    in Tokyo, registration open, with a join link; ``fields`` override or add record fields."""
    from portal.core.dates import fiscal_year, today_local

    day = day or today_local() + timedelta(days=days)
    return {
        "key": key, "series": SERIES, "fiscal_year": fiscal_year(day), "number": 1,
        "title": f"テストセミナー {key}", "date": day.isoformat(), "start": "15:30", "end": "17:00",
        "status": "published", "registration": "open", "join_url": join_url(key),
        **fields,
    }


@pytest.fixture
def seminar_defaults() -> dict[str, Any]:
    """Record fields every ``make_seminar`` of a module starts from; a module overrides this
    fixture when all its seminars need the same thing (e.g. Q&A open and a program)."""
    return {}


@pytest.fixture
def make_seminar(app, seminar_defaults) -> Callable[..., int]:
    """``make_seminar(key, *, day=None, days=21, **record_fields) -> id``: a seminar imported
    through the importer (as the secretariat's JSON would be), committed."""
    from portal.imports.operations import import_data
    from portal.seminars.models import Seminar

    def factory(key: str, *, day: date | None = None, days: int = 21, **fields: Any) -> int:
        record = seminar_record(key, day=day, days=days, **{**seminar_defaults, **fields})
        with app.app_context():
            import_data({"seminars": [record]})
            _db.session.commit()
            return _db.session.scalar(select(Seminar.id).where(Seminar.key == key))

    return factory


def register_accounts(app, seminar_id: int, *users) -> list:
    """Register accounts through the service (as the registration form does); their states."""
    from portal.accounts.models import User
    from portal.seminars import registrations

    states = []
    with app.app_context():
        for user in users:
            registration = registrations.register(seminar_id, _db.session.get(User, user.id))
            _db.session.commit()
            states.append(registration.state)
    return states


# ----------------------------------------------------------------------------- subcommittees


@pytest.fixture
def make_subcommittee(app) -> Callable[..., int]:
    """``make_subcommittee(slug, **record_fields) -> id``: an active subcommittee of fiscal year
    2021 imported through the importer, committed; ``record_fields`` override or add (name,
    fiscal_year, sessions, milestones, activities, ...)."""
    from portal.imports.operations import import_data
    from portal.subcommittees.models import Subcommittee

    def factory(slug: str, **fields: Any) -> int:
        record = {"slug": slug, "name": f"テスト分科会 {slug}", "fiscal_year": 2021, **fields}
        with app.app_context():
            import_data({"subcommittees": [record]})
            _db.session.commit()
            return _db.session.scalar(select(Subcommittee.id).where(Subcommittee.slug == slug))

    return factory


def add_member(app, subcommittee_id: int, user, *, lead: bool = False, state: Any = None) -> int:
    """A membership row (approved unless ``state`` says otherwise); its id."""
    from portal.subcommittees.models import MembershipState, SubcommitteeMember

    with app.app_context():
        membership = SubcommitteeMember(subcommittee_id=subcommittee_id, user_id=user.id, is_lead=lead,
                                        state=state or MembershipState.APPROVED)
        _db.session.add(membership)
        _db.session.commit()
        return membership.id


# ----------------------------------------------------------------------------- mail


@dataclass
class SMTPServer:
    """A real SMTP server on 127.0.0.1 that keeps what it receives. It also counts SMTP sessions
    (one EHLO/HELO each), notes the client end of the connection per message, and refuses the
    recipients in ``refuse`` with a permanent 550."""

    host: str
    port: int
    refuse: set[str] = field(default_factory=set)
    messages: list[EmailMessage] = field(default_factory=list)
    greetings: int = 0
    peers: list[tuple[str, int]] = field(default_factory=list)
    controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_EHLO(self, smtp_server, session, envelope, hostname, responses):
                session.host_name = hostname
                server.greetings += 1
                return responses

            async def handle_HELO(self, smtp_server, session, envelope, hostname):
                session.host_name = hostname
                server.greetings += 1
                return f"250 {smtp_server.hostname}"

            async def handle_RCPT(self, smtp_server, session, envelope, address, rcpt_options):
                if address in server.refuse:
                    return "550 5.1.1 mailbox unavailable"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp_server, session, envelope):
                msg = message_from_bytes(envelope.original_content, policy=policy.default)
                msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
                server.peers.append(tuple(session.peer[:2]))
                server.messages.append(msg)
                return "250 OK"

        self.controller = Controller(Handler(), hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def config(self) -> dict[str, Any]:
        return {"MAIL_SERVER": self.host, "MAIL_PORT": self.port, "MAIL_USE_TLS": False}


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer("127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def outbox(app):
    """The outbox rows, newest last: ``outbox()``."""
    from sqlalchemy import select

    from portal.mail.models import OutboxMessage

    def rows(kind: str | None = None):
        """Committed outbox rows (detached, columns loaded)."""
        with app.app_context():
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if kind:
                query = query.where(OutboxMessage.kind == kind)
            found = list(_db.session.scalars(query))
            _db.session.expunge_all()
            return found

    return rows


# ----------------------------------------------------------------------------- demo data


@pytest.fixture
def demo(app, runner):
    result = runner.invoke(args=["portal", "demo"])
    assert result.exit_code == 0, result.output
    return result


# ----------------------------------------------------------------------------- query counting


class QueryCounter:
    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


def queries_of(app) -> QueryCounter:
    """``with queries_of(app) as seen:``: every SQL statement ``app``'s engine runs in the block."""
    with app.app_context():
        return QueryCounter(_db.engine)


@pytest.fixture
def count_queries(app):
    return lambda: queries_of(app)


# ----------------------------------------------------------------------------- browser


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture
def live_server(app):
    """The app served by a real HTTP server on a free port, in a thread."""
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def log_in_page(page, live_server: str, user, password: str = DEFAULT_PASSWORD) -> None:
    """Log ``user`` in through the browser's log-in form and wait for the home page."""
    page.goto("/login")
    page.get_by_label("メールアドレス").fill(user.email)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{live_server}/")


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
