"""Reading accounts: by e-mail address, the back office's list, the pending count."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from portal.accounts.models import AccountState, User
from portal.core.db import db


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def accounts(state: AccountState | None = None) -> list[User]:
    """The back office's account list: applications waiting for a decision first."""
    query = select(User).options(selectinload(User.organization))
    if state is not None:
        query = query.where(User.state == state)
    pending_first = case((User.state == AccountState.PENDING, 0), else_=1)
    return list(db.session.scalars(query.order_by(pending_first, User.created_at.desc())))


def pending_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.state == AccountState.PENDING)
    ) or 0
