"""The second factor that holds (issue 12, items 1, 2 and 5): the SESSION knows whether it passed
the factor, and every secretariat power asks for it where it is required; a secretariat's first
authenticator needs a link mailed to its address, not only the password; codes work once; wrong
codes are throttled per account across every process (two real app processes sharing one Redis).

Written as the attacks: two sessions of one account, a replayed code, 30 wrong codes spread over
two processes. Every test that takes ``app``/``make_app`` runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest
from conftest import DEFAULT_PASSWORD, AuthActions, add_member, free_port, is_logged_in, logged_in
from sqlalchemy import select, update
from test_limits import redis_url  # noqa: F401  (the fixture: 6379, or a redis-server of its own)

from portal import create_app
from portal.accounts.models import EnrolmentToken, User, UserSession
from portal.audit.models import AuditEvent
from portal.core.config import ConfigError
from portal.core.db import db, utcnow
from portal.subcommittees.models import MembershipState, Milestone, SubcommitteeMember

ROOT = Path(__file__).resolve().parents[2]
SECRET_RE = re.compile(r'class="totp-secret">([A-Z2-7]{16,})<')
RECOVERY_RE = re.compile(r"\b[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}\b")
LINK_RE = re.compile(r"https?://\S+/account/2fa/enrol/\S+")
THROTTLED = "一時的に制限"


def code_at(secret: str, seconds: int = 0) -> str:
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=seconds))


def wrong_code(secret: str) -> str:
    valid = {code_at(secret, s) for s in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{d}" * 6 for d in range(10)) if c not in valid)


def give_totp(app, user) -> str:
    """An authenticator already enrolled for ``user`` (set in the database); its secret."""
    secret = pyotp.random_base32()
    with app.app_context():
        db.session.execute(update(User).where(User.id == user.id).values(totp_secret=secret))
        db.session.commit()
    return secret


def audit_actions(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        db.session.expunge_all()
        return rows


def enrol_with_link(auth: AuthActions, outbox) -> tuple[str, list[str]]:
    """A secretariat enrols as the owner would: the mailed link, then the code."""
    assert auth.post("/account/2fa/link").status_code == 302
    mail = outbox("account.totp_enrolment")[-1]
    link = LINK_RE.search(mail.body).group(0)
    assert auth.client.get(urlsplit(link).path).status_code == 302
    page = auth.client.get("/account/2fa").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    response = auth.post("/account/2fa", {"code": code_at(secret)})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return secret, RECOVERY_RE.findall(response.get_data(as_text=True))


@pytest.fixture
def required(make_app):
    return make_app(TOTP_REQUIRED_FOR_SECRETARIAT=True)


@pytest.fixture
def powers(required, create_user, make_seminar, make_subcommittee):
    """What only the secretariat may see or do: a draft seminar, a published one's questions
    (hidden and anonymous ones among them), a subcommittee with a pending member."""
    draft = make_seminar("draft-x", status="draft")
    published = make_seminar("pub-x")
    sub = make_subcommittee("power-test")
    applicant = create_user("member")
    pending = add_member(required, sub, applicant, state=MembershipState.PENDING)
    return {"draft": draft, "published": published, "sub": sub, "pending": pending}


def secretariat_powers(auth: AuthActions, p: dict) -> dict[str, int]:
    """The status of each power; 200/302-after-change means granted."""
    c = auth.client
    return {
        "back office": c.get("/secretariat/").status_code,
        "inventory.csv": c.get("/secretariat/inventory.csv").status_code,
        "audit.csv": c.get("/secretariat/audit.csv").status_code,
        "questions.csv (anonymous askers)": c.get(f"/secretariat/seminars/{p['published']}/questions.csv").status_code,
        "questions (hidden ones)": c.get(f"/seminars/{p['published']}/questions").status_code,
        "draft seminar": c.get(f"/seminars/{p['draft']}").status_code,
        "approve a member": auth.post(f"/subcommittees/power-test/members/{p['pending']}/approve",
                                      {"confirmed": "1"}).status_code,
        "add a milestone": auth.post("/subcommittees/power-test/milestones",
                                     {"title": "★ 報告書作成", "due": "2022-03-31"}).status_code,
    }


def member_state(app, membership_id: int) -> MembershipState:
    with app.app_context():
        return db.session.get(SubcommitteeMember, membership_id).state


def milestones(app, sub_id: int) -> int:
    with app.app_context():
        return len(list(db.session.scalars(select(Milestone).where(Milestone.subcommittee_id == sub_id))))


# ------------------------------------------------------------- 1. the factor belongs to the session


def test_a_password_only_session_holds_no_secretariat_power(required, create_user, powers, outbox):
    """Session X logs in with the password only; session Y enrols an authenticator. X still gets
    no back office, no inventory.csv/audit.csv, no anonymous askers, no drafts, no leads' powers."""
    secretariat = create_user("secretariat")
    x = logged_in(required, secretariat)
    y = logged_in(required, secretariat)

    before = secretariat_powers(x, powers)
    assert before["back office"] == 302 and before["inventory.csv"] == 302 and before["audit.csv"] == 302
    assert before["questions.csv (anonymous askers)"] == 302
    assert before["questions (hidden ones)"] == 403
    assert before["draft seminar"] == 404
    assert before["approve a member"] == 403 and before["add a milestone"] == 403
    assert member_state(required, powers["pending"]) is MembershipState.PENDING
    assert milestones(required, powers["sub"]) == 0
    assert 'href="/secretariat/"' not in x.client.get("/").get_data(as_text=True)  # not even the menu

    enrol_with_link(y, outbox)
    after_x = {name: x.client.get(path).status_code for name, path in (
        ("back office", "/secretariat/"), ("inventory.csv", "/secretariat/inventory.csv"),
        ("audit.csv", "/secretariat/audit.csv"), ("draft", f"/seminars/{powers['draft']}"))}
    assert 200 not in after_x.values(), after_x
    assert member_state(required, powers["pending"]) is MembershipState.PENDING

    # Y, which passed the factor, holds them all.
    assert y.client.get("/secretariat/inventory.csv").status_code == 200
    assert y.client.get(f"/seminars/{powers['draft']}").status_code == 200
    approve = f"/subcommittees/power-test/members/{powers['pending']}/approve"
    assert y.post(approve, {"confirmed": "1"}).status_code == 302
    assert member_state(required, powers["pending"]) is MembershipState.APPROVED


