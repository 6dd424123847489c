"""Proving who one is: log-in slowed down after failures, server-side sessions, the second factor
(TOTP), password change and reset.

Functions work inside the caller's unit of work and never commit. A log-in attempt is not an
error: ``authenticate`` answers a ``LoginResult`` (failures are recorded and must be committed
even when the log-in is refused).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from portal.accounts import notifications
from portal.accounts.models import AccountState, EnrolmentToken, PasswordResetToken, User, UserSession
from portal.accounts.operations import check_password_policy, end_sessions, hash_session_id
from portal.accounts.queries import find_user, normalize_email
from portal.audit.services import record
from portal.core.db import db, utcnow
from portal.core.errors import DomainError
from portal.extensions import counters


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None
    needs_second_factor: bool = False


GENERIC_LOGIN_ERROR = _l("メールアドレスまたはパスワードが正しくありません。")


def authenticate(email: str, password: str, ip: str | None = None,
                 now: datetime | None = None) -> LoginResult:
    """Check credentials. Wrong passwords slow the account down; they never lock it.

    Failures are counted per account and client address and per account from every address, in
    the shared counters (every process sees them, also for addresses without an account, so the
    delay reveals nothing). Past the free failures each attempt must wait a growing delay.
    """
    now = now or utcnow()
    email = normalize_email(email)
    wait = _login_wait(email, ip)
    if wait:
        record("login.locked", subject=email, ip=ip)
        return LoginResult(None, _l(
            "ログインの失敗が続いたため、このアカウントへのログインを一時的に制限しています。約%(seconds)s秒後にもう一度お試しください。",
            seconds=wait))

    user = find_user(email)
    # An unknown address costs the same hashing as a wrong password: the time tells nothing.
    hash_to_check = user.password_hash if user is not None else _dummy_password_hash()
    if not check_password_hash(hash_to_check, password) or user is None:
        _login_failed(email, ip)
        return LoginResult(None, GENERIC_LOGIN_ERROR)

    if user.state is AccountState.PENDING:
        return LoginResult(None, _l("アカウントは事務局の承認待ちです。承認されるとメールでお知らせします。"))
    if user.state is not AccountState.ACTIVE:
        record("login.refused", actor_id=user.id, subject=email, ip=ip,
               details={"state": user.state.value})
        return LoginResult(None, _l("このアカウントは利用できません。事務局にお問い合わせください。"))
    _forget_failures(email, ip)
    if user.totp_secret:
        record("login.password_ok", actor_id=user.id, subject=email, ip=ip)
        return LoginResult(user, needs_second_factor=True)
    complete_login(user, ip, now)
    return LoginResult(user)


def _dummy_password_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


_DUMMY_HASH: str | None = None


def _pair_key(email: str, ip: str | None) -> str:
    return f"login/{email}/{ip or '-'}"


def _account_key(email: str) -> str:
    return f"login/{email}"


def _login_wait(email: str, ip: str | None) -> int:
    """Seconds this attempt must still wait (0: it may go ahead)."""
    left = max(counters.seconds_left(key + "/wait") if counters.get(key + "/wait") else 0.0
               for key in (_pair_key(email, ip), _account_key(email)))
    return int(left) + 1 if left > 0 else 0


def _login_failed(email: str, ip: str | None) -> None:
    cfg = current_app.config
    window = cfg["LOGIN_FAILURE_WINDOW_SECONDS"]
    for key, free in ((_pair_key(email, ip), cfg["LOGIN_MAX_FAILURES"]),
                      (_account_key(email), cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"])):
        failures = counters.incr(key, window)
        if failures >= free:
            delay = min(cfg["LOGIN_MAX_DELAY_SECONDS"], cfg["LOGIN_DELAY_SECONDS"] * 2 ** min(failures - free, 20))
            counters.clear(key + "/wait")
            counters.incr(key + "/wait", max(1, int(delay)))
        if key == _account_key(email):
            record("login.failure", subject=email, ip=ip, details={"failures": failures})
        if failures == free:  # from now on each attempt waits
            record("login.lockout", subject=email, ip=ip)


def _forget_failures(email: str, ip: str | None) -> None:
    for key in (_pair_key(email, ip), _account_key(email)):
        counters.clear(key)
        counters.clear(key + "/wait")


def complete_login(user: User, ip: str | None = None, now: datetime | None = None) -> None:
    user.last_login_at = now or utcnow()
    record("login.success", actor_id=user.id, subject=user.email, ip=ip)


# Server-side sessions ----------------------------------------------------------------------

def start_session(user: User, second_factor: bool = False, now: datetime | None = None) -> str:
    """A new log-in's record; the id returned goes into the (signed) cookie. ``second_factor``:
    this log-in passed a code (it is the session, not the account, that holds it)."""
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=current_app.config["SESSION_ABSOLUTE_LIFETIME_SECONDS"])
    db.session.execute(delete(UserSession).where(  # this account's expired records go
        UserSession.user_id == user.id, UserSession.created_at <= now - lifetime))
    db.session.add(UserSession(id_hash=hash_session_id(session_id), user_id=user.id, created_at=now,
                               second_factor_at=now if second_factor else None))
    user.session_second_factor = second_factor
    return session_id


def mark_second_factor(user: User, session_id: object, now: datetime | None = None) -> None:
    """This session has just proven the second factor (a code, or an enrolment with one)."""
    if isinstance(session_id, str) and session_id:
        db.session.execute(update(UserSession).where(
            UserSession.id_hash == hash_session_id(session_id), UserSession.user_id == user.id,
        ).values(second_factor_at=now or utcnow()))
        user.session_second_factor = True


def session_user(user_id: int, session_id: object) -> User | None:
    """The account of a cookie, if its session still exists server-side: not logged out, not
    ended by a change to the account, younger than the absolute lifetime, account active."""
    if not isinstance(session_id, str) or not session_id:
        return None
    # One query for the record and its account: every logged-in request asks it.
    found = db.session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.id_hash == hash_session_id(session_id), UserSession.user_id == user_id)
    ).first()
    if found is None:
        return None
    record_, user = found
    lifetime = timedelta(seconds=current_app.config["SESSION_ABSOLUTE_LIFETIME_SECONDS"])
    if record_.created_at + lifetime <= utcnow():
        return None
    if not user.is_active:
        return None
    user.session_second_factor = record_.second_factor_at is not None
    user.session_ends = record_.created_at + lifetime
    return user


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


def _code_step(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step (30 s) whose code this is, one step of clock drift either way; None if none."""
    import pyotp

    code = (code or "").replace(" ", "").strip()
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or utcnow())
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _spend_step(user: User, step: int) -> bool:
    """Remember ``step`` as the account's last accepted one, unless it (or a later one) was
    already used: a code works once, also when two log-ins race in two processes (the row's
    conditional update lets one of them through)."""
    spent = db.session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return False
    user.totp_last_step = step
    return True


