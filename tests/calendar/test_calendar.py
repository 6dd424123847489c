"""Calendar feeds (iCalendar, RFC 5545) through HTTP on a real database.

Feeds: /calendar.ics (every published seminar and subcommittee session), /seminars/<id>.ics,
/subcommittees/<slug>/calendar.ics (sessions and milestones) and /calendar/<token>.ics (one's
registered seminars with the join link, and one's subcommittees' sessions). Every feed is read
with two independent parsers, ``icalendar`` and ``vobject``, which must agree; the wire format
(CRLF, folding at 75 octets without splitting a UTF-8 character) is checked on the raw bytes.
"""

from __future__ import annotations

import copy
import html as html_lib
import re
import time as clock
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
import vobject
from conftest import AuthActions, asks_first, logged_in
from sqlalchemy import select, update

from portal.accounts.models import AccountState, User
from portal.core.dates import fiscal_year, local_datetime, today_local
from portal.core.db import db, utcnow
from portal.core.versions import ChangeVersion
from portal.imports.operations import import_data
from portal.seminars import operations
from portal.seminars.models import Seminar, SeminarStatus
from portal.subcommittees.models import (
    MembershipState,
    Milestone,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
)

SERIES = "官民連携プラットフォーム オンラインセミナー"
TITLE = "前橋市・浜松市・岡崎市による取組紹介・意見交換"
SUB_NAME = "ネット・ゼロ スマートシティ検討分科会"
BASE = "http://portal.test"
JOIN = "https://example.org/webinar/"
CONTENT_TYPE = "text/calendar; charset=utf-8"
CALENDAR_PROPS = ("X-WR-CALNAME", "X-WR-TIMEZONE", "REFRESH-INTERVAL", "X-PUBLISHED-TTL", "BEGIN:VTIMEZONE")

PROGRAM = [
    {"start": "15:30", "title": "イントロダクション", "points": ["本日のプログラム紹介"],
     "presenters": [{"organization": "総務省", "department": "サイバーセキュリティ統括官室"}]},
    {"start": "15:35", "title": "自治体の取組紹介",
     "points": ["データ連携基盤（都市OS）の導入, 運用; 課題と今後の展開について"],
     "presenters": [{"organization": "前橋市"}, {"organization": "浜松市"}, {"organization": "岡崎市"}]},
    {"start": "16:30", "title": "意見交換"},
]

# key → (date fields, expected all-day window [start, end) )
WINDOWS: dict[str, tuple[dict[str, Any], tuple[date, date]]] = {
    "cal-early": ({"date": "2021-10", "period": "early"}, (date(2021, 10, 1), date(2021, 10, 11))),
    "cal-mid": ({"date": "2021-12", "period": "mid"}, (date(2021, 12, 11), date(2021, 12, 21))),
    "cal-late31": ({"date": "2022-01", "period": "late"}, (date(2022, 1, 21), date(2022, 2, 1))),
    "cal-late30": ({"date": "2021-04", "period": "late"}, (date(2021, 4, 21), date(2021, 5, 1))),
    "cal-latefeb": ({"date": "2022-02", "period": "late"}, (date(2022, 2, 21), date(2022, 3, 1))),
    "cal-monthfeb": ({"date": "2022-02", "period": None}, (date(2022, 2, 1), date(2022, 3, 1))),
    "cal-month31": ({"date": "2021-07"}, (date(2021, 7, 1), date(2021, 8, 1))),
    "cal-leapfeb": ({"date": "2024-02"}, (date(2024, 2, 1), date(2024, 3, 1))),
    "cal-leaplate": ({"date": "2024-02", "period": "late"}, (date(2024, 2, 21), date(2024, 3, 1))),
}


def join_url(key: str) -> str:
    return f"{JOIN}{key}"


def seminar_record(key: str, number: int, **extra: Any) -> dict[str, Any]:
    record = {"key": key, "series": SERIES, "number": number, "title": f"テスト回 {key}",
              "status": "published", "join_url": join_url(key)}
    record.update(extra)
    if "date" not in record:
        record.setdefault("fiscal_year", 2021)
    return record


def base_data() -> dict[str, Any]:
    """FY2021-like data: one timed seminar with the seed's program, imprecise ones of every
    kind, a cancelled, a draft and an undecided seminar, and two subcommittees."""
    seminars = [
        seminar_record("cal-timed", 1, title=TITLE, date="2021-08-03", start="15:30", end="17:00",
                       capacity=500, program=copy.deepcopy(PROGRAM)),
        seminar_record("cal-day", 2, date="2021-09-01"),
        seminar_record("cal-cancelled", 3, date="2021-11-10", start="14:00", end="15:00", status="cancelled"),
        seminar_record("cal-draft", 4, date="2021-09-15", start="10:00", status="draft", title="下書きのセミナー"),
        seminar_record("cal-undecided", 5, title="未定のセミナー"),
    ]
    for number, (key, (when, _)) in enumerate(WINDOWS.items(), start=10):
        seminars.append(seminar_record(key, number, **when))
    return {
        "seminars": seminars,
        "subcommittees": [
            {
                "slug": "cal-sub", "name": SUB_NAME, "fiscal_year": 2021,
                "sessions": [
                    {"number": 1, "title": "ネット・ゼロ×スマートシティへの理解", "date": "2021-09-14",
                     "start": "14:00", "end": "16:00", "join_url": join_url("sub-1")},
                    {"number": 2, "title": "先進事例の共有", "date": "2021-11", "period": "mid",
                     "join_url": join_url("sub-2")},
                    {"number": 3, "title": "未定の会合"},
                    {"number": 4, "title": "中止の会合", "date": "2022-01-20", "start": "10:00",
                     "status": "cancelled", "join_url": join_url("sub-4")},
                ],
                "milestones": [{"title": "分科会立上げ", "due": "2021-09-30"},
                               {"title": "報告書作成", "due": "2022-03-31"}],
            },
            {
                "slug": "cal-allday", "name": "防災データ活用分科会", "fiscal_year": 2021,
                "sessions": [{"number": 1, "title": "キックオフ", "date": "2021-10", "join_url": join_url("allday-1")}],
                "milestones": [{"title": "分科会立上げ", "due": "2021-10-29"}],
            },
        ],
    }