def test_a_session_without_the_factor_steps_up_with_a_code(required, create_user, powers):
    """A session record that never passed the factor (e.g. started before migration 0008) of an
    account that has an authenticator: no power until this session gives a code."""
    secretariat = create_user("secretariat")
    secret = give_totp(required, secretariat)
    auth = AuthActions(required.test_client())
    assert urlsplit(auth.login(secretariat).location).path == "/login/2fa"
    assert auth.post("/login/2fa", {"code": code_at(secret)}).status_code == 302
    assert auth.client.get("/secretariat/audit.csv").status_code == 200
    with required.app_context():  # the record forgets the factor, as an old session's would
        db.session.execute(update(UserSession).values(second_factor_at=None))
        db.session.commit()

    response = auth.client.get("/secretariat/audit.csv")
    assert response.status_code == 302 and urlsplit(response.location).path == "/login/2fa"
    assert auth.client.get(f"/seminars/{powers['draft']}").status_code == 404
    assert auth.post("/login/2fa", {"code": wrong_code(secret)}).status_code == 422
    stepped = auth.client.post(  # the next step's code (the log-in spent this one)
        "/login/2fa?next=/secretariat/audit.csv",
        data={"code": code_at(secret, 30), "csrf_token": _token(auth)})
    assert stepped.status_code == 302 and stepped.location == "/secretariat/audit.csv"
    assert auth.client.get("/secretariat/audit.csv").status_code == 200
    assert auth.client.get(f"/seminars/{powers['draft']}").status_code == 200


def _token(auth: AuthActions) -> str:
    from conftest import csrf_token

    return csrf_token(auth.client, "/login")


def test_members_are_not_asked_for_the_factor(required, create_user):
    member = logged_in(required, create_user("member"))
    assert member.client.get("/account").status_code == 200
    assert member.client.get("/secretariat/").status_code == 403


# ------------------------------------------------------------- 2. enrolment needs the mailed link


