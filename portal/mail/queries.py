"""Reading the outbox for the back office."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from portal.core.db import db, utcnow
from portal.mail.models import OutboxMessage, OutboxStatus


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


@dataclass(frozen=True)
class Waiting:
    """Messages not sent after MAIL_ALERT_AFTER_SECONDS: how many, and the oldest one's age."""

    count: int
    oldest_seconds: int


def waiting_too_long(now: datetime | None = None) -> Waiting | None:
    """What the secretariat is alerted to (banner, /healthz): None while everything is fresh."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=current_app.config["MAIL_ALERT_AFTER_SECONDS"])
    count, oldest = db.session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
            OutboxMessage.created_at <= cutoff,
        )
    ).one()
    if not count:
        return None
    return Waiting(count, int((now - oldest).total_seconds()))  # min() keeps the column's type: aware


def health() -> dict[str, Any]:
    """The mail line of /healthz: ``"mail": "ok"``, or ``"retrying"`` with the count and the
    oldest age in seconds of the messages waiting longer than MAIL_ALERT_AFTER_SECONDS."""
    waiting = waiting_too_long()
    if waiting is None:
        return {"mail": "ok"}
    return {"mail": "retrying", "mail_waiting": waiting.count, "mail_oldest_seconds": waiting.oldest_seconds}
