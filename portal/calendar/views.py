"""iCalendar feeds. Conditional requests are answered from the feed's version alone."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.audit.services import record
from portal.calendar import feeds, reminders, tokens
from portal.calendar.events import seminar_download as seminar_download_bytes
from portal.calendar.forms import RemindersForm
from portal.core.db import db
from portal.seminars.access import has_feed, is_visible, sees_join_link
from portal.seminars.models import Seminar, SeminarStatus
from portal.subcommittees.models import Subcommittee, SubcommitteeStatus
from portal.web.access import get_or_404, require
from portal.web.client import client_address
from portal.web.conditional import PRIVATE, SHARED, conditional
from portal.web.confirm import confirmation, is_confirmed
from portal.web.forms import ActionForm, submitted
from portal.web.uow import unit_of_work

bp = Blueprint("calendar", __name__)


def _serve(feed: feeds.Feed, *, for_everyone: bool = True) -> Response:
    """The feed's answer: 304 decided from its validator alone (one query), else its bytes.
    One that is the same for everyone with the URL may be kept by a shared cache (nginx) for a
    few seconds, when asked without a cookie; a personal feed or a draft's (the secretariat's)
    only by the client that asked."""
    validator, last_modified = feeds.validator(feed)
    shared = for_everyone and not (request.headers.get("Cookie") or request.headers.get("Authorization"))

    def build() -> Response:
        return Response(feeds.build(feed), content_type="text/calendar; charset=utf-8")

    return conditional(validator, build, last_modified=last_modified,
                       cache_control=SHARED if shared else PRIVATE)


@bp.get("/calendar.ics")
def public():
    return _serve(feeds.public_feed())


@bp.get("/seminars/<int:seminar_id>.ics")
def seminar(seminar_id: int):
    # 未定 or never public: 404; one that left the feeds answers without its event (drop it).
    seminar = get_or_404(Seminar, seminar_id, visible=has_feed)
    return _serve(feeds.seminar_feed(seminar),
                  for_everyone=seminar.status is not SeminarStatus.DRAFT or seminar.public_since is not None)


@bp.get("/seminars/<int:seminar_id>/my-calendar.ics")
@login_required
def seminar_download(seminar_id: int):
    """A registered member's copy of the seminar, with the join link (no METHOD: a plain import)."""
    seminar = get_or_404(Seminar, seminar_id, visible=is_visible)
    require(sees_join_link(current_user, seminar))
    body = seminar_download_bytes(seminar, seminar.join_url)
    if body is None:
        abort(404)  # 未定: nothing to add yet
    return Response(body, headers={
        "Content-Type": "text/calendar; charset=utf-8", "Cache-Control": "private, no-store",
        "Content-Disposition": f"attachment; filename=seminar-{seminar.id}.ics"})


@bp.get("/subcommittees/<slug>/calendar.ics")
def subcommittee(slug: str):
    sub = db.session.scalar(db.select(Subcommittee).where(Subcommittee.slug == slug))
    if sub is None or sub.status is not SubcommitteeStatus.ACTIVE:
        abort(404)
    return _serve(feeds.subcommittee_feed(sub))


@bp.get("/calendar/<token>.ics")
def personal(token: str):
    user = tokens.user_for_token(token)
    if user is None:
        abort(404)
    return _serve(feeds.personal_feed(user), for_everyone=False)


@bp.post("/account/calendar-reminders")
@login_required
def reminders_form():
    form = submitted(RemindersForm())
    with unit_of_work():
        reminders.choose(current_user, form.alarms.data or [])
    flash(_("カレンダーのリマインダー設定を保存しました。"), "success")
    return redirect(url_for("accounts.account") + "#feed")


@bp.post("/account/calendar-token")
@login_required
def regenerate_token():
    submitted(ActionForm())
    if not is_confirmed():  # the old URL stops for good: ask first
        return confirmation(
            title=_("購読用URLを再発行します"),
            message=_("新しいURLを発行します。以前のURLは使えなくなり、元に戻すことはできません。"
                      "カレンダーアプリには新しいURLを登録し直してください。"),
            action=url_for("calendar.regenerate_token"), button=_("再発行する"),
            back=url_for("accounts.account") + "#feed", mails=0)
    with unit_of_work():
        tokens.regenerate_token(current_user)
        record("calendar.token_regenerated", actor_id=current_user.id, subject=current_user.email,
               ip=client_address())
    flash(_("カレンダー購読用のURLを再発行しました。以前のURLは使えなくなりました。"), "success")
    return redirect(url_for("accounts.account"))