def test_the_password_alone_cannot_enrol_a_secretariats_first_authenticator(required, create_user, outbox):
    secretariat = create_user("secretariat")
    thief = logged_in(required, secretariat)
    page = thief.client.get("/account/2fa").get_data(as_text=True)
    assert not SECRET_RE.search(page), "a secret to enrol was offered to the password alone"
    forged = pyotp.random_base32()
    with thief.client.session_transaction() as s:  # even with a secret of its own choosing
        s["totp_setup"] = forged
    assert thief.post("/account/2fa", {"code": code_at(forged)}).status_code == 403
    with required.app_context():
        assert db.session.get(User, secretariat.id).totp_secret is None

    # The link goes to the account's own address, through the outbox; it works once.
    assert thief.post("/account/2fa/link").status_code == 302
    [mail] = outbox("account.totp_enrolment")
    assert mail.recipients == [secretariat.email]
    link = urlsplit(LINK_RE.search(mail.body).group(0)).path
    assert link not in thief.client.get("/account/2fa").get_data(as_text=True)

    # Another account's session cannot use it.
    other = logged_in(required, create_user("secretariat"))
    assert other.client.get(link).status_code == 404

    owner = logged_in(required, secretariat)
    assert owner.client.get(link).status_code == 302
    secret = SECRET_RE.search(owner.client.get("/account/2fa").get_data(as_text=True)).group(1)
    assert owner.post("/account/2fa", {"code": code_at(secret)}).status_code == 200
    assert not is_logged_in(thief.client)  # enrolment ends the account's other sessions
    with required.app_context():
        assert db.session.get(User, secretariat.id).totp_secret == secret
    assert owner.client.get(link).status_code == 404  # spent
    assert owner.client.get("/secretariat/").status_code == 200  # enrolment with the link passed the factor


