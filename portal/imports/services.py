"""``portal import``: organizations, seminars (with programs) and subcommittees from JSON.

The whole file is checked before anything is written; every problem is reported with the
record and the field it concerns, and a file with any problem changes nothing. Records are
matched by ``key`` (seminars), ``slug`` (subcommittees) and ``name`` (organizations), so
importing a changed file updates them in place; values that did not change are not touched, so
timestamps and calendar SEQUENCE numbers move only with real changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from sqlalchemy import select

from portal.accounts.models import Membership, Organization, OrganizationKind
from portal.calendar.sequence import SEQUENCE_FIELDS
from portal.core.dates import MAX_YEAR, MIN_YEAR, Precision, fiscal_year, local_datetime, year_ok
from portal.core.db import assign, db, utcnow
from portal.seminars.models import Presenter, ProgramItem, Seminar, SeminarSeries, SeminarStatus
from portal.seminars.operations import update_seminar
from portal.subcommittees.models import (
    TARGET_FIELDS,
    Activity,
    ContactPerson,
    Milestone,
    SessionStatus,
    Subcommittee,
    SubcommitteeSession,
    SubcommitteeStatus,
)

DEFAULT_SERIES = "官民連携プラットフォーム オンラインセミナー"
PERIODS = {"early": Precision.EARLY, "mid": Precision.MID, "late": Precision.LATE, None: Precision.MONTH}
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")

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
    "outcomes", "fields", "fields_other", "activities", "sessions", "milestones", "contacts",
}
ACTIVITY_KEYS = {"label", "title", "description", "start", "end"}
SESSION_KEYS = {"number", "title", "date", "period", "start", "end", "join_url", "status"}
MILESTONE_KEYS = {"title", "due", "done"}
CONTACT_KEYS = {"name", "organization", "department", "email"}


class ImportFailed(Exception):
    """The file was rejected; ``errors`` lists every problem found, nothing was written."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: str, kind: str) -> None:
        target = getattr(self, bucket)
        target[kind] = target.get(kind, 0) + 1

    def __str__(self) -> str:
        def fmt(d: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"

        return f"created: {fmt(self.created)}; updated: {fmt(self.updated)}; unchanged: {fmt(self.unchanged)}"


# --------------------------------------------------------------------------- checking


class _Checker:
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

    def day(self, where: str, value: Any, *, required: bool = False) -> date | None:
        if value is None:
            if required:
                self.error(where, "is required")
            return None
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                pass
            else:
                if year_ok(day.year):
                    return day
                self.error(where, f"{value!r} is outside the years {MIN_YEAR}–{MAX_YEAR}")
                return None
        self.error(where, f"{value!r} is not a date (YYYY-MM-DD)")
        return None

    def month(self, where: str, value: Any) -> date | None:
        """YYYY-MM (or a full date) → the first day of that month."""
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}", value):
            year, month = map(int, value.split("-"))
            if 1 <= month <= 12 and year_ok(year):
                return date(year, month, 1)
        elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return self.day(where, value)
        self.error(where, f"{value!r} is not a month (YYYY-MM) or a date (YYYY-MM-DD)")
        return None

    def clock(self, where: str, value: Any) -> time | None:
        if value is None:
            return None
        if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
            hour, minute = map(int, value.split(":"))
            if hour < 24 and minute < 60:
                return time(hour, minute)
        self.error(where, f"{value!r} is not a time (HH:MM)")
        return None

    def when(self, where: str, record: dict[str, Any]) -> dict[str, Any]:
        """``date``/``period``/``start``/``end`` → date_on, precision, starts_at, ends_at."""
        raw = record.get("date")
        result: dict[str, Any] = {
            "date_on": None, "precision": Precision.UNDECIDED, "starts_at": None, "ends_at": None,
        }
        has_period = record.get("period") is not None
        if raw is None:
            for name in ("period", "start", "end"):
                if record.get(name) is not None:
                    self.error(f"{where}.{name}", "needs a date")
            return result
        if isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            day = self.day(f"{where}.date", raw)
            if has_period:
                self.error(f"{where}.period", "only goes with a month date (YYYY-MM)")
            start = self.clock(f"{where}.start", record.get("start"))
            end = self.clock(f"{where}.end", record.get("end"))
            if end is not None and start is None:
                self.error(f"{where}.end", "needs a start time")
            if start and end and end <= start:
                self.error(f"{where}.end", f"{record['end']!r} is not after the start {record['start']!r}")
            if day is None:
                return result
            result.update(date_on=day, precision=Precision.DAY)
            if start is not None:
                result["starts_at"] = local_datetime(day, start)
            if end is not None:
                result["ends_at"] = local_datetime(day, end)
            return result
        if isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}", raw):
            first = self.month(f"{where}.date", raw)
            precision = self.choice(f"{where}.period", record.get("period"), PERIODS, Precision.MONTH)
            for name in ("start", "end"):
                if record.get(name) is not None:
                    self.error(f"{where}.{name}", "a time needs an exact date (YYYY-MM-DD)")
            if first is not None:
                result.update(date_on=first, precision=precision)
            return result
        self.error(f"{where}.date", f"{raw!r} is not a date (YYYY-MM-DD) or a month (YYYY-MM)")
        return result


