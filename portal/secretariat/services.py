"""Back-office queries: the account list and the outbox."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from portal.accounts.models import AccountState, User
from portal.core.db import db
from portal.mail.models import OutboxMessage, OutboxStatus


def accounts(state: AccountState | None = None) -> list[User]:
    query = select(User).options(selectinload(User.organization))
    if state is not None:
        query = query.where(User.state == state)
    pending_first = case((User.state == AccountState.PENDING, 0), else_=1)
    return list(db.session.scalars(query.order_by(pending_first, User.created_at.desc())))


def outbox(status: OutboxStatus | None = None, limit: int = 200) -> list[OutboxMessage]:
    query = select(OutboxMessage)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(db.session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)))


def outbox_counts() -> dict[OutboxStatus, int]:
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return {status: count for status, count in rows}