# ----------------------------------------------------------------------------- database helpers


def load(app, data: dict[str, Any]) -> None:
    with app.app_context():
        import_data(copy.deepcopy(data))
        db.session.commit()


def seminar_ids(app) -> dict[str, int]:
    with app.app_context():
        return {key: id_ for key, id_ in db.session.execute(select(Seminar.key, Seminar.id))}


def seminar_row(app, key: str) -> dict[str, Any]:
    with app.app_context():
        s = db.session.scalar(select(Seminar).where(Seminar.key == key))
        return {"id": s.id, "sequence": s.sequence, "updated_at": s.updated_at, "created_at": s.created_at}


def edit_seminar(app, key: str, **values: Any) -> None:
    """Change a seminar through the service the back office and the import use."""
    with app.app_context():
        seminar = db.session.scalar(select(Seminar).where(Seminar.key == key))
        operations.update_seminar(seminar, values)
        db.session.commit()


def delete_seminar(app, key: str) -> None:
    with app.app_context():
        db.session.delete(db.session.scalar(select(Seminar).where(Seminar.key == key)))
        db.session.commit()


def age_everything(app) -> datetime:
    """Move every record's last change a month back (microseconds kept, so no two runs share it)."""
    past = utcnow() - timedelta(days=30)
    with app.app_context():
        for model in (Seminar, SubcommitteeSession, Milestone, Subcommittee):
            db.session.execute(update(model).values(updated_at=past, created_at=past))
        db.session.commit()
        # …and when they were committed (Last-Modified), as if nothing had changed since.
        db.session.execute(update(ChangeVersion).values(changed_at=past))
        db.session.commit()
    return past


def future_seminar(app, key: str, *, days: int = 30, capacity: int | None = None, **extra: Any) -> int:
    """A published seminar ``days`` from today, 15:30–17:00 in Tokyo, registration open."""
    day = today_local() + timedelta(days=days)
    record = seminar_record(key, 7, title=f"参加登録テスト {key}", date=day.isoformat(), start="15:30",
                            end="17:00", registration="open", fiscal_year=fiscal_year(day),
                            program=copy.deepcopy(PROGRAM[:1]), **extra)
    if capacity is not None:
        record["capacity"] = capacity
    load(app, {"seminars": [record]})
    return seminar_ids(app)[key]


def approve_member(app, user, slug: str) -> None:
    with app.app_context():
        sub = db.session.scalar(select(Subcommittee).where(Subcommittee.slug == slug))
        db.session.add(SubcommitteeMember(subcommittee_id=sub.id, user_id=user.id,
                                          state=MembershipState.APPROVED, decided_at=utcnow()))
        db.session.commit()


def register(app, user, seminar_id: int) -> AuthActions:
    auth = logged_in(app, user)
    response = auth.post(f"/seminars/{seminar_id}/registration")
    assert response.status_code == 302
    return auth


# ----------------------------------------------------------------------------- parsing


@dataclass
class Ev:
    """One VEVENT, normalized so that both parsers' readings can be compared."""

    uid: str
    summary: str | None
    description: str | None
    location: str | None
    url: str | None
    status: str | None
    sequence: int | None
    start: tuple
    end: tuple | None
    categories: list[str]
    created: datetime | None
    last_modified: datetime | None
    dtstamp: datetime | None

    @property
    def text(self) -> str:
        return "\n".join(x or "" for x in (self.summary, self.description, self.location, self.url))


@dataclass
class Feed:
    raw: bytes
    text: str  # unfolded
    events: dict[str, Ev]
    calendar: dict[str, str] = field(default_factory=dict)
    headers: Any = None

    def uids(self) -> set[str]:
        return set(self.events)

    def by_summary(self, needle: str) -> Ev:
        found = [e for e in self.events.values() if needle in (e.summary or "")]
        assert len(found) == 1, (needle, [e.summary for e in self.events.values()])
        return found[0]


def _when(value: date | datetime, tzid: str | None) -> tuple:
    if isinstance(value, datetime):
        assert value.tzinfo is not None, "a timed event must not be floating"
        return ("datetime", value.replace(tzinfo=None), value.utcoffset(), tzid, value.astimezone(UTC))
    return ("date", value)


