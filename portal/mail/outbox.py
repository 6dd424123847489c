"""The outbox, as every domain sees it: a mail is a row added to the caller's transaction.

Nothing sends mail inside a request. ``enqueue`` only adds a row; it is sent (by
``portal.mail.delivery``, the ``mail deliver`` command) only if that transaction commits.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from portal.core.db import db, utcnow
from portal.mail.models import OutboxMessage, OutboxStatus


def enqueue(
    recipients: str | list[str],
    subject: str,
    body: str,
    *,
    kind: str,
    dedupe_key: str | None = None,
    reply_to: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> OutboxMessage:
    """Add a message to the current transaction; it is sent only if that transaction commits."""
    if isinstance(recipients, str):
        recipients = [recipients]
    message = OutboxMessage(
        kind=kind,
        dedupe_key=dedupe_key,
        recipients=list(recipients),
        reply_to=reply_to,
        subject=subject,
        body=body,
        attachments=attachments or [],
        headers=headers or {},
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    return message


def secretariat_address() -> str:
    return current_app.config["SECRETARIAT_EMAIL"]