def test_an_enrolment_link_expires(required, create_user, outbox):
    secretariat = create_user("secretariat")
    auth = logged_in(required, secretariat)
    auth.post("/account/2fa/link")
    link = urlsplit(LINK_RE.search(outbox("account.totp_enrolment")[-1].body).group(0)).path
    with required.app_context():
        db.session.execute(update(EnrolmentToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert auth.client.get(link).status_code == 404
    assert not SECRET_RE.search(auth.client.get("/account/2fa").get_data(as_text=True))


def test_enrolment_links_per_hour_are_limited(make_app, create_user, outbox):
    app = make_app(ENROLMENT_MAILS_PER_HOUR=2)
    auth = logged_in(app, create_user("secretariat"))
    for _ in range(4):
        assert auth.post("/account/2fa/link").status_code == 302
    assert len(outbox("account.totp_enrolment")) == 2


def test_members_enrol_with_the_password_and_a_code(app, create_user):
    member = logged_in(app, create_user("member"))
    secret = SECRET_RE.search(member.client.get("/account/2fa").get_data(as_text=True)).group(1)
    assert member.post("/account/2fa", {"code": code_at(secret)}).status_code == 200


# ------------------------------------------------------------- 3. single-use codes, shared throttle


def test_a_code_logs_in_once(app, create_user):
    member = create_user("member")
    secret = give_totp(app, member)
    code = code_at(secret)
    first, second = AuthActions(app.test_client()), AuthActions(app.test_client())
    assert urlsplit(first.login(member).location).path == "/login/2fa"
    assert urlsplit(second.login(member).location).path == "/login/2fa"

    assert first.post("/login/2fa", {"code": code}).status_code == 302
    assert is_logged_in(first.client)
    replay = second.post("/login/2fa", {"code": code})
    assert replay.status_code == 422
    assert not is_logged_in(second.client)
    assert [e.actor_id for e in audit_actions(app, "2fa.replayed")] == [member.id]
    # An earlier step's code is no use either once a later one was accepted.
    assert second.post("/login/2fa", {"code": code_at(secret, -30)}).status_code == 422
    assert second.post("/login/2fa", {"code": code_at(secret, 30)}).status_code == 302


def test_the_enrolment_code_cannot_log_in(app, create_user):
    member = create_user("member")
    auth = logged_in(app, member)
    secret = SECRET_RE.search(auth.client.get("/account/2fa").get_data(as_text=True)).group(1)
    code = code_at(secret)
    assert auth.post("/account/2fa", {"code": code}).status_code == 200
    other = AuthActions(app.test_client())
    other.login(member)
    assert other.post("/login/2fa", {"code": code}).status_code == 422
    assert not is_logged_in(other.client)


def test_wrong_codes_slow_the_account_down_even_for_the_right_code(app, create_user):
    member = create_user("member")
    secret = give_totp(app, member)
    auth = AuthActions(app.test_client())
    auth.login(member)
    for _ in range(5):
        assert auth.post("/login/2fa", {"code": wrong_code(secret)}).status_code == 422
    refused = auth.post("/login/2fa", {"code": code_at(secret)})
    assert refused.status_code == 422 and THROTTLED in refused.get_data(as_text=True)
    assert not is_logged_in(auth.client)


def _free_port_answers(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"app process exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"no answer on {port}")


class Browser:
    """One person's cookie, carried to whichever process it talks to."""

    def __init__(self) -> None:
        self.cookie = ""

    def request(self, port: int, method: str, path: str, form: dict[str, str] | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Host": "127.0.0.1", **({"Cookie": f"session={self.cookie}"} if self.cookie else {})}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0].removeprefix("session=")
        return response.status, response.getheader("Location") or "", text

    def post(self, port: int, path: str, form: dict[str, str]):
        _, _, page = self.request(port, "GET", path)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        return self.request(port, "POST", path, {**form, "csrf_token": token})


@pytest.fixture
def two_processes(app, database_url, redis_url, tmp_path) -> Iterator[tuple[int, int]]:  # noqa: F811
    """Two app processes (`flask run`) on this test's database (its schema made by ``app``) and
    one Redis: as `gunicorn -w 2` would be."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PORTAL_") and k != "DATABASE_URL"},
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "PORTAL_RATELIMIT_STORAGE_URI": redis_url,
        "PORTAL_RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}/",
        "PORTAL_MAIL_FILE_DIR": str(tmp_path / "mail"),
    }
    processes, ports, logs = [], [], []
    try:
        for n in range(2):
            port = free_port()
            logs.append(open(tmp_path / f"app{n}.log", "wb"))
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port), "--no-reload"],
                cwd=ROOT, env=env, stdout=logs[-1], stderr=subprocess.STDOUT))
            ports.append(port)
        for port, process in zip(ports, processes, strict=True):
            _free_port_answers(port, process)
        yield ports[0], ports[1]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        for log in logs:
            log.close()


def test_30_wrong_codes_across_two_processes_then_the_right_code_is_refused(app, create_user, two_processes):
    member = create_user("member")
    secret = give_totp(app, member)
    first, second = two_processes
    browser = Browser()
    status, location, _ = browser.post(first, "/login", {"email": member.email, "password": DEFAULT_PASSWORD})
    assert status == 302 and urlsplit(location).path == "/login/2fa"

    # 30 wrong codes: 4 to the second process (fewer than TOTP_MAX_FAILURES, 5), the rest to the
    # first; the right code then goes to the second, which alone would have let it through.
    bad = wrong_code(secret)
    for i in range(30):
        status, _, _ = browser.post(second if i % 2 and i < 8 else first, "/login/2fa", {"code": bad})
        assert status == 422

    status, _, page = browser.post(second, "/login/2fa", {"code": code_at(secret)})
    assert status == 422 and THROTTLED in page
    status, location, _ = browser.request(first, "GET", "/account")
    assert status == 302 and urlsplit(location).path == "/login"


# ------------------------------------------------------------- 4. production mode needs a base URL


def test_production_mode_refuses_to_start_without_a_base_url(monkeypatch, tmp_path):
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    monkeypatch.setenv("PORTAL_ENV", "production")
    database = f"sqlite:///{tmp_path / 'p.sqlite'}"
    with pytest.raises(ConfigError, match="PORTAL_BASE_URL"):
        create_app({"DATABASE_URL": database, "SECRET_KEY": "x"})
    with pytest.raises(ConfigError, match="PORTAL_BASE_URL"):
        create_app({"DATABASE_URL": database, "SECRET_KEY": "x", "PORTAL_BASE_URL": "portal.example.jp"})

    monkeypatch.setenv("PORTAL_BASE_URL", "https://portal.example.jp")
    app = create_app({"DATABASE_URL": database, "SECRET_KEY": "x"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["TOTP_REQUIRED_FOR_SECRETARIAT"] is True


def test_development_mode_starts_without_a_base_url(monkeypatch, tmp_path):
    """`make run`, the tests and the stack script set no PORTAL_ENV: they still start."""
    monkeypatch.delenv("PORTAL_ENV", raising=False)
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite'}", "SECRET_KEY": "x"})
    assert app.config["ENV"] == "development" and not app.config["PORTAL_BASE_URL"]
    monkeypatch.setenv("PORTAL_ENV", "prod")
    with pytest.raises(ConfigError, match="PORTAL_ENV"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite'}", "SECRET_KEY": "x"})
