"""The outbox: every message, written in the transaction of the change that causes it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import Model, UTCDateTime, enum_column, utcnow


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for delivery (or for its next retry)
    SENDING = "sending"  # claimed by a delivery worker
    SENT = "sent"
    FAILED = "failed"  # refused for good (5xx); never retried by itself, the secretariat can


class OutboxMessage(Model):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))  # e.g. account.approved
    # Makes "exactly once" a database guarantee, e.g. one Q&A digest per seminar.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    reply_to: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    # [{"filename", "content_type", "data"}] with text data (e.g. an .ics file)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Extra header lines, e.g. List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058).
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus), default=OutboxStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_to: Mapped[str | None] = mapped_column(String(500))  # "smtp" or the .eml path
