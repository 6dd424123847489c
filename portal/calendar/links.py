"""Links to other calendars: "Add to Google Calendar" for one seminar."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from portal.calendar.events import SeminarFacts, seminar_event
from portal.seminars.models import Seminar


def google_calendar_url(seminar: Seminar) -> str | None:
    """"Add to Google Calendar" for one seminar (public data only: never the join link)."""
    event = seminar_event(SeminarFacts.of(seminar))
    if event is None or event.status == "CANCELLED":
        return None
    if isinstance(event.start, datetime):
        fmt = "%Y%m%dT%H%M%SZ"
        end = event.end if isinstance(event.end, datetime) else event.start
        dates = f"{event.start.astimezone(UTC):{fmt}}/{end.astimezone(UTC):{fmt}}"
    else:
        dates = f"{event.start:%Y%m%d}/{event.end:%Y%m%d}"
    query = {"action": "TEMPLATE", "text": event.summary, "dates": dates,
             "details": event.description, "location": event.location or "", "ctz": "Asia/Tokyo"}
    return "https://calendar.google.com/calendar/render?" + urlencode(query)
