"""Calendar events: what a seminar, a subcommittee session or a milestone is as a VEVENT.

One builder for every feed, mail attachment and Google link, so an event has the same UID,
SEQUENCE and text wherever it appears. SEQUENCE is read from the record, never changed here
(``portal.calendar.sequence`` is the one rule that moves it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from portal.accounts.models import User
from portal.calendar.ics import Event, Person, calendar_bytes
from portal.calendar.models import UID_DOMAIN
from portal.core.dates import Dated, Precision, format_time
from portal.core.db import utcnow
from portal.mail.outbox import secretariat_address
from portal.seminars.models import Seminar, SeminarStatus, stands_under
from portal.subcommittees.models import Milestone, SessionStatus, SubcommitteeSession
from portal.web.urls import external_url_for


def _status(status_cancelled: bool, precision: Precision) -> str:
    if status_cancelled:
        return "CANCELLED"
    return "TENTATIVE" if precision.is_tentative else "CONFIRMED"


def _span(thing: Dated) -> tuple[date, date | None] | None:
    span = thing.window
    if span is None:
        return None  # undecided (未定): in no feed
    if thing.precision is Precision.DAY and thing.starts_at is not None:
        return thing.starts_at, thing.ends_at
    return span  # all-day over its window (上旬 = 1st–10th…), DTEND exclusive


@dataclass(frozen=True, slots=True)
class ProgramLine:
    """One program item as an event's DESCRIPTION shows it."""

    start_time: time | None
    title: str
    points: tuple[str, ...]
    # (index of the point they present, or None for the whole item; as displayed: 横浜市 スマートシティ推進課 様)
    presenters: tuple[tuple[int | None, str], ...]


# Seminar columns an event is made of, in SeminarFacts' field order.
FACT_COLUMNS = ("id", "key", "title", "number", "status", "date_on", "precision", "starts_at",
                 "ends_at", "sequence", "created_at", "updated_at", "join_url")


@dataclass(frozen=True, slots=True)
class SeminarFacts(Dated):
    """What a seminar's calendar event is made of.

    Feeds read these as plain rows (``seminar_facts``): a feed holds hundreds of seminars, and
    building ORM objects for them and their programs cost more than the rest of the feed. One
    seminar already loaded (a mail attachment, the Google link) converts with ``of``.
    """

    id: int
    key: str
    title: str | None
    number: int | None
    status: SeminarStatus
    date_on: date | None
    precision: Precision
    starts_at: datetime | None
    ends_at: datetime | None
    sequence: int
    created_at: datetime
    updated_at: datetime
    join_url: str | None
    series_name: str
    program: tuple[ProgramLine, ...] = ()

    @classmethod
    def of(cls, seminar: Seminar) -> SeminarFacts:
        return cls(
            **{name: getattr(seminar, name) for name in FACT_COLUMNS},
            series_name=seminar.series.name,
            program=tuple(
                ProgramLine(item.start_time, item.title, tuple(item.points or ()),
                            tuple((p.point_index, p.display) for p in item.presenters))
                for item in seminar.program
            ),
        )


def program_text(program: tuple[ProgramLine, ...]) -> str:
    """The program as the seminar page shows it: who presents a point stands under that point,
    who presents the whole item under the item."""
    lines = []
    for item in program:
        time = f"{format_time(item.start_time)}～ " if item.start_time else ""
        lines.append(f"{time}{item.title}")
        under: dict[int | None, list[str]] = defaultdict(list)
        for at, name in item.presenters:
            under[stands_under(at, len(item.points))].append(name)
        for index, point in enumerate(item.points):
            lines.append(f"・{point}")
            if index in under:
                lines.append("　（" + "、".join(under[index]) + "）")
        if None in under:
            lines.append("（" + "、".join(under[None]) + "）")
    return "\n".join(lines)


def _dated_event(thing: SeminarFacts | SubcommitteeSession, *, uid: str, summary: str, url: str, heading: str,
                 tentative: str, details: list[str], join_url: str | None, cancelled: bool,
                 category: str) -> Event | None:
    """A seminar's or a session's event: timed or all-day over its window, none while undecided;
    the description says how tentative the date is and where to join."""
    span = _span(thing)
    if span is None:
        return None
    parts = [heading]
    if thing.precision.is_tentative:
        parts.append(f"時期: {thing.label(with_year=True)}{tentative}")
    if join_url:
        parts.append(f"参加用リンク: {join_url}")
    parts += [*details, "", url]
    return Event(
        uid=uid, summary=summary, start=span[0], end=span[1], status=_status(cancelled, thing.precision),
        sequence=thing.sequence, created=thing.created_at, last_modified=thing.updated_at,
        description="\n".join(parts), url=url, location=join_url or "オンライン", categories=[category],
    )


