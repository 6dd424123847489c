"""The audit log as an Excel-ready CSV. Operations stay codes (``login.failure``): the file is
searched and filtered by them; details are in words, as on the screen."""

from __future__ import annotations

from portal.audit.models import AuditEvent
from portal.audit.queries import actors, in_words
from portal.core.csv import to_csv
from portal.core.dates import to_local


def audit_csv(events: list[AuditEvent]) -> bytes:
    by_id = actors(events)
    rows = [[to_local(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.action,
             by_id[e.actor_id].email if e.actor_id in by_id else "", e.subject or "", e.ip or "",
             " / ".join(in_words(e))] for e in events]
    return to_csv(["日時", "操作", "実行者", "対象", "IPアドレス", "詳細"], rows)
