"""Reading the audit log: search by text (subject, address, operation) and operation prefix."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import or_, select

from portal.accounts.models import AccountState, Role, User
from portal.audit.models import AuditEvent
from portal.core.db import db
from portal.core.labels import label


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


# Details whose from/to (or role) are stored codes of a state, by operation.
_STATE_CODES: dict[str, type[enum.Enum]] = {"account.state_changed": AccountState, "account.role_changed": Role}


def _state_word(kind: type[enum.Enum] | None, code: Any) -> str:
    if kind is None:
        return str(code)
    try:
        return label(kind(code))
    except ValueError:
        return str(code)


def in_words(event: AuditEvent) -> list[str]:
    """An event's details as people read them: each change as 項目: 変更前 → 変更後, states and
    codes through the one label table, never raw JSON."""
    details = dict(event.details or {})
    lines = []
    if "from" in details and "to" in details:
        kind = _STATE_CODES.get(event.action)
        lines.append(f"{_state_word(kind, details.pop('from'))} → {_state_word(kind, details.pop('to'))}")
    for key, value in details.items():
        name = label(key, "detail")
        if key == "changes":
            lines.extend(f"{label(field, 'detail')}: {old or '—'} → {new or '—'}" for field, old, new in value)
        elif key == "role":
            lines.append(f"{name}: {_state_word(Role, value)}")
        elif isinstance(value, bool):
            lines.append(name)
        elif isinstance(value, list):
            lines.append(f"{name}: {len(value)}")
        else:
            lines.append(f"{name}: {value}")
    return lines
