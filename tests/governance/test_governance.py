"""Governance and security through HTTP: the city-OS checklist applied to the portal.

Account inventory (棚卸し) with filters, CSV, review and the quarterly reminder; deactivation and
role changes that end sessions; the audit log (events, search, CSV, append-only, no secrets);
authentication (password policy, TOTP two-factor with recovery codes, the secretariat's second
factor, cookie flags, session expiry, log-out everywhere); web hardening (security headers, no
inline script or style, rate limits, auto-escaping); data protection (own data, deletion request,
anonymization).

Every test that takes ``app`` runs once per database (sqlite, and postgresql when
TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from conftest import (
    DEFAULT_PASSWORD,
    AuthActions,
    add_member,
    asks_first,
    csrf_token,
    is_logged_in,
    is_login_redirect,
    logged_in,
    register_accounts,
)
from sqlalchemy import func, select, update

from portal.accounts.models import AccountState, Role, User
from portal.audit.models import AuditEvent
from portal.core.dates import fiscal_year, format_moment, today_local
from portal.core.db import db, utcnow
from portal.governance.jobs import send_review_reminder
from portal.qa.models import Question
from portal.seminars.models import Registration, RegistrationState

ROOT = Path(__file__).resolve().parents[2]
MAILBOX = "secretariat-box@example.org"  # SECRETARIAT_EMAIL in the test configuration

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
RESET_LINK_RE = re.compile(r"https?://[^\s/]+(/password-reset/[A-Za-z0-9_\-]+)")
TOTP_SECRET_RE = re.compile(r'<code class="totp-secret">([A-Z2-7]+)</code>')
RECOVERY_RE = re.compile(r"<li><code>([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})</code></li>")
ROW_RE = re.compile(r'<tr data-user-id="(\d+)"')


# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def seminar_defaults() -> dict[str, Any]:
    return {"qa": "open"}


def body(response) -> str:
    return response.get_data(as_text=True)



def get_user(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def set_user(app, user_id: int, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(**values))
        db.session.commit()


def audit_rows(app, action: str | None = None) -> list[AuditEvent]:
    """Audit events (detached), oldest first; ``action`` is an exact action name."""
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
        return rows


def assert_recent(value: datetime | None) -> None:
    assert value is not None
    assert abs(utcnow() - value) < timedelta(minutes=2), value


def listed_users(html: str) -> set[int]:
    return {int(i) for i in ROW_RE.findall(html)}


def user_row(html: str, user_id: int) -> str:
    match = re.search(rf'<tr data-user-id="{user_id}".*?</tr>', html, re.S)
    assert match, f"no inventory row for user {user_id}"
    return match.group(0)


def read_csv(response) -> list[list[str]]:
    """An Excel-ready CSV: UTF-8 with BOM, every line ending in CRLF."""
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers.get("Content-Disposition", "")
    raw = response.data
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    decoded = raw.decode("utf-8-sig")
    assert decoded.endswith("\r\n")
    assert decoded.count("\n") == decoded.count("\r\n"), "a line ends without CR"
    return list(csv.reader(io.StringIO(decoded, newline="")))


def ask(auth: AuthActions, seminar_id: int, text: str):
    return auth.post(f"/seminars/{seminar_id}/questions", {"body": text})


def reset_link(outbox, email: str) -> str:
    [message] = [m for m in outbox("account.password_reset") if email in m.recipients][-1:]
    match = RESET_LINK_RE.search(message.body)
    assert match, message.body
    return match.group(1)


def wrong_code(secret: str) -> str:
    """A six-digit code that is not valid now, nor a step before or after."""
    totp = pyotp.TOTP(secret)
    now = datetime.now(UTC)
    valid = {totp.at(now + timedelta(seconds=s)) for s in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{d}" * 6 for d in range(10)) if c not in valid)


def next_code(secret: str) -> str:
    """The code of the next time step: each code works once, and enrolment spent the current one."""
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30))


def enable_two_factor(auth: AuthActions) -> tuple[str, list[str]]:
    """Enrol through /account/2fa; returns the secret and the recovery codes shown once."""
    page = auth.client.get("/account/2fa")
    assert page.status_code == 200
    match = TOTP_SECRET_RE.search(body(page))
    assert match, "the secret is not shown for manual entry"
    secret = match.group(1)
    response = auth.post("/account/2fa", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200, body(response)
    codes = RECOVERY_RE.findall(body(response))
    return secret, codes


def session_cookie(response) -> dict[str, str | bool]:
    """The attributes of the session's Set-Cookie header."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("session="):
            attrs: dict[str, str | bool] = {}
            for part in header.split(";")[1:]:
                name, sep, value = part.strip().partition("=")
                attrs[name.lower()] = value if sep else True
            return attrs
    raise AssertionError(f"no session cookie in {response.headers.getlist('Set-Cookie')}")


@pytest.fixture
def office(app, create_user):
    """A logged-in secretariat account: (user, its client)."""
    user = create_user("secretariat", name="事務局 花子", email="office@example.org")
    return user, logged_in(app, user)


# ----------------------------------------------------------------------------- account inventory


def test_inventory_lists_every_account_with_what_a_review_needs(app, create_user, office, make_subcommittee):
    secretariat, auth = office
    member = create_user("member", org="前橋市", name="会員 一郎")
    lead = create_user("member", org="浜松市", name="リーダー 次郎")
    observer = create_user("observer", org="オブザーバー大学", name="観察 三郎")
    pending = create_user("member", state="pending", org="岡崎市", name="申請 四郎")
    sub_id = make_subcommittee("net-zero", name="ネット・ゼロ スマートシティ検討分科会")
    add_member(app, sub_id, lead, lead=True)
    add_member(app, sub_id, member)
    logged_in(app, member)  # sets the last log-in
    reviewed_at = utcnow() - timedelta(days=3)
    set_user(app, observer.id, reviewed_at=reviewed_at, reviewed_by_id=secretariat.id)

    response = auth.client.get("/secretariat/inventory")
    assert response.status_code == 200
    html = body(response)
    assert listed_users(html) == {secretariat.id, member.id, lead.id, observer.id, pending.id}

    member_row = user_row(html, member.id)
    member_now = get_user(app, member.id)
    assert "会員 一郎" in member_row and "前橋市" in member_row
    assert re.search(r'<option value="member"\s+selected', member_row)
    assert "有効" in member_row
    assert format_moment(member_now.created_at, part="day") in member_row
    assert format_moment(member_now.last_login_at) in member_row
    assert "未確認" in member_row
    assert "ネット・ゼロ" not in member_row  # a member, not a lead

    lead_row = user_row(html, lead.id)
    assert "ネット・ゼロ スマートシティ検討分科会" in lead_row
    assert "なし" in lead_row  # never logged in

    observer_row = user_row(html, observer.id)
    assert re.search(r'<option value="observer"\s+selected', observer_row)
    assert format_moment(reviewed_at, part="day") in observer_row
    assert "未確認" not in observer_row

    assert "承認待ち" in user_row(html, pending.id)
    assert re.search(r'<option value="secretariat"\s+selected', user_row(html, secretariat.id))


