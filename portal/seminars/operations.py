"""Back-office changes to series, seminars and programs, and what follows from them.

Operations raise ``DomainError`` and never commit: the view's unit of work (or the importer's
one transaction) does. The importer and the back office both come through ``update_seminar``,
so the SEQUENCE rule and the mails cannot differ between them.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from portal.accounts.models import User
from portal.audit.services import record
from portal.calendar.sequence import SEQUENCE_FIELDS, WHEN_FIELDS, revise
from portal.core.dates import Precision, format_moment, format_time, local_datetime, to_local
from portal.core.db import assign, db, utcnow
from portal.core.errors import DomainError
from portal.core.labels import label
from portal.seminars.attendance import attendee_addresses
from portal.seminars.models import (
    Presenter,
    ProgramItem,
    Registration,
    Seminar,
    SeminarPhase,
    SeminarSeries,
    SeminarStatus,
)
from portal.seminars.notifications import mail_active_registrants
from portal.seminars.presenters import PresenterLine
from portal.seminars.queries import new_key, next_number, registered_for_attendance, series_exists
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


class Actor:
    """Who makes a back-office change, for the audit log (the importer passes none)."""

    def __init__(self, user: User | None, ip: str | None = None) -> None:
        self.user, self.ip = user, ip


def facts(seminar: Seminar) -> dict[str, str]:
    """A seminar as the audit log words it (Japanese, whatever the page's language): what a
    change is shown as, before → after."""
    with force_locale("ja"):
        return {
            "series": f"{seminar.series.fiscal_year}年度 {seminar.series.name}" if seminar.series else "",
            "number": f"第{seminar.number}回" if seminar.number else "",
            "title": seminar.title or "（テーマ未定）",
            "description": seminar.description or "",
            "when": seminar.label(with_year=True),
            "status": label(seminar.status),
            "capacity": f"{seminar.capacity}名" if seminar.capacity else "制限なし",
            "registration_open": "受付中" if seminar.registration_open else "受付していません",
            "registration_opens_at": format_moment(seminar.registration_opens_at)
            if seminar.registration_opens_at else "",
            "registration_closes_at": format_moment(seminar.registration_closes_at)
            if seminar.registration_closes_at else "",
            "join_url": seminar.join_url or "",
            "mailbox": seminar.mailbox or "",
        }


def _audit(action: str, seminar: Seminar, by: Actor | None, before: dict[str, str] | None = None,
           **details: Any) -> None:
    """Record a back-office change of ``seminar``: what changed, before → after, in words."""
    if by is None:
        return
    if before is not None:
        after = facts(seminar)
        details["changes"] = [[key, before[key], after[key]] for key in after if before[key] != after[key]]
    record(action, actor_id=by.user.id if by.user else None, subject=f"seminar:{seminar.id}", ip=by.ip,
           details={"seminar": facts(seminar)["title"], **details})


def create_seminar(values: dict[str, Any], by: Actor | None = None) -> Seminar:
    """A seminar from the back office's form values; numbered after the series' last when blank."""
    series = db.session.get(SeminarSeries, values["series_id"])
    if series is None:
        raise DomainError(_l("シリーズが見つかりません。"), field="series_id")
    if values.get("number") is None:
        values = {**values, "number": next_number(series)}
    seminar = Seminar(key=new_key(series, values["number"]), **values)
    db.session.add(seminar)
    db.session.flush()
    _audit("seminar.created", seminar, by, when=facts(seminar)["when"], status=facts(seminar)["status"])
    return seminar


def update_seminar(seminar: Seminar, values: dict[str, Any], *, program_follows: bool = True,
                   by: Actor | None = None) -> set[str]:
    """Apply changes to a seminar, and what follows from them, in the caller's transaction.

    A new start time moves the program by the same offset (``program_follows``; the importer's
    file states its program itself), and a program item outside the seminar's new time is
    refused. A new date or time of a published seminar is mailed to everyone registered or
    waiting, with the old and new times; cancelling mails them too; more places promote from the
    waitlist. Import and back office both come through here.
    """
    notice = notice_for(seminar, values)
    before_label = seminar.label(with_year=True)
    before_status = seminar.status
    before_capacity = seminar.capacity
    previous = None
    if seminar.id is not None and seminar.window is not None and values.get("precision") is Precision.UNDECIDED:
        # Its event leaves the calendars: the invitation mails cancel the one they hold.
        from portal.calendar.events import SeminarFacts

        previous = SeminarFacts.of(seminar)
    before_start = seminar.starts_at
    before_facts = facts(seminar) if by is not None and seminar.id is not None else None
    changed = assign(seminar, values)
    if not changed:
        return changed
    moved = program_follows and "starts_at" in changed and shift_program(seminar, before_start, seminar.starts_at)
    if program_follows and changed & {"starts_at", "ends_at"}:
        check_program_in_time(seminar, field="start")
    revise(seminar, changed)
    if seminar.id is None:
        return changed
    if notice == "rescheduled":
        mail_active_registrants(seminar, notice, before=before_label, previous=previous, program_moved=bool(moved))
    elif notice is not None:
        mail_active_registrants(seminar, notice)
    if "capacity" in changed and (seminar.capacity is None or (before_capacity or 0) < seminar.capacity):
        lock_seminar(seminar.id)
        promote_waiting(seminar)
    _audit(_change_action(changed, before_status, seminar.status), seminar, by, before_facts,
           **({"program_moved": True} if moved else {}))
    return changed


def _change_action(changed: set[str], before: SeminarStatus, after: SeminarStatus) -> str:
    """The audit operation a seminar's change is filed under: its weightiest part."""
    if before is not after:
        return {SeminarStatus.PUBLISHED: "seminar.published", SeminarStatus.CANCELLED: "seminar.cancelled",
                SeminarStatus.DRAFT: "seminar.unpublished"}[after]
    return "seminar.rescheduled" if changed & WHEN_FIELDS else "seminar.updated"


def notice_for(seminar: Seminar, values: dict[str, Any]) -> str | None:
    """The notice ``update_seminar`` mails when these values are applied (the confirmation step
    asks first): a cancellation or an unpublishing (to everyone registered or waiting, whose
    calendars drop it), a new date or time of a seminar that is and stays published (to them
    too, old and new times), or a new link or status of a published one (to the registered);
    None when it mails nobody."""
    if seminar.id is None:
        return None
    status = values.get("status", seminar.status)
    differs = {name for name in values if values[name] != getattr(seminar, name)}
    if status is SeminarStatus.CANCELLED and seminar.status is not SeminarStatus.CANCELLED:
        return "cancelled_by_secretariat"
    if status is SeminarStatus.DRAFT and seminar.status is not SeminarStatus.DRAFT:
        return "unpublished"
    if differs & WHEN_FIELDS and status is SeminarStatus.PUBLISHED and seminar.status is SeminarStatus.PUBLISHED:
        return "rescheduled"
    if status is SeminarStatus.PUBLISHED and differs & SEQUENCE_FIELDS:
        return "updated"
    return None


def copy_program(source: Seminar, target: Seminar, by: Actor | None = None) -> None:
    """A past seminar's program and presenters into a new one, moved with the new start (when
    both have one; otherwise the times stay as they were and move when the start is set)."""
    offset = program_offset(source.starts_at, target.starts_at) or timedelta(0)
    for item in source.program:
        start = item.start_time
        if start is not None and offset:
            shifted = datetime.combine(date(2000, 1, 2), start) + offset
            start = shifted.time() if shifted.date() == date(2000, 1, 2) else start
        save_program_item(target, None, start_time=start, title=item.title, points=list(item.points),
                          notes=list(item.notes), within_time=False, presenters=[
                              PresenterLine(p.organization, p.department, p.person, p.point_index, p.honorific)
                              for p in item.presenters])
    _audit("seminar.copied", target, by, source=source.label(with_year=True) + " " + (source.title or ""))


def program_offset(before: datetime | None, after: datetime | None) -> timedelta | None:
    """How far a new start moves the program: the change of wall-clock start time (items are
    times on the seminar's day, so a new day alone moves nothing); None when there is none."""
    if before is None or after is None:
        return None
    old, new = to_local(before), to_local(after)
    offset = datetime.combine(date.min, new.time()) - datetime.combine(date.min, old.time())
    return offset or None


def shift_program(seminar: Seminar, before: datetime | None, after: datetime | None) -> bool:
    """Move every timed program item by the start's offset; True when something moved."""
    offset = program_offset(before, after)
    if offset is None:
        return False
    moved = False
    for item in seminar.program:
        if item.start_time is None:
            continue
        shifted = datetime.combine(date(2000, 1, 2), item.start_time) + offset
        if shifted.date() != date(2000, 1, 2):
            raise DomainError(_l("プログラムの「%(title)s」が日付をまたぐため、この時刻には移動できません。",
                                 title=item.title), field="start")
        item.start_time = shifted.time()
        moved = True
    if moved:
        seminar.updated_at = utcnow()
    return moved


def outside_time(seminar: Seminar, start_time: time | None) -> bool:
    """Whether a program item's start lies outside the seminar's time (from its start, before
    its end); a seminar without times takes any."""
    start, end = seminar.start_time, seminar.end_time
    if start_time is None or start is None:
        return False
    return start_time < start or (end is not None and start_time >= end)


def _span(seminar: Seminar) -> str:
    end = seminar.end_time
    return f"{format_time(seminar.start_time)}～{format_time(end) if end else ''}"


def check_program_in_time(seminar: Seminar, *, field: str) -> None:
    """Refuse a seminar time that leaves a program item outside it (a DomainError on ``field``)."""
    for item in seminar.program:
        if outside_time(seminar, item.start_time):
            raise DomainError(_l("プログラムの「%(title)s」（%(at)s）がセミナーの時間（%(span)s）の外になります。"
                                 "項目の時刻を先に変更してください。",
                                 title=item.title, at=format_time(item.start_time), span=_span(seminar)), field=field)


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


def _item_facts(item: ProgramItem) -> dict[str, str]:
    return {
        "start_time": format_time(item.start_time), "title": item.title,
        "points": " / ".join(item.points or []), "notes": " / ".join(item.notes or []),
        "presenters": "、".join(p.display for p in item.presenters),
    }


def _audit_item(action: str, item: ProgramItem, by: Actor | None, before: dict[str, str] | None = None) -> None:
    if by is None:
        return
    details: dict[str, Any] = {"seminar": item.seminar.title or "（テーマ未定）", "item": item.title,
                               "start_time": format_time(item.start_time)}
    if before is not None:
        after = _item_facts(item)
        details["changes"] = [[key, before[key], after[key]] for key in after if before[key] != after[key]]
    record(action, actor_id=by.user.id if by.user else None, subject=f"seminar:{item.seminar.id}", ip=by.ip,
           details=details)


def save_program_item(seminar: Seminar, item: ProgramItem | None, *, start_time: time | None,
                      title: str, points: list[str], notes: list[str],
                      presenters: list[PresenterLine], within_time: bool = True,
                      by: Actor | None = None) -> ProgramItem:
    """Add (item=None) or edit a program item; the seminar counts as changed (feeds, pages).
    A start outside the seminar's time is refused (``within_time``; the importer's files, a
    contract older than this rule, are taken as they are)."""
    if within_time and outside_time(seminar, start_time):
        raise DomainError(_l("開始時刻はセミナーの時間（%(span)s）の中にしてください。", span=_span(seminar)),
                          field="start_time")
    before = None if item is None else _item_facts(item)
    if item is None:
        item = ProgramItem(position=len(seminar.program))
        seminar.program.append(item)
    item.start_time, item.title, item.points, item.notes = start_time, title, points, notes
    item.presenters[:] = [
        Presenter(position=i, organization=p.organization, department=p.department, person=p.person,
                  point_index=p.point, honorific=p.honorific)
        for i, p in enumerate(presenters)
    ]
    seminar.updated_at = utcnow()
    if before is None:
        _audit_item("program.added", item, by)
    elif before != _item_facts(item):
        _audit_item("program.updated", item, by, before)
    return item


def move_program_item(item: ProgramItem, offset: int, by: Actor | None = None) -> None:
    items = list(item.seminar.program)
    index = items.index(item)
    target = index + offset
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
        for position, each in enumerate(items):
            each.position = position
        item.seminar.updated_at = utcnow()
        _audit_item("program.moved", item, by)


def remove_program_item(item: ProgramItem, by: Actor | None = None) -> None:
    seminar = item.seminar
    _audit_item("program.deleted", item, by)
    seminar.program.remove(item)
    for position, each in enumerate(seminar.program):
        each.position = position
    seminar.updated_at = utcnow()


# ----------------------------------------------------------------------------- attendance


def attendance_problem(seminar: Seminar) -> Any:
    """Why attendance cannot be recorded now (a lazy string), or None: it is recorded for a
    published seminar that has started (during or after it)."""
    if seminar.status is not SeminarStatus.PUBLISHED:
        return _l("出席は公開中のセミナーにだけ記録できます。")
    if seminar.phase() is SeminarPhase.UPCOMING:
        return _l("出席はセミナーの開始後に記録できます。")
    return None


def check_attendance_open(seminar: Seminar) -> None:
    problem = attendance_problem(seminar)
    if problem is not None:
        raise DomainError(problem, field="file")


def _set_attended(registration_ids: list[int], when: datetime | None) -> None:
    """One UPDATE for many rows. Not through the ORM: attendance is no calendar change, so the
    rows' updated_at (their personal feeds' Last-Modified) stays, and no feed is re-stamped."""
    if registration_ids:
        db.session.execute(
            update(Registration).where(Registration.id.in_(registration_ids))
            .values(attended_at=when, updated_at=Registration.updated_at)
            .execution_options(synchronize_session=False))


def _attendance_recorded(seminar: Seminar, now: datetime) -> None:
    # As above: the seminar's updated_at (its event's LAST-MODIFIED) does not move.
    db.session.execute(
        update(Seminar).where(Seminar.id == seminar.id)
        .values(attendance_recorded_at=now, updated_at=Seminar.updated_at)
        .execution_options(synchronize_session=False))


def _names(registrations: list[Registration]) -> str:
    return "、".join(r.user.name for r in registrations)


def record_attendance(seminar: Seminar, attended: set[int], by: Actor) -> tuple[int, int]:
    """The 出席 list saved: exactly the ticked registrations (ids of registered people) attended.
    Returns (attended, absent)."""
    check_attendance_open(seminar)
    registered = registered_for_attendance(seminar)
    if attended - {r.id for r in registered}:
        raise DomainError(_l("参加登録者ではない方が含まれています。ページを開き直してください。"))
    now = utcnow()
    marked = [r for r in registered if r.id in attended and r.attended_at is None]
    unmarked = [r for r in registered if r.id not in attended and r.attended_at is not None]
    _set_attended([r.id for r in marked], now)
    _set_attended([r.id for r in unmarked], None)
    _attendance_recorded(seminar, now)
    present = len(attended)
    details: dict[str, Any] = {k: v for k, v in (("attended", _names(marked)), ("absent", _names(unmarked))) if v}
    details["count"] = f"出席 {present}名・欠席 {len(registered) - present}名"
    _audit("attendance.recorded", seminar, by, None, **details)
    return present, len(registered) - present


class AttendanceImport:
    """What an imported report did: who was newly marked present, who already was, and the
    addresses that are no registrant of this seminar."""

    def __init__(self, marked: list[str], already: int, unknown: list[str]) -> None:
        self.marked, self.already, self.unknown = marked, already, unknown


def import_attendance(seminar: Seminar, data: bytes, filename: str, by: Actor) -> AttendanceImport:
    """A webinar's attendance report: the registered people whose address it lists (any case)
    attended. Nobody is marked absent by it (a second report adds to the first). The whole file
    is read before anything is written, and a bad one raises: nothing changes."""
    check_attendance_open(seminar)
    addresses = attendee_addresses(data)
    by_address = {r.user.email.lower(): r for r in registered_for_attendance(seminar)}
    matched = [by_address[a] for a in addresses if a in by_address]
    unknown = [a for a in addresses if a not in by_address]
    if not matched:
        raise DomainError(_l("ファイルのアドレス（%(count)s件）に、このセミナーの参加登録者は一人もいません。"
                             "別のセミナーのレポートではありませんか。", count=len(unknown)), field="file")
    new = [r for r in matched if r.attended_at is None]
    now = utcnow()
    _set_attended([r.id for r in new], now)
    _attendance_recorded(seminar, now)
    details: dict[str, Any] = {"file": filename, **({"attended": _names(new)} if new else {}),
                               "count": f"一致 {len(matched)}名・登録者以外のアドレス {len(unknown)}件"}
    _audit("attendance.imported", seminar, by, None, **details)
    return AttendanceImport([r.user.name for r in new], len(matched) - len(new), unknown)
