"""Reading the audit log: search by text (subject, address, operation) and operation prefix."""

from __future__ import annotations

from sqlalchemy import or_, select

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.core.db import db


def events(query_text: str | None = None, action: str | None = None, limit: int = 500) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if query_text:
        like = f"%{query_text}%"
        query = query.where(or_(AuditEvent.subject.ilike(like), AuditEvent.ip.ilike(like),
                                AuditEvent.action.ilike(like)))
    return list(db.session.scalars(query))


def actors(events: list[AuditEvent]) -> dict[int, User]:
    """The accounts that did these events, by id."""
    ids = {e.actor_id for e in events if e.actor_id}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
