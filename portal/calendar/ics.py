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
    status: str  # CONFIRMED, TENTATIVE, CANCELLED; empty only in an iMIP CANCEL for one attendee
    sequence: int
    created: datetime
    last_modified: datetime
    description: str = ""
    url: str | None = None
    location: str | None = None
    categories: list[str] = field(default_factory=list)
    # iMIP (RFC 6047) only: who sends the invitation and who it is for.
    organizer: Person | None = None
    attendee: Person | None = None
    # Reminders before the start (RFC 5545 VALARM), e.g. "P1D", "PT30M": personal feed only.
    alarms: tuple[str, ...] = ()
    stamp: datetime | None = None  # an iMIP message's creation (DTSTAMP); feeds use LAST-MODIFIED


@dataclass(frozen=True)
class Person:
    """An ORGANIZER or ATTENDEE: a mail address and a display name."""

    email: str
    name: str


def escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        .replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    )


def param(value: str) -> str:
    """A parameter value (CN=…): quoted, since names hold commas, colons and semicolons; a
    quoted value cannot hold a double quote or a line break (RFC 5545 §3.1)."""
    return '"' + " ".join(value.replace('"', "'").split()) + '"'


def raw(text: str) -> str:
    """A value written as is: X-WR-CALNAME's type is not TEXT for ical.js (Thunderbird) and
    Apple Calendar, which show TEXT escapes (``\\,``) literally; only line breaks must go."""
    return " ".join(text.splitlines())


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
        f"DTSTAMP:{_utc(event.stamp or event.last_modified)}",
        f"CREATED:{_utc(event.created)}",
        f"LAST-MODIFIED:{_utc(event.last_modified)}",
        f"SEQUENCE:{event.sequence}",
        _when("DTSTART", event.start),
    ]
    if event.end is not None:
        lines.append(_when("DTEND", event.end))
    lines.append(f"SUMMARY:{escape(event.summary)}")
    if event.status:  # none in a CANCEL that uninvites one attendee (RFC 5546 §3.2.5)
        lines.append(f"STATUS:{event.status}")
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
    if event.organizer is not None:
        lines.append(f"ORGANIZER;CN={param(event.organizer.name)}:mailto:{event.organizer.email}")
    if event.attendee is not None:
        lines.append(f"ATTENDEE;CN={param(event.attendee.name)};ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;"
                     f"CUTYPE=INDIVIDUAL:mailto:{event.attendee.email}")
    if event.status != "CANCELLED":
        for before in event.alarms:
            lines += ["BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{escape(event.summary)}",
                      f"TRIGGER;RELATED=START:-{before}", "END:VALARM"]
    lines.append("END:VEVENT")
    return lines


@dataclass(frozen=True)
class Feed:
    """What a subscribed calendar says about itself (RFC 7986)."""

    name: str
    description: str
    source: str  # the feed's own URL
    refresh: str = "PT1H"


def calendar_bytes(about: Feed | str, events: list[Event], *, method: str | None = None) -> bytes:
    """A whole VCALENDAR: a feed (``about`` a Feed) or an iMIP message (``method`` REQUEST or
    CANCEL, ``about`` its name). Calendar-level properties come first (Outlook ignores them later)."""
    name = about.name if isinstance(about, Feed) else about
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    if method:
        lines.append(f"METHOD:{method}")
    lines += [f"NAME:{escape(name)}", f"X-WR-CALNAME:{raw(name)}"]
    if isinstance(about, Feed):
        lines += [
            f"DESCRIPTION:{escape(about.description)}",
            f"X-WR-CALDESC:{raw(about.description)}",
            f"SOURCE;VALUE=URI:{about.source}",
            f"REFRESH-INTERVAL;VALUE=DURATION:{about.refresh}",
            f"X-PUBLISHED-TTL:{about.refresh}",
        ]
    lines += ["X-WR-TIMEZONE:Asia/Tokyo", *VTIMEZONE_TOKYO]
    for event in events:
        lines += event_lines(event)
    lines.append("END:VCALENDAR")
    return b"\r\n".join([fold(line) for line in lines]) + b"\r\n"
