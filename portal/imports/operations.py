"""``portal import``: organizations, seminars (with programs) and subcommittees from JSON.

The whole file is checked first (``checks.py``); every problem is reported with the record and
the field it concerns, and a file with any problem changes nothing. Records are matched by
``key`` (seminars), ``slug`` (subcommittees) and ``name`` (organizations), so importing a changed
file updates them in place.

The checked records are written through the operations the back office and the leads' forms
use (``update_seminar``, ``save_program_item``, ``save_session``, ``save_milestone``,
``mark_done``, ``save_activity``…), so SEQUENCE, notices to registrants and members, and
timestamps follow one rule whichever way a change comes in. An operation is called only for a
record whose values differ, so a file imported twice touches nothing. Where no operation exists,
the importer writes itself and says why beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from portal.accounts.models import Organization
from portal.accounts.operations import find_or_create_organization
from portal.calendar.sequence import revise
from portal.core.db import assign, db, utcnow
from portal.core.errors import DomainError
from portal.imports.checks import ImportFailed, Records, check
from portal.seminars.models import ProgramItem, Seminar, SeminarSeries
from portal.seminars.operations import remove_program_item, save_program_item, update_seminar, update_series
from portal.seminars.presenters import PresenterLine
from portal.subcommittees.models import ContactPerson, Milestone, Subcommittee
from portal.subcommittees.operations import mark_done, save_activity, save_milestone, save_session


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: str, kind: str) -> None:
        target = getattr(self, bucket)
        target[kind] = target.get(kind, 0) + 1

    def counted(self, kind: str, *, created: bool, changed: bool) -> None:
        self.count("created" if created else "updated" if changed else "unchanged", kind)

    def __str__(self) -> str:
        def fmt(d: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"

        return f"created: {fmt(self.created)}; updated: {fmt(self.updated)}; unchanged: {fmt(self.unchanged)}"


def import_data(data: Any) -> ImportReport:
    """Check and apply a whole import in the current transaction; the caller commits.

    Raises ImportFailed (a DomainError) when the file has any problem: a problem found by the
    checks adds nothing to the session; one an operation refuses while writing names its record,
    and the caller rolls back.
    """
    records = check(data)
    report = ImportReport()
    apply(records, report)
    return report


def apply(records: Records, report: ImportReport) -> None:
    for record in records.organizations:
        with naming(record.where):
            apply_organization(record.values, report)
    for record in records.series:
        with naming(record.where):
            apply_series(record.values, report)
    for record in records.seminars:
        with naming(record.where):
            apply_seminar(record.values, report)
    db.session.flush()  # subcommittees look their proposer organizations up
    for record in records.subcommittees:
        with naming(record.where):
            apply_subcommittee(record.values, report)
    db.session.flush()


@contextmanager
def naming(where: str) -> Iterator[None]:
    """An operation's refusal, reported like the checks' errors: the record, the field, the message."""
    try:
        yield
    except ImportFailed:
        raise
    except DomainError as exc:
        raise ImportFailed([f"{where}{'.' + exc.field if exc.field else ''}: {exc}"]) from exc


def differs(obj: Any, values: dict[str, Any]) -> bool:
    return any(getattr(obj, name) != value for name, value in values.items())


# --------------------------------------------------------------------------- organizations, series


def apply_organization(values: dict[str, Any], report: ImportReport) -> None:
    org = db.session.scalar(select(Organization).where(Organization.name == values["name"]))
    if org is None:
        find_or_create_organization(values["name"], values["kind"], values["membership"])
        report.count("created", "organization")
        return
    # Kind and membership as the file says (the back office has no operation to edit them).
    report.counted("organization", created=False, changed=bool(assign(org, values)))


def series_for(name: str, fy: int) -> SeminarSeries:
    """The series of that name and year, created when new (as the back office's form does in its
    view: there is no operation for it)."""
    series = db.session.scalar(
        select(SeminarSeries).where(SeminarSeries.name == name, SeminarSeries.fiscal_year == fy)
    )
    if series is None:
        series = SeminarSeries(name=name, fiscal_year=fy)
        db.session.add(series)
        db.session.flush()
    return series


def apply_series(values: dict[str, Any], report: ImportReport) -> None:
    series = series_for(values["name"], values["fiscal_year"])
    changed = series.description != values["description"]
    if changed:
        update_series(series, name=series.name, fiscal_year=series.fiscal_year, description=values["description"])
    report.counted("series", created=False, changed=changed)


# --------------------------------------------------------------------------- seminars


def apply_seminar(values: dict[str, Any], report: ImportReport) -> None:
    values = dict(values)
    program = values.pop("program")
    series = series_for(values.pop("series"), values.pop("fiscal_year"))
    seminar = db.session.scalar(select(Seminar).where(Seminar.key == values["key"]))
    if seminar is None:
        # Created as the back office's "new seminar" view creates one (no operation): nobody is
        # registered yet and no calendar has seen it.
        seminar = Seminar(series=series, **values)
        db.session.add(seminar)
        apply_program(seminar, program)
        report.count("created", "seminar")
        return
    # update_seminar: SEQUENCE, registrants told of a new time or a cancellation, the waitlist
    # promoted when places are added — as when the secretariat edits the seminar.
    changed = bool(update_seminar(seminar, {"series": series, **values}, program_follows=False))
    changed |= apply_program(seminar, program)
    report.counted("seminar", created=False, changed=changed)


def presenter_lines(item: ProgramItem) -> list[PresenterLine]:
    return [PresenterLine(p.organization, p.department, p.person, p.point_index) for p in item.presenters]


def apply_program(seminar: Seminar, program: list[dict[str, Any]]) -> bool:
    """Program items matched by position: changed ones saved, new ones added, the rest removed."""
    changed = False
    for index, values in enumerate(program):
        wanted = {**values, "presenters": [PresenterLine(**p) for p in values["presenters"]]}
        item = seminar.program[index] if index < len(seminar.program) else None
        if item is not None and not differs(item, {k: v for k, v in wanted.items() if k != "presenters"}) \
                and presenter_lines(item) == wanted["presenters"]:
            continue
        save_program_item(seminar, item, **wanted, within_time=False)
        changed = True
    for item in reversed(seminar.program[len(program):]):
        remove_program_item(item)
        changed = True
    return changed


# --------------------------------------------------------------------------- subcommittees


def apply_subcommittee(values: dict[str, Any], report: ImportReport) -> None:
    values = dict(values)
    parts = {name: values.pop(name) for name in ("activities", "sessions", "milestones", "contacts")}
    values["proposer_organization"] = (
        db.session.scalar(select(Organization).where(Organization.name == values["proposer"]))
        if values["proposer"] else None
    )
    sub = db.session.scalar(select(Subcommittee).where(Subcommittee.slug == values["slug"]))
    created = sub is None
    if sub is None:
        # Members propose and the secretariat reviews; the file stands for a subcommittee already
        # agreed, so it is written as given (no operation creates or edits one outright).
        sub = Subcommittee(**values)
        db.session.add(sub)
        changed = True
    else:
        changed = bool(assign(sub, values))
    changed |= apply_activities(sub, parts["activities"])
    changed |= apply_contacts(sub, parts["contacts"])
    changed |= apply_sessions(sub, parts["sessions"])
    changed |= apply_milestones(sub, parts["milestones"])
    if changed and not created:
        sub.updated_at = utcnow()
    report.counted("subcommittee", created=created, changed=changed)


def apply_activities(sub: Subcommittee, wanted: list[dict[str, Any]]) -> bool:
    """Activities matched by position (活動1, 活動2…)."""
    changed = False
    for index, values in enumerate(wanted):
        activity = sub.activities[index] if index < len(sub.activities) else None
        if activity is None or differs(activity, values):
            save_activity(sub, activity, values)
            changed = True
    for activity in sub.activities[len(wanted):]:
        sub.activities.remove(activity)  # no operation removes one; the file is the whole plan
        changed = True
    return changed


def apply_contacts(sub: Subcommittee, wanted: list[dict[str, Any]]) -> bool:
    """Contacts matched by position. No operation edits them one by one (the proposal form
    writes them with the whole proposal), so they are written here."""
    changed = False
    for index, values in enumerate(wanted):
        if index < len(sub.contacts):
            changed |= bool(assign(sub.contacts[index], {"position": index, **values}))
        else:
            sub.contacts.append(ContactPerson(position=index, **values))
            changed = True
    while len(sub.contacts) > len(wanted):
        sub.contacts.pop()
        changed = True
    return changed


def apply_sessions(sub: Subcommittee, wanted: list[dict[str, Any]]) -> bool:
    """Sessions matched by number, so their calendar UIDs stay.

    Through ``save_session``, as the lead's form: SEQUENCE by the one rule, and members are
    mailed when a session is scheduled or moved (a new subcommittee has no members yet).
    """
    changed = False
    by_number = {s.number: s for s in sub.sessions}
    for values in wanted:
        session = by_number.get(values["number"])
        if session is None or differs(session, values):
            save_session(sub, session, values)
            changed = True
    numbers = {v["number"] for v in wanted}
    for session in [s for s in sub.sessions if s.number not in numbers]:
        sub.sessions.remove(session)  # no operation removes one (leads cancel); the file is the plan
        changed = True
    return changed


def match_milestones(sub: Subcommittee, wanted: list[dict[str, Any]]) -> list[Milestone | None]:
    """The stored milestone each wanted one is, or None for a new one.

    The same title is the same milestone; a title no longer in the file at the same place in the
    list is the same milestone renamed, so a rename keeps its calendar UID as a lead's rename does.
    """
    existing = list(sub.milestones)
    by_title = {m.title: m for m in existing}
    titles = {v["title"] for v in wanted}
    renamed = [m if m.title not in titles else None for m in existing]
    return [by_title.get(v["title"]) or (renamed[i] if i < len(renamed) else None) for i, v in enumerate(wanted)]


def apply_milestones(sub: Subcommittee, wanted: list[dict[str, Any]]) -> bool:
    changed = False
    matched = match_milestones(sub, wanted)
    kept = {id(m) for m in matched if m is not None}
    for milestone in [m for m in sub.milestones if id(m) not in kept]:
        sub.milestones.remove(milestone)  # no operation removes one; the file is the whole plan
        changed = True
    for index, (found, values) in enumerate(zip(matched, wanted, strict=True)):
        if found is None:
            added = save_milestone(sub, None, title=values["title"], due_on=values["due_on"])
            # A new milestone given as done is created done: not a revision of anything a
            # calendar has seen, so no SEQUENCE (a lead would add it, then mark it done).
            added.done_on, added.position = values["done_on"], index
            changed = True
            continue
        milestone = found
        if (milestone.title, milestone.due_on) != (values["title"], values["due_on"]):
            save_milestone(sub, milestone, title=values["title"], due_on=values["due_on"])
            changed = True
        if milestone.done_on != values["done_on"]:
            if values["done_on"] is not None:
                mark_done(milestone, values["done_on"])
            else:  # reopened: no operation does it, the one rule still counts it
                revise(milestone, assign(milestone, {"done_on": None}))
            changed = True
        if milestone.position != index:
            milestone.position = index  # the order on the page; not part of the calendar event
            changed = True
    return changed
