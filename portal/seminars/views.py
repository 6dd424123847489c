"""Public seminar pages: the annual schedule, one seminar, the JSON list."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal import access
from portal.core.dates import next_local_midnight, year_ok
from portal.core.db import db, utcnow
from portal.qa import access as qa_access
from portal.qa import queries as qa_queries
from portal.seminars import services
from portal.seminars.forms import RegistrationForm
from portal.seminars.models import RegistrationState, SeminarStatus
from portal.web import answers
from portal.web.reads import read_only

bp = Blueprint("seminars", __name__)


@bp.get("/seminars")
@read_only
def schedule():
    generation = answers.anonymous_generation()  # before the reads: a change racing them counts
    now = utcnow()  # before the default year is chosen from today
    data = services.schedule(requested_fiscal_year(), include_drafts=access.can("view_draft"))
    # The default year is today's: a stored schedule is good until midnight at the latest.
    return answers.page(render_template("seminars/schedule.html", schedule=data), generation,
                        until=next_local_midnight(now))


def requested_fiscal_year() -> int | None:
    """?fy=2021, or None (the default year) for anything that is not a plausible year."""
    fy = request.args.get("fy", type=int)
    return fy if fy is not None and year_ok(fy) else None


def _visible_seminar(seminar_id: int):
    """Load a seminar for this viewer: 404 when missing, or a draft for a non-secretariat."""
    seminar = services.get_for_page(seminar_id)
    if seminar is None or (seminar.status is SeminarStatus.DRAFT and not access.can("view_draft")):
        abort(404)
    return seminar


@bp.get("/seminars/<int:seminar_id>")
@read_only
def detail(seminar_id: int):
    generation = answers.anonymous_generation()  # before the reads: a change racing them counts
    now = utcnow()  # before rendering: a stored page expires no later than what it shows
    seminar = _visible_seminar(seminar_id)
    registration = services.registration_of(seminar, current_user)
    html = render_template(
        "seminars/detail.html",
        seminar=seminar,
        registration=registration,
        show_join_link=registration is not None and registration.state is RegistrationState.REGISTERED,
        # Seats are shown only for a published seminar still ahead; FAQ only after a Q&A.
        counts=services.registration_counts(seminar)
        if seminar.capacity and seminar.status is SeminarStatus.PUBLISHED and not seminar.is_past else {},
        closed_reason=services.registration_problem(seminar),
        # Only a logged-in account gets forms: an anonymous view then needs no session at all.
        form=RegistrationForm() if current_user.is_authenticated else None,
        can_take_part_in_qa=qa_access.may_take_part(current_user, seminar),
        faq=qa_queries.faq(seminar) if seminar.qa_open or seminar.qa_closed_at else [],
    )
    return answers.page(html, generation, until=seminar.next_change_by_time(now))


@bp.post("/seminars/<int:seminar_id>/registration")
@login_required
def register(seminar_id: int):
    seminar = _visible_seminar(seminar_id)
    access.require("register", seminar)
    before = services.registration_of(seminar, current_user)
    if before is not None and before.state is not RegistrationState.CANCELLED:
        flash(_("既に参加登録済みです。") if before.state is RegistrationState.REGISTERED
              else _("既にキャンセル待ちに登録されています。"), "info")
        return redirect(url_for(".detail", seminar_id=seminar.id))
    try:
        registration = services.register(seminar.id, current_user)
    except services.RegistrationRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        if registration.state is RegistrationState.REGISTERED:
            flash(_("参加登録しました。確認メールをお送りします。"), "success")
        else:
            flash(_("定員に達しているため、キャンセル待ちとして登録しました。"), "info")
    return redirect(url_for(".detail", seminar_id=seminar.id))


@bp.post("/seminars/<int:seminar_id>/registration/cancel")
@login_required
def cancel(seminar_id: int):
    seminar = _visible_seminar(seminar_id)
    registration = services.cancel(seminar.id, current_user)
    db.session.commit()
    if registration is not None:
        flash(_("参加登録を取り消しました。"), "info")
    return redirect(url_for(".detail", seminar_id=seminar.id))


@bp.get("/account/seminars")
@login_required
def my_seminars():
    registrations = services.my_registrations(current_user)
    upcoming = [r for r in registrations if not r.seminar.is_past]
    past = [r for r in registrations if r.seminar.is_past]
    return render_template("seminars/mine.html", upcoming=upcoming[::-1], past=past)


@bp.get("/api/v1/seminars")
def api_seminars():
    return jsonify({"seminars": services.api_list()})
