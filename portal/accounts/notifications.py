"""The mails accounts send: through the one outbox, in the transaction of the change."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import force_locale

from portal.accounts.models import User
from portal.mail.outbox import enqueue, secretariat_address
from portal.web.urls import external_url_for

PREFIX = "【官民連携プラットフォーム】"


def render(template: str, **context: Any) -> str:
    """Mails are Japanese whatever language the person who caused them reads the site in."""
    with force_locale("ja"):
        return render_template(template, **context)


def signup_received(user: User) -> None:
    """To the applicant, and to the secretariat who decides."""
    enqueue(user.email, f"{PREFIX}利用申請を受け付けました",
            render("mail/signup_received.txt", user=user), kind="account.signup_received")
    organization = user.organization.name if user.organization else ""
    enqueue(secretariat_address(), f"{PREFIX}利用申請: {user.name}（{organization}）",
            render("mail/signup_to_secretariat.txt", user=user), kind="account.signup_secretariat")


def approved(user: User) -> None:
    enqueue(user.email, f"{PREFIX}利用申請が承認されました",
            render("mail/account_approved.txt", user=user), kind="account.approved")


def rejected(user: User, reason: str) -> None:
    enqueue(user.email, f"{PREFIX}利用申請について",
            render("mail/account_rejected.txt", user=user, reason=reason), kind="account.rejected")


def password_reset(user: User, token: str, max_age_seconds: int) -> None:
    url = external_url_for("accounts.password_reset", token=token)
    enqueue(user.email, f"{PREFIX}パスワード再設定のご案内",
            render("mail/password_reset.txt", user=user, url=url, minutes=max_age_seconds // 60),
            kind="account.password_reset")


def password_changed(user: User) -> None:
    """To the owner: if they did not change it, they know at once (and whom to ask)."""
    url = external_url_for("accounts.password_reset_request")
    enqueue(user.email, f"{PREFIX}パスワードが変更されました",
            render("mail/password_changed.txt", user=user, url=url), kind="account.password_changed")


def enrolment_link(user: User, token: str, max_age_seconds: int) -> None:
    """To the account's own address: the link that lets it enrol a first authenticator."""
    url = external_url_for("accounts.two_factor_enrolment", token=token)
    enqueue(user.email, f"{PREFIX}二要素認証の設定用リンク",
            render("mail/totp_enrolment.txt", user=user, url=url, minutes=max_age_seconds // 60),
            kind="account.totp_enrolment")


def signup_attempted(user: User) -> None:
    """To the owner of an address someone tried to sign up with: the page said the same as for
    a new address (it reveals no account), so the owner is the one who is told."""
    enqueue(user.email, f"{PREFIX}このメールアドレスでの利用申請がありました",
            render("mail/signup_existing.txt", user=user, login_url=external_url_for("accounts.login"),
                   reset_url=external_url_for("accounts.password_reset_request")),
            kind="account.signup_existing")
