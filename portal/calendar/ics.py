"""The one iCalendar (RFC 5545) writer: every feed and every mail attachment comes from here.

Deliberately small and deterministic: the same events give the same bytes, so an unchanged
feed is byte-identical between requests. Text is escaped, lines are folded at 75 octets
without splitting a UTF-8 character, and lines end with CRLF.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from portal.core.dates import TOKYO

PRODID = "-//Smart City PPP Portal//官民連携プラットフォーム//JA"

# Asia/Tokyo has kept +09:00 without daylight saving since 1951: one STANDARD rule covers it.
VTIMEZONE_TOKYO = (
    "BEGIN:VTIMEZONE",
    "TZID:Asia/Tokyo",
    "X-LIC-LOCATION:Asia/Tokyo",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0900",
    "TZOFFSETTO:+0900",
    "TZNAME:JST",
    "DTSTART:19700101T000000",
    "END:STANDARD",
    "END:VTIMEZONE",
)


@dataclass
class Event:
    uid: str
    summary: str
    start: datetime | date  # aware datetime (timed) or date (all-day)
    end: datetime | date | None  # exclusive for all-day events
    status: str  # CONFIRMED, TENTATIVE, CANCELLED
    sequence: int
    created: datetime
    last_modified: datetime
    description: str = ""
    url: str | None = None
    location: str | None = None
    categories: list[str] = field(default_factory=list)


def escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        .replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    )


def fold(line: str) -> bytes:
    """A content line in UTF-8, folded at 75 octets, never inside a UTF-8 sequence."""
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return encoded
    parts, start, limit = [], 0, 75
    while len(encoded) - start > limit:
        end = start + limit
        while encoded[end] & 0xC0 == 0x80:  # a continuation byte: cut before its character
            end -= 1
        parts.append(encoded[start:end])
        start, limit = end, 74  # continuation lines start with a space
    parts.append(encoded[start:])
    return b"\r\n ".join(parts)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _when(name: str, value: datetime | date) -> str:
    if isinstance(value, datetime):
        return f"{name};TZID=Asia/Tokyo:{value.astimezone(TOKYO):%Y%m%dT%H%M%S}"
    return f"{name};VALUE=DATE:{value:%Y%m%d}"


def event_lines(event: Event) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"DTSTAMP:{_utc(event.last_modified)}",
        f"CREATED:{_utc(event.created)}",
        f"LAST-MODIFIED:{_utc(event.last_modified)}",
        f"SEQUENCE:{event.sequence}",
        _when("DTSTART", event.start),
    ]
    if event.end is not None:
        lines.append(_when("DTEND", event.end))
    lines += [f"SUMMARY:{escape(event.summary)}", f"STATUS:{event.status}"]
    if event.status == "TENTATIVE" or not isinstance(event.start, datetime):
        lines.append("TRANSP:TRANSPARENT")  # an all-day window does not block the calendar
    if event.categories:
        lines.append("CATEGORIES:" + ",".join(escape(c) for c in event.categories))
    if event.location:
        lines.append(f"LOCATION:{escape(event.location)}")
    if event.url:
        lines.append(f"URL:{event.url}")
    if event.description:
        lines.append(f"DESCRIPTION:{escape(event.description)}")
    lines.append("END:VEVENT")
    return lines


def calendar_bytes(name: str, events: list[Event], *, refresh: str = "PT1H") -> bytes:
    """A whole VCALENDAR. Calendar-level properties come first (Outlook ignores them later)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{escape(name)}",
        "X-WR-TIMEZONE:Asia/Tokyo",
        f"REFRESH-INTERVAL;VALUE=DURATION:{refresh}",
        f"X-PUBLISHED-TTL:{refresh}",
        *VTIMEZONE_TOKYO,
    ]
    for event in events:
        lines += event_lines(event)
    lines.append("END:VCALENDAR")
    return b"\r\n".join([fold(line) for line in lines]) + b"\r\n"
