"""Writing to the audit log. Never pass passwords or tokens in ``details``."""

from __future__ import annotations

from typing import Any

from portal.audit.models import AuditEvent
from portal.core.db import db


def record(
    action: str,
    *,
    actor_id: int | None = None,
    subject: str | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event to the current transaction (committed with the change it describes)."""
    event = AuditEvent(action=action, actor_id=actor_id, subject=subject, ip=ip, details=details)
    db.session.add(event)
    return event
