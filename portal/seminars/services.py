"""Seminar rules: what is visible to whom, the annual schedule, the JSON view."""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import render_template
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.models import User
from portal.core.csv import to_csv
from portal.core.dates import Precision, fiscal_year, format_day, format_time, local_datetime, to_local, today_local
from portal.core.db import assign, db, utcnow
from portal.mail.services import enqueue
from portal.materials.models import Material
from portal.seminars.models import (
    Presenter,
    ProgramItem,
    Registration,
    RegistrationState,
    Seminar,
    SeminarSeries,
    SeminarStatus,
)
from portal.web.urls import external_url

PUBLIC_STATUSES = (SeminarStatus.PUBLISHED, SeminarStatus.CANCELLED)


def visible_statuses(include_drafts: bool) -> tuple[SeminarStatus, ...]:
    return tuple(SeminarStatus) if include_drafts else PUBLIC_STATUSES


def fiscal_years(include_drafts: bool = False) -> list[int]:
    """Fiscal years that have at least one visible seminar, newest first."""
    return list(
        db.session.scalars(
            select(SeminarSeries.fiscal_year)
            .join(Seminar)
            .where(Seminar.status.in_(visible_statuses(include_drafts)))
            .distinct()
            .order_by(SeminarSeries.fiscal_year.desc())
        )
    )


def default_fiscal_year(years: list[int]) -> int:
    """The current fiscal year, else the latest that has seminars."""
    current = fiscal_year(today_local())
    if current in years or not years:
        return current
    return max(years)


@dataclass
class Schedule:
    fiscal_year: int
    years: list[int]
    series: list[SeminarSeries]
    seminars: list[Seminar]

    @property
    def tentative(self) -> bool:
        """The 'dates and content may change' notice is shown when anything is tentative."""
        return any(s.is_tentative for s in self.seminars if s.status is not SeminarStatus.CANCELLED)


def schedule(fy: int | None, include_drafts: bool = False) -> Schedule:
    years = fiscal_years(include_drafts)
    fy = fy if fy is not None else default_fiscal_year(years)
    seminars = list(
        db.session.scalars(
            select(Seminar)
            .join(SeminarSeries)
            .where(SeminarSeries.fiscal_year == fy, Seminar.status.in_(visible_statuses(include_drafts)))
            .options(contains_eager(Seminar.series))  # the series from the join above: no second query
            .order_by(SeminarSeries.name, Seminar.number, Seminar.date_on, Seminar.id)
        )
    )
    series = list(dict.fromkeys(s.series for s in seminars))
    return Schedule(fy, years, series, seminars)


def upcoming(limit: int = 5) -> list[Seminar]:
    """Published seminars from today on (imprecise ones by their month), soonest first."""
    today = today_local()
    candidates = db.session.scalars(
        select(Seminar)
        .where(
            Seminar.status == SeminarStatus.PUBLISHED,
            Seminar.date_on.is_not(None),
            Seminar.date_on >= today.replace(day=1),
        )
        .options(selectinload(Seminar.series))
        .order_by(Seminar.date_on, Seminar.starts_at)
        .limit(limit * 2)
    )
    return [s for s in candidates if s.window and s.window[1] > today][:limit]


def get_for_page(seminar_id: int) -> Seminar | None:
    """One seminar with its program and presenters in one query, and its materials in a second."""
    seminar = db.session.scalars(
        select(Seminar)
        .where(Seminar.id == seminar_id)
        .options(
            # A program is a handful of rows: joining them costs less than a round trip each.
            joinedload(Seminar.series),
            joinedload(Seminar.program).joinedload(ProgramItem.presenters),
        )
    ).unique().first()
    if seminar is not None:
        # Not joined: rows would multiply with presenters. Not selectinload either: its own
        # work costs more than this query (about 1 ms of a 4 ms page here).
        materials = db.session.scalars(select(Material).where(Material.seminar_id == seminar.id).order_by(Material.id))
        set_committed_value(seminar, "materials", list(materials))
    return seminar