def _label(kind: str, index: int, record: Any, ident: str) -> str:
    name = record.get(ident) if isinstance(record, dict) else None
    return f"{kind}[{index}]" + (f" ({ident}={name})" if isinstance(name, str) and name else "")


def check(data: Any) -> dict[str, list[dict[str, Any]]]:
    """Validate a whole import; return normalized records or raise ImportFailed."""
    c = _Checker()
    if not isinstance(data, dict):
        raise ImportFailed(["file: the top level must be an object with organizations, seminars, subcommittees"])
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        c.error("file", "unknown key(s) " + ", ".join(repr(k) for k in unknown))
    out: dict[str, list[dict[str, Any]]] = {
        "series": [], "organizations": [], "seminars": [], "subcommittees": [],
    }
    for name in TOP_KEYS:
        if name in data and not isinstance(data[name], list):
            c.error(name, "must be a list")
            data = {**data, name: []}

    for i, rec in enumerate(data.get("series", [])):
        where = _label("series", i, rec, "name")
        if not c.keys(where, rec, SERIES_KEYS, {"name", "fiscal_year"}):
            continue
        out["series"].append({
            "name": c.text(f"{where}.name", rec.get("name"), max_len=200),
            "fiscal_year": c.integer(f"{where}.fiscal_year", rec.get("fiscal_year"), minimum=2000),
            "description": c.text(f"{where}.description", rec.get("description"), max_len=5000),
        })

    seen: set[str] = set()
    for i, rec in enumerate(data.get("organizations", [])):
        where = _label("organizations", i, rec, "name")
        if not c.keys(where, rec, ORG_KEYS, {"name"}):
            continue
        name = c.text(f"{where}.name", rec.get("name"), max_len=200)
        if name in seen:
            c.error(f"{where}.name", "appears twice in the file")
        seen.add(name or "")
        out["organizations"].append({
            "name": name,
            "kind": c.choice(f"{where}.kind", rec.get("kind"), {k.value: k for k in OrganizationKind}, OrganizationKind.OTHER),
            "membership": c.choice(f"{where}.membership", rec.get("membership"), {m.value: m for m in Membership}, Membership.MEMBER),
        })

    seen = set()
    for i, rec in enumerate(data.get("seminars", [])):
        where = _label("seminars", i, rec, "key")
        if not c.keys(where, rec, SEMINAR_KEYS, {"key"}):
            continue
        key = c.identifier(f"{where}.key", rec.get("key"), KEY_RE, "is not a key: text of letters, digits, '-', '_' and '.'")
        if key is not None and key in seen:
            c.error(f"{where}.key", "appears twice in the file")
        seen.add(key)
        when = c.when(where, rec)
        fy = c.integer(f"{where}.fiscal_year", rec.get("fiscal_year"), minimum=2000)
        if when["date_on"] is not None:
            actual = fiscal_year(when["date_on"])
            if fy is None:
                fy = actual
            elif fy != actual:
                c.error(f"{where}.fiscal_year", f"{fy} does not match the date {rec['date']} (fiscal year {actual})")
        elif fy is None and rec.get("fiscal_year") is None:
            c.error(f"{where}.fiscal_year", "is required when the date is undecided")
        program = []
        for j, item in enumerate(c.items(f"{where}.program", rec.get("program"))):
            iw = f"{where}.program[{j}]"
            if not c.keys(iw, item, PROGRAM_KEYS, {"title"}):
                continue
            presenters = []
            points = c.text_list(f"{iw}.points", item.get("points"))
            for k, p in enumerate(c.items(f"{iw}.presenters", item.get("presenters"))):
                pw = f"{iw}.presenters[{k}]"
                if not c.keys(pw, p, PRESENTER_KEYS, {"organization"}):
                    continue
                # Which of the item's points (0 = the first) they present; absent: the whole item.
                point = None
                if p.get("point") is not None and not points:
                    c.error(f"{pw}.point", "names a point, but the item has no points")
                else:
                    point = c.integer(f"{pw}.point", p.get("point"), maximum=len(points) - 1)
                presenters.append({
                    "organization": c.text(f"{pw}.organization", p.get("organization"), max_len=200),
                    "department": c.text(f"{pw}.department", p.get("department"), max_len=200),
                    "person": c.text(f"{pw}.person", p.get("person"), max_len=200),
                    "point_index": point,
                })
            program.append({
                "start_time": c.clock(f"{iw}.start", item.get("start")),
                "title": c.text(f"{iw}.title", item.get("title")),
                "points": points,
                "notes": c.text_list(f"{iw}.notes", item.get("notes")),
                "presenters": presenters,
            })
        out["seminars"].append({
            "key": key,
            "series": c.text(f"{where}.series", rec.get("series"), max_len=200) or DEFAULT_SERIES,
            "fiscal_year": fy,
            "number": c.integer(f"{where}.number", rec.get("number"), minimum=1),
            "title": c.text(f"{where}.title", rec.get("title")),
            "description": c.text(f"{where}.description", rec.get("description"), max_len=5000),
            **when,
            "status": c.choice(f"{where}.status", rec.get("status"), {s.value: s for s in SeminarStatus}, SeminarStatus.DRAFT),
            "capacity": c.integer(f"{where}.capacity", rec.get("capacity"), minimum=1),
            "registration_open": c.choice(f"{where}.registration", rec.get("registration"), {"open": True, "closed": False}, False),
            "qa_open": c.choice(f"{where}.qa", rec.get("qa"), {"open": True, "closed": False}, False),
            "join_url": _url(c, f"{where}.join_url", rec.get("join_url")),
            "mailbox": _email(c, f"{where}.mailbox", rec.get("mailbox")),
            "program": program,
        })

    seen = set()
    for i, rec in enumerate(data.get("subcommittees", [])):
        where = _label("subcommittees", i, rec, "slug")
        if not c.keys(where, rec, SUBCOMMITTEE_KEYS, {"slug", "name", "fiscal_year"}):
            continue
        slug = c.identifier(f"{where}.slug", rec.get("slug"), SLUG_RE, "is not a slug: text of lower-case letters, digits and '-'")
        if slug is not None and slug in seen:
            c.error(f"{where}.slug", "appears twice in the file")
        seen.add(slug)
        fields = c.text_list(f"{where}.fields", rec.get("fields"))
        bad = [f for f in fields if f not in TARGET_FIELDS]
        if bad:
            c.error(f"{where}.fields", f"unknown field(s) {', '.join(bad)}; choose from {', '.join(TARGET_FIELDS)}")
        activities, sessions, milestones, contacts = [], [], [], []
        for j, a in enumerate(c.items(f"{where}.activities", rec.get("activities"))):
            aw = f"{where}.activities[{j}]"
            if not c.keys(aw, a, ACTIVITY_KEYS, {"title"}):
                continue
            start = c.month(f"{aw}.start", a["start"]) if a.get("start") else None
            end = c.month(f"{aw}.end", a["end"]) if a.get("end") else None
            activities.append({
                "label": c.text(f"{aw}.label", a.get("label"), max_len=50) or f"活動{j + 1}",
                "title": c.text(f"{aw}.title", a.get("title")),
                "description": c.text(f"{aw}.description", a.get("description"), max_len=5000),
                "starts_on": start,
                "ends_on": _month_end(end) if end and a.get("end") and len(a["end"]) == 7 else end,
            })
        numbers: set[int] = set()
        for j, s in enumerate(c.items(f"{where}.sessions", rec.get("sessions"))):
            sw = f"{where}.sessions[{j}]"
            if not c.keys(sw, s, SESSION_KEYS, {"number", "title"}):
                continue
            number = c.integer(f"{sw}.number", s.get("number"), minimum=1)
            if number in numbers:
                c.error(f"{sw}.number", "appears twice")
            numbers.add(number)
            sessions.append({
                "number": number,
                "title": c.text(f"{sw}.title", s.get("title")),
                **c.when(sw, s),
                "join_url": _url(c, f"{sw}.join_url", s.get("join_url")),
                "status": c.choice(f"{sw}.status", s.get("status"), {v.value: v for v in SessionStatus}, SessionStatus.SCHEDULED),
            })
        titles: set[str] = set()
        for j, m in enumerate(c.items(f"{where}.milestones", rec.get("milestones"))):
            mw = f"{where}.milestones[{j}]"
            if not c.keys(mw, m, MILESTONE_KEYS, {"title", "due"}):
                continue
            title = m.get("title")
            if isinstance(title, str):  # milestones are matched by title on re-import
                if title in titles:
                    c.error(f"{mw}.title", "appears twice")
                titles.add(title)
            milestones.append({
                "title": c.text(f"{mw}.title", m.get("title")),
                "due_on": c.day(f"{mw}.due", m.get("due"), required=True),
                "done_on": c.day(f"{mw}.done", m.get("done")),
            })
        for j, p in enumerate(c.items(f"{where}.contacts", rec.get("contacts"))):
            pw = f"{where}.contacts[{j}]"
            if not c.keys(pw, p, CONTACT_KEYS, {"name"}):
                continue
            contacts.append({
                "name": c.text(f"{pw}.name", p.get("name"), max_len=200),
                "organization": c.text(f"{pw}.organization", p.get("organization"), max_len=200),
                "department": c.text(f"{pw}.department", p.get("department"), max_len=200),
                "email": _email(c, f"{pw}.email", p.get("email")),
            })
        out["subcommittees"].append({
            "slug": slug,
            "name": c.text(f"{where}.name", rec.get("name"), max_len=200),
            "fiscal_year": c.integer(f"{where}.fiscal_year", rec.get("fiscal_year"), minimum=2000),
            "status": c.choice(f"{where}.status", rec.get("status"), {v.value: v for v in SubcommitteeStatus}, SubcommitteeStatus.ACTIVE),
            "proposer": c.text(f"{where}.proposer", rec.get("proposer"), max_len=200),
            "purpose": c.text(f"{where}.purpose", rec.get("purpose"), max_len=5000),
            "main_theme": c.text(f"{where}.main_theme", rec.get("main_theme"), max_len=5000),
            "issues": c.text_list(f"{where}.issues", rec.get("issues")),
            "outcomes": c.text_list(f"{where}.outcomes", rec.get("outcomes")),
            "fields": fields,
            "fields_other": c.text(f"{where}.fields_other", rec.get("fields_other"), max_len=200),
            "activities": activities,
            "sessions": sessions,
            "milestones": milestones,
            "contacts": contacts,
        })
    if c.errors:
        raise ImportFailed(c.errors)
    return out


