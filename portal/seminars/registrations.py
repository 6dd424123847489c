"""Registering, cancelling and the waitlist, serialized per seminar by ``lock_seminar``.

Operations: they raise ``DomainError`` and never commit (the view's unit of work does); the
mail each one sends is in the same transaction (the outbox).
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.core.dates import format_day, format_time, to_local
from portal.core.db import db, utcnow
from portal.core.errors import DomainError
from portal.seminars.models import Registration, RegistrationState, Seminar, SeminarStatus
from portal.seminars.notifications import mail_registration
from portal.seminars.queries import count_in_state, registration_of


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
        return _l("参加申込の受付は %(when)s からです。", when=_format_instant(seminar.registration_opens_at))
    if seminar.registration_closes_at and now >= seminar.registration_closes_at:
        return _l("参加申込の受付は %(when)s に締め切りました。", when=_format_instant(seminar.registration_closes_at))
    return None


def _format_instant(value: datetime) -> str:
    """The day and time in the reader's language (Japanese outside a request)."""
    local = to_local(value)
    locale = get_locale()
    lang = "en" if locale is not None and locale.language == "en" else "ja"
    return f"{format_day(local.date(), locale=lang)} {format_time(local.time())}"


def register(seminar_id: int, user: User, now: datetime | None = None) -> Registration:
    """Register, or join the waitlist when full. Registering twice changes nothing."""
    lock_seminar(seminar_id)
    seminar = db.session.get(Seminar, seminar_id, populate_existing=True)
    if seminar is None:
        raise DomainError(_l("セミナーが見つかりません。"))
    existing = registration_of(seminar, user)
    if existing is not None and existing.state is not RegistrationState.CANCELLED:
        return existing
    problem = registration_problem(seminar, now)
    if problem:
        raise DomainError(problem)
    full = seminar.capacity is not None and count_in_state(seminar.id, RegistrationState.REGISTERED) >= seminar.capacity
    state = RegistrationState.WAITING if full else RegistrationState.REGISTERED
    if existing is None:
        existing = Registration(seminar=seminar, user_id=user.id, state=state, queued_at=utcnow())
        db.session.add(existing)
    else:
        existing.state, existing.queued_at, existing.reminded_at = state, utcnow(), None
    db.session.flush()
    mail_registration(existing, user, "registered" if state is RegistrationState.REGISTERED else "waiting")
    return existing


def cancel(seminar_id: int, user: User) -> Registration | None:
    """Cancel a registration or leave the waitlist; a freed place goes to the first waiting."""
    lock_seminar(seminar_id)
    seminar = db.session.get(Seminar, seminar_id, populate_existing=True)
    registration = registration_of(seminar, user) if seminar else None
    if seminar is None or registration is None or registration.state is RegistrationState.CANCELLED:
        return registration
    was_registered = registration.state is RegistrationState.REGISTERED
    registration.state = RegistrationState.CANCELLED
    db.session.flush()
    mail_registration(registration, user, "cancelled", was_registered=was_registered)
    if was_registered:
        promote_waiting(seminar)
    return registration


def promote_waiting(seminar: Seminar) -> list[Registration]:
    """Fill free places from the waitlist, first come first served; each promoted is mailed.

    The caller holds the seminar's lock (``lock_seminar``).
    """
    if seminar.status is not SeminarStatus.PUBLISHED or seminar.is_past:
        return []
    registered = count_in_state(seminar.id, RegistrationState.REGISTERED)
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
        mail_registration(registration, registration.user, "promoted")
    db.session.flush()
    return promoted