def test_inventory_is_for_the_secretariat_only(app, client, create_user):
    assert is_login_redirect(client.get("/secretariat/inventory"))
    assert is_login_redirect(client.get("/secretariat/inventory.csv"))
    member = logged_in(app, create_user("member"))
    assert member.client.get("/secretariat/inventory").status_code == 403
    assert member.client.get("/secretariat/inventory.csv").status_code == 403
    assert member.post("/secretariat/inventory/review", {"user_id": "1"}).status_code == 403


def test_inventory_filters(app, create_user, office):
    secretariat, auth = office
    now = utcnow()
    stale = create_user("member", name="半年以上ログインなし")
    set_user(app, stale.id, last_login_at=now - timedelta(days=200), created_at=now - timedelta(days=400))
    recent = create_user("member", name="最近ログイン")
    set_user(app, recent.id, last_login_at=now - timedelta(days=10), reviewed_at=now - timedelta(days=10),
             reviewed_by_id=secretariat.id)
    never = create_user("member", name="未ログイン（新規）")
    old_never = create_user("observer", name="未ログイン（古い）")
    set_user(app, old_never.id, created_at=now - timedelta(days=200))
    old_review = create_user("member", name="棚卸し期限切れ")
    set_user(app, old_review.id, last_login_at=now - timedelta(days=1), reviewed_at=now - timedelta(days=100),
             reviewed_by_id=secretariat.id)
    pending = create_user("member", state="pending", name="承認待ち")
    gone = create_user("member", state="deactivated", name="停止済み")
    everyone = {secretariat.id, stale.id, recent.id, never.id, old_never.id, old_review.id, pending.id, gone.id}

    def shown(query: str) -> set[int]:
        response = auth.client.get(f"/secretariat/inventory{query}")
        assert response.status_code == 200, query
        return listed_users(body(response))

    assert shown("") == everyone
    assert shown("?filter=inactive") == {stale.id, old_never.id}
    assert shown("?filter=never") == {never.id, old_never.id}
    assert shown("?filter=pending") == {pending.id}
    assert shown("?filter=unreviewed") == {secretariat.id, stale.id, never.id, old_never.id, old_review.id}
    assert shown("?filter=deactivated") == {gone.id}
    assert shown("?filter=bogus") == everyone