def registration_counts(seminar: Seminar) -> dict[RegistrationState, int]:
    rows = db.session.execute(
        select(Registration.state, func.count())
        .where(Registration.seminar_id == seminar.id)
        .group_by(Registration.state)
    )
    return {state: count for state, count in rows}


def registration_of(seminar: Seminar, user: Any) -> Registration | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        select(Registration).where(
            Registration.seminar_id == seminar.id, Registration.user_id == user.id
        )
    )


def api_list() -> list[dict[str, Any]]:
    """The public JSON list: published and cancelled seminars."""
    seminars = db.session.scalars(
        select(Seminar)
        .where(Seminar.status.in_(PUBLIC_STATUSES))
        .options(selectinload(Seminar.series))
        .join(SeminarSeries)
        .order_by(SeminarSeries.fiscal_year, Seminar.number, Seminar.id)
    )
    return [
        {
            "id": s.id,
            "key": s.key,
            "title": s.title,
            "number": s.number,
            "fiscal_year": s.fiscal_year,
            "start": to_local(s.starts_at).isoformat() if s.starts_at else None,
            "end": to_local(s.ends_at).isoformat() if s.ends_at else None,
            "date_label": s.label(),
            "status": s.status.value,
            "url": external_url(f"/seminars/{s.id}"),
            "ics_url": external_url(f"/seminars/{s.id}.ics"),
        }
        for s in seminars
    ]


# --------------------------------------------------------------------------- registration


class RegistrationRefused(Exception):
    """Registration is not possible; the message says why, in the person's words."""


def lock_seminar(seminar_id: int) -> None:
    """Serialize registrations for one seminar until the transaction ends.

    An UPDATE that changes nothing takes PostgreSQL's row lock and SQLite's write lock alike,
    so the capacity check that follows sees every committed registration and no one else's
    in-flight one. It must be the transaction's first write. Setting ``updated_at`` to itself
    keeps the column's on-update default (the seminar's real last change) untouched.
    """
    db.session.execute(
        update(Seminar)
        .where(Seminar.id == seminar_id)
        .values(updated_at=Seminar.updated_at)
        .execution_options(synchronize_session=False)
    )


def registration_problem(seminar: Seminar, now: datetime | None = None) -> str | None:
    """Why registration is closed right now (a lazy string: shown in the reader's language), or None
    when it is open."""
    now = now or utcnow()
    if seminar.status is SeminarStatus.CANCELLED:
        return _l("このセミナーは中止になりました。")
    if seminar.status is not SeminarStatus.PUBLISHED:
        return _l("このセミナーはまだ公開されていません。")
    if seminar.is_past:
        return _l("このセミナーは終了しました。")
    if not seminar.registration_open:
        return _l("このセミナーの参加申込は受け付けていません。")
    if seminar.registration_opens_at and now < seminar.registration_opens_at:
        return _l("参加申込の受付は %(when)s からです。", when=format_instant(seminar.registration_opens_at))
    if seminar.registration_closes_at and now >= seminar.registration_closes_at:
        return _l("参加申込の受付は %(when)s に締め切りました。", when=format_instant(seminar.registration_closes_at))
    return None


def format_instant(value: datetime) -> str:
    """The day and time in the reader's language (Japanese outside a request)."""
    local = to_local(value)
    locale = get_locale()
    lang = "en" if locale is not None and locale.language == "en" else "ja"
    return f"{format_day(local.date(), locale=lang)} {format_time(local.time())}"


def _count(seminar_id: int, state: RegistrationState) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Registration).where(
            Registration.seminar_id == seminar_id, Registration.state == state
        )
    ) or 0