def enable_totp(user: User, secret: str, code: str, ip: str | None = None, keep: str | None = None,
                enrolment_token: str | None = None) -> list[str]:
    """Confirm enrolment with a first code; returns recovery codes to show once. The account's
    other sessions end (``keep``: the enrolling session's id, which has now passed the factor).

    A secretariat account enrolling its first authenticator also needs ``enrolment_token``, the
    link mailed to its address (request_enrolment_link): the password alone is not enough.
    """
    grant = None
    if user.totp_secret:
        raise DomainError(_l("二要素認証は既に有効です。"), "code")
    if user.is_secretariat:
        grant = valid_enrolment_token(user, enrolment_token)
        if grant is None:
            raise DomainError(
                _l("事務局のアカウントの二要素認証の設定には、登録メールアドレスに送るリンクが必要です。"), "code")
    step = _code_step(secret, code)
    if step is None:
        raise DomainError(
            _l("確認コードが正しくありません。認証アプリに表示された6桁の数字を入力してください。"), "code")
    codes = [f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}" for _ in range(RECOVERY_CODES)]
    user.totp_secret = secret
    user.totp_last_step = step  # the enrolment's code cannot log in anyone afterwards
    user.recovery_codes = [_hash_token(c) for c in codes]
    if grant is not None:
        grant.used_at = utcnow()
    end_sessions(user, keep)
    mark_second_factor(user, keep)
    record("2fa.enabled", actor_id=user.id, subject=user.email, ip=ip)
    return codes


def request_enrolment_link(user: User, ip: str | None = None) -> bool:
    """Mail the account's own address a short-lived, single-use link to enrol a first
    authenticator. False when the hourly number of such mails is used up (nothing mailed)."""
    if counters.incr(f"enrolment-mail/{user.id}", 60 * 60) > current_app.config["ENROLMENT_MAILS_PER_HOUR"]:
        record("2fa.enrolment_link_not_mailed", actor_id=user.id, subject=user.email, ip=ip)
        return False
    token = secrets.token_urlsafe(32)
    max_age = current_app.config["ENROLMENT_LINK_MAX_AGE_SECONDS"]
    db.session.add(EnrolmentToken(user_id=user.id, token_hash=_hash_token(token),
                                  expires_at=utcnow() + timedelta(seconds=max_age)))
    record("2fa.enrolment_link_mailed", actor_id=user.id, subject=user.email, ip=ip)
    notifications.enrolment_link(user, token, max_age)
    return True