def test_inventory_csv_is_excel_ready_filtered_and_audited(app, create_user, office, make_subcommittee):
    secretariat, auth = office
    member = create_user("member", org="前橋市", name="会員 一郎", email="ichiro@example.org")
    lead = create_user("member", org="浜松市", name="リーダー 次郎")
    add_member(app, make_subcommittee("net-zero", name="ネット・ゼロ スマートシティ検討分科会"), lead, lead=True)
    set_user(app, member.id, reviewed_at=utcnow(), reviewed_by_id=secretariat.id)
    formula = create_user("member", name="=1+2")
    gone = create_user("member", state="deactivated", name="停止済み", email="gone@example.org")

    rows = read_csv(auth.client.get("/secretariat/inventory.csv"))
    header = rows[0]
    for column in ("氏名", "メールアドレス", "所属団体", "ロール", "分科会リーダー", "状態", "登録日時",
                   "最終ログイン", "最終棚卸し", "確認者"):
        assert column in header, column
    records = {r[header.index("メールアドレス")]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert set(records) == {secretariat.email, member.email, lead.email, formula.email, gone.email}
    ichiro = records["ichiro@example.org"]
    assert ichiro["氏名"] == "会員 一郎" and ichiro["所属団体"] == "前橋市" and ichiro["ロール"] == "会員"
    assert ichiro["状態"] == "有効" and ichiro["確認者"] == "事務局 花子" and ichiro["最終棚卸し"]
    assert records[lead.email]["分科会リーダー"] == "ネット・ゼロ スマートシティ検討分科会"
    assert records[secretariat.email]["最終ログイン"]  # the secretariat logged in
    assert records[formula.email]["氏名"] == "'=1+2"  # never a formula in Excel

    filtered = read_csv(auth.client.get("/secretariat/inventory.csv?filter=deactivated"))
    assert [r[filtered[0].index("メールアドレス")] for r in filtered[1:]] == ["gone@example.org"]

    exports = audit_rows(app, "export.inventory")
    assert len(exports) == 2
    assert all(e.actor_id == secretariat.id and e.ip == "127.0.0.1" for e in exports)
    assert_recent(exports[-1].at)


def test_review_marks_accounts_reviewed_with_who_and_when(app, create_user, office):
    secretariat, auth = office
    a, b, c, d = (create_user("member", name=f"確認対象 {n}") for n in "ABCD")

    response = auth.post("/secretariat/inventory/review", {"user_id": [str(a.id), str(b.id)]})
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/secretariat/inventory"
    for user in (a, b):
        row = get_user(app, user.id)
        assert_recent(row.reviewed_at)
        assert row.reviewed_by_id == secretariat.id
    assert get_user(app, c.id).reviewed_at is None

    assert auth.post("/secretariat/inventory/review", {"user_id": str(c.id)}).status_code == 302
    assert get_user(app, c.id).reviewed_by_id == secretariat.id

    # Without the CSRF token nothing changes.
    assert auth.client.post("/secretariat/inventory/review", data={"user_id": str(d.id)}).status_code == 400
    assert get_user(app, d.id).reviewed_at is None

    unreviewed = listed_users(body(auth.client.get("/secretariat/inventory?filter=unreviewed")))
    assert unreviewed == {secretariat.id, d.id}
    page = body(auth.client.get("/secretariat/inventory"))
    assert format_moment(get_user(app, a.id).reviewed_at, part="day") in user_row(page, a.id)

    events = audit_rows(app, "inventory.reviewed")
    assert [sorted(e.details["accounts"]) for e in events] == [sorted([a.id, b.id]), [c.id]]
    assert all(e.actor_id == secretariat.id and e.ip == "127.0.0.1" for e in events)


def test_review_reminder_is_mailed_to_the_secretariat_once_per_quarter(app, create_user, outbox):
    create_user("member")
    create_user("observer")
    with app.app_context():
        assert send_review_reminder(datetime(2030, 4, 10, 1, 0, tzinfo=UTC)) is True
        assert send_review_reminder(datetime(2030, 6, 20, 1, 0, tzinfo=UTC)) is False  # same quarter
    [message] = outbox("inventory.review_reminder")
    assert message.recipients == [MAILBOX]
    assert "棚卸し" in message.subject and "2件" in message.subject
    assert "http://portal.test/secretariat/inventory?filter=unreviewed" in message.body

    with app.app_context():
        assert send_review_reminder(datetime(2030, 7, 5, 1, 0, tzinfo=UTC)) is True  # next quarter
    assert len(outbox("inventory.review_reminder")) == 2

    # Nothing to review: no reminder.
    with app.app_context():
        db.session.execute(update(User).values(reviewed_at=datetime(2030, 12, 25, tzinfo=UTC)))
        db.session.commit()
        assert send_review_reminder(datetime(2031, 1, 10, 1, 0, tzinfo=UTC)) is False
    assert len(outbox("inventory.review_reminder")) == 2


def test_send_reminders_command_queues_the_review_reminder_once(app, runner, create_user, outbox):
    create_user("member")
    for _ in range(2):
        result = runner.invoke(args=["portal", "send-reminders"])
        assert result.exit_code == 0, result.output
    [message] = outbox("inventory.review_reminder")
    assert message.recipients == [MAILBOX]


# ----------------------------------------------------------------------------- deactivation and roles


def test_deactivating_an_account_ends_its_sessions_and_feeds_at_once(app, create_user, office):
    secretariat, auth = office
    member = create_user("member", email="leaving@example.org")
    member_auth = logged_in(app, member)
    feed = f"/calendar/{member.calendar_token}.ics"
    assert app.test_client().get(feed).status_code == 200
    assert is_logged_in(member_auth.client)

    response = auth.post(f"/secretariat/accounts/{member.id}/state", {"state": "deactivated"})
    assert response.status_code == 302
    assert get_user(app, member.id).state is AccountState.DEACTIVATED

    assert is_login_redirect(member_auth.client.get("/account"))
    assert is_login_redirect(member_auth.client.get("/account/seminars"))
    assert app.test_client().get(feed).status_code == 404
    again = AuthActions(app.test_client())
    refused = again.login(member)
    assert refused.status_code == 422
    assert not is_logged_in(again.client)

    [event] = audit_rows(app, "account.state_changed")
    assert event.actor_id == secretariat.id and event.subject == "leaving@example.org"
    assert event.ip == "127.0.0.1" and event.details == {"from": "active", "to": "deactivated"}
    assert_recent(event.at)

    # Reactivated, the account logs in again, but the old feed URL stays dead.
    assert auth.post(f"/secretariat/accounts/{member.id}/state", {"state": "active"}).status_code == 302
    logged_in(app, member)
    assert app.test_client().get(feed).status_code == 404
    assert auth.post(f"/secretariat/accounts/{member.id}/state", {"state": "bogus"}).status_code == 400


def test_changing_a_role_ends_the_accounts_sessions(app, create_user, office):
    secretariat, auth = office
    member = create_user("member", email="moving@example.org")
    member_auth = logged_in(app, member)

    assert auth.post(f"/secretariat/accounts/{member.id}/role", {"role": "observer"}).status_code == 302
    assert get_user(app, member.id).role is Role.OBSERVER
    assert not is_logged_in(member_auth.client)
    [event] = audit_rows(app, "account.role_changed")
    assert event.actor_id == secretariat.id and event.subject == "moving@example.org" and event.ip == "127.0.0.1"
    assert event.details == {"from": "member", "to": "observer"}

    assert auth.post(f"/secretariat/accounts/{member.id}/role", {"role": "secretariat"}).status_code == 302
    promoted = logged_in(app, member)
    assert promoted.client.get("/secretariat/").status_code == 200
    assert auth.post(f"/secretariat/accounts/{member.id}/role", {"role": "admin"}).status_code == 400


def test_secretariat_cannot_deactivate_demote_or_anonymize_itself(app, office):
    secretariat, auth = office

    response = auth.post(f"/secretariat/accounts/{secretariat.id}/state", {"state": "deactivated"},
                         follow_redirects=True)
    assert "自分のアカウントは停止できません。" in body(response)
    response = auth.post(f"/secretariat/accounts/{secretariat.id}/role", {"role": "member"}, follow_redirects=True)
    assert "自分の事務局ロールは外せません。" in body(response)
    auth.post(f"/secretariat/accounts/{secretariat.id}/anonymize")

    row = get_user(app, secretariat.id)
    assert row.state is AccountState.ACTIVE and row.role is Role.SECRETARIAT
    assert row.email == "office@example.org" and row.anonymized_at is None
    assert auth.client.get("/secretariat/").status_code == 200  # its session goes on
    assert not [e for e in audit_rows(app) if e.action.startswith("account.")]


# ----------------------------------------------------------------------------- audit log


def test_log_in_events_are_audited_with_who_when_and_address(app, create_user):
    member = create_user("member", email="login-audit@example.org")
    auth = AuthActions(app.test_client())
    assert auth.login(member, "not-the-password-1").status_code == 422
    assert auth.login(member).status_code == 302

    [failure] = audit_rows(app, "login.failure")
    assert failure.subject == "login-audit@example.org" and failure.ip == "127.0.0.1"
    assert_recent(failure.at)
    [success] = audit_rows(app, "login.success")
    assert success.actor_id == member.id and success.subject == "login-audit@example.org"
    assert success.ip == "127.0.0.1"
    assert_recent(success.at)

    other = AuthActions(app.test_client())
    other.client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(5):
        other.login("nobody@example.org", "wrong-password-9")
    [lockout] = audit_rows(app, "login.lockout")
    assert lockout.subject == "nobody@example.org" and lockout.ip == "203.0.113.9"
    other.login("nobody@example.org", "wrong-password-9")
    assert [e.subject for e in audit_rows(app, "login.locked")] == ["nobody@example.org"]


def test_account_lifecycle_events_are_audited(app, client, create_user, office, outbox):
    secretariat, auth = office
    visitor = AuthActions(client)
    data = {"name": "申請 太郎", "email": "applicant@example.org", "organization": "サンプル市",
            "organization_kind": "municipality", "membership": "member",
            "password": "applicant-pass-123", "password_confirm": "applicant-pass-123"}
    assert client.post("/signup", data={**data, "csrf_token": csrf_token(client, "/signup")}).status_code == 200
    [signup] = audit_rows(app, "account.signup")
    assert signup.subject == "applicant@example.org" and signup.ip == "127.0.0.1"
    with app.app_context():
        applicant_id = db.session.scalar(select(User.id).where(User.email == "applicant@example.org"))

    response = auth.post(f"/secretariat/accounts/{applicant_id}/approve", {"role": "member", "confirmed": "1"})
    assert response.status_code == 302
    [approved] = audit_rows(app, "account.approved")
    assert approved.actor_id == secretariat.id and approved.subject == "applicant@example.org"
    assert approved.ip == "127.0.0.1"

    assert visitor.post("/password-reset", {"email": "applicant@example.org"}).status_code == 200
    path = reset_link(outbox, "applicant@example.org")
    response = visitor.post(path, {"password": "brand-new-pass-456", "password_confirm": "brand-new-pass-456"})
    assert response.status_code == 302
    [reset] = audit_rows(app, "password.reset")
    assert reset.actor_id == applicant_id and reset.subject == "applicant@example.org" and reset.ip == "127.0.0.1"

    applicant = logged_in(app, "applicant@example.org", "brand-new-pass-456")
    assert applicant.post("/account/deletion-request", {"confirmed": "1"}).status_code == 302
    [deletion] = audit_rows(app, "account.deletion_requested")
    assert deletion.actor_id == applicant_id and deletion.ip == "127.0.0.1"

    assert auth.post(f"/secretariat/accounts/{applicant_id}/state", {"state": "deactivated"}).status_code == 302
    assert auth.post(f"/secretariat/accounts/{applicant_id}/anonymize").status_code == 302
    [anonymized] = audit_rows(app, "account.anonymized")
    assert anonymized.actor_id == secretariat.id and anonymized.ip == "127.0.0.1"
    assert_recent(anonymized.at)
    assert str(applicant_id) in (anonymized.subject or "")


def test_exports_are_audited(app, create_user, office, make_seminar):
    secretariat, auth = office
    member = create_user("member")
    seminar_id = make_seminar("export")
    assert register_accounts(app, seminar_id, member) == [RegistrationState.REGISTERED]

    assert auth.client.get("/secretariat/audit.csv").status_code == 200
    assert auth.client.get(f"/secretariat/seminars/{seminar_id}/registrants.csv").status_code == 200
    assert auth.client.get(f"/secretariat/seminars/{seminar_id}/questions.csv").status_code == 200
    assert logged_in(app, member).client.get("/account/data.json").status_code == 200

    for action, actor in (("export.audit", secretariat.id), ("export.registrants", secretariat.id),
                          ("export.questions", secretariat.id), ("account.data_exported", member.id)):
        [event] = audit_rows(app, action)
        assert event.actor_id == actor and event.ip == "127.0.0.1", action
        assert_recent(event.at)


def test_feed_token_regeneration_and_question_routing_are_audited(app, create_user, office, make_seminar):
    secretariat, auth = office
    member = create_user("member", email="asker@example.org")
    seminar_id = make_seminar("routing")
    assert register_accounts(app, seminar_id, member) == [RegistrationState.REGISTERED]
    member_auth = logged_in(app, member)

    assert member_auth.post("/account/calendar-token", {"confirmed": "1"}).status_code == 302
    [regenerated] = audit_rows(app, "calendar.token_regenerated")
    assert regenerated.actor_id == member.id and regenerated.subject == "asker@example.org"
    assert regenerated.ip == "127.0.0.1"
    assert app.test_client().get(f"/calendar/{member.calendar_token}.ics").status_code == 404

    assert ask(member_auth, seminar_id, "時間内に答えられなかった質問").status_code == 302
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.seminar_id == seminar_id))
    assert auth.post(f"/secretariat/seminars/{seminar_id}/qa/close").status_code == 302
    [routed] = audit_rows(app, "qa.routed")
    assert routed.subject == f"seminar:{seminar_id}" and routed.details["questions"] == [qid]
    assert_recent(routed.at)
    [closed] = audit_rows(app, "qa.closed")
    assert closed.actor_id == secretariat.id