def _month_end(first: date) -> date:
    import calendar

    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _url(c: _Checker, where: str, value: Any) -> str | None:
    text = c.text(where, value, max_len=500)
    if text is not None and not re.match(r"^https?://\S+$", text):
        c.error(where, f"{text!r} is not an http(s) URL")
        return None
    return text


def _email(c: _Checker, where: str, value: Any) -> str | None:
    text = c.text(where, value, max_len=254)
    if text is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", text):
        c.error(where, f"{text!r} is not an e-mail address")
        return None
    return text


# --------------------------------------------------------------------------- applying


def _series(name: str, fy: int) -> SeminarSeries:
    series = db.session.scalar(
        select(SeminarSeries).where(SeminarSeries.name == name, SeminarSeries.fiscal_year == fy)
    )
    if series is None:
        series = SeminarSeries(name=name, fiscal_year=fy)
        db.session.add(series)
        db.session.flush()
    return series


def _sync_list(existing: list, wanted: list[dict[str, Any]], make, update) -> bool:
    """Match items by position: update, append, drop the rest. Return whether anything changed."""
    changed = False
    for index, values in enumerate(wanted):
        if index < len(existing):
            changed |= update(existing[index], index, values)
        else:
            existing.append(make(index, values))
            changed = True
    while len(existing) > len(wanted):
        existing.pop()
        changed = True
    return changed