def valid_enrolment_token(user: User, token: object, now: datetime | None = None) -> EnrolmentToken | None:
    """The unused, unexpired enrolment link ``token`` of this account (another's is no use)."""
    if not isinstance(token, str) or not token:
        return None
    now = now or utcnow()
    row = db.session.scalar(select(EnrolmentToken).where(EnrolmentToken.token_hash == _hash_token(token)))
    if row is None or row.user_id != user.id or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def disable_totp(user: User, code: str, ip: str | None = None, keep: str | None = None) -> None:
    """Switch the second factor off; the account's other sessions end (``keep`` stays)."""
    if user.is_secretariat and current_app.config["TOTP_REQUIRED_FOR_SECRETARIAT"]:
        raise DomainError(_l("事務局のアカウントは二要素認証を無効にできません。"), "code")
    error = second_factor_error(user, code, ip)
    if error is not None:
        raise DomainError(error, "code")
    user.totp_secret, user.recovery_codes = None, None
    end_sessions(user, keep)
    record("2fa.disabled", actor_id=user.id, subject=user.email, ip=ip)


WRONG_CODE = _l("確認コードが正しくありません。")


def second_factor_error(user: User, code: str, ip: str | None = None) -> str | None:
    """None for a TOTP code not used before (its time step is then spent) or an unused recovery
    code (then spent); else the message to show.

    Wrong codes are counted per account in the shared counters (every process sees them). Past
    TOTP_MAX_FAILURES each attempt waits a growing delay, the right code included: guessing
    one of a million codes stays hopeless, whatever the number of processes or addresses.
    """
    wait = _second_factor_wait(user)
    if wait:
        record("2fa.throttled", actor_id=user.id, subject=user.email, ip=ip)
        return str(_l(
            "確認コードの誤りが続いたため、一時的に制限しています。約%(seconds)s秒後にもう一度お試しください。",
            seconds=wait))
    if user.totp_secret:
        step = _code_step(user.totp_secret, code)
        if step is not None and _spend_step(user, step):
            _forget_second_factor_failures(user)
            return None
        if step is not None:
            record("2fa.replayed", actor_id=user.id, subject=user.email, ip=ip)
    hashed = _hash_token((code or "").strip().lower())
    if user.recovery_codes and hashed in user.recovery_codes:
        user.recovery_codes = [c for c in user.recovery_codes if c != hashed]
        record("2fa.recovery_code_used", actor_id=user.id, subject=user.email, ip=ip,
               details={"left": len(user.recovery_codes)})
        _forget_second_factor_failures(user)
        return None
    _second_factor_failed(user)
    record("2fa.failure", actor_id=user.id, subject=user.email, ip=ip)
    return str(WRONG_CODE)


def _second_factor_key(user: User) -> str:
    return f"2fa/{user.id}"


def _second_factor_wait(user: User) -> int:
    key = _second_factor_key(user) + "/wait"
    left = counters.seconds_left(key) if counters.get(key) else 0.0
    return int(left) + 1 if left > 0 else 0


def _second_factor_failed(user: User) -> None:
    cfg = current_app.config
    key = _second_factor_key(user)
    failures = counters.incr(key, cfg["TOTP_FAILURE_WINDOW_SECONDS"])
    free = cfg["TOTP_MAX_FAILURES"]
    if failures >= free:
        delay = min(cfg["TOTP_MAX_DELAY_SECONDS"], cfg["TOTP_DELAY_SECONDS"] * 2 ** min(failures - free, 20))
        counters.clear(key + "/wait")
        counters.incr(key + "/wait", max(1, int(delay)))


def _forget_second_factor_failures(user: User) -> None:
    counters.clear(_second_factor_key(user))
    counters.clear(_second_factor_key(user) + "/wait")


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
    # Anyone can ask for a reset of anyone's address: the owner gets a few mails an hour, no more.
    if counters.incr(f"reset-mail/{user.email}", 60 * 60) > current_app.config["PASSWORD_RESET_MAILS_PER_HOUR"]:
        record("password.reset_not_mailed", subject=user.email, ip=ip, actor_id=user.id)
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
    _forget_failures(user.email, ip)  # other addresses' failures stay counted
    _forget_second_factor_failures(user)  # whoever guessed codes knew the old password
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