def register(seminar_id: int, user: User, now: datetime | None = None) -> Registration:
    """Register, or join the waitlist when full. Registering twice changes nothing.

    The caller commits; the confirmation mail is in the same transaction.
    """
    lock_seminar(seminar_id)
    seminar = db.session.get(Seminar, seminar_id, populate_existing=True)
    if seminar is None:
        raise RegistrationRefused(_l("セミナーが見つかりません。"))
    existing = registration_of(seminar, user)
    if existing is not None and existing.state is not RegistrationState.CANCELLED:
        return existing
    problem = registration_problem(seminar, now)
    if problem:
        raise RegistrationRefused(problem)
    full = seminar.capacity is not None and _count(seminar.id, RegistrationState.REGISTERED) >= seminar.capacity
    state = RegistrationState.WAITING if full else RegistrationState.REGISTERED
    if existing is None:
        existing = Registration(seminar=seminar, user_id=user.id, state=state, queued_at=utcnow())
        db.session.add(existing)
    else:
        existing.state, existing.queued_at, existing.reminded_at = state, utcnow(), None
    db.session.flush()
    _mail_registration(existing, user, "registered" if state is RegistrationState.REGISTERED else "waiting")
    return existing


def cancel(seminar_id: int, user: User) -> Registration | None:
    """Cancel a registration or leave the waitlist; a freed place goes to the first waiting."""
    lock_seminar(seminar_id)
    seminar = db.session.get(Seminar, seminar_id, populate_existing=True)
    registration = registration_of(seminar, user) if seminar else None
    if registration is None or registration.state is RegistrationState.CANCELLED:
        return registration
    was_registered = registration.state is RegistrationState.REGISTERED
    registration.state = RegistrationState.CANCELLED
    db.session.flush()
    _mail_registration(registration, user, "cancelled")
    if was_registered:
        promote_waiting(seminar)
    return registration


def promote_waiting(seminar: Seminar) -> list[Registration]:
    """Fill free places from the waitlist, first come first served; each promoted is mailed.

    The caller holds the seminar's lock (``lock_seminar``).
    """
    if seminar.status is not SeminarStatus.PUBLISHED or seminar.is_past:
        return []
    registered = _count(seminar.id, RegistrationState.REGISTERED)
    free = None if seminar.capacity is None else seminar.capacity - registered
    if free is not None and free <= 0:
        return []
    query = (
        select(Registration)
        .where(Registration.seminar_id == seminar.id, Registration.state == RegistrationState.WAITING)
        .order_by(Registration.queued_at, Registration.id)
        .options(selectinload(Registration.user))
    )
    if free is not None:
        query = query.limit(free)
    promoted = list(db.session.scalars(query))
    for registration in promoted:
        registration.state = RegistrationState.REGISTERED
        _mail_registration(registration, registration.user, "promoted")
    db.session.flush()
    return promoted


MAIL_SUBJECTS = {
    "registered": "【官民連携プラットフォーム】参加登録のお知らせ",
    "waiting": "【官民連携プラットフォーム】キャンセル待ち登録のお知らせ",
    "promoted": "【官民連携プラットフォーム】キャンセル待ちから参加登録になりました",
    "cancelled": "【官民連携プラットフォーム】参加登録の取消のお知らせ",
    "reminder": "【官民連携プラットフォーム】明日のセミナーのご案内",
}


def _mail_registration(registration: Registration, user: User, event: str) -> None:
    """One template for every registration mail; the join link only for registered people.

    A confirmation of a place carries the seminar as an .ics file (the feeds' own builder).
    """
    from portal.calendar.events import ics_attachment

    seminar = registration.seminar
    join_url = seminar.join_url if registration.state is RegistrationState.REGISTERED else None
    attachment = ics_attachment(seminar, join_url) if event in ("registered", "promoted") else None
    enqueue(
        user.email,
        f"{MAIL_SUBJECTS[event]}：{seminar_title(seminar)}",
        render_template(
            "mail/registration.txt",
            event=event,
            user=user,
            seminar=seminar,
            join_url=join_url,
            url=external_url(f"/seminars/{seminar.id}"),
        ),
        kind=f"registration.{event}",
        attachments=[attachment] if attachment else None,
    )


def seminar_title(seminar: Seminar) -> str:
    number = f"第{seminar.number}回 " if seminar.number else ""
    return f"{number}{seminar.title or seminar.series.name}"


