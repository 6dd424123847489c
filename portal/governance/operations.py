"""Governance changes: marking accounts reviewed (棚卸し), a deletion request, anonymization.

They work inside the caller's unit of work and never commit; a refusal raises ``DomainError``.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.accounts.models import AccountState, User, new_calendar_token
from portal.accounts.operations import end_sessions
from portal.audit.services import record
from portal.core.db import utcnow
from portal.core.errors import DomainError
from portal.governance import notifications


def mark_reviewed(users: list[User], by: User, ip: str | None = None) -> int:
    if not users:
        raise DomainError(_l("確認済みにするアカウントを選んでください。"))
    now = utcnow()
    for user in users:
        user.reviewed_at, user.reviewed_by_id = now, by.id
    record("inventory.reviewed", actor_id=by.id, ip=ip, details={"accounts": [u.id for u in users]})
    return len(users)


def request_deletion(user: User, ip: str | None = None) -> None:
    """Once: a second request changes nothing (the secretariat was told already)."""
    if user.deletion_requested_at is None:
        user.deletion_requested_at = utcnow()
        record("account.deletion_requested", actor_id=user.id, subject=user.email, ip=ip)
        notifications.deletion_requested(user)


def anonymize(user: User, by: User, ip: str | None = None) -> None:
    """Remove a departed account's personal data, keeping its questions and statistics."""
    if user.id == by.id:
        raise DomainError(_l("自分のアカウントは匿名化できません。"))
    user.name = "退会したユーザー"
    user.email = f"deleted-{user.id}@invalid.example"
    user.password_hash = "!"  # matches no password
    user.totp_secret, user.recovery_codes = None, None
    user.state = AccountState.DEACTIVATED
    user.anonymized_at = utcnow()
    user.calendar_token = new_calendar_token()
    end_sessions(user)
    record("account.anonymized", actor_id=by.id, subject=f"user:{user.id}", ip=ip)
