"""Checking an import file: the whole file is read before anything is written.

Each kind of record has its own step (``check_seminar``, ``check_session``…) that turns it into
the values the operations take, and reports every problem with the record and the field it
concerns (``seminars[0] (key=fy2021-1).date: …``). Dates go through ``core.dates``, the parser
the forms use, so a date a form refuses is refused here with the same message.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from portal.accounts.models import Membership, OrganizationKind
from portal.core.dates import (
    MAX_YEAR,
    MIN_YEAR,
    Precision,
    fiscal_year,
    local_datetime,
    parse_day,
    parse_month,
    parse_when,
)
from portal.core.errors import DomainError
from portal.seminars.models import SeminarStatus
from portal.subcommittees.models import TARGET_FIELDS, SessionStatus, SubcommitteeStatus

DEFAULT_SERIES = "官民連携プラットフォーム オンラインセミナー"
PERIODS = {"early": Precision.EARLY, "mid": Precision.MID, "late": Precision.LATE, None: Precision.MONTH}
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
DAY_SHAPE = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")  # an exact day; any other date text is a month

# Keys each kind of record accepts (the contract's minimum plus a few optional extras).
TOP_KEYS = {"series", "organizations", "seminars", "subcommittees"}
SERIES_KEYS = {"name", "fiscal_year", "description"}
ORG_KEYS = {"name", "kind", "membership"}
SEMINAR_KEYS = {
    "key", "series", "fiscal_year", "number", "title", "description", "date", "period", "start",
    "end", "status", "capacity", "registration", "qa", "join_url", "mailbox", "program",
}
PROGRAM_KEYS = {"start", "title", "points", "notes", "presenters"}
PRESENTER_KEYS = {"organization", "department", "person", "point"}
SUBCOMMITTEE_KEYS = {
    "slug", "name", "fiscal_year", "status", "proposer", "purpose", "main_theme", "issues",
    "outcomes", "fields", "fields_other", "steps", "activities", "sessions", "milestones", "contacts",
}
ACTIVITY_KEYS = {"label", "title", "description", "start", "end"}
SESSION_KEYS = {"number", "title", "date", "period", "start", "end", "join_url", "status"}
MILESTONE_KEYS = {"title", "due", "done"}
CONTACT_KEYS = {"name", "organization", "department", "email"}
STEP_KEYS = {"title", "points"}


class ImportFailed(DomainError):
    """The file was rejected; ``errors`` lists every problem found, nothing was written.

    A ``DomainError`` (the one expected-error type) whose message is every problem, a line each.
    """

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Checked:
    """A record that passed its checks: where it is in the file, and its values."""

    where: str
    values: dict[str, Any]


@dataclass
class Records:
    series: list[Checked] = field(default_factory=list)
    organizations: list[Checked] = field(default_factory=list)
    seminars: list[Checked] = field(default_factory=list)
    subcommittees: list[Checked] = field(default_factory=list)


# --------------------------------------------------------------------------- field checks


class FileChecker:
    """Collects errors with the path of the record and field they concern."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def keys(self, where: str, record: Any, allowed: set[str], required: set[str]) -> bool:
        if not isinstance(record, dict):
            self.error(where, "must be an object")
            return False
        unknown = sorted(set(record) - allowed)
        if unknown:
            self.error(where, "unknown key(s) " + ", ".join(repr(k) for k in unknown))
        for name in sorted(required):
            if record.get(name) in (None, ""):
                self.error(f"{where}.{name}", "is required")
        return True

    def text(self, where: str, value: Any, *, max_len: int = 300, required: bool = False) -> str | None:
        if value is None or value == "":
            if required:
                self.error(where, "is required")
            return None
        if not isinstance(value, str):
            self.error(where, f"must be text, got {value!r}")
            return None
        if "\x00" in value:
            self.error(where, "contains a NUL character")
            return None
        if len(value) > max_len:
            self.error(where, f"is longer than {max_len} characters")
            return None
        return value.strip()

    def text_list(self, where: str, value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(where, "must be a list of texts")
            return []
        return [v.strip() for v in value]

    def integer(self, where: str, value: Any, *, minimum: int = 0, maximum: int = 2**31 - 1,
                required: bool = False) -> int | None:
        if value is None:
            if required:
                self.error(where, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            self.error(where, f"must be a whole number from {minimum} to {maximum}, got {value!r}")
            return None
        return value

    def year(self, where: str, value: Any) -> int | None:
        """A fiscal year, within the years the portal accepts anywhere (core.dates)."""
        return self.integer(where, value, minimum=MIN_YEAR, maximum=MAX_YEAR)

    def items(self, where: str, value: Any) -> list[Any]:
        """A nested list of records (program, sessions…); absent means empty."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(where, "must be a list")
            return []
        return value

    def identifier(self, where: str, value: Any, pattern: re.Pattern[str], rule: str) -> str | None:
        if value is None or value == "":
            return None  # reported as required by keys()
        if not isinstance(value, str) or not pattern.match(value):
            self.error(where, f"{value!r} {rule}")
            return None
        return value

    def choice(self, where: str, value: Any, options: dict[Any, Any], default: Any = None) -> Any:
        if value is None:
            return default
        if not isinstance(value, str) or value not in options:
            allowed = ", ".join(str(k) for k in options if k is not None)
            self.error(where, f"{value!r} is not one of {allowed}")
            return default
        return options[value]

    def parsed(self, where: str, value: Any, parse: Callable[[str], date | None]) -> date | None:
        """A date through core.dates; its refusal is reported with the forms' own message."""
        if not isinstance(value, str):
            self.error(where, f"must be text, got {value!r}")
            return None
        try:
            return parse(value)
        except DomainError as exc:
            self.error(where, f"{exc} ({value!r})")
            return None

    def day(self, where: str, value: Any, *, required: bool = False) -> date | None:
        if value is None:
            if required:
                self.error(where, "is required")
            return None
        return self.parsed(where, value, parse_day)

    def clock(self, where: str, value: Any) -> time | None:
        if value is None:
            return None
        if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
            hour, minute = map(int, value.split(":"))
            if hour < 24 and minute < 60:
                return time(hour, minute)
        self.error(where, f"{value!r} is not a time (HH:MM)")
        return None

    def when(self, where: str, record: dict[str, Any], expected_fy: int | None = None) -> dict[str, Any]:
        """``date``/``period``/``start``/``end`` → date_on, precision, starts_at, ends_at.

        ``expected_fy``: the date must fall in that fiscal year (core.dates' rule and message,
        as the session form checks a session against its subcommittee's year).
        """
        raw = record.get("date")
        result: dict[str, Any] = {
            "date_on": None, "precision": Precision.UNDECIDED, "starts_at": None, "ends_at": None,
        }
        if raw is None:
            for name in ("period", "start", "end"):
                if record.get(name) is not None:
                    self.error(f"{where}.{name}", "needs a date")
            return result
        exact = isinstance(raw, str) and DAY_SHAPE.fullmatch(raw) is not None
        if exact:
            precision = Precision.DAY
            if record.get("period") is not None:
                self.error(f"{where}.period", "only goes with a month date (YYYY-MM)")
        else:
            precision = self.choice(f"{where}.period", record.get("period"), PERIODS, Precision.MONTH)
            for name in ("start", "end"):
                if record.get(name) is not None:
                    self.error(f"{where}.{name}", "a time needs an exact date (YYYY-MM-DD)")
        day = self.parsed(f"{where}.date", raw, lambda text: parse_when(precision, text, expected_fy))
        start = self.clock(f"{where}.start", record.get("start")) if exact else None
        end = self.clock(f"{where}.end", record.get("end")) if exact else None
        if end is not None and start is None:
            self.error(f"{where}.end", "needs a start time")
        if start and end and end <= start:
            self.error(f"{where}.end", f"{record['end']!r} is not after the start {record['start']!r}")
        if day is None:
            return result
        result.update(date_on=day, precision=precision)
        if start is not None:
            result["starts_at"] = local_datetime(day, start)
            if end is not None:
                result["ends_at"] = local_datetime(day, end)
        return result

    def month_edge(self, where: str, value: Any, *, last: bool) -> date | None:
        """An activity's start or end: a month (its first day, or its last for an end) or a day."""
        if value is None or value == "":
            return None
        if isinstance(value, str) and DAY_SHAPE.fullmatch(value):
            return self.parsed(where, value, parse_day)
        first = self.parsed(where, value, parse_month)
        if first is None or not last:
            return first
        return first.replace(day=calendar.monthrange(first.year, first.month)[1])

    def shaped(self, where: str, value: Any, *, max_len: int, pattern: str, what: str) -> str | None:
        """Text that must match ``pattern``; otherwise the error says it is not ``what``."""
        text = self.text(where, value, max_len=max_len)
        if text is not None and not re.match(pattern, text):
            self.error(where, f"{text!r} is not {what}")
            return None
        return text

    def url(self, where: str, value: Any) -> str | None:
        return self.shaped(where, value, max_len=500, pattern=r"^https?://\S+$", what="an http(s) URL")

    def email(self, where: str, value: Any) -> str | None:
        return self.shaped(where, value, max_len=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", what="an e-mail address")


def _label(kind: str, index: int, record: Any, ident: str) -> str:
    name = record.get(ident) if isinstance(record, dict) else None
    return f"{kind}[{index}]" + (f" ({ident}={name})" if isinstance(name, str) and name else "")


class Seen:
    """Keys a file may hold once (seminar keys, slugs, session numbers…)."""

    def __init__(self, c: FileChecker, message: str = "appears twice in the file") -> None:
        self.c, self.message, self.values = c, message, set[Any]()

    def once(self, where: str, value: Any) -> None:
        if value is not None and value in self.values:
            self.c.error(where, self.message)
        self.values.add(value)


# --------------------------------------------------------------------------- record checks


def check_series(c: FileChecker, where: str, rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": c.text(f"{where}.name", rec.get("name"), max_len=200),
        "fiscal_year": c.year(f"{where}.fiscal_year", rec.get("fiscal_year")),
        "description": c.text(f"{where}.description", rec.get("description"), max_len=5000),
    }


def check_organization(c: FileChecker, where: str, rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": c.text(f"{where}.name", rec.get("name"), max_len=200),
        "kind": c.choice(f"{where}.kind", rec.get("kind"), {k.value: k for k in OrganizationKind},
                         OrganizationKind.OTHER),
        "membership": c.choice(f"{where}.membership", rec.get("membership"), {m.value: m for m in Membership},
                               Membership.MEMBER),
    }


def check_seminar_year(c: FileChecker, where: str, rec: dict[str, Any], when: dict[str, Any]) -> int | None:
    """The given fiscal year, or the date's; a date outside the given year is refused with the
    seminar form's message (core.dates.parse_when), named at the fiscal year."""
    fy = c.year(f"{where}.fiscal_year", rec.get("fiscal_year"))
    if when["date_on"] is None:
        if fy is None and rec.get("fiscal_year") is None:
            c.error(f"{where}.fiscal_year", "is required when the date is undecided")
        return fy
    if fy is None:
        return fiscal_year(when["date_on"])
    try:
        parse_when(when["precision"], rec["date"], fy)
    except DomainError as exc:
        c.error(f"{where}.fiscal_year", f"{fy}: {exc} (date {rec['date']!r})")
    return fy


def check_presenter(c: FileChecker, where: str, rec: dict[str, Any], points: list[str]) -> dict[str, Any]:
    # Which of the item's points (0 = the first) they present; absent: the whole item.
    point = None
    if rec.get("point") is not None and not points:
        c.error(f"{where}.point", "names a point, but the item has no points")
    else:
        point = c.integer(f"{where}.point", rec.get("point"), maximum=len(points) - 1)
    return {
        "organization": c.text(f"{where}.organization", rec.get("organization"), max_len=200),
        "department": c.text(f"{where}.department", rec.get("department"), max_len=200),
        "person": c.text(f"{where}.person", rec.get("person"), max_len=200),
        "point": point,
    }


def check_program_item(c: FileChecker, where: str, rec: dict[str, Any]) -> dict[str, Any]:
    points = c.text_list(f"{where}.points", rec.get("points"))
    presenters = [
        check_presenter(c, pw, p, points)
        for k, p in enumerate(c.items(f"{where}.presenters", rec.get("presenters")))
        if c.keys(pw := f"{where}.presenters[{k}]", p, PRESENTER_KEYS, {"organization"})
    ]
    return {
        "start_time": c.clock(f"{where}.start", rec.get("start")),
        "title": c.text(f"{where}.title", rec.get("title")),
        "points": points,
        "notes": c.text_list(f"{where}.notes", rec.get("notes")),
        "presenters": presenters,
    }


def check_seminar(c: FileChecker, where: str, rec: dict[str, Any], keys: Seen) -> dict[str, Any]:
    key = c.identifier(f"{where}.key", rec.get("key"), KEY_RE,
                       "is not a key: text of letters, digits, '-', '_' and '.'")
    keys.once(f"{where}.key", key)
    when = c.when(where, rec)
    program = [
        check_program_item(c, iw, item)
        for j, item in enumerate(c.items(f"{where}.program", rec.get("program")))
        if c.keys(iw := f"{where}.program[{j}]", item, PROGRAM_KEYS, {"title"})
    ]
    return {
        "key": key,
        "series": c.text(f"{where}.series", rec.get("series"), max_len=200) or DEFAULT_SERIES,
        "fiscal_year": check_seminar_year(c, where, rec, when),
        "number": c.integer(f"{where}.number", rec.get("number"), minimum=1),
        "title": c.text(f"{where}.title", rec.get("title")),
        "description": c.text(f"{where}.description", rec.get("description"), max_len=5000),
        **when,
        "status": c.choice(f"{where}.status", rec.get("status"), {s.value: s for s in SeminarStatus},
                           SeminarStatus.DRAFT),
        "capacity": c.integer(f"{where}.capacity", rec.get("capacity"), minimum=1),
        "registration_open": c.choice(f"{where}.registration", rec.get("registration"),
                                      {"open": True, "closed": False}, False),
        "qa_open": c.choice(f"{where}.qa", rec.get("qa"), {"open": True, "closed": False}, False),
        "join_url": c.url(f"{where}.join_url", rec.get("join_url")),
        "mailbox": c.email(f"{where}.mailbox", rec.get("mailbox")),
        "program": program,
    }


def check_activity(c: FileChecker, where: str, rec: dict[str, Any], index: int) -> dict[str, Any]:
    return {
        "label": c.text(f"{where}.label", rec.get("label"), max_len=50) or f"活動{index + 1}",
        "title": c.text(f"{where}.title", rec.get("title")),
        "description": c.text(f"{where}.description", rec.get("description"), max_len=5000),
        "starts_on": c.month_edge(f"{where}.start", rec.get("start"), last=False),
        "ends_on": c.month_edge(f"{where}.end", rec.get("end"), last=True),  # to the end of its month
    }


def check_session(c: FileChecker, where: str, rec: dict[str, Any], numbers: Seen,
                  fy: int | None) -> dict[str, Any]:
    number = c.integer(f"{where}.number", rec.get("number"), minimum=1)
    numbers.once(f"{where}.number", number)
    return {
        "number": number,
        "title": c.text(f"{where}.title", rec.get("title")),
        **c.when(where, rec, expected_fy=fy),  # within the subcommittee's year, as the lead's form
        "join_url": c.url(f"{where}.join_url", rec.get("join_url")),
        "status": c.choice(f"{where}.status", rec.get("status"), {v.value: v for v in SessionStatus},
                           SessionStatus.SCHEDULED),
    }


def check_milestone(c: FileChecker, where: str, rec: dict[str, Any], titles: Seen) -> dict[str, Any]:
    title = c.text(f"{where}.title", rec.get("title"))
    titles.once(f"{where}.title", title)  # milestones are matched by title on re-import
    return {
        "title": title,
        "due_on": c.day(f"{where}.due", rec.get("due"), required=True),
        "done_on": c.day(f"{where}.done", rec.get("done")),
    }


def check_contact(c: FileChecker, where: str, rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": c.text(f"{where}.name", rec.get("name"), max_len=200),
        "organization": c.text(f"{where}.organization", rec.get("organization"), max_len=200),
        "department": c.text(f"{where}.department", rec.get("department"), max_len=200),
        "email": c.email(f"{where}.email", rec.get("email")),
    }


def check_step(c: FileChecker, where: str, rec: dict[str, Any]) -> dict[str, Any]:
    return {"title": c.text(f"{where}.title", rec.get("title"), max_len=200),
            "points": c.text_list(f"{where}.points", rec.get("points"))}


def check_subcommittee(c: FileChecker, where: str, rec: dict[str, Any], slugs: Seen) -> dict[str, Any]:
    slug = c.identifier(f"{where}.slug", rec.get("slug"), SLUG_RE,
                        "is not a slug: text of lower-case letters, digits and '-'")
    slugs.once(f"{where}.slug", slug)
    fy = c.year(f"{where}.fiscal_year", rec.get("fiscal_year"))
    fields = c.text_list(f"{where}.fields", rec.get("fields"))
    bad = [f for f in fields if f not in TARGET_FIELDS]
    if bad:
        c.error(f"{where}.fields", f"unknown field(s) {', '.join(bad)}; choose from {', '.join(TARGET_FIELDS)}")

    def each(name: str, allowed: set[str], required: set[str]) -> list[tuple[int, str, dict[str, Any]]]:
        return [(j, w, item) for j, item in enumerate(c.items(f"{where}.{name}", rec.get(name)))
                if c.keys(w := f"{where}.{name}[{j}]", item, allowed, required)]

    numbers, titles = Seen(c, "appears twice"), Seen(c, "appears twice")
    return {
        "slug": slug,
        "name": c.text(f"{where}.name", rec.get("name"), max_len=200),
        "fiscal_year": fy,
        "status": c.choice(f"{where}.status", rec.get("status"), {v.value: v for v in SubcommitteeStatus},
                           SubcommitteeStatus.ACTIVE),
        "proposer": c.text(f"{where}.proposer", rec.get("proposer"), max_len=200),
        "purpose": c.text(f"{where}.purpose", rec.get("purpose"), max_len=5000),
        "main_theme": c.text(f"{where}.main_theme", rec.get("main_theme"), max_len=5000),
        "issues": c.text_list(f"{where}.issues", rec.get("issues")),
        "outcomes": c.text_list(f"{where}.outcomes", rec.get("outcomes")),
        "fields": fields,
        "fields_other": c.text(f"{where}.fields_other", rec.get("fields_other"), max_len=200),
        "steps": [check_step(c, w, s) for _, w, s in each("steps", STEP_KEYS, {"title"})],
        "activities": [check_activity(c, w, a, j) for j, w, a in each("activities", ACTIVITY_KEYS, {"title"})],
        "sessions": [check_session(c, w, s, numbers, fy)
                     for _, w, s in each("sessions", SESSION_KEYS, {"number", "title"})],
        "milestones": [check_milestone(c, w, m, titles)
                       for _, w, m in each("milestones", MILESTONE_KEYS, {"title", "due"})],
        "contacts": [check_contact(c, w, p) for _, w, p in each("contacts", CONTACT_KEYS, {"name"})],
    }


# --------------------------------------------------------------------------- the file


def check(data: Any) -> Records:
    """Validate a whole import; return its records, or raise ImportFailed naming every problem."""
    if not isinstance(data, dict):
        raise ImportFailed(["file: the top level must be an object with organizations, seminars, subcommittees"])
    c = FileChecker()
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        c.error("file", "unknown key(s) " + ", ".join(repr(k) for k in unknown))

    def records(kind: str, ident: str, allowed: set[str], required: set[str]) -> list[tuple[str, dict[str, Any]]]:
        found = data.get(kind, [])
        if not isinstance(found, list):
            c.error(kind, "must be a list")
            return []
        return [(where, rec) for i, rec in enumerate(found)
                if c.keys(where := _label(kind, i, rec, ident), rec, allowed, required)]

    out = Records()
    out.series = [Checked(w, check_series(c, w, r))
                  for w, r in records("series", "name", SERIES_KEYS, {"name", "fiscal_year"})]
    names = Seen(c)
    for w, r in records("organizations", "name", ORG_KEYS, {"name"}):
        out.organizations.append(Checked(w, values := check_organization(c, w, r)))
        names.once(f"{w}.name", values["name"])
    keys = Seen(c)
    out.seminars = [Checked(w, check_seminar(c, w, r, keys))
                    for w, r in records("seminars", "key", SEMINAR_KEYS, {"key"})]
    slugs = Seen(c)
    out.subcommittees = [Checked(w, check_subcommittee(c, w, r, slugs))
                         for w, r in records("subcommittees", "slug", SUBCOMMITTEE_KEYS,
                                             {"slug", "name", "fiscal_year"})]
    if c.errors:
        raise ImportFailed(c.errors)
    return out
