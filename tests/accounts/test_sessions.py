"""Sessions that end server-side (issue 12): logout ends that session, a replayed cookie opens
nothing; a password change or reset, a second factor enrolled or removed, a role change and
deactivation end the account's other sessions; an absolute lifetime besides the idle one; the
password-change page.

Written as the attacks: a cookie captured before logout and replayed, two clients of one account.
Every test runs once per database (sqlite, and postgresql when TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
from conftest import DEFAULT_PASSWORD, AuthActions, csrf_token, is_logged_in, logged_in
from sqlalchemy import select
from werkzeug.security import check_password_hash

from portal.accounts import authentication
from portal.accounts.models import AccountState, Role, User, UserSession
from portal.audit.models import AuditEvent
from portal.core.db import db, utcnow

NEW_PASSWORD = "violet-harbour-lantern-58"
SECRET_RE = re.compile(r"\b([A-Z2-7]{32})\b")


def user_row(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        db.session.expunge(user)
        return user


def audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return rows


def session_records(app, user_id: int) -> int:
    with app.app_context():
        return len(list(db.session.scalars(select(UserSession).where(UserSession.user_id == user_id))))


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def change_password(auth: AuthActions, current: str = DEFAULT_PASSWORD, new: str = NEW_PASSWORD,
                    confirm: str | None = None):
    return auth.client.post("/account/password", data={
        "current_password": current, "password": new, "password_confirm": new if confirm is None else confirm,
        "csrf_token": csrf_token(auth.client, "/account/password")})


# ----------------------------------------------------------------------------- logout


def test_a_cookie_captured_before_logout_opens_nothing_after_it(app, create_user):
    member = create_user("member")
    auth = logged_in(app, member)
    assert is_logged_in(auth.client)
    captured = session_cookie(auth.client)

    assert auth.logout().status_code == 302
    assert not is_logged_in(auth.client)

    replay = app.test_client()
    replay.set_cookie("session", captured)
    response = replay.get("/account")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert replay.get("/account/data.json").status_code == 302
    assert session_records(app, member.id) == 0


def test_logout_ends_only_that_session(app, create_user):
    member = create_user("member")
    laptop, phone = logged_in(app, member), logged_in(app, member)
    assert session_records(app, member.id) == 2
    laptop.logout()
    assert not is_logged_in(laptop.client)
    assert is_logged_in(phone.client)
    assert session_records(app, member.id) == 1


def test_a_cookie_without_a_server_side_session_is_refused(app, create_user):
    """A cookie signed before sessions had records (no id), or with a forged one, is logged out."""
    member = create_user("member")
    auth = logged_in(app, member)
    with auth.client.session_transaction() as sess:
        sess.pop("sid")
    assert not is_logged_in(auth.client)
    auth = logged_in(app, member)
    with auth.client.session_transaction() as sess:
        sess["sid"] = "forged"
    assert not is_logged_in(auth.client)


def test_a_session_id_of_another_account_opens_nothing(app, create_user):
    alice, mallory = create_user("member"), create_user("member")
    alice_auth, mallory_auth = logged_in(app, alice), logged_in(app, mallory)
    with alice_auth.client.session_transaction() as sess:
        alice_sid = sess["sid"]
    with mallory_auth.client.session_transaction() as sess:
        sess["sid"] = alice_sid  # mallory's own account id, alice's session id
    assert not is_logged_in(mallory_auth.client)


# ----------------------------------------------------------------------------- other sessions end


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, create_user, outbox):
    member = create_user("member")
    a, b = logged_in(app, member), logged_in(app, member)
    other = logged_in(app, create_user("member"))

    response = change_password(b)
    assert response.status_code == 302 and response.location == "/account"

    assert not is_logged_in(a.client)
    assert is_logged_in(b.client)
    assert is_logged_in(other.client)
    assert check_password_hash(user_row(app, member.id).password_hash, NEW_PASSWORD)
    assert logged_in(app, member, NEW_PASSWORD)  # the new password works
    [event] = audit(app, "password.changed")
    assert event.actor_id == member.id and event.ip == "127.0.0.1"
    [mail] = outbox("account.password_changed")
    assert mail.recipients == [member.email]
    assert "パスワードが変更されました" in mail.subject and "/password-reset" in mail.body


def test_a_wrong_current_password_changes_nothing(app, create_user, outbox):
    member = create_user("member")
    a, b = logged_in(app, member), logged_in(app, member)
    response = change_password(b, current="not-my-password-1")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "現在のパスワードが正しくありません。" in page
    assert check_password_hash(user_row(app, member.id).password_hash, DEFAULT_PASSWORD)
    assert is_logged_in(a.client) and is_logged_in(b.client)
    assert outbox("account.password_changed") == []
    assert len(audit(app, "password.change_refused")) == 1


def test_the_new_password_follows_the_shared_rules(app, create_user):
    member = create_user("member")
    auth = logged_in(app, member)
    short = change_password(auth, new="short")
    assert short.status_code == 422 and "10文字以上" in short.get_data(as_text=True)
    mismatch = change_password(auth, confirm=NEW_PASSWORD + "x")
    assert mismatch.status_code == 422 and "パスワードが一致しません。" in mismatch.get_data(as_text=True)
    common = change_password(auth, new="password123")
    assert common.status_code == 422 and "推測されやすい" in common.get_data(as_text=True)
    assert check_password_hash(user_row(app, member.id).password_hash, DEFAULT_PASSWORD)


def test_the_password_page_needs_a_log_in_and_is_linked_from_the_account(app, create_user):
    response = app.test_client().get("/account/password")
    assert response.status_code == 302 and response.location.startswith("/login")
    auth = logged_in(app, create_user("member"))
    assert 'href="/account/password"' in auth.client.get("/account").get_data(as_text=True)


def test_a_password_reset_ends_every_session(app, create_user, outbox):
    member = create_user("member")
    a = logged_in(app, member)
    visitor = AuthActions(app.test_client())
    assert visitor.post("/password-reset", {"email": member.email}).status_code == 200
    [mail] = outbox("account.password_reset")
    path = re.search(r"https?://[^\s/]+(/password-reset/\S+)", mail.body).group(1)
    response = visitor.client.post(path, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD,
                                               "csrf_token": csrf_token(visitor.client, path)})
    assert response.status_code == 302
    assert not is_logged_in(a.client)


def test_enrolling_and_removing_a_second_factor_end_the_other_sessions(app, create_user):
    member = create_user("member")
    a, b = logged_in(app, member), logged_in(app, member)
    secret = SECRET_RE.search(b.client.get("/account/2fa").get_data(as_text=True)).group(1)
    enrolled = b.post("/account/2fa", {"code": pyotp.TOTP(secret).now()})
    assert enrolled.status_code == 200
    recovery = re.findall(r"\b[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}\b", enrolled.get_data(as_text=True))
    assert not is_logged_in(a.client)
    assert is_logged_in(b.client)

    # a second session, through the second factor (the next code: the enrolment's is spent),
    # then the first removes it (with a recovery code: TOTP codes work once)
    c = AuthActions(app.test_client())
    assert c.login(member).location == "/login/2fa"
    assert c.post("/login/2fa", {"code": pyotp.TOTP(secret).at(time.time() + 30)}).status_code == 302
    assert is_logged_in(c.client)
    response = b.post("/account/2fa", {"code": recovery[0]})
    assert response.status_code == 302 and user_row(app, member.id).totp_secret is None
    assert not is_logged_in(c.client)
    assert is_logged_in(b.client)


def test_a_role_change_and_deactivation_end_the_accounts_sessions(app, create_user):
    secretariat = create_user("secretariat")
    back_office = logged_in(app, secretariat)
    member, other = create_user("member"), create_user("member")
    member_auth, other_auth = logged_in(app, member), logged_in(app, other)

    response = back_office.post(f"/secretariat/accounts/{member.id}/role", {"role": "observer"})
    assert response.status_code == 302
    assert not is_logged_in(member_auth.client)
    response = back_office.post(f"/secretariat/accounts/{other.id}/state", {"state": "deactivated"})
    assert response.status_code == 302
    assert user_row(app, other.id).state is AccountState.DEACTIVATED
    assert not is_logged_in(other_auth.client)
    assert session_records(app, member.id) == session_records(app, other.id) == 0
    assert is_logged_in(back_office.client)


def test_a_secretariat_keeps_its_own_session_when_it_sets_its_own_role(app, create_user):
    secretariat = create_user("secretariat")
    here, elsewhere = logged_in(app, secretariat), logged_in(app, secretariat)
    response = here.post(f"/secretariat/accounts/{secretariat.id}/role", {"role": "secretariat"})
    assert response.status_code == 302
    assert is_logged_in(here.client)
    assert not is_logged_in(elsewhere.client)


# ----------------------------------------------------------------------------- absolute lifetime


def test_a_session_ends_twelve_hours_after_log_in_however_active(app, create_user, monkeypatch):
    member = create_user("member")
    auth = logged_in(app, member)
    start = utcnow()
    monkeypatch.setattr(authentication, "utcnow", lambda: start + timedelta(hours=11, minutes=59))
    assert is_logged_in(auth.client)  # active all along: the idle limit never struck
    monkeypatch.setattr(authentication, "utcnow", lambda: start + timedelta(hours=12, minutes=1))
    assert not is_logged_in(auth.client)
    monkeypatch.undo()
    assert is_logged_in(logged_in(app, member).client)  # a new log-in starts a new lifetime


def test_the_absolute_lifetime_is_a_setting(make_app, monkeypatch):
    app = make_app(SESSION_ABSOLUTE_LIFETIME_SECONDS=3600)
    assert app.config["SESSION_ABSOLUTE_LIFETIME_SECONDS"] == 3600
    with app.app_context():
        from portal.accounts.operations import create_user as make_user

        user = make_user(email="short@example.org", name="短 時間", password=DEFAULT_PASSWORD,
                         role=Role.MEMBER)
        db.session.commit()
        user_id = user.id
    auth = logged_in(app, user_row(app, user_id))
    start = utcnow()
    monkeypatch.setattr(authentication, "utcnow", lambda: start + timedelta(minutes=61))
    assert not is_logged_in(auth.client)


def test_an_unchanged_session_cookie_is_not_resent_on_every_request(app, create_user):
    """Every attendee polls every 5 s: the cookie is re-signed and re-sent only when its content
    changed or its signature is a minute old, not on each request."""
    auth = logged_in(app, create_user("member"))
    auth.client.get("/account")  # its first form puts a CSRF token in the new session: a change
    for _ in range(3):
        response = auth.client.get("/account")
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers


def test_the_idle_limit_runs_from_the_last_activity(make_app, create_user):
    """Past PERMANENT_SESSION_LIFETIME without a request the session is over; a request now
    and then keeps it (its cookie is refreshed after a tenth of the limit, at most a minute)."""
    app = make_app(PERMANENT_SESSION_LIFETIME=timedelta(seconds=3))
    auth = logged_in(app, create_user("member"))
    auth.client.get("/account")  # its first form puts a CSRF token in the new session: a change
    time.sleep(2)
    refreshed = auth.client.get("/account")
    assert refreshed.status_code == 200 and "Set-Cookie" in refreshed.headers
    time.sleep(2)  # 4 s since log-in, 2 s since the last request
    assert is_logged_in(auth.client)
    time.sleep(4.5)  # the signature counts whole seconds
    assert not is_logged_in(auth.client)