def audit_page_rows(html: str) -> list[tuple[str, str]]:
    """(action, row html) of each listed audit event."""
    return re.findall(r'<tr data-action="([^"]+)">(.*?)</tr>', html, re.S)


def test_audit_log_is_searchable_by_text_address_and_action(app, client, create_user, office):
    _secretariat, auth = office
    assert auth.client.get("/secretariat/inventory.csv").status_code == 200  # a non-login event
    AuthActions(app.test_client()).login("alpha@example.org", "wrong-password-1")
    beta = AuthActions(app.test_client())
    beta.client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    beta.login("beta@example.org", "wrong-password-2")

    def rows(query: str) -> list[tuple[str, str]]:
        response = auth.client.get(f"/secretariat/audit{query}")
        assert response.status_code == 200, query
        return audit_page_rows(body(response))

    everything = rows("")
    assert {"login.success", "login.failure", "export.inventory"} <= {a for a, _ in everything}
    assert any("office@example.org" in html for a, html in everything if a == "login.success")  # who

    alpha = rows("?q=alpha@example.org")
    assert [a for a, _ in alpha] == ["login.failure"] and "alpha@example.org" in alpha[0][1]
    by_address = rows("?q=203.0.113.7")
    assert [a for a, _ in by_address] == ["login.failure"] and "beta@example.org" in by_address[0][1]

    logins = rows("?action=login.")
    assert logins and all(a.startswith("login.") for a, _ in logins)
    assert {"login.success", "login.failure"} <= {a for a, _ in logins}
    assert [a for a, _ in rows("?action=login.failure&q=beta")] == ["login.failure"]

    assert is_login_redirect(client.get("/secretariat/audit"))
    member = logged_in(app, create_user("member"))
    assert member.client.get("/secretariat/audit").status_code == 403
    assert member.client.get("/secretariat/audit.csv").status_code == 403


def test_outbox_and_audit_pages_show_japanese_labels_not_codes(app, create_user, office):
    """States and codes reach the secretariat's screens through the one label table: "送信済み",
    not "sent"; "未回答の質問（事務局あて）", not "qa.digest"; "アカウント承認", not "account.approved"."""
    from portal.mail.models import OutboxStatus
    from portal.mail.outbox import enqueue

    _secretariat, auth = office
    with app.app_context():
        message = enqueue(MAILBOX, "未回答の質問", "本文", kind="qa.digest")
        message.status = OutboxStatus.SENT
        db.session.commit()
        message_id = message.id
    applicant = create_user("member", state="pending", email="labels@example.org")
    approve = f"/secretariat/accounts/{applicant.id}/approve"
    assert auth.post(approve, {"role": "member", "confirmed": "1"}).status_code == 302

    listed = body(auth.client.get("/secretariat/outbox"))
    row = re.search(rf'<tr class="status-sent" data-message-id="{message_id}">(.*?)</tr>', listed, re.S)
    assert row, "the sent message is not listed"
    assert "<td>送信済み</td>" in row.group(1) and "<td>sent</td>" not in row.group(1)
    assert ">送信済み (" in listed and ">sent (" not in listed  # the status filter links

    detail = body(auth.client.get(f"/secretariat/outbox/{message_id}"))
    assert "<dd>未回答の質問（事務局あて）</dd>" in detail and "<dd>qa.digest</dd>" not in detail
    assert '<dd class="status">送信済み</dd>' in detail

    rows = dict(audit_page_rows(body(auth.client.get("/secretariat/audit?action=account.approved"))))
    assert "<td>アカウント承認</td>" in re.sub(r"<td [^>]*>", "<td>", rows["account.approved"])
    assert ">account.approved<" not in rows["account.approved"]

    accounts = body(auth.client.get("/secretariat/accounts"))
    approved_row = re.search(rf'<tr data-user-id="{applicant.id}".*?</tr>', accounts, re.S).group(0)
    assert "<td>会員</td>" in approved_row and "<td>有効</td>" in approved_row

    # The same table speaks English to whoever chose English.
    assert auth.client.get("/language/en").status_code == 302
    english = body(auth.client.get(f"/secretariat/outbox/{message_id}"))
    assert "<dd>Unanswered questions (to the secretariat)</dd>" in english
    assert ">Account approved<" in body(auth.client.get("/secretariat/audit?action=account.approved"))