def my_registrations(user: User) -> list[Registration]:
    return list(
        db.session.scalars(
            select(Registration)
            .join(Seminar)
            .where(Registration.user_id == user.id, Registration.state != RegistrationState.CANCELLED)
            .options(selectinload(Registration.seminar).selectinload(Seminar.series))
            .order_by(Seminar.date_on.desc(), Seminar.starts_at.desc())
        )
    )


def send_reminders(now: datetime | None = None) -> int:
    """Mail registered people the day before their seminar; each registration once.

    Safe to run every few minutes: a registration is claimed by a conditional UPDATE of
    ``reminded_at`` in the same transaction as its mail.
    """
    now = now or utcnow()
    tomorrow = to_local(now).date() + timedelta(days=1)
    candidates = db.session.execute(
        select(Registration.id)
        .join(Seminar)
        .where(
            Registration.state == RegistrationState.REGISTERED,
            Registration.reminded_at.is_(None),
            Seminar.status == SeminarStatus.PUBLISHED,
            Seminar.precision == Precision.DAY,
            Seminar.date_on == tomorrow,
        )
    ).scalars().all()
    sent = 0
    for registration_id in candidates:
        claimed = db.session.execute(
            update(Registration)
            .where(Registration.id == registration_id, Registration.reminded_at.is_(None))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            registration = db.session.get(Registration, registration_id)
            _mail_registration(registration, registration.user, "reminder")
            sent += 1
        db.session.commit()
    return sent


# --------------------------------------------------------------------------- back office

# A change of these makes calendar apps re-read the event (iCalendar SEQUENCE).
SEQUENCE_FIELDS = {"date_on", "precision", "starts_at", "ends_at", "status", "join_url"}
WHEN_FIELDS = {"date_on", "precision", "starts_at", "ends_at"}


def update_seminar(seminar: Seminar, values: dict[str, Any]) -> set[str]:
    """Apply changes to a seminar, and what follows from them, in the caller's transaction.

    A new date or time of a published seminar is mailed to everyone registered or waiting,
    with what changed; cancelling mails them too; more places promote from the waitlist.
    Import and back office both come through here.
    """
    before_label = seminar.label(with_year=True)
    before_status = seminar.status
    before_capacity = seminar.capacity
    changed = assign(seminar, values)
    if not changed:
        return changed
    if changed & SEQUENCE_FIELDS:
        seminar.sequence += 1
    seminar.updated_at = utcnow()
    if seminar.id is None:
        return changed
    if seminar.status is SeminarStatus.CANCELLED and before_status is not SeminarStatus.CANCELLED:
        _mail_active_registrants(seminar, "cancelled_by_secretariat")
    elif (
        changed & WHEN_FIELDS
        and seminar.status is SeminarStatus.PUBLISHED
        and before_status is SeminarStatus.PUBLISHED
    ):
        _mail_active_registrants(seminar, "rescheduled", before=before_label)
    if "capacity" in changed and (seminar.capacity is None or (before_capacity or 0) < seminar.capacity):
        lock_seminar(seminar.id)
        promote_waiting(seminar)
    return changed


def active_registrations(seminar: Seminar) -> list[Registration]:
    return list(
        db.session.scalars(
            select(Registration)
            .where(Registration.seminar_id == seminar.id, Registration.state != RegistrationState.CANCELLED)
            .options(selectinload(Registration.user).selectinload(User.organization))
            .order_by(Registration.state, Registration.queued_at, Registration.id)
        )
    )


NOTICE_SUBJECTS = {
    "cancelled_by_secretariat": "【官民連携プラットフォーム】セミナー中止のお知らせ",
    "rescheduled": "【官民連携プラットフォーム】セミナー日時変更のお知らせ",
}


def _mail_active_registrants(seminar: Seminar, event: str, before: str | None = None) -> None:
    for registration in active_registrations(seminar):
        enqueue(
            registration.user.email,
            f"{NOTICE_SUBJECTS[event]}：{seminar_title(seminar)}",
            render_template(
                "mail/seminar_notice.txt", event=event, user=registration.user, seminar=seminar,
                before=before, url=external_url(f"/seminars/{seminar.id}"),
                join_url=seminar.join_url if registration.state is RegistrationState.REGISTERED else None,
            ),
            kind=f"seminar.{event}",
        )


def mail_registrants(seminar: Seminar, subject: str, body: str) -> int:
    """The secretariat writes to everyone registered (not waiting); one message each."""
    count = 0
    for registration in active_registrations(seminar):
        if registration.state is RegistrationState.REGISTERED:
            enqueue(registration.user.email, subject, body, kind="seminar.announcement")
            count += 1
    return count


def next_number(series: SeminarSeries) -> int:
    return (db.session.scalar(select(func.max(Seminar.number)).where(Seminar.series_id == series.id)) or 0) + 1


def new_key(series: SeminarSeries, number: int) -> str:
    base = f"fy{series.fiscal_year}-{series.id}-{number}"
    key, n = base, 1
    while db.session.scalar(select(Seminar.id).where(Seminar.key == key)) is not None:
        n += 1
        key = f"{base}-{n}"
    return key


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


def update_series(series: SeminarSeries, *, name: str, fiscal_year: int, description: str | None) -> None:
    """Edit a series. Its name is in every seminar's calendar event (CATEGORIES, DESCRIPTION), so
    a new name or year makes its seminars count as changed (feeds, pages)."""
    if (series.name, series.fiscal_year) != (name, fiscal_year):
        now = utcnow()
        for seminar in series.seminars:
            seminar.updated_at = now
    series.name, series.fiscal_year, series.description = name, fiscal_year, description


@dataclass
class PresenterLine:
    organization: str
    department: str | None = None
    person: str | None = None
    point: int | None = None  # index of the point (内容) they present; None: the whole item


# "2: 総務省 / …" presents the item's second point (full-width digits and colon too).
# One or two digits: an organization such as "2030：未来会議" is not a point number.
_POINT_PREFIX = re.compile(r"\s*([0-9０-９]{1,2})\s*[:：]\s*")


def parse_presenters(text: str) -> list[PresenterLine]:
    """One presenter a line: [項目番号:] 組織 / 部署 / 氏名 (all but the organization optional)."""
    result = []
    for line in (text or "").splitlines():
        point = None
        prefix = _POINT_PREFIX.match(line)
        if prefix:
            point = int(unicodedata.normalize("NFKC", prefix.group(1))) - 1
            line = line[prefix.end():]
        parts = [p.strip() for p in line.replace("／", "/").split("/")]
        if not parts[0]:
            continue
        parts += [None] * (3 - len(parts))
        result.append(PresenterLine(parts[0], parts[1] or None, parts[2] or None, point))
    return result


def presenters_text(item: ProgramItem) -> str:
    """The presenters as the form edits them: what ``parse_presenters`` reads back unchanged."""
    def line(x: Presenter) -> str:
        parts = [x.organization, x.department or "", x.person or ""]
        while parts[-1] == "":  # a person without a department keeps its empty slot: "組織 /  / 氏名"
            parts.pop()
        return ("" if x.point_index is None else f"{x.point_index + 1}: ") + " / ".join(parts)

    return "\n".join(line(x) for x in item.presenters)


def lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


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


def counts_by_organization_kind(registrations: list[Registration]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in registrations:
        if r.state is RegistrationState.REGISTERED:
            kind = r.user.organization.kind.value if r.user.organization else "other"
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def registrants_csv(seminar: Seminar) -> bytes:
    kinds = {"municipality": "自治体", "ministry": "府省庁", "company": "企業", "university": "大学・研究機関", "other": "その他"}
    states = {"registered": "参加登録", "waiting": "キャンセル待ち"}
    rows = []
    for r in active_registrations(seminar):
        org = r.user.organization
        rows.append([
            states[r.state.value], r.user.name, r.user.email, org.name if org else "",
            kinds[org.kind.value] if org else "", "会員" if org and org.membership.value == "member" else "オブザーバー",
            to_local(r.queued_at).strftime("%Y-%m-%d %H:%M"),
        ])
    return to_csv(["状態", "氏名", "メールアドレス", "所属団体", "団体種別", "会員区分", "申込日時"], rows)
