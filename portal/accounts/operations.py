"""Changing accounts: sign-up, approval, roles and deactivation.

Each function works inside the caller's unit of work and never commits; a broken rule raises
``DomainError`` with the message to show (and the form field to blame, if any).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from werkzeug.security import generate_password_hash

from portal.accounts import notifications
from portal.accounts.models import (
    AccountState,
    Membership,
    Organization,
    OrganizationKind,
    Role,
    User,
    UserSession,
    new_calendar_token,
)
from portal.accounts.queries import find_user, normalize_email
from portal.audit.services import record
from portal.core.db import db, utcnow
from portal.core.errors import DomainError
from portal.extensions import counters

MIN_PASSWORD_LENGTH = 10


def find_or_create_organization(
    name: str,
    kind: OrganizationKind = OrganizationKind.OTHER,
    membership: Membership = Membership.MEMBER,
) -> Organization:
    name = name.strip()
    org = db.session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        org = Organization(name=name, kind=kind, membership=membership)
        db.session.add(org)
        db.session.flush()
    return org


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines()
                     if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, email: str) -> None:
    """Length, not the e-mail address (or its name part), not a common password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(_l("パスワードは%(min)s文字以上にしてください。", min=MIN_PASSWORD_LENGTH), "password")
    lowered = password.strip().lower()
    email = normalize_email(email)
    if lowered == email or lowered == email.split("@")[0]:
        raise DomainError(_l("メールアドレスをパスワードにすることはできません。"), "password")
    if lowered in common_passwords() or len(set(lowered)) <= 2:
        raise DomainError(_l("よく使われる推測されやすいパスワードです。別のパスワードにしてください。"), "password")


def create_user(
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    organization: Organization | None = None,
    state: AccountState = AccountState.ACTIVE,
) -> User:
    email = normalize_email(email)
    if find_user(email) is not None:
        raise DomainError(_l("このメールアドレスは既に登録されています。"), "email")
    check_password_policy(password, email)
    user = User(
        email=email,
        name=name.strip(),
        password_hash=generate_password_hash(password),
        role=role,
        state=state,
        organization=organization,
        calendar_token=new_calendar_token(),
    )
    db.session.add(user)
    db.session.flush()
    return user


def sign_up(
    *,
    email: str,
    name: str,
    password: str,
    organization_name: str,
    organization_kind: OrganizationKind,
    membership: Membership,
    ip: str | None = None,
) -> User | None:
    """A new account waits for the secretariat's approval; the secretariat is told.

    An address that already has an account gets the same answer as a new one (None here, the
    same page for the caller): its owner is mailed instead, so sign-up reveals no registered
    address. The password is checked and hashed either way (the same errors, the same time).
    """
    check_password_policy(password, email)
    existing = find_user(email)
    if existing is not None:
        generate_password_hash(password)  # as long as a real sign-up takes
        record("account.signup_existing", actor_id=existing.id, subject=existing.email, ip=ip)
        limit = current_app.config["SIGNUP_NOTICE_MAILS_PER_HOUR"]
        if counters.incr(f"signup-notice/{existing.email}", 60 * 60) <= limit:
            notifications.signup_attempted(existing)
        return None
    org = find_or_create_organization(organization_name, organization_kind, membership)
    role = Role.MEMBER if org.membership is Membership.MEMBER else Role.OBSERVER
    user = create_user(
        email=email, name=name, password=password, role=role, organization=org,
        state=AccountState.PENDING,
    )
    record("account.signup", actor_id=user.id, subject=user.email, ip=ip)
    notifications.signup_received(user)
    return user


def approve(user: User, by: User, role: Role | None = None, ip: str | None = None) -> None:
    if user.state is not AccountState.PENDING:
        raise DomainError(_l("この申請は既に処理されています。"))
    user.state = AccountState.ACTIVE
    if role is not None:
        user.role = role
    user.decided_at = utcnow()
    user.decided_by_id = by.id
    record("account.approved", actor_id=by.id, subject=user.email, ip=ip,
           details={"role": user.role.value})
    notifications.approved(user)


def reject(user: User, by: User, reason: str = "", ip: str | None = None) -> None:
    if user.state is not AccountState.PENDING:
        raise DomainError(_l("この申請は既に処理されています。"))
    user.state = AccountState.REJECTED
    user.decided_at = utcnow()
    user.decided_by_id = by.id
    record("account.rejected", actor_id=by.id, subject=user.email, ip=ip)
    notifications.rejected(user, reason.strip())


def end_sessions(user: User, keep: str | None = None) -> None:
    """Every session of this account stops at its next request, except ``keep`` (the session id
    of the one that made the change, where it stays logged in); a pending second factor too."""
    query = delete(UserSession).where(UserSession.user_id == user.id)
    if keep:
        query = query.where(UserSession.id_hash != hash_session_id(keep))
    db.session.execute(query)
    user.session_version += 1


def hash_session_id(session_id: str) -> str:
    """Only the hash of a session id is stored: a copy of the table opens no session."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def set_state(user: User, state: AccountState, by: User, ip: str | None = None) -> None:
    """Deactivate (ends its sessions at once and stops its feeds) or reactivate an account."""
    if user.id == by.id and state is AccountState.DEACTIVATED:
        raise DomainError(_l("自分のアカウントは停止できません。"))
    before = user.state
    user.state = state
    if state is AccountState.DEACTIVATED:
        end_sessions(user)
        user.calendar_token = new_calendar_token()  # the old feed URL answers 404
    record("account.state_changed", actor_id=by.id, subject=user.email, ip=ip,
           details={"from": before.value, "to": state.value})


def set_role(user: User, role: Role, by: User, ip: str | None = None, keep: str | None = None) -> None:
    """``keep``: the acting session's id, kept when an account changes its own role."""
    if user.id == by.id and role is not Role.SECRETARIAT:
        raise DomainError(_l("自分の事務局ロールは外せません。"))
    before = user.role
    user.role = role
    end_sessions(user, keep if user.id == by.id else None)  # rights change: the account logs in again
    record("account.role_changed", actor_id=by.id, subject=user.email, ip=ip,
           details={"from": before.value, "to": role.value})