def test_audit_log_csv_export(app, create_user, office):
    _secretariat, auth = office
    member = create_user("member", email="csv-audit@example.org")
    logged_in(app, member)
    AuthActions(app.test_client()).login("=cmd|' /C calc'!A0", "wrong-password-3")
    assert auth.client.get("/secretariat/inventory.csv").status_code == 200

    rows = read_csv(auth.client.get("/secretariat/audit.csv?action=login."))
    header = rows[0]
    assert header == ["日時", "操作", "実行者", "対象", "IPアドレス", "詳細"]
    records = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert records and all(r["操作"].startswith("login.") for r in records)
    [success] = [r for r in records if r["操作"] == "login.success" and r["対象"] == "csv-audit@example.org"]
    assert success["実行者"] == "csv-audit@example.org" and success["IPアドレス"] == "127.0.0.1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", success["日時"])
    [failure] = [r for r in records if r["操作"] == "login.failure"]
    assert failure["対象"].startswith("'")  # a cell that would be a formula is neutralized

    everything = read_csv(auth.client.get("/secretariat/audit.csv"))
    assert "export.inventory" in {r[1] for r in everything[1:]}
    assert len(audit_rows(app, "export.audit")) == 2


def snapshot(app) -> dict[int, tuple]:
    return {e.id: (e.at, e.action, e.actor_id, e.subject, e.ip, json.dumps(e.details, sort_keys=True))
            for e in audit_rows(app)}


def test_audit_log_is_append_only(app, create_user, office):
    _secretariat, auth = office
    member = create_user("member", email="append@example.org")
    member_auth = logged_in(app, member)
    AuthActions(app.test_client()).login(member, "wrong-password-4")
    assert member_auth.post("/account/deletion-request", {"confirmed": "1"}).status_code == 302
    before = snapshot(app)
    assert len(before) >= 4

    token = csrf_token(auth.client)
    for path in ("/secretariat/audit", "/secretariat/audit.csv"):
        assert auth.client.post(path, data={"csrf_token": token}).status_code == 405
        assert auth.client.delete(path).status_code == 405
        assert auth.client.put(path, data={"csrf_token": token}).status_code == 405

    # Deactivating and anonymizing the account adds events; what was written stays as it was.
    assert auth.post(f"/secretariat/accounts/{member.id}/state", {"state": "deactivated"}).status_code == 302
    assert auth.post(f"/secretariat/accounts/{member.id}/anonymize").status_code == 302
    after = snapshot(app)
    assert {k: after.get(k) for k in before} == before
    assert min(set(after) - set(before)) > max(before)
    assert {a[1] for k, a in after.items() if k not in before} >= {"account.state_changed", "account.anonymized"}


def test_no_password_or_token_is_ever_written_to_the_audit_log(app, client, create_user, office, outbox):
    _secretariat, auth = office
    signup_password, wrong_password = "Signup-Secret-Pass-71", "Wrong-Secret-Pass-72"
    new_password = "Reset-Secret-Pass-73"
    visitor = AuthActions(client)
    data = {"name": "秘密 太郎", "email": "secret@example.org", "organization": "サンプル市",
            "organization_kind": "municipality", "membership": "member",
            "password": signup_password, "password_confirm": signup_password}
    assert client.post("/signup", data={**data, "csrf_token": csrf_token(client, "/signup")}).status_code == 200
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == "secret@example.org"))
    approve = f"/secretariat/accounts/{user_id}/approve"
    assert auth.post(approve, {"role": "member", "confirmed": "1"}).status_code == 302

    assert AuthActions(app.test_client()).login("secret@example.org", wrong_password).status_code == 422
    logged_in(app, "secret@example.org", signup_password)

    assert visitor.post("/password-reset", {"email": "secret@example.org"}).status_code == 200
    path = reset_link(outbox, "secret@example.org")
    reset_token = path.rsplit("/", 1)[1]
    assert visitor.post(path, {"password": new_password, "password_confirm": new_password}).status_code == 302
    member = logged_in(app, "secret@example.org", new_password)

    old_feed_token = get_user(app, user_id).calendar_token
    assert member.post("/account/calendar-token", {"confirmed": "1"}).status_code == 302
    new_feed_token = get_user(app, user_id).calendar_token
    assert new_feed_token != old_feed_token
    totp_secret, codes = enable_two_factor(member)
    assert len(codes) == 10

    actions = {e.action for e in audit_rows(app)}
    assert {"account.signup", "login.failure", "login.success", "password.reset_requested", "password.reset",
            "calendar.token_regenerated", "2fa.enabled"} <= actions

    secrets = {"sign-up password": signup_password, "wrong password": wrong_password,
               "new password": new_password, "reset token": reset_token, "old calendar token": old_feed_token,
               "new calendar token": new_feed_token, "TOTP secret": totp_secret, "recovery code": codes[0]}
    columns = [c.name for c in AuditEvent.__table__.columns]
    for event in audit_rows(app):
        for column in columns:
            value = getattr(event, column)
            text = json.dumps(value, ensure_ascii=False, default=str) if column == "details" else str(value)
            for name, secret in secrets.items():
                assert secret not in text, f"{name} in audit_events.{column} of {event.action}"
    exported = auth.client.get("/secretariat/audit.csv").data.decode("utf-8-sig")
    page = body(auth.client.get("/secretariat/audit"))
    for name, secret in secrets.items():
        assert secret not in exported, name
        assert secret not in page, name


# ----------------------------------------------------------------------------- password policy


WEAK_PASSWORDS = [
    pytest.param("Short-9ab", "10文字以上", id="too-short"),
    pytest.param("{email}", "メールアドレスをパスワードにすることはできません。", id="the-email"),
    pytest.param("{local}", "メールアドレスをパスワードにすることはできません。", id="email-local-part"),
    pytest.param("password123", "推測されやすい", id="common-password123"),
    pytest.param("qwertyuiop", "推測されやすい", id="common-qwertyuiop"),
    pytest.param("aaaaaaaaaaaa", "推測されやすい", id="single-repeated-char"),
]


@pytest.mark.parametrize(("password", "message"), WEAK_PASSWORDS)
def test_signup_refuses_weak_passwords(app, client, password, message):
    email = "long.applicant@example.org"
    password = password.format(email=email, local=email.split("@")[0])
    data = {"name": "申請 太郎", "email": email, "organization": "サンプル市",
            "organization_kind": "municipality", "membership": "member",
            "password": password, "password_confirm": password}
    response = client.post("/signup", data={**data, "csrf_token": csrf_token(client, "/signup")})
    assert response.status_code == 422
    assert message in body(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(User.email == email)) == 0


