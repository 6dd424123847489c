"""Mails about seminars, all through the one outbox (``portal.mail.outbox.enqueue``), so they
commit or roll back with the change that caused them."""

from __future__ import annotations

from typing import Any

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
    "unpublished": "【官民連携プラットフォーム】セミナー掲載取りやめのお知らせ",
    "updated": "【官民連携プラットフォーム】セミナー情報更新のお知らせ",
}
# The iMIP method each mail carries to a registered account (RFC 6047); none for the waitlist.
MAIL_METHODS = {"registered": "REQUEST", "promoted": "REQUEST", "reminder": "REQUEST", "cancelled": "CANCEL"}
NOTICE_METHODS = {"cancelled_by_secretariat": "CANCEL", "unpublished": "CANCEL", "rescheduled": "REQUEST",
                  "updated": "REQUEST"}


def _invitation(seminar: Seminar, user: User, method: str | None, previous: Any = None, *,
                whole: bool = True) -> list[dict] | None:
    from portal.calendar.events import seminar_invitation  # the calendar builds on seminars

    part = seminar_invitation(seminar, user, method, previous, whole=whole) if method else None
    return [part] if part else None


def seminar_title(seminar: Seminar) -> str:
    """How a mail's subject names a seminar: 第2回 テーマ (the series' name while 予定)."""
    number = f"第{seminar.number}回 " if seminar.number else ""
    return f"{number}{seminar.title or seminar.series.name}"


def mail_registration(registration: Registration, user: User, event: str, *, was_registered: bool = False) -> None:
    """One template for every registration mail; the join link only for registered people.

    A place (registered, promoted, the reminder) carries the seminar as an iMIP REQUEST, a
    cancelled place (``was_registered``) a CANCEL; the waitlist gets no invitation.
    """
    seminar = registration.seminar
    join_url = seminar.join_url if registration.state is RegistrationState.REGISTERED else None
    method = MAIL_METHODS.get(event)
    if registration.state is not RegistrationState.REGISTERED and not (event == "cancelled" and was_registered):
        method = None
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
        # A cancelled registration takes only this attendee off; the seminar goes on.
        attachments=_invitation(seminar, user, method, whole=event != "cancelled"),
    )


def notice_recipients(seminar: Seminar, event: str) -> list[Registration]:
    """Who a notice goes to (the confirmation step counts them): everyone registered or waiting,
    but a new link or status only to the registered (nothing the waitlist must act on)."""
    return [r for r in active_registrations(seminar)
            if event != "updated" or r.state is RegistrationState.REGISTERED]


def mail_active_registrants(seminar: Seminar, event: str, before: str | None = None, previous: Any = None,
                            program_moved: bool = False) -> None:
    """Tell everyone registered or waiting that the seminar was cancelled, unpublished or moved
    (the old and new times; whether the program moved with it), and those registered that its
    link or status changed, with the event as it is now."""
    for registration in notice_recipients(seminar, event):
        registered = registration.state is RegistrationState.REGISTERED
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
            attachments=_invitation(seminar, registration.user, NOTICE_METHODS[event] if registered else None,
                                    previous),
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
