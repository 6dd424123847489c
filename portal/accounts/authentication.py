"""Proving who one is: log-in with lock-out, server-side sessions, the second factor (TOTP),
password change and reset.

Functions work inside the caller's unit of work and never commit. A log-in attempt is not an
error: ``authenticate`` answers a ``LoginResult`` (failures are recorded and must be committed
even when the log-in is refused).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from portal.accounts import notifications
from portal.accounts.models import AccountState, LoginThrottle, PasswordResetToken, User, UserSession
from portal.accounts.operations import check_password_policy, end_sessions, hash_session_id
from portal.accounts.queries import find_user, normalize_email
from portal.audit.services import record
from portal.core.db import db, utcnow
from portal.core.errors import DomainError


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None
    needs_second_factor: bool = False


GENERIC_LOGIN_ERROR = _l("メールアドレスまたはパスワードが正しくありません。")


def authenticate(email: str, password: str, ip: str | None = None,
                 now: datetime | None = None) -> LoginResult:
    """Check credentials. Failures per address are counted; too many lock it for a while.

    The lock applies whether or not an account exists, so it reveals nothing about accounts.
    """
    now = now or utcnow()
    cfg = current_app.config
    email = normalize_email(email)
    throttle = db.session.get(LoginThrottle, email, with_for_update=True)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        record("login.locked", subject=email, ip=ip)
        minutes = max(1, int((throttle.locked_until - now).total_seconds() // 60) + 1)
        return LoginResult(None, _l(
            "ログインの失敗が続いたため、このアドレスは一時的にロックされています。約%(minutes)s分後にもう一度お試しください。",
            minutes=minutes))

    user = find_user(email)
    if user is None or not check_password_hash(user.password_hash, password):
        if throttle is None:
            throttle = LoginThrottle(email=email, failures=0, first_failure_at=now)
            db.session.add(throttle)
        window = timedelta(seconds=cfg["LOGIN_FAILURE_WINDOW_SECONDS"])
        if throttle.first_failure_at < now - window:
            throttle.failures, throttle.first_failure_at = 0, now
        throttle.failures += 1
        record("login.failure", subject=email, ip=ip, details={"failures": throttle.failures})
        if throttle.failures >= cfg["LOGIN_MAX_FAILURES"]:
            throttle.locked_until = now + timedelta(seconds=cfg["LOGIN_LOCK_SECONDS"])
            throttle.failures = 0
            record("login.lockout", subject=email, ip=ip)
        return LoginResult(None, GENERIC_LOGIN_ERROR)

    if user.state is AccountState.PENDING:
        return LoginResult(None, _l("アカウントは事務局の承認待ちです。承認されるとメールでお知らせします。"))
    if user.state is not AccountState.ACTIVE:
        record("login.refused", actor_id=user.id, subject=email, ip=ip,
               details={"state": user.state.value})
        return LoginResult(None, _l("このアカウントは利用できません。事務局にお問い合わせください。"))
    if throttle is not None:
        db.session.delete(throttle)
    if user.totp_secret:
        record("login.password_ok", actor_id=user.id, subject=email, ip=ip)
        return LoginResult(user, needs_second_factor=True)
    complete_login(user, ip, now)
    return LoginResult(user)


def complete_login(user: User, ip: str | None = None, now: datetime | None = None) -> None:
    user.last_login_at = now or utcnow()
    record("login.success", actor_id=user.id, subject=user.email, ip=ip)


# Server-side sessions ----------------------------------------------------------------------

def start_session(user: User, now: datetime | None = None) -> str:
    """A new log-in's record; the id returned goes into the (signed) cookie."""
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=current_app.config["SESSION_ABSOLUTE_LIFETIME_SECONDS"])
    db.session.execute(delete(UserSession).where(  # this account's expired records go
        UserSession.user_id == user.id, UserSession.created_at <= now - lifetime))
    db.session.add(UserSession(id_hash=hash_session_id(session_id), user_id=user.id, created_at=now))
    return session_id


def session_user(user_id: int, session_id: object) -> User | None:
    """The account of a cookie, if its session still exists server-side: not logged out, not
    ended by a change to the account, younger than the absolute lifetime, account active."""
    if not isinstance(session_id, str) or not session_id:
        return None
    record_ = db.session.get(UserSession, hash_session_id(session_id))
    if record_ is None or record_.user_id != user_id:
        return None
    lifetime = timedelta(seconds=current_app.config["SESSION_ABSOLUTE_LIFETIME_SECONDS"])
    if record_.created_at + lifetime <= utcnow():
        return None
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_active else None


def end_session(session_id: object) -> None:
    """Logout: this session's record goes; its cookie opens nothing any more."""
    if isinstance(session_id, str) and session_id:
        db.session.execute(delete(UserSession).where(UserSession.id_hash == hash_session_id(session_id)))


# Two-factor authentication (TOTP, RFC 6238) ------------------------------------------------

RECOVERY_CODES = 10


def new_totp_secret() -> str:
    import pyotp

    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="官民連携プラットフォーム")