@pytest.mark.parametrize(("password", "message"), WEAK_PASSWORDS)
def test_password_reset_refuses_weak_passwords(app, client, create_user, outbox, password, message):
    email = "long.member@example.org"
    create_user("member", email=email)
    visitor = AuthActions(client)
    assert visitor.post("/password-reset", {"email": email}).status_code == 200
    path = reset_link(outbox, email)
    password = password.format(email=email, local=email.split("@")[0])
    response = visitor.post(path, {"password": password, "password_confirm": password})
    assert response.status_code == 422
    assert message in body(response)
    logged_in(app, email)  # the old password still works
    ok = visitor.post(path, {"password": "a-strong-new-pass-99", "password_confirm": "a-strong-new-pass-99"})
    assert ok.status_code == 302  # and the link too


# ----------------------------------------------------------------------------- two-factor authentication


def test_two_factor_enrolment_shows_qr_code_secret_and_recovery_codes_once(app, create_user):
    member = create_user("member")
    auth = logged_in(app, member)
    page = body(auth.client.get("/account/2fa"))
    assert re.search(r'<img [^>]*src="data:image/(svg\+xml|png)[^"]*"', page), "no QR code image"
    secret = TOTP_SECRET_RE.search(page).group(1)
    assert len(secret) >= 16

    refused = auth.post("/account/2fa", {"code": wrong_code(secret)})
    assert refused.status_code == 422
    assert get_user(app, member.id).totp_secret is None

    response = auth.post("/account/2fa", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    codes = RECOVERY_RE.findall(body(response))
    assert len(codes) == 10 and len(set(codes)) == 10
    row = get_user(app, member.id)
    assert row.totp_secret == secret
    assert not set(codes) & set(row.recovery_codes or [])  # stored hashed
    assert len(row.recovery_codes) == 10

    again = body(auth.client.get("/account/2fa"))
    assert not any(code in again for code in codes) and secret not in again
    assert "有効" in body(auth.client.get("/account"))
    assert [e.actor_id for e in audit_rows(app, "2fa.enabled")] == [member.id]


def test_with_two_factor_the_password_alone_does_not_log_in(app, create_user):
    member = create_user("member")
    secret, _ = enable_two_factor(logged_in(app, member))
    logins_before = len(audit_rows(app, "login.success"))

    auth = AuthActions(app.test_client())
    response = auth.login(member)
    assert response.status_code == 302 and urlsplit(response.location).path == "/login/2fa"
    assert not is_logged_in(auth.client)
    assert auth.client.get("/account/data.json").status_code == 302

    refused = auth.post("/login/2fa", {"code": wrong_code(secret)})
    assert refused.status_code == 422
    assert not is_logged_in(auth.client)
    assert len(audit_rows(app, "login.success")) == logins_before

    response = auth.post("/login/2fa", {"code": next_code(secret)})  # the enrolment's code is spent
    assert response.status_code == 302
    assert is_logged_in(auth.client)
    assert len(audit_rows(app, "login.success")) == logins_before + 1


def test_a_recovery_code_works_once(app, create_user):
    member = create_user("member")
    _, codes = enable_two_factor(logged_in(app, member))

    auth = AuthActions(app.test_client())
    assert urlsplit(auth.login(member).location).path == "/login/2fa"
    assert auth.post("/login/2fa", {"code": codes[0]}).status_code == 302
    assert is_logged_in(auth.client)
    auth.logout()
    assert not is_logged_in(auth.client)

    assert urlsplit(auth.login(member).location).path == "/login/2fa"
    assert auth.post("/login/2fa", {"code": codes[0]}).status_code == 422
    assert not is_logged_in(auth.client)
    assert auth.post("/login/2fa", {"code": codes[1]}).status_code == 302
    assert is_logged_in(auth.client)


def test_secretariat_needs_a_second_factor_when_required(make_app, create_user, outbox):
    required = make_app(TOTP_REQUIRED_FOR_SECRETARIAT=True)
    secretariat = create_user("secretariat")
    auth = logged_in(required, secretariat)
    for path in ("/secretariat/", "/secretariat/inventory", "/secretariat/audit"):
        response = auth.client.get(path)
        assert response.status_code == 302, path
        assert urlsplit(response.location).path == "/account/2fa", path

    # A secretariat's first authenticator needs the link mailed to its address (issue 12).
    assert auth.post("/account/2fa/link").status_code == 302
    [mail] = outbox("account.totp_enrolment")
    link = re.search(r"https?://\S+/account/2fa/enrol/\S+", mail.body).group(0)
    assert auth.client.get(urlsplit(link).path).status_code == 302
    secret, _ = enable_two_factor(auth)
    assert auth.client.get("/secretariat/").status_code == 200

    fresh = AuthActions(required.test_client())
    assert urlsplit(fresh.login(secretariat).location).path == "/login/2fa"
    assert fresh.client.get("/secretariat/").status_code == 302
    assert fresh.post("/login/2fa", {"code": next_code(secret)}).status_code == 302
    assert fresh.client.get("/secretariat/").status_code == 200

    # It cannot be switched off while required.
    assert fresh.post("/account/2fa", {"code": pyotp.TOTP(secret).now()}).status_code == 422
    assert get_user(required, secretariat.id).totp_secret == secret

    # Members are not asked for it, and still get no back office.
    member = logged_in(required, create_user("member"))
    assert member.client.get("/account").status_code == 200
    assert member.client.get("/secretariat/").status_code == 403


def test_secretariat_second_factor_is_optional_when_not_required(app, create_user):
    assert app.config["TOTP_REQUIRED_FOR_SECRETARIAT"] is False
    auth = logged_in(app, create_user("secretariat"))
    assert auth.client.get("/secretariat/").status_code == 200


# ----------------------------------------------------------------------------- sessions


def test_session_cookie_is_secure_httponly_and_lax_over_https(make_app, create_user):
    https = make_app(PORTAL_BASE_URL="https://portal.example")
    member = create_user("member")
    client = https.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    referer = {"Referer": "https://localhost/login"}
    token = csrf_token(client)
    response = client.post("/login", data={"email": member.email, "password": DEFAULT_PASSWORD,
                                           "csrf_token": token}, headers=referer)
    assert response.status_code == 302, body(response)
    cookie = session_cookie(response)
    assert cookie.get("secure") is True, cookie
    assert cookie.get("httponly") is True, cookie
    assert str(cookie.get("samesite")).lower() == "lax", cookie


def test_session_cookie_is_httponly_and_lax_over_http(app, create_user):
    auth = AuthActions(app.test_client())
    response = auth.login(create_user("member"))
    assert response.status_code == 302
    cookie = session_cookie(response)
    assert cookie.get("httponly") is True and str(cookie.get("samesite")).lower() == "lax"
    assert "secure" not in cookie


def test_session_expires_after_eight_hours(app, create_user):
    auth = AuthActions(app.test_client())
    response = auth.login(create_user("member"))
    assert response.status_code == 302
    cookie = session_cookie(response)
    assert "expires" in cookie, "the session cookie must expire (a permanent session)"
    expires = parsedate_to_datetime(str(cookie["expires"]))
    ahead = expires - datetime.now(UTC)
    assert timedelta(hours=7, minutes=55) < ahead <= timedelta(hours=8, minutes=1), ahead


def test_log_out_everywhere_ends_every_session_of_the_account(app, create_user):
    member = create_user("member", email="everywhere@example.org")
    laptop, phone = logged_in(app, member), logged_in(app, member)
    other = logged_in(app, create_user("member"))

    response = laptop.post("/account/logout-everywhere")
    assert is_login_redirect(response)
    assert not is_logged_in(phone.client)
    assert not is_logged_in(laptop.client)
    assert is_logged_in(other.client)  # another account is untouched
    [event] = audit_rows(app, "logout.everywhere")
    assert event.actor_id == member.id and event.ip == "127.0.0.1"
    assert is_logged_in(logged_in(app, member).client)  # logging in again works


# ----------------------------------------------------------------------------- web hardening


def assert_security_headers(response, what: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert csp, f"{what}: no Content-Security-Policy"
    directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d.strip()}
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, f"{what}: {csp}"
    assert directives.get("frame-ancestors") == ["'none'"], f"{what}: {csp}"
    assert "default-src" in directives or "script-src" in directives, f"{what}: {csp}"
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") in {"no-referrer", "same-origin", "strict-origin",
                                              "strict-origin-when-cross-origin"}, what


