"""Governance mails to the secretariat: a deletion request, the quarterly review reminder."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale

from portal.accounts.models import User
from portal.mail.models import OutboxMessage
from portal.mail.outbox import enqueue, secretariat_address
from portal.web.urls import external_url_for

PREFIX = "【官民連携プラットフォーム】"


def deletion_requested(user: User) -> None:
    url = external_url_for("secretariat.accounts.inventory", filter="deactivated")
    with force_locale("ja"):
        body = render_template("mail/deletion_requested.txt", user=user, url=url)
    enqueue(secretariat_address(), f"{PREFIX}アカウント削除の依頼: {user.name}", body,
            kind="account.deletion_requested")


def review_reminder(count: int, period: str) -> OutboxMessage:
    """Once per ``period``: the outbox's dedupe key refuses a second one (IntegrityError on flush)."""
    url = external_url_for("secretariat.accounts.inventory", filter="unreviewed")
    with force_locale("ja"):
        body = render_template("mail/inventory_review.txt", count=count, url=url)
    return enqueue(secretariat_address(), f"{PREFIX}アカウント棚卸しのお願い（{count}件）", body,
                   kind="inventory.review_reminder", dedupe_key=f"inventory-review:{period}")