def _apply_program(seminar: Seminar, program: list[dict[str, Any]]) -> bool:
    def make(index: int, values: dict[str, Any]) -> ProgramItem:
        item = ProgramItem(position=index)
        update(item, index, values)
        return item

    def update(item: ProgramItem, index: int, values: dict[str, Any]) -> bool:
        values = dict(values)
        presenters = values.pop("presenters")
        changed = bool(assign(item, {"position": index, **values}))
        current = [(p.organization, p.department, p.person, p.point_index) for p in item.presenters]
        wanted = [(p["organization"], p["department"], p["person"], p["point_index"]) for p in presenters]
        if current != wanted:
            item.presenters[:] = [
                Presenter(position=k, organization=o, department=d, person=n, point_index=pi)
                for k, (o, d, n, pi) in enumerate(wanted)
            ]
            changed = True
        return changed

    return _sync_list(seminar.program, program, make, update)


def _apply_seminar(values: dict[str, Any], report: ImportReport) -> None:
    values = dict(values)
    program = values.pop("program")
    series = _series(values.pop("series"), values.pop("fiscal_year"))
    seminar = db.session.scalar(select(Seminar).where(Seminar.key == values["key"]))
    if seminar is None:
        seminar = Seminar(series=series, **values)
        db.session.add(seminar)
        _apply_program(seminar, program)
        report.count("created", "seminar")
        return
    changed = update_seminar(seminar, {"series": series, **values})
    if _apply_program(seminar, program):
        changed.add("program")
        seminar.updated_at = utcnow()
    report.count("updated" if changed else "unchanged", "seminar")