def test_security_headers_on_pages_feeds_and_errors(app, client, create_user):
    member = create_user("member")
    auth = logged_in(app, member)
    responses = {
        "home": client.get("/"),
        "login": client.get("/login"),
        "schedule": client.get("/seminars"),
        "public feed": client.get("/calendar.ics"),
        "personal feed": client.get(f"/calendar/{member.calendar_token}.ics"),
        "wrong feed token": client.get("/calendar/not-a-token.ics"),
        "api": client.get("/api/v1/seminars"),
        "healthz": client.get("/healthz"),
        "404": client.get("/no-such-page"),
        "405": client.delete("/login"),
        "redirect": client.get("/account"),
        "400 csrf": client.post("/login", data={"email": member.email, "password": DEFAULT_PASSWORD}),
        "account": auth.client.get("/account"),
        "own data": auth.client.get("/account/data.json"),
        "403": auth.client.get("/secretariat/"),
    }
    expected = {"public feed": 200, "personal feed": 200, "wrong feed token": 404, "404": 404, "405": 405,
                "redirect": 302, "400 csrf": 400, "403": 403, "account": 200, "home": 200}
    for what, status in expected.items():
        assert responses[what].status_code == status, what
    for what, response in responses.items():
        assert_security_headers(response, what)


def test_templates_have_no_inline_script_style_or_handlers():
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert templates
    problems = []
    for path in templates:
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT)
        for match in re.finditer(r"<script\b([^>]*)>(.*?)</script\s*>", source, re.S | re.I):
            if "src=" not in match.group(1) or match.group(2).strip():
                problems.append(f"{name}: inline <script>")
        if re.search(r"<script\b", source, re.I) and not re.search(r"</script\s*>", source, re.I):
            problems.append(f"{name}: unclosed <script>")
        if re.search(r"<style\b", source, re.I):
            problems.append(f"{name}: <style> block")
        if re.search(r"\sstyle\s*=", source, re.I):
            problems.append(f"{name}: style= attribute")
        if re.search(r"\son[a-z]+\s*=\s*[\"']", source, re.I):
            problems.append(f"{name}: inline event handler")
        if re.search(r"javascript:", source, re.I):
            problems.append(f"{name}: javascript: URL")
        if re.search(r"\|\s*safe\b|autoescape\s+false", source):
            problems.append(f"{name}: auto-escaping switched off")
    assert not problems, problems


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.status_code
    page = body(response)
    assert JAPANESE.search(page), f"429 page without a Japanese message: {page[:300]!r}"
    assert_security_headers(response, "429")


def test_log_in_is_rate_limited_per_address(make_app):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="20 per minute")  # the default is generous
    client = limited.test_client()
    token = csrf_token(client)
    for i in range(20):
        response = client.post("/login", data={"email": f"nobody{i}@example.org", "password": "wrong-password-0",
                                               "csrf_token": token})
        assert response.status_code == 422, (i, response.status_code)
    assert_rate_limited(client.post("/login", data={"email": "nobody@example.org", "password": "wrong-password-0",
                                                    "csrf_token": token}))
    assert client.get("/login").status_code == 200  # the form itself still opens

    elsewhere = limited.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    response = elsewhere.post("/login", data={"email": "nobody@example.org", "password": "wrong-password-0",
                                              "csrf_token": csrf_token(elsewhere)})
    assert response.status_code == 422


def test_sign_up_is_rate_limited(make_app):
    limited = make_app(RATELIMIT_ENABLED=True)
    client = limited.test_client()
    token = csrf_token(client, "/signup")
    base = {"name": "申請 太郎", "organization": "サンプル市", "organization_kind": "municipality",
            "membership": "member", "password": "applicant-pass-123", "csrf_token": token}
    for i in range(5):
        response = client.post("/signup", data={**base, "email": f"a{i}@example.org",
                                                 "password_confirm": "mismatch-123"})
        assert response.status_code == 422, i
    response = client.post("/signup", data={**base, "email": "late@example.org",
                                             "password_confirm": "applicant-pass-123"})
    assert_rate_limited(response)
    with limited.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_password_reset_is_rate_limited(make_app, create_user, outbox):
    member = create_user("member")
    limited = make_app(RATELIMIT_ENABLED=True, PASSWORD_RESET_MAILS_PER_HOUR=10)  # per recipient: test_limits
    client = limited.test_client()
    token = csrf_token(client, "/password-reset")
    for i in range(5):
        assert client.post("/password-reset", data={"email": member.email, "csrf_token": token}).status_code == 200, i
    assert_rate_limited(client.post("/password-reset", data={"email": member.email, "csrf_token": token}))
    assert len(outbox("account.password_reset")) == 5


def test_question_posting_is_rate_limited_per_account(make_app, create_user, make_seminar):
    limited = make_app(RATELIMIT_ENABLED=True)
    seminar_id = make_seminar("ratelimit")
    first, second = create_user("member"), create_user("member")
    assert register_accounts(limited, seminar_id, first, second) == [RegistrationState.REGISTERED] * 2
    asker = logged_in(limited, first)
    token = csrf_token(asker.client)
    for i in range(10):
        response = asker.client.post(f"/seminars/{seminar_id}/questions",
                                     data={"body": f"質問 {i}", "csrf_token": token})
        assert response.status_code == 302, (i, response.status_code)
    assert_rate_limited(asker.client.post(f"/seminars/{seminar_id}/questions",
                                          data={"body": "質問 10", "csrf_token": token}))
    with limited.app_context():
        assert db.session.scalar(select(func.count()).select_from(Question)) == 10
    assert ask(logged_in(limited, second), seminar_id, "別の人の質問").status_code == 302


