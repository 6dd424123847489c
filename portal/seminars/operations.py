"""Back-office changes to series, seminars and programs, and what follows from them.

Operations raise ``DomainError`` and never commit: the view's unit of work (or the importer's
one transaction) does. The importer and the back office both come through ``update_seminar``,
so the SEQUENCE rule and the mails cannot differ between them.
"""

from __future__ import annotations

import calendar
from datetime import date, time
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.calendar.sequence import SEQUENCE_FIELDS, WHEN_FIELDS, revise
from portal.core.dates import Precision, local_datetime
from portal.core.db import assign, db, utcnow
from portal.core.errors import DomainError
from portal.seminars.models import Presenter, ProgramItem, Seminar, SeminarSeries, SeminarStatus
from portal.seminars.notifications import mail_active_registrants
from portal.seminars.presenters import PresenterLine
from portal.seminars.queries import new_key, next_number, series_exists
from portal.seminars.registrations import lock_seminar, promote_waiting

SERIES_EXISTS = _l("この年度のシリーズは既にあります。")


def create_series(*, name: str, fiscal_year: int, description: str | None) -> SeminarSeries:
    if series_exists(name, fiscal_year):
        raise DomainError(SERIES_EXISTS, field="fiscal_year")
    series = SeminarSeries(name=name, fiscal_year=fiscal_year, description=description)
    db.session.add(series)
    return series


def update_series(series: SeminarSeries, *, name: str, fiscal_year: int, description: str | None) -> None:
    """Edit a series. Its name is in every seminar's calendar event (CATEGORIES, DESCRIPTION), so
    a new name or year makes its seminars count as changed (feeds, pages)."""
    if series_exists(name, fiscal_year, besides=series.id):
        raise DomainError(SERIES_EXISTS, field="fiscal_year")
    if (series.name, series.fiscal_year) != (name, fiscal_year):
        now = utcnow()
        for seminar in series.seminars:
            seminar.updated_at = now
    series.name, series.fiscal_year, series.description = name, fiscal_year, description


def create_seminar(values: dict[str, Any]) -> Seminar:
    """A seminar from the back office's form values; numbered after the series' last when blank."""
    series = db.session.get(SeminarSeries, values["series_id"])
    if series is None:
        raise DomainError(_l("シリーズが見つかりません。"), field="series_id")
    if values.get("number") is None:
        values = {**values, "number": next_number(series)}
    seminar = Seminar(key=new_key(series, values["number"]), **values)
    db.session.add(seminar)
    db.session.flush()
    return seminar


def update_seminar(seminar: Seminar, values: dict[str, Any]) -> set[str]:
    """Apply changes to a seminar, and what follows from them, in the caller's transaction.

    A new date or time of a published seminar is mailed to everyone registered or waiting,
    with what changed; cancelling mails them too; more places promote from the waitlist.
    Import and back office both come through here.
    """
    before_label = seminar.label(with_year=True)
    before_status = seminar.status
    before_capacity = seminar.capacity
    previous = None
    if seminar.id is not None and seminar.window is not None and values.get("precision") is Precision.UNDECIDED:
        # Its event leaves the calendars: the invitation mails cancel the one they hold.
        from portal.calendar.events import SeminarFacts

        previous = SeminarFacts.of(seminar)
    changed = assign(seminar, values)
    if not changed:
        return changed
    revise(seminar, changed)
    if seminar.id is None:
        return changed
    if seminar.status is SeminarStatus.CANCELLED and before_status is not SeminarStatus.CANCELLED:
        mail_active_registrants(seminar, "cancelled_by_secretariat")
    elif seminar.status is SeminarStatus.DRAFT and before_status is not SeminarStatus.DRAFT:
        mail_active_registrants(seminar, "unpublished")  # it leaves their calendars (CANCEL)
    elif (
        changed & WHEN_FIELDS
        and seminar.status is SeminarStatus.PUBLISHED
        and before_status is SeminarStatus.PUBLISHED
    ):
        mail_active_registrants(seminar, "rescheduled", before=before_label, previous=previous)
    elif seminar.status is SeminarStatus.PUBLISHED and changed & SEQUENCE_FIELDS:
        # A new join link, or published again: the registered get the event as it is now.
        mail_active_registrants(seminar, "updated")
    if "capacity" in changed and (seminar.capacity is None or (before_capacity or 0) < seminar.capacity):
        lock_seminar(seminar.id)
        promote_waiting(seminar)
    return changed


def generate_bimonthly(series: SeminarSeries, first: date, count: int,
                       start: time | None = None, end: time | None = None) -> list[Seminar]:
    """Drafts every two months from a first date (隔月開催), numbered after the existing ones.

    A day past the end of a shorter month is moved to its last day (31 → 30).
    """
    created = []
    number = next_number(series)
    for i in range(count):
        month_index = first.month - 1 + 2 * i
        year, month = first.year + month_index // 12, month_index % 12 + 1
        day = date(year, month, min(first.day, calendar.monthrange(year, month)[1]))
        seminar = Seminar(
            series=series, key=new_key(series, number), number=number, status=SeminarStatus.DRAFT,
            date_on=day, precision=Precision.DAY,
            starts_at=local_datetime(day, start) if start else None,
            ends_at=local_datetime(day, end) if end and start else None,
        )
        db.session.add(seminar)
        db.session.flush()
        created.append(seminar)
        number += 1
    return created


def save_program_item(seminar: Seminar, item: ProgramItem | None, *, start_time: time | None,
                      title: str, points: list[str], notes: list[str],
                      presenters: list[PresenterLine]) -> ProgramItem:
    """Add (item=None) or edit a program item; the seminar counts as changed (feeds, pages)."""
    if item is None:
        item = ProgramItem(position=len(seminar.program))
        seminar.program.append(item)
    item.start_time, item.title, item.points, item.notes = start_time, title, points, notes
    item.presenters[:] = [
        Presenter(position=i, organization=p.organization, department=p.department, person=p.person,
                  point_index=p.point)
        for i, p in enumerate(presenters)
    ]
    seminar.updated_at = utcnow()
    return item


def move_program_item(item: ProgramItem, offset: int) -> None:
    items = list(item.seminar.program)
    index = items.index(item)
    target = index + offset
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
        for position, each in enumerate(items):
            each.position = position
        item.seminar.updated_at = utcnow()


def remove_program_item(item: ProgramItem) -> None:
    seminar = item.seminar
    seminar.program.remove(item)
    for position, each in enumerate(seminar.program):
        each.position = position
    seminar.updated_at = utcnow()