def _ical_events(raw: bytes) -> tuple[dict[str, Ev], dict[str, str], list[str]]:
    cal = icalendar.Calendar.from_ical(raw)
    events = {}
    for ev in cal.walk("VEVENT"):
        def text(name: str, ev=ev) -> str | None:
            return str(ev[name]) if name in ev else None

        def instant(name: str, ev=ev) -> datetime | None:
            return ev.decoded(name) if name in ev else None

        categories = ev.get("CATEGORIES")
        cats = []
        for prop in categories if isinstance(categories, list) else ([categories] if categories else []):
            cats += [str(c) for c in prop.cats]
        uid = str(ev["UID"])
        assert uid not in events, f"UID {uid} twice in one feed"
        events[uid] = Ev(
            uid=uid, summary=text("SUMMARY"), description=text("DESCRIPTION"), location=text("LOCATION"),
            url=text("URL"), status=text("STATUS"), sequence=int(ev["SEQUENCE"]) if "SEQUENCE" in ev else None,
            start=_when(ev.decoded("DTSTART"), ev["DTSTART"].params.get("TZID")),
            end=_when(ev.decoded("DTEND"), ev["DTEND"].params.get("TZID")) if "DTEND" in ev else None,
            categories=cats, created=instant("CREATED"), last_modified=instant("LAST-MODIFIED"),
            dtstamp=instant("DTSTAMP"),
        )
    calendar = {k: str(v) for k, v in cal.items()}
    timezones = [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")]
    return events, calendar, timezones


def _vobject_events(raw: bytes) -> tuple[dict[str, Ev], dict[str, str], list[str]]:
    cal = vobject.readOne(raw.decode("utf-8"))
    events = {}
    for ev in cal.contents.get("vevent", []):
        def value(name: str, ev=ev):
            return ev.contents[name][0].value if name in ev.contents else None

        def when(name: str, ev=ev) -> tuple | None:
            if name not in ev.contents:
                return None
            line = ev.contents[name][0]
            tzid = (line.params.get("TZID") or line.params.get("X-VOBJ-ORIGINAL-TZID") or [None])[0]
            return _when(line.value, tzid if isinstance(line.value, datetime) else None)

        cats = []
        for line in ev.contents.get("categories", []):
            cats += list(line.value)
        uid = value("uid")
        assert uid not in events, f"UID {uid} twice in one feed"
        events[uid] = Ev(
            uid=uid, summary=value("summary"), description=value("description"), location=value("location"),
            url=value("url"), status=value("status"),
            sequence=int(value("sequence")) if value("sequence") is not None else None,
            start=when("dtstart"), end=when("dtend"), categories=cats, created=value("created"),
            last_modified=value("last-modified"), dtstamp=value("dtstamp"),
        )
    calendar = {k.upper(): str(v[0].value) for k, v in cal.contents.items() if k not in ("vevent", "vtimezone")}
    timezones = [tz.contents["tzid"][0].value for tz in cal.contents.get("vtimezone", [])]
    return events, calendar, timezones


def check_wire(raw: bytes, method: str | None = None) -> str:
    """RFC 5545 §3.1 on the raw bytes; returns the unfolded text. ``method``: an iMIP part's."""
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n")
    assert raw.endswith(b"END:VCALENDAR\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n"), "a line ends without CR"
    assert raw.count(b"\r") == raw.count(b"\r\n"), "a bare CR"
    physical = raw.split(b"\r\n")[:-1]
    for line in physical:
        assert len(line) <= 75, f"line of {len(line)} octets: {line!r}"
        line.decode("utf-8")  # folding never splits a UTF-8 character
    text = raw.decode("utf-8")
    assert "\ufffd" not in text
    unfolded = text.replace("\r\n ", "").replace("\r\n\t", "")
    lines = unfolded.split("\r\n")
    methods = [line for line in lines if line.startswith("METHOD")]
    assert methods == ([f"METHOD:{method}"] if method else []), "a feed has no METHOD, a mail its own"
    assert "TZID:Asia/Tokyo" in lines, "no VTIMEZONE for Asia/Tokyo"
    first_event = lines.index("BEGIN:VEVENT") if "BEGIN:VEVENT" in lines else len(lines)
    for prop in CALENDAR_PROPS if method is None else ("X-WR-CALNAME", "BEGIN:VTIMEZONE"):
        where = [i for i, line in enumerate(lines) if line.startswith(prop)]
        assert where, f"{prop} missing"
        assert where[0] < first_event, f"{prop} after the first VEVENT"
    in_event = False
    for line in lines:
        if line in ("BEGIN:VEVENT", "END:VEVENT"):
            in_event = line == "BEGIN:VEVENT"
        elif in_event and line.startswith(("DTSTART", "DTEND")):
            assert line.startswith(("DTSTART;TZID=Asia/Tokyo:", "DTEND;TZID=Asia/Tokyo:",
                                    "DTSTART;VALUE=DATE:", "DTEND;VALUE=DATE:")), line
            assert not line.endswith("Z"), f"timed events use TZID=Asia/Tokyo, not UTC: {line}"
    return unfolded


def parse(raw: bytes, method: str | None = None) -> Feed:
    """Both parsers, which must read the same events and calendar properties; ``method`` for
    a mail's iMIP part (METHOD, and DTSTAMP is when the message was made)."""
    unfolded = check_wire(raw, method)
    ical, ical_cal, ical_tz = _ical_events(raw)
    vobj, vobj_cal, vobj_tz = _vobject_events(raw)
    assert ical_tz == vobj_tz == ["Asia/Tokyo"]
    assert ical.keys() == vobj.keys()
    for uid, event in ical.items():
        assert event == vobj[uid], f"icalendar and vobject disagree on {uid}"
        for name in ("summary", "description", "url", "sequence", "created", "last_modified", "dtstamp"):
            assert getattr(event, name) not in (None, ""), f"{uid} has no {name}"
        assert event.categories, f"{uid} has no CATEGORIES"
        # A CANCEL that takes one attendee off carries no STATUS (RFC 5546 §3.2.5).
        assert event.status in ("CONFIRMED", "TENTATIVE", "CANCELLED") or (method == "CANCEL" and event.status is None)
        assert method or event.dtstamp == event.last_modified, uid
    for name in ("X-WR-CALNAME", "X-WR-TIMEZONE", *(("REFRESH-INTERVAL", "X-PUBLISHED-TTL") if not method else ())):
        assert ical_cal.get(name), name
        assert vobj_cal.get(name), name
    assert ical_cal["X-WR-TIMEZONE"] == "Asia/Tokyo"
    assert ical_cal.get("METHOD") == vobj_cal.get("METHOD") == method
    return Feed(raw, unfolded, ical, ical_cal)


def fetch(client, path: str, **headers: str) -> Feed:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    assert response.headers["Content-Type"] == CONTENT_TYPE
    assert response.headers.get("ETag"), path
    assert response.headers.get("Last-Modified"), path
    feed = parse(response.data)
    feed.headers = response.headers
    return feed


def public_seminar_uid(feed: Feed, key: str) -> str:
    uids = [uid for uid in feed.uids() if key in uid]
    assert len(uids) == 1, (key, sorted(feed.uids()))
    return uids[0]


def second(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)


# ----------------------------------------------------------------------------- format


def test_every_feed_has_calendar_properties_vtimezone_and_rfc5545_lines(app, client, create_user):
    load(app, base_data())
    ids = seminar_ids(app)
    member = create_user("member")
    approve_member(app, member, "cal-sub")
    paths = ["/calendar.ics", f"/seminars/{ids['cal-timed']}.ics", f"/seminars/{ids['cal-early']}.ics",
             "/subcommittees/cal-sub/calendar.ics", "/subcommittees/cal-allday/calendar.ics",
             f"/calendar/{member.calendar_token}.ics"]
    for path in paths:
        feed = fetch(client, path)  # parse() checks the lines, VTIMEZONE and property order
        assert feed.events, path
        assert feed.calendar["X-WR-CALNAME"].strip(), path
    # Feeds with only all-day events still carry the VTIMEZONE.
    for path in (f"/seminars/{ids['cal-early']}.ics", "/subcommittees/cal-allday/calendar.ics"):
        feed = fetch(client, path)
        assert all(e.start[0] == "date" for e in feed.events.values()), path
        assert "BEGIN:VTIMEZONE" in feed.text
    # A personal feed with no events at all is still a valid calendar with its timezone.
    lonely = create_user("member")
    empty = fetch(client, f"/calendar/{lonely.calendar_token}.ics")
    assert empty.events == {}


def test_japanese_text_round_trips_through_folding(app, client):
    load(app, base_data())
    ids = seminar_ids(app)
    feed = fetch(client, f"/seminars/{ids['cal-timed']}.ics")
    physical = feed.raw.split(b"\r\n")
    assert any(line.startswith(b" ") for line in physical), "long Japanese lines must be folded"
    # Folded lines are used at full width: the fold is not at some small fixed count of characters.
    assert max(len(line) for line in physical) >= 70
    (event,) = feed.events.values()
    assert event.summary == f"第1回 {TITLE}"
    assert feed.calendar["X-WR-CALNAME"].startswith(SERIES)
    assert event.categories == [SERIES]
    description = event.description
    assert "15:30～ イントロダクション" in description
    assert "総務省 サイバーセキュリティ統括官室 様" in description
    assert "15:35～ 自治体の取組紹介" in description
    assert "データ連携基盤（都市OS）の導入, 運用; 課題と今後の展開について" in description  # , and ; escaped
    assert "前橋市 様" in description and "浜松市 様" in description and "岡崎市 様" in description
    assert description.index("前橋市") < description.index("浜松市") < description.index("岡崎市")
    assert "16:30～ 意見交換" in description
    assert event.url == f"{BASE}/seminars/{ids['cal-timed']}"
    # The same text in the public feed.
    public = fetch(client, "/calendar.ics")
    assert public.events[event.uid].summary == event.summary
    assert public.events[event.uid].description == description


# ----------------------------------------------------------------------------- dates


def test_timed_events_use_tzid_asia_tokyo_with_local_time(app, client):
    load(app, base_data())
    ids = seminar_ids(app)
    feed = fetch(client, "/calendar.ics")
    timed = feed.events[public_seminar_uid(feed, "cal-timed")]
    assert timed.start[:4] == ("datetime", datetime(2021, 8, 3, 15, 30), timedelta(hours=9), "Asia/Tokyo")
    assert timed.end[:4] == ("datetime", datetime(2021, 8, 3, 17, 0), timedelta(hours=9), "Asia/Tokyo")
    assert timed.start[4] == datetime(2021, 8, 3, 6, 30, tzinfo=UTC)
    assert timed.status == "CONFIRMED"
    assert "DTSTART;TZID=Asia/Tokyo:20210803T153000" in feed.text.split("\r\n")
    assert "DTEND;TZID=Asia/Tokyo:20210803T170000" in feed.text.split("\r\n")
    session = feed.by_summary("ネット・ゼロ×スマートシティへの理解")
    assert session.start[:4] == ("datetime", datetime(2021, 9, 14, 14, 0), timedelta(hours=9), "Asia/Tokyo")
    assert session.end[:4] == ("datetime", datetime(2021, 9, 14, 16, 0), timedelta(hours=9), "Asia/Tokyo")
    # A day without times: a confirmed all-day event on that day.
    day = feed.events[public_seminar_uid(feed, "cal-day")]
    assert (day.start, day.end, day.status) == (("date", date(2021, 9, 1)), ("date", date(2021, 9, 2)), "CONFIRMED")
    # The seminar's own feed says the same.
    own = fetch(client, f"/seminars/{ids['cal-timed']}.ics")
    assert own.events[timed.uid].start == timed.start and own.events[timed.uid].end == timed.end


def test_imprecise_dates_are_tentative_all_day_windows(app, client):
    load(app, base_data())
    ids = seminar_ids(app)
    public = fetch(client, "/calendar.ics")
    for key, (_, (first, after)) in WINDOWS.items():
        for feed in (public, fetch(client, f"/seminars/{ids[key]}.ics")):
            event = feed.events[public_seminar_uid(feed, key)]
            assert event.start == ("date", first), key
            assert event.end == ("date", after), key  # DTEND is exclusive
            assert event.status == "TENTATIVE", key
    # Subcommittee sessions follow the same rule (分科会② 2021年11月中旬).
    sub = fetch(client, "/subcommittees/cal-sub/calendar.ics")
    session = sub.by_summary("先進事例の共有")
    assert (session.start, session.end, session.status) == (
        ("date", date(2021, 11, 11)), ("date", date(2021, 11, 21)), "TENTATIVE")
    # Milestones are all-day events on their day.
    milestone = sub.by_summary("報告書作成")
    assert (milestone.start, milestone.end) == (("date", date(2022, 3, 31)), ("date", date(2022, 4, 1)))
    assert sub.by_summary("分科会立上げ").start == ("date", date(2021, 9, 30))


# ----------------------------------------------------------------------------- what is in which feed


def test_cancelled_kept_draft_and_undecided_absent(app, client, create_user):
    load(app, base_data())
    ids = seminar_ids(app)
    public = fetch(client, "/calendar.ics")
    cancelled = public.events[public_seminar_uid(public, "cal-cancelled")]
    assert cancelled.status == "CANCELLED"
    assert fetch(client, f"/seminars/{ids['cal-cancelled']}.ics").events[cancelled.uid].status == "CANCELLED"
    assert public.by_summary("中止の会合").status == "CANCELLED"
    sub = fetch(client, "/subcommittees/cal-sub/calendar.ics")
    assert sub.by_summary("中止の会合").status == "CANCELLED"

    for feed in (public, sub):
        assert not [u for u in feed.uids() if "cal-draft" in u or "cal-undecided" in u]
        assert "下書きのセミナー" not in feed.text and "未定のセミナー" not in feed.text
        assert "未定の会合" not in feed.text
    expected = {*WINDOWS, "cal-timed", "cal-day", "cal-cancelled"}
    seminar_uids = {e.uid for e in public.events.values() if e.url.startswith(f"{BASE}/seminars/")}
    assert {e.url for e in public.events.values() if e.uid in seminar_uids} == {
        f"{BASE}/seminars/{ids[k]}" for k in expected}
    assert len(seminar_uids) == len(expected)
    assert len(public.events) == len(expected) + 3 + 1  # cal-sub ①②④, cal-allday ①

    member = create_user("member")
    member_client = logged_in(app, member).client
    for path in (f"/seminars/{ids['cal-draft']}.ics", f"/seminars/{ids['cal-undecided']}.ics"):
        assert client.get(path).status_code == 404, path
        assert member_client.get(path).status_code == 404, path
    assert client.get("/seminars/999999.ics").status_code == 404
    assert client.get("/subcommittees/no-such-sub/calendar.ics").status_code == 404


def test_public_feeds_never_carry_a_join_link(app, client):
    load(app, base_data())
    ids = seminar_ids(app)
    paths = ["/calendar.ics", "/subcommittees/cal-sub/calendar.ics", "/subcommittees/cal-allday/calendar.ics",
             *(f"/seminars/{i}.ics" for k, i in ids.items() if k not in ("cal-draft", "cal-undecided"))]
    for path in paths:
        feed = fetch(client, path)
        assert "example.org/webinar" not in feed.text, path
        assert "example.org/webinar" not in feed.raw.decode().replace("\r\n ", ""), path
        for event in feed.events.values():
            assert event.url.startswith(f"{BASE}/"), (path, event.url)


def test_uid_is_the_same_in_every_feed_and_in_the_mail(app, client, create_user, outbox):
    load(app, base_data())
    seminar_id = future_seminar(app, "cal-future")
    member = create_user("member")
    approve_member(app, member, "cal-sub")
    register(app, member, seminar_id)

    public = fetch(client, "/calendar.ics")
    own = fetch(client, f"/seminars/{seminar_id}.ics")
    personal = fetch(client, f"/calendar/{member.calendar_token}.ics")
    sub = fetch(client, "/subcommittees/cal-sub/calendar.ics")
    (uid,) = own.uids()
    assert uid in public.uids() and uid in personal.uids()
    session_uids = {e.summary: e.uid for e in sub.events.values() if "分科会" in e.summary and "★" not in e.summary}
    assert len(session_uids) == 3
    for summary, session_uid in session_uids.items():
        assert public.events[session_uid].summary == summary
        assert personal.events[session_uid].summary == summary
    (mail,) = outbox("registration.registered")
    (attachment,) = mail.attachments
    assert set(parse(attachment["data"].encode("utf-8"), "REQUEST").uids()) == {uid}


# ----------------------------------------------------------------------------- UID, SEQUENCE, timestamps


def test_uid_stable_and_sequence_grows_only_with_time_status_or_link(app, client):
    data = base_data()
    load(app, data)
    ids = seminar_ids(app)
    path = f"/seminars/{ids['cal-timed']}.ics"
    (uid,) = fetch(client, path).uids()
    history: list[int] = []

    def step(expect_growth: bool, what: str) -> None:
        feed = fetch(client, path)
        assert feed.uids() == {uid}, what
        assert public_seminar_uid(fetch(client, "/calendar.ics"), "cal-timed") == uid, what
        sequence = feed.events[uid].sequence
        if history:
            if expect_growth:
                assert sequence > history[-1], f"SEQUENCE did not grow on {what}"
            else:
                assert sequence == history[-1], f"SEQUENCE changed on {what}"
        history.append(sequence)

    step(False, "start")
    # A title change (re-import) is not a change of time, status or link.
    data["seminars"][0]["title"] = TITLE + "（改）"
    load(app, data)
    step(False, "title change by import")
    assert fetch(client, path).events[uid].summary == f"第1回 {TITLE}（改）"
    edit_seminar(app, "cal-timed", title="タイトルだけの変更")
    step(False, "title change in the back office")
    # Time, date, link and status each count.
    day = date(2021, 8, 3)
    edit_seminar(app, "cal-timed", starts_at=local_datetime(day, time(16, 0)),
                 ends_at=local_datetime(day, time(17, 30)))
    step(True, "start time change")
    assert fetch(client, path).events[uid].start[1] == datetime(2021, 8, 3, 16, 0)
    data["seminars"][0].update(date="2021-08-05", start="16:00", end="17:30")
    load(app, data)
    step(True, "date change by import")
    edit_seminar(app, "cal-timed", join_url=join_url("cal-timed-new"))
    step(True, "join link change")
    edit_seminar(app, "cal-timed", status=SeminarStatus.CANCELLED)
    step(True, "cancellation")
    assert fetch(client, path).events[uid].status == "CANCELLED"
    # Undoing changes brings nothing back down: SEQUENCE never falls.
    load(app, base_data())
    step(True, "re-import of the original")
    assert fetch(client, path).events[uid].status == "CONFIRMED"
    assert fetch(client, path).events[uid].start[1] == datetime(2021, 8, 3, 15, 30)
    load(app, base_data())
    step(False, "unchanged re-import")
    assert history == sorted(history)
    assert seminar_ids(app)["cal-timed"] == ids["cal-timed"]


def test_session_and_milestone_uid_and_sequence_across_reimports(app, client):
    data = base_data()
    load(app, data)
    path = "/subcommittees/cal-sub/calendar.ics"
    before = fetch(client, path)
    session = before.by_summary("ネット・ゼロ×スマートシティへの理解")
    milestone = before.by_summary("報告書作成")

    sub = data["subcommittees"][0]
    sub["sessions"][0]["title"] = "ネット・ゼロ×スマートシティへの理解（改題）"
    load(app, data)
    renamed = fetch(client, path).events[session.uid]
    assert renamed.summary.endswith("（改題）")
    assert renamed.sequence == session.sequence

    sub["sessions"][0].update(date="2021-09-21")
    sub["milestones"][1]["due"] = "2022-03-25"
    load(app, data)
    after = fetch(client, path)
    assert after.events[session.uid].sequence > session.sequence
    assert after.events[session.uid].start[1] == datetime(2021, 9, 21, 14, 0)
    assert after.events[milestone.uid].sequence > milestone.sequence
    assert after.events[milestone.uid].start == ("date", date(2022, 3, 25))
    assert after.uids() == before.uids()

    sub["sessions"][0]["join_url"] = join_url("sub-1-new")
    load(app, data)
    relinked = fetch(client, path).events[session.uid]
    assert relinked.sequence > after.events[session.uid].sequence, "SEQUENCE did not grow on a join link change"

    sub["sessions"][1]["status"] = "cancelled"
    load(app, data)
    cancelled = fetch(client, path).by_summary("先進事例の共有")
    assert cancelled.status == "CANCELLED"
    assert cancelled.sequence > before.by_summary("先進事例の共有").sequence
    assert fetch(client, "/calendar.ics").events[cancelled.uid].sequence == cancelled.sequence


def test_dtstamp_and_last_modified_are_the_records_last_change(app, client):
    load(app, base_data())
    path = f"/seminars/{seminar_ids(app)['cal-timed']}.ics"
    row = seminar_row(app, "cal-timed")
    (event,) = fetch(client, path).events.values()
    assert event.last_modified == event.dtstamp == second(row["updated_at"])
    assert event.created == second(row["created_at"])
    edit_seminar(app, "cal-timed", title="最終更新の確認")
    row2 = seminar_row(app, "cal-timed")
    feed = fetch(client, path)
    (event2,) = feed.events.values()
    assert row2["updated_at"] > row["updated_at"]
    assert event2.last_modified == event2.dtstamp == second(row2["updated_at"])
    assert event2.created == event.created
    # The header is when the change was committed (portal.core.versions): that second or the next.
    committed = parsedate_to_datetime(feed.headers["Last-Modified"])
    assert second(row2["updated_at"]) <= committed <= second(row2["updated_at"]) + timedelta(seconds=2)


# ----------------------------------------------------------------------------- HTTP caching


def test_unchanged_feed_is_byte_identical(app, client, create_user):
    load(app, base_data())
    member = create_user("member")
    approve_member(app, member, "cal-sub")
    ids = seminar_ids(app)
    paths = ("/calendar.ics", f"/seminars/{ids['cal-timed']}.ics", "/subcommittees/cal-sub/calendar.ics",
             f"/calendar/{member.calendar_token}.ics")
    first = {path: client.get(path) for path in paths}
    # Built again, later (no process keeps a built feed): same bytes, same validators.
    clock.sleep(1.1)
    for path in paths:
        again = app.test_client().get(path)
        assert first[path].status_code == again.status_code == 200
        assert first[path].data == again.data, path
        assert first[path].headers["ETag"] == again.headers["ETag"]
        assert first[path].headers["Last-Modified"] == again.headers["Last-Modified"]
    # Re-importing the same file changes nothing either.
    before = client.get("/calendar.ics")
    load(app, base_data())
    after = client.get("/calendar.ics")
    assert after.data == before.data
    assert after.headers["ETag"] == before.headers["ETag"]


def test_etag_changes_on_edit_add_cancel_and_delete(app, client):
    data = base_data()
    load(app, data)
    ids = seminar_ids(app)
    seen = [fetch(client, "/calendar.ics").headers["ETag"]]
    own_path = f"/seminars/{ids['cal-day']}.ics"
    own_etag = fetch(client, own_path).headers["ETag"]

    def changed(what: str) -> Feed:
        previous = seen[-1]
        response = client.get("/calendar.ics", headers={"If-None-Match": previous})
        assert response.status_code == 200, f"304 after {what}"
        feed = fetch(client, "/calendar.ics")
        assert feed.headers["ETag"] not in seen, f"ETag unchanged after {what}"
        seen.append(feed.headers["ETag"])
        return feed

    edit_seminar(app, "cal-day", title="編集後のタイトル")
    assert "編集後のタイトル" in changed("edit").text
    assert fetch(client, own_path).headers["ETag"] != own_etag
    data["seminars"].append(seminar_record("cal-added", 30, date="2022-03-15"))
    load(app, data)
    assert [u for u in changed("add").uids() if "cal-added" in u]
    edit_seminar(app, "cal-added", status=SeminarStatus.CANCELLED)
    added = changed("cancel")
    assert added.events[public_seminar_uid(added, "cal-added")].status == "CANCELLED"
    delete_seminar(app, "cal-day")
    assert not [u for u in changed("delete").uids() if "cal-day" in u]
    assert client.get(own_path).status_code == 404
    # A session edit changes the public and the subcommittee feed.
    sub_etag = fetch(client, "/subcommittees/cal-sub/calendar.ics").headers["ETag"]
    data["subcommittees"][0]["sessions"][1]["title"] = "先進事例の共有（改）"
    load(app, data)
    assert "先進事例の共有（改）" in changed("session edit").text
    assert fetch(client, "/subcommittees/cal-sub/calendar.ics").headers["ETag"] != sub_etag


def test_subcommittee_rename_changes_public_feed(app, client):
    """Renaming a subcommittee edits its sessions' SUMMARY in the public feed: new bytes, new ETag."""
    data = base_data()
    load(app, data)
    before = fetch(client, "/calendar.ics")
    data["subcommittees"][0]["name"] = "ネット・ゼロ推進分科会"
    load(app, data)
    response = client.get("/calendar.ics", headers={"If-None-Match": before.headers["ETag"]})
    assert response.status_code == 200, "304 although the sessions' SUMMARY changed"
    after = fetch(client, "/calendar.ics")
    assert "ネット・ゼロ推進分科会 分科会①" in after.text
    assert after.headers["ETag"] != before.headers["ETag"]


@pytest.mark.parametrize("how", ["delete", "unpublish"])
def test_last_modified_moves_forward_when_an_event_leaves_the_feed(app, client, how):
    """A client that revalidates with If-Modified-Since only must not keep a removed event."""
    load(app, base_data())
    age_everything(app)
    before = fetch(client, "/calendar.ics")
    assert public_seminar_uid(before, "cal-day")
    if how == "delete":
        delete_seminar(app, "cal-day")
    else:
        edit_seminar(app, "cal-day", status=SeminarStatus.DRAFT)
    response = client.get("/calendar.ics", headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert response.status_code == 200, f"304 on If-Modified-Since after {how}: the event would stay in calendars"
    after = fetch(client, "/calendar.ics")
    assert not [u for u in after.uids() if "cal-day" in u]
    modified_before, modified_after = (parsedate_to_datetime(r.headers["Last-Modified"]) for r in (before, after))
    assert modified_after > modified_before


def test_conditional_requests(app, client, create_user):
    load(app, base_data())
    member = create_user("member")
    approve_member(app, member, "cal-sub")
    ids = seminar_ids(app)
    for path in ("/calendar.ics", f"/seminars/{ids['cal-timed']}.ics", "/subcommittees/cal-sub/calendar.ics",
                 f"/calendar/{member.calendar_token}.ics"):
        feed = fetch(client, path)
        etag, modified = feed.headers["ETag"], feed.headers["Last-Modified"]
        assert re.fullmatch(r'(W/)?"[^"]+"', etag), etag
        opaque = etag.removeprefix("W/")
        last = parsedate_to_datetime(modified)
        for headers in (
            {"If-None-Match": etag},
            {"If-None-Match": opaque},
            {"If-None-Match": f"W/{opaque}"},
            {"If-None-Match": f'"someone-else", {opaque}'},
            {"If-None-Match": f'W/"x", W/{opaque}, "y"'},
            {"If-Modified-Since": modified},
        ):
            response = client.get(path, headers=headers)
            assert response.status_code == 304, (path, headers, response.status_code)
            assert response.data == b""
            assert response.headers["ETag"] == etag
        for headers in (
            {"If-None-Match": '"stale-etag"'},
            {"If-None-Match": 'W/"stale-etag", "other"'},
            {"If-Modified-Since": http_date(last - timedelta(seconds=1))},
            {"If-Modified-Since": http_date(datetime(2020, 1, 1, tzinfo=UTC))},
            # If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
            {"If-None-Match": '"stale-etag"', "If-Modified-Since": modified},
        ):
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, headers, response.status_code)
            assert response.data == feed.raw


# ----------------------------------------------------------------------------- personal feed


def test_personal_feed_has_registered_seminars_with_join_link_and_own_sessions(app, client, create_user):
    load(app, base_data())
    open_id = future_seminar(app, "cal-open", capacity=10)
    full_id = future_seminar(app, "cal-full", days=40, capacity=1)
    member, other = create_user("member"), create_user("observer")
    approve_member(app, member, "cal-sub")
    register(app, other, full_id)
    register(app, member, full_id)  # full: waiting
    member_auth = register(app, member, open_id)
    assert len(member.calendar_token) >= 32 and member.calendar_token != other.calendar_token

    path = f"/calendar/{member.calendar_token}.ics"
    feed = fetch(client, path)
    assert feed.headers.get("Cache-Control", "").startswith("private")
    own_uid = next(iter(fetch(client, f"/seminars/{open_id}.ics").uids()))
    full_uid = next(iter(fetch(client, f"/seminars/{full_id}.ics").uids()))
    assert own_uid in feed.uids()
    assert full_uid not in feed.uids(), "a waiting registration is not in the personal feed"
    registered = feed.events[own_uid]
    assert any(join_url("cal-open") in (v or "") for v in (registered.location, registered.url, registered.description))
    assert join_url("cal-full") not in feed.text
    # One's subcommittee's sessions (with their join link); not other subcommittees', not public seminars.
    sessions = {e.summary for e in feed.events.values() if SUB_NAME in e.summary}
    assert {s for s in sessions if "★" not in s} == {
        f"{SUB_NAME} 分科会① ネット・ゼロ×スマートシティへの理解", f"{SUB_NAME} 分科会② 先進事例の共有",
        f"{SUB_NAME} 分科会④ 中止の会合"}
    first_session = feed.by_summary("ネット・ゼロ×スマートシティへの理解")
    assert join_url("sub-1") in first_session.text
    assert "防災データ活用分科会" not in feed.text
    assert not [u for u in feed.uids() if "cal-timed" in u]
    # The other account's feed has the full seminar, with its own join link.
    other_feed = fetch(client, f"/calendar/{other.calendar_token}.ics")
    assert set(other_feed.uids()) == {full_uid}
    assert join_url("cal-full") in other_feed.text

    # A new time for the seminar reaches the feed: same UID, higher SEQUENCE, new ETag.
    day = today_local() + timedelta(days=30)
    edit_seminar(app, "cal-open", starts_at=local_datetime(day, time(10, 0)), ends_at=local_datetime(day, time(11, 0)))
    moved = client.get(path, headers={"If-None-Match": feed.headers["ETag"]})
    assert moved.status_code == 200
    moved_feed = parse(moved.data)
    assert moved_feed.events[own_uid].sequence > registered.sequence
    assert moved_feed.events[own_uid].start[1] == datetime.combine(day, time(10, 0))
    # Cancelling takes the seminar out of the feed (and the ETag moves).
    response = member_auth.post(f"/seminars/{open_id}/registration/cancel")
    assert response.status_code == 302
    again = client.get(path, headers={"If-None-Match": moved.headers["ETag"]})
    assert again.status_code == 200
    assert own_uid not in parse(again.data).uids()

    for token in ("unknown-token", "x" * 43, member.calendar_token[:-1]):
        assert client.get(f"/calendar/{token}.ics").status_code == 404, token


def test_regenerating_the_token_from_the_account_page(app, client, auth, create_user):
    load(app, base_data())
    seminar_id = future_seminar(app, "cal-token")
    member = create_user("member")
    auth.login(member)
    auth.post(f"/seminars/{seminar_id}/registration")

    def feed_url() -> str:
        page = client.get("/account")
        assert page.status_code == 200
        match = re.search(r'id="feed-url"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*id="feed-url"',
                          page.get_data(as_text=True))
        assert match, "the account page shows the feed URL"
        url = html_lib.unescape(match.group(1) or match.group(2))
        assert url.startswith(f"{BASE}/calendar/") and url.endswith(".ics"), url
        return urlsplit(url).path

    old = feed_url()
    assert old == f"/calendar/{member.calendar_token}.ics"
    visitor = app.test_client()
    before = fetch(visitor, old)
    assert len(before.events) == 1
    # Without the CSRF token nothing happens.
    assert client.post("/account/calendar-token").status_code == 400
    assert visitor.get(old).status_code == 200
    # The button only asks first (the old URL stops for good): it still works afterwards.
    asks_first(auth.post("/account/calendar-token"), "/account/calendar-token", mails=0)
    assert visitor.get(old).status_code == 200

    response = auth.post("/account/calendar-token", {"confirmed": "1"})
    assert response.status_code in (302, 303)
    assert urlsplit(response.headers["Location"]).path == "/account"
    assert visitor.get(old).status_code == 404
    assert visitor.get(old, headers={"If-None-Match": before.headers["ETag"]}).status_code == 404
    new = feed_url()
    assert new != old
    token = new.removeprefix("/calendar/").removesuffix(".ics")
    assert len(token) >= 32
    after = fetch(visitor, new)
    assert after.uids() == before.uids()
    with app.app_context():
        assert db.session.get(User, member.id).calendar_token == token


def test_deactivated_account_feed_is_404(app, client, create_user):
    load(app, base_data())
    member = create_user("member")
    approve_member(app, member, "cal-sub")
    path = f"/calendar/{member.calendar_token}.ics"
    etag = fetch(client, path).headers["ETag"]
    with app.app_context():
        db.session.get(User, member.id).state = AccountState.DEACTIVATED
        db.session.commit()
    assert client.get(path).status_code == 404
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 404
    never = create_user("member", state="deactivated")
    assert client.get(f"/calendar/{never.calendar_token}.ics").status_code == 404


# ----------------------------------------------------------------------------- mail attachment


def test_confirmation_mail_carries_the_seminar_ics(app, client, create_user, outbox):
    seminar_id = future_seminar(app, "cal-mail", capacity=1)
    member, late = create_user("member"), create_user("member")
    register(app, member, seminar_id)
    register(app, late, seminar_id)  # waiting

    (mail,) = outbox("registration.registered")
    assert mail.recipients == [member.email]
    (attachment,) = mail.attachments
    assert attachment["filename"].endswith(".ics")
    assert attachment["content_type"] == "text/calendar; method=REQUEST; charset=UTF-8"
    attached = parse(attachment["data"].encode("utf-8"), "REQUEST")
    (uid,) = attached.uids()
    event = attached.events[uid]
    assert join_url("cal-mail") in event.text
    assert event.summary == "第7回 参加登録テスト cal-mail"
    assert "15:30～ イントロダクション" in event.description
    day = today_local() + timedelta(days=30)
    assert event.start[:4] == ("datetime", datetime.combine(day, time(15, 30)), timedelta(hours=9), "Asia/Tokyo")

    public = fetch(client, f"/seminars/{seminar_id}.ics")
    assert public.uids() == {uid}
    assert public.events[uid].sequence == event.sequence
    personal = fetch(client, f"/calendar/{member.calendar_token}.ics")
    assert uid in personal.uids()
    assert join_url("cal-mail") not in public.text

    for row in outbox("registration.waiting"):
        for item in row.attachments or []:
            assert join_url("cal-mail") not in item["data"], "the join link only goes to registered accounts"

    # The waiting account is promoted when the first cancels: its confirmation carries the link.
    logged_in(app, member).post(f"/seminars/{seminar_id}/registration/cancel")
    (promoted,) = outbox("registration.promoted")
    (attachment,) = promoted.attachments
    promoted_feed = parse(attachment["data"].encode("utf-8"), "REQUEST")
    assert promoted_feed.uids() == {uid}
    assert join_url("cal-mail") in promoted_feed.events[uid].text
    assert uid in fetch(client, f"/calendar/{late.calendar_token}.ics").uids()
