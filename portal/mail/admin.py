"""The outbox in the back office: what was sent, what waits, what was refused, and "retry now"
(nested under the secretariat's blueprint and its guard)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.mail import queries
from portal.mail.delivery import retry_now
from portal.mail.models import OutboxMessage, OutboxStatus
from portal.web.access import get_or_404
from portal.web.confirm import confirmation, is_confirmed
from portal.web.forms import ActionForm, submitted
from portal.web.lang import ja_message
from portal.web.uow import unit_of_work

bp = Blueprint("mail", __name__)


@bp.get("/outbox")
def outbox():
    status = request.args.get("status")
    chosen = OutboxStatus(status) if status in {s.value for s in OutboxStatus} else None
    return render_template(
        "secretariat/outbox.html",
        messages=queries.outbox(chosen),
        statuses=list(OutboxStatus),
        counts=queries.outbox_counts(),
        waiting=queries.waiting_too_long(),
        form=ActionForm(),
    )


@bp.get("/outbox/<int:message_id>")
def message(message_id: int):
    found = get_or_404(OutboxMessage, message_id)
    retry_due = found.status is OutboxStatus.PENDING and found.attempts > 0
    return render_template("secretariat/outbox_message.html", message=found, form=ActionForm(),
                           refused=found.status is OutboxStatus.FAILED,
                           retryable=found.status is OutboxStatus.FAILED or retry_due, retry_due=retry_due)


@bp.post("/outbox/<int:message_id>/retry")
def retry(message_id: int):
    found = get_or_404(OutboxMessage, message_id)
    submitted(ActionForm())
    if not is_confirmed():  # it mails its recipients again: ask first, saying how many
        return confirmation(
            title=_("メールを再送信します"),
            message=ja_message(_("「%(subject)s」をもう一度送ります。"), subject=found.subject),
            details=found.recipients, action=url_for(".retry", message_id=found.id), button=_("再送信する"),
            back=url_for(".message", message_id=found.id), mails=len(found.recipients), danger=False)
    done = False
    with unit_of_work() as work:
        done = retry_now(found)  # a message already sent (or being sent) is never sent twice
    if work.ok and done:
        flash(_("再送信を予約しました。"), "success")
    return redirect(url_for(".message", message_id=found.id))
