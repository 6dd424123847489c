"""The one SEQUENCE rule, for every calendar event (seminars, sessions, milestones) and every
path that changes one (back office, leads' forms, the importer).

RFC 5545 §3.8.7.4: SEQUENCE grows with each significant revision, the ones an attendee must act
on: a new time, a new status, a new join link (and for a milestone, its due or done day). A new
title or description is not one; it still moves LAST-MODIFIED (``updated_at``) so feeds and
their validators change.
"""

from __future__ import annotations

from typing import Any

from portal.core.db import utcnow

SEQUENCE_FIELDS = frozenset({"date_on", "precision", "starts_at", "ends_at", "status", "join_url", "due_on", "done_on"})
WHEN_FIELDS = frozenset({"date_on", "precision", "starts_at", "ends_at"})


def revise(event: Any, changed: set[str]) -> None:
    """Record that ``changed`` attributes of a stored event were given new values."""
    if not changed:
        return
    if changed & SEQUENCE_FIELDS:
        event.sequence = (event.sequence or 0) + 1
    event.updated_at = utcnow()
