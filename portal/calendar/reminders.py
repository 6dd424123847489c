"""Reminders (VALARM) an account chooses for its personal feed on /account."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.accounts.models import User
from portal.calendar.models import next_stamp

# VALARM triggers (RFC 5545 durations before the start) and how /account offers them.
CHOICES = {"P1D": _l("前日（1日前）"), "PT30M": _l("30分前")}


def chosen(user: User) -> list[str]:
    return [value for value in (user.calendar_alarms or "").split() if value in CHOICES]


def choose(user: User, alarms: list[str]) -> None:
    """Keep the chosen reminders (in the offered order); the feed's validators move with them."""
    value = " ".join(a for a in CHOICES if a in alarms) or None
    if value != user.calendar_alarms:
        user.calendar_alarms = value
        # After the personal feed's newest change, so its Last-Modified moves too.
        from portal.calendar.feeds import personal_feed

        user.calendar_alarms_at = next_stamp(max(when for when, _ in personal_feed(user).version()))