def totp_qr_data_uri(uri: str) -> str:
    import segno

    return segno.make(uri, error="m").svg_data_uri(scale=5)


def _code_ok(secret: str, code: str) -> bool:
    import pyotp

    code = (code or "").replace(" ", "").strip()
    return code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)


def enable_totp(user: User, secret: str, code: str, ip: str | None = None, keep: str | None = None) -> list[str]:
    """Confirm enrolment with a first code; returns recovery codes to show once. The account's
    other sessions end (``keep``: the enrolling session's id)."""
    if not _code_ok(secret, code):
        raise DomainError(
            _l("確認コードが正しくありません。認証アプリに表示された6桁の数字を入力してください。"), "code")
    codes = [f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}" for _ in range(RECOVERY_CODES)]
    user.totp_secret = secret
    user.recovery_codes = [_hash_token(c) for c in codes]
    end_sessions(user, keep)
    record("2fa.enabled", actor_id=user.id, subject=user.email, ip=ip)
    return codes


def disable_totp(user: User, code: str, ip: str | None = None, keep: str | None = None) -> None:
    """Switch the second factor off; the account's other sessions end (``keep`` stays)."""
    if user.is_secretariat and current_app.config["TOTP_REQUIRED_FOR_SECRETARIAT"]:
        raise DomainError(_l("事務局のアカウントは二要素認証を無効にできません。"), "code")
    if not verify_second_factor(user, code):
        raise DomainError(_l("確認コードが正しくありません。"), "code")
    user.totp_secret, user.recovery_codes = None, None
    end_sessions(user, keep)
    record("2fa.disabled", actor_id=user.id, subject=user.email, ip=ip)


def verify_second_factor(user: User, code: str, ip: str | None = None) -> bool:
    """A current TOTP code, or an unused recovery code (which is then spent)."""
    if user.totp_secret and _code_ok(user.totp_secret, code):
        return True
    hashed = _hash_token((code or "").strip().lower())
    if user.recovery_codes and hashed in user.recovery_codes:
        user.recovery_codes = [c for c in user.recovery_codes if c != hashed]
        record("2fa.recovery_code_used", actor_id=user.id, subject=user.email, ip=ip,
               details={"left": len(user.recovery_codes)})
        return True
    record("2fa.failure", actor_id=user.id, subject=user.email, ip=ip)
    return False


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Password change and reset --------------------------------------------------------------------------

def request_password_reset(email: str, ip: str | None = None) -> None:
    """Mail a single-use, expiring link if the address belongs to an active account.

    The caller shows the same message whether or not the address exists.
    """
    user = find_user(email)
    record("password.reset_requested", subject=normalize_email(email), ip=ip,
           actor_id=user.id if user else None)
    if user is None or user.state is not AccountState.ACTIVE:
        return
    token = secrets.token_urlsafe(32)
    max_age = current_app.config["PASSWORD_RESET_MAX_AGE_SECONDS"]
    db.session.add(PasswordResetToken(
        user_id=user.id, token_hash=_hash_token(token),
        expires_at=utcnow() + timedelta(seconds=max_age),
    ))
    notifications.password_reset(user, token, max_age)


def valid_reset_token(token: str, now: datetime | None = None) -> PasswordResetToken | None:
    now = now or utcnow()
    row = db.session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == _hash_token(token))
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def reset_password(token: str, new_password: str, ip: str | None = None) -> User:
    row = valid_reset_token(token)
    if row is None:
        raise DomainError(_l("このリンクは無効か期限切れです。もう一度お手続きください。"), "password")
    user = row.user
    check_password_policy(new_password, user.email)
    user.password_hash = generate_password_hash(new_password)
    user.password_changed_at = utcnow()
    row.used_at = utcnow()
    # Any other outstanding links die with this one.
    for other in db.session.scalars(
        select(PasswordResetToken).where(
            PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None)
        )
    ):
        other.used_at = row.used_at
    db.session.execute(
        delete(LoginThrottle).where(LoginThrottle.email == user.email)
    )
    end_sessions(user)  # whoever knew the old password is logged out everywhere
    record("password.reset", actor_id=user.id, subject=user.email, ip=ip)
    return user


def change_password(user: User, current_password: str, new_password: str, ip: str | None = None,
                    keep: str | None = None) -> None:
    """A logged-in account's own change: the current password first; every other session ends
    (``keep``: the changing session's id); the owner is mailed a notice."""
    if not check_password_hash(user.password_hash, current_password or ""):
        raise DomainError(_l("現在のパスワードが正しくありません。"), "current_password")
    check_password_policy(new_password, user.email)
    user.password_hash = generate_password_hash(new_password)
    user.password_changed_at = utcnow()
    end_sessions(user, keep)
    record("password.changed", actor_id=user.id, subject=user.email, ip=ip)
    notifications.password_changed(user)


def password_change_refused(user: User, ip: str | None = None) -> None:
    """A wrong current password on the change page (recorded after the change rolled back)."""
    record("password.change_refused", actor_id=user.id, subject=user.email, ip=ip)