def _apply_subcommittee(values: dict[str, Any], report: ImportReport) -> None:
    values = dict(values)
    parts = {name: values.pop(name) for name in ("activities", "sessions", "milestones", "contacts")}
    values["proposer_organization"] = (
        db.session.scalar(select(Organization).where(Organization.name == values["proposer"]))
        if values["proposer"] else None
    )
    sub = db.session.scalar(select(Subcommittee).where(Subcommittee.slug == values["slug"]))
    created = sub is None
    if created:
        sub = Subcommittee(**values)
        db.session.add(sub)
        changed = {"*"}
    else:
        changed = assign(sub, values)

    def positional(model):
        def make(index: int, v: dict[str, Any]):
            return model(position=index, **v)

        def update(obj, index: int, v: dict[str, Any]) -> bool:
            return bool(assign(obj, {"position": index, **v}))

        return make, update

    if _sync_list(sub.activities, parts["activities"], *positional(Activity)):
        changed.add("activities")
    if _sync_list(sub.contacts, parts["contacts"], *positional(ContactPerson)):
        changed.add("contacts")

    # Sessions are matched by number and milestones by title, so their calendar UIDs stay.
    by_number = {s.number: s for s in sub.sessions}
    wanted_numbers = {v["number"] for v in parts["sessions"]}
    for v in parts["sessions"]:
        session = by_number.get(v["number"])
        if session is None:
            sub.sessions.append(SubcommitteeSession(**v))
            changed.add("sessions")
            continue
        diff = assign(session, v)
        if diff:
            if diff & SEQUENCE_FIELDS:
                session.sequence += 1
            changed.add("sessions")
    for session in [s for s in sub.sessions if s.number not in wanted_numbers]:
        sub.sessions.remove(session)
        changed.add("sessions")

    by_title = {m.title: m for m in sub.milestones}
    wanted_titles = {v["title"] for v in parts["milestones"]}
    for index, v in enumerate(parts["milestones"]):
        milestone = by_title.get(v["title"])
        if milestone is None:
            sub.milestones.append(Milestone(position=index, **v))
            changed.add("milestones")
            continue
        diff = assign(milestone, {"position": index, **v})
        if diff:
            if diff & {"due_on", "done_on"}:
                milestone.sequence += 1
            changed.add("milestones")
    for milestone in [m for m in sub.milestones if m.title not in wanted_titles]:
        sub.milestones.remove(milestone)
        changed.add("milestones")

    if created:
        report.count("created", "subcommittee")
    elif changed:
        sub.updated_at = utcnow()
        report.count("updated", "subcommittee")
    else:
        report.count("unchanged", "subcommittee")


def import_data(data: Any) -> ImportReport:
    """Check and apply a whole import in the current transaction; the caller commits.

    Raises ImportFailed (and adds nothing to the session) when the file has any problem.
    """
    records = check(data)
    report = ImportReport()
    with db.session.no_autoflush:
        for values in records["organizations"]:
            org = db.session.scalar(select(Organization).where(Organization.name == values["name"]))
            if org is None:
                db.session.add(Organization(**values))
                report.count("created", "organization")
            elif assign(org, values):
                report.count("updated", "organization")
            else:
                report.count("unchanged", "organization")
    db.session.flush()
    for values in records["series"]:
        series = _series(values["name"], values["fiscal_year"])
        bucket = "updated" if assign(series, {"description": values["description"]}) else "unchanged"
        report.count(bucket, "series")
    for values in records["seminars"]:
        _apply_seminar(values, report)
    db.session.flush()
    for values in records["subcommittees"]:
        _apply_subcommittee(values, report)
    db.session.flush()
    return report


