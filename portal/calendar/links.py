"""Links to other calendars for one seminar: "Add to Google Calendar" and "Add to Outlook"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from portal.calendar.events import SeminarFacts, seminar_event
from portal.calendar.ics import Event
from portal.core.dates import TOKYO
from portal.seminars.models import Seminar

# Outlook on the web: Microsoft 365 (work and school accounts) and Outlook.com (personal ones).
OUTLOOK_HOSTS = {"office": "outlook.office.com", "live": "outlook.live.com"}


def _event(seminar: Seminar, join_url: str | None) -> Event | None:
    """The feeds' event; the join link only when the caller passes it (a registered member)."""
    event = seminar_event(SeminarFacts.of(seminar), join_url=join_url)
    return None if event is None or event.status == "CANCELLED" else event


def google_calendar_url(seminar: Seminar, join_url: str | None = None) -> str | None:
    """"Add to Google Calendar" for one seminar (public data, plus the join link if given)."""
    event = _event(seminar, join_url)
    if event is None:
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


def outlook_calendar_url(seminar: Seminar, join_url: str | None = None, service: str = "office") -> str | None:
    """"Add to Outlook" (Outlook on the web's compose deeplink): Microsoft 365 or Outlook.com."""
    event = _event(seminar, join_url)
    if event is None:
        return None
    query = {"path": "/calendar/action/compose", "rru": "addevent", "subject": event.summary,
             "body": event.description, "location": event.location or ""}
    if isinstance(event.start, datetime):
        end = event.end if isinstance(event.end, datetime) else event.start
        query |= {"startdt": event.start.astimezone(TOKYO).isoformat(), "enddt": end.astimezone(TOKYO).isoformat()}
    else:
        last = event.end - timedelta(days=1) if isinstance(event.end, date) else event.start
        query |= {"startdt": event.start.isoformat(), "enddt": last.isoformat(), "allday": "true"}
    return f"https://{OUTLOOK_HOSTS[service]}/calendar/0/deeplink/compose?" + urlencode(query)
