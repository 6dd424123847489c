"""The announcement mail: one message per recipient (each has its own unsubscribe link), with
RFC 2369/8058 List-Unsubscribe and List-Unsubscribe-Post headers, through the one outbox."""

from __future__ import annotations

from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer

from portal.accounts.models import User
from portal.announcements.models import Announcement
from portal.mail.outbox import enqueue
from portal.seminars.models import Seminar
from portal.web.urls import external_url_for

SALT = "announcements.unsubscribe"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def unsubscribe_token(user: User) -> str:
    """A capability to unsubscribe this account (and nothing else); it never expires, as the
    links in mails already sent must keep working."""
    return _serializer().dumps(user.id)


def user_id_of(token: str) -> int | None:
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def default_subject(seminar: Seminar) -> str:
    return f"【官民連携プラットフォーム】開催案内：{seminar.series.name} 第{seminar.number}回"


def default_body(seminar: Seminar) -> str:
    return render_template("mail/announcement_default.txt", seminar=seminar,
                           when=seminar.label(with_year=True),
                           url=external_url_for("seminars.detail", seminar_id=seminar.id))


def full_body(body: str, user: User) -> tuple[str, str]:
    """The body as mailed to this account (with its unsubscribe link), and that link."""
    url = external_url_for("announcements.unsubscribe", token=unsubscribe_token(user))
    return render_template("mail/announcement.txt", body=body, user=user, unsubscribe_url=url,
                           account_url=external_url_for("accounts.account")), url


def preview(subject: str, body: str, user: User) -> dict[str, str]:
    text, _ = full_body(body, user)
    return {"subject": subject, "body": text}


def mail_announcement(subject: str, body: str, user: User, *, kind: str = "announcement") -> None:
    text, url = full_body(body, user)
    enqueue(
        user.email, subject, text,
        kind=kind,
        headers={"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def send(announcement: Announcement, users: list[User]) -> None:
    for user in users:
        mail_announcement(announcement.subject, announcement.body, user)


