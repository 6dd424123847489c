"""Outbox: enqueue mail with the change that causes it; deliver it later, exactly once.

Nothing sends mail inside a request. ``enqueue`` only adds a row to the caller's transaction;
``deliver_batch`` (the ``mail deliver`` command) claims pending rows, sends them over one SMTP
connection and records the outcome row by row.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from flask_mail import Message
from sqlalchemy import or_, select, update

from portal.core.db import db, utcnow
from portal.extensions import mail
from portal.mail.models import OutboxMessage, OutboxStatus

# A claim older than this is taken to belong to a crashed worker and may be claimed again.
STALE_CLAIM = timedelta(minutes=10)


def enqueue(
    recipients: str | list[str],
    subject: str,
    body: str,
    *,
    kind: str,
    dedupe_key: str | None = None,
    reply_to: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
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
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    return message


def secretariat_address() -> str:
    return current_app.config["SECRETARIAT_EMAIL"]


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0  # attempts that failed this run (message kept for retry or marked failed)
    files: list[str] = field(default_factory=list)  # .eml files written (no SMTP configured)

    def __str__(self) -> str:
        text = f"claimed {self.claimed}, sent {self.sent}, failed {self.failed}"
        return text + "".join(f"\n  written: {path}" for path in self.files)


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the n-th failed attempt: base, 2×base, 4×base… capped at one hour."""
    base = current_app.config["MAIL_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 3600))


def claim(worker: str, limit: int, now: datetime | None = None) -> list[OutboxMessage]:
    """Mark up to ``limit`` due messages as ours and commit, so no other worker takes them.

    On PostgreSQL the candidate rows are locked with FOR UPDATE SKIP LOCKED, so concurrent
    workers pick disjoint rows without waiting. The UPDATE re-checks the status as well, which
    keeps the claim exclusive on SQLite (which has no row locks but serializes writers).
    """
    now = now or utcnow()
    due = or_(
        (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.claimed_at < now - STALE_CLAIM),
    )
    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(due)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not ids:
        db.session.commit()
        return []
    token = f"{worker}:{uuid.uuid4().hex[:12]}"
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), due)
        .values(status=OutboxStatus.SENDING, claimed_by=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.claimed_by == token)
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
    )


def to_flask_message(message: OutboxMessage) -> Message:
    msg = Message(
        subject=message.subject,
        recipients=list(message.recipients),
        body=message.body,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        reply_to=message.reply_to,
        charset="utf-8",
    )
    # One stable Message-ID per outbox row, so a resend is recognizable as the same message.
    msg.msgId = f"<outbox-{message.id}@{_mail_domain()}>"
    for item in message.attachments or []:
        msg.attach(item["filename"], item["content_type"], item["data"].encode("utf-8"))
    return msg


def _mail_domain() -> str:
    sender = current_app.config["MAIL_DEFAULT_SENDER"] or ""
    return sender.rsplit("@", 1)[-1].strip(">") or socket.getfqdn()


def deliver_batch(worker: str | None = None, now: datetime | None = None) -> DeliveryReport:
    """One pass: claim due messages and send them; every outcome is committed row by row."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    now = now or utcnow()
    report = DeliveryReport()
    batch = claim(worker, current_app.config["MAIL_BATCH_SIZE"], now)
    report.claimed = len(batch)
    if not batch:
        return report
    if not current_app.config.get("MAIL_SERVER"):
        for message in batch:
            path = write_eml(message)
            _mark_sent(message, str(path))
            report.sent += 1
            report.files.append(str(path))
        return report
    try:
        with mail.connect() as connection:  # one SMTP connection for the whole batch
            for message in batch:
                try:
                    connection.send(to_flask_message(message))
                except Exception as exc:
                    _mark_failed_attempt(message, exc, now)
                    report.failed += 1
                else:
                    _mark_sent(message, "smtp")
                    report.sent += 1
    except Exception as exc:
        for message in batch:
            if message.status is OutboxStatus.SENDING:
                _mark_failed_attempt(message, exc, now)
                report.failed += 1
    return report


def _mark_sent(message: OutboxMessage, where: str) -> None:
    message.status = OutboxStatus.SENT
    message.sent_at = utcnow()
    message.attempts += 1
    message.last_error = None
    message.delivered_to = where
    db.session.commit()


def _mark_failed_attempt(message: OutboxMessage, exc: BaseException, now: datetime) -> None:
    message.attempts += 1
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    message.claimed_by = None
    if message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        message.status = OutboxStatus.FAILED
    else:
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = now + retry_delay(message.attempts)
    db.session.commit()


def write_eml(message: OutboxMessage) -> Path:
    """Without an SMTP server, a message is kept as an .eml file under instance/mail."""
    directory = Path(current_app.config["MAIL_FILE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{message.created_at:%Y%m%d-%H%M%S}-{message.id:06d}.eml"
    path.write_bytes(to_flask_message(message).as_bytes())
    return path


def retry(message: OutboxMessage) -> None:
    """The secretariat puts a failed message back in the queue, due now."""
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = utcnow()
    message.attempts = 0
    message.claimed_by = None
