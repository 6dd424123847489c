"""Mails about seminars, all through the one outbox (``portal.mail.outbox.enqueue``), so they
commit or roll back with the change that caused them."""

from __future__ import annotations

from flask import render_template

from portal.accounts.models import User
from portal.mail.outbox import enqueue
from portal.seminars.models import Registration, RegistrationState, Seminar
from portal.seminars.queries import active_registrations
from portal.web.urls import external_url_for

MAIL_SUBJECTS = {
    "registered": "【官民連携プラットフォーム】参加登録のお知らせ",
    "waiting": "【官民連携プラットフォーム】キャンセル待ち登録のお知らせ",
    "promoted": "【官民連携プラットフォーム】キャンセル待ちから参加登録になりました",
    "cancelled": "【官民連携プラットフォーム】参加登録の取消のお知らせ",
    "reminder": "【官民連携プラットフォーム】明日のセミナーのご案内",
}
NOTICE_SUBJECTS = {
    "cancelled_by_secretariat": "【官民連携プラットフォーム】セミナー中止のお知らせ",
    "rescheduled": "【官民連携プラットフォーム】セミナー日時変更のお知らせ",
}


def seminar_title(seminar: Seminar) -> str:
    """How a mail's subject names a seminar: 第2回 テーマ (the series' name while 予定)."""
    number = f"第{seminar.number}回 " if seminar.number else ""
    return f"{number}{seminar.title or seminar.series.name}"


def mail_registration(registration: Registration, user: User, event: str) -> None:
    """One template for every registration mail; the join link only for registered people.

    A confirmation of a place carries the seminar as an .ics file (the feeds' own builder).
    """
    from portal.calendar.events import ics_attachment  # the calendar builds on seminars

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
            url=external_url_for("seminars.detail", seminar_id=seminar.id),
        ),
        kind=f"registration.{event}",
        attachments=[attachment] if attachment else None,
    )


def mail_active_registrants(seminar: Seminar, event: str, before: str | None = None,
                            program_moved: bool = False) -> None:
    """Tell everyone registered or waiting that the seminar was cancelled or moved (the old and
    new times; whether the program moved with it)."""
    for registration in active_registrations(seminar):
        enqueue(
            registration.user.email,
            f"{NOTICE_SUBJECTS[event]}：{seminar_title(seminar)}",
            render_template(
                "mail/seminar_notice.txt", event=event, user=registration.user, seminar=seminar,
                before=before, program_moved=program_moved,
                url=external_url_for("seminars.detail", seminar_id=seminar.id),
                join_url=seminar.join_url if registration.state is RegistrationState.REGISTERED else None,
            ),
            kind=f"seminar.{event}",
        )


def registrants_to_mail(seminar: Seminar) -> int:
    """How many people ``mail_registrants`` writes to (the confirmation step says it)."""
    return sum(r.state is RegistrationState.REGISTERED for r in active_registrations(seminar))


def mail_test(address: str, subject: str, body: str) -> None:
    """The secretariat's test send of a bulk mail to itself, marked as a test."""
    enqueue(address, f"［テスト送信］{subject}", body, kind="seminar.announcement_test")


def mail_registrants(seminar: Seminar, subject: str, body: str) -> int:
    """The secretariat writes to everyone registered (not waiting); one message each."""
    count = 0
    for registration in active_registrations(seminar):
        if registration.state is RegistrationState.REGISTERED:
            enqueue(registration.user.email, subject, body, kind="seminar.announcement")
            count += 1
    return count
