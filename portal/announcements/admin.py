"""Back office: compose a seminar's 開催案内, preview it with the number of people it will mail,
test-send it to oneself, then send it now or at a set time (/secretariat/seminars/<id>/announcement)."""

from __future__ import annotations

from datetime import time

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from portal.announcements import notifications, operations, queries
from portal.announcements.forms import AnnouncementForm
from portal.announcements.models import Segment
from portal.core.dates import local_datetime
from portal.seminars.models import Seminar
from portal.subcommittees.queries import open_subcommittees
from portal.web.access import get_or_404
from portal.web.lang import ja_choice
from portal.web.uow import unit_of_work

bp = Blueprint("announcements", __name__)


@bp.route("/seminars/<int:seminar_id>/announcement", methods=["GET", "POST"])
def compose(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    form = AnnouncementForm()
    form.subcommittee.choices = [("", "—", {})] + [ja_choice(str(s.id), s.name) for s in open_subcommittees()]
    if request.method == "GET":
        form.subject.data = notifications.default_subject(seminar)
        form.body.data = notifications.default_body(seminar)
    action = request.form.get("action", "preview")
    preview = count = None
    if form.validate_on_submit():
        segment = Segment(form.segment.data)
        subject, body = form.subject.data or "", form.body.data or ""
        sub_id = int(form.subcommittee.data) if form.subcommittee.data else None
        # A day without a time means 9:00 that day (Japan time); no day means now.
        at = time.fromisoformat(form.send_time.data.zfill(5)) if form.send_time.data else time(9)
        send_at = local_datetime(form.send_day.data, at) if form.send_day.data else None
        if action == "test":
            with unit_of_work(form) as work:
                operations.test_send(seminar, current_user, subject=subject, body=body)
            if work.ok:
                flash(_("テスト送信しました（%(email)s）。", email=current_user.email), "success")
        elif action == "send":
            typed = form.expected.data or ""
            expected = int(typed) if typed.isdigit() and len(typed) < 9 else -1
            with unit_of_work(form) as work:
                announcement = operations.announce(
                    seminar, current_user, segment=segment, subcommittee_id=sub_id, subject=subject,
                    body=body, send_at=send_at, expected=expected)
            if work.ok:
                if announcement.sent_at is None:
                    flash(_("開催案内を予約しました（%(count)s人、%(when)s）。", count=expected,
                            when=announcement.send_at and format_when(announcement.send_at)), "success")
                else:
                    flash(_("開催案内を%(count)s人に送信しました。", count=expected), "success")
                return redirect(url_for("secretariat.seminars.manage", seminar_id=seminar.id))
        problem = operations.segment_problem(seminar, segment)
        if problem is not None:
            if str(problem) not in form.segment.errors:  # a refused send has said so already
                form.segment.errors = [*form.segment.errors, str(problem)]
        else:
            users = queries.recipients(seminar, segment, sub_id)
            count = len(users)
            form.expected.data = str(count)
            preview = notifications.preview(subject, body, current_user)
    status = 422 if form.errors else 200
    # No-shows are offered only once there are some to speak of (else the page says why).
    no_shows = operations.segment_problem(seminar, Segment.NO_SHOWS)
    return render_template("announcements/compose.html", seminar=seminar, form=form, preview=preview,
                           count=count, history=queries.of_seminar(seminar), no_shows_problem=no_shows), status


def format_when(value) -> str:
    from portal.core.dates import format_day, format_time, to_local

    local = to_local(value)
    return f"{format_day(local.date())} {format_time(local.time())}"
