"""iCalendar feeds. Conditional requests are answered from the feed's version alone."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from portal import access
from portal.audit.services import record
from portal.calendar import services
from portal.extensions import db
from portal.seminars.models import Seminar, SeminarStatus
from portal.subcommittees.models import Subcommittee, SubcommitteeStatus

bp = Blueprint("calendar", __name__)


def _serve(feed: services.Feed, *, private: bool = False) -> Response:
    etag, last_modified, version = services.etag_and_modified(feed)
    headers = {
        "ETag": etag,
        "Last-Modified": last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Cache-Control": "private, no-cache" if private else "public, max-age=0, must-revalidate",
    }
    if _not_modified(etag, last_modified):
        return Response(status=304, headers=headers)
    built = services.build(feed, version, etag, last_modified)
    return Response(built.body, headers=headers, content_type="text/calendar; charset=utf-8")


def _not_modified(etag: str, last_modified) -> bool:
    if request.headers.get("If-None-Match"):
        # Quoted, weak (W/"…") or a list, as calendar clients send it; If-None-Match wins.
        return request.if_none_match.contains_weak(etag.strip('"'))
    since = request.if_modified_since
    return since is not None and last_modified <= since


@bp.get("/calendar.ics")
def public():
    return _serve(services.public_feed())


@bp.get("/seminars/<int:seminar_id>.ics")
def seminar(seminar_id: int):
    seminar = access.get_or_404(Seminar, seminar_id)
    if seminar.status is SeminarStatus.DRAFT and not access.can("view_draft"):
        abort(404)
    if seminar.window is None:
        abort(404)  # 未定: on the schedule, in no feed
    return _serve(services.seminar_feed(seminar))


@bp.get("/subcommittees/<slug>/calendar.ics")
def subcommittee(slug: str):
    sub = db.session.scalar(db.select(Subcommittee).where(Subcommittee.slug == slug))
    if sub is None or sub.status is not SubcommitteeStatus.ACTIVE:
        abort(404)
    return _serve(services.subcommittee_feed(sub))


@bp.get("/calendar/<token>.ics")
def personal(token: str):
    user = services.user_for_token(token)
    if user is None:
        abort(404)
    return _serve(services.personal_feed(user), private=True)


@bp.post("/account/calendar-token")
@login_required
def regenerate_token():
    if not FlaskForm().validate_on_submit():
        abort(400)
    services.regenerate_token(current_user)
    record("calendar.token_regenerated", actor_id=current_user.id, subject=current_user.email,
           ip=request.remote_addr)
    db.session.commit()
    flash("カレンダー購読用のURLを再発行しました。以前のURLは使えなくなりました。", "success")
    return redirect(url_for("accounts.account"))