def test_user_content_is_escaped_everywhere(app, create_user, office, make_seminar):
    _secretariat, auth = office
    seminar_id = make_seminar("xss", title=f"{XSS} 危険なタイトル")
    member = create_user("member", name=f"{XSS} 氏名")
    assert register_accounts(app, seminar_id, member) == [RegistrationState.REGISTERED]
    member_auth = logged_in(app, member)
    assert ask(member_auth, seminar_id, f"{XSS} 質問本文").status_code == 302
    AuthActions(app.test_client()).login(XSS, "wrong-password-5")

    pages = {
        "seminar": app.test_client().get(f"/seminars/{seminar_id}"),
        "schedule": app.test_client().get(f"/seminars?fy={fiscal_year(today_local() + timedelta(days=21))}"),
        "questions (member)": member_auth.client.get(f"/seminars/{seminar_id}/questions"),
        "questions (secretariat)": auth.client.get(f"/seminars/{seminar_id}/questions"),
        "account": member_auth.client.get("/account"),
        "inventory": auth.client.get("/secretariat/inventory"),
        "audit": auth.client.get("/secretariat/audit"),
    }
    for what, response in pages.items():
        assert response.status_code == 200, what
        html = body(response)
        assert XSS not in html, what
        assert XSS_ESCAPED in html, what


# ----------------------------------------------------------------------------- data protection


def test_member_downloads_their_own_data_and_nobody_elses(app, client, create_user, make_seminar, make_subcommittee):
    alice = create_user("member", name="有栖 花子", email="alice@example.org", org="前橋市")
    bob = create_user("member", name="房 太郎", email="bob@example.org", org="浜松市")
    seminar_id = make_seminar("mydata", title="データテスト セミナー")
    assert register_accounts(app, seminar_id, alice, bob) == [RegistrationState.REGISTERED] * 2
    sub_id = make_subcommittee("net-zero", name="ネット・ゼロ スマートシティ検討分科会")
    add_member(app, sub_id, alice)
    add_member(app, sub_id, bob, lead=True)
    alice_auth, bob_auth = logged_in(app, alice), logged_in(app, bob)
    assert ask(alice_auth, seminar_id, "有栖の質問です").status_code == 302
    assert ask(bob_auth, seminar_id, "房の秘密の質問です").status_code == 302

    assert is_login_redirect(client.get("/account/data.json"))
    response = alice_auth.client.get("/account/data.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    raw = body(response)
    data = json.loads(raw)
    assert {"account", "registrations", "questions", "subcommittees"} <= set(data)
    assert data["account"]["email"] == "alice@example.org" and data["account"]["name"] == "有栖 花子"
    assert data["account"]["organization"] == "前橋市"
    assert len(data["registrations"]) == 1
    assert "データテスト セミナー" in json.dumps(data["registrations"], ensure_ascii=False)
    assert [q["body"] for q in data["questions"]] == ["有栖の質問です"]
    assert [s["name"] for s in data["subcommittees"]] == ["ネット・ゼロ スマートシティ検討分科会"]
    for other in ("bob@example.org", "房 太郎", "房の秘密の質問です", "浜松市", bob.calendar_token):
        assert other not in raw, other
    assert alice.calendar_token not in raw  # a secret, not data to carry around


def test_deletion_request_is_recorded_mailed_and_audited(app, create_user, office, outbox):
    _secretariat, auth = office
    member = create_user("member", name="削除 希望", email="delete-me@example.org")
    member_auth = logged_in(app, member)

    # The button only asks first (it mails the secretariat and cannot be taken back).
    asks_first(member_auth.post("/account/deletion-request"), "/account/deletion-request", mails=1)
    assert get_user(app, member.id).deletion_requested_at is None
    assert outbox("account.deletion_requested") == []

    response = member_auth.post("/account/deletion-request", {"confirmed": "1"})
    assert response.status_code == 302 and urlsplit(response.location).path == "/account"
    assert_recent(get_user(app, member.id).deletion_requested_at)
    [mail] = outbox("account.deletion_requested")
    assert mail.recipients == [MAILBOX]
    assert "削除 希望" in mail.subject + mail.body
    [event] = audit_rows(app, "account.deletion_requested")
    assert event.actor_id == member.id and event.subject == "delete-me@example.org" and event.ip == "127.0.0.1"

    # asking twice: one mail
    assert member_auth.post("/account/deletion-request", {"confirmed": "1"}).status_code == 302
    assert len(outbox("account.deletion_requested")) == 1
    assert "削除依頼あり" in user_row(body(auth.client.get("/secretariat/inventory")), member.id)


def test_anonymizing_a_departed_account_keeps_questions_and_statistics(app, create_user, office, make_seminar):
    _secretariat, auth = office
    member = create_user("member", name="退会 予定子", email="departing@example.org", org="岡崎市")
    seminar_id = make_seminar("anon")
    assert register_accounts(app, seminar_id, member) == [RegistrationState.REGISTERED]
    member_auth = logged_in(app, member)
    assert ask(member_auth, seminar_id, "退会前に残した質問").status_code == 302
    assert member_auth.client.get("/secretariat/inventory").status_code == 403
    assert member_auth.post(f"/secretariat/accounts/{member.id}/anonymize").status_code == 403

    assert auth.post(f"/secretariat/accounts/{member.id}/state", {"state": "deactivated"}).status_code == 302
    assert auth.post(f"/secretariat/accounts/{member.id}/anonymize").status_code == 302

    row = get_user(app, member.id)
    assert row.name != "退会 予定子" and "退会 予定子" not in row.name
    assert row.email != "departing@example.org" and "departing" not in row.email
    assert row.anonymized_at is not None and row.state is AccountState.DEACTIVATED
    assert row.totp_secret is None

    assert not is_logged_in(member_auth.client)
    again = AuthActions(app.test_client())
    assert again.login("departing@example.org").status_code == 422
    assert again.login(row.email).status_code == 422
    assert not is_logged_in(again.client)

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)
                                 .where(Registration.user_id == member.id)) == 1
        assert db.session.scalar(select(Question.body).where(Question.author_id == member.id)) == "退会前に残した質問"
    assert "退会前に残した質問" in body(auth.client.get(f"/seminars/{seminar_id}/questions"))
    inventory = body(auth.client.get("/secretariat/inventory"))
    assert "退会 予定子" not in inventory and "departing@example.org" not in inventory
    assert "退会 予定子" not in body(auth.client.get(f"/seminars/{seminar_id}/questions"))