def seminar_event(seminar: SeminarFacts, *, join_url: str | None = None) -> Event | None:
    number = f"第{seminar.number}回 " if seminar.number else ""
    program = program_text(seminar.program)
    return _dated_event(
        seminar, uid=f"seminar-{seminar.key}@{UID_DOMAIN}", summary=f"{number}{seminar.title or '（テーマ未定）'}",
        url=external_url_for("seminars.detail", seminar_id=seminar.id),
        heading=f"{seminar.series_name} {number}".strip(), tentative="（予定・変更の可能性があります）",
        details=["", "プログラム", program] if program else [], join_url=join_url,
        cancelled=seminar.status is SeminarStatus.CANCELLED, category=seminar.series_name,
    )


def session_event(session: SubcommitteeSession, *, join_url: str | None = None) -> Event | None:
    sub = session.subcommittee
    return _dated_event(
        session, uid=session.uid,
        summary=f"{sub.name} 分科会{session.circled_number} {session.title}",
        url=external_url_for("subcommittees.detail", slug=sub.slug),
        heading=f"{sub.name} 分科会{session.circled_number}：{session.title}", tentative="（予定）",
        details=[], join_url=join_url, cancelled=session.status is SessionStatus.CANCELLED, category=sub.name,
    )


def milestone_event(milestone: Milestone) -> Event:
    sub = milestone.subcommittee
    url = external_url_for("subcommittees.detail", slug=sub.slug)
    day = milestone.done_on or milestone.due_on
    # Only stored facts go in: "late" depends on today, and the feed must not change by itself.
    done = f"\n完了: {milestone.done_on:%Y-%m-%d}" if milestone.done_on else ""
    return Event(
        uid=milestone.uid,
        summary=f"★ {milestone.title}（{sub.name}）",
        start=day, end=day + timedelta(days=1), status="CONFIRMED",
        sequence=milestone.sequence, created=milestone.created_at, last_modified=milestone.updated_at,
        description=f"マイルストーン: {milestone.title}\n期日: {milestone.due_on:%Y-%m-%d}{done}\n\n{url}",
        url=url, categories=[sub.name],
    )


def invitation(event: Event, *, name: str, method: str, organizer: Person, attendee: Person,
               stamp: datetime, whole: bool = True) -> dict:
    """An iMIP part (RFC 6047) for one recipient: the feeds' event with METHOD, ORGANIZER and
    the recipient as ATTENDEE. A CANCEL of the whole event says STATUS:CANCELLED; one that only
    takes this attendee off (``whole`` False: their registration was cancelled) must not
    (RFC 5546 §3.2.5)."""
    if method == "CANCEL":
        event = replace(event, status="CANCELLED" if whole else "")
    event = replace(event, organizer=organizer, attendee=attendee, stamp=stamp, alarms=())
    return {"filename": "invite.ics", "content_type": f"text/calendar; method={method}; charset=UTF-8",
            "method": method, "data": calendar_bytes(name, [event], method=method).decode("utf-8")}


ORGANIZER_NAME = "官民連携プラットフォーム事務局"


def _people(user: User) -> tuple[Person, Person]:
    return Person(secretariat_address(), ORGANIZER_NAME), Person(user.email, user.name)


def seminar_invitation(seminar: Seminar, user: User, method: str, previous: SeminarFacts | None = None, *,
                       whole: bool = True) -> dict | None:
    """The iMIP part of a mail about ``seminar`` to a registered ``user`` (REQUEST with the
    join link, or CANCEL). A seminar whose date became undecided has no event left: its last
    dated one (``previous``, taken before the change) is cancelled instead."""
    facts = SeminarFacts.of(seminar)
    event = seminar_event(facts, join_url=seminar.join_url if method == "REQUEST" else None)
    if event is None and previous is not None:
        method, event = "CANCEL", seminar_event(replace(previous, sequence=facts.sequence,
                                                        updated_at=facts.updated_at))
    if event is None:
        return None
    organizer, attendee = _people(user)
    return invitation(event, name=seminar.series.name, method=method, organizer=organizer, attendee=attendee,
                      stamp=utcnow(), whole=whole)


def session_invitation(session: SubcommitteeSession, user: User, method: str) -> dict | None:
    """The same for a subcommittee session and one of its members."""
    event = session_event(session, join_url=session.join_url if method == "REQUEST" else None)
    if event is None:
        return None
    organizer, attendee = _people(user)
    return invitation(event, name=session.subcommittee.name, method=method, organizer=organizer,
                      attendee=attendee, stamp=utcnow())


def seminar_download(seminar: Seminar, join_url: str | None = None) -> bytes | None:
    """One seminar as an .ics file to download (the feeds' event, with the join link for a
    registered member); no METHOD, so calendars import it as a copy."""
    event = seminar_event(SeminarFacts.of(seminar), join_url=join_url)
    if event is None:
        return None
    return calendar_bytes(seminar.series.name, [event])
